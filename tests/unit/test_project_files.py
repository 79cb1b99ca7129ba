"""Tests that keep the repository's documents in step with the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from bot.config import Settings, env_name

REPO = Path(__file__).resolve().parents[2]


def test_ci_runs_exactly_the_readme_test_command():
    """.ci/run ends with the README's "set up and test" command, character for character."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^Set up and test:\n\n {4}(.+)$", readme, re.MULTILINE)
    assert match, "README must start with the 'Set up and test:' command"
    ci_lines = (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci_lines[-1] == match.group(1)


def test_env_example_lists_every_setting():
    """.env.example mentions each setting, with the default that Settings really has."""
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    for field, info in Settings.model_fields.items():
        name = env_name(field)
        assert re.search(rf"^#? ?{name}=", example, re.MULTILINE), name
        if info.default is not None:
            default = str(info.default).lower() if isinstance(info.default, bool) else info.default
            assert f"{name}={default}" in example, name


def test_readme_documents_every_setting():
    """The README's configuration table (or a page of docs/) names each OPSROOM_* setting."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    readme = "\n".join(page.read_text(encoding="utf-8") for page in pages if page.exists())
    for field in Settings.model_fields:
        assert f"`{env_name(field)}`" in readme, field


def test_console_script_points_at_the_cli():
    """pyproject's `opsroom` script runs bot.cli:main."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"] == {"opsroom": "bot.cli:main"}
