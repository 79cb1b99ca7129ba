"""Apprise behind the core's `PagerUrls` port: check and mask a URL, seal it with Fernet,
and send one page (a blocking call: the sender runs it in a worker thread).

Apprise speaks ntfy, Pushover, e-mail, Telegram, Matrix, SMS gateways and about a hundred
more, so Opsroom has no per-service client. Its own `url(privacy=True)` masks each
service's secrets in the service's own way; that masked form is the only one shown again.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import apprise
from cryptography.fernet import Fernet, InvalidToken

from bot.core.errors import ValidationError

MAX_URL = 2000
URGENT = {  # schema → the query option that makes the service's loudest kind of message
    "ntfy": ("priority", "max"),  # ntfy priority 5: a long vibration burst, past Do Not Disturb
    "ntfys": ("priority", "max"),
    "pover": ("priority", "emergency"),  # Pushover emergency: repeats until acknowledged there
}


class AppriseUrls:
    """Checks, masks, seals and opens pager URLs with one Fernet key."""

    def __init__(self, key: str | bytes) -> None:
        self._fernet = Fernet(key)

    def check(self, url: str) -> str:
        """The URL with its secrets masked, or a one-line refusal."""
        if not url or len(url) > MAX_URL:
            raise ValidationError(f"A pager URL must be 1 to {MAX_URL} characters long.")
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
        if plugin is None:
            scheme = url.split("://", 1)[0][:20] if "://" in url else "?"
            raise ValidationError(
                f"Apprise cannot use that URL (scheme {scheme!r}, or a missing or malformed "
                "part); see Apprise's list of services, e.g. ntfy://ntfy.sh/my-topic."
            )
        return str(plugin.url(privacy=True))  # type: ignore[no-untyped-call]

    def seal(self, url: str) -> str:
        """The URL encrypted (Fernet: AES-128-CBC with an HMAC, so tampering is detected)."""
        return self._fernet.encrypt(url.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        """The URL back; a key that changed makes this a clear error, not garbage."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except InvalidToken:
            raise ValidationError(
                "The pager URL cannot be decrypted: OPSROOM_PAGER_KEY changed since it was "
                "added. Add the pager again."
            ) from None


CLICK = {"ntfy", "ntfys"}  # services where tapping the notification can open a link


def urgent(url: str, ack_url: str | None = None) -> str:
    """The URL asking for the service's urgent priority (unless it already names one) and,
    where the service can, opening the acknowledge link when the notification is tapped."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = {name.lower() for name, _ in query}
    option = URGENT.get(scheme)
    if option is not None and option[0] not in names:
        query.append(option)
    if ack_url and scheme in CLICK and "click" not in names:
        query.append(("click", ack_url))
    return urlunsplit(parts._replace(query=urlencode(query)))


def send_page(url: str, title: str, body: str, masked: str, ack_url: str | None = None) -> None:
    """Send one message through Apprise; raise RuntimeError with Apprise's reason (secrets
    masked) when it was not delivered. Blocking: run it in a thread."""
    notifier = apprise.Apprise()
    if not notifier.add(urgent(url, ack_url)):
        raise RuntimeError("Apprise no longer accepts this URL")
    capture = apprise.LogCapture(level=logging.WARNING, fmt="%(message)s")  # type: ignore[no-untyped-call]
    with capture as captured:
        ok = notifier.notify(title=title, body=body, notify_type=apprise.NotifyType.FAILURE)
    if not ok:
        lines = [line.strip() for line in captured.getvalue().splitlines() if line.strip()]
        reason = lines[-1] if lines else "the service did not accept the message"
        raise RuntimeError(_masked(reason, url, masked))


def _masked(text: str, url: str, masked: str) -> str:
    """Apprise's messages may quote the URL or its parts: never let a secret through."""
    text = text.replace(url, masked)
    parts = urlsplit(url)
    for secret in (parts.password, parts.username, *parts.path.strip("/").split("/")):
        if secret and len(secret) >= 6:
            text = text.replace(secret, "****")
    return text[:300]
