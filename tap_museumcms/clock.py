"""Time as a dependency: the tap, the pacer and the reference server take a clock.

Production code uses :data:`SYSTEM_CLOCK`. The tests pass a fake one (``tests/fakeclock.py``)
whose ``sleep`` advances time instantly, so no test ever waits for real.
"""

from __future__ import annotations

import time
import typing as t


class Clock(t.Protocol):
    """What the tap needs to know about time."""

    def time(self) -> float:
        """Wall-clock seconds since the Unix epoch (for HTTP-dates and epoch resets)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for waits and rates)."""

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds``."""


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()
