"""Atlassian Statuspage's public v2 API shapes (field names and enums), from the read model,
so widgets and aggregators that read Statuspage read Opsroom."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.core.statuspage import (
    DESCRIPTIONS,
    Component,
    ComponentState,
    Maintenance,
    MaintenanceStatus,
    PublicIncident,
    effective_states,
    overall,
)

if TYPE_CHECKING:
    from bot.adapters.http.statuspage.render import PublicData, Renderer


def iso(moment: datetime | None) -> str | None:
    """Statuspage's timestamps: ISO 8601 with offset, milliseconds."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


class StatuspageJson:
    """The shapes of Atlassian Statuspage's public v2 API, from the read model."""

    def __init__(self, renderer: Renderer, data: PublicData, now: datetime) -> None:
        self.data, self.now = data, now
        self.page_id = _code(f"page:{data.page.guild_id}")
        self.url = renderer.page_url(data.page.slug)
        self.states = effective_states(data.components, data.maintenances, now)
        self.by_name = {c.name: c for c in data.components}

    def page(self) -> dict[str, Any]:
        page = self.data.page
        return {
            "id": self.page_id,
            "name": page.title,
            "url": self.url,
            "time_zone": "Etc/UTC",
            "updated_at": iso(page.updated_at),
        }

    def status(self) -> dict[str, Any]:
        d = self.data
        indicator = overall(d.components, d.incidents, d.maintenances, self.now)
        return {
            "page": self.page(),
            "status": {"indicator": indicator, "description": DESCRIPTIONS[indicator]},
        }

    def _component(self, c: Component, group_id: str | None) -> dict[str, Any]:
        return {
            "id": c.code,
            "name": c.name,
            "status": self.states[c.name].value,
            "created_at": iso(c.created_at),
            "updated_at": iso(c.updated_at),
            "position": c.position + 1,
            "description": None,
            "showcase": True,
            "start_date": c.created_at.date().isoformat(),
            "group_id": group_id,
            "page_id": self.page_id,
            "group": False,
            "only_show_if_degraded": False,
        }

    def component_list(self) -> list[dict[str, Any]]:
        """Components, with one group component per group naming its members (Statuspage's
        way of showing groups)."""
        out: list[dict[str, Any]] = []
        groups: dict[str, dict[str, Any]] = {}
        for c in self.data.components:
            group_id = None
            if c.group:
                group = groups.get(c.group)
                if group is None:
                    group = groups[c.group] = {
                        **self._component(c, None),
                        "id": _code(f"group:{self.data.page.guild_id}:{c.group}"),
                        "name": c.group,
                        "group": True,
                        "components": [],
                    }
                    out.append(group)
                group["components"].append(c.code)
                group_id = group["id"]
            out.append(self._component(c, group_id))
        for group in groups.values():  # a group shows its worst member
            members = [self.states[n] for n in _names(self, group)]
            group["status"] = max(members, key=_STATE_ORDER.index).value
        return out

    def components(self) -> dict[str, Any]:
        return {"page": self.page(), "components": self.component_list()}

    def _affected(self, names: list[str]) -> list[dict[str, Any]]:
        return [self._component(self.by_name[n], None) for n in names if n in self.by_name]

    def incident(self, i: PublicIncident) -> dict[str, Any]:
        monitoring = [u.created_at for u in i.updates if u.status.value == "monitoring"]
        return {
            "id": i.code,
            "name": i.title,
            "status": i.status.value,
            "created_at": iso(i.created_at),
            "updated_at": iso(i.updated_at),
            "monitoring_at": iso(min(monitoring)) if monitoring else None,
            "resolved_at": iso(i.resolved_at),
            "impact": i.impact.value,
            "shortlink": f"{self.url}#incident-{i.code}",
            "started_at": iso(i.created_at),
            "page_id": self.page_id,
            "incident_updates": [
                {
                    "id": f"{i.code}{u.id}",
                    "status": u.status.value,
                    "body": u.body,
                    "incident_id": i.code,
                    "created_at": iso(u.created_at),
                    "updated_at": iso(u.created_at),
                    "display_at": iso(u.created_at),
                    "affected_components": None,
                    "deliver_notifications": True,
                    "custom_tweet": None,
                    "tweet_id": None,
                }
                for u in i.updates
            ],
            "components": self._affected(i.components),
        }

    def incidents(self, unresolved: bool = False) -> dict[str, Any]:
        found = [i for i in self.data.incidents if i.active or not unresolved]
        return {"page": self.page(), "incidents": [self.incident(i) for i in found]}

    def maintenance(self, m: Maintenance) -> dict[str, Any]:
        status = m.status(self.now)
        body = f"Scheduled maintenance from {iso(m.starts_at)} to {iso(m.ends_at)}."
        return {
            "id": m.code,
            "name": m.title,
            "status": status.value,
            "created_at": iso(m.created_at),
            "updated_at": iso(m.created_at),
            "monitoring_at": None,
            "resolved_at": iso(m.ends_at) if status is MaintenanceStatus.COMPLETED else None,
            "impact": "maintenance",
            "shortlink": f"{self.url}#maintenance-{m.code}",
            "started_at": iso(m.starts_at),
            "page_id": self.page_id,
            "incident_updates": [
                {
                    "id": f"{m.code}s",
                    "status": "scheduled",
                    "body": body,
                    "incident_id": m.code,
                    "created_at": iso(m.created_at),
                    "updated_at": iso(m.created_at),
                    "display_at": iso(m.created_at),
                    "affected_components": None,
                    "deliver_notifications": True,
                    "custom_tweet": None,
                    "tweet_id": None,
                }
            ],
            "components": self._affected(m.components),
            "scheduled_for": iso(m.starts_at),
            "scheduled_until": iso(m.ends_at),
        }

    def maintenances(self, upcoming: bool = False) -> dict[str, Any]:
        found = [
            m
            for m in self.data.maintenances
            if not upcoming or m.status(self.now) is MaintenanceStatus.SCHEDULED
        ]
        return {
            "page": self.page(),
            "scheduled_maintenances": [self.maintenance(m) for m in found],
        }

    def summary(self) -> dict[str, Any]:
        running = [
            m
            for m in self.data.maintenances
            if m.status(self.now) is not MaintenanceStatus.COMPLETED
        ]
        return {
            **self.status(),
            "components": self.component_list(),
            "incidents": [self.incident(i) for i in self.data.incidents if i.active],
            "scheduled_maintenances": [self.maintenance(m) for m in running],
        }


_STATE_ORDER = [
    ComponentState.OPERATIONAL,
    ComponentState.UNDER_MAINTENANCE,
    ComponentState.DEGRADED_PERFORMANCE,
    ComponentState.PARTIAL_OUTAGE,
    ComponentState.MAJOR_OUTAGE,
]


def _names(doc: StatuspageJson, group: dict[str, Any]) -> list[str]:
    codes = set(group["components"])
    return [c.name for c in doc.data.components if c.code in codes]


def _code(seed: str) -> str:
    """A stable Statuspage-style id for things that have no stored code (page, groups)."""
    return hashlib.sha256(seed.encode()).hexdigest()[:12]
