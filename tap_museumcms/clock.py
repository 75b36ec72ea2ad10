"""Time as a dependency: the tap, the pacer and the reference server take a clock.

Production code uses :data:`SYSTEM_CLOCK`. Tests pass a :class:`FakeClock`, whose
``sleep`` advances time instantly, so no test ever waits for real.
"""

from __future__ import annotations

import threading
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


class FakeClock:
    """A clock for tests: ``sleep`` advances both clocks at once and is recorded.

    Thread-safe, so an in-process reference server and the tap can share one.

    Example:
        >>> clock = FakeClock(start=1_800_000_000.0)
        >>> clock.sleep(2.5)
        >>> clock.time(), clock.sleeps
        (1800000002.5, [2.5])
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = float(start)
        self._mono = 0.0
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def time(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if seconds > 0:
                self._now += seconds
                self._mono += seconds

    def advance(self, seconds: float) -> None:
        """Move time forward without recording a sleep."""
        with self._lock:
            self._now += seconds
            self._mono += seconds
