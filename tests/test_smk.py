"""The SMK art search API through the tap, against a local replay of its shape: exactly the source.

The replay (:class:`SmkReplay`) serves pages built from a real SMK artwork and the image fields
of two others (``fixtures/smk``, CC0, recorded by the Openverse catalog): each synthetic
record is a copy with its own ``id``, ``object_number``, title and ``modified``, and one of
three kinds of image (IIIF, IIIF with alternative images, legacy without IIIF). It pages like
the API (``offset``/``rows``, ``found``, an empty ``items`` past the end), sorts on
``object_number``, filters on ``range=[modified:{X;*}]``, and breaks some records on purpose:

* quarantined: no title, a malformed JSON element, a relative ``image_native``, no
  ``modified``;
* emitted as they are: a period that is no ISO date (``c. 1850``), an impossible date
  (``1889-02-30``), a rights text the rights table does not know, spaces inside the image
  URLs (sent on as ``%20``), an ``object_number`` shared by two artworks.

Every test compares what the tap emitted with the replay's own ground truth.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import typing as t
from datetime import UTC, datetime
from functools import partial
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
    request_gaps,
    resume_until_done,
    run_tap,
)
from iiif_rules import iiif_validator
from validity import failures, lido_validator

from tap_museumcms.dialects.smk import StatensMuseum, map_item

FIXTURES = Path(__file__).parent / "fixtures" / "smk"
ITEM = json.loads((FIXTURES / "item.json").read_text(encoding="utf-8"))
HQ = json.loads((FIXTURES / "image_data_hq.json").read_text(encoding="utf-8"))
LEGACY = json.loads((FIXTURES / "image_data_legacy.json").read_text(encoding="utf-8"))
PATH = "/api/v1/art/search/"
T0 = datetime(2020, 3, 22, 0, 0, 0, tzinfo=UTC).timestamp()
IMAGE_FIELDS = ("image_iiif_id", "image_iiif_info", "image_native", "image_thumbnail",
                "image_width", "image_height", "image_size", "image_mime_type", "iiif_manifest",
                "alternative_images")

QUARANTINED = {"no_title": 7, "malformed": 13, "relative_image": 20, "no_modified": 31}
MESSY = {"period_text": 5, "impossible_date": 9, "unknown_rights": 11, "spaces": 16,
         "same_number": 17, "year": 22}


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_id(i: int) -> str:
    return f"11700{i:05d}_object"


class SmkReplay:
    """The artworks of a search and the API's answers about them.

    Attributes:
        records: ``id`` -> ``(object_number, modified, raw element bytes)``.
        valid, broken: the ground truth: ids the tap must emit, ids it must quarantine.
    """

    def __init__(self, n: int) -> None:
        self.records: dict[str, tuple[str, str, bytes]] = {}
        self.valid: set[str] = set()
        self.broken: set[str] = set()
        self.times: list[float] = []
        self.clock: FakeClock | None = None
        self.override: t.Any = None
        for i in range(n):
            self.put(i, self.make(i))

    def make(self, i: int) -> dict:
        """The real artwork, given the identity and image of record ``i`` (and its fault)."""
        item = {k: v for k, v in copy.deepcopy(ITEM).items() if k not in IMAGE_FIELDS}
        number = f"KKS{i:05d}"
        item.update(id=object_id(i), object_number=number, modified=stamp(T0 + 60 * i),
                    titles=[{"title": f"{ITEM['titles'][0]['title']} ({i})", "type": "DESCRIPT"}],
                    object_url=f"https://api.smk.dk/api/v1/art/?object_number={number.lower()}")
        image = (ITEM, HQ, LEGACY)[i % 3]
        item.update({k: copy.deepcopy(v) for k, v in image.items() if k in IMAGE_FIELDS})
        if image is not LEGACY:
            item["iiif_manifest"] = f"https://api.smk.dk/api/v1/iiif/manifest/?id={number.lower()}"
        return self.fault(i, item)

    def fault(self, i: int, item: dict) -> dict:
        if i == QUARANTINED["no_title"]:
            item["titles"] = []
        elif i == QUARANTINED["relative_image"]:
            item["image_native"] = f"/api/v1/thumbnail/{i}.jpg"
        elif i == QUARANTINED["no_modified"]:
            del item["modified"]
        elif i == MESSY["period_text"]:
            item["production_date"] = [{"period": "c. 1850"}]
        elif i == MESSY["impossible_date"]:
            item["production_date"] = [{"period": "1889-02-30"}]
        elif i == MESSY["unknown_rights"]:
            item["rights"] = "Ophavsret: SMK"
        elif i == MESSY["spaces"]:
            item["image_native"] = "https://api.smk.dk/api/v1/download/KKS 16.jpg"
            item["image_thumbnail"] = ("https://iip-thumb.smk.dk/iiif/jp2/KKS 16.tif.jp2/full/"
                                       "!1024,/0/default.jpg")
        elif i == MESSY["same_number"]:
            item["object_number"] = f"KKS{i - 1:05d}"
        elif i == MESSY["year"]:
            item["production_date"] = [{"period": "1850", "start": "1850-01-01T00:00:00.000Z"}]
        return item

    def put(self, i: int, item: dict) -> None:
        oid = item["id"]
        raw = json.dumps(item, ensure_ascii=False).encode()
        if i == QUARANTINED["malformed"]:
            # Balanced brackets and quotes (the page can be split) but not JSON: a bare date.
            raw = re.sub(rb'"modified": "([^"]+)"', rb'"modified": \1', raw, count=1)
        self.records[oid] = (item["object_number"], item.get("modified") or "", raw)
        bad = i in QUARANTINED.values()
        (self.broken if bad else self.valid).add(oid)
        (self.valid if bad else self.broken).discard(oid)

    def remove(self, oid: str) -> None:
        self.records.pop(oid, None)
        self.valid.discard(oid)

    # -- the API ------------------------------------------------------------------------

    def answer(self, path: str, params: dict[str, str]) -> Reply:
        if self.clock is not None:
            self.times.append(self.clock.monotonic())
        if path != PATH:
            return Reply.json({"error": "Not found"}, status=404)
        if self.override is not None and (reply := self.override(params)) is not None:
            return reply
        since = re.fullmatch(r"\[modified:\{([^;]+);\*\}\]", params.get("range", ""))
        matching = sorted(
            (number, oid) for oid, (number, modified, _) in self.records.items()
            if since is None or (modified and modified >= since.group(1)))
        offset, rows = int(params.get("offset", "0")), int(params.get("rows", "10"))
        ids = [oid for _, oid in matching[offset: offset + rows]]
        return Reply(200, self.body(ids, offset, rows, len(matching)))

    def body(self, ids: list[str], offset: int, rows: int, found: int) -> bytes:
        head = json.dumps({"offset": offset, "rows": rows, "found": found}).encode()[:-1]
        items = b",\n".join(self.records[oid][2] for oid in ids)
        return head + b', "items": [\n' + items + b"\n]}"


def config(api: ApiReplay, **extra: object) -> dict:
    return {"source": "smk", "api_url": api.url + PATH, "page_size": 25, **extra}


def assert_exact(result: SyncResult, replay: SmkReplay) -> None:
    """Objects == the valid records, quarantine == the broken ones, nothing twice."""
    assert_objects_exact(result, replay.valid, replay.broken)


# -- the mapping of the real artwork ---------------------------------------------------------


def test_the_real_artwork_maps_to_the_contract():
    mapped = map_item(ITEM)
    assert mapped["ObjectID"] == "1170000264_object"
    assert mapped["accession_number"] == "KKS1615"
    assert mapped["title"] == "Jomfru Maria med barnet og Sankt Anne ved vuggen"
    assert mapped["maker"] == "Altdorfer, Albrecht"
    assert mapped["creation_date_display"] == "1479-1537" and "creation_date_iso" not in mapped
    assert mapped["object_type"] == "kobberstik" and mapped["medium"] == "Kobberstik"
    assert mapped["dimensions"] == "hojde 64 mm (bladmaal); bredde 55 mm (bladmaal)"
    assert mapped["department"] == "Samling og Forskning (KKS)"
    assert mapped["rights_uri"] == "https://creativecommons.org/share-your-work/public-domain/cc0/"
    assert mapped["iiif_manifest_url"] == "https://api.smk.dk/api/v1/iiif/manifest/?id=kks1615"
    assert mapped["modified"] == "2020-03-22T23:31:17Z"
    assert mapped["inscriptions"] == ["Grafikers navn anført i trykpladen"]
    (image,) = mapped["media"]
    assert image == {
        "MediaID": "1170000264_object#image", "is_primary": True,
        "iiif_image_service": "https://iip.smk.dk/iiif/jp2/kks1615.tif.jp2",
        "image_url": ITEM["image_native"], "width": 3076, "height": 5141,
        "thumbnail_url": ITEM["image_thumbnail"], "master_mime_type": "image/tiff",
        "rights_uri": mapped["rights_uri"]}
    legacy = map_item({**LEGACY, "titles": [{"title": "x"}]})["media"]
    assert [m.get("iiif_image_service") for m in legacy] == [None, HQ["alternative_images"][0][
        "iiif_id"]]


# -- whole harvests --------------------------------------------------------------------------


def test_a_full_harvest_is_exact_with_valid_lido_and_iiif():
    clock = FakeClock()
    replay = SmkReplay(230)
    with ApiReplay(replay.answer) as api:
        result = run_tap(config(api), clock=clock)
        log = [entry.params for entry in api.log]
        connections = api.connections
    assert result.error is None, result.error
    assert_exact(result, replay)
    print_figures("smk full harvest", result)
    assert log[0] == {"keys": "*", "sort": "object_number", "sort_type": "asc", "offset": "0",
                      "rows": "25"}
    # Each page from the offset after the last item; the last one (offset 230) is empty.
    assert [p["offset"] for p in log] == [str(25 * n) for n in range(10)] + ["230"]
    assert connections == 1
    objects = {o["object_id"]: o for o in result.records("objects")}
    assert objects[object_id(0)]["_source_cursor"] is None
    assert objects[object_id(30)]["_source_cursor"] == "25"
    assert objects[object_id(MESSY["period_text"])]["creation_date_display"] == "c. 1850"
    assert objects[object_id(MESSY["period_text"])]["creation_date_iso"] is None
    assert objects[object_id(MESSY["impossible_date"])]["creation_date_iso"] is None
    assert objects[object_id(MESSY["year"])]["creation_date_iso"] == "1850"
    unknown = objects[object_id(MESSY["unknown_rights"])]
    assert unknown["rights_uri"] is None
    assert unknown["extra_fields"]["smk_rights"] == "Ophavsret: SMK"
    spaced = objects[object_id(MESSY["spaces"])]["media"][0]
    assert spaced["image_url"] == "https://api.smk.dk/api/v1/download/KKS%2016.jpg"
    same = {objects[object_id(i)]["accession_number"] for i in (16, 17)}
    assert same == {"KKS00016"}
    reasons = {q["key"]: q["reason"] for q in result.records("quarantine")}
    assert reasons[object_id(QUARANTINED["no_title"])] == "title: field required"
    assert reasons[object_id(QUARANTINED["malformed"])].startswith("invalid JSON")
    assert "media[0].image_url" in reasons[object_id(QUARANTINED["relative_image"])]
    assert reasons[object_id(QUARANTINED["no_modified"])] == "modified: field required"
    assert_documents(result, replay)
    state = result.final_state["bookmarks"]["objects"]
    assert "harvest" not in state and state["replication_key_value"] == stamp(T0 + 60 * 229)


def assert_documents(result: SyncResult, replay: SmkReplay) -> None:
    """Every valid object: a LIDO record valid against the XSD; a valid IIIF manifest for each
    one that has SMK's ``iiif_manifest`` link (the legacy records have none)."""
    lido = {r["object_id"]: r["lido_xml"] for r in result.records("lido_records")}
    assert set(lido) == replay.valid
    assert failures("smk LIDO", lido, lido_validator()) == {}
    manifests = {r["object_id"]: r["manifest"] for r in result.records("iiif_manifests")}
    assert failures("smk IIIF", manifests, iiif_validator()) == {}
    assert set(manifests) == {oid for oid in replay.valid if int(oid[5:10]) % 3 != 2}
    two = manifests[object_id(1)]
    assert len(two["items"]) == 2  # the image and its alternative
    assert two["id"] == "https://api.smk.dk/api/v1/iiif/manifest/?id=kks00001"
    media = result.records("media")
    assert {m["media_id"] for m in media} >= {f"{object_id(1)}#image", f"{object_id(1)}#image-1"}


def test_429_503_and_cut_bodies_lose_nothing_and_send_nothing_twice():
    clock = FakeClock()
    replay = SmkReplay(180)
    faults = ReplayFaults(status_429_every=4, status_503_every=7, cut_every=5, retry_after="3")
    result, log = harvest_under_faults(replay.answer, partial(config, max_retries=8), faults,
                                       clock=clock, chunk_bytes=2048)
    assert_faults_weathered(result, log, clock, retry_after=3.0)
    assert_exact(result, replay)


@pytest.mark.parametrize("kills", [[9, 80, 81], [1, 170, 400]])
def test_killed_runs_resume_at_the_saved_offset_without_loss_or_resending(kills):
    clock = FakeClock()
    replay = SmkReplay(150)
    marks: list[tuple[str, int]] = []  # per resumed run: (saved cursor, its first request)

    def note_saved_cursor(n: int, state: dict | None) -> None:
        if state is not None:
            saved = state.get("bookmarks", {}).get("objects", {}).get("harvest", {})
            marks.append((saved.get("cursor") or "0", len(api.log)))

    with ApiReplay(replay.answer, faults=ReplayFaults(cut_every=6)) as api:
        committed, state = resume_until_done(config(api, page_size=20), clock, kills,
                                             between=note_saved_cursor)
        resumed = [(cursor, api.log[first].params["offset"]) for cursor, first in marks]
    assert "harvest" not in state["bookmarks"]["objects"]
    assert {k for s, k in committed if s == "objects"} == replay.valid
    assert {k for s, k in committed if s == "lido_records"} == replay.valid
    assert len({k for s, k in committed if s == "quarantine"}) == len(replay.broken)
    # Each resumed run asks for the offset saved in the state: the one after the last item
    # handled before that STATE.
    assert resumed and all(saved == asked for saved, asked in resumed)


def test_incremental_runs_ask_for_a_modified_range_from_the_bookmark():
    clock = FakeClock()
    replay = SmkReplay(60)
    with ApiReplay(replay.answer) as api:
        first = run_tap(config(api), clock=clock)
        bookmark = first.final_state["bookmarks"]["objects"]["replication_key_value"]
        changed = replay.make(3)
        changed.update(titles=[{"title": "Retitled"}], modified=stamp(T0 + 86400))
        replay.put(3, changed)
        before = len(api.log)
        second = run_tap(config(api), state=first.final_state, clock=clock)
        third = run_tap(config(api), state=second.final_state, clock=clock)
        ranges = [entry.params.get("range") for entry in api.log[before:]]
    assert len(first.records("objects")) == len(replay.valid)
    assert [(o["object_id"], o["title"]) for o in second.records("objects")] == [
        (object_id(3), "Retitled")]
    assert third.records("objects") == []
    assert bookmark == stamp(T0 + 60 * 59)
    # Each run: one page with records, then the empty page that ends it.
    assert ranges == [f"[modified:{{{bookmark};*}}]"] * 2 + [
        f"[modified:{{{stamp(T0 + 86400)};*}}]"] * 2


# -- the query, politeness, keys ---------------------------------------------------------------


def test_the_query_in_api_url_is_kept_and_the_dialect_adds_its_own():
    replay = SmkReplay(12)
    with ApiReplay(replay.answer) as api:
        url = (api.url + PATH + "?keys=kobberstik&filters=%5Bhas_image%3Atrue%5D&lang=en"
               "&sort=modified&offset=999")
        result = run_tap({**config(api), "api_url": url}, clock=FakeClock())
        first = api.log[0].params
    assert result.error is None
    assert first == {"keys": "kobberstik", "filters": "[has_image:true]", "lang": "en",
                     "sort": "modified", "offset": "0", "rows": "25"}
    assert StatensMuseum({"api_url": url, "page_size": 5000}).rows == 2000


def test_requests_are_paced_at_one_a_second_unless_told_otherwise():
    replay = SmkReplay(100)
    gaps = {ceiling: request_gaps(replay, partial(config, page_size=10), ceiling)
            for ceiling in (None, 4)}
    assert len(gaps[None]) == 10 and min(gaps[None]) >= 1.0
    assert min(gaps[4]) >= 0.25 and max(gaps[4]) < 1.0


def test_a_configured_key_is_never_logged_nor_written(caplog):
    caplog.set_level(logging.DEBUG)
    secret = "smk-key-never-shown-9f2"
    replay = SmkReplay(30)
    with ApiReplay(replay.answer) as api:
        result = run_tap(config(api, api_key=secret), clock=FakeClock())
        headers = api.log[0].headers
    assert result.error is None
    assert headers.get("Authorization") == f"Bearer {secret}"  # SMK needs none; sent as told
    assert secret not in caplog.text + json.dumps(result.messages)


# -- how a harvest ends ----------------------------------------------------------------------


def test_a_shrinking_found_stops_the_stream_with_its_state():
    replay = SmkReplay(100)

    def remove_after_first_page(params):
        if params.get("offset") != "0":
            replay.remove(object_id(2))
        return None

    replay.override = remove_after_first_page
    with ApiReplay(replay.answer) as api:
        result = run_tap(config(api), clock=FakeClock())
    assert "the number of records found shrank from 100 to 99" in str(result.error)
    assert result.final_state["bookmarks"]["objects"]["harvest"]["cursor"] == "50"


def test_an_offset_the_api_does_not_honour_stops_the_stream():
    replay = SmkReplay(100)
    replay.override = lambda params: Reply(200, replay.body(
        sorted(replay.records)[:25], 0, 25, 100)) if params.get("offset") != "0" else None
    with ApiReplay(replay.answer) as api:
        result = run_tap(config(api), clock=FakeClock())
    assert "asked for offset 25, the API answered offset 0" in str(result.error)


def test_an_empty_page_before_the_end_is_a_stop_not_the_end():
    replay = SmkReplay(100)
    replay.override = lambda params: Reply(200, replay.body([], int(params["offset"]), 25, 100)
                                           ) if params.get("offset") == "50" else None
    with ApiReplay(replay.answer) as api:
        result = run_tap(config(api), clock=FakeClock())
    assert "answered no records at offset 50 although it reports 100" in str(result.error)
    assert "harvest" in result.final_state["bookmarks"]["objects"]


def test_a_page_that_is_not_an_smk_answer_stops_the_stream():
    replay = SmkReplay(10)
    replay.override = lambda params: Reply.json({"message": "Service moved"})
    with ApiReplay(replay.answer) as api:
        result = run_tap(config(api), clock=FakeClock())
    assert "not an SMK search page" in str(result.error)
