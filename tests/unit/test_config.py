"""Tests for bot.config: defaults, overrides, error messages naming OPSROOM_* variables."""

from __future__ import annotations

import pytest

from bot.config import (
    ConfigError,
    describe_problems,
    describe_settings,
    load_settings,
    mask_url,
    raise_for_problems,
    unknown_variables,
)

pytestmark = pytest.mark.usefixtures("clean_environment")

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


def test_defaults_match_the_product_spec():
    """With no environment and no .env, every setting has its documented default."""
    settings = load_settings()
    assert settings.discord_token is None
    assert settings.database_url == "sqlite+aiosqlite:///./opsroom.db"
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert settings.public_url == "http://localhost:8080"
    assert settings.dev_guild_id is None
    assert settings.discord_api_base is None
    assert settings.discord_gateway_url is None
    assert (settings.log_level, settings.log_format) == ("INFO", "text")


def test_environment_overrides_every_setting(clean_environment):
    """Each OPSROOM_* variable sets its field, normalised where the spec allows."""
    env = {
        "OPSROOM_DISCORD_TOKEN": f"  {TOKEN}\n",
        "OPSROOM_DATABASE_URL": "postgresql+asyncpg://u:p@db:5432/ops",
        "OPSROOM_HTTP_HOST": "0.0.0.0",
        "OPSROOM_HTTP_PORT": "9090",
        "OPSROOM_PUBLIC_URL": "https://ops.example.org/",
        "OPSROOM_DEV_GUILD_ID": "123456789012345678",
        "OPSROOM_DISCORD_API_BASE": "http://127.0.0.1:5000/api/",
        "OPSROOM_DISCORD_GATEWAY_URL": "ws://127.0.0.1:5001",
        "OPSROOM_LOG_LEVEL": "debug",
        "OPSROOM_LOG_FORMAT": "JSON",
    }
    for name, value in env.items():
        clean_environment.setenv(name, value)
    settings = load_settings()
    assert settings.require_token() == TOKEN
    assert settings.database_url == "postgresql+asyncpg://u:p@db:5432/ops"
    assert (settings.http_host, settings.http_port) == ("0.0.0.0", 9090)
    assert settings.public_url == "https://ops.example.org"
    assert settings.dev_guild_id == 123456789012345678
    assert settings.discord_api_base == "http://127.0.0.1:5000/api"
    assert settings.discord_gateway_url == "ws://127.0.0.1:5001"
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")


def test_dotenv_is_read_and_environment_wins(clean_environment, tmp_path):
    """A .env in the working directory is read; a real variable takes precedence."""
    (tmp_path / ".env").write_text("OPSROOM_HTTP_PORT=9000\nOPSROOM_LOG_LEVEL=WARNING\n")
    clean_environment.setenv("OPSROOM_LOG_LEVEL", "ERROR")
    settings = load_settings()
    assert settings.http_port == 9000
    assert settings.log_level == "ERROR"


def test_empty_values_count_as_unset(clean_environment):
    """`OPSROOM_DEV_GUILD_ID=` (as copied from .env.example) leaves the default."""
    clean_environment.setenv("OPSROOM_DEV_GUILD_ID", "")
    clean_environment.setenv("OPSROOM_DISCORD_TOKEN", "   ")
    settings = load_settings()
    assert settings.dev_guild_id is None
    assert settings.discord_token is None


def test_overrides_win_over_environment(clean_environment):
    """Keyword overrides of load_settings beat the environment."""
    clean_environment.setenv("OPSROOM_HTTP_PORT", "9000")
    assert load_settings(http_port=7000).http_port == 7000


@pytest.mark.parametrize("port", ["abc", "0", "65536", "-1"])
def test_bad_port_names_the_variable(clean_environment, port):
    """A bad port is a ConfigError naming OPSROOM_HTTP_PORT and the value given."""
    clean_environment.setenv("OPSROOM_HTTP_PORT", port)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"OPSROOM_HTTP_PORT={port} is invalid")
    assert "1 to 65535" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OPSROOM_LOG_LEVEL", "verbose"),
        ("OPSROOM_LOG_FORMAT", "xml"),
        ("OPSROOM_PUBLIC_URL", "ops.example.org"),
        ("OPSROOM_DEV_GUILD_ID", "my-server"),
        ("OPSROOM_DISCORD_API_BASE", "ftp://proxy"),
        ("OPSROOM_DISCORD_GATEWAY_URL", "gateway"),
    ],
)
def test_bad_values_name_their_variable(clean_environment, name, value):
    """Every invalid setting is reported by its OPSROOM_* name in one line."""
    clean_environment.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"{name}={value} is invalid")


def test_several_bad_values_are_all_named(clean_environment):
    """Two bad variables are both named, still on one line."""
    clean_environment.setenv("OPSROOM_HTTP_PORT", "abc")
    clean_environment.setenv("OPSROOM_LOG_LEVEL", "loud")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "OPSROOM_HTTP_PORT" in message and "OPSROOM_LOG_LEVEL" in message
    assert "\n" not in message


def test_require_token_says_where_to_get_one():
    """Without a token, require_token raises a ConfigError naming OPSROOM_DISCORD_TOKEN."""
    with pytest.raises(ConfigError, match=r"^OPSROOM_DISCORD_TOKEN is not set: .*developers"):
        load_settings().require_token()


def test_token_is_only_a_problem_when_running():
    """A missing token is reported for run/check-config, not for migrate or export."""
    settings = load_settings()
    assert describe_problems(settings, for_run=False) == []
    (problem,) = describe_problems(settings, for_run=True)
    assert problem.startswith("OPSROOM_DISCORD_TOKEN is not set")


@pytest.mark.parametrize(
    ("token", "expected"),
    [("Bot " + TOKEN, "without the prefix"), ("123456789012345678", "does not look like")],
)
def test_token_shape_mistakes_are_explained(token, expected):
    """A pasted 'Bot ' prefix or an application ID is caught before Discord refuses it."""
    (problem,) = describe_problems(load_settings(discord_token=token), for_run=True)
    assert problem.startswith("OPSROOM_DISCORD_TOKEN")
    assert expected in problem
    assert token not in problem


def test_token_shape_is_not_checked_against_an_emulator():
    """With OPSROOM_DISCORD_API_BASE set, any non-empty token is accepted."""
    settings = load_settings(discord_token="test-token", discord_api_base="http://127.0.0.1:1")
    assert describe_problems(settings, for_run=True) == []


def test_valid_configuration_has_no_problems():
    """A real-looking token and the default SQLite URL pass."""
    assert describe_problems(load_settings(discord_token=TOKEN), for_run=True) == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///./opsroom.db", "write OPSROOM_DATABASE_URL=sqlite+aiosqlite:///./opsroom.db"),
        (
            "postgresql://ops:hunter2@db:5432/ops",
            "write OPSROOM_DATABASE_URL=postgresql+asyncpg://ops:***@db:5432/ops",
        ),
        (
            "postgresql+psycopg2://ops:hunter2@db/ops",
            "write OPSROOM_DATABASE_URL=postgresql+asyncpg://ops:***@db/ops",
        ),
        ("postgres://ops:hunter2@db/ops", "postgresql+asyncpg://ops:***@db/ops"),
        ("mysql+aiomysql://ops:hunter2@db/ops", "SQLite and PostgreSQL only"),
        ("not a url", "not a URL SQLAlchemy can parse"),
        ("postgresql+asyncpg://ops:hunter2@db:port/ops", "not a URL SQLAlchemy can parse"),
    ],
)
def test_bad_database_urls_say_what_to_write(url, expected):
    """Each unusable database URL is named, with the URL to write instead, password masked."""
    (problem,) = describe_problems(load_settings(database_url=url), for_run=False)
    assert problem.startswith("OPSROOM_DATABASE_URL")
    assert expected in problem
    assert "hunter2" not in problem


def test_sqlite_in_a_missing_directory_is_a_problem(tmp_path):
    """A SQLite file whose directory does not exist is reported before the driver fails."""
    url = f"sqlite+aiosqlite:///{tmp_path}/missing/opsroom.db"
    (problem,) = describe_problems(load_settings(database_url=url), for_run=False)
    assert "missing" in problem and problem.startswith("OPSROOM_DATABASE_URL")
    memory = load_settings(database_url="sqlite+aiosqlite:///:memory:")
    assert describe_problems(memory, for_run=False) == []


def test_postgres_with_asyncpg_is_accepted():
    """postgresql+asyncpg is a supported async URL (asyncpg is installed for tests)."""
    settings = load_settings(database_url="postgresql+asyncpg://u:p@127.0.0.1:5432/x")
    assert describe_problems(settings, for_run=False) == []


def test_raise_for_problems_joins_every_problem_on_one_line():
    """raise_for_problems raises one ConfigError line naming token and database."""
    settings = load_settings(database_url="sqlite:///x.db")
    with pytest.raises(ConfigError) as caught:
        raise_for_problems(settings, for_run=True)
    message = str(caught.value)
    assert "OPSROOM_DISCORD_TOKEN" in message and "OPSROOM_DATABASE_URL" in message
    assert "\n" not in message
    raise_for_problems(load_settings(), for_run=False)


def test_mask_url_hides_passwords_even_when_unparseable():
    """Passwords never appear in what check-config prints."""
    assert mask_url("postgresql+asyncpg://u:secret@h/db") == "postgresql+asyncpg://u:***@h/db"
    assert "secret" not in mask_url("weird://u:secret@h:notaport/db")


def test_unknown_variables_suggest_the_setting(tmp_path):
    """A misspelt OPSROOM_* name, in the environment or .env, is warned about with a guess."""
    (tmp_path / ".env").write_text("OPSROOM_PUBLIC_ULR=https://x\n")
    environ = ["OPSROOM_DISCORD_TOKN", "OPSROOM_HTTP_PORT", "OPSROOM_TEST_DATABASE_URL", "HOME"]
    warnings = unknown_variables(environ, tmp_path / ".env")
    assert warnings == [
        "OPSROOM_DISCORD_TOKN is not an Opsroom setting and is ignored "
        "(did you mean OPSROOM_DISCORD_TOKEN?)",
        "OPSROOM_PUBLIC_ULR is not an Opsroom setting and is ignored "
        "(did you mean OPSROOM_PUBLIC_URL?)",
    ]


def test_describe_settings_masks_the_password():
    """The check-config summary shows the database without its password."""
    settings = load_settings(database_url="postgresql+asyncpg://u:hunter2@db/ops", dev_guild_id=5)
    summary = "\n".join(describe_settings(settings))
    assert "postgresql+asyncpg://u:***@db/ops" in summary
    assert "hunter2" not in summary
    assert "guild 5" in summary
