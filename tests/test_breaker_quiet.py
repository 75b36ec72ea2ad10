"""The circuit breaker and quiet hours: pure policy on a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fakeclock import FakeClock

from tap_museumcms.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, SourceDown
from tap_museumcms.quiet import QuietHours


def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(failures=3, window_seconds=60, open_seconds=120, clock=clock,
                          host="cms.example.org")


def test_it_opens_after_n_failures_in_the_window_then_lets_one_probe_go():
    clock = FakeClock(start=1_800_000_000.0)
    b = breaker(clock)
    for _ in range(2):
        b.failure("HTTP 503")
        assert b.state == CLOSED and b.before_request() == 0.0
    b.failure("HTTP 503")
    assert b.state == OPEN
    assert b.before_request() == pytest.approx(120.0)
    clock.advance(119)
    assert b.before_request() == pytest.approx(1.0)
    clock.advance(1)
    assert b.before_request() == 0.0 and b.state == HALF_OPEN
    b.success()
    assert b.state == CLOSED and b.before_request() == 0.0


def test_failures_outside_the_window_do_not_count():
    clock = FakeClock()
    b = breaker(clock)
    b.failure("ReadTimeout")
    clock.advance(61)
    b.failure("ReadTimeout")
    b.failure("ReadTimeout")
    assert b.state == CLOSED
    b.failure("ReadTimeout")
    assert b.state == OPEN


def test_a_failed_probe_stops_the_run_with_what_how_often_and_since_when():
    clock = FakeClock(start=1_800_000_000.0)
    b = breaker(clock)
    for _ in range(3):
        b.failure("ConnectionError")
    clock.advance(120)
    assert b.before_request() == 0.0
    with pytest.raises(SourceDown) as down:
        b.failure("ConnectionError")
    message = str(down.value)
    assert "cms.example.org is down: 4 failed requests since 2027-01-15T08:00:00Z" in message
    assert "pause of 120 s" in message and "ConnectionError" in message


def test_quiet_windows_in_their_own_zone_and_across_midnight():
    def at(text: str) -> FakeClock:
        return FakeClock(start=datetime.fromisoformat(text).astimezone(UTC).timestamp())

    specs = ["01:30-03:00 Europe/London", "23:00-00:30 UTC"]
    # 01:45 in London in summer is 00:45 UTC.
    window, left = QuietHours.parse(specs, clock=at("2026-07-01T00:45:00+00:00")).current()
    assert window.spec == "01:30-03:00 Europe/London" and left == pytest.approx(75 * 60)
    window, left = QuietHours.parse(specs, clock=at("2026-07-01T23:59:00+00:00")).current()
    assert window.spec == "23:00-00:30 UTC" and left == pytest.approx(31 * 60)
    assert QuietHours.parse(specs, clock=at("2026-07-01T12:00:00+00:00")).current() is None
    assert QuietHours.parse(specs, clock=at("2026-07-01T02:00:00+00:00")).current() is None


@pytest.mark.parametrize("spec", ["1:30 to 3:00 UTC", "01:30-03:00", "25:00-26:00 UTC",
                                  "01:00-02:00 Mars/Olympus"])
def test_a_bad_window_is_a_clear_error(spec):
    with pytest.raises(ValueError, match="quiet_hours"):
        QuietHours.parse([spec], clock=FakeClock())
