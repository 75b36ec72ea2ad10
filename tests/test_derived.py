"""LIDO records and IIIF manifests out of the same sync, valid against the official schemas."""

from __future__ import annotations

import pytest
from fakeclock import FakeClock
from harness import run_tap
from iiif_rules import iiif_validator
from validity import failures, lido_validator

from tap_museumcms.refserver.collection import GeneratedCollection, SampleCollection
from tap_museumcms.refserver.server import ReferenceServer


@pytest.mark.parametrize(
    "collection",
    [SampleCollection, lambda: GeneratedCollection(2000, invalid_every=11)],
    ids=["real-sample", "generated-2000"],
)
def test_every_valid_object_yields_a_valid_lido_record_and_manifest(collection):
    clock = FakeClock()
    with ReferenceServer(collection(), clock=clock) as server:
        result = run_tap({"api_url": server.url, "page_size": 250,
                          "iiif_base_url": "https://iiif.example.org/manifests",
                          "institution_name": "Reference Museum",
                          "institution_url": "https://museum.example.org/"}, clock=clock)
    assert result.error is None
    objects = {r["object_id"]: r for r in result.records("objects")}
    lido = result.records("lido_records")
    manifests = result.records("iiif_manifests")
    assert {r["object_id"] for r in lido} == set(objects)
    with_images = {k for k, o in objects.items()
                   if any(m.get("width") and m.get("height") and m.get("iiif_image_service")
                          for m in o.get("media") or [])}
    assert {r["object_id"] for r in manifests} == with_images
    lido_docs = {r["object_id"]: r["lido_xml"] for r in lido}
    iiif_docs = {r["object_id"]: r["manifest"] for r in manifests}
    assert failures("LIDO 1.1 XSD, through the tap", lido_docs, lido_validator()) == {}
    assert failures("IIIF 3.0, through the tap", iiif_docs, iiif_validator()) == {}
    for record in lido[:5] + manifests[:5]:
        assert record["_raw_sha256"] == objects[record["object_id"]]["_raw_sha256"]


def test_settings_turn_each_derived_stream_off():
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(50), clock=clock) as server:
        off = run_tap({"api_url": server.url, "lido_enabled": False, "iiif_enabled": False},
                      clock=clock)
        lido_only = run_tap({"api_url": server.url, "iiif_enabled": False}, clock=clock)
    assert off.error is None and lido_only.error is None
    assert not {"lido_records", "iiif_manifests"} & set(off.schemas())
    assert len(off.records("objects")) == 50
    assert len(lido_only.records("lido_records")) == 50
    assert lido_only.records("iiif_manifests") == []


def test_deleted_object_withdraws_its_lido_record_and_manifest():
    clock = FakeClock()
    collection = GeneratedCollection(20)
    with ReferenceServer(collection, clock=clock) as server:
        first = run_tap({"api_url": server.url}, clock=clock)
        clock.advance(60)
        collection.delete("objects", "obj-0000004")
        second = run_tap({"api_url": server.url}, state=first.final_state, clock=clock)
    assert second.error is None
    (lido,) = second.records("lido_records")
    (manifest,) = second.records("iiif_manifests")
    for record in (lido, manifest):
        assert record["object_id"] == "obj-0000004"
        assert record["_sdc_deleted_at"]
    assert lido["lido_xml"] is None and manifest["manifest"] is None
