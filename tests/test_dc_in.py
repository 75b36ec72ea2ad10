"""The Dublin Core reader: the Sickle OAI-PMH sample pages and odd records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tap_museumcms.dialects.dc_in import map_dc
from tap_museumcms.models import RecordRejected, validate_record

FIXTURES = Path(__file__).parent / "fixtures" / "oai"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
OAI = "{http://www.openarchives.org/OAI/2.0/}"
OAI_DC = "{http://www.openarchives.org/OAI/2.0/oai_dc/}dc"
PAGES = ("sickle_ListRecords.xml", "sickle_ListRecords2.xml", "sickle_ListRecords3.xml",
         "sickle_ListRecords4.xml")  # fmt: skip
NS = (
    'xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"'
)


def _dc_records(page: str) -> list[tuple[str, etree._Element]]:
    """``(OAI identifier, <oai_dc:dc>)`` for every record of a page that has metadata."""
    root = etree.parse(str(FIXTURES / page), PARSER).getroot()
    found = []
    for record in root.iter(OAI + "record"):
        for dc in record.iter(OAI_DC):
            found.append((record.findtext(f"{OAI}header/{OAI}identifier"), dc))
    return found


def _dc(body: str) -> etree._Element:
    return etree.fromstring(f"<oai_dc:dc {NS}>{body}</oai_dc:dc>".encode(), PARSER)


def _validated(mapped: dict[str, Any]) -> dict[str, Any]:
    raw = {**mapped, "ObjectID": "oai:test:1", "modified": "2011-01-10T10:19:23Z"}
    return validate_record("objects", raw)


# Read from the files: each ListRecords page holds one deleted header (page 4's without
# identifier and datestamp) and the same oai_dc record, oai:test.example.com:1585322.
SAMPLE = {
    "title": "Sample Title",
    "maker": "John Doe",  # four identical dc:creator
    "creation_date_display": "2010",
    "creation_date_iso": "2010",
    "object_type": "text",  # after info:eu-repo/semantics/article and doc-type:article
    "dc_type": ["info:eu-repo/semantics/article", "doc-type:article", "text"],
    "dc_identifier": ["http://test.example.com/publication/1585322"],
    "dc_language": ["eng"],
    "dc_source": ["Sample Source"],
    "dc_publisher": ["Sample Publisher"],
}


@pytest.mark.parametrize("page", PAGES)
def test_sickle_list_records_pages(page: str) -> None:
    ((identifier, dc),) = _dc_records(page)
    assert identifier == "oai:test.example.com:1585322"
    mapped = map_dc(dc)
    description = mapped.pop("description")
    assert mapped == SAMPLE
    assert description.startswith("Lorem ipsum dolor sit amet, consectetur adipisicing elit, sed")
    assert description.endswith("sunt in culpa qui officia deserunt mollit anim id est laborum.")
    assert "\n" not in description and "  " not in description  # wrapped lines joined
    record = _validated({**mapped, "description": description})
    assert record["accession_number"] is None and record["medium"] is None
    assert record["extra_fields"]["dc_type"] == SAMPLE["dc_type"]
    print(f"{page}: 1 oai_dc record, valid")


def test_mapping_of_every_field() -> None:
    mapped = map_dc(
        _dc(
            "<dc:title>Harbour at Dawn</dc:title><dc:title>Hafen im Morgengrauen</dc:title>"
            "<dc:creator>A. Painter</dc:creator><dc:creator>B. Etcher</dc:creator>"
            "<dc:date>1889-06-01T10:00:00Z</dc:date><dc:type>http://purl.org/dc/dcmitype/Image"
            "</dc:type><dc:type>painting</dc:type><dc:format>image/jpeg</dc:format>"
            "<dc:format>Oil on canvas</dc:format><dc:identifier>urn:nbn:de:0001-1</dc:identifier>"
            "<dc:identifier>https://museum.example.org/objects/1994.127</dc:identifier>"
            "<dc:identifier>Inv. 1994.127</dc:identifier><dc:rights>All rights reserved"
            "</dc:rights><dc:rights>https://creativecommons.org/licenses/by/4.0/deed.de"
            "</dc:rights><dc:subject>harbours</dc:subject><dc:subject>dawn</dc:subject>"
            "<dc:contributor>C. Framer</dc:contributor><dc:coverage>Hamburg</dc:coverage>"
            "<dc:relation>Sketchbook 3</dc:relation><dc:description>Oil sketch.</dc:description>"
        )
    )
    assert mapped == {
        "title": "Harbour at Dawn",
        "dc_title": ["Harbour at Dawn", "Hafen im Morgengrauen"],
        "description": "Oil sketch.",
        "creation_date_display": "1889-06-01T10:00:00Z",
        "creation_date_iso": "1889-06-01",
        "maker": "A. Painter; B. Etcher",
        "object_type": "painting",
        "dc_type": ["http://purl.org/dc/dcmitype/Image", "painting"],
        "medium": "Oil on canvas",
        "dc_format": ["image/jpeg", "Oil on canvas"],
        "accession_number": "Inv. 1994.127",
        "dc_identifier": [
            "urn:nbn:de:0001-1",
            "https://museum.example.org/objects/1994.127",
            "Inv. 1994.127",
        ],
        "rights_uri": "http://creativecommons.org/licenses/by/4.0/",
        "dc_subject": ["harbours", "dawn"],
        "dc_contributor": ["C. Framer"],
        "dc_coverage": ["Hamburg"],
        "dc_relation": ["Sketchbook 3"],
    }
    assert _validated(mapped)["rights_uri"] == "http://creativecommons.org/licenses/by/4.0/"


def test_empty_elements_and_only_uris() -> None:
    mapped = map_dc(
        _dc(
            "<dc:title>  </dc:title><dc:title/><dc:creator/><dc:date>c. 1850</dc:date>"
            "<dc:type>info:eu-repo/semantics/other</dc:type>"
            "<dc:identifier>https://example.org/1</dc:identifier>"
            "<dc:format>application/pdf</dc:format><dc:rights>Rechte vorbehalten</dc:rights>"
            "<dc:language/><other>ignored</other>"
        )
    )
    assert mapped == {
        "creation_date_display": "c. 1850",
        "dc_type": ["info:eu-repo/semantics/other"],
        "dc_format": ["application/pdf"],
        "dc_identifier": ["https://example.org/1"],
        "dc_rights": ["Rechte vorbehalten"],
    }
    with pytest.raises(RecordRejected) as rejected:
        _validated(mapped)
    assert rejected.value.reason == "title: field required"  # the rights text does not count
    assert map_dc(_dc("")) == {}
    assert map_dc(_dc("<dc:date>2026-13-45</dc:date>")) == {"creation_date_display": "2026-13-45"}
