"""Run the tap in-process and read what it wrote, as a target would."""

from __future__ import annotations

import contextlib
import io
import json
import typing as t
from dataclasses import dataclass, field

from fakeclock import FakeClock

from tap_museumcms.clock import Clock
from tap_museumcms.errors import TapError
from tap_museumcms.tap import TapMuseumCMS


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
