"""Run the tap in-process and read what it wrote, as a target would.

Beside :func:`run_tap`, the checks the dialect tests share: which records a target has
committed across killed and resumed runs (:func:`resume_until_done`), a run against an API
replay that throws faults (:func:`harvest_under_faults`), objects and quarantine against the
ground truth (:func:`assert_objects_exact`), the pace of requests (:func:`request_gaps`).
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import typing as t
from dataclasses import dataclass, field

from api_replay import ApiReplay, Logged, ReplayFaults, Reply
from fakeclock import FakeClock

from tap_museumcms.clock import Clock
from tap_museumcms.errors import TapError
from tap_museumcms.tap import TapMuseumCMS
from tap_museumcms.triage import reason_category

#: The field that identifies a record of each stream: what a target merges it on.
STREAM_KEYS = {"objects": "object_id", "rights": "rights_id", "media": "media_id",
               "quarantine": "raw_sha256", "lido_records": "object_id",
               "iiif_manifests": "object_id"}

Answer = t.Callable[[str, dict[str, str]], Reply]


@dataclass
class SyncResult:
    """The Singer messages of one run, and the error it ended with (if any)."""

    messages: list[dict[str, t.Any]]
    error: BaseException | None = None
    tap: TapMuseumCMS | None = field(default=None, repr=False)

    def records(self, stream: str) -> list[dict[str, t.Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def keys(self, stream: str, key: str) -> list[str]:
        return [r[key] for r in self.records(stream)]

    @property
    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def final_state(self) -> dict[str, t.Any]:
        return self.states[-1] if self.states else {}

    def schemas(self) -> dict[str, dict[str, t.Any]]:
        return {m["stream"]: m for m in self.messages if m["type"] == "SCHEMA"}


class Killed(BaseException):
    """Stands for SIGKILL: nothing runs after it, no handler writes a last STATE."""


class _Sink(io.BytesIO):
    """Standard output of the run; with ``kill_after`` it dies after that many RECORD lines."""

    def __init__(self, kill_after: int | None) -> None:
        super().__init__()
        self.kill_after = kill_after
        self.records = 0

    def write(self, data: bytes) -> int:  # type: ignore[override]
        written = super().write(data)
        if self.kill_after is not None:
            self.records += bytes(data).count(b'{"type":"RECORD"')
            if self.records >= self.kill_after:
                raise Killed
        return written


def parse_messages(text: str) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run_tap(
    config: dict[str, t.Any],
    *,
    state: dict[str, t.Any] | None = None,
    clock: Clock | None = None,
    catalog: dict[str, t.Any] | None = None,
    seed: int = 0,
    kill_after_records: int | None = None,
) -> SyncResult:
    """Sync all streams with ``config``; never raises the tap's own errors (see ``.error``).

    With ``kill_after_records`` the run dies right after writing that many RECORD messages,
    as a SIGKILL would leave it (``.error`` is then a :class:`Killed`).
    """
    raw = _Sink(kill_after_records)
    out = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    tap = TapMuseumCMS(config=config, state=state, catalog=catalog, validate_config=True)
    tap.clock = clock or FakeClock()
    tap.rng.seed(seed)
    error: BaseException | None = None
    with contextlib.redirect_stdout(out):
        try:
            tap.sync_all()
        except (TapError, Killed) as exc:
            error = exc
        with contextlib.suppress(Killed):
            out.flush()
    return SyncResult(parse_messages(raw.getvalue().decode("utf-8")), error, tap)


# -- committed records, across killed and resumed runs ------------------------------------


def record_identity(message: dict[str, t.Any]) -> tuple[str, str]:
    """``(stream, key)`` of a RECORD message: two messages with it are the same record."""
    return message["stream"], message["record"][STREAM_KEYS[message["stream"]]]


def committed_records(messages: list[dict[str, t.Any]]) -> set[tuple[str, str]]:
    """The identities of the records a target has committed: each RECORD a STATE follows."""
    last = max((i for i, m in enumerate(messages) if m["type"] == "STATE"), default=-1)
    return {record_identity(m) for m in messages[: last + 1] if m["type"] == "RECORD"}


def last_state(messages: list[dict[str, t.Any]], default: t.Any = None) -> t.Any:
    """The value of the last STATE in ``messages`` (what the next run resumes from), or
    ``default`` when the run wrote none."""
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return states[-1] if states else default


def account_run(
    committed: set[tuple[str, str]], messages: list[dict[str, t.Any]]
) -> set[tuple[str, str]]:
    """Check one run against what the runs before it committed; return all committed now.

    Fails when the run sent a committed record again, or one record twice.
    """
    this_run = [record_identity(m) for m in messages if m["type"] == "RECORD"]
    resent = committed & set(this_run)
    assert not resent, f"committed records sent again: {sorted(resent)[:5]}"
    assert len(this_run) == len(set(this_run)), "a record twice within one run"
    return committed | committed_records(messages)


def resume_until_done(
    config: dict[str, t.Any],
    clock: Clock,
    kills: list[int],
    *,
    state: dict[str, t.Any] | None = None,
    between: t.Callable[[int, t.Any], None] | None = None,
) -> tuple[set[tuple[str, str]], dict[str, t.Any] | None]:
    """Run, killed after each count of records in ``kills``, then once more to the end.

    Each run starts from the last STATE before it (the first from ``state``); every run is
    checked with :func:`account_run`, each killed one must end :class:`Killed`, the last one
    without error. ``between(n, state)`` is called before run ``n`` (from 1), with the state
    it will start from. Returns what was committed (``(stream, key)``) and the last state.
    """
    committed: set[tuple[str, str]] = set()
    for n, kill_after in enumerate([*kills, None]):
        if between is not None and n:
            between(n, state)
        result = run_tap(config, state=state, clock=clock, kill_after_records=kill_after)
        if kill_after is None:
            assert result.error is None, result.error
        else:
            assert isinstance(result.error, Killed), result.error
        committed = account_run(committed, result.messages)
        state = last_state(result.messages, default=state)
    return committed, state


# -- what a run emitted -------------------------------------------------------------------


def assert_objects_exact(result: SyncResult, valid: set[str], broken: set[str]) -> None:
    """Each valid record is an object exactly once; the quarantine holds the broken ones by
    their key, each once (and no raw body twice)."""
    keys = result.keys("objects", "object_id")
    twice = [k for k, n in collections.Counter(keys).items() if n > 1]
    assert twice == [], f"emitted twice: {twice[:5]}"
    assert set(keys) == valid, (sorted(valid - set(keys))[:5], sorted(set(keys) - valid)[:5])
    quarantined = [q for q in result.records("quarantine") if q["stream"] == "objects"]
    assert sorted(q["key"] for q in quarantined) == sorted(broken)
    assert len({q["raw_sha256"] for q in quarantined}) == len(quarantined)


def print_figures(label: str, result: SyncResult) -> None:
    """Print the records of each stream and the quarantine's reasons (seen with ``pytest -s``)."""
    counts = ", ".join(f"{len(result.records(s))} {s}" for s in STREAM_KEYS if s != "quarantine")
    reasons = collections.Counter(reason_category(q["reason"])
                                  for q in result.records("quarantine"))
    print(f"\n{label}: {counts}; {len(result.records('quarantine'))} quarantined, "
          f"by reason {dict(reasons)}")


# -- runs against an API replay -----------------------------------------------------------


def harvest_under_faults(
    answer: Answer,
    config_for: t.Callable[[ApiReplay], dict[str, t.Any]],
    faults: ReplayFaults,
    *,
    clock: Clock,
    chunk_bytes: int,
) -> tuple[SyncResult, list[Logged]]:
    """One run against a replay of ``answer`` that throws ``faults``, bodies sent in pieces of
    ``chunk_bytes``; returns the run and the replay's request log."""
    with ApiReplay(answer, faults=faults, chunk_bytes=chunk_bytes) as replay:
        result = run_tap(config_for(replay), clock=clock)
        log = list(replay.log)
    return result, log


def assert_faults_weathered(
    result: SyncResult, log: list[Logged], clock: FakeClock, retry_after: float
) -> None:
    """The run ended without error although the replay did answer 429 and 503, and the tap
    waited the ``retry_after`` seconds the replay asked for."""
    assert result.error is None, result.error
    statuses = collections.Counter(entry.status for entry in log)
    assert statuses[429] and statuses[503]
    assert retry_after in clock.sleeps  # Retry-After obeyed


def request_gaps(
    replay: t.Any,
    config_for: t.Callable[[ApiReplay], dict[str, t.Any]],
    max_requests_per_second: float | None = None,
) -> list[float]:
    """Seconds between the requests of one clean run, on a fresh fake clock.

    ``replay`` notes the clock's time of every request it answers in ``.times`` (it reads
    ``.clock``); without ``max_requests_per_second`` the dialect's default pace applies.
    """
    clock = FakeClock()
    replay.clock, replay.times = clock, []
    extra = {"max_requests_per_second": max_requests_per_second} if max_requests_per_second else {}
    with ApiReplay(replay.answer) as api:
        assert run_tap({**config_for(api), **extra}, clock=clock).error is None
    return [b - a for a, b in zip(replay.times, replay.times[1:], strict=False)]
