"""Run the tap in-process, as its command line does, against the reference server; account for it.

One *row* of the fault matrix is one fault (or a few together) on one face of the reference
server. :func:`play` runs the tap through :meth:`TapMuseumCMS.invoke` (the command line's own
path: exit codes, the one failure line, the quiet-hours exit) on a :class:`FakeClock` shared with
the server, run after run, each resuming from the last STATE of the one before, until a run ends
the harvest or ``max_runs`` is reached::

    outcome = play(Row("503 bursts", "jsonl", Faults(status_503_every=9, status_burst=3)))
    outcome.lost, outcome.duplicates, outcome.exits      # 0, 0, (0,)
    outcome.problems                                     # [] when exactly the ground truth

Accounting (:class:`Ledger`): a record is *committed* once a STATE follows it in its run's output
(that STATE is what a target hands back); a record of a killed run that no STATE followed is
not. *Lost*: a record of the server's ground truth never committed, or a bad item never
quarantined. *Duplicates*: a record sent again after it was committed, or twice in one run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import os
import signal as signals
import subprocess
import sys
import time
import typing as t
from collections import Counter
from pathlib import Path

from fakeclock import FakeClock
from singer_sdk.plugin_base import _ConfigInput

from tap_museumcms.clock import SYSTEM_CLOCK
from tap_museumcms.refserver import GeneratedCollection, OaiSettings, ReferenceServer
from tap_museumcms.refserver.collection import Expected, line_key
from tap_museumcms.refserver.oai_render import ID_PREFIX
from tap_museumcms.refserver.server import Faults
from tap_museumcms.refserver.stats import RequestLog
from tap_museumcms.tap import TapMuseumCMS

#: The field that identifies a record of each stream.
KEYS = {"objects": "object_id", "rights": "rights_id", "media": "media_id",
        "quarantine": "raw_sha256", "lido_records": "object_id", "iiif_manifests": "object_id"}
DATA_STREAMS = {"jsonl": ("objects", "rights", "media"), "oai": ("objects",)}
#: Exit code of a run that died as SIGKILL leaves it.
KILLED = -9
#: Lines this long are quarantined unread (the default ``max_line_bytes``).
UNREAD = 16 * 1024 * 1024


@dataclasses.dataclass
class TapRun:
    """One run: its Singer messages, exit code, stderr (the run summary) and log lines."""

    messages: list[dict[str, t.Any]]
    exit_code: int
    stderr: str
    logs: list[str]
    error: str | None = None  # the failure line's text, or the quiet-hours exit
    peak_rss_kib: int = 0  # a real process's peak resident memory

    def records(self, stream: str) -> list[dict[str, t.Any]]:
        return [m["record"] for m in self.messages
                if m["type"] == "RECORD" and m["stream"] == stream]

    @property
    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def summary(self) -> dict[str, t.Any] | None:
        """The run summary printed on stderr, if any."""
        for line in self.stderr.splitlines():
            if line.startswith('{"run_summary"'):
                return json.loads(line)["run_summary"]
        return None

    def lines(self, level: str) -> list[str]:
        """Log lines of one level (``"ERROR"``, ``"WARNING"``, ``"INFO"``)."""
        return [line for line in self.logs if line.startswith(level + " ")]


class Killed(BaseException):
    """Stands for SIGKILL: nothing runs after it, no handler writes a last STATE."""


class _Sink(io.BytesIO):
    """The run's standard output; with ``kill_after`` it dies after that many RECORD lines."""

    def __init__(self, kill_after: int | None) -> None:
        super().__init__()
        self.kill_after = kill_after
        self.records = 0

    def write(self, data: t.Any) -> int:
        written = super().write(data)
        if self.kill_after is not None:
            self.records += bytes(data).count(b'{"type":"RECORD"')
            if self.records >= self.kill_after:
                raise Killed
        return written


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")


def run_cli(
    config: dict[str, t.Any], *, state: dict[str, t.Any] | None, clock: FakeClock,
    kill_after_records: int | None = None, seed: int = 0,
) -> TapRun:
    """One run through ``TapMuseumCMS.invoke`` (the CLI's path) on ``clock``, in-process.

    With ``kill_after_records``, the run dies right after writing that many RECORD messages, as
    SIGKILL leaves it (exit code :data:`KILLED`).
    """
    def init(self: TapMuseumCMS, *args: t.Any, **kwargs: t.Any) -> None:
        TapMuseumCMS.__init__(self, *args, **kwargs)
        self.clock = clock
        self.rng.seed(seed)

    tap_class = type("FaultMatrixTap", (TapMuseumCMS,), {"__init__": init})
    raw, err = _Sink(kill_after_records), io.StringIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    capture, logger = _Capture(), logging.getLogger("tap-museumcms")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(capture)
    code, error = 0, None
    handlers = {number: signals.getsignal(number) for number in (signals.SIGINT, signals.SIGTERM)}
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                tap_class.invoke(config=_ConfigInput(config=config),
                                 state=io.StringIO(json.dumps(state)) if state else None)
            except SystemExit as exc:
                code = int(exc.code or 0)
            except Killed:
                code = KILLED
        with contextlib.suppress(Killed):
            out.flush()
    finally:
        logger.removeHandler(capture)
        logger.setLevel(level)
        for number, handler in handlers.items():  # the tap installs its own on the way in
            signals.signal(number, handler)
    failed = [line for line in capture.lines if "tap-museumcms failed: " in line
              or "tap-museumcms paused: " in line]
    if failed:
        error = failed[-1].split(": ", 2)[-1]
    messages = [json.loads(line) for line in raw.getvalue().decode("utf-8").splitlines()
                if line.strip()]
    return TapRun(messages, code, err.getvalue(), capture.lines, error)


def run_process(
    config: dict[str, t.Any], *, state: dict[str, t.Any] | None, workdir: Path,
    kill_after_records: int | None = None, signal: int = signals.SIGKILL,
) -> TapRun:
    """One run of ``python -m tap_museumcms`` as a real process; ``signal`` after that many
    RECORD lines (what it wrote before dying is read to the end). Its peak memory is noted as
    read while it runs (every 50 messages)."""
    (workdir / "config.json").write_text(json.dumps(config))
    command = [sys.executable, "-m", "tap_museumcms", "--config", str(workdir / "config.json")]
    if state is not None:
        (workdir / "state.json").write_text(json.dumps(state))
        command += ["--state", str(workdir / "state.json")]
    with (workdir / "stderr.txt").open("w+") as err:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        messages, records, peak = [], 0, 0
        for raw in proc.stdout:
            messages.append(json.loads(raw))
            if len(messages) % 50 == 0:
                peak = max(peak, _peak_rss_kib(proc.pid))
            if messages[-1]["type"] == "RECORD":
                records += 1
                if kill_after_records is not None and records == kill_after_records:
                    os.kill(proc.pid, signal)
        proc.wait()
        err.seek(0)
        stderr = err.read()
    lines = [line.split(" | ", 1)[-1] for line in stderr.splitlines()]
    failed = [line for line in stderr.splitlines() if "tap-museumcms failed: " in line
              or "tap-museumcms paused: " in line]
    error = failed[-1].split("tap-museumcms failed: ", 1)[-1] if failed else None
    run = TapRun(messages, proc.returncode, stderr, lines, error)
    run.peak_rss_kib = peak
    return run


def _peak_rss_kib(pid: int) -> int:
    """The process's peak resident memory since it started the tap (``VmHWM``; 0 if gone).

    (Not ``ru_maxrss``: Linux carries it over ``exec`` from the forking parent.)
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


@dataclasses.dataclass
class Ledger:
    """What a sequence of runs committed, and how often something came twice."""

    committed: dict[tuple[str, str], dict[str, t.Any]] = dataclasses.field(default_factory=dict)
    emitted: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    duplicates: int = 0
    duplicate_examples: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def add(self, run: TapRun) -> None:
        pending: dict[tuple[str, str], dict[str, t.Any]] = {}
        this_run: set[tuple[str, str]] = set()
        for message in run.messages:
            if message["type"] == "STATE":
                self.committed.update(pending)
                pending = {}
            elif message["type"] == "RECORD":
                record = message["record"]
                identity = (message["stream"], str(record[KEYS[message["stream"]]]))
                if identity in self.committed or identity in this_run:
                    self.duplicates += 1
                    self.duplicate_examples.append(identity)
                this_run.add(identity)
                self.emitted.add(identity)
                pending[identity] = record
        # A run that ended without dying wrote its last STATE after its last record; one that
        # died leaves ``pending`` uncommitted.

    def stream(self, name: str) -> list[dict[str, t.Any]]:
        return [r for (s, _), r in self.committed.items() if s == name]


def truth(server: ReferenceServer, face: str) -> dict[str, Expected]:
    """The server's ground truth per data stream of the face."""
    if face == "oai":
        return {"objects": server.expected_oai("lido")}
    return {stream: server.expected(stream) for stream in DATA_STREAMS["jsonl"]}


def check_exact(
    ledger: Ledger, expected: dict[str, Expected], server: ReferenceServer, face: str
) -> tuple[list[str], int]:
    """Problems of the committed records against the ground truth, and how many were lost."""
    problems, lost = [], 0
    quarantine = ledger.stream("quarantine")
    for stream, want in expected.items():
        rows = ledger.stream(stream)
        live = {r[KEYS[stream]] for r in rows if not r.get("_sdc_deleted_at")}
        dead = {r[KEYS[stream]] for r in rows if r.get("_sdc_deleted_at")}
        lost += len(want.valid_keys - live) + len(want.tombstones - dead)
        if live != want.valid_keys:
            problems.append(f"{stream}: missing {sorted(want.valid_keys - live)[:3]}, "
                            f"unexpected {sorted(live - want.valid_keys)[:3]}")
        if dead != want.tombstones:
            problems.append(f"{stream}: tombstones {sorted(dead ^ want.tombstones)[:3]}")
        bad = [q for q in quarantine if q["stream"] == stream]
        wanted = len(want.invalid_positions) + len(want.malformed_lines)
        lost += max(wanted - len(bad), 0)
        if len(bad) != wanted:
            problems.append(f"{stream}: {len(bad)} quarantined, {wanted} expected")
        if not set(want.malformed_lines) <= {q["raw"].encode() for q in bad}:
            problems.append(f"{stream}: a malformed line was not quarantined as it was sent")
        if face == "jsonl":  # (a line over max_line_bytes is quarantined unread: no key)
            lines = [server.collection.record_at(stream, p) for p in want.invalid_positions]
            keys = {k for k in (line_key(stream, line) for line in lines if len(line) < UNREAD)
                    if k}
            if {q["key"] for q in bad if q["key"]} != keys:
                problems.append(f"{stream}: quarantined keys differ from the bad records'")
    if ledger.duplicates:
        problems.append(f"{ledger.duplicates} duplicates, e.g. {ledger.duplicate_examples[:3]}")
    return problems, lost


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of the matrix: a fault on a face, and what the runs must end with.

    Attributes:
        name: what the row shows (the table's first column).
        face: ``"jsonl"`` or ``"oai"``.
        faults: the server's fault switches.
        settings: tap settings on top of the face's defaults; ``"{url}"`` in a string is the
            server's base URL.
        size, invalid_every, page_size: the generated collection and the page size.
        server: more ``ReferenceServer`` arguments (``token``, ``keys``, ``oauth``).
        token_ttl: OAI resumptionToken lifetime (seconds, server clock).
        kills: the n-th run dies after this many RECORDs (in-process SIGKILL).
        exits: the exit codes of the runs, in order (the last one ends the harvest).
        message: a text the first failing run's failure line contains.
        heal: the source recovers after the first run (its faults are switched off).
        pause: seconds the clock moves between two runs (a scheduler's next run).
        later: tap settings changed for the runs after the first (the operator's fix).
        prepare: called with the started server before the first run (mutate the data).
        unread: keys the tap must quarantine unread (an item over ``max_line_bytes``): they
            move from the ground truth's valid keys to its bad items.
        real: run the tap as a real process (``python -m tap_museumcms``) on the real clock,
            killed with ``kill_signal`` where ``kills`` says (the benchmark's real rows).
        kill_signal: the signal of a real kill (SIGKILL 9, SIGTERM 15).
    """

    name: str
    face: str
    faults: Faults = dataclasses.field(default_factory=Faults)
    settings: t.Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    size: int = 120
    invalid_every: int = 7
    page_size: int = 20
    server: t.Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    token_ttl: float | None = None
    kills: tuple[int, ...] = ()
    exits: tuple[int, ...] = (0,)
    message: str | None = None
    heal: bool = False
    pause: float = 0.0
    later: t.Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    prepare: t.Callable[[ReferenceServer], None] | None = None
    unread: tuple[str, ...] = ()
    real: bool = False
    kill_signal: int = 9

    @property
    def id(self) -> str:
        return f"{self.name} [{self.face}]"


@dataclasses.dataclass
class Outcome:
    """What a row's runs did (see :func:`play`)."""

    row: Row
    runs: list[TapRun]
    ledger: Ledger
    expected: int
    expected_quarantined: int
    lost: int
    problems: list[str]
    log: list[RequestLog]
    connections: int
    sleeps: list[float]
    seconds: float
    server_url: str = ""

    @property
    def exits(self) -> tuple[int, ...]:
        return tuple(run.exit_code for run in self.runs)

    @property
    def duplicates(self) -> int:
        return self.ledger.duplicates

    @property
    def emitted(self) -> int:
        streams = DATA_STREAMS[self.row.face]
        return sum(1 for stream, _ in self.ledger.emitted if stream in streams)

    @property
    def quarantined(self) -> int:
        return len(self.ledger.stream("quarantine"))

    @property
    def requests(self) -> int:
        return sum(1 for entry in self.log if not entry.path.startswith("/_admin"))

    def statuses(self, path: str | None = None) -> Counter[int]:
        return Counter(e.status for e in self.log if path is None or e.path == path)


def tap_config(row: Row, url: str) -> dict[str, t.Any]:
    """The tap settings of a row."""
    if row.face == "oai":
        config: dict[str, t.Any] = {"source": "oai-pmh", "api_url": url + "/oai"}
    else:
        config = {"api_url": url, "page_size": row.page_size}
    config.update(lido_enabled=False, iiif_enabled=False)
    for name, value in row.settings.items():
        config[name] = value.replace("{url}", url) if isinstance(value, str) else value
    return config


def play(row: Row, *, max_runs: int = 8, scale: int = 1, expect: bool = True,
         workdir: Path | None = None) -> Outcome:
    """Run a row: the tap, run after run from the last STATE, until the harvest ends.

    Args:
        row: the row.
        max_runs: give up after so many runs (a row that never ends shows as lost records).
        scale: multiply the collection's size (the benchmark's larger runs).
        expect: check the row's exit codes and failure line too (they hold at scale 1).
        workdir: where a real row writes its config and state files.
    """
    clock: t.Any = SYSTEM_CLOCK if row.real else FakeClock()
    collection = GeneratedCollection(row.size * scale, invalid_every=row.invalid_every)
    oai = OaiSettings(page_size=row.page_size, token_ttl=row.token_ttl)
    started = time.perf_counter()
    with ReferenceServer(collection, faults=row.faults, clock=clock, oai=oai,
                         **dict(row.server)) as server:
        if row.prepare is not None:
            row.prepare(server)
        expected = unread(truth(server, row.face), server, row)  # before any healing
        config = tap_config(row, server.url)
        ledger, runs, state = Ledger(), [], None
        for index in range(max_runs):
            kill = row.kills[index] if index < len(row.kills) else None
            if row.real:
                run = run_process(config, state=state, kill_after_records=kill,
                                  signal=row.kill_signal, workdir=workdir or Path("."))
            else:
                run = run_cli(config, state=state, clock=clock, kill_after_records=kill)
            runs.append(run)
            ledger.add(run)
            state = run.states[-1] if run.states else state
            if run.exit_code == 0 and run.error is None and kill is None:
                break
            if row.heal and index == 0:
                server.set_faults(Faults())
            config.update(row.later)
            if row.pause and not row.real:
                clock.advance(row.pause)
        problems, lost = check_exact(ledger, expected, server, row.face)
        log, connections, url = server.stats.log, server.stats.connections, server.url
    quarantined = sum(len(e.invalid_positions) + len(e.malformed_lines)
                      for e in expected.values())
    records = sum(len(e.valid_keys) + len(e.tombstones) for e in expected.values())
    sleeps = [] if row.real else [s for s in clock.sleeps if s > 0]
    outcome = Outcome(row, runs, ledger, records, quarantined, lost, problems, log, connections,
                      sleeps, time.perf_counter() - started, url)
    if expect:
        outcome.problems += expectations(outcome)
    return outcome


def unread(
    expected: dict[str, Expected], server: ReferenceServer, row: Row
) -> dict[str, Expected]:
    """The ground truth with the row's ``unread`` keys moved to the bad items."""
    if not row.unread:
        return expected
    want = expected["objects"]
    positions = {server.collection.position_of("objects", key) for key in row.unread}
    keys = {key if row.face == "jsonl" else ID_PREFIX + key for key in row.unread}
    fixed = dataclasses.replace(want, valid_keys=want.valid_keys - keys,
                                invalid_positions=want.invalid_positions | positions)
    return {**expected, "objects": fixed}


def expectations(outcome: Outcome) -> list[str]:
    """Where the runs' exits and failure line differ from what the row expects."""
    row, problems = outcome.row, []
    if outcome.exits != row.exits:
        errors = [run.error for run in outcome.runs]
        problems.append(f"exit codes {outcome.exits}, expected {row.exits} ({errors})")
    failing = [run.error for run in outcome.runs if run.error]
    if row.message is not None and not (failing and row.message in failing[0]):
        problems.append(f"the first failure does not say {row.message!r}: {failing[:1]}")
    if row.message is None and any(run.exit_code == 1 for run in outcome.runs):
        problems.append(f"a run failed unexpectedly: {failing[:1]}")
    return problems
