"""`/ack/{code}`: acknowledge a page from the lock screen, without opening Discord.

GET only shows what the link will acknowledge (a chat app's link preview, or a mail
scanner, fetches links with GET: they must not acknowledge anything); the page's button
POSTs to the same URL, which acknowledges. A used, expired or unknown link gets a clear page
with a 4xx, never a 5xx. Pages are small HTML that reads well on a phone, no JavaScript.
"""

from __future__ import annotations

import html

from aiohttp import web

from bot.core.errors import NotFoundError, StorageUnavailableError
from bot.core.paging import PageKind
from bot.core.services import AckLinkService
from bot.core.services.ack_links import LinkView

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the code must not leak to links on the page
    "X-Robots-Tag": "noindex",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}
SHOWN = 20  # alerts listed on the page; the rest are counted

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}}
button{{font-size:1.3rem;padding:.8rem 1.6rem;width:100%}}li{{margin:.3rem 0}}</style>
</head><body><h1>{title}</h1>{body}</body></html>
"""


def _page(title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=_PAGE.format(title=html.escape(title), body=body),
        status=status,
        content_type="text/html",
        headers=HEADERS,
    )


def _alert_list(view: LinkView) -> str:
    items = []
    for alert in view.alerts[:SHOWN]:
        state = (
            "resolved"
            if not alert.is_open
            else ("acknowledged" if alert.acknowledged_at else "firing")
        )
        items.append(f"<li>{html.escape(alert.title)} <small>({state})</small></li>")
    if len(view.alerts) > SHOWN:
        items.append(f"<li>and {len(view.alerts) - SHOWN} more</li>")
    return f"<ul>{''.join(items)}</ul>"


def add_ack_routes(app: web.Application, acks: AckLinkService) -> None:
    """Serve the acknowledge links (every role that serves webhooks)."""

    async def show(request: web.Request) -> web.Response:
        code = request.match_info["token"]
        try:
            view = await acks.preview(code)
        except NotFoundError as exc:
            return _page("Link not usable", f"<p>{html.escape(str(exc))}</p>", 404)
        except StorageUnavailableError:
            return _page("Try again", "<p>Opsroom's database is unavailable; retry.</p>", 503)
        who = html.escape(view.pager_name)
        if view.kind is PageKind.TEST:
            what = f"<p>This answers the <b>test page</b> sent to pager '{who}'.</p>"
            button = "Acknowledge the test"
        else:
            what = (
                f"<p>Acknowledge {len(view.alerts)} alert(s) as pager '{who}'? "
                "Escalation stops for them: no more pings or pages.</p>" + _alert_list(view)
            )
            button = "Acknowledge"
        form = f'<form method="post"><button type="submit">{button}</button></form>'
        return _page("Acknowledge", what + form)

    async def acknowledge(request: web.Request) -> web.Response:
        code = request.match_info["token"]
        try:
            view = await acks.acknowledge(code)
        except NotFoundError as exc:
            return _page("Link not usable", f"<p>{html.escape(str(exc))}</p>", 404)
        except StorageUnavailableError:
            return _page("Try again", "<p>Opsroom's database is unavailable; retry.</p>", 503)
        if view.kind is PageKind.TEST:
            return _page("Test answered", "<p>✅ Pages reach you. The result is in #alerts.</p>")
        body = (
            f"<p>✅ Acknowledged as pager '{html.escape(view.pager_name)}'. "
            "Nobody else will be paged for these:</p>" + _alert_list(view)
        )
        return _page("Acknowledged", body)

    app.router.add_get("/ack/{token}", show)
    app.router.add_post("/ack/{token}", acknowledge)
