"""Run the tap in-process and read what it wrote, as a target would."""

from __future__ import annotations

import contextlib
import io
import json
import typing as t
from dataclasses import dataclass, field

from fakeclock import FakeClock
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage

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


class _KillingWriter(MsgSpecWriter):
    """Writes messages like the tap's own writer, and dies after the n-th RECORD."""

    kill_after: int | None = None
    records = 0

    def write_message(self, message):  # type: ignore[no-untyped-def]
        super().write_message(message)
        if isinstance(message, RecordMessage) and self.kill_after is not None:
            type(self).records += 1
            if type(self).records >= self.kill_after:
                raise Killed


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
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    tap_class: type[TapMuseumCMS] = TapMuseumCMS
    if kill_after_records is not None:
        writer = type("Writer", (_KillingWriter,), {"kill_after": kill_after_records})
        tap_class = type("KillableTap", (TapMuseumCMS,), {"message_writer_class": writer})
    tap = tap_class(config=config, state=state, catalog=catalog, validate_config=True)
    tap.clock = clock or FakeClock()
    tap.rng.seed(seed)
    error: BaseException | None = None
    with contextlib.redirect_stdout(out):
        try:
            tap.sync_all()
        except (TapError, Killed) as exc:
            error = exc
    out.flush()
    return SyncResult(parse_messages(raw.getvalue().decode("utf-8")), error, tap)
