"""The reverse-proxy configs docs/operations.md shows are valid for the real Caddy and nginx
(Debian's `caddy` and `nginx-light`; `.ci/run` installs them)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        pytest.skip(f"integration: {name} is not installed (apt-get install {name})")
    return found


def test_the_caddyfile_is_valid(tmp_path: Path):
    """`caddy validate` loads the Caddyfile with every module it names."""
    caddy = _binary("caddy")
    result = subprocess.run(
        [caddy, "validate", "--adapter", "caddyfile", "--config", str(DEPLOY / "Caddyfile")],
        capture_output=True,
        text=True,
        env={"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Valid configuration" in result.stdout + result.stderr


def test_the_nginx_site_is_valid(tmp_path: Path):
    """`nginx -t` accepts the site inside a minimal main config, with a throwaway certificate
    in place of Let's Encrypt's."""
    nginx, openssl = _binary("nginx"), _binary("openssl")
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=ops.example.org", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    site = (DEPLOY / "nginx-opsroom.conf").read_text(encoding="utf-8")
    live = "/etc/letsencrypt/live/ops.example.org"
    assert f"{live}/fullchain.pem" in site and f"{live}/privkey.pem" in site
    (tmp_path / "opsroom.conf").write_text(
        site.replace(f"{live}/fullchain.pem", str(cert)).replace(f"{live}/privkey.pem", str(key)),
        encoding="utf-8",
    )
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ access_log off; include {tmp_path}/opsroom.conf; }}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(main)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "syntax is ok" in result.stderr
