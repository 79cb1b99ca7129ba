"""docs/commands.md is generated from the command tree and the CLI parser and kept current."""

from __future__ import annotations

from bot import docs
from bot.cli import build_parser


def test_the_command_reference_matches_the_code():
    """Fails when a command or option changed without regenerating the reference."""
    current = docs.REFERENCE.read_text(encoding="utf-8") if docs.REFERENCE.exists() else ""
    assert current == docs.render(), (
        f"docs/commands.md is out of date: run `{docs.REGENERATE}` and commit the result"
    )


def test_the_reference_names_every_command_and_option():
    """Every CLI subcommand and option, and the slash commands of each group, appear."""
    text = docs.render()
    for line in ("### `opsroom invite`", "`--application-id`", "### `/opsroom setup`"):
        assert line in text
    for action in build_parser()._actions:
        for choice in getattr(action, "choices", None) or {}:
            assert f"### `opsroom {choice}" in text, choice
    for option in ("`responder_role`", "`escalation_role`", "`timezone`"):
        assert option in text
