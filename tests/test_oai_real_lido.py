"""Real LIDO records (``fixtures/lido``, licences in its ATTRIBUTION.md) harvested over OAI-PMH.

Every ``<lido:lido>`` of the fixtures goes, unchanged, into a ListRecords chain of a local
server. Read from the files: all 49 records are objects the models accept; 47 are valid
against a LIDO XSD and are passed through to ``lido_records`` as sent; MKG's beispiel-2 and -3
have an empty ``resourceRepresentation`` (invalid in both LIDO versions) and go to the
quarantine as ``lido_records`` entries, never altered.
"""

from __future__ import annotations

from pathlib import Path

from fakeclock import FakeClock
from harness import run_tap
from lxml import etree
from oai_replay import RecordsServer

FIXTURES = Path(__file__).parent / "fixtures" / "lido"
LIDO = "{http://www.lido-schema.org}lido"


def canonical(xml: bytes) -> bytes:
    return etree.tostring(etree.fromstring(xml), method="c14n", exclusive=True)


def real_records() -> list[tuple[str, str, bytes]]:
    records = []
    for path in sorted(FIXTURES.rglob("*.xml")):
        root = etree.parse(str(path)).getroot()
        elements = [root] if root.tag == LIDO else root.findall(LIDO)
        for n, element in enumerate(elements):
            identifier = f"oai:fixtures:{path.relative_to(FIXTURES)}:{n}"
            records.append((identifier, "2026-11-01", etree.tostring(element, with_tail=False)))
    return records


def test_real_lido_records_map_and_pass_through_exactly():
    records = real_records()
    assert len(records) == 49
    with RecordsServer(records, page_size=10) as server:
        result = run_tap({"source": "oai-pmh", "api_url": server.url}, clock=FakeClock())
    assert result.error is None
    objects = {o["object_id"]: o for o in result.records("objects")}
    assert set(objects) == {identifier for identifier, _, _ in records}
    assert all(o["modified"] == "2026-11-01T00:00:00Z" for o in objects.values())
    lido = {r["object_id"]: r for r in result.records("lido_records")}
    rejected = {q["key"]: q for q in result.records("quarantine")}
    invalid = {f"oai:fixtures:mkg/beispiel-{n}.xml:0" for n in (2, 3)}
    assert set(rejected) == invalid
    assert set(lido) == set(objects) - invalid
    for entry in rejected.values():
        assert entry["stream"] == "lido_records"
        assert "not valid against the LIDO 1.1 or 1.0 XSD" in entry["reason"]
        assert "resourceRepresentation" in entry["reason"]
        assert entry["raw"].startswith("<lido:lido")
    sent = {identifier: metadata for identifier, _, metadata in records}
    for key, record in lido.items():  # passed through as the source sent it
        assert "openarchives" not in record["lido_xml"]  # no trace of the envelope
        assert canonical(record["lido_xml"].encode()) == canonical(sent[key])
    versions = {r["lido_version"] for r in lido.values()}
    print(f"\nreal LIDO over OAI-PMH: {len(records)} records, {len(objects)} objects, "
          f"{len(lido)} LIDO records passed through ({sorted(versions)}), "
          f"{len(rejected)} quarantined: {sorted(e['reason'][:60] for e in rejected.values())}")
    official_10 = "oai:fixtures:official/LIDO-Example_FMobj00154983-LaPrimavera.xml:0"
    official_11 = "oai:fixtures:official/LIDO-v1.1-Example_FMobj00154983-LaPrimavera.xml:0"
    assert lido[official_10]["lido_version"] == "1.0"
    assert lido[official_11]["lido_version"] == "1.1"
    kenom = [o for k, o in objects.items() if "kenom" in k]
    assert len(kenom) == 20 and all(o["lido_rec_id"].startswith("record_DE-68") for o in kenom)
