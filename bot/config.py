"""Opsroom settings: the only module that reads the environment (and `.env`)."""

from __future__ import annotations

import difflib
import importlib.util
import ipaddress
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ENV_PREFIX = "OPSROOM_"
ENV_FILE = ".env"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./opsroom.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEVELOPER_PORTAL = "https://discord.com/developers/applications"
# Read by the test suite and CI, never by the application; not reported as unknown.
TEST_VARIABLES = frozenset({"OPSROOM_TEST_DATABASE_URL", "OPSROOM_REQUIRE_INTEGRATION"})

_SQLITE_EXAMPLE = "sqlite+aiosqlite:///./opsroom.db"
_POSTGRES_EXAMPLE = "postgresql+asyncpg://USER:PASSWORD@HOST:5432/DBNAME"
_HINTS = {
    "http_port": "expected a TCP port number from 1 to 65535",
    "dev_guild_id": "expected a Discord server ID: enable Developer Mode, right-click the "
    "server, Copy Server ID",
}
_SECRET_FIELDS = frozenset({"discord_token"})
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")
_PRIVATE_SUFFIXES = (".local", ".internal", ".lan", ".home.arpa", ".localhost", ".test")
PROXY_DOC = "docs/operations.md"


class ConfigError(Exception):
    """A configuration problem in one line a user can act on; the CLI exits 2 with it."""


def env_name(field: str) -> str:
    """Return the environment variable that sets `field`, e.g. OPSROOM_HTTP_PORT."""
    return ENV_PREFIX + field.upper()


def _check_url(value: str, schemes: tuple[str, ...]) -> str:
    """Strip a trailing slash and insist on one of `schemes` and a host."""
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        wanted = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ValueError(f"must be a URL starting with {wanted}")
    return value


class Settings(BaseSettings):
    """Every Opsroom setting (the README's settings table), from OPSROOM_* variables or `.env`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )

    discord_token: SecretStr | None = None
    database_url: str = DEFAULT_DATABASE_URL
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = "http://localhost:8080"
    dev_guild_id: int | None = Field(default=None, gt=0)
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    # Off, so a guild admin's `/watch cert` cannot probe the host's own network.
    watch_allow_private: bool = False

    @field_validator("discord_token", mode="before")
    @classmethod
    def _strip_token(cls, value: object) -> object:
        """Drop surrounding whitespace (a pasted newline); an empty token counts as unset."""
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("database_url", "http_host")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        """Refuse blank values that would fail later with an obscure error."""
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("http_host")
    @classmethod
    def _check_bind_address(cls, value: str) -> str:
        """An IP address to bind, or a host name: `999.1.1.1` is neither."""
        if re.fullmatch(r"[\d.]+", value) or ":" in value:
            try:
                ipaddress.ip_address(value.strip("[]"))
            except ValueError:
                raise ValueError("is not an IP address (e.g. 127.0.0.1, 0.0.0.0 or ::)") from None
        elif not _HOSTNAME.fullmatch(value):
            raise ValueError("is not an IP address or host name")
        return value.strip("[]")

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        """Keep webhook URLs well formed: http(s) and no trailing slash."""
        return _check_url(value, ("http", "https"))

    @field_validator("discord_api_base")
    @classmethod
    def _check_api_base(cls, value: str | None) -> str | None:
        """A REST proxy or emulator base URL, without a trailing slash."""
        return None if value is None else _check_url(value, ("http", "https"))

    @field_validator("discord_gateway_url")
    @classmethod
    def _check_gateway_url(cls, value: str | None) -> str | None:
        """A gateway URL for a proxy or emulator, without a trailing slash."""
        schemes = ("wss", "ws", "https", "http")
        return None if value is None else _check_url(value, schemes)

    @field_validator("log_level", mode="before")
    @classmethod
    def _check_log_level(cls, value: object) -> object:
        """Accept a level name in any case and store it upper-case."""
        if isinstance(value, str):
            value = value.strip().upper()
            if value not in LOG_LEVELS:
                raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_log_format(cls, value: object) -> object:
        """Accept `JSON` as well as `json`."""
        return value.strip().lower() if isinstance(value, str) else value

    def require_token(self) -> str:
        """Return the bot token, or raise ConfigError saying where to get one."""
        if self.discord_token is None:
            raise ConfigError(
                f"{env_name('discord_token')} is not set: create a bot at {DEVELOPER_PORTAL} "
                f"(Bot → Reset Token) and put its token in {env_name('discord_token')} or .env"
            )
        return self.discord_token.get_secret_value()


def public_url_warnings(public_url: str) -> list[str]:
    """Why webhook URLs made from `public_url` may not work for a hosted monitor, if they may
    not: a loopback or private address nobody outside can reach, or plain http in public."""
    name = env_name("public_url")
    host = (urlsplit(public_url).hostname or "").rstrip(".").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if host == "localhost" or host.endswith(".localhost") or (address and address.is_loopback):
        where = "this machine only"
    elif (address and not address.is_global) or (
        address is None and ("." not in host or host.endswith(_PRIVATE_SUFFIXES))
    ):
        where = "a private network only"
    elif public_url.startswith("http://"):
        return [
            f"{name}={public_url} is plain http on a public name: webhook tokens would cross "
            f"the internet unencrypted; serve Opsroom behind HTTPS (see {PROXY_DOC})"
        ]
    else:
        return []
    return [
        f"{name}={public_url} is reachable from {where}: hosted monitors such as UptimeRobot "
        f"cannot call webhook URLs made from it; set it to the public HTTPS address of a "
        f"reverse proxy in front of Opsroom (see {PROXY_DOC})"
    ]


def check_settings() -> tuple[Settings, list[str]]:
    """Every problem at once, for `check-config`: each invalid setting (then read as its
    default, so that the others are still checked) and all that `describe_problems` finds."""
    try:
        settings, errors = Settings(), []
    except ValidationError as exc:
        errors = exc.errors()
        bad = {str(error["loc"][0]) for error in errors if error["loc"]}
        settings = Settings(**{field: Settings.model_fields[field].default for field in bad})
    invalid = _describe_errors(errors)
    named = {env_name(str(error["loc"][0])) for error in errors if error["loc"]}
    found = describe_problems(settings, for_run=True)
    return settings, invalid + [p for p in found if not any(n in p for n in named)]


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment, `.env` and `overrides`; raise ConfigError if bad."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe_validation_error(exc)) from None


def _describe_validation_error(exc: ValidationError) -> str:
    """Turn pydantic's report into one line naming each OPSROOM_* variable at fault."""
    return "; ".join(_describe_errors(exc.errors()))


def _describe_errors(errors: Iterable[Any]) -> list[str]:
    """One sentence per pydantic error, naming the OPSROOM_* variable and its bad value."""
    parts = []
    for error in errors:
        field = str(error["loc"][0]) if error["loc"] else ""
        message = error["msg"].removeprefix("Value error, ")
        hint = _HINTS.get(field)
        if hint:
            message = f"{message} ({hint})"
        if not field:
            parts.append(f"invalid settings: {message}")
        elif field in _SECRET_FIELDS:
            parts.append(f"{env_name(field)} is invalid: {message}")
        else:
            parts.append(f"{env_name(field)}={_show(error.get('input'))} is invalid: {message}")
    return parts


def _show(value: object) -> str:
    """Show a bad value as the user wrote it, quoted when blanks would hide it."""
    text = str(value)
    return text if text and not re.search(r"\s", text) else repr(text)


def mask_url(url: str) -> str:
    """Return a database URL with its password replaced by ***, parseable or not."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def describe_problems(settings: Settings, *, for_run: bool) -> list[str]:
    """List what stops Opsroom from starting, each one line; `for_run` requires a token."""
    problems = _token_problems(settings) if for_run else []
    return problems + _database_problems(settings.database_url)


def raise_for_problems(settings: Settings, *, for_run: bool) -> None:
    """Raise ConfigError listing every problem of `describe_problems`, if any."""
    problems = describe_problems(settings, for_run=for_run)
    if problems:
        raise ConfigError("; ".join(problems))


def _token_problems(settings: Settings) -> list[str]:
    """Catch a missing token and the usual copy-paste mistakes."""
    try:
        token = settings.require_token()
    except ConfigError as exc:
        return [str(exc)]
    name = env_name("discord_token")
    if token.lower().startswith("bot "):
        return [f"{name} starts with 'Bot ': put only the token itself, without the prefix"]
    if settings.discord_api_base is None and token.count(".") != 2:
        return [
            f"{name} does not look like a bot token (three parts separated by dots): copy it "
            f"from {DEVELOPER_PORTAL} → your application → Bot → Reset Token, not the client "
            "secret or the application ID"
        ]
    return []


def _database_problems(url: str) -> list[str]:
    """Check that the URL parses and names an async driver Opsroom supports."""
    name, shown = env_name("database_url"), mask_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return [
            f"{name}={shown} is not a URL SQLAlchemy can parse: write "
            f"{name}={_SQLITE_EXAMPLE} or {name}={_POSTGRES_EXAMPLE}"
        ]
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite":
        if driver != "aiosqlite":
            fixed = parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=True)
            return [f"{name}={shown} does not use the async driver: write {name}={fixed}"]
        return _sqlite_directory_problems(parsed.database)
    if backend in ("postgresql", "postgres"):
        if driver != "asyncpg":
            fixed = parsed.set(drivername="postgresql+asyncpg")
            fixed_text = fixed.render_as_string(hide_password=True)
            return [f"{name}={shown} does not use the async driver: write {name}={fixed_text}"]
        if importlib.util.find_spec("asyncpg") is None:
            return [
                f"{name} uses PostgreSQL but asyncpg is not installed: "
                "pip install 'opsroom[postgres]' (or pip install -e '.[postgres]')"
            ]
        return []
    return [
        f"{name}={shown}: Opsroom supports SQLite and PostgreSQL only: write "
        f"{name}={_SQLITE_EXAMPLE} or {name}={_POSTGRES_EXAMPLE}"
    ]


def _sqlite_directory_problems(database: str | None) -> list[str]:
    """A SQLite file can be created, but not in a directory that does not exist."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return []
    directory = Path(database).expanduser().parent
    if directory.is_dir():
        return []
    return [
        f"{env_name('database_url')}: directory {directory} for the SQLite file does not "
        "exist: create it or point the URL elsewhere"
    ]


def unknown_variables(
    environ: Iterable[str] | None = None, env_file: str | Path = ENV_FILE
) -> list[str]:
    """Warn about OPSROOM_* names (environment or `.env`) that are no setting: likely typos."""
    names = set(os.environ if environ is None else environ)
    path = Path(env_file)
    if path.is_file():
        names |= set(dotenv_values(path))
    known = {env_name(field) for field in Settings.model_fields}
    warnings = []
    for variable in sorted({n.upper() for n in names if n.upper().startswith(ENV_PREFIX)}):
        if variable in known or variable in TEST_VARIABLES:
            continue
        close = difflib.get_close_matches(variable, sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings.append(f"{variable} is not an Opsroom setting and is ignored{hint}")
    return warnings


def describe_settings(settings: Settings) -> list[str]:
    """Summarise the effective settings for `check-config`, with secrets masked."""
    guild = settings.dev_guild_id
    return [
        f"database:      {mask_url(settings.database_url)}",
        f"listening on:  {settings.http_host}:{settings.http_port}",
        f"public URL:    {settings.public_url} (webhooks: {settings.public_url}/hooks/...)",
        f"commands sync: {f'guild {guild}' if guild else 'global'}",
        f"discord API:   {settings.discord_api_base or 'Discord'}, gateway: "
        f"{settings.discord_gateway_url or 'Discord'}",
        f"logging:       {settings.log_level}, {settings.log_format}",
        f"/watch cert:   {'may' if settings.watch_allow_private else 'may not'} check "
        "loopback and private addresses",
    ]
