"""Render a postmortem draft as Markdown: the shipped Jinja2 template, or a guild's own file.

A guild's template is run in Jinja's sandbox: whoever can set the path is not necessarily
trusted with the bot's process, and a template must not reach Python internals. It must be a
`.j2` file, so that pointing the setting at `.env` or a key file cannot print its secrets
into a channel. Every mistake in it (missing file, syntax error, undefined variable, a
runtime error) becomes one readable ValidationError line naming the file and line.
"""

from __future__ import annotations

import functools
from pathlib import Path
from types import TracebackType

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from bot.core.errors import ValidationError
from bot.core.postmortem import PostmortemData
from bot.postmortem.markdown import FILTERS

TEMPLATES = Path(__file__).parent
DEFAULT_TEMPLATE = "default.md.j2"
_MAX_MESSAGE = 200


def _environment(cls: type[jinja2.Environment], folder: Path) -> jinja2.Environment:
    """Markdown, not HTML: no autoescape; the filters escape what would break Markdown."""
    env = cls(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=False,
        undefined=jinja2.StrictUndefined,  # a typo in a variable name fails loudly
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


@functools.cache
def _default_template() -> jinja2.Template:
    """The shipped template, compiled once per process."""
    return _environment(jinja2.Environment, TEMPLATES).get_template(DEFAULT_TEMPLATE)


def render_markdown(data: PostmortemData, *, template_path: str | None = None) -> str:
    """The draft as Markdown; `template_path` (a guild's own `.j2` file) overrides the default."""
    if template_path is None:
        return _default_template().render(data=data)
    path = Path(template_path).expanduser()
    template = _load_custom(path)
    try:
        return template.render(data=data)
    except Exception as exc:  # anything the template does wrong is the template's problem
        raise _template_error(path, exc, _line_in(exc.__traceback__, template.filename)) from exc


def _load_custom(path: Path) -> jinja2.Template:
    """Compile a guild's template, turning every way it can fail into a ValidationError."""
    if path.suffix != ".j2":
        raise ValidationError(f"Postmortem template {path}: must be a .j2 file.")
    if not path.is_file():
        raise ValidationError(f"Postmortem template {path}: no such file.")
    env = _environment(SandboxedEnvironment, path.parent)  # includes stay in that folder
    try:
        return env.get_template(path.name)
    except jinja2.TemplateSyntaxError as exc:
        raise _template_error(path, exc, exc.lineno) from exc
    except jinja2.TemplateNotFound as exc:  # an {% include %} or {% extends %} of its own
        raise _template_error(path, exc, None) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"Postmortem template {path}: cannot read it ({exc}).") from exc


def _template_error(path: Path, exc: Exception, line: int | None) -> ValidationError:
    """One line a guild admin can act on: which file, which line, what went wrong."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        what = f"syntax error: {exc.message}"
    elif isinstance(exc, jinja2.UndefinedError):
        what = f"undefined value: {exc.message}"
    elif isinstance(exc, jinja2.TemplateNotFound):
        what = f"template not found: {exc.name}"
    else:
        what = f"{type(exc).__name__}: {exc}"
    where = f", line {line}" if line else ""
    message = " ".join(f"Postmortem template {path}{where}: {what}".split())
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    return ValidationError(message)


def _line_in(tb: TracebackType | None, filename: str | None) -> int | None:
    """The template line that failed: Jinja rewrites tracebacks to point into the template."""
    line = None
    while tb is not None:
        if filename and tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
