"""Render a postmortem draft as Markdown: the shipped Jinja2 template, or a guild's own file.

A guild's template is run in Jinja's sandbox: whoever can set the path is not necessarily
trusted with the bot's process, and a template must not reach Python internals. It must be a
`.j2` file, so that pointing the setting at `.env` or a key file cannot print its secrets
into a channel, and it may include or extend only `.j2` files inside its own folder: paths
are resolved first, so neither `../` nor a symlink leads out. Rendering is bounded: at most
`MAX_RENDER_SECONDS` of work and `MAX_OUTPUT_CHARS` of output (a loop over `range` or a
string repeated a billion times stops there). Every mistake in it (missing file, syntax
error, undefined variable, a runtime error, a bound reached) becomes one readable
ValidationError line naming the file and line.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment, safe_range

from bot.core.errors import ValidationError
from bot.core.postmortem import PostmortemData
from bot.postmortem.markdown import FILTERS

TEMPLATES = Path(__file__).parent
DEFAULT_TEMPLATE = "default.md.j2"
_MAX_MESSAGE = 200
MAX_RENDER_SECONDS = 10.0
MAX_OUTPUT_CHARS = 20_000_000  # twice what Discord takes in a file; the export writes it all
MAX_EXPONENT = 1000  # `2 ** 100000000` would compute for a long while


class TemplateLimitError(Exception):
    """A guild's template went past a render bound."""


class _InFolderLoader(jinja2.FileSystemLoader):
    """Loads only `.j2` files whose resolved path lies inside the template's own folder."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.root = folder.resolve()

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        """Refuse what is not a `.j2` file in the folder before reading anything."""
        if not template.endswith(".j2"):
            raise jinja2.TemplateNotFound(f"{template} (only .j2 files may be included)")
        path = (self.root / template).resolve()
        if not path.is_relative_to(self.root):
            raise jinja2.TemplateNotFound(f"{template} (outside the template's folder)")
        return super().get_source(environment, template)


class _BoundedSandbox(SandboxedEnvironment):
    """The sandbox with a deadline and size checks on what can run away."""

    intercepted_binops = frozenset({"*", "**"})
    deadline = float("inf")

    def check(self) -> None:
        """Stop a render that has worked too long."""
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(f"rendering took longer than {MAX_RENDER_SECONDS:g} s")

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Every call a template makes passes the deadline first."""
        self.check()
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Attribute reads (every `data.x` in a loop) pass the deadline too."""
        self.check()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """And item reads."""
        self.check()
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """`*` and `**` only up to sizes a draft could need."""
        if operator == "**" and isinstance(right, int) and abs(right) > MAX_EXPONENT:
            raise TemplateLimitError(f"an exponent above {MAX_EXPONENT}")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if sized and len(seq) * times > MAX_OUTPUT_CHARS:
                    raise TemplateLimitError("a value larger than a draft may be")
        return super().call_binop(context, operator, left, right)

    def bounded_range(self, *args: int) -> Iterator[int]:
        """`range` whose every step passes the deadline (nested loops cannot run away)."""
        for number in safe_range(*args):
            self.check()
            yield number


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
    env = template.environment
    assert isinstance(env, _BoundedSandbox)
    env.deadline = time.monotonic() + MAX_RENDER_SECONDS
    try:
        return _bounded_output(template.generate(data=data), env)
    except Exception as exc:  # anything the template does wrong is the template's problem
        raise _template_error(path, exc, _line_in(exc.__traceback__, template.filename)) from exc


def _bounded_output(chunks: Iterator[str], env: _BoundedSandbox) -> str:
    """Join the rendered pieces, stopping at the size and time bounds."""
    out: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise TemplateLimitError(f"the draft grew past {MAX_OUTPUT_CHARS:,} characters")
        env.check()
        out.append(chunk)
    return "".join(out)


def _load_custom(path: Path) -> jinja2.Template:
    """Compile a guild's template, turning every way it can fail into a ValidationError."""
    if path.suffix != ".j2":
        raise ValidationError(f"Postmortem template {path}: must be a .j2 file.")
    if not path.is_file():
        raise ValidationError(f"Postmortem template {path}: no such file.")
    if not path.resolve().is_relative_to(path.parent.resolve()):
        raise ValidationError(f"Postmortem template {path}: a symlink out of its folder.")
    env = _environment(_BoundedSandbox, path.parent)
    env.loader = _InFolderLoader(path.parent)  # includes stay in that folder, as .j2 files
    env.globals["range"] = env.bounded_range  # type: ignore[attr-defined]
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
    elif isinstance(exc, TemplateLimitError):
        what = f"stopped: {exc}"
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
