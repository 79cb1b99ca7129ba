"""Wire-level fixtures: a Discord double on loopback with discord.py pointed at it.

Configure a test's double with ``@pytest.mark.discord_double(message_limit=(5, 1.0), ...)``
(any ``DiscordDouble`` keyword). A test that hits a route the double does not model fails
at teardown, unless it is marked ``@pytest.mark.allow_unknown_routes``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.discord_double import DiscordDouble, point_discord_py_at


def pytest_configure(config: pytest.Config) -> None:
    """Register the e2e markers."""
    config.addinivalue_line(
        "markers", "discord_double(**options): keyword arguments for the test's DiscordDouble"
    )
    config.addinivalue_line(
        "markers", "allow_unknown_routes: the test hits unmodelled Discord routes on purpose"
    )


@pytest.fixture
async def discord_double(request: pytest.FixtureRequest) -> AsyncIterator[DiscordDouble]:
    """A started double, with discord.py's REST base and gateway URL pointed at it."""
    marker = request.node.get_closest_marker("discord_double")
    options = dict(marker.kwargs) if marker else {}
    async with DiscordDouble(**options) as double:
        with point_discord_py_at(double):
            yield double
    if double.unknown_routes and not request.node.get_closest_marker("allow_unknown_routes"):
        hits = ", ".join(f"{r.method} {r.path}" for r in double.unknown_routes)
        pytest.fail(f"the client called routes the Discord double does not model: {hits}")
