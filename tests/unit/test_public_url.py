"""Guard rails on OPSROOM_PUBLIC_URL and OPSROOM_HTTP_HOST, and check-config listing all."""

from __future__ import annotations

import pytest

from bot.cli import main
from bot.config import check_settings, load_settings, public_url_warnings
from tests.unit.test_cli import fake_app, restore_logging  # noqa: F401 (fixtures)

WARNINGS = [
    ("http://localhost:8080", "this machine only"),
    ("http://127.0.0.1:8080", "this machine only"),
    ("http://[::1]:8080", "this machine only"),
    ("http://10.1.2.3:8080", "a private network only"),
    ("https://192.168.1.20", "a private network only"),
    ("http://opsroom:8080", "a private network only"),
    ("https://ops.home.arpa", "a private network only"),
    ("http://ops.example.org", "plain http on a public name"),
    ("https://ops.example.org", None),
    ("https://203.0.113.9", "a private network only"),  # documentation range: not global
    ("https://8.8.8.8", None),
]


@pytest.mark.parametrize(("url", "said"), WARNINGS)
def test_public_url_warnings(url, said):
    """Loopback, private addresses and names, and plain http in public are each explained."""
    found = public_url_warnings(url)
    if said is None:
        assert found == []
    else:
        (warning,) = found
        assert said in warning and "OPSROOM_PUBLIC_URL" in warning
        assert "docs/operations.md" in warning


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "::", "[::1]", "localhost", "ops-1.lan"])
def test_good_bind_addresses(clean_environment, host):
    clean_environment.setenv("OPSROOM_HTTP_HOST", host)
    assert load_settings().http_host == host.strip("[]")


@pytest.mark.parametrize("host", ["999.1.1.1", "1.2.3", "fe80::zz", "bad_host!", "-x.org"])
def test_bad_bind_addresses_are_refused(clean_environment, host):
    clean_environment.setenv("OPSROOM_HTTP_HOST", host)
    settings, problems = check_settings()
    assert any(p.startswith(f"OPSROOM_HTTP_HOST={host} is invalid") for p in problems)


@pytest.mark.usefixtures("restore_logging")
def test_check_config_lists_every_problem_at_once(clean_environment, capsys):
    """Two invalid settings, a missing token and a sync driver: four lines, one run."""
    clean_environment.setenv("OPSROOM_HTTP_HOST", "999.1.1.1")
    clean_environment.setenv("OPSROOM_HTTP_PORT", "70000")
    clean_environment.setenv("OPSROOM_DATABASE_URL", "sqlite:///./x.db")
    assert main(["check-config"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "warning:" not in line]
    assert [line.split("=")[0].split(" ")[1] for line in lines] == [
        "OPSROOM_HTTP_HOST",
        "OPSROOM_HTTP_PORT",
        "OPSROOM_DISCORD_TOKEN",
        "OPSROOM_DATABASE_URL",
    ]


@pytest.mark.usefixtures("restore_logging")
def test_webhook_create_warns_about_a_local_public_url(fake_app, clean_environment, capsys):  # noqa: F811
    """The URL still goes to stdout alone; the warning to stderr, naming the setting."""
    argv = ["webhook", "create", "--guild", "42", "--source", "uptimerobot"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out == "http://localhost:8080/hooks/uptimerobot/s3cr3t\n"
    assert "warning: OPSROOM_PUBLIC_URL=http://localhost:8080 is reachable from this machine" in (
        captured.err
    )
    clean_environment.setenv("OPSROOM_PUBLIC_URL", "https://ops.example.org")
    assert main(argv) == 0
    assert "warning" not in capsys.readouterr().err
