"""Smithsonian Open Access (``source: smithsonian``) against a local replay of its search API.

The replay serves ``/openaccess/api/v1.0/search`` (``q``, ``start``, ``rows``, ``sort=updated``,
the ``api_key`` query parameter checked, ``X-RateLimit-*`` headers, a 429 with api.data.gov's
``OVER_RATE_LIMIT`` body) over rows made by varying two real Open Access records
(``fixtures/smithsonian``, see its ATTRIBUTION.md). Four rows are broken on purpose (no title, a
row that is not JSON, a relative image URL, a ``lastTimeUpdated`` that is no time); a third of
the rows carry ``lastTimeUpdated`` as a string of digits, as real answers sometimes do.
"""

from __future__ import annotations

import collections
import copy
import json
import logging
import socket
from pathlib import Path

import pytest
from api_replay import ApiReplay, ReplayFaults, Reply
from fakeclock import FakeClock
from harness import SyncResult, assert_objects_exact, print_figures, resume_until_done, run_tap
from iiif_rules import iiif_validator
from validity import failures, lido_validator

from tap_museumcms.dialects.smithsonian import CC0

FIXTURES = Path(__file__).parent / "fixtures" / "smithsonian"
REAL = [json.loads((FIXTURES / name).read_bytes())
        for name in ("edanmdm-nasm_A19710896000.json", "chndm_1931-66-88.json")]
BASE = "/openaccess/api/v1.0"
KEY = "si-secret-4f1c9a7e20b3d685"
NEWEST = 1_790_000_000  # lastTimeUpdated of row 0; row i is i hours older


class Replay(ApiReplay):
    """The shared replay, with Nagle off (no ~40 ms delayed-ACK stall per response)."""

    def _handler(self):  # type: ignore[no-untyped-def]
        class Handler(super()._handler()):  # type: ignore[misc]
            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        return Handler


class SiReplay:
    """Search rows in the API's shape, sorted by ``lastTimeUpdated`` (newest first)."""

    def __init__(self, n: int = 45) -> None:
        self.rows: list[tuple[int, str | None, bytes]] = []  # (when, id, raw row)
        for i in range(n):
            self.rows.append(self._row(i, NEWEST - i * 3600))
        self.broken_keys = {self.rows[4][1], self.rows[14][1], self.rows[19][1]}
        self.withdrawn: set[str | None] = set()
        self.rate_every = 0  # every n-th request: 429 OVER_RATE_LIMIT with Retry-After
        self.max_start: int | None = None  # deeper starts answer this page (a paging cap)
        self.withdraw_at: tuple[int, int] | None = None  # (request number, rows to withdraw)
        self.requests = 0

    def _row(self, i: int, when: int) -> tuple[int, str | None, bytes]:
        row = copy.deepcopy(REAL[i % 2])
        dnr = row["content"]["descriptiveNonRepeating"]
        row["id"] = f"{row['id']}-{i}"
        row["title"] = f"{row['title']} ({i})"
        row["lastTimeUpdated"] = str(when) if i % 3 == 0 else when
        for media in dnr["online_media"]["media"]:
            media["idsId"] = f"{media['idsId']}-{i}"
        if i == 4:
            del row["title"], dnr["title"]
        if i == 9:
            return when, None, b'{"id": "edanmdm-broken-9", "title": "Broken" "quote"}'
        if i == 14:
            media = dnr["online_media"]["media"][0]
            media["content"] = "/ids/deliveryService?id=" + media["idsId"]
            del media["resources"]
        if i == 19:
            row["lastTimeUpdated"] = "yesterday"
        if i == 22:
            dnr["metadata_usage"] = {"access": "Usage conditions apply"}
        if i == 25:
            del dnr["online_media"]
        return when, row["id"], json.dumps(row).encode()

    def update(self, index: int, when: int) -> str:
        """Row ``index`` changes at ``when``: it moves to the front."""
        _, key, raw = self.rows[index]
        row = json.loads(raw)
        row["lastTimeUpdated"], row["title"] = when, row["title"] + " (changed)"
        self.rows[index] = (when, key, json.dumps(row).encode())
        return str(key)

    @property
    def valid(self) -> set[str]:
        return {str(k) for _, k, _ in self.rows if k is not None} - self.broken_keys - {
            str(k) for k in self.withdrawn}

    def answer(self, path: str, params: dict[str, str]) -> Reply:
        self.requests += 1
        if path != f"{BASE}/search":
            return Reply(404, b'{"status": 404, "responseCode": 0}')
        if params.get("api_key") != KEY:
            return Reply.json({"error": {"code": "API_KEY_INVALID", "message": "An invalid "
                               "api_key was supplied."}}, status=403)
        if self.rate_every and self.requests % self.rate_every == 0:
            return Reply.json({"error": {"code": "OVER_RATE_LIMIT", "message": "You have "
                               "exceeded your rate limit."}}, 429, **{"Retry-After": "9"})
        if self.withdraw_at and self.requests == self.withdraw_at[0]:
            ordered = sorted(self.rows, key=lambda r: -r[0])
            gone = {r[1] for r in ordered[: self.withdraw_at[1]]}  # already read: offsets move
            self.withdrawn |= gone
            self.rows = [r for r in self.rows if r[1] not in gone]
        ordered = [raw for _, _, raw in sorted(self.rows, key=lambda r: -r[0])]
        start, size = int(params.get("start", 0)), int(params.get("rows", 10))
        if self.max_start is not None:
            start = min(start, self.max_start)
        body = b'{"status": 200, "responseCode": 1, "response": {"rows": [%s], "rowCount": %d, ' \
               b'"message": "content found"}}' % (b", ".join(ordered[start:start + size]),
                                                  len(ordered))
        return Reply(200, body, {"X-RateLimit-Limit": "1000",
                                 "X-RateLimit-Remaining": str(max(1000 - self.requests, 0))})


def si_config(api: ApiReplay, **extra: object) -> dict:
    return {"source": "smithsonian", "api_url": api.url + BASE, "api_key": KEY,
            "page_size": 7, "institution_name": "Smithsonian Institution",
            "iiif_base_url": "https://iiif.example.org/si", **extra}


def searches(api: ApiReplay, since: int = 0) -> list[dict[str, str]]:
    return [r.params for r in api.log[since:] if r.status == 200]


def assert_exact(result: SyncResult, si: SiReplay) -> None:
    """Objects == the valid rows, quarantine == the broken ones, nothing twice."""
    broken = {str(k) for k in si.broken_keys} | {"edanmdm-broken-9"}  # the row that is not JSON
    assert_objects_exact(result, si.valid, broken)


STORM = ReplayFaults(status_503_every=5, cut_every=4, retry_after="6")


def test_a_full_harvest_under_faults_is_exact_with_valid_lido_and_iiif():
    clock = FakeClock()
    si = SiReplay()
    si.rate_every = 6
    with Replay(si.answer, faults=STORM, chunk_bytes=2048) as api:
        result = run_tap(si_config(api, max_retries=8), clock=clock)
        statuses = collections.Counter(r.status for r in api.log)
        params = searches(api)
    print_figures("smithsonian full harvest", result)
    assert result.error is None, result.error
    assert_exact(result, si)
    assert {429, 503} <= set(statuses) and {9.0, 6.0} <= {round(s, 2) for s in clock.sleeps}
    assert all(p["sort"] == "updated" and p["q"] == "*" and p["rows"] == "7" for p in params)
    objects = {o["object_id"]: o for o in result.records("objects")}
    nasm = objects["edanmdm-nasm_A19710896000-0"]  # the real NASM record, renumbered
    assert nasm["title"] == "Wright XR-2120, Radial 12 Engine, Cutaway (0)"
    assert nasm["maker"] == "Wright Aeronautical" and nasm["accession_number"] == "A19710896000"
    assert nasm["department"] == "National Air and Space Museum" and nasm["rights_uri"] == CC0
    assert nasm["creation_date_display"] == "Circa 1933" and nasm["creation_date_iso"] is None
    assert nasm["description"].startswith("In the early 1930s")
    assert nasm["modified"] == "2026-09-21T14:13:20Z"  # lastTimeUpdated given as a string
    first = nasm["media"][0]
    assert first["iiif_image_service"] == "https://ids.si.edu/ids/iiif/" + first["media_id"]
    assert (first["width"], first["height"]) == (6600, 6600)
    assert first["image_url"].startswith("https://ids.si.edu/ids/download?id=")
    assert nasm["extra_fields"]["unitCode"] == "NASM"
    restricted = objects["edanmdm-nasm_A19710896000-22"]
    assert restricted["rights_uri"] is None
    assert restricted["extra_fields"]["metadata_usage"] == {"access": "Usage conditions apply"}
    reasons = {q["key"]: q["reason"] for q in result.records("quarantine")}
    assert "title" in reasons[si.rows[4][1]]
    assert reasons["edanmdm-broken-9"].startswith("invalid JSON")
    assert "image_url" in reasons[si.rows[14][1]] and "modified" in reasons[si.rows[19][1]]
    assert len(result.records("media")) == sum(len(o["media"] or []) for o in objects.values())
    lido = {r["object_id"]: r["lido_xml"] for r in result.records("lido_records")}
    assert set(lido) == si.valid
    assert failures("smithsonian LIDO", lido, lido_validator()) == {}
    manifests = {r["object_id"]: r["manifest"] for r in result.records("iiif_manifests")}
    assert failures("smithsonian IIIF", manifests, iiif_validator()) == {}
    # A manifest for every object with an IDS image of known size (the NASM rows).
    assert set(manifests) == {k for k, o in objects.items()
                              if any(m["width"] for m in o["media"] or [])}
    assert len(manifests) == len([k for k in si.valid if "nasm" in k])


@pytest.mark.parametrize("kills", [[5, 60, 61], [1, 2, 150]])
def test_killed_runs_resume_exactly(kills):
    clock = FakeClock()
    si = SiReplay()
    with Replay(si.answer, faults=ReplayFaults(status_503_every=7)) as api:
        # The last run, not killed, must end without error (resume_until_done checks it).
        committed, state = resume_until_done(si_config(api), clock, kills)
    assert {k for s, k in committed if s == "objects"} == si.valid
    assert {k for s, k in committed if s == "lido_records"} == si.valid
    assert len({k for s, k in committed if s == "quarantine"}) == 4
    assert "harvest" not in state["bookmarks"]["objects"]


def test_incremental_runs_read_the_newest_pages_and_stop_at_the_bookmark():
    clock = FakeClock()
    si = SiReplay()
    with Replay(si.answer) as api:
        config = si_config(api)
        first = run_tap(config, clock=clock)
        state = first.final_state["bookmarks"]["objects"]
        assert state["replication_key_value"] == "2026-09-21T14:13:20Z"  # row 0, the newest
        changed = {si.update(i, NEWEST + 600 * (3 - n)) for n, i in enumerate((7, 20, 33))}
        mark = len(api.log)
        second = run_tap(config, state=first.final_state, clock=clock)
        second_params = searches(api, mark)
        mark = len(api.log)
        third = run_tap(config, state=second.final_state, clock=clock)
        third_params = searches(api, mark)
    assert second.error is None and third.error is None
    assert set(second.keys("objects", "object_id")) == changed
    # The first page holds the three changes and the newest row at the bookmark second (skipped:
    # sent already), then older rows; the next page, after them, starts older: the end.
    assert [(p["start"], p["sort"]) for p in second_params] == [("0", "updated"), ("4", "updated")]
    assert third.records("objects") == []  # the newest is skipped at the bookmark second
    assert len(third_params) == 2


def test_the_key_is_sent_and_never_shown(caplog, capsys):
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    si = SiReplay(n=30)
    with Replay(si.answer, faults=ReplayFaults(status_503_every=3)) as api:
        result = run_tap(si_config(api), clock=clock)
        sent = [r.params.get("api_key") for r in api.log]
    out = capsys.readouterr()
    assert result.error is None and set(sent) == {KEY}
    shown = caplog.text + out.out + out.err + json.dumps(result.messages)
    assert KEY not in shown
    urls = [o["_source_url"] for o in result.records("objects")]
    urls += [q["source_url"] for q in result.records("quarantine")]
    assert urls and all("api_key=***" in url for url in urls)
    with Replay(si.answer) as api:
        refused = run_tap(si_config(api, api_key="wrong-key-123456"), clock=clock)
        missing = run_tap({"source": "smithsonian", "api_url": api.url + BASE}, clock=clock)
    assert "HTTP 403" in str(refused.error) and "check the api_key" in str(refused.error)
    assert "wrong-key-123456" not in str(refused.error)
    assert "needs an api.data.gov key in api_key" in str(missing.error)


def test_politeness_900_requests_an_hour_by_default():
    clock = FakeClock()
    si = SiReplay(n=30)
    with Replay(si.answer) as api:
        result = run_tap(si_config(api), clock=clock)
        requests = len(api.log)
        headers = api.log[0].headers
    assert result.error is None
    waits = [s for s in clock.sleeps if s > 0]
    assert len(waits) == requests - 1 and all(abs(w - 4.0) < 0.01 for w in waits)
    assert "api_key" not in json.dumps(headers)  # in the query only, never in a header
    print(f"\nsmithsonian politeness: {requests} requests, {sum(waits):.0f} s apart in all")


def test_a_result_set_that_shrinks_stops_the_stream_and_the_next_run_loses_nothing():
    clock = FakeClock()
    si = SiReplay()
    si.withdraw_at = (3, 4)  # while page 3 is served, 4 rows already read are withdrawn
    with Replay(si.answer) as api:
        stopped = run_tap(si_config(api), clock=clock)
        assert "the result set shrank from 45 to 41 records" in str(stopped.error)
        # Page 3 asked for start=14: 4 rows moved to before it; the checkpoint goes back there.
        state = stopped.final_state
        assert state["bookmarks"]["objects"]["harvest"]["cursor"] == "10/41"
        committed = set(stopped.keys("objects", "object_id"))
        resumed = run_tap(si_config(api), state=state, clock=clock)
    assert resumed.error is None
    sent = resumed.keys("objects", "object_id")
    assert not committed & set(sent) and len(sent) == len(set(sent))
    assert committed | set(sent) == si.valid | {str(k) for k in si.withdrawn}
    assert "harvest" not in resumed.final_state["bookmarks"]["objects"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [("max_start", "the API answered the same 7 rows for start=21 as for start=14"),
     ("past_end", "beyond its rowCount")],
)
def test_an_api_that_does_not_page_that_deep_stops_the_stream(setting, message):
    clock = FakeClock()
    si = SiReplay()
    if setting == "max_start":
        si.max_start = 14
        answer = si.answer
    else:
        def answer(path: str, params: dict[str, str]) -> Reply:
            if int(params.get("start", 0)) >= 42:  # the last rows again, past the end
                params = {**params, "start": "38"}
            return si.answer(path, params)
    with Replay(answer) as api:
        result = run_tap(si_config(api), clock=clock)
    assert message in str(result.error)
    keys = result.keys("objects", "object_id")
    assert len(keys) == len(set(keys))
    assert result.final_state["bookmarks"]["objects"]["harvest"]["cursor"]


def test_the_query_in_api_url_is_passed_on():
    si = SiReplay(n=31)
    with Replay(si.answer) as api:
        url = api.url + BASE + "/search?q=unit_code:NASM&row_group=objects"
        result = run_tap(si_config(api, api_url=url), clock=FakeClock())
        params = searches(api)
    assert result.error is None
    assert {(p["q"], p["row_group"]) for p in params} == {("unit_code:NASM", "objects")}
