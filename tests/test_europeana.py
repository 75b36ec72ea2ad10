"""The Europeana Search API through the tap, against a local replay of its shape: exactly.

The replay (:class:`EuropeanaReplay`) serves pages built from real search items
(``fixtures/europeana``, CC0 metadata recorded by the Openverse catalog): each synthetic record
is a copy of a real one with its own ``id``, title and ``timestamp_update``. It pages like the
API (``cursor=*``, then the ``nextCursor`` of each answer, none on the last page, cursors that
hold the sort value of the page's last record), filters on
``qf=timestamp_update:[X TO *]``, echoes the ``wskey`` back in ``apikey``, ``guid`` and
``link`` as the real API does, and breaks some records on purpose:

* quarantined: no title at all, a malformed JSON element, a relative ``edmIsShownBy``, no
  ``timestamp_update``;
* emitted as they are: an unknown date text in ``year`` (``ca. 1850``), an impossible date
  (``1889-02-30``), a rights URI the rights table does not know (the old Europeana
  ``rr-f``), several years.

Every test compares what the tap emitted with the replay's own ground truth.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import re
import typing as t
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

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

from tap_museumcms.auth import config_secrets
from tap_museumcms.dialects.base import PageEnd
from tap_museumcms.dialects.europeana import Europeana, map_item
from tap_museumcms.redact import EchoMask

PAGE = json.loads((Path(__file__).parent / "fixtures" / "europeana" / "search_page.json")
                  .read_text(encoding="utf-8"))
PATH = "/record/v2/search.json"
KEY = "wsk-Europeana-7d1f"
ECHO = "__WSKEY__"
T0 = datetime(2018, 1, 16, 10, 0, 0, tzinfo=UTC).timestamp()

QUARANTINED = {"no_title": 7, "malformed": 13, "relative_image": 20, "no_modified": 31}
MESSY = {"date_text": 5, "impossible_date": 9, "unknown_rights": 11, "several_years": 17}


def stamp(seconds: float, millis: int = 548) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis}Z"


def object_id(i: int) -> str:
    return f"/9200001/tap_{i:04d}"


class EuropeanaReplay:
    """The records of a search and the Search API's answers about them.

    Attributes:
        records: ``id`` -> ``(timestamp_update, raw element bytes)``; ``ECHO`` in the bytes
            stands for the key the request carried.
        valid, broken: the ground truth: ids of records the tap must emit, ids it must
            quarantine.
    """

    def __init__(self, n: int) -> None:
        self.records: dict[str, tuple[str, bytes]] = {}
        self.valid: set[str] = set()
        self.broken: set[str] = set()
        self.times: list[float] = []
        self.clock: FakeClock | None = None
        self.override: t.Any = None
        for i in range(n):
            self.put(i, self.make(i))

    def make(self, i: int) -> dict:
        """A real item, given the identity of record ``i`` (and its fault, if it has one)."""
        item = copy.deepcopy(PAGE["items"][i % len(PAGE["items"])])
        oid = object_id(i)
        title = (item.get("title") or ["Untitled"])[0]
        item.update(id=oid, title=[f"{title} ({i})"], timestamp_update=stamp(T0 + 60 * i),
                    guid=f"https://www.europeana.eu/item{oid}?utm_source=api&utm_medium=api"
                         f"&utm_campaign={ECHO}",
                    link=f"https://api.europeana.eu/api/v2/record{oid}.json?wskey={ECHO}")
        if i == QUARANTINED["no_title"]:
            del item["title"]
            item.pop("dcTitleLangAware", None)
        elif i == QUARANTINED["relative_image"]:
            item["edmIsShownBy"] = [f"/images/tap_{i}.jpg"]
        elif i == QUARANTINED["no_modified"]:
            del item["timestamp_update"]
        elif i == MESSY["date_text"]:
            item["year"] = ["ca. 1850"]
        elif i == MESSY["impossible_date"]:
            item["year"] = ["1889-02-30"]
        elif i == MESSY["unknown_rights"]:
            item["rights"] = ["http://www.europeana.eu/rights/rr-f/"]
        elif i == MESSY["several_years"]:
            item["year"] = ["1823", "1824"]
        return item

    def put(self, i: int, item: dict) -> None:
        oid = item["id"]
        raw = json.dumps(item, ensure_ascii=False).encode()
        if i == QUARANTINED["malformed"]:
            # Balanced brackets and quotes (the page can be split) but not JSON: a bare date.
            raw = re.sub(rb'"timestamp_update": "([^"]+)"', rb'"timestamp_update": \1', raw,
                         count=1)
        self.records[oid] = (item.get("timestamp_update") or "", raw)
        bad = i in QUARANTINED.values()
        (self.broken if bad else self.valid).add(oid)
        (self.valid if bad else self.broken).discard(oid)

    # -- the API ------------------------------------------------------------------------

    def answer(self, path: str, params: dict[str, str]) -> Reply:
        if self.clock is not None:
            self.times.append(self.clock.monotonic())
        if path != PATH:
            return Reply.json({"success": False, "error": "Not found"}, status=404)
        key = params.get("wskey")
        if key != KEY:
            return Reply.json({"success": False, "error": "Invalid API key"}, status=401)
        if self.override is not None and (reply := self.override(params)) is not None:
            return reply
        since = params.get("qf", "")
        matching = sorted(
            oid for oid, (updated, _) in self.records.items()
            if not since.startswith("timestamp_update:[") or _after(updated, since))
        cursor = params.get("cursor", "*")
        after = "" if cursor == "*" else base64.b64decode(cursor).decode()
        rest = [oid for oid in matching if oid > after]
        page = rest[: int(params.get("rows", "12"))]
        following = None
        if len(page) == int(params.get("rows", "12")) and len(rest) > len(page):
            following = base64.b64encode(page[-1].encode()).decode()
        return Reply(200, self.body(page, len(matching), following, key))

    def body(self, ids: list[str], total: int, following: str | None, key: str) -> bytes:
        head = {"apikey": key, "success": True, "requestNumber": 999, "itemsCount": len(ids),
                "totalResults": total}
        if following:
            head["nextCursor"] = following
        items = b",\n".join(self.records[oid][1] for oid in ids).replace(ECHO.encode(),
                                                                          key.encode())
        return json.dumps(head).encode()[:-1] + b', "items": [\n' + items + b"\n]}"


def _after(updated: str, qf: str) -> bool:
    since = qf.removeprefix("timestamp_update:[").split(" TO ")[0]
    moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
    return bool(updated) and datetime.fromisoformat(updated.replace("Z", "+00:00")) >= moment


def config(api: ApiReplay, **extra: object) -> dict:
    return {"source": "europeana", "api_url": api.url + PATH, "api_key": KEY, "page_size": 25,
            **extra}


def assert_exact(result: SyncResult, replay: EuropeanaReplay) -> None:
    """Objects == the valid records, quarantine == the broken ones, nothing twice."""
    assert_objects_exact(result, replay.valid, replay.broken)


# -- the mapping of real items -----------------------------------------------------------


def test_real_items_map_to_the_contract():
    mapped = [map_item(item) for item in PAGE["items"]]
    first, wellcome = mapped[0], mapped[-1]
    assert first["ObjectID"] == "/2022704/lod_oai_bibliotecadigital_jcyl_es_26229_ent1"
    assert first["title"].startswith("Claustro del Monasterio de S. Salvador en Oña")
    # dcCreator holds URIs of contextual agents: resolved through edmAgent/edmAgentLabel.
    assert first["maker"] == ("Villemin, Charles, fl. 1835-1849; Pérez Villaamil, Genaro, "
                              "1807-1854; Carderera, Valentín, 1796-1880")
    assert first["object_type"] == "Ilustraciones y Fotos"
    assert first["description"].startswith("Sello en seco")
    assert first["rights_uri"] == "http://creativecommons.org/publicdomain/zero/1.0/"
    assert first["modified"] == "2018-01-16T10:52:45.548Z"
    assert first["iiif_manifest_url"] == ("https://iiif.europeana.eu/presentation/2022704/"
                                          "lod_oai_bibliotecadigital_jcyl_es_26229_ent1/manifest")
    assert first["data_provider"] == "Biblioteca Digital de Castilla y León"
    assert "utm_" not in first["europeana_url"] and "link" not in first
    assert mapped[1]["creation_date_iso"] == "1829" == mapped[1]["creation_date_display"]
    (asset,) = wellcome["media"]
    assert asset["iiif_image_service"] == "https://iiif.wellcomecollection.org/image/V0013398.jpg"
    assert asset["is_primary"] is True and asset["image_url"].endswith("/full/512,/0/default.jpg")
    assert wellcome["rights_uri"] == "http://creativecommons.org/licenses/by/4.0/"


# -- whole harvests ------------------------------------------------------------------------


def test_a_full_harvest_is_exact_with_valid_lido_and_iiif():
    clock = FakeClock()
    replay = EuropeanaReplay(230)
    with ApiReplay(replay.answer) as api:
        result = run_tap(config(api), clock=clock)
        log = list(api.log)
        connections = api.connections
    assert result.error is None, result.error
    assert_exact(result, replay)
    print_figures("europeana full harvest", result)
    # Requests: the defaults, then each page's nextCursor; one pooled connection.
    first, *others = [entry.params for entry in log]
    assert first == {"query": "*", "rows": "25", "profile": "rich", "sort": "europeana_id asc",
                     "cursor": "*", "wskey": KEY}
    assert [p["cursor"] for p in others] == [
        base64.b64encode(object_id(25 * n - 1).encode()).decode() for n in range(1, 10)]
    assert len(log) == 10 and connections == 1
    objects = {o["object_id"]: o for o in result.records("objects")}
    date_text = objects[object_id(MESSY["date_text"])]
    assert (date_text["creation_date_iso"], date_text["creation_date_display"]) == (
        None, "ca. 1850")
    assert objects[object_id(MESSY["impossible_date"])]["creation_date_iso"] is None
    unknown = objects[object_id(MESSY["unknown_rights"])]
    assert unknown["rights_uri"] is None
    assert unknown["extra_fields"]["rights"] == ["http://www.europeana.eu/rights/rr-f/"]
    assert objects[object_id(MESSY["several_years"])]["creation_date_display"] == "1823, 1824"
    reasons = {q["key"]: q["reason"] for q in result.records("quarantine")}
    assert reasons[object_id(QUARANTINED["no_title"])] == "title: field required"
    assert reasons[object_id(QUARANTINED["malformed"])].startswith("invalid JSON")
    assert "media[0].image_url" in reasons[object_id(QUARANTINED["relative_image"])]
    assert reasons[object_id(QUARANTINED["no_modified"])] == "modified: field required"
    # Derived rows and documents: every valid object has a LIDO record valid against the XSD.
    media = result.records("media")
    assert {m["object_id"] for m in media} == replay.valid
    lido = {r["object_id"]: r["lido_xml"] for r in result.records("lido_records")}
    assert set(lido) == replay.valid
    assert failures("europeana LIDO", lido, lido_validator()) == {}
    # The search API gives no pixel sizes, so no manifest is built (Europeana serves its own,
    # linked as iiif_manifest_url); whatever is built must be valid.
    manifests = {r["object_id"]: r["manifest"] for r in result.records("iiif_manifests")}
    assert failures("europeana IIIF", manifests, iiif_validator()) == {}
    assert manifests == {}
    state = result.final_state["bookmarks"]["objects"]
    assert "harvest" not in state
    assert state["replication_key_value"] == stamp(T0 + 60 * 229)[:19] + "Z"


def test_429_503_and_cut_bodies_lose_nothing_and_send_nothing_twice():
    clock = FakeClock()
    replay = EuropeanaReplay(180)
    faults = ReplayFaults(status_429_every=4, status_503_every=7, cut_every=5, retry_after="3")
    result, log = harvest_under_faults(replay.answer, partial(config, max_retries=8), faults,
                                       clock=clock, chunk_bytes=2048)
    assert_faults_weathered(result, log, clock, retry_after=3.0)
    assert_exact(result, replay)


@pytest.mark.parametrize("kills", [[7, 60, 61], [1, 140, 300]])
def test_killed_runs_resume_from_the_last_state_without_loss_or_resending(kills):
    clock = FakeClock()
    replay = EuropeanaReplay(150)
    with ApiReplay(replay.answer, faults=ReplayFaults(cut_every=6)) as api:
        committed, state = resume_until_done(config(api, page_size=20), clock, kills)
    assert "harvest" not in state["bookmarks"]["objects"]
    assert {k for s, k in committed if s == "objects"} == replay.valid
    assert {k for s, k in committed if s == "lido_records"} == replay.valid
    assert len({k for s, k in committed if s == "quarantine"}) == len(replay.broken)


def test_incremental_runs_filter_on_timestamp_update_from_the_bookmark():
    clock = FakeClock()
    replay = EuropeanaReplay(60)
    with ApiReplay(replay.answer) as api:
        first = run_tap(config(api), clock=clock)
        bookmark = first.final_state["bookmarks"]["objects"]["replication_key_value"]
        changed = replay.make(3)
        changed.update(title=["Retitled"], timestamp_update=stamp(T0 + 86400))
        replay.put(3, changed)
        before = len(api.log)
        second = run_tap(config(api), state=first.final_state, clock=clock)
        third = run_tap(config(api), state=second.final_state, clock=clock)
        filters = [entry.params.get("qf") for entry in api.log[before:]]
    assert len(first.records("objects")) == len(replay.valid)
    assert [(o["object_id"], o["title"]) for o in second.records("objects")] == [
        (object_id(3), "Retitled")]
    assert third.records("objects") == []
    assert bookmark == stamp(T0 + 60 * 59)[:19] + "Z"
    assert filters[0] == f"timestamp_update:[{bookmark} TO *]"
    assert filters[1] == f"timestamp_update:[{stamp(T0 + 86400)[:19]}Z TO *]"


# -- the key, the query, politeness --------------------------------------------------------


def test_the_key_is_sent_and_never_logged_nor_written(caplog):
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    replay = EuropeanaReplay(40)
    with ApiReplay(replay.answer) as api:
        result = run_tap(config(api), clock=clock)
        sent = [entry.params.get("wskey") for entry in api.log]
        wrong = run_tap(config(api, api_key="wsk-not-the-right-one"), clock=clock)
    assert result.error is None and set(sent) == {KEY}
    assert "HTTP 401" in str(wrong.error)
    everything = caplog.text + json.dumps(result.messages) + json.dumps(wrong.messages)
    everything += str(wrong.error)
    assert KEY not in everything and "wsk-not-the-right-one" not in everything
    # The API echoes the key in guid and link: the quarantine keeps the raw record masked.
    raws = [q["raw"] for q in result.records("quarantine")]
    assert raws and all("utm_campaign=***" in raw for raw in raws if "guid" in raw)
    urls = {o["_source_url"] for o in result.records("objects")}
    assert all("wskey=***" in url for url in urls)


def test_every_configured_key_is_masked_in_raw_records_and_fields():
    base = "https://api.europeana.eu/record/v2/search.json"
    cases = [({"api_key": '["wsk-first-1111", "wsk-second-2222"]'}, "wsk-second-2222"),
             ({"api_key": ["wsk-list-4444"]}, "wsk-list-4444"),
             ({"api_url": base + "?wskey=wsk-url-33"}, "wsk-url-33")]
    for extra, echoed in cases:
        cfg = {"api_url": base, **extra}
        item = {"id": "/1/a", "title": ["A"], "timestamp_update": "2019-06-09T11:48:32Z",
                "guid": f"https://www.europeana.eu/item/1/a?utm_campaign={echoed}",
                "edmIsShownBy": [f"https://example.org/a.jpg?wskey={echoed}"]}
        body = json.dumps({"success": True, "items": [item]}).encode()
        [raw_item] = Europeana(cfg).read("objects", [body], PageEnd())
        masked = EchoMask(config_secrets(cfg)).item(raw_item)
        assert echoed in json.dumps(raw_item.fields)  # the API did echo it
        assert echoed not in masked.raw.decode() and echoed not in json.dumps(masked.fields)
        assert masked.fields["media"][0]["image_url"].endswith("wskey=***")


def test_without_a_key_the_run_stops_before_any_request():
    replay = EuropeanaReplay(5)
    with ApiReplay(replay.answer) as api:
        cfg = config(api)
        del cfg["api_key"]
        result = run_tap(cfg, clock=FakeClock())
        requests = len(api.log)
    assert "Europeana needs an API key" in str(result.error)
    assert requests == 0


def test_the_query_in_api_url_is_kept_and_the_dialect_adds_its_own():
    replay = EuropeanaReplay(30)
    with ApiReplay(replay.answer) as api:
        url = api.url + PATH + "?query=DATA_PROVIDER%3A%22Rijksmuseum%22&qf=TYPE:IMAGE&rows=7"
        result = run_tap({**config(api), "api_url": url,
                          "start_date": "2018-01-16T10:10:00Z"}, clock=FakeClock())
        first = api.log[0].params
    assert result.error is None
    sent = parse_qs(urlsplit(result.records("objects")[0]["_source_url"]).query)
    assert sent["query"] == ['DATA_PROVIDER:"Rijksmuseum"']
    assert sent["qf"] == ["TYPE:IMAGE", "timestamp_update:[2018-01-16T10:10:00Z TO *]"]
    assert sent["rows"] == ["25"]  # rows is the dialect's (page_size, at most 100)
    assert sent["wskey"] == ["***"]
    assert first["profile"] == "rich" and first["cursor"] == "*"
    assert Europeana({"api_url": url, "page_size": 500}).rows == 100


def test_requests_are_paced_at_one_a_second_unless_told_otherwise():
    replay = EuropeanaReplay(100)
    gaps = {ceiling: request_gaps(replay, partial(config, page_size=10), ceiling)
            for ceiling in (None, 4)}
    assert len(gaps[None]) == 9 and min(gaps[None]) >= 1.0
    assert min(gaps[4]) >= 0.25 and max(gaps[4]) < 1.0


# -- how a harvest ends ------------------------------------------------------------------


def test_the_same_cursor_again_with_records_stops_the_stream_with_its_state():
    replay = EuropeanaReplay(80)

    def stuck(params):
        if params.get("cursor", "*") == "*":
            return None
        ids = sorted(replay.valid)[20:45]
        return Reply(200, replay.body(ids, 80, params["cursor"], KEY))

    replay.override = stuck
    with ApiReplay(replay.answer) as api:
        result = run_tap(config(api), clock=FakeClock())
    assert "cursor stuck" in str(result.error)
    harvest = result.final_state["bookmarks"]["objects"]["harvest"]
    assert harvest["cursor"]  # kept: the next run resumes there


def test_a_cursor_that_comes_back_stops_the_stream():
    replay = EuropeanaReplay(100)
    first_cursor = base64.b64encode(object_id(24).encode()).decode()

    def loop(params):
        cursor = params.get("cursor", "*")
        if cursor == base64.b64encode(object_id(49).encode()).decode():
            ids = sorted(replay.records)[50:75]
            return Reply(200, replay.body(ids, 100, first_cursor, KEY))
        return None

    replay.override = loop
    with ApiReplay(replay.answer) as api:
        result = run_tap(config(api), clock=FakeClock())
    assert "cursor loop" in str(result.error)


def test_solr_end_signal_an_empty_page_with_the_same_cursor_completes():
    replay = EuropeanaReplay(50)
    last = base64.b64encode(object_id(49).encode()).decode()

    def solr(params):
        cursor = params.get("cursor", "*")
        if cursor == base64.b64encode(object_id(24).encode()).decode():
            ids = sorted(replay.records)[25:50]
            return Reply(200, replay.body(ids, 50, last, KEY))
        if cursor == last:
            return Reply(200, replay.body([], 50, last, KEY))
        return None

    replay.override = solr
    with ApiReplay(replay.answer) as api:
        result = run_tap(config(api), clock=FakeClock())
    assert result.error is None
    assert_exact(result, replay)


def test_an_error_answer_stops_and_a_shrinking_total_only_warns(caplog):
    replay = EuropeanaReplay(60)
    replay.override = lambda params: (
        Reply.json({"apikey": KEY, "success": False, "error": "Invalid query syntax"})
        if params.get("cursor") != "*" else None)
    with ApiReplay(replay.answer) as api:
        refused = run_tap(config(api), clock=FakeClock())
    assert "Europeana refused the search: Invalid query syntax" in str(refused.error)
    first_page = [i for i in range(25) if i not in QUARANTINED.values()]
    assert len(refused.records("objects")) == len(first_page)  # the first page's records

    shrinking = EuropeanaReplay(60)
    with ApiReplay(shrinking.answer) as api:
        def remove_after_first_page(params):
            if params.get("cursor") != "*":
                shrinking.records.pop(object_id(1), None)
                shrinking.valid.discard(object_id(1))
            return None
        shrinking.override = remove_after_first_page
        caplog.set_level(logging.WARNING)
        result = run_tap(config(api), clock=FakeClock())
    assert result.error is None
    assert "totalResults shrank from 60 to 59" in caplog.text
    assert len(result.records("objects")) == len(shrinking.valid) + 1  # emitted before removal
