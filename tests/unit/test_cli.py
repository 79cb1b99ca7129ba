"""Tests for the `opsroom` CLI: parsing, exit codes, check-config, calls into bot.app."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import bot
from bot.cli import main
from bot.config import ConfigError

REPO = Path(__file__).resolve().parents[2]
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
SUBCOMMANDS = ["run", "migrate", "sync-commands", "webhook", "export", "check-config", "invite"]

pytestmark = pytest.mark.usefixtures("clean_environment")


@pytest.fixture(autouse=True)
def restore_logging():
    """Undo main()'s logging set-up so later tests see the root logger as before."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


class FakeApp(types.ModuleType):
    """A stand-in for bot.app that records calls and can be told to raise."""

    def __init__(self) -> None:
        super().__init__("bot.app")
        self.calls: list[tuple] = []
        self.error: BaseException | None = None

    async def _record(self, *call: object) -> None:
        """Remember a call, then raise the configured error if any."""
        self.calls.append(call)
        if self.error is not None:
            raise self.error

    async def run(self, settings, *, role):
        """Fake `bot.app.run`."""
        await self._record("run", role)

    async def migrate(self, settings):
        """Fake `bot.app.migrate`."""
        await self._record("migrate")

    async def sync_commands(self, settings, guild_id):
        """Fake `bot.app.sync_commands`."""
        await self._record("sync_commands", guild_id)

    async def create_webhook(
        self,
        settings,
        guild_id,
        source,
        name,
        signing_secret=None,
        *,
        signature_header=None,
        timestamp_header=None,
        **beat,
    ):
        """Fake `bot.app.create_webhook` (`beat`: a heartbeat's every and grace, if given)."""
        await self._record("create_webhook", guild_id, source, name, signing_secret, *beat.items())
        self.header_names = {
            "signature_header": signature_header,
            "timestamp_header": timestamp_header,
        }
        return f"{settings.public_url}/hooks/{source}/s3cr3t"

    async def export_postmortem(self, settings, guild_id, number):
        """Fake `bot.app.export_postmortem`."""
        await self._record("export_postmortem", guild_id, number)
        return f"# #{number} Database down"

    async def export_picture(self, settings, guild_id, number):
        """Fake `bot.app.export_picture`."""
        await self._record("export_picture", guild_id, number)
        return b"\x89PNG fake"


@pytest.fixture
def fake_app(monkeypatch):
    """Install a FakeApp as bot.app for the duration of a test."""
    app = FakeApp()
    monkeypatch.setitem(sys.modules, "bot.app", app)
    monkeypatch.setattr(bot, "app", app, raising=False)
    return app


@pytest.fixture
def token(clean_environment):
    """Provide a well-formed bot token in the environment."""
    clean_environment.setenv("OPSROOM_DISCORD_TOKEN", TOKEN)
    return TOKEN


def test_help_lists_every_subcommand(capsys):
    """`opsroom --help` exits 0 and names every subcommand."""
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in SUBCOMMANDS:
        assert command in out
    assert main(["webhook", "--help"]) == 0
    assert "create" in capsys.readouterr().out


def test_no_subcommand_is_a_usage_error(capsys):
    """Plain `opsroom` prints usage and exits 2."""
    assert main([]) == 2
    assert "usage: opsroom" in capsys.readouterr().err


def test_check_config_without_token_exits_2(capsys):
    """check-config with no token exits 2 and names OPSROOM_DISCORD_TOKEN on stderr."""
    assert main(["check-config"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("opsroom: OPSROOM_DISCORD_TOKEN is not set")
    assert "Traceback" not in captured.err
    assert "configuration OK" not in captured.out


def test_check_config_subprocess_without_token(tmp_path):
    """`python -m bot check-config` in a clean environment: exit 2, one line, no traceback."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check-config"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "OPSROOM_DISCORD_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    problems = [line for line in result.stderr.splitlines() if "warning:" not in line]
    assert len(problems) == 1


def test_bad_port_subprocess_exits_2_without_traceback(tmp_path):
    """A bad OPSROOM_HTTP_PORT gives one stderr line and exit 2, for any subcommand."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "OPSROOM_HTTP_PORT": "abc",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("opsroom: OPSROOM_HTTP_PORT=abc is invalid")
    assert "Traceback" not in result.stderr


def test_check_config_names_a_bad_database_url(clean_environment, token, capsys):
    """A synchronous database URL is named with what to write instead."""
    clean_environment.setenv("OPSROOM_DATABASE_URL", "postgresql://ops:hunter2@db/ops")
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert "OPSROOM_DATABASE_URL" in err
    assert "postgresql+asyncpg://ops:***@db/ops" in err
    assert "hunter2" not in err


def test_check_config_valid_exits_0_with_summary(clean_environment, token, capsys):
    """A working configuration prints 'configuration OK' and a masked summary."""
    clean_environment.setenv("OPSROOM_DATABASE_URL", "postgresql+asyncpg://ops:hunter2@db/ops")
    clean_environment.setenv("OPSROOM_PUBLIC_URL", "https://ops.example.org/")
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("configuration OK")
    assert "postgresql+asyncpg://ops:***@db/ops" in out
    assert "127.0.0.1:8080" in out
    assert "https://ops.example.org" in out
    assert "hunter2" not in out and TOKEN not in out


def test_check_config_warns_about_unknown_variables(clean_environment, token, capsys):
    """A misspelt OPSROOM_* variable is a warning, not a failure."""
    clean_environment.setenv("OPSROOM_LOG_LEVLE", "DEBUG")
    assert main(["check-config"]) == 0
    assert "did you mean OPSROOM_LOG_LEVEL?" in capsys.readouterr().err


def test_config_error_from_app_exits_2_with_one_line(fake_app, capsys):
    """A ConfigError raised inside a handler ("database unreachable") exits 2, one line."""
    fake_app.error = ConfigError("OPSROOM_DATABASE_URL: database unreachable at db:5432")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert err == "opsroom: OPSROOM_DATABASE_URL: database unreachable at db:5432\n"


def test_config_error_inside_an_exception_group_exits_2(fake_app, token, capsys):
    """A ConfigError that a TaskGroup wrapped ("port in use") still exits 2 with one line."""
    fake_app.error = ExceptionGroup("run", [ConfigError("OPSROOM_HTTP_PORT 8080 is in use")])
    assert main(["run"]) == 2
    assert capsys.readouterr().err == "opsroom: OPSROOM_HTTP_PORT 8080 is in use\n"


def test_unexpected_error_is_logged_and_exits_1(fake_app, capsys, caplog):
    """Any other exception is logged with its traceback and summarised in one line."""
    fake_app.error = RuntimeError("boom\nsecond line")
    assert main(["migrate"]) == 1
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line == "opsroom: migrate failed: RuntimeError: boom"
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None


def test_keyboard_interrupt_exits_130(fake_app, token):
    """Ctrl-C during `run` exits 130."""
    fake_app.error = KeyboardInterrupt()
    assert main(["run"]) == 130


def test_run_requires_a_token_before_starting(fake_app, capsys):
    """`run` without a token exits 2 and never calls the app."""
    assert main(["run"]) == 2
    assert "OPSROOM_DISCORD_TOKEN" in capsys.readouterr().err
    assert fake_app.calls == []


@pytest.mark.parametrize(("argv", "role"), [(["run"], "all"), (["run", "--role", "bot"], "bot")])
def test_run_passes_the_role(fake_app, token, argv, role):
    """`run` calls bot.app.run with the role (default all)."""
    assert main(argv) == 0
    assert fake_app.calls == [("run", role)]


def test_web_role_needs_no_token(fake_app):
    """`run --role web` serves webhooks only, so it starts without a token."""
    assert main(["run", "--role", "web"]) == 0
    assert fake_app.calls == [("run", "web")]


def test_migrate_calls_the_app(fake_app, capsys):
    """`migrate` calls bot.app.migrate and confirms on stdout."""
    assert main(["migrate"]) == 0
    assert fake_app.calls == [("migrate",)]
    assert "up to date" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "guild"), [([], None), (["--guild", "42"], 42)])
def test_sync_commands_passes_the_guild(fake_app, token, argv, guild):
    """`sync-commands [--guild ID]` passes the ID, or None to let the app choose."""
    assert main(["sync-commands", *argv]) == 0
    assert fake_app.calls == [("sync_commands", guild)]


def test_webhook_create_prints_the_url_once(fake_app, capsys):
    """`webhook create` prints only the URL on stdout and a shown-once warning on stderr."""
    argv = ["webhook", "create", "--guild", "42", "--source", "grafana", "--name", "prod"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out == "http://localhost:8080/hooks/grafana/s3cr3t\n"
    assert "shown only once" in captured.err
    assert fake_app.calls == [("create_webhook", 42, "grafana", "prod", None)]


def test_webhook_create_passes_a_signing_secret(fake_app):
    """`--signing-secret` reaches the app, for Grafana's HMAC."""
    argv = ["webhook", "create", "--guild", "1", "--source", "grafana", "--signing-secret", "k" * 9]
    assert main(argv) == 0
    assert fake_app.calls == [("create_webhook", 1, "grafana", None, "k" * 9)]
    assert fake_app.header_names == {"signature_header": None, "timestamp_header": None}


def test_webhook_create_passes_grafana_header_names(fake_app):
    """`--signature-header` and `--timestamp-header` reach the app with the secret."""
    argv = ["webhook", "create", "--guild", "1", "--source", "grafana", "--signing-secret"]
    argv += ["k" * 9, "--signature-header", "X-Sig", "--timestamp-header", "X-Test-Timestamp"]
    assert main(argv) == 0
    assert fake_app.header_names == {
        "signature_header": "X-Sig",
        "timestamp_header": "X-Test-Timestamp",
    }


def test_webhook_create_passes_a_heartbeat_schedule(fake_app):
    """`--source heartbeat --every 5m --grace 2m` reaches the app as its schedule."""
    argv = ["webhook", "create", "--guild", "1", "--source", "heartbeat", "--name", "backup"]
    assert main([*argv, "--every", "5m", "--grace", "2m"]) == 0
    assert fake_app.calls == [
        ("create_webhook", 1, "heartbeat", "backup", None, ("every", "5m"), ("grace", "2m"))
    ]


def test_webhook_create_rejects_an_unknown_source(fake_app, capsys):
    """An unknown --source is a usage error listing the valid ones."""
    assert main(["webhook", "create", "--guild", "42", "--source", "nagios"]) == 2
    assert "alertmanager" in capsys.readouterr().err
    assert fake_app.calls == []


def test_bad_guild_id_is_a_usage_error(fake_app, capsys):
    """A non-numeric --guild exits 2 before anything runs."""
    assert main(["export", "--guild", "abc", "--incident", "1"]) == 2
    assert "not a Discord ID" in capsys.readouterr().err


def test_export_writes_stdout(fake_app, capsys):
    """`export` prints the Markdown to stdout; `#12` is accepted as 12."""
    assert main(["export", "--guild", "42", "--incident", "#12"]) == 0
    assert capsys.readouterr().out == "# #12 Database down\n"
    assert fake_app.calls == [("export_postmortem", 42, 12)]


def test_export_writes_a_file(fake_app, tmp_path, capsys):
    """`export -o FILE` writes the Markdown to FILE."""
    target = tmp_path / "pm.md"
    assert main(["export", "--guild", "42", "--incident", "3", "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == "# #3 Database down\n"
    assert capsys.readouterr().out == ""


def test_export_png_writes_the_picture_beside_the_markdown(fake_app, tmp_path, capsys):
    """`export --png FILE` writes the picture to FILE and the Markdown as usual."""
    picture = tmp_path / "pm.png"
    assert main(["export", "--guild", "42", "--incident", "3", "--png", str(picture)]) == 0
    assert picture.read_bytes() == b"\x89PNG fake"
    assert fake_app.calls == [("export_postmortem", 42, 3), ("export_picture", 42, 3)]
    out = capsys.readouterr()
    assert out.out == "# #3 Database down\n" and f"wrote {picture}" in out.err
    unwritable = tmp_path / "missing" / "pm.png"
    assert main(["export", "--guild", "42", "--incident", "3", "--png", str(unwritable)]) == 2
    assert capsys.readouterr().err.startswith(f"opsroom: cannot write {unwritable}")


def test_export_to_an_unwritable_path_exits_2(fake_app, tmp_path, capsys):
    """A file that cannot be written is one line on stderr, exit 2 (the user's to fix)."""
    target = tmp_path / "missing" / "pm.md"
    assert main(["export", "--guild", "42", "--incident", "3", "-o", str(target)]) == 2
    assert capsys.readouterr().err.startswith(f"opsroom: cannot write {target}")


def test_importing_the_cli_builds_no_settings(tmp_path):
    """Importing bot.cli and bot.config with a broken environment does not fail."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), "OPSROOM_HTTP_PORT": "x"}
    result = subprocess.run(
        [sys.executable, "-c", "import bot.cli, bot.config"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
