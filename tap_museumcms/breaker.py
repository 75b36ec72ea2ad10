"""Circuit breaker: stop polling a host that is down, then probe it once.

Pure, on an injected clock. One breaker per host, shared by every stream of the run::

    breaker = CircuitBreaker(failures=5, window_seconds=60, open_seconds=60, clock=clock)
    wait = breaker.before_request()   # 0.0, or seconds until the probe may go
    ...                               # send; then one of:
    breaker.failure("HTTP 503")       # may open it; a failed probe raises SourceDown
    breaker.success()                 # closes it

States: **closed** (requests go; failures are counted in a sliding window), **open** (after
``failures`` failures within ``window_seconds``: no request for ``open_seconds``), **half-open**
(one probe request goes; its success closes the breaker, its failure ends the run with
:class:`SourceDown`). A failure is a retryable failure of the host: 5xx, a timeout, a broken
connection or body. Rate limiting (429, and a source's own "slow down" statuses) is not: the
host is up and asking for patience, which the pacer gives it.
"""

from __future__ import annotations

import threading
import typing as t
from collections import deque

from tap_museumcms.checkpoint import iso_utc
from tap_museumcms.errors import SourceError

if t.TYPE_CHECKING:
    from tap_museumcms.clock import Clock

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
#: Gauge values of the states (for metrics).
STATE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


class SourceDown(SourceError):
    """The host failed again after the breaker's pause: the run stops, its state kept."""


class CircuitBreaker:
    """Counts one host's failures and decides when requests may go.

    Args:
        failures: failures within the window that open the breaker.
        window_seconds: the sliding window they are counted in.
        open_seconds: how long no request goes once it is open.
        clock: the injected clock.
        host: the host's name, for messages.
    """

    def __init__(
        self, *, failures: int, window_seconds: float, open_seconds: float, clock: Clock,
        host: str = "the source",
    ) -> None:
        if failures < 1 or window_seconds <= 0 or open_seconds < 0:
            raise ValueError("failures >= 1, window_seconds > 0 and open_seconds >= 0")
        self.failures = failures
        self.window = window_seconds
        self.open_seconds = open_seconds
        self.clock = clock
        self.host = host
        self.state = CLOSED
        self._recent: deque[float] = deque()  # monotonic times of recent failures
        self._total = 0  # failures since the breaker last closed
        self._first_failure: float | None = None  # wall clock of the first of those
        self._opened_at = 0.0  # monotonic
        self._last_failure = ""
        self._probing = False  # half-open: the one probe is in flight
        self._lock = threading.RLock()  # concurrent requests share the breaker

    def before_request(self) -> float:
        """Seconds to wait before the next request may go (0.0: now; a probe when half-open).

        While the probe is in flight, other requests wait another pause: only one goes.
        """
        with self._lock:
            if self.state == HALF_OPEN and self._probing:
                return self.open_seconds
            if self.state != OPEN:
                return 0.0
            left = self._opened_at + self.open_seconds - self.clock.monotonic()
            if left > 0:
                return left
            self.state = HALF_OPEN
            self._probing = True
            return 0.0

    def failure(self, what: str) -> None:
        """A request to the host failed (retryably).

        Raises:
            SourceDown: it was the probe after the pause.
        """
        with self._lock:
            self._probing = False
            self._failed(what)

    def _failed(self, what: str) -> None:
        now = self.clock.monotonic()
        self._total += 1
        self._last_failure = what
        if self._first_failure is None:
            self._first_failure = self.clock.time()
        if self.state == HALF_OPEN:
            raise SourceDown(
                f"{self.host} is down: {self._total} failed requests since "
                f"{iso_utc(self._first_failure)}, the last one after a pause of "
                f"{self.open_seconds:g} s (last error: {what})")
        self._recent.append(now)
        while self._recent and self._recent[0] <= now - self.window:
            self._recent.popleft()
        if self.state == CLOSED and len(self._recent) >= self.failures:
            self.state = OPEN
            self._opened_at = now

    def success(self) -> None:
        """A request to the host went through: the breaker closes."""
        with self._lock:
            self.state = CLOSED
            self._probing = False
            self._recent.clear()
            self._total = 0
            self._first_failure = None

    def describe(self) -> str:
        """One line for the log when the breaker opens."""
        return (f"{self.host}: {len(self._recent)} failures within {self.window:g} s (last: "
                f"{self._last_failure}); no request for {self.open_seconds:g} s, then one probe")
