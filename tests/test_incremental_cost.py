"""What a run costs when nothing changed at the source: a few requests, whatever the size.

After a harvest has completed, the next run asks each harvested stream only for what changed
since the bookmark (``modified_since`` / OAI-PMH ``from``, inclusive). With nothing changed the
source answers with the one record on the bookmark second, which the tap already sent and skips,
and then the end of the list. So the number of requests is a constant per stream:

* JSONL: two per stream (the page from the bookmark, then the empty page that ends the list);
* OAI-PMH: ``Identify``, ``ListMetadataFormats`` and one ``ListRecords`` page.

The large collection's final state comes from a harvest of its last records only (a
``start_date`` just before them): the first test shows, on the small one, that this leaves
exactly the state a full harvest leaves, so the large case needs no full harvest and can be
1000x the small one (records are generated on demand). Time is a :class:`FakeClock`: nothing
waits for real.
"""

from __future__ import annotations

import typing as t
from collections import Counter

import pytest
from fakeclock import FakeClock
from harness import SyncResult, run_tap

from tap_museumcms.checkpoint import iso_utc
from tap_museumcms.refserver import GeneratedCollection, OaiSettings, ReferenceServer

SMALL, LARGE = 1_000, 1_000_000
#: Requests of a run with nothing changed, per stream (JSONL) or per verb (OAI-PMH).
NO_CHANGE_REQUESTS = {
    "jsonl": {"/objects": 2, "/rights": 2, "/media": 2},
    "oai-pmh": {"Identify": 1, "ListMetadataFormats": 1, "ListRecords": 1},
}
#: Setup harvests leave out the documents (they keep no bookmark) to stay cheap.
SETUP = {"lido_enabled": False, "iiif_enabled": False, "page_size": 1000}
#: GeneratedCollection: record i is modified ``base_epoch + i`` (2026-01-01T00:00:00Z + i s).
BASE_EPOCH = GeneratedCollection(0).base_epoch


def _config(server: ReferenceServer, source: str) -> dict[str, t.Any]:
    """The tap's settings for one face of the reference server (every stream, defaults)."""
    suffix = "/oai" if source == "oai-pmh" else ""
    return {"api_url": server.url + suffix, "source": source}


def _tail_start(size: int, records: int = 40) -> str:
    """A ``start_date`` that leaves only the last ``records`` records of a generated collection."""
    return iso_utc(BASE_EPOCH + size - records)


def _requests(server: ReferenceServer, since: int) -> Counter[str]:
    """The data requests the server saw after log entry ``since``: per path, or per OAI verb."""
    counts: Counter[str] = Counter()
    for entry in server.stats.log[since:]:
        counts[entry.params.get("verb", entry.path) if entry.path == "/oai" else entry.path] += 1
    return counts


def _bookmarks(state: dict[str, t.Any]) -> dict[str, t.Any]:
    """The streams' non-empty bookmarks (the document streams keep none)."""
    return {name: value for name, value in state["bookmarks"].items() if value}


def _no_change_run(source: str, size: int) -> tuple[SyncResult, dict[str, t.Any], Counter[str]]:
    """Harvest (all of it, or the tail of a large collection), wait a minute, run again.

    Returns:
        The second run, the state it was given, and the requests it made.
    """
    clock = FakeClock()
    oai = OaiSettings(page_size=1000)
    with ReferenceServer(GeneratedCollection(size), clock=clock, oai=oai) as server:
        config = _config(server, source)
        setup = {**config, **SETUP}
        if size > SMALL:
            setup["start_date"] = _tail_start(size)
        first = run_tap(setup, clock=clock)
        assert first.error is None, first.error
        clock.advance(60)
        since = len(server.stats.log)
        again = run_tap(config, state=first.final_state, clock=clock)
        return again, first.final_state, _requests(server, since)


@pytest.mark.parametrize("source", ["jsonl", "oai-pmh"])
def test_a_harvest_of_the_tail_leaves_the_state_of_a_full_harvest(source):
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(SMALL), clock=clock,
                         oai=OaiSettings(page_size=1000)) as server:
        setup = {**_config(server, source), **SETUP}
        full = run_tap(setup, clock=clock)
        tail = run_tap({**setup, "start_date": _tail_start(SMALL)}, clock=clock)
    assert full.error is None and tail.error is None
    assert len(full.records("objects")) == SMALL and len(tail.records("objects")) == 40
    assert tail.final_state == full.final_state


@pytest.mark.parametrize("source", ["jsonl", "oai-pmh"])
def test_a_no_change_run_costs_the_same_few_requests_whatever_the_size(source):
    seen = {}
    for size in (SMALL, LARGE):
        again, state, requests = _no_change_run(source, size)
        assert again.error is None, again.error
        emitted = Counter(m["type"] for m in again.messages)
        assert emitted["RECORD"] == 0 and emitted["ACTIVATE_VERSION"] == 0, (size, emitted)
        assert _bookmarks(again.final_state) == _bookmarks(state), f"{size}: state changed"
        seen[size] = dict(requests)
    assert seen[SMALL] == seen[LARGE] == NO_CHANGE_REQUESTS[source]
