"""Pagers beyond Discord: stored pager URLs, the page queue, and acknowledge links.

A *pager* is an Apprise URL (ntfy, Pushover, e-mail, …) a guild registered at one
escalation level. A *pager page* is one message to one pager: a row written in the same
transaction as the escalation that caused it (a durable queue: a crash loses none), sent
later by an adapter off the event loop, retried with back-off. Pages for the same pager and
level that are still waiting to go out absorb newly escalated alerts, so a storm sends one
page per pager per level, naming the alerts.

An *acknowledge link* is `{public_url}/ack/{code}`: the code has 256 random bits and is
stored only as its SHA-256, used once, and expires 24 h after it was made.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.alerts import EscalationTarget
from bot.core.model import Person

PagerLevel = EscalationTarget
"""A pager goes out with the on-call role's pings or with the escalation role's."""

ACK_CODE_BYTES = 32  # 256 bits: at least the 128 the link must have, like webhook tokens
ACK_LINK_TTL = timedelta(hours=24)
GATHER = timedelta(seconds=2)
"""A page waits this long for more alerts escalating to the same level (one page a storm)."""
SEND_TIMEOUT = 30.0  # seconds one Apprise send may take before it counts as failed
RETRY_BASE = timedelta(seconds=15)
RETRY_MAX = timedelta(minutes=5)
MAX_ATTEMPTS = 12  # about 40 minutes of trying before a page is given up
TEST_ANSWER_WITHIN = timedelta(minutes=10)
TEST_REMINDER_EVERY = timedelta(days=7)
MAX_PAGERS = 20  # per guild: each storm pages every one of them
NAMED_ALERTS = 10  # alerts listed by title in one page; the rest are counted


class PageKind(StrEnum):
    """An escalation page, or a `/oncall test` page."""

    ALERT = "alert"
    TEST = "test"


@dataclass
class Pager:
    """One guild's Apprise URL at one level; the URL itself is stored encrypted."""

    guild_id: int
    name: str
    level: PagerLevel
    url_masked: str  # what lists, logs and errors show: secrets replaced by ****
    url_secret: str = field(repr=False)  # the encrypted URL (the adapter's cipher text)
    created_at: datetime
    created_by: Person | None = None
    member: Person | None = None  # the person it wakes, for rotations and away
    failing_since: datetime | None = None  # reported once in #alerts until a page goes out
    last_test_ok_at: datetime | None = None
    test_reminded_at: datetime | None = None
    removed_at: datetime | None = None
    id: int | None = None

    @property
    def label(self) -> str:
        """`pager 'phone'`, as acknowledgements and failures name it."""
        return f"pager '{self.name}'"


@dataclass
class PagerPage:
    """One queued message to one pager; `alert_ids` grows while it waits to be sent."""

    guild_id: int
    pager_id: int
    kind: PageKind
    level: int  # the alerts' escalation level (0 for a test page)
    alert_ids: list[int]
    created_at: datetime
    not_before: datetime  # gather until then; later also the next retry time
    attempts: int = 0
    claimed_until: datetime | None = None  # a sender's lease: another may take it after
    sent_at: datetime | None = None
    given_up_at: datetime | None = None
    last_error: str | None = None
    answered_at: datetime | None = None  # test pages: when the link was used
    id: int | None = None

    @property
    def waiting(self) -> bool:
        """Not sent yet and not given up: still open to more alerts and to sending."""
        return self.sent_at is None and self.given_up_at is None


@dataclass
class AckLink:
    """An acknowledge link of one page: which alerts it takes, in which pager's name."""

    guild_id: int
    page_id: int
    code_hash: str
    pager_name: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    id: int | None = None

    def usable(self, now: datetime) -> bool:
        """Not used, not expired."""
        return self.used_at is None and now < self.expires_at


def new_ack_code() -> str:
    """An unguessable, URL-safe acknowledge code."""
    return secrets.token_urlsafe(ACK_CODE_BYTES)


def hash_ack_code(code: str) -> str:
    """SHA-256 hex: the codes are random, so a fast unsalted hash is enough to store them."""
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


def ack_code_matches(code: str, code_hash: str) -> bool:
    """Constant-time comparison of a presented code with a stored hash."""
    return hmac.compare_digest(hash_ack_code(code), code_hash)


def plausible_ack_code(code: str) -> bool:
    """Cheap shape check before any lookup: what `new_ack_code` makes, give or take."""
    return 20 <= len(code) <= 100 and all(c.isalnum() or c in "-_" for c in code)


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the `attempts`-th failed send: 15 s, 30 s, 1 min … capped at 5 min."""
    delay: timedelta = RETRY_BASE * (2 ** max(attempts - 1, 0))
    return min(delay, RETRY_MAX)


@dataclass
class Notice:
    """A message for the guild's #alerts about paging and on-call (a pager failed, a test
    was answered, a handoff), with the role moves and the one person it may ping."""

    guild_id: int
    text: str
    created_at: datetime
    ping_user_id: int | None = None
    role_to: int | None = None  # give the on-call role to this member
    role_from: list[int] = field(default_factory=list)  # and take it from these
    id: int | None = None
