"""Cleveland Museum of Art (``source: cleveland``) through the tap, against a local replay.

The replay (:class:`ClevelandApi`) answers ``GET /api/artworks/?skip=&limit=`` like the Open
Access API: ``{"info": {"total": N, "parameters": {...}}, "data": [...]}``, an empty ``data``
after the last record. Its collection is built from three real records (CC0, see
``fixtures/cleveland/ATTRIBUTION.md``): ids, accession numbers, titles, dates and image URLs
varied, some records deliberately broken. Every test compares the tap's output with the
replay's ground truth.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_replay import ApiReplay, ReplayFaults, Reply
from fakeclock import FakeClock
from harness import (
    SyncResult,
    assert_faults_weathered,
    assert_objects_exact,
    harvest_under_faults,
    print_figures,
    resume_until_done,
    run_tap,
)
from validity import failures, lido_validator

from tap_museumcms.dialects.aic import CC0
from tap_museumcms.dialects.cleveland import IN_COPYRIGHT, ClevelandMuseum

FIX = Path(__file__).parent / "fixtures" / "cleveland"
SAMPLE = json.loads((FIX / "artworks.json").read_text(encoding="utf-8"))
REAL = SAMPLE["data"]
BASE = 200_000


@dataclass
class Entry:
    id: int
    record: dict
    raw: bytes | None = None
    broken: bool = False

    def body(self) -> bytes:
        return self.raw if self.raw is not None else json.dumps(
            self.record, ensure_ascii=False).encode()


def _vary(record: dict, k: int) -> dict:
    """A copy of a real record with its own id, accession number, title, date and images."""
    text = json.dumps(record, ensure_ascii=False)
    accession = record["accession_number"]
    text = text.replace(accession, f"{accession}.{k}")
    varied = json.loads(text)
    varied.update(id=BASE + k, athena_id=BASE + k, title=f"{record['title']} [{k}]",
                  updated_at=f"2024-03-{1 + k // 10:02d} 10:{k % 60:02d}:00.{k:06d}")
    return varied


def build(n: int = 50) -> dict[int, Entry]:
    entries = {BASE + k: Entry(BASE + k, _vary(REAL[k % len(REAL)], k)) for k in range(n)}
    if n < 30:
        return entries
    copyrighted = entries[BASE + 4].record  # in copyright, no images: rights InC, no media
    copyrighted.update(share_license_status="Copyrighted", images=None, alternate_images=None,
                       copyright="© Artist's estate", creators=[])
    athena = entries[BASE + 7].record  # the current dumps' field name, a date alone
    del athena["updated_at"]
    athena["last_updated_in_athena"] = "2024-05-01"
    entries[BASE + 10].record.update(creation_date="early 19th century",
                                     creation_date_earliest=None, creation_date_latest=None)
    entries[BASE + 3].record["title"] = None
    entries[BASE + 15].record["images"]["print"]["url"] = "/1335.1917/1335.1917_print.jpg"
    entries[BASE + 29].record["updated_at"] = None
    entries[BASE + 22].raw = b'{"id": 200022, "title": "Broken", "images": {"web": }}'
    for k in (3, 15, 22, 29):
        entries[BASE + k].broken = True
    return entries


@dataclass
class Faults:
    shrink_after: int = -1  # after serving this skip, an artwork is withdrawn
    ignore_skip_from: int = -1  # from this skip on, the API serves skip=0 again
    empty_at: int = -1  # this skip answers an empty page although the list goes on


class ClevelandApi:
    def __init__(self, entries: dict[int, Entry], clock: FakeClock,
                 faults: Faults | None = None) -> None:
        self.entries = entries
        self.clock = clock
        self.faults = faults or Faults()
        self.times: list[float] = []

    @property
    def valid_keys(self) -> set[str]:
        return {str(e.id) for e in self.entries.values() if not e.broken}

    @property
    def broken(self) -> list[Entry]:
        return [e for e in self.entries.values() if e.broken]

    def answer(self, path: str, params: dict[str, str]) -> Reply:
        self.times.append(self.clock.monotonic())
        if path != "/api/artworks/":
            return Reply.json({"error": "not found"}, status=404)
        skip, limit = int(params.get("skip", 0)), int(params.get("limit", 1000))
        rows = sorted(self.entries.values(), key=lambda e: e.id)
        served = 0 if 0 <= self.faults.ignore_skip_from <= skip else skip
        chosen = [] if skip == self.faults.empty_at else rows[served:served + limit]
        if skip == self.faults.shrink_after:
            del self.entries[rows[skip + limit + 2].id]
        info = {"total": len(rows), "parameters": dict(params)}
        body = (b'{"info": ' + json.dumps(info).encode() + b', "data": ['
                + b",".join(e.body() for e in chosen) + b"]}")
        return Reply(200, body)


def cma_config(replay: ApiReplay, **extra: object) -> dict:
    return {"source": "cleveland", "api_url": replay.url + "/api", "page_size": 8,
            "max_retries": 8, **extra}


def assert_exact(result: SyncResult, api: ClevelandApi) -> None:
    # An unreadable record still shows its "id" as the quarantine key.
    assert_objects_exact(result, api.valid_keys, {str(e.id) for e in api.broken})
    lido = {r["object_id"]: r["lido_xml"] for r in result.records("lido_records")}
    assert set(lido) == api.valid_keys
    assert failures("cleveland LIDO", lido, lido_validator()) == {}
    # The API serves plain image files, no IIIF Image API service: no manifest can be built.
    assert result.records("iiif_manifests") == []


def test_a_full_harvest_is_exact_and_maps_the_real_records():
    clock = FakeClock()
    api = ClevelandApi(build(), clock)
    with ApiReplay(api.answer) as replay:
        result = run_tap(cma_config(replay), clock=clock)
        log, connections = replay.log, replay.connections
    assert result.error is None, result.error
    assert_exact(result, api)
    print_figures("cleveland full harvest", result)
    # Each item's cursor is the offset after it: the last page is asked for at skip=50.
    assert [r.params for r in log] == [{"skip": str(s), "limit": "8"}
                                       for s in (0, 8, 16, 24, 32, 40, 48, 50)]
    assert connections == 1
    objects = {o["object_id"]: o for o in result.records("objects")}
    cole = objects[str(BASE)]
    assert cole["title"] == "View of Schroon Mountain, Essex County, New York, After a Storm [0]"
    assert cole["creation_date_iso"] == "1838"
    assert cole["maker"] == "Thomas Cole (American, 1801-1848)"
    assert cole["modified"] == "2024-03-01T10:00:00Z" and cole["rights_uri"] == CC0
    assert cole["accession_number"] == "1335.1917.0" and cole["object_type"] == "Painting"
    image = cole["media"][0]
    assert image["image_url"].endswith("/1335.1917.0/1335.1917.0_print.jpg")
    assert (image["media_id"], image["width"], image["height"]) == ("1335.1917.0", 3400, 2086)
    assert image["rights_uri"] == CC0 and image["extra_fields"]["full_url"].endswith(".tif")
    copley = objects[str(BASE + 1)]
    assert copley["creation_date_iso"] is None and copley["creation_date_display"] == "c. 1765"
    head = objects[str(BASE + 2)]  # no creators; two alternate images
    assert head["maker"] is None and [m["media_id"] for m in head["media"]] == [
        "1953.424.2", "1953.424.2_alt0", "1953.424.2_alt1"]
    closed = objects[str(BASE + 4)]
    assert closed["rights_uri"] == IN_COPYRIGHT and closed["media"] is None
    assert objects[str(BASE + 7)]["modified"] == "2024-05-01T00:00:00Z"
    assert objects[str(BASE + 10)]["creation_date_display"] == "early 19th century"
    assert {r["object_id"] for r in result.records("media")} <= set(objects)
    state = result.final_state["bookmarks"]["objects"]
    assert "harvest" not in state and state["replication_key_value"] == "2024-05-01T00:00:00Z"


STORM = ReplayFaults(status_429_every=4, status_503_every=7, cut_every=5, retry_after="2")


def test_every_fault_together_loses_nothing_and_sends_nothing_twice():
    clock = FakeClock()
    api = ClevelandApi(build(), clock)
    result, log = harvest_under_faults(api.answer, cma_config, STORM, clock=clock,
                                       chunk_bytes=900)
    assert_faults_weathered(result, log, clock, retry_after=2.0)
    assert_exact(result, api)
    print_figures("cleveland under 429/503/cut bodies", result)


def _assert_cursor_is_an_offset(n: int, state: dict) -> None:
    """The saved cursor, if any, is the offset after the last item handled."""
    cursor = state.get("bookmarks", {}).get("objects", {}).get("harvest", {}).get("cursor")
    assert cursor is None or cursor.isdigit()


@pytest.mark.parametrize("kills", [[30, 31, 120], [2, 77, 60]])
def test_killed_harvests_resume_exactly_at_the_item_offset(kills):
    clock = FakeClock()
    api = ClevelandApi(build(), clock)
    with ApiReplay(api.answer, faults=ReplayFaults(status_429_every=5)) as replay:
        # Each killed run's cursor is checked before the next run starts from it; the last
        # run's state has no cursor (asserted below).
        committed, state = resume_until_done(cma_config(replay), clock, kills,
                                             between=_assert_cursor_is_an_offset)
    assert {k for s, k in committed if s == "objects"} == api.valid_keys
    assert len({k for s, k in committed if s == "quarantine"}) == len(api.broken)
    assert "harvest" not in state["bookmarks"]["objects"]


def test_every_run_is_a_full_harvest_and_a_full_version_retires_the_vanished(caplog):
    caplog.set_level(logging.INFO)
    clock = FakeClock()
    api = ClevelandApi(build(), clock)
    with ApiReplay(api.answer) as replay:
        first = run_tap(cma_config(replay, start_date="2024-01-01T00:00:00Z"), clock=clock)
        api.entries[BASE + 5].record.update(title="Retitled",
                                            updated_at="2024-06-01 08:00:00.000000")
        second = run_tap(cma_config(replay), state=first.final_state, clock=clock)
        valid = api.valid_keys
        del api.entries[BASE + 6]  # withdrawn: the API says nothing about it
        third = run_tap(cma_config(replay), state=second.final_state, clock=clock)
        requests = [r.params for r in replay.log]
    assert first.error is None and second.error is None and third.error is None
    # No modification filter exists: every run reads the whole list from skip=0 ...
    assert requests.count({"skip": "0", "limit": "8"}) == 3
    assert all(set(p) == {"skip", "limit"} for p in requests)
    # ... as a full harvest with a version of its own (start_date cannot filter anything),
    assert caplog.text.count("objects: starting full harvest (modified_since=None)") == 3
    for run in (first, second, third):
        activations = {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}
        assert {"objects", "rights", "media", "lido_records"} <= activations
    # ... which sends every listed artwork again, changed or not, and retires the vanished.
    assert set(second.keys("objects", "object_id")) == valid
    assert {o["title"] for o in second.records("objects") if o["object_id"] == str(BASE + 5)} == {
        "Retitled"}
    assert set(third.keys("objects", "object_id")) == valid - {str(BASE + 6)}


@pytest.mark.parametrize(
    ("faults", "message", "cursor"),
    [
        (Faults(shrink_after=16), "the list shrank from 50 to 49 artworks", "32"),
        # Caught on the page's first record, before any of it is handled: nothing passed over.
        (Faults(ignore_skip_from=24), "skip=24 begins with the same artwork (200000) as skip=0",
         "24"),
        (Faults(empty_at=32), "an empty page at skip=32 although info.total is 50", "32"),
    ],
)
def test_stop_conditions_end_the_stream_with_one_clear_line_and_keep_state(
        faults, message, cursor):
    clock = FakeClock()
    api = ClevelandApi(build(), clock, faults=faults)
    with ApiReplay(api.answer) as replay:
        result = run_tap(cma_config(replay, max_retries=3), clock=clock)
        requests = len(replay.log)
    assert result.error is not None and message in str(result.error)
    harvest = result.final_state["bookmarks"]["objects"]["harvest"]
    assert harvest["cursor"] == cursor  # resumable at the offset reached
    keys = result.keys("objects", "object_id")
    assert len(keys) == len(set(keys)) and requests < 12  # stopped, did not loop


def test_the_key_never_leaks_and_the_polite_ceiling_holds(caplog, capsys):
    clock = FakeClock()
    api = ClevelandApi(build(20), clock)
    secret = "cma-secret-77a1"
    with caplog.at_level(logging.DEBUG), ApiReplay(api.answer) as replay:
        result = run_tap(cma_config(replay, api_key=secret), clock=clock)
    assert result.error is None
    out = json.dumps(result.messages) + capsys.readouterr().out + caplog.text
    assert secret not in out
    gaps = [b - a for a, b in zip(api.times, api.times[1:], strict=False)]
    assert gaps and min(gaps) >= 0.5 - 1e-9  # two requests a second when no limit is set
    assert ClevelandMuseum.default_requests_per_second == 2.0


def test_a_copy_of_a_record_is_unchanged_by_the_mapping():
    record = copy.deepcopy(REAL[2])
    from tap_museumcms.dialects.cleveland import map_artwork
    map_artwork(record)
    assert record == REAL[2]
