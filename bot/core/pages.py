"""Pages: each escalation of an alert sent to one target, kept so the record shows who was
paged, when, and whether (and by whom, after how long) the page was answered.

Answered, by whom and after how long are not stored: they derive from the alert's own
acknowledgement. A page is answered when the alert was acknowledged at or after it was
sent; an acknowledgement before the page means the page should not have gone out, and an
alert that resolved unacknowledged leaves its pages unanswered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.core.alerts import Alert, EscalationTarget
from bot.core.model import GuildConfig, Person


class PageTarget(StrEnum):
    """What a page went to."""

    ROLE = "role"
    MEMBER = "member"
    PAGER = "pager"


@dataclass
class Page:
    """One page: an alert's escalation sent to one target (a Discord ping or a pager)."""

    guild_id: int
    alert_id: int
    level: int  # the alert's escalation level this page is for (1 = first)
    target: PageTarget
    target_id: int | None  # role id, member id or pager id
    target_name: str  # as a reader sees it: "@oncall", "phone"
    sent_at: datetime
    id: int | None = None


@dataclass(frozen=True)
class Answer:
    """Whether a page was answered, by whom and how long after it was sent."""

    answered: bool
    by: str | None = None
    after_seconds: float | None = None


def role_page(alert: Alert, target: EscalationTarget, config: GuildConfig, at: datetime) -> Page:
    """The Discord ping an escalation step sends for `alert` (the role its level names)."""
    assert alert.id is not None
    oncall = target is EscalationTarget.ONCALL
    role_id = config.oncall_role_id if oncall else config.escalation_role_id
    role = "on-call role" if oncall else "escalation role"
    name = role if role_id is not None else f"no one (no {role} is set)"
    return Page(
        guild_id=alert.guild_id,
        alert_id=alert.id,
        level=alert.escalation_level,
        target=PageTarget.ROLE,
        target_id=role_id,
        target_name=name,
        sent_at=at,
    )


def answer(page: Page, alert: Alert) -> Answer:
    """The page's answer, from the alert's acknowledgement."""
    taken = alert.acknowledged_at
    if taken is None or taken < page.sent_at:
        return Answer(False)
    by = _name(alert.acknowledged_by) or alert.source.value
    return Answer(True, by, (taken - page.sent_at).total_seconds())


def page_text(page: Page, alert: Alert) -> str:
    """The timeline entry of a page: whom, which level, for which alert."""
    title = " ".join(alert.title.split())[:200]
    return f"Escalation {page.level}: paged {page.target_name} for alert: {title}"


def _name(person: Person | None) -> str | None:
    return person.name if person else None
