"""Quiet hours: the windows in which the source's CMS runs its batches, and no request goes.

Pure, on an injected clock. ``quiet_hours`` holds windows as ``"HH:MM-HH:MM <IANA zone>"``; a
window that ends before it starts crosses midnight::

    quiet = QuietHours.parse(["01:30-03:00 Europe/London", "23:00-00:30 UTC"], clock=clock)
    quiet.current()   # None, or (window, seconds until it ends)

The transport asks before every request; the harvest then writes its STATE and either waits
for the window's end or ends the run cleanly (``quiet_hours_action``).
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from tap_museumcms.clock import Clock

_SPEC = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s+(\S+)\s*")


@dataclass(frozen=True)
class QuietWindow:
    """One daily window, in its own time zone.

    Example: ``QuietWindow(time(1, 30), time(3, 0), ZoneInfo("Europe/London"),
    "01:30-03:00 Europe/London")``.
    """

    start: time
    end: time
    zone: ZoneInfo
    spec: str

    def seconds_left(self, epoch: float) -> float | None:
        """Seconds until the window ends if ``epoch`` is inside it, else None."""
        local = datetime.fromtimestamp(epoch, self.zone)
        moment = local.time().replace(tzinfo=None)
        crosses = self.end <= self.start
        inside = (self.start <= moment < self.end) if not crosses else (
            moment >= self.start or moment < self.end)
        if not inside:
            return None
        end_day = local.date()
        if crosses and moment >= self.start:
            end_day += timedelta(days=1)
        end = datetime.combine(end_day, self.end, self.zone)
        return max(end.timestamp() - epoch, 0.0)


class QuietPause(Exception):  # noqa: N818 - a pause, not an error
    """Now is inside a quiet window: nothing may be sent for ``seconds``."""

    def __init__(self, window: QuietWindow, seconds: float) -> None:
        super().__init__(f"quiet hours {window.spec}: {seconds:.0f} s to go")
        self.window = window
        self.seconds = seconds


class QuietHours:
    """The configured windows; :meth:`current` tells whether now is inside one."""

    def __init__(self, windows: Iterable[QuietWindow], *, clock: Clock) -> None:
        self.windows = tuple(windows)
        self.clock = clock

    @classmethod
    def parse(cls, specs: Iterable[str] | None, *, clock: Clock) -> QuietHours:
        """Read the ``quiet_hours`` setting.

        Raises:
            ValueError: a window that is not ``HH:MM-HH:MM <zone>`` or names no known zone.
        """
        windows = []
        for spec in specs or ():
            match = _SPEC.fullmatch(spec)
            if not match:
                raise ValueError(f"quiet_hours: {spec!r} is not 'HH:MM-HH:MM <time zone>'")
            h1, m1, h2, m2, zone = match.groups()
            try:
                start, end = time(int(h1), int(m1)), time(int(h2), int(m2))
                windows.append(QuietWindow(start, end, ZoneInfo(zone), spec.strip()))
            except ValueError:
                raise ValueError(f"quiet_hours: {spec!r} has an impossible time") from None
            except ZoneInfoNotFoundError:
                raise ValueError(f"quiet_hours: {spec!r} names no known time zone") from None
        return cls(windows, clock=clock)

    def current(self) -> tuple[QuietWindow, float] | None:
        """The window now is inside, with the seconds until it ends (the longest if several)."""
        now = self.clock.time()
        found = [(window, left) for window in self.windows
                 if (left := window.seconds_left(now)) is not None]
        return max(found, key=lambda pair: pair[1]) if found else None
