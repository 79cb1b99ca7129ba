"""Jinja filters that make people's and monitors' text safe to drop into Markdown.

Everything in a postmortem draft that someone typed (or a monitor sent) may contain what
breaks GitHub's rendering: a pipe ends a table cell, a newline ends a table row, a line
starting `#` becomes a heading, `---` under a line turns it into one, an unclosed code
fence or HTML tag swallows the rest of the document, and `@everyone` pings a whole server
if the text is pasted back into Discord, and a link such as `[docs](javascript:…)` or a
`data:` image runs code where the draft is read. The filters keep the author's own
formatting (emphasis, http(s) links, code) and remove only those hazards: every filter
shows a link whose target is not http(s) as plain text.
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.core.postmortem import NOT_YET, utc_text

ZWSP = "\u200b"  # zero-width space: `@​everyone` reads the same and pings nobody
_NEWLINE = re.compile(r"\r\n|\r|\n")
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)  # Discord needs no word end
_TICKS = re.compile(r"`+")
# At the start of a line: ATX heading, blockquote, bullet, ordered-list number.
_LINE_START = re.compile(r"^(\s*)(#{1,6}(?=\s|$)|>|[-+*](?=\s|$)|\d{1,9}(?=[.)](?:\s|$)))")
_ATX = re.compile(r"^( {0,3})(#{1,6}(?:\s|$))")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")  # under a paragraph line it makes a heading
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_URL = re.compile(r"https?://[^\s<>]+", re.IGNORECASE)
_URL_UNSAFE = {c: f"%{ord(c):02X}" for c in ' "()<>\\`|'}
# `](target` of an inline link or image, and `[label]: target` of a link definition.
_INLINE_TARGET = re.compile(r"\]\(\s*<?([^\s)>]*)")
_DEFINITION = re.compile(r"^( {0,3})\[([^\]]+)\]:[ \t]*<?(\S*)", re.MULTILINE)
_WEB = re.compile(r"https?://", re.IGNORECASE)


def unlink(text: str) -> str:
    """Keep links to http(s) targets; show every other link (`javascript:`, `data:`, `file:`,
    relative paths) as its plain text, by escaping the bracket that makes it a link."""

    def inline(match: re.Match[str]) -> str:
        return match[0] if _WEB.match(match[1]) else "]\\" + match[0][1:]

    def definition(match: re.Match[str]) -> str:
        return match[0] if _WEB.match(match[3]) else match[1] + "\\" + match[0][len(match[1]) :]

    return _DEFINITION.sub(definition, _INLINE_TARGET.sub(inline, text))


def _lines(value: object) -> list[str]:
    """The text with mass mentions neutralised, split on any kind of newline."""
    text = _MASS_MENTION.sub(lambda m: "@" + ZWSP + m[1], str(value))
    return _NEWLINE.split(text)


def _code_spans(line: str) -> list[tuple[bool, str]]:
    """Split a line into (is_code, text) pieces: a run of N backticks closes at the next N."""
    pieces: list[tuple[bool, str]] = []
    plain_start = pos = 0
    while match := _TICKS.search(line, pos):
        ticks = match[0]
        close = re.compile(rf"(?<!`){ticks}(?!`)").search(line, match.end())
        if close is None:  # unmatched backticks are literal text
            pos = match.end()
            continue
        pieces.append((False, line[plain_start : match.start()]))
        pieces.append((True, line[match.start() : close.end()]))
        plain_start = pos = close.end()
    pieces.append((False, line[plain_start:]))
    return [(code, text) for code, text in pieces if text]


def _escape_start(line: str) -> str:
    """Backslash-escape a block marker at the start of a line, so it stays plain text."""
    match = _LINE_START.match(line)
    if not match:
        return line
    marker = match[2]
    if marker[0].isdigit():  # `1. text`: escape the dot, `1\. text`
        end = match.end()
        return line[:end] + "\\" + line[end:]
    return line[: match.start(2)] + "\\" + line[match.start(2) :]


def md(value: object) -> str:
    """Text for a table cell: one line, pipes and backslashes escaped.

    Newlines become `<br>` (runs of blank lines shrink to one), `<` becomes `&lt;` so no
    HTML tag opens, and a block marker at the start cannot make a heading or a list.
    Inside code spans only pipes are escaped (GitHub's table parser removes that
    backslash), so `a|b` in backticks still reads `a|b`.
    """
    return _inline(value, table=True)


def md_heading(value: object) -> str:
    """Text for a heading: as `md`, but a pipe inside a code span stays bare (no table here)."""
    return _inline(value, table=False)


def _inline(value: object, *, table: bool) -> str:
    """One line of inline Markdown; `table` also escapes pipes inside code spans."""
    lines = [line.strip() for line in _lines(value)]
    text = re.sub(r"\n{2,}", "\n\n", "\n".join(lines).strip("\n"))
    out = []
    for code, piece in _code_spans(text):
        if code:
            piece = piece.replace("\n", " ")
            out.append(piece.replace("|", "\\|") if table else piece)
        else:
            piece = piece.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            out.append(unlink(piece).replace("\n", "<br>"))
    result = _escape_start("".join(out))
    # A trailing `#` run closes an ATX heading (`# Fix #` reads "Fix"): keep it as text.
    return re.sub(r"(\s)(#+)$", lambda m: m[1] + "\\#" * len(m[2]), result)


def md_block(value: object, indent: int = 0) -> str:
    """Paragraph text as the author wrote it (lists, emphasis, code) minus what breaks the page.

    Lines starting `#` stay text, `===`/`---` lines cannot turn the line above into a
    heading, `<` cannot open HTML (outside code), and a code fence left open is closed.
    The author's line breaks stay breaks (two trailing spaces), as they looked in Discord.
    `indent` indents the lines after the first, for text inside a list item.
    """
    lines = _lines(value)
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    out: list[tuple[bool, str]] = []  # (is prose, line)
    fence: str | None = None  # the open fence's backtick/tilde run
    for line in lines:
        if fence is not None:
            out.append((False, line))
            stripped = line.strip()
            if stripped.startswith(fence) and set(stripped) == {fence[0]}:
                fence = None
        elif match := _FENCE.match(line):
            fence = match[1]
            out.append((False, line))
        elif _SETEXT.match(line):
            out.append((True, line.replace(line.lstrip()[0], "\\" + line.lstrip()[0], 1)))
        else:
            line = _escape_heading(line.rstrip())
            pieces = _code_spans(line)
            prose = (p if c else unlink(p.replace("<", "&lt;")) for c, p in pieces)
            out.append((True, "".join(prose)))
    if fence is not None:
        out.append((False, fence))
    text = []
    for n, (prose, line) in enumerate(out):
        if prose and line and n + 1 < len(out) and out[n + 1][1].strip():
            line += "  "  # a hard line break; ignored where a block ends anyway
        text.append(line if n == 0 or not line.strip() else " " * indent + line)
    return "\n".join(text)


def _escape_heading(line: str) -> str:
    """`# text` at the start of a line would be a heading inside our section: escape it."""
    return _ATX.sub(lambda m: m[1] + "\\" + m[2], line, count=1)


def md_link(url: object, label: str | None = None) -> str:
    """A Markdown link for an http(s) URL; anything else is shown as plain text, not linked."""
    text = str(url).strip()
    if not _URL.fullmatch(text):
        return md(text)
    href = "".join(_URL_UNSAFE.get(c, c) for c in text)
    return f"[{md(label or text)}]({href})"


def utc(value: datetime | None) -> str:
    """A datetime as `2026-03-29 00:14:05 UTC`, or "not yet"; for custom templates."""
    return f"{utc_text(value)} UTC" if value is not None else NOT_YET


FILTERS = {
    "md": md,
    "md_heading": md_heading,
    "md_block": md_block,
    "md_link": md_link,
    "utc": utc,
}
