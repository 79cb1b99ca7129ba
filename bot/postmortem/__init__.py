"""Postmortem drafts as Markdown: the Jinja2 template, the escaping filters and the export."""
