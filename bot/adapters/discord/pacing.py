"""Our own per-channel budget under Discord's observed limits, so a storm never earns a 429.

discord.py already waits when a response says a bucket is empty, but it learns that only
from responses, and Discord's per-channel message limit (about 5 per 5 s) is observed, not
published. So the relay keeps a sliding window of its own per channel and coalesces what
does not fit instead of queueing it behind Discord.
"""

from __future__ import annotations

import time
from collections import deque

MESSAGES = 5
WINDOW_SECONDS = 5.0
# Discord counts a request when it arrives and we count it when its answer is back, so
# network jitter cannot squeeze a sixth request into Discord's window; the margin covers
# the difference between its fixed windows and our sliding one.
MARGIN_SECONDS = 0.25


class Budget:
    """At most `limit` actions in any `per` seconds, on the monotonic clock."""

    def __init__(
        self,
        limit: int = MESSAGES,
        per: float = WINDOW_SECONDS,
        margin: float = MARGIN_SECONDS,
    ) -> None:
        self.limit = limit
        self.per = per + margin
        self._spent: deque[float] = deque()

    def _forget(self, now: float) -> None:
        while self._spent and now - self._spent[0] >= self.per:
            self._spent.popleft()

    def available(self) -> int:
        """How many actions may start now."""
        self._forget(time.monotonic())  # module lookup: test harnesses replace the clock
        return self.limit - len(self._spent)

    def wait(self, room: int = 1) -> float:
        """Seconds until `room` more actions may start (0 when they may start now)."""
        now = time.monotonic()
        self._forget(now)
        short = room - (self.limit - len(self._spent))
        if short <= 0:
            return 0.0
        return max(self._spent[min(short, len(self._spent)) - 1] + self.per - now, 0.001)

    def spend(self) -> None:
        """Count one action, when its answer is back."""
        now = time.monotonic()
        self._forget(now)
        self._spent.append(now)
