"""The status page in a real browser: Debian's chromium, headless, JavaScript off, 390 px wide.

Playwright drives the system chromium (`executable_path`; no browser is ever downloaded).
Each state the page can be in is loaded and read as a person would; the page must never be
wider than the phone; a screenshot of each state is kept in `test-artifacts/` for review.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.http.statuspage.serve import CACHE_KEY
from bot.core.model import Severity
from bot.core.services import IncidentRef
from bot.core.statuspage import ComponentState, Impact
from tests.integration.http.conftest import GUILD, Hooks
from tests.statuspage_scenario import ALICE, BOB, SECRETS, SLUG, play, t

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("OPSROOM_TEST_ARTIFACTS", "test-artifacts"))
PHONE = {"width": 390, "height": 844}


@pytest.fixture(params=["sqlite"])  # one backend: the browser reads HTML, not the database
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/browser.db"


@pytest.fixture
def chromium() -> str:
    """The system chromium, or an integration skip naming the package."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("integration: Debian's chromium is not installed (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Any]:
    """Headless chromium from Debian through Playwright."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def _look(browser: Any, hooks: Hooks, name: str, scheme: str = "light") -> str:
    """Load the page at 390 px without JavaScript; check it fits; keep a screenshot."""
    hooks.app[CACHE_KEY].expire()
    context = await browser.new_context(
        viewport=PHONE, java_script_enabled=False, color_scheme=scheme
    )
    try:
        page = await context.new_page()
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if "127.0.0.1" not in r.url else None)
        response = await page.goto(str(hooks.client.make_url(f"/status/{SLUG}")))
        assert response is not None and response.status == 200
        text = await page.locator("body").inner_text()
        # No horizontal overflow: nothing reaches past the phone's width.
        widest = 0.0
        for box in [await el.bounding_box() for el in await page.locator("body *").all()]:
            if box is not None and box["width"] > 0:
                widest = max(widest, box["x"] + box["width"])
        assert widest <= PHONE["width"], f"{name}: content reaches {widest} px"
        assert outside == [], f"{name}: the page loaded {outside}"
        await page.screenshot(path=str(ARTIFACTS / f"statuspage-{name}.png"), full_page=True)
        for secret in SECRETS:
            assert secret not in text
        return text
    finally:
        await context.close()


async def test_every_state_reads_right_at_390px_without_javascript(
    browser: Any, hooks: Hooks
) -> None:
    """Outage with updates and a scheduled window; maintenance running; a critical outage;
    all resolved with history; dark mode."""
    outage = await play(hooks.services, hooks.uow_factory, hooks.clock, GUILD)
    ref = IncidentRef(number=outage.number)
    hooks.clock.current = t(10, 30)

    text = await _look(browser, hooks, "outage")
    assert "Partial System Outage" in text and "Active incidents" in text
    assert "Elevated API errors" in text and "Affects: API, Web app" in text
    fix, first = text.index("Fix rolling out"), text.index("Some requests fail")
    assert fix < first, "updates are newest first"
    assert "Partial outage" in text and "Operational" in text
    assert "Scheduled maintenance" in text and "Database upgrade" in text
    assert "No incidents in the last 90 days." in text

    await hooks.services.statuspage.publish(GUILD, ALICE, ref, "API down", "API", Impact.CRITICAL)
    text = await _look(browser, hooks, "critical", scheme="dark")
    assert "Major System Outage" in text and "Major outage" in text

    await hooks.services.incidents.resolve(GUILD, ALICE, ref)
    await hooks.services.statuspage.set_component(
        GUILD, BOB, "Web app", ComponentState.DEGRADED_PERFORMANCE
    )
    text = await _look(browser, hooks, "degraded")
    assert "Minor Service Outage" in text and "Degraded performance" in text
    assert "Past incidents (last 90 days)" in text and "API down" in text
    assert "This incident has been resolved." in text

    await hooks.services.statuspage.set_component(GUILD, BOB, "Web app", ComponentState.OPERATIONAL)
    hooks.clock.current = t(2, 30) + timedelta(days=1)
    text = await _look(browser, hooks, "maintenance")
    assert "Service Under Maintenance" in text and "In progress" in text
    assert "Under maintenance" in text

    hooks.clock.current = t(4) + timedelta(days=1)
    long_title = "Login " + "x" * 120  # one unbreakable word must still wrap
    incident = await hooks.services.incidents.declare(
        GUILD, ALICE, title="INTERNAL-TITLE-db-primary-oom", severity=Severity.SEV3
    )
    await hooks.services.statuspage.publish(
        GUILD, ALICE, IncidentRef(number=incident.number), long_title, None, Impact.NONE
    )
    text = await _look(browser, hooks, "long-title")
    assert "All Systems Operational" in text and "Login" in text
