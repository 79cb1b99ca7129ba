"""`opsroom config` and `opsroom pager-key`, and the OPSROOM_PAGER_KEY setting."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet

from bot.cli import main
from bot.config import ConfigError, load_settings

pytestmark = pytest.mark.usefixtures("clean_environment")


@pytest.fixture(autouse=True)
def restore_logging():
    """Undo main()'s logging set-up so later tests see the root logger as before."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_pager_key_prints_a_usable_key(capsys):
    assert main(["pager-key"]) == 0
    out, err = capsys.readouterr()
    Fernet(out.strip().encode())  # a valid key, or this raises
    assert "OPSROOM_PAGER_KEY" in err


def test_a_bad_pager_key_is_named_but_never_shown(clean_environment):
    clean_environment.setenv("OPSROOM_PAGER_KEY", "not-a-key-but-secret")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "OPSROOM_PAGER_KEY is invalid" in str(caught.value)
    assert "not-a-key-but-secret" not in str(caught.value)
    clean_environment.setenv("OPSROOM_PAGER_KEY", Fernet.generate_key().decode())
    assert load_settings().pager_key is not None


def test_config_shows_and_changes_a_guilds_settings(clean_environment, tmp_path, capsys):
    clean_environment.setenv("OPSROOM_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/o.db")
    assert main(["config", "--guild", "42", "escalate_after=3", "update_sev4=20"]) == 0
    out, err = capsys.readouterr()
    assert "escalate_after=3\n" in out and "update_sev4=20\n" in out
    assert "changed escalate_after, update_sev4 for guild 42" in err
    assert main(["config", "--guild", "42"]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines() == [
        "escalate_after=3",
        "escalate_repeats=3",
        "update_sev1=15",
        "update_sev2=30",
        "update_sev3=60",
        "update_sev4=20",
    ]


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("escalate_after=soon", "escalate_after must be a whole number from 0 to 1440."),
        ("wake_me=1", "Unknown setting 'wake_me'"),
        ("escalate_after", "is not KEY=VALUE"),
    ],
)
def test_config_refuses_bad_values_in_one_line(clean_environment, tmp_path, capsys, pair, message):
    clean_environment.setenv("OPSROOM_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/o.db")
    assert main(["config", "--guild", "42", pair]) == 2  # a user error, like every refusal
    _, err = capsys.readouterr()
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.db").exists()  # refused before touching the database
