"""Every way the `opsroom` command line ends, as one table: 0 done, 2 the user's to fix
(usage, a setting, a refusal such as no such incident), 1 a bug, 130 interrupted."""

from __future__ import annotations

import pytest

from bot.cli import main
from bot.config import ConfigError
from bot.core.errors import NotFoundError, ValidationError
from tests.unit.test_cli import TOKEN, fake_app, restore_logging  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("clean_environment", "restore_logging")
EXPORT = ["export", "--guild", "42", "--incident", "3"]
SIGNED = ["webhook", "create", "--guild", "1", "--source", "events", "--signing-secret", "k" * 9]

CASES = [
    # (what, argv, environment, the app raises, exit code)
    ("version", ["--version"], {}, None, 0),
    ("no command", [], {}, None, 2),
    ("unknown command", ["frobnicate"], {}, None, 2),
    ("unknown option", ["migrate", "--fast"], {}, None, 2),
    ("bad guild id", ["export", "--guild", "x", "--incident", "1"], {}, None, 2),
    ("check-config without a token", ["check-config"], {}, None, 2),
    ("check-config, all well", ["check-config"], {"OPSROOM_DISCORD_TOKEN": TOKEN}, None, 0),
    ("bad bind address", ["check-config"], {"OPSROOM_HTTP_HOST": "999.1.1.1"}, None, 2),
    ("bad port", ["migrate"], {"OPSROOM_HTTP_PORT": "99999"}, None, 2),
    ("run without a token", ["run"], {}, None, 2),
    ("a setting the app finds wrong", ["migrate"], {}, ConfigError("database gone"), 2),
    ("no such incident", EXPORT, {}, NotFoundError("There is no incident #3."), 2),
    ("secret on a non-Grafana webhook", SIGNED, {}, ValidationError("Only Grafana."), 2),
    ("unwritable export file", [*EXPORT, "-o", "/nonexistent/dir/pm.md"], {}, None, 2),
    ("invite without a token", ["invite"], {}, None, 2),
    ("invite by application id", ["invite", "--application-id", "1234"], {}, None, 0),
    ("invite from the token", ["invite"], {"OPSROOM_DISCORD_TOKEN": TOKEN}, None, 0),
    ("a bug", ["migrate"], {}, RuntimeError("boom"), 1),
    ("interrupted", ["migrate"], {}, KeyboardInterrupt(), 130),
]


@pytest.mark.parametrize(
    ("argv", "environment", "raises", "code"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_exit_code(fake_app, clean_environment, argv, environment, raises, code, capsys):  # noqa: F811
    """The exit code of each case; a non-zero one says why in one line, no traceback."""
    for name, value in environment.items():
        clean_environment.setenv(name, value)
    fake_app.error = raises
    assert main(argv) == code
    err = capsys.readouterr().err
    if code == 2:
        assert err.strip() and "Traceback" not in err
