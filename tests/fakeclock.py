"""A clock for the tests: ``sleep`` advances time at once and is recorded.

The tap, the pacer and the reference server take any :class:`tap_museumcms.clock.Clock`;
the tests give them this one, so that no test ever waits for real.
"""

from __future__ import annotations

import threading


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
