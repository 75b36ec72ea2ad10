"""Art Institute of Chicago (``source: aic``) through the tap, against a local replay of its API.

The replay (:class:`AicApi`) serves the listing endpoint (``page``/``limit``, newest
``updated_at`` first, ``pagination.next_url``) and the search endpoint (Elasticsearch ``query``
and ``sort`` passed as ``params`` JSON, a cap on ``from + size``) over a collection built from
the 10 real artwork records in ``fixtures/aic`` (CC0, see its ATTRIBUTION.md): ids, titles,
dates and image ids varied, some records deliberately broken. Every test compares what the
tap emitted with the replay's own ground truth.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
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
from iiif_rules import iiif_validator
from validity import failures, lido_validator

from tap_museumcms.dialects.aic import CC0, FIELDS, ArtInstituteChicago

FIX = Path(__file__).parent / "fixtures" / "aic"
REAL = [json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((FIX / "artworks").glob("*.json"), key=lambda p: int(p.stem))]
CONFIG = json.loads((FIX / "config.json").read_text(encoding="utf-8"))
INFO = json.loads((FIX / "info_artworks.json").read_text(encoding="utf-8"))
CHICAGO = timezone(timedelta(hours=-6))
START = datetime(2024, 12, 1, tzinfo=UTC)
BASE = 100_000


@dataclass
class Entry:
    """One artwork as the API's database holds it; ``raw`` replaces its JSON (a broken one)."""

    id: int
    updated: datetime
    record: dict
    raw: bytes | None = None
    broken: bool = False

    def body(self, fields: list[str] | None) -> bytes:
        if self.raw is not None:
            return self.raw
        record = self.record if not fields else {
            k: v for k, v in self.record.items() if k in fields}
        return json.dumps(record, ensure_ascii=False).encode()


def build(n: int = 60) -> dict[int, Entry]:
    """``n`` artworks varied from the real ones; a few broken, some messy but valid."""
    entries = {}
    for k in range(n):
        record = copy.deepcopy(REAL[k % len(REAL)])
        ident = BASE + k
        updated = START + timedelta(minutes=k // 2)  # pairs share a second: id breaks the tie
        record.update(id=ident, title=f"{record['title']} [{k}]",
                      api_link=f"https://api.artic.edu/api/v1/artworks/{ident}",
                      image_id=f"{record['image_id'][:-4]}{k:04d}",
                      alt_image_ids=[f"{a[:-4]}{k:04d}" for a in record["alt_image_ids"]],
                      updated_at=updated.astimezone(CHICAGO).isoformat())
        entries[ident] = Entry(ident, updated, record)
    if n < 40:
        return entries
    entries[BASE + 8].record.update(  # BCE: no ISO date, the display kept: valid
        date_start=-500, date_end=-400, date_display="500–400 BCE")
    entries[BASE + 9].record["artist_title"] = None  # the maker from artist_display: valid
    entries[BASE + 17].record["title"] = "Untitled\x00 (study)"  # cleaned, valid
    rights = entries[BASE + 26].record  # in copyright, no image: valid, no rights URI
    rights.update(is_public_domain=False, copyright_notice="© 2024 Artist", image_id=None,
                  alt_image_ids=[], thumbnail=None)
    entries[BASE + 5].record["title"] = None
    entries[BASE + 21].record["updated_at"] = "0000-00-00 00:00:00"
    entries[BASE + 34].record["thumbnail"]["width"] = "wide"
    entries[BASE + 13].raw = (b'{"id": 100013, "title": "Broken" "updated_at": '
                              b'"2024-12-01T00:06:00-06:00"}')
    for k in (5, 13, 21, 34):
        entries[BASE + k].broken = True
    return entries


@dataclass
class Faults:
    stuck_next_at: int = 0  # this listing page's next_url names itself
    shrink_after: int = 0  # after serving this listing page, an artwork is withdrawn
    search_refused: bool = False  # the search endpoint answers 403 Invalid number of results


class AicApi:
    """Answers like api.artic.edu/api/v1 (listing, search) over ``entries``."""

    def __init__(self, entries: dict[int, Entry], clock: FakeClock, *, cap: int = 10_000,
                 faults: Faults | None = None) -> None:
        self.entries = entries
        self.clock = clock
        self.cap = cap
        self.faults = faults or Faults()
        self.times: list[float] = []  # the fake clock at every request (pacing)
        self.searches: list[dict] = []

    # -- ground truth ----------------------------------------------------------------
    @property
    def valid_keys(self) -> set[str]:
        return {str(e.id) for e in self.entries.values() if not e.broken}

    @property
    def broken(self) -> list[Entry]:
        return [e for e in self.entries.values() if e.broken]

    def update(self, ident: int, when: datetime, **fields: object) -> None:
        entry = self.entries[ident]
        entry.updated = when
        entry.record.update(updated_at=when.astimezone(CHICAGO).isoformat(), **fields)

    # -- the API -----------------------------------------------------------------------
    def answer(self, path: str, params: dict[str, str]) -> Reply:
        self.times.append(self.clock.monotonic())
        if path == "/api/v1/artworks":
            return self._listing(params)
        if path == "/api/v1/artworks/search":
            return self._search(json.loads(params["params"]) if "params" in params else params)
        return Reply.json({"status": 404, "error": "Not found"}, status=404)

    def _page(self, pagination: dict, rows: list[Entry], fields: list[str] | None) -> Reply:
        data = b",".join(e.body(fields) for e in rows)
        body = (b'{"pagination": ' + json.dumps(pagination).encode() + b', "data": [' + data
                + b'], "info": ' + json.dumps(INFO).encode() + b', "config": '
                + json.dumps(CONFIG).encode() + b"}")
        return Reply(200, body)

    def _listing(self, params: dict[str, str]) -> Reply:
        page, limit = int(params.get("page", 1)), int(params.get("limit", 12))
        if limit > 100:
            return _refusal("Invalid limit")
        rows = sorted(self.entries.values(), key=lambda e: (e.updated, e.id), reverse=True)
        total = len(rows)
        chosen = rows[(page - 1) * limit: page * limit]
        pagination = {"total": total, "limit": limit, "offset": (page - 1) * limit,
                      "total_pages": -(-total // limit), "current_page": page}
        if page * limit < total:
            following = page if page == self.faults.stuck_next_at else page + 1
            pagination["next_url"] = (f"https://api.artic.edu/api/v1/artworks?page={following}"
                                      f"&limit={limit}&fields={','.join(FIELDS)}")
        if page == self.faults.shrink_after and len(rows) > page * limit + 3:
            del self.entries[rows[page * limit + 2].id]  # withdrawn after this page was served
        fields = params["fields"].split(",") if params.get("fields") else None
        return self._page(pagination, chosen, fields)

    def _search(self, query: dict) -> Reply:
        self.searches.append(query)
        if self.faults.search_refused:
            return _refusal("Invalid number of results")
        size = int(query.get("limit", query.get("size", 10)))
        start = int(query.get("from") or (int(query.get("page", 1)) - 1) * size)
        if size > 100:
            return _refusal("Invalid limit")
        if start + size > self.cap:
            return _refusal("Invalid number of results")
        hits = [e for e in self.entries.values() if _matches(query.get("query", {}), e)]
        hits.sort(key=lambda e: (e.updated, e.id))  # the only sort the tap asks for
        assert query.get("sort") == [{"updated_at": "asc"}, {"id": "asc"}]
        pagination = {"total": len(hits), "limit": size, "offset": start,
                      "total_pages": -(-len(hits) // size), "current_page": start // size + 1}
        return self._page(pagination, hits[start:start + size], query.get("fields"))


def _refusal(error: str) -> Reply:
    detail = {"Invalid limit": "You have requested too many resources per page.",
              "Invalid number of results": "You have requested too many results. Please refine "
              "your parameters."}[error]
    return Reply.json({"status": 403, "error": error, "detail": detail}, status=403)


def _value(field: str, value: object) -> object:
    if field == "updated_at":
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return value


def _matches(query: dict, entry: Entry) -> bool:
    """The part of the Elasticsearch query DSL the tap sends: bool, range, term."""
    doc = {"updated_at": entry.updated, "id": entry.id}
    if "bool" in query:
        clause = query["bool"]
        ok = all(_matches(q, entry) for q in clause.get("filter", []) + clause.get("must", []))
        if clause.get("should"):
            hits = sum(_matches(q, entry) for q in clause["should"])
            ok = ok and hits >= clause.get("minimum_should_match", 1)
        return ok
    if "range" in query:
        ((field, conditions),) = query["range"].items()
        tests = {"gte": lambda a, b: a >= b, "gt": lambda a, b: a > b,
                 "lte": lambda a, b: a <= b, "lt": lambda a, b: a < b}
        return all(tests[op](doc[field], _value(field, v)) for op, v in conditions.items())
    if "term" in query:
        ((field, value),) = query["term"].items()
        return doc[field] == _value(field, value)
    return not query  # an empty query matches everything


def aic_config(replay: ApiReplay, **extra: object) -> dict:
    return {"source": "aic", "api_url": replay.url + "/api/v1", "page_size": 7,
            "max_retries": 8, **extra}


def assert_exact(result: SyncResult, api: AicApi) -> None:
    """Objects are the valid records, the quarantine the broken ones; nothing twice; every
    object has a valid LIDO record and every manifest is valid IIIF."""
    # An unreadable record still shows its "id" as the quarantine key.
    assert_objects_exact(result, api.valid_keys, {str(e.id) for e in api.broken})
    lido = {r["object_id"]: r["lido_xml"] for r in result.records("lido_records")}
    assert set(lido) == api.valid_keys
    assert failures("aic LIDO", lido, lido_validator()) == {}
    manifests = {r["object_id"]: r["manifest"] for r in result.records("iiif_manifests")}
    with_images = {o["object_id"] for o in result.records("objects")
                   if any(m["width"] for m in o["media"] or [])}
    assert set(manifests) == with_images
    assert failures("aic IIIF", manifests, iiif_validator()) == {}


def test_a_full_harvest_reads_the_listing_and_is_exact():
    clock = FakeClock()
    api = AicApi(build(), clock)
    with ApiReplay(api.answer) as replay:
        result = run_tap(aic_config(replay), clock=clock)
        connections, log = replay.connections, replay.log
    assert result.error is None, result.error
    assert_exact(result, api)
    print_figures("aic full harvest", result)
    probe, *pages = log
    assert probe.params == {"limit": "1", "fields": "id"}
    assert [p.params["page"] for p in pages] == [str(n) for n in range(1, 10)]  # 60 / 7
    assert all(p.params["limit"] == "7" and p.params["fields"] == ",".join(FIELDS) for p in pages)
    agent = pages[0].headers["User-Agent"]
    assert agent.startswith("tap-museumcms/") and pages[0].headers["AIC-User-Agent"] == agent
    assert connections == 1  # one pooled connection for the whole run
    objects = {o["object_id"]: o for o in result.records("objects")}
    one = objects[str(BASE + 1)]  # from the real record 9.json
    assert one["title"] == "Interior of St. Mark's, Venice [1]"
    assert one["creation_date_iso"] == "1869"
    assert one["rights_uri"] == CC0 and one["maker"] == "David Dalhoff Neal"
    assert one["iiif_manifest_url"] == f"{replay.url}/api/v1/artworks/{BASE + 1}/manifest.json"
    image = one["media"][0]
    assert image["iiif_image_service"] == f"https://www.artic.edu/iiif/2/{image['media_id']}"
    assert (image["width"], image["height"], image["rights_uri"]) == (1938, 2250, CC0)
    described = objects[str(BASE + 3)]  # 16.json has a description: CC BY 4.0, said per field
    assert described["description"].startswith("<p>Just as the Giants")
    assert described["extra_fields"]["description_license"] == "CC BY 4.0"
    assert "description_license" not in (one["extra_fields"] or {})
    primary, alternate = objects[str(BASE + 2)]["media"]  # 11.json: one alternate image
    assert primary["is_primary"] and (primary["width"], primary["height"]) == (6125, 8002)
    assert not alternate["is_primary"] and alternate["width"] is None
    bce, bare = objects[str(BASE + 8)], objects[str(BASE + 26)]
    assert bce["creation_date_iso"] is None and bce["creation_date_display"] == "500–400 BCE"
    assert objects[str(BASE + 9)]["maker"] == "Lucas Emil Vorsterman (Flemish, 1595-1675)"
    assert bare["rights_uri"] is None and bare["media"] is None
    assert bare["extra_fields"]["is_public_domain"] is False
    assert objects[str(BASE + 17)]["title"] == "Untitled (study)"
    rights = {r["rights_id"] for r in result.records("rights")}
    assert rights == {f"{k}#rights" for k, o in objects.items() if o["rights_uri"]}
    state = result.final_state["bookmarks"]["objects"]
    assert "harvest" not in state and state["replication_key_value"] == "2024-12-01T00:29:00Z"


STORM = ReplayFaults(status_429_every=5, status_503_every=7, cut_every=11, retry_after="3")


def test_every_fault_together_loses_nothing_and_sends_nothing_twice():
    clock = FakeClock()
    api = AicApi(build(), clock)
    result, log = harvest_under_faults(api.answer, aic_config, STORM, clock=clock,
                                       chunk_bytes=700)
    assert_faults_weathered(result, log, clock, retry_after=3.0)
    assert_exact(result, api)
    served = sum(1 for r in log if r.status == 200 and "page" in r.params)
    assert served > 9  # pages cut mid-record were asked for again
    print_figures("aic under 429/503/cut bodies", result)


@pytest.mark.parametrize("kills", [[25, 26, 140], [3, 90]])
def test_killed_full_harvests_resume_exactly(kills):
    clock = FakeClock()
    api = AicApi(build(), clock)
    with ApiReplay(api.answer, faults=ReplayFaults(status_429_every=6)) as replay:
        committed, state = resume_until_done(aic_config(replay), clock, kills)
    assert {k for s, k in committed if s == "objects"} == api.valid_keys
    assert {k for s, k in committed if s == "lido_records"} == api.valid_keys
    assert len({k for s, k in committed if s == "quarantine"}) == len(api.broken)
    assert "harvest" not in state["bookmarks"]["objects"]


def test_incremental_runs_ask_the_search_endpoint_from_the_bookmark():
    clock = FakeClock()
    api = AicApi(build(), clock)
    with ApiReplay(api.answer) as replay:
        config = aic_config(replay)
        first = run_tap(config, clock=clock)
        later = datetime(2025, 1, 10, tzinfo=UTC)
        changed = [BASE + 3, BASE + 40, BASE + 41, BASE + 58]
        for n, ident in enumerate(changed):
            api.update(ident, later + timedelta(seconds=n // 2), title=f"Retitled {n}")
        second = run_tap(config, state=first.final_state, clock=clock)
        third = run_tap(config, state=second.final_state, clock=clock)
        searches = api.searches
    assert first.error is None and second.error is None and third.error is None
    assert sorted(second.keys("objects", "object_id")) == sorted(str(i) for i in changed)
    assert {o["title"] for o in second.records("objects")} == {f"Retitled {n}" for n in range(4)}
    assert third.records("objects") == []  # nothing changed since: nothing sent again
    bookmark = first.final_state["bookmarks"]["objects"]["replication_key_value"]
    first_search = searches[0]
    assert first_search["query"] == {"bool": {"filter": [
        {"range": {"updated_at": {"gte": bookmark}}}]}}
    assert first_search["sort"] == [{"updated_at": "asc"}, {"id": "asc"}]
    assert first_search["limit"] == 7 and "page" not in first_search
    assert second.final_state["bookmarks"]["objects"]["replication_key_value"] == (
        "2025-01-10T00:00:01Z")


@pytest.mark.parametrize("page_size", [7, 11])  # 11: a record with a broken date ends a page
def test_keyset_paging_reads_past_the_search_cap_and_resumes_exactly(page_size):
    clock = FakeClock()
    api = AicApi(build(80), clock, cap=15)  # the real cap is 10,000 results per query
    with ApiReplay(api.answer) as replay:
        config = aic_config(replay, start_date="2024-12-01T00:00:00Z", page_size=page_size)
        committed, state = resume_until_done(config, clock, [20, 21, 57])
        statuses = {r.status for r in replay.log}
    assert 403 not in statuses  # every query asks for its first page only
    assert {k for s, k in committed if s == "objects"} == api.valid_keys
    assert len(api.valid_keys) > api.cap
    assert "harvest" not in state["bookmarks"]["objects"]
    afters = [q["query"]["bool"]["filter"][1:] for q in api.searches]
    assert afters[0] == [] and all(len(a) <= 1 for a in afters)  # at most one keyset filter
    assert sum(1 for a in afters if a) >= len(api.valid_keys) // page_size


@pytest.mark.parametrize(
    ("faults", "config", "message"),
    [
        (Faults(stuck_next_at=3), {}, "the next_url of page 3 does not advance"),
        (Faults(shrink_after=2), {}, "the listing shrank from 60 to 59 artworks"),
        (Faults(search_refused=True), {"start_date": "2024-12-01T00:00:00Z"},
         "the search endpoint refused to page further"),
    ],
)
def test_stop_conditions_end_the_stream_with_one_clear_line_and_keep_state(
        faults, config, message):
    clock = FakeClock()
    api = AicApi(build(), clock, faults=faults)
    with ApiReplay(api.answer) as replay:
        result = run_tap(aic_config(replay, **config), clock=clock)
        requests = len(replay.log)
    assert result.error is not None and message in str(result.error)
    assert "harvest" in result.final_state["bookmarks"]["objects"]  # resumable
    keys = result.keys("objects", "object_id")
    assert len(keys) == len(set(keys)) and requests < 10  # stopped, did not loop


def test_a_wrong_api_url_is_one_clear_line():
    clock = FakeClock()
    with ApiReplay(lambda path, params: Reply.json({"data": []})) as replay:
        result = run_tap({"source": "aic", "api_url": replay.url + "/v2"}, clock=clock)
    assert "does not answer as the Art Institute of Chicago API" in str(result.error)


def test_the_key_never_leaks_and_the_polite_ceiling_holds(caplog, capsys):
    clock = FakeClock()
    api = AicApi(build(30), clock)
    secret = "aic-token-5f1d9c"
    with caplog.at_level(logging.DEBUG), ApiReplay(api.answer) as replay:
        result = run_tap(aic_config(replay, api_key=secret), clock=clock)
        sent = [r.headers.get("Authorization") for r in replay.log]
    assert result.error is None
    assert set(sent) == {f"Bearer {secret}"}  # a token AIC issued goes in a header
    out = json.dumps(result.messages) + capsys.readouterr().out + caplog.text
    assert secret not in out
    assert all(secret not in o["_source_url"] for o in result.records("objects"))
    gaps = [b - a for a, b in zip(api.times, api.times[1:], strict=False)]
    assert gaps and min(gaps) >= 1.0 - 1e-9  # 60 requests a minute: one a second, unasked
    assert ArtInstituteChicago.default_requests_per_second == 1.0
