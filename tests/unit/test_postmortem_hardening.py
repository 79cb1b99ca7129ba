"""A guild's template stays in its folder and within bounds; user text links only to the web."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.errors import ValidationError
from bot.core.postmortem import PostmortemData, build_postmortem
from bot.postmortem import render
from bot.postmortem.markdown import md, md_block, md_heading
from bot.postmortem.render import render_markdown
from tests.unit.test_postmortem_render import _incident


def data() -> PostmortemData:
    """A small draft's data."""
    return build_postmortem(_incident(), entries=[], alerts=[], actions=[], notes=[])


def refusal(path: Path) -> str:
    """The one-line error rendering `path` gives."""
    with pytest.raises(ValidationError) as caught:
        render_markdown(data(), template_path=str(path))
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    return message


def test_an_include_outside_the_folder_is_refused(tmp_path):
    """`../` out of the template's folder is refused, even to a .j2 file that exists."""
    (tmp_path / "outside.j2").write_text("SECRET")
    folder = tmp_path / "templates"
    folder.mkdir()
    path = folder / "draft.md.j2"
    path.write_text("{% include '../outside.j2' %}")
    assert "outside the template's folder" in refusal(path)


def test_an_include_of_a_file_that_is_not_j2_is_refused(tmp_path):
    """Only .j2 files may be included, so `.env` beside the template stays unread."""
    (tmp_path / ".env").write_text("OPSROOM_DISCORD_TOKEN=secret")
    path = tmp_path / "draft.md.j2"
    path.write_text("{% include '.env' %}")
    message = refusal(path)
    assert "only .j2 files may be included" in message and "secret" not in message


def test_a_symlink_out_of_the_folder_is_refused_for_includes_and_the_template(tmp_path):
    """A symlink inside the folder that points out of it leads nowhere."""
    (tmp_path / "secret.j2").write_text("SECRET")
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "link.j2").symlink_to(tmp_path / "secret.j2")
    path = folder / "draft.md.j2"
    path.write_text("{% include 'link.j2' %}")
    assert "outside the template's folder" in refusal(path)
    linked = folder / "whole.md.j2"
    linked.symlink_to(tmp_path / "secret.j2")
    assert "a symlink out of its folder" in refusal(linked)


def test_an_include_inside_the_folder_works(tmp_path):
    """Includes of the template's own .j2 files still work, in subfolders too."""
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "head.j2").write_text("head {{ data.number }}")
    path = tmp_path / "draft.md.j2"
    path.write_text("{% include 'parts/head.j2' %} body")
    assert render_markdown(data(), template_path=str(path)) == "head 3 body"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 'x' * 1000000000 }}", "stopped: a value larger than a draft may be"),
        ("{{ 2 ** 100000000 }}", "stopped: an exponent above 1000"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{{ 'y' * 100 }}"
            "{% endfor %}{% endfor %}",
            "stopped: the draft grew past 20,000,000 characters",
        ),
    ],
)
def test_huge_output_stops_with_one_readable_error(tmp_path, source, message):
    """A template that would print gigabytes or compute for ever stops at a bound."""
    path = tmp_path / "huge.md.j2"
    path.write_text(source)
    assert message in refusal(path)


def test_a_template_that_only_loops_stops_at_the_deadline(tmp_path, monkeypatch):
    """Nested loops that print nothing still stop: every step of `range` checks the clock."""
    monkeypatch.setattr(render, "MAX_RENDER_SECONDS", 0.2)
    path = tmp_path / "busy.md.j2"
    path.write_text(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    )
    assert "stopped: rendering took longer than 0.2 s" in refusal(path)


@pytest.mark.parametrize("escape", [md, md_heading, md_block])
@pytest.mark.parametrize(
    "text",
    [
        "[docs](javascript:alert(1))",
        "[docs]( JavaScript:alert(1))",
        "![pic](data:image/svg+xml;base64,PHN2Zz4=)",
        "[docs](<javascript:alert(1)>)",
        "[docs](file:///etc/passwd)",
        "[docs](/relative/path)",
    ],
)
def test_only_web_links_stay_links_in_every_filter(escape, text):
    """A link whose target is not http(s) is shown as text by every filter, not only md_link."""
    escaped = escape(text)
    assert "](" not in escaped
    assert escaped.replace("\\", "").startswith(text.replace("\\", "")[:5])


@pytest.mark.parametrize("escape", [md, md_heading, md_block])
def test_web_links_and_definitions(escape):
    """http(s) links stay links; a link definition to anything else is shown as text."""
    assert escape("[docs](https://example.com/a)") == "[docs](https://example.com/a)"
    assert escape("[r]: javascript:alert(1)").startswith("\\[r]")
    assert escape("[r]: https://example.com") == "[r]: https://example.com"
