"""Base images are pinned (an exact x.y.z release or a digest), and the examples set the
public URL, so a rebuild gets the same base and webhook URLs are not left at localhost."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PINNED = re.compile(r"^[\w./-]+(:\d+\.\d+\.\d+[\w.-]*)?(@sha256:[0-9a-f]{64})?$")
# PostgreSQL numbers its releases major.minor: 15.10 is one exact release.
POSTGRES = re.compile(r"^postgres:\d+\.\d+(-[\w.]+)?(@sha256:[0-9a-f]{64})?$")


def images() -> list[str]:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    compose = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    found = re.findall(r"^ARG \w*IMAGE=(\S+)", dockerfile, re.M)
    found += [i for i in re.findall(r"^FROM (\S+)", dockerfile, re.M) if not i.startswith("$")]
    return found + re.findall(r"^\s+image:\s*(\S+)", compose, re.M)


def test_every_base_image_is_pinned():
    found = images()
    assert len(found) == 3, found  # python, postgres, caddy
    for image in found:
        exact = PINNED.match(image) or POSTGRES.match(image)
        assert exact and (":" in image or "@" in image), image


def test_the_examples_set_the_public_url():
    assert "OPSROOM_PUBLIC_URL" in (REPO / "Dockerfile").read_text(encoding="utf-8")
    compose = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    assert "Docker Compose 2.23" in compose and "OPSROOM_PUBLIC_URL" in compose
