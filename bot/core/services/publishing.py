"""Public posts made as part of an incident's own changes: a status change or an update
with `public:true` publishes in the same transaction as the change itself."""

from __future__ import annotations

from datetime import datetime

from bot.core.errors import ConflictError, NotFoundError
from bot.core.events import Event, Topic
from bot.core.model import EntryKind, EntrySource, Member
from bot.core.permissions import ensure_can_publish
from bot.core.ports import UnitOfWork
from bot.core.services._base import Edit
from bot.core.statuspage import (
    MAX_BODY,
    ComponentState,
    PublicIncident,
    PublicStatus,
    PublicUpdate,
    StatusPage,
    clean,
)

STATUS_TEXT = {
    PublicStatus.INVESTIGATING: "We are investigating this issue.",
    PublicStatus.IDENTIFIED: "The issue has been identified and a fix is being worked on.",
    PublicStatus.MONITORING: "A fix has been put in place and we are monitoring the results.",
    PublicStatus.RESOLVED: "This incident has been resolved.",
}
"""The public update posted by itself on publishing and on each public status change."""


async def touch(uow: UnitOfWork, guild_id: int, now: datetime) -> StatusPage | None:
    """Move the guild's page to a new version: every web process renders it again."""
    page = await uow.statuspage.get(guild_id)
    if page is not None:
        page.version += 1
        page.updated_at = now
        await uow.statuspage.save(page)
    return page


async def require_page(uow: UnitOfWork, guild_id: int) -> StatusPage:
    """The guild's enabled page, or a refusal saying how to make one."""
    page = await uow.statuspage.get(guild_id)
    if page is None or not page.enabled:
        raise NotFoundError(
            "This server has no status page: someone with Manage Server can run /statuspage enable."
        )
    return page


async def post(
    e: Edit, public: PublicIncident, status: PublicStatus, body: str, actor: Member | None
) -> PublicUpdate:
    """Add one public update, queue its announcement, and put it on the timeline."""
    assert public.id is not None
    update = PublicUpdate(status, body, e.now, public_incident_id=public.id)
    await e.uow.statuspage.add_update(update)
    assert update.id is not None
    public.updates.insert(0, update)
    public.status, public.updated_at = status, e.now
    await e.uow.outbox.add(Event(Topic.PUBLIC_UPDATE, public.guild_id, update.id))
    who = actor.person.name if actor else "Opsroom (automatic)"
    await e.record(
        EntryKind.NOTE,
        f"Public update ({status.value}) published on the status page by {who}: {body}",
        actor.person if actor else None,
        **({} if actor else {"source": EntrySource.SYSTEM}),
    )
    return update


async def hold(
    uow: UnitOfWork, public: PublicIncident, now: datetime, *, release: bool = False
) -> None:
    """Set the incident's components to its impact's state, or (`release`) give back the
    ones it still holds: to operational, or to another active incident holding them."""
    assert public.id is not None
    components = {c.name: c for c in await uow.statuspage.components(public.guild_id)}
    for name in public.components:
        component = components.get(name)
        if component is None:
            continue
        if release:
            if component.held_by != public.incident_id:
                continue  # someone set it otherwise since: theirs now
            component.state, component.held_by = ComponentState.OPERATIONAL, None
        else:
            component.state = public.impact.component_state
            component.held_by = public.incident_id
        component.updated_at = now
        await uow.statuspage.save_component(component)


async def publish_status_change(e: Edit) -> None:
    """A published incident's status moved: post Statuspage's status as a public update;
    resolving gives back the components it holds, reopening takes them again."""
    public = await e.uow.statuspage.incident(e.incident.id or 0)
    if public is None:
        return
    status = PublicStatus.of(e.incident.status)
    if status is public.status:
        return
    was_active = public.active
    await post(e, public, status, STATUS_TEXT[status], None)
    if status is PublicStatus.RESOLVED:
        public.resolved_at = e.now
        await hold(e.uow, public, e.now, release=True)
    elif not was_active:
        public.resolved_at = None
        await hold(e.uow, public, e.now)
    await e.uow.statuspage.save_incident(public)
    await touch(e.uow, e.incident.guild_id, e.now)


async def publish_update(e: Edit, actor: Member, text: str) -> None:
    """`/incident update … public:true`: the same text, published (commander or comms)."""
    ensure_can_publish(actor, e.incident)
    public = await e.uow.statuspage.incident(e.incident.id or 0)
    if public is None:
        raise ConflictError(
            f"{e.incident.label} is not on the status page yet: publish it first with "
            "/incident publish."
        )
    await require_page(e.uow, e.incident.guild_id)
    await post(e, public, public.status, clean(text, "The update", MAX_BODY), actor)
    await e.uow.statuspage.save_incident(public)
    await touch(e.uow, e.incident.guild_id, e.now)
