"""OAI-PMH end to end: `meltano run tap-museumcms-oai target-postgres` (the inherited extractor
of meltano.yml) against the reference server's OAI face, into a real PostgreSQL.

A repository that keeps no record of deletions (``deletedRecord=no``) and a full harvest on
every run (``full_harvest_every_days: 0``): the second run's ACTIVATE_VERSION must mark deleted
exactly the object that vanished at the source, with its LIDO record, rights and media rows.
"""

from __future__ import annotations

from meltano_harness import MeltanoProject
from warehouse import Warehouse

from tap_museumcms.refserver import GeneratedCollection, OaiSettings, ReferenceServer

ID = "oai:refserver.example:"


def test_oai_harvest_is_exact_and_a_full_harvest_retires_what_vanished(
    meltano_project: MeltanoProject, warehouse: Warehouse
) -> None:
    collection = GeneratedCollection(300, invalid_every=11)
    oai = OaiSettings(page_size=40, deleted_record="no")
    with ReferenceServer(collection, oai=oai) as server:
        env = {
            **warehouse.target_env(),
            "TAP_MUSEUMCMS_OAI_API_URL": server.url + "/oai",
            "TAP_MUSEUMCMS_OAI_FULL_HARVEST_EVERY_DAYS": "0",
        }
        args = ["run", "--state-id-suffix", warehouse.schema, "tap-museumcms-oai",
                "target-postgres"]
        first = meltano_project.run(args, env=env)
        assert first.returncode == 0, first.output[-3000:]
        expected = server.expected_oai("lido")
        objects = {r["object_id"]: r for r in warehouse.rows("objects")}
        assert set(objects) == expected.valid_keys
        assert all(r["_sdc_deleted_at"] is None for r in objects.values())
        assert warehouse.count("quarantine") == len(expected.invalid_positions)
        assert {r["object_id"] for r in warehouse.rows("lido_records")} == expected.valid_keys
        assert "deletedRecord=no" in first.output  # the run says deletions need a full harvest

        collection.delete("objects", "obj-0000005")  # vanishes: the repository says nothing
        second = meltano_project.run(args, env=env)
        assert second.returncode == 0, second.output[-3000:]
    gone = f"{ID}obj-0000005"
    objects = {r["object_id"]: r for r in warehouse.rows("objects")}
    retired = {k for k, r in objects.items() if r["_sdc_deleted_at"] is not None}
    assert retired == {gone}
    lido = {r["object_id"]: r for r in warehouse.rows("lido_records")}
    assert {k for k, r in lido.items() if r["_sdc_deleted_at"] is not None} == {gone}
    media = warehouse.rows("media")
    assert {r["object_id"] for r in media if r["_sdc_deleted_at"] is not None} == {gone}
    rights = warehouse.rows("rights")
    assert {r["object_id"] for r in rights if r["_sdc_deleted_at"] is not None} <= {gone}
    print(f"\n[e2e oai] {len(objects)} objects, {len(retired)} retired by ACTIVATE_VERSION; "
          f"runs {first.seconds:.1f} s and {second.seconds:.1f} s")
