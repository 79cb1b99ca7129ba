"""Guild set-up and webhook tokens: the Manage Server side of Opsroom."""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import datetime, timedelta

from bot.core import guild_settings
from bot.core.alerts import AlertSource
from bot.core.errors import NotFoundError, ValidationError
from bot.core.events import Event, Topic
from bot.core.heartbeats import new_heartbeat, resolve_signal
from bot.core.model import GuildConfig, Member, zone
from bot.core.permissions import ensure_can_configure
from bot.core.ports import UnitOfWork
from bot.core.services._base import Service
from bot.core.services.alerts import ingest_signals
from bot.core.webhooks import Webhook, hash_token, new_token, token_matches

SETTABLE = frozenset(f.name for f in fields(GuildConfig)) - {"guild_id"}
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")  # an HTTP token


class GuildService(Service):
    """Reading and changing one guild's configuration."""

    async def get(self, guild_id: int) -> GuildConfig | None:
        """The stored configuration, or None before the first setup."""
        async with self._reading() as uow:
            return await uow.guilds.get(guild_id)

    async def configure(self, guild_id: int, actor: Member, **changes: object) -> GuildConfig:
        """Apply setup values (unset ones keep what is stored), so running setup again is safe."""
        ensure_can_configure(actor)
        unknown = set(changes) - SETTABLE
        if unknown:
            raise ValidationError(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
        if isinstance(changes.get("timezone"), str):
            zone(changes["timezone"])  # type: ignore[arg-type]
        for name in ("escalation_minutes", "escalation_repeats"):
            value = changes.get(name)
            if value is not None and not (isinstance(value, int) and 0 <= value <= 1440):
                raise ValidationError(f"{name.replace('_', ' ')} must be between 0 and 1440.")
        async with self._uow_factory() as uow:
            config = await uow.guilds.get(guild_id) or GuildConfig(guild_id)
            had_alerts_channel = config.alerts_channel_id is not None
            for name, value in changes.items():
                if value is not None:
                    setattr(config, name, value)
            await uow.guilds.save(config)
            if config.alerts_channel_id is not None and not had_alerts_channel:
                # Alerts that arrived before setup were stored, not shown: show them now.
                for alert_id in await uow.alerts.unshown(guild_id):
                    await uow.outbox.add(Event(Topic.ALERT_CHANGED, guild_id, alert_id))
            await uow.commit()
            return config

    async def tune(
        self, guild_id: int, actor: Member | None, changes: dict[str, object]
    ) -> GuildConfig:
        """`/opsroom config` and `opsroom config`: change escalation and update-cadence
        settings (all or none); no changes reads them. `actor` None: the server's operator."""
        if actor is not None:
            ensure_can_configure(actor)
        async with self._uow_factory() as uow:
            config = await uow.guilds.get(guild_id) or GuildConfig(guild_id)
            if changes:
                guild_settings.apply(config, changes)
                await uow.guilds.save(config)
                await uow.commit()
            return config


async def end_silence(uow: UnitOfWork, webhook: Webhook, at: datetime) -> None:
    """Resolve the heartbeat's open "missed" alert, if any (ingest ignores it otherwise)."""
    await ingest_signals(uow, webhook, [resolve_signal(webhook, at)], at)


class WebhookService(Service):
    """Webhook tokens: made, listed, revoked, and checked on every request."""

    async def create(
        self,
        guild_id: int,
        source: AlertSource,
        name: str | None,
        actor: Member | None,
        *,
        signing_secret: str | None = None,
        signature_header: str | None = None,
        timestamp_header: str | None = None,
        heartbeat: tuple[timedelta, timedelta] | None = None,
    ) -> tuple[Webhook, str]:
        """A new webhook and its token, which is returned this once and never stored.

        `signing_secret` (Grafana only) makes every request carry a valid HMAC signature,
        in `signature_header` and signed with the time in `timestamp_header` when Grafana's
        contact point renames them; `heartbeat` (every, grace) is required for, and only
        for, the heartbeat source.
        """
        if (heartbeat is None) is (source is AlertSource.HEARTBEAT):
            raise ValidationError(
                "A heartbeat webhook needs `every` (e.g. 5m); other sources take none."
            )
        if actor is not None:  # None: the operator on the server's command line
            ensure_can_configure(actor)
        if signing_secret is not None:
            if source is not AlertSource.GRAFANA:
                raise ValidationError("Only Grafana webhooks are signed; leave the secret out.")
            if not 8 <= len(signing_secret) <= 256:
                raise ValidationError("The signing secret must be 8 to 256 characters long.")
        headers = {"signature": signature_header, "timestamp": timestamp_header}
        for what, header in headers.items():
            if header is None:
                continue
            if signing_secret is None:
                raise ValidationError(f"A {what} header name needs a signing secret.")
            if not _HEADER_NAME.fullmatch(header):
                raise ValidationError(f"{header[:100]!r} is not an HTTP header name.")
        token = new_token()
        webhook = Webhook(
            guild_id=guild_id,
            source=source,
            name=(name or source.value).strip()[:100] or source.value,
            token_hash=hash_token(token),
            created_at=self._clock.now(),
            created_by=actor.person if actor else None,
            signing_secret=signing_secret,
            signature_header=signature_header,
            timestamp_header=timestamp_header,
        )
        async with self._uow_factory() as uow:
            await uow.webhooks.add(webhook)
            if heartbeat is not None:
                assert webhook.id is not None
                every, grace = heartbeat
                await uow.heartbeats.add(
                    new_heartbeat(webhook.id, guild_id, every, grace, webhook.created_at)
                )
            await uow.commit()
        return webhook, token

    async def list(self, guild_id: int) -> list[Webhook]:
        """The guild's webhooks, revoked ones included (they show as revoked)."""
        async with self._reading() as uow:
            return await uow.webhooks.list(guild_id)

    async def revoke(self, guild_id: int, actor: Member, webhook_id: int) -> Webhook:
        """Stop a token working; its past alerts stay."""
        ensure_can_configure(actor)
        async with self._uow_factory() as uow:
            webhook = await uow.webhooks.get(guild_id, webhook_id)
            if webhook is None or not webhook.active:
                raise NotFoundError(f"There is no active webhook {webhook_id} in this server.")
            webhook.revoked_at = self._clock.now()
            await uow.webhooks.save(webhook)
            if webhook.source is AlertSource.HEARTBEAT:  # nothing could end its miss now
                await end_silence(uow, webhook, webhook.revoked_at)
            await uow.commit()
            return webhook

    async def authenticate(self, token: str, source: AlertSource | None = None) -> Webhook:
        """The active webhook behind a token (for `source`, if given); one error for all misses."""
        async with self._reading() as uow:
            webhook = await uow.webhooks.by_hash(hash_token(token))
        if (
            webhook is None
            or not webhook.active
            or not token_matches(token, webhook.token_hash)
            or (source is not None and webhook.source is not source)
        ):
            raise NotFoundError("Unknown webhook token.")
        return webhook
