"""Incremental runs and visible state.

* After changes at the source (updates, additions, tombstones), the next `meltano run` asks only
  for what changed since the bookmark, updates and adds rows, marks deleted ones
  (``_sdc_deleted_at``), and the tables are exact again.
* `meltano state get <state-id>` shows, per stream, the bookmark and the harvest cursor while a
  harvest is incomplete, and only the bookmark once it completed.
"""

from __future__ import annotations

import time
import typing as t
from collections import Counter

from groundtruth import RESOURCE_STREAMS, check_all
from meltano_harness import DRAIN_ENV, FASTDRAIN_LOADER, MeltanoProject, kill_group, wait_until
from warehouse import Warehouse

from tap_museumcms.refserver.collection import GeneratedCollection
from tap_museumcms.refserver.server import Faults, ReferenceServer, decode_cursor


class CountingCollection(GeneratedCollection):
    """A generated collection that counts the records it hands to the server, per stream."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.served: Counter[str] = Counter()

    def iter_from(
        self, stream: str, start: int, since: float | None = None
    ) -> t.Iterator[tuple[int, bytes]]:
        """Count each record the server takes for a response."""
        for item in super().iter_from(stream, start, since):
            self.served[stream] += 1
            yield item


def new_object(key: str) -> dict[str, t.Any]:
    """A valid object record for ``collection.add`` (``modified`` is set by the collection)."""
    return {
        "ObjectID": key,
        "title": f"Acquisition {key}",
        "creation_date_iso": "1901-05-01",
        "maker": "Ines Moreau",
        "object_type": "drawing",
        "department": "Prints and Drawings",
        "accession_number": f"2026.{key}",
        "iiif_manifest_url": f"https://cms.example.org/iiif/{key}/manifest",
    }


def bookmarks_of(state: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """``singer_state.bookmarks`` of a Meltano state (empty when none)."""
    return ((state or {}).get("singer_state") or {}).get("bookmarks") or {}


def test_incremental_run_fetches_only_changes(
    meltano_project: MeltanoProject, warehouse: Warehouse
) -> None:
    collection = CountingCollection(2_000, invalid_every=40)
    with ReferenceServer(collection) as server:
        env = {
            **warehouse.target_env(),
            "TAP_MUSEUMCMS_API_URL": server.url,
            "TAP_MUSEUMCMS_PAGE_SIZE": "250",
        }
        args = ["run", "--state-id-suffix", warehouse.schema, "tap-museumcms", "target-postgres"]
        first = meltano_project.run(args, env=env)
        assert first.returncode == 0, first.output[-3000:]
        served_first = dict(collection.served)
        problems, _ = check_all(warehouse, server)
        assert problems == []
        rows_before = warehouse.count("objects")

        time.sleep(1.1)  # changes land in a later second than the first harvest's bookmark
        updated = ["obj-0000003", "obj-0000500", "obj-0001998"]
        for key in updated:
            collection.update("objects", key, title=f"Retitled {key}", department="Loans")
        collection.update("rights", "r-obj-0000007", holder="Estate of Clara Haddad")
        collection.update("media", "m-obj-0000011", caption="Back")
        added = [f"new-{n}" for n in range(4)]
        for key in added:
            collection.add("objects", new_object(key))
        deleted = ["obj-0000100", "obj-0001234"]
        for key in deleted:
            collection.delete("objects", key)
        collection.delete("media", "m-obj-0000100")
        changed = {"objects": len(updated) + len(added) + len(deleted), "rights": 1, "media": 2}

        collection.served.clear()
        second = meltano_project.run(args, env=env)
        assert second.returncode == 0, second.output[-3000:]
        served_second = dict(collection.served)

        # Only what changed, plus at most the one record that sits on each bookmark
        # (modified_since is inclusive).
        for stream in RESOURCE_STREAMS:
            assert changed[stream] <= served_second.get(stream, 0) <= changed[stream] + 1, (
                stream,
                served_second,
            )
        requests = [e for e in server.stats.log if e.path == "/objects"]
        assert requests[-1].params.get("modified_since"), requests[-1]

        problems, compared = check_all(warehouse, server)
        assert problems == []
        objects = {row["object_id"]: row for row in warehouse.rows("objects")}
        assert all(objects[k]["_sdc_deleted_at"] is not None for k in deleted)
        assert all(objects[k]["title"] == f"Retitled {k}" for k in updated)
        assert all(objects[k]["_sdc_deleted_at"] is None for k in added)
        assert len(objects) == rows_before + len(added)
        lido = {row["object_id"]: row for row in warehouse.rows("lido_records")}
        live_lido = {k for k, row in lido.items() if row.get("_sdc_deleted_at") is None}
        assert set(added) <= live_lido
        assert not set(deleted) & live_lido, "LIDO records of deleted objects are still live"

    print(
        f"\n[e2e incremental] 2000 objects; first run served {served_first} in "
        f"{first.seconds:.1f} s; after {sum(changed.values())} changes the second run served "
        f"{served_second} in {second.seconds:.1f} s; rows compared {compared}"
    )


def test_state_shows_cursor_while_incomplete_and_bookmark_after(
    meltano_project: MeltanoProject, warehouse: Warehouse, tmp_path: t.Any
) -> None:
    collection = GeneratedCollection(3_000)
    with ReferenceServer(collection) as server:
        suffix = warehouse.schema
        state_id = f"dev:tap-museumcms-to-{FASTDRAIN_LOADER}:{suffix}"
        args = ["run", "--force", "--state-id-suffix", suffix, "tap-museumcms", FASTDRAIN_LOADER]
        env = {
            **warehouse.target_env(),
            "TAP_MUSEUMCMS_API_URL": server.url,
            "TAP_MUSEUMCMS_PAGE_SIZE": "100",
            DRAIN_ENV: "0.01",
        }
        first = meltano_project.run(args, env=env)
        assert first.returncode == 0, first.output[-3000:]
        complete = meltano_project.state_get(state_id)
        old = bookmarks_of(complete)
        for stream in RESOURCE_STREAMS:
            assert old[stream].get("replication_key") == "modified", old[stream]
            assert old[stream].get("replication_key_value"), old[stream]
            assert "harvest" not in old[stream], old[stream]

        # An incremental harvest of 25 pages, slowed down so that it can be caught mid-way.
        time.sleep(1.1)
        for position in range(0, 2_500):
            collection.update("objects", collection.object_id(position), department="Loans")
        server.set_faults(Faults(slow_first_byte=0.1))
        proc = meltano_project.start(args, log=tmp_path / "meltano.log", env=env)

        def objects_in_progress() -> bool:
            entry = bookmarks_of(meltano_project.saved_state(state_id)).get("objects") or {}
            return bool((entry.get("harvest") or {}).get("cursor"))

        wait_until(objects_in_progress, timeout=120, proc=proc)
        kill_group(proc)
        server.set_faults(Faults())
        during = bookmarks_of(meltano_project.state_get(state_id))
        harvest = during["objects"]["harvest"]
        assert during["objects"]["replication_key_value"] == old["objects"]["replication_key_value"]
        assert harvest["modified_since"] == old["objects"]["replication_key_value"]
        assert decode_cursor(harvest["cursor"]) > 0
        for stream in ("media",):  # completed before objects (streams run in name order)
            assert "harvest" not in during[stream], during[stream]

        last = meltano_project.run(args, env=env)
        assert last.returncode == 0, last.output[-3000:]
        after = bookmarks_of(meltano_project.state_get(state_id))
        for stream in RESOURCE_STREAMS:
            assert "harvest" not in after[stream], after[stream]
            assert after[stream]["replication_key_value"] >= old[stream]["replication_key_value"]
        assert after["objects"]["replication_key_value"] > old["objects"]["replication_key_value"]
        problems, compared = check_all(warehouse, server)
        assert problems == []

    print(
        f"\n[e2e state] mid-harvest `meltano state get`: objects bookmark "
        f"{during['objects']['replication_key_value']} + harvest cursor at position "
        f"{decode_cursor(harvest['cursor'])}; after completion bookmark "
        f"{after['objects']['replication_key_value']} and no cursor; rows compared {compared}"
    )
