"""Webhook tokens: made once, shown once, stored only as a hash, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from bot.core.alerts import AlertSource
from bot.core.model import Person

TOKEN_BYTES = 32


@dataclass
class Webhook:
    """One monitor's way in: a source dialect, a guild, and the hash of its secret token."""

    guild_id: int
    source: AlertSource
    name: str
    token_hash: str
    created_at: datetime
    created_by: Person | None = None
    revoked_at: datetime | None = None
    # Grafana's optional HMAC key: kept in clear (a signature cannot be checked against a
    # hash) and out of repr, so logging a Webhook never prints it.
    signing_secret: str | None = field(default=None, repr=False)
    # Grafana lets users rename its signature and timestamp headers; None: its defaults.
    signature_header: str | None = None
    timestamp_header: str | None = None
    id: int | None = None

    @property
    def active(self) -> bool:
        """Revoked webhooks answer like unknown ones."""
        return self.revoked_at is None


def new_token() -> str:
    """A URL-safe secret with 256 bits of entropy."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """SHA-256 hex digest: tokens are random, so a fast hash without salt is enough to store."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    """Whether `token` is the one behind `token_hash`, without leaking where they differ."""
    return hmac.compare_digest(hash_token(token), token_hash)
