"""The Met Collection API (``source: met``) against a local replay of its shape: exactly the source.

The replay serves ``/objects`` (the id list, ``metadataDate`` filtered by day) and
``/objects/{id}`` from objects made by varying two real API answers (``fixtures/met``, see its
ATTRIBUTION.md); its ids are real ids of a real ``metadataDate`` listing. Four objects are broken
on purpose (a missing title, a body that is not JSON, a relative image URL, a ``metadataDate``
that is no date): the quarantine must hold exactly those. Two listed ids answer 404 (withdrawn
after the list was made): they are skipped, never fatal.
"""

from __future__ import annotations

import collections
import copy
import json
import re
import socket
from pathlib import Path

import pytest
from api_replay import ApiReplay, ReplayFaults, Reply
from fakeclock import FakeClock
from harness import SyncResult, assert_objects_exact, print_figures, resume_until_done, run_tap
from iiif_rules import iiif_validator
from validity import failures, lido_validator

from tap_museumcms.dialects.met import CC0, LIST_TTL_SECONDS, cache_dir

FIXTURES = Path(__file__).parent / "fixtures" / "met"
REAL = {oid: json.loads((FIXTURES / f"object-{oid}.json").read_bytes()) for oid in (436535, 570722)}
LISTED = json.loads((FIXTURES / "objects-departmentIds-15-metadataDate-2018-10-10.json")
                    .read_bytes())["objectIDs"]
BASE = "/public/collection/v1"
NOT_FOUND = (FIXTURES / "object-404.json").read_bytes()  # the API's own 404 body
FIREWALL = b"<html><head><META NAME=\"ROBOTS\" CONTENT=\"NOINDEX, NOFOLLOW\"></head>" \
           b"<body>Request unsuccessful. Incapsula incident ID: 0-0</body></html>"


class Replay(ApiReplay):
    """The shared replay, with Nagle off: a body written in pieces is not held back ~40 ms
    by the client's delayed ACK (the tests would spend most of their time waiting for it)."""

    def _handler(self):  # type: ignore[no-untyped-def]
        class Handler(super()._handler()):  # type: ignore[misc]
            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        return Handler


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    """Each test has its own cache directory for the id lists."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


class MetReplay:
    """A Met collection in the API's shape, with the test's ground truth beside it.

    Object ``i`` is real object 436535 (even ``i``) or 570722 (odd ``i``) with the id, title,
    accession number, ``objectDate`` and ``metadataDate`` varied; see the module docstring for
    the broken and the withdrawn ones.
    """

    def __init__(self, n: int = 40) -> None:
        assert n >= 31  # the broken and withdrawn ones are among the first 31
        self.ids = sorted(LISTED[:n])
        self.objects: dict[int, dict | bytes] = {}
        self.days: dict[int, str] = {}
        for i, oid in enumerate(self.ids):
            obj = copy.deepcopy(REAL[436535] if i % 2 == 0 else REAL[570722])
            obj.update(objectID=oid, title=f"{obj['title']} ({i})",
                       accessionNumber=f"{obj['accessionNumber']}-{i}",
                       objectDate=["1889", "ca. 1889–90", "664–30 B.C.", "1889-06"][i % 4],
                       metadataDate=f"2026-01-{1 + i % 5:02d}T04:{i:02d}:47.627Z",
                       objectURL=f"https://www.metmuseum.org/art/collection/search/{oid}")
            self.objects[oid] = obj
            self.days[oid] = obj["metadataDate"][:10]
        ids = self.ids
        self.objects[ids[3]]["title"] = ""
        self.objects[ids[7]] = b'{"objectID":%d,"title":"Broken" "quote"}' % ids[7]
        self.objects[ids[11]]["primaryImage"] = "/CRDImages/ep/original/DP-42549-001.jpg"
        self.objects[ids[15]]["metadataDate"] = "not recorded"
        self.objects[ids[19]].update(isPublicDomain=False, primaryImage="", primaryImageSmall="",
                                     additionalImages=[], constituents=None)  # real shape
        self.broken = {ids[3], ids[7], ids[11], ids[15]}
        self.gone = {ids[5], ids[30]}
        self.html = set()  # ids answered with a firewall page and status 200
        self.truncate_list = 0  # this many list answers end early (a proxy cut them short)
        self.block_every = 0  # every n-th object request: 403 from the firewall
        self._object_requests = 0

    @property
    def valid(self) -> set[str]:
        return {str(i) for i in self.ids if i not in self.broken | self.gone}

    def update(self, oid: int, when: str, **changes: object) -> None:
        self.objects[oid].update(metadataDate=when, **changes)
        self.days[oid] = when[:10]

    def answer(self, path: str, params: dict[str, str]) -> Reply:
        if path == f"{BASE}/objects":
            since = params.get("metadataDate", "")
            ids = [oid for oid in self.ids if self.days[oid] >= since]
            body = json.dumps({"total": len(ids), "objectIDs": ids}, separators=(",", ":"))
            if self.truncate_list:
                self.truncate_list -= 1
                return Reply(200, body[: len(body) // 3].encode())
            return Reply(200, body.encode())
        match = re.fullmatch(rf"{BASE}/objects/(\d+)", path)
        if match is None:
            return Reply(404, b'{"message":"Not Found"}')
        oid = int(match.group(1))
        self._object_requests += 1
        if self.block_every and self._object_requests % self.block_every == 0:
            return Reply(403, FIREWALL, {"Content-Type": "text/html"})
        if oid in self.gone or oid not in self.objects:
            return Reply(404, NOT_FOUND)
        if oid in self.html:
            return Reply(200, FIREWALL)
        obj = self.objects[oid]
        return Reply(200, obj if isinstance(obj, bytes) else json.dumps(obj).encode())


def met_config(api: ApiReplay, **extra: object) -> dict:
    return {"source": "met", "api_url": api.url + BASE, "institution_name": "The Met",
            "record_info_base_url": "https://www.metmuseum.org/art/collection/search/", **extra}


def list_requests(api: ApiReplay, since: int = 0) -> list[dict[str, str]]:
    return [r.params for r in api.log[since:] if r.path == f"{BASE}/objects" and r.status == 200]


def object_requests(api: ApiReplay, since: int = 0) -> list[int]:
    return [int(r.path.rsplit("/", 1)[1]) for r in api.log[since:]
            if r.path.startswith(f"{BASE}/objects/")]


def assert_exact(result: SyncResult, met: MetReplay) -> None:
    """Objects == the valid ones, quarantine == the broken ones, nothing twice."""
    assert_objects_exact(result, met.valid, {str(i) for i in met.broken})


STORM = ReplayFaults(status_429_every=7, status_503_every=11, cut_every=5, retry_after="2")


def test_a_full_harvest_under_faults_is_exact_with_valid_lido():
    clock = FakeClock()
    met = MetReplay()
    met.block_every = 9
    met.truncate_list = 2
    with Replay(met.answer, faults=STORM, chunk_bytes=512) as api:
        result = run_tap(met_config(api, max_retries=8), clock=clock)
        statuses = collections.Counter(r.status for r in api.log)
        assert len(list_requests(api)) == 3  # two lists that ended early, asked for again
    print_figures("met full harvest", result)
    assert result.error is None, result.error
    assert_exact(result, met)
    assert {403, 404, 429, 503} <= set(statuses)  # firewall, withdrawn ids, rate, busy
    assert any(abs(s - 2.0) < 0.01 for s in clock.sleeps)  # Retry-After obeyed
    objects = {o["object_id"]: o for o in result.records("objects")}
    wheat = objects[str(met.ids[0])]  # real object 436535, renumbered
    assert wheat["title"] == "Wheat Field with Cypresses (0)"
    assert wheat["creation_date_iso"] == "1889" and wheat["maker"] == "Vincent van Gogh"
    assert wheat["rights_uri"] == CC0 and wheat["department"] == "European Paintings"
    assert wheat["modified"] == "2026-01-01T04:00:47Z"
    assert len(wheat["media"]) == 5 and wheat["media"][0]["is_primary"]
    assert wheat["extra_fields"]["objectURL"].endswith(f"/{met.ids[0]}")
    cat = objects[str(met.ids[1])]  # real object 570722: display dates are not ISO dates
    assert cat["creation_date_iso"] is None and cat["creation_date_raw"] is None
    assert cat["creation_date_display"] == "ca. 1889–90" and cat["maker"] is None
    assert objects[str(met.ids[2])]["creation_date_display"] == "664–30 B.C."
    plain = objects[str(met.ids[19])]
    assert plain["rights_uri"] is None and plain["media"] is None
    assert plain["creation_date_iso"] == "1889-06"
    reasons = {q["key"]: q["reason"] for q in result.records("quarantine")}
    assert "title" in reasons[str(met.ids[3])] and "invalid JSON" in reasons[str(met.ids[7])]
    assert "image_url" in reasons[str(met.ids[11])] and "modified" in reasons[str(met.ids[15])]
    media = result.records("media")
    assert len(media) == sum(len(o["media"] or []) for o in objects.values())
    assert {r["rights_id"] for r in result.records("rights")} == {
        f"{k}#rights" for k, o in objects.items() if o["rights_uri"]}
    lido = {r["object_id"]: r["lido_xml"] for r in result.records("lido_records")}
    assert set(lido) == met.valid
    assert failures("met LIDO", lido, lido_validator()) == {}
    # The Met serves plain JPEGs, no IIIF Image service: no canvas, so no manifest.
    manifests = {r["object_id"]: r["manifest"] for r in result.records("iiif_manifests")}
    assert failures("met IIIF", manifests, iiif_validator()) == {} and manifests == {}
    state = result.final_state["bookmarks"]["objects"]
    assert "harvest" not in state and state["replication_key_value"] == "2026-01-05T04:39:47Z"
    assert list(cache_dir().glob("met-*.ids")) == []  # the finished harvest's list is removed


@pytest.mark.parametrize("kills", [[9, 40, 41], [1, 2, 77]])
def test_killed_runs_resume_exactly_without_fetching_the_list_again(kills):
    clock = FakeClock()
    met = MetReplay()
    with Replay(met.answer, faults=ReplayFaults(status_503_every=13)) as api:
        committed, state = resume_until_done(met_config(api), clock, kills)
        lists = list_requests(api)
    assert {k for s, k in committed if s == "objects"} == met.valid
    assert {k for s, k in committed if s == "lido_records"} == met.valid
    assert len({k for s, k in committed if s == "quarantine"}) == len(met.broken)
    assert "harvest" not in state["bookmarks"]["objects"]
    assert len(lists) == 1  # the resumed runs read the cached list


@pytest.mark.parametrize("how", ["expired", "deleted"])
def test_a_missing_or_expired_list_is_fetched_again_and_realigned_by_id(how, caplog):
    clock = FakeClock()
    met = MetReplay()
    seen: dict[str, object] = {}
    withdrawn = set(met.ids[:3])

    def between(n: int, state: dict) -> None:
        cursor = state["bookmarks"]["objects"]["harvest"]["cursor"]
        seen["cursor_id"] = int(cursor.split(":")[2])
        seen["log"] = len(api.log)
        assert met.ids.index(seen["cursor_id"]) >= 3
        for oid in withdrawn:  # withdrawn meanwhile, before the cursor: the positions move
            met.gone.add(oid)
            met.ids.remove(oid)
        if how == "expired":
            clock.advance(LIST_TTL_SECONDS + 60)
        else:
            for path in cache_dir().glob("met-*.ids"):
                path.unlink()

    with Replay(met.answer) as api:
        committed, state = resume_until_done(met_config(api), clock, [60], between=between)
        after = seen["log"]
        lists, objects = list_requests(api, after), object_requests(api, after)
    assert len(lists) == 1 and objects[0] == seen["cursor_id"]  # realigned on the same object
    moved = [r.getMessage() for r in caplog.records if "fetched again" in r.getMessage()]
    assert len(moved) == 1 and f"resumed at object {seen['cursor_id']}" in moved[0]
    print(f"\nmet list {how}: {moved[0]}")
    # Nothing lost, nothing committed sent twice (checked run by run), across the realignment.
    assert {k for s, k in committed if s == "objects"} == met.valid | {str(i) for i in withdrawn}
    assert "harvest" not in state["bookmarks"]["objects"]


def test_incremental_runs_ask_by_metadata_date_and_send_only_the_bookmark_day_again():
    clock = FakeClock()
    met = MetReplay()
    with Replay(met.answer) as api:
        config = met_config(api)
        first = run_tap(config, clock=clock)
        bookmark = first.final_state["bookmarks"]["objects"]["replication_key_value"]
        assert bookmark == "2026-01-05T04:39:47Z"  # ids[39], the newest
        changed = [met.ids[2], met.ids[8]]
        met.update(changed[0], "2026-01-06T04:10:00.5Z", title="Retitled")
        met.update(changed[1], "2026-01-05T05:00:00Z", creditLine="Gift, 2026")
        mark = len(api.log)
        second = run_tap(config, state=first.final_state, clock=clock)
        second_lists = list_requests(api, mark)
        mark = len(api.log)
        third = run_tap(config, state=second.final_state, clock=clock)
        third_lists = list_requests(api, mark)
    assert first.error is None and second.error is None and third.error is None
    assert second_lists == [{"metadataDate": "2026-01-05"}]  # the bookmark day comes again
    # The changes, plus the bookmark day's objects modified before the bookmark second (sent
    # again unchanged: they merge on their key); ids[39], at the bookmark second, is skipped.
    same_day = {str(met.ids[i]) for i in range(4, 39, 5)} - {str(i) for i in met.gone}
    sent = second.keys("objects", "object_id")
    assert sorted(sent) == sorted(same_day | {str(i) for i in changed})
    assert {o["title"] for o in second.records("objects")} >= {"Retitled"}
    assert third_lists == [{"metadataDate": "2026-01-06"}]
    assert third.records("objects") == []  # nothing changed since: nothing sent again


def test_politeness_one_request_a_second_and_a_state_about_every_second():
    clock = FakeClock()
    met = MetReplay()
    with Replay(met.answer) as api:
        result = run_tap(met_config(api), clock=clock)
        requests = len(api.log)
    assert result.error is None
    waits = [s for s in clock.sleeps if s > 0]
    assert len(waits) == requests - 1 and all(abs(w - 1.0) < 0.01 for w in waits)
    assert len(result.states) <= requests + 8  # a STATE before every request, about
    fast_clock = FakeClock()
    with Replay(met.answer) as api:
        fast = run_tap(met_config(api, max_requests_per_second=4), clock=fast_clock)
        fast_requests = len(api.log)
    assert fast.error is None and {round(s, 2) for s in fast_clock.sleeps if s > 0} == {0.25}
    # Four requests a second, one STATE a second (state_interval): not one per object.
    assert len(fast.states) < len(result.states) / 2
    print(f"\nmet politeness: {requests} requests at 1/s, {len(result.states)} STATEs; "
          f"{fast_requests} requests at 4/s, {len(fast.states)} STATEs")


def test_an_object_that_keeps_answering_html_stops_the_stream_with_its_state():
    clock = FakeClock()
    met = MetReplay(n=31)
    stuck = met.ids[6]
    met.html.add(stuck)
    with Replay(met.answer) as api:
        result = run_tap(met_config(api, max_retries=3), clock=clock)
    assert result.error is not None
    assert f"the answer for object {stuck} is not a JSON object, 4 times in a row" in str(
        result.error)
    harvest = result.final_state["bookmarks"]["objects"]["harvest"]
    assert harvest["cursor"].endswith(f":6:{stuck}")  # the next run starts there
    keys = result.keys("objects", "object_id")
    assert len(keys) == len(set(keys)) and str(stuck) not in keys


def test_a_run_of_withdrawn_ids_longer_than_max_retries_is_passed_over():
    met = MetReplay(n=31)
    met.gone |= set(met.ids[20:27])  # seven listed ids in a row answer 404
    with Replay(met.answer) as api:
        result = run_tap(met_config(api, max_retries=2), clock=FakeClock())
    assert result.error is None, result.error
    assert_exact(result, met)


def test_a_wrong_api_url_is_one_clear_line():
    met = MetReplay(n=31)
    with Replay(met.answer) as api:
        result = run_tap({"source": "met", "api_url": api.url + "/v1"}, clock=FakeClock())
    assert "HTTP 404" in str(result.error) and "check the api_url setting" in str(result.error)


def test_query_parameters_in_api_url_go_with_the_id_list():
    met = MetReplay(n=31)
    with Replay(met.answer) as api:
        url = api.url + BASE + "?departmentIds=15"
        result = run_tap(met_config(api, api_url=url), clock=FakeClock())
        lists = list_requests(api)
        objects = object_requests(api)
    assert result.error is None and lists == [{"departmentIds": "15"}]
    assert len(objects) == 31
