"""The LIDO reader: real records of many providers, the official examples field by field, odd
input, and the round trip through the tap's own LIDO writer."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from fixtures.standards import synthetic as SYNTHETIC
from lxml import etree

from tap_museumcms.dates import parse_date_range
from tap_museumcms.dialects.lido_in import iiif_service, iso_date, map_lido
from tap_museumcms.lido import DATE_EXACT, LidoOptions, build_lido_xml
from tap_museumcms.models import RecordRejected, validate_record

FIXTURES = Path(__file__).parent / "fixtures" / "lido"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
LIDO = "{http://www.lido-schema.org}lido"
MODIFIED = "2026-11-20T10:00:00Z"
NS = 'xmlns:lido="http://www.lido-schema.org"'
T = "http://terminology.lido-schema.org/"

# (records, accepted by the validation contract) per file, read from the files: every record
# has a title, and the reader puts only values the models accept in its typed fields (unknown
# rights texts go to extra keys), so every record is expected to be accepted.
EXPECTED = {
    "official/LIDO-Example_FMobj00154983-LaPrimavera.xml": (1, 1),
    "official/LIDO-Example_FMobj20344012-Fontana_del_Moro.xml": (3, 3),
    "official/LIDO-v1.1-Example_FMobj00154983-LaPrimavera.xml": (1, 1),
    "official/LIDO-v1.1-Example_FMobj20344012-Fontana_del_Moro.xml": (3, 3),
    "mkg/beispiel-1.xml": (1, 1),
    "mkg/beispiel-2.xml": (1, 1),
    "mkg/beispiel-3.xml": (1, 1),
    "kenom_oai_chunk20.xml": (20, 20),
    "minimaldatensatz.xml": (1, 1),
    "graphics_example_record.xml": (1, 1),
    **{
        f"ddb-real-data/{name}.xml": (1, 1)
        for name in (
            "Bildarchiv_Foto_Marburg",
            "DSM",
            "Deutsche_Fotothek",
            "Deutsches_Museum",
            "Ethnologisches_Museum",
            "KHB",
            "Kulturerbe_Niedersachsen_Herzberg",
            "Kulturerbe_Niedersachsen_Obernfeld",
            "LWL-Museum",
            "Muenzkabinett",
            "Museum_Vor-Fruehgeschichte",
            "SMB_Skulpturensammlung",
            "Technik-Museum",
            "Wannseekonferenz",
            "digiCult",
            "museum-digital_Oderberg",
        )
    },
}


def _records(relative: str) -> list[etree._Element]:
    root = etree.parse(str(FIXTURES / relative), PARSER).getroot()
    return [root] if root.tag == LIDO else root.findall(LIDO)


def _parse(xml_text: str) -> etree._Element:
    return etree.fromstring(xml_text.encode("utf-8"), PARSER)


def _validated(mapped: dict[str, Any], object_id: str = "oai:test:1") -> dict[str, Any]:
    return validate_record("objects", {**mapped, "ObjectID": object_id, "modified": MODIFIED})


def _media(mapped: dict[str, Any], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(item.get(key) for key in keys) for item in mapped.get("media", [])]


def test_every_real_record_maps_and_the_contract_accepts_it() -> None:
    on_disk = {str(path.relative_to(FIXTURES)) for path in FIXTURES.rglob("*.xml")}
    assert on_disk == set(EXPECTED)
    totals = [0, 0]
    for relative, expected in sorted(EXPECTED.items()):
        records = _records(relative)
        reasons = []
        for index, record in enumerate(records):
            try:
                _validated(map_lido(record), f"oai:test:{relative}:{index}")
            except RecordRejected as rejected:
                reasons.append(rejected.reason)
        valid = len(records) - len(reasons)
        print(
            f"{relative}: {len(records)} records, {valid} valid, {len(reasons)} rejected {reasons}"
        )
        assert (len(records), valid) == expected, reasons
        totals[0] += len(records)
        totals[1] += valid
    print(
        f"LIDO fixtures: {totals[0]} records, {totals[1]} valid, {totals[0] - totals[1]} rejected"
    )
    assert totals == [49, 49]


def test_official_lido_1_1_example_la_primavera() -> None:
    (record,) = _records("official/LIDO-v1.1-Example_FMobj00154983-LaPrimavera.xml")
    mapped = map_lido(record)
    assert mapped["lido_rec_id"] == "DE-Mb112/lido-obj00154983"
    assert mapped["object_published_id"] == "https://www.uffizi.it/opere/botticelli-primavera"
    # First titleSet, two preferred values (it, en), none in the record's language (de).
    assert mapped["title"] == "La Primavera"
    # objectWorkType is a skos:Concept only: the prefLabel in the record's language.
    assert mapped["object_type"] == "Gemälde"
    # The Production event (lido00007): no displayActorInRole, the preferred name.
    assert mapped["maker"] == "Botticelli, Sandro"
    # 1480-1485, typed estimated (lido00529): a display date and no ISO date.
    assert mapped["creation_date_display"] == "um 1480 oder 1482/1485"
    assert "creation_date_iso" not in mapped
    assert mapped["medium"] == "Tempera auf Pappelholz"
    assert mapped["dimensions"] == "203 x 314 cm"
    assert mapped["accession_number"] == "8360 (Inv. 1890)"
    assert mapped["repository_name"] == "Uffizien"
    assert mapped["description"].startswith("Das berühmte Bild, dessen Bedeutung noch umstritten")
    assert mapped["description"].endswith("am stärksten zum Ausdruck bringen.")
    assert "\n" not in mapped["description"]  # pretty-printed line wrapping undone
    assert mapped["rights_uri"] == "http://rightsstatements.org/vocab/NoC-OKLR/1.0/"
    assert "rights_work" not in mapped and "credit_line" not in mapped
    assert "iiif_manifest_url" not in mapped
    assert mapped["record_info_link"] == "https://www.bildindex.de/document/obj00154983"
    # Three resource sets: thumbnail (lido00451, 350 px wide) and provided image (lido00464,
    # 1200 px wide, no height) each; DDB "rv-fz" is no statement the rights table knows.
    assert _media(mapped, "MediaID", "image_url", "width", "height", "format", "is_primary") == [
        ("p_gkka1982_01929", "http://www.bildindex.de/bilder/d/fmp_gkka1982_01929_2l",
         1200, None, "image/jpeg", True),
        ("C 654.591", "http://www.bildindex.de/bilder/d/fmc654591",
         1200, None, "image/jpeg", False),
        ("1.005.045", "http://www.bildindex.de/bilder/d/fm1005045",
         1200, None, "image/jpeg", False),
    ]  # fmt: skip
    for item in mapped["media"]:
        assert item["caption"] == "Gesamtansicht"
        assert "rights_uri" not in item and "iiif_image_service" not in item
        assert item["rights_resource"][0] == (
            "https://www.deutsche-digitale-bibliothek.de/content/lizenzen/rv-fz/"
        )
        assert "Rechte vorbehalten – Freier Zugang" in item["rights_resource"]
    record = _validated(mapped)
    assert record["media"][0]["extra_fields"]["rights_resource"][1] == "Free access – no reuse"
    assert record["extra_fields"]["repository_name"] == "Uffizien"


def test_official_lido_1_1_example_fontana_del_moro() -> None:
    whole, basin, group = (
        map_lido(r)
        for r in _records("official/LIDO-v1.1-Example_FMobj20344012-Fontana_del_Moro.xml")
    )
    assert whole["title"] == "Fontana del Moro"  # no xml:lang: inherits "de" from the block
    assert whole["object_type"] == "Brunnen"
    assert whole["medium"] == "Marmor"  # a termMaterialsTech concept, no display text
    assert whole["rights_uri"] == "http://creativecommons.org/publicdomain/zero/1.0/"
    assert "maker" not in whole and "creation_date_display" not in whole  # no events
    assert _media(whole, "MediaID", "width", "caption") == [("1.172.842", 1200, "Gesamtansicht")]

    assert basin["title"] == "Fontana del Moro — Brunnenbecken mit vier Tritonen und Masken"
    assert basin["object_type"] == "basins (vessels); sculpture groups"
    assert basin["maker"] == "Hersteller: Giacomo della Porta (1532/1533-1602)"
    assert (basin["creation_date_display"], basin.get("creation_date_iso")) == ("1575-1576", None)
    assert [m[0] for m in _media(basin, "MediaID")] == ["1.188.710", "1.296.544"]

    assert group["title"] == "Fontana del Moro — Äthiopier im Kampf gegen einen Delphin"
    assert group["maker"] == (
        "Entwerfer: Giovanni Lorenzo Bernini (1598–1680); "
        "Bildhauer: Giovanni Antonio Mari (1631-1673)"
    )
    assert (group["creation_date_display"], group["creation_date_iso"]) == ("1654", "1654")
    assert _media(group, "MediaID", "is_primary") == [("1.188.735", True), ("Z 20.244", False)]
    for mapped in (whole, basin, group):
        assert _validated(mapped)["rights_uri"] == mapped["rights_uri"]


def test_rules_on_other_real_records() -> None:
    coin = map_lido(_records("kenom_oai_chunk20.xml")[0])
    assert coin["title"] == "Geldschein / Notgeld, 50 Pfennig, 7.1921"
    assert coin["maker"] == "Druckerei W. Clausen <Büsum> (Drucker); Büsum (Münzstand)"
    # 1921-07-01 .. 1921-07-31 closes one whole month.
    assert (coin["creation_date_display"], coin["creation_date_iso"]) == ("7.1921", "1921-07")
    assert coin["medium"] == "Nichtmetalle > Papier; Autotypie; Buchdruck"
    assert (coin["accession_number"], coin["repository_name"]) == (
        "Rasmussen 304",
        "Schleswig-Holsteinische Landesbibliothek",
    )
    base = "https://www.kenom.de/iiif/image/record_DE-68_kenom_123644/record_DE-68_kenom_123644"
    assert _media(coin, "iiif_image_service", "width", "height", "rights_uri", "is_primary") == [
        (f"{base}_vs.jpg", 5684, 3609, "http://creativecommons.org/licenses/by-nc/4.0/", True),
        (f"{base}_rs.jpg", 5693, 3548, "http://creativecommons.org/licenses/by-nc/4.0/", False),
    ]

    enigma = map_lido(_records("ddb-real-data/Deutsches_Museum.xml")[0])
    assert enigma["maker"].startswith("Chiffriermaschinen AG; ")  # eventType E12_Production
    first = enigma["media"][0]
    # formatResource "image/iiif" is no media type: the IIIF link's "default.jpg" decides.
    assert (first["iiif_image_service"], first["format"]) == (
        "https://media.deutsches-museum.de/id/1993-522_%23_001",
        "image/jpeg",
    )
    assert first["MediaID"] == "DE-MUS-097410_715977#resource-1"  # no resourceID

    vase = map_lido(_records("mkg/beispiel-1.xml")[0])
    assert vase["rights_work"] == ["gemeinfrei"] and "rights_uri" not in vase
    assert vase["maker"] == "Rookwood Pottery (Hersteller/in (Firma/Fabrikant/Manufaktur))"
    assert (vase["creation_date_display"], vase["creation_date_iso"]) == ("1899", "1899")
    assert vase["medium"] == "Irdenware (weißer Scherben); Ton; bemalt (Keramik); Bleiglasur"
    assert _validated(vase)["extra_fields"]["rights_work"] == ["gemeinfrei"]

    spring = map_lido(_records("official/LIDO-Example_FMobj00154983-LaPrimavera.xml")[0])
    assert spring["title"] == "La Primavera / Spring"  # the first of two language blocks
    assert spring["medium"] == "tempera; poplar"  # LIDO 1.0: terms of the creation event
    assert (spring["creation_date_display"], spring["creation_date_iso"]) == ("1482", "1482")
    assert spring["media"][1]["MediaID"] == "DE-Mb112/lido-obj00154983#resource-2"  # empty ID
    assert _media(spring, "width", "format")[0] == (120, "image/jpeg")  # formatResource "jpg"


def _record(body: str, admin: str = "") -> etree._Element:
    return _parse(
        f"<lido:lido {NS}><lido:lidoRecID>r-1</lido:lidoRecID>"
        f'<lido:descriptiveMetadata xml:lang="en">{body}</lido:descriptiveMetadata>'
        f'<lido:administrativeMetadata xml:lang="en">{admin}</lido:administrativeMetadata>'
        "</lido:lido>"
    )


def _dated(earliest: str, latest: str | None, date_type: str = "") -> dict[str, Any]:
    typed = f' lido:type="{date_type}"' if date_type else ""
    late = f"<lido:latestDate{typed}>{latest}</lido:latestDate>" if latest is not None else ""
    return map_lido(
        _record(
            "<lido:eventWrap><lido:eventSet><lido:event><lido:eventType>"
            f"<lido:conceptID>{T}lido00012</lido:conceptID></lido:eventType><lido:eventDate>"
            f"<lido:date><lido:earliestDate{typed}>{earliest}</lido:earliestDate>{late}"
            "</lido:date></lido:eventDate></lido:event></lido:eventSet></lido:eventWrap>"
        )
    )


@pytest.mark.parametrize(
    ("earliest", "latest", "date_type", "display", "iso"),
    [
        ("1775", "1775", "", "1775", "1775"),
        ("1889-06-01", None, T + "lido00528", "1889-06-01", "1889-06-01"),
        ("1889-06", "1889-06", "", "1889-06", "1889-06"),
        ("1923-01-01", "1923-12-31", "", "1923-01-01–1923-12-31", "1923"),
        ("1921-07-01", "1921-07-31", "", "1921-07-01–1921-07-31", "1921-07"),
        ("1921-02-01", "1921-02-28", "", "1921-02-01–1921-02-28", "1921-02"),
        ("1920-02-01", "1920-02-28", "", "1920-02-01–1920-02-28", None),  # 1920 is a leap year
        ("1480", "1485", "", "1480–1485", None),
        ("1896", "1896", T + "lido00529", "1896", None),  # estimated ("vor 1896")
        ("1896", "1896", "estimatedDate", "1896", None),
        ("1889-02-30", "1889-02-30", "", "1889-02-30", None),
        ("-0499", "-0499", "", "-0499", None),  # 500 BC: no ISO form the models accept
        ("1889-06-01T10:00:00Z", None, "", "1889-06-01T10:00:00Z", "1889-06-01"),
    ],
)
def test_creation_date_rule(
    earliest: str, latest: str | None, date_type: str, display: str, iso: str | None
) -> None:
    mapped = _dated(earliest, latest, date_type)
    assert (mapped["creation_date_display"], mapped.get("creation_date_iso")) == (display, iso)
    assert _validated(dict(mapped, title="t"))["creation_date_iso"] == iso


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://img.example.org/iiif/3/m-88/full/max/0/default.jpg",
         ("https://img.example.org/iiif/3/m-88", "jpg")),
        ("https://img.example.org/iiif/2/m-88/full/400,/0/default.png",
         ("https://img.example.org/iiif/2/m-88", "png")),
        ("https://a.example/iiif/image/v2/153505/full/300%2C/0/default.jpg",
         ("https://a.example/iiif/image/v2/153505", "jpg")),
        ("https://img.example.org/iiif/3/x/0,0,100,100/!200,200/90/gray.tif",
         ("https://img.example.org/iiif/3/x", "tif")),
        ("https://img.example.org/iiif/3/m-88/info.json",
         ("https://img.example.org/iiif/3/m-88", None)),
        ("http://www.bildindex.de/bilder/d/fm1172842", None),
        ("https://img.example.org/full/max/0/default.jpg", None),  # no identifier left
        ("https://img.example.org/iiif/3/m-88/full/max/0/default.jpg?x=1", None),
    ],
)  # fmt: skip
def test_iiif_image_urls(url: str, expected: tuple[str, str | None] | None) -> None:
    assert iiif_service(url) == expected


def test_manifest_links_in_both_real_world_forms() -> None:
    image_set = (
        "<lido:resourceSet><lido:resourceID>img-1</lido:resourceID>"
        '<lido:resourceRepresentation lido:type="thumb"><lido:linkResource '
        'lido:formatResource="image/jpeg">https://a.example/iiif/image/v2/7/full/300%2C/0/'
        "default.jpg</lido:linkResource></lido:resourceRepresentation>"
        "<lido:resourceRepresentation "
        'lido:type="http://iiif.io/api/presentation/2/context.json"><lido:linkResource '
        'lido:formatResource="application/ld+json">https://a.example/iiif/presentation/v2/7/'
        "manifest</lido:linkResource></lido:resourceRepresentation></lido:resourceSet>"
    )
    beside = map_lido(_record("", f"<lido:resourceWrap>{image_set}</lido:resourceWrap>"))
    assert beside["iiif_manifest_url"] == "https://a.example/iiif/presentation/v2/7/manifest"
    assert _media(beside, "MediaID", "iiif_image_service", "is_primary") == [
        ("img-1", "https://a.example/iiif/image/v2/7", True)
    ]
    own_set = (
        "<lido:resourceSet><lido:resourceRepresentation><lido:linkResource "
        'lido:formatResource="application/ld+json">https://m.example/iiif/9/manifest'
        "</lido:linkResource></lido:resourceRepresentation><lido:resourceType>"
        "<lido:term>IIIF Manifest</lido:term></lido:resourceType></lido:resourceSet>"
    )
    alone = map_lido(_record("", f"<lido:resourceWrap>{own_set}</lido:resourceWrap>"))
    assert alone["iiif_manifest_url"] == "https://m.example/iiif/9/manifest"
    assert "media" not in alone
    both = map_lido(_record("", f"<lido:resourceWrap>{image_set}{own_set}</lido:resourceWrap>"))
    assert both["iiif_manifest_url"] == "https://a.example/iiif/presentation/v2/7/manifest"
    assert [m[0] for m in _media(both, "MediaID")] == ["img-1"]


def test_relative_links_are_passed_on_for_the_contract_to_reject() -> None:
    relative = (
        "<lido:resourceWrap><lido:resourceSet><lido:resourceRepresentation><lido:linkResource>"
        "/iiif/3/obj-1/full/max/0/default.jpg</lido:linkResource></lido:resourceRepresentation>"
        "</lido:resourceSet><lido:resourceSet><lido:resourceRepresentation><lido:linkResource "
        'lido:formatResource="application/ld+json">/iiif/obj-1/manifest</lido:linkResource>'
        "</lido:resourceRepresentation><lido:resourceType><lido:term>IIIF Manifest</lido:term>"
        "</lido:resourceType></lido:resourceSet></lido:resourceWrap>"
    )
    title = "<lido:objectIdentificationWrap><lido:titleWrap><lido:titleSet><lido:appellationValue>"
    title += (
        "T</lido:appellationValue></lido:titleSet></lido:titleWrap></lido:objectIdentificationWrap>"
    )
    mapped = map_lido(_record(title, relative))
    assert mapped["iiif_manifest_url"] == "/iiif/obj-1/manifest"
    assert _media(mapped, "iiif_image_service", "format") == [("/iiif/3/obj-1", "image/jpeg")]
    with pytest.raises(RecordRejected) as rejected:
        _validated(mapped)
    assert rejected.value.reason == (
        "iiif_manifest_url: '/iiif/obj-1/manifest' is not an absolute http(s) URL; "
        "media[0].iiif_image_service: '/iiif/3/obj-1' is not an absolute http(s) URL"
    )


ODD = (
    "<lido:objectClassificationWrap><lido:objectWorkTypeWrap><lido:objectWorkType>"
    "<lido:term>  </lido:term></lido:objectWorkType></lido:objectWorkTypeWrap>"
    "</lido:objectClassificationWrap><lido:objectIdentificationWrap><lido:titleWrap>"
    "<lido:titleSet><lido:appellationValue/></lido:titleSet></lido:titleWrap>"
    "</lido:objectIdentificationWrap><lido:eventWrap><lido:eventSet><lido:event>"
    "<lido:eventType><lido:term>Herstellung</lido:term></lido:eventType><lido:eventActor/>"
    "<lido:eventDate><lido:date><lido:earliestDate>c. 1850</lido:earliestDate></lido:date>"
    "</lido:eventDate></lido:event></lido:eventSet></lido:eventWrap>"
)
ODD_ADMIN = (
    "<lido:rightsWorkWrap><lido:rightsWorkSet><lido:rightsType><lido:conceptID>urn:x:1"
    "</lido:conceptID><lido:term>All rights reserved</lido:term></lido:rightsType>"
    "</lido:rightsWorkSet></lido:rightsWorkWrap><lido:resourceWrap><lido:resourceSet>"
    "<lido:resourceRepresentation><lido:linkResource>images/local file.jpg</lido:linkResource>"
    "<lido:resourceMeasurementsSet><lido:measurementType>width</lido:measurementType>"
    "<lido:measurementValue>wide</lido:measurementValue></lido:resourceMeasurementsSet>"
    "</lido:resourceRepresentation></lido:resourceSet><lido:resourceSet/></lido:resourceWrap>"
)


def test_odd_and_incomplete_input() -> None:
    mapped = map_lido(_record(ODD, ODD_ADMIN))
    assert mapped["creation_date_display"] == "c. 1850"
    assert "creation_date_iso" not in mapped and "title" not in mapped and "maker" not in mapped
    assert "object_type" not in mapped and "rights_uri" not in mapped
    assert mapped["rights_work"] == ["urn:x:1", "All rights reserved"]
    assert mapped["media"] == [
        {"MediaID": "r-1#resource-1", "image_url": "images/local file.jpg",
         "format": "image/jpeg", "is_primary": True},
        {"MediaID": "r-1#resource-2", "is_primary": False},
    ]  # fmt: skip
    with pytest.raises(RecordRejected) as rejected:
        _validated(mapped)
    # Links are passed on as found: the contract, not the reader, rejects a relative one.
    assert rejected.value.reason == (
        "title: field required; "
        "media[0].image_url: 'images/local file.jpg' is not an absolute http(s) URL"
    )
    del mapped["media"][0]["image_url"]
    assert _validated(dict(mapped, title="t"))["extra_fields"]["rights_work"][0] == "urn:x:1"
    assert map_lido(_parse(f"<lido:lidoWrap {NS}/>")) == {}
    assert map_lido(_parse("<record><metadata/></record>")) == {}
    assert map_lido(_parse(f"<lido:lido {NS}/>")) == {}


def test_removing_any_element_or_its_text_never_breaks_the_reader() -> None:
    (original,) = _records("official/LIDO-v1.1-Example_FMobj00154983-LaPrimavera.xml")
    count = sum(1 for element in original.iter() if isinstance(element.tag, str))
    for index in range(1, count):
        for change in ("remove", "blank"):
            record = copy.deepcopy(original)
            element = [e for e in record.iter() if isinstance(e.tag, str)][index]
            if change == "remove":
                element.getparent().remove(element)
            else:
                element.text = " "
                element.attrib.clear()
            mapped = map_lido(record)
            try:
                _validated(mapped)
            except RecordRejected as rejected:
                assert rejected.reason == "title: field required", (index, change)
    print(f"robustness: {count - 1} elements removed or blanked one at a time")


# --- round trip through the tap's own writer ------------------------------------------------------


def _as_xml_text(value: str | None) -> str | None:
    """What an XML parser gives back for text the writer wrote (XML 1.0 normalises line ends)."""
    return None if value is None else value.replace("\r\n", "\n").replace("\r", "\n")


def _expected_iso(obj: dict[str, Any]) -> str | None:
    """The documented rule: the object's own ISO date, else the one exact date its display
    text states (what the writer put in earliestDate/latestDate), else none."""
    if obj["creation_date_iso"]:
        return obj["creation_date_iso"]
    for text in (obj["creation_date_raw"], obj["creation_date_display"]):
        parsed = parse_date_range(text)
        if parsed is not None:
            exact = parsed.qualifier is None and parsed.earliest == parsed.latest
            return (
                parsed.earliest if exact and iso_date(parsed.earliest) == parsed.earliest else None
            )
    return None


def _expected_media(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The writer writes sizes only beside a IIIF service, links its JPEG derivative (so the
    format read back is JPEG), and the object's rights on an asset without its own."""
    expected = []
    for item in obj["media"] or []:
        service = item["iiif_image_service"]
        expected.append(
            {
                "media_id": item["media_id"],
                "iiif_image_service": service,
                "image_url": None,
                "width": item["width"] or None if service else None,
                "height": item["height"] or None if service else None,
                "format": "image/jpeg" if service else None,
                "caption": _as_xml_text(item["caption"]),
                "rights_uri": item["rights_uri"] or obj["rights_uri"],
            }
        )
    return expected


TEXT_FIELDS = ("title", "maker", "medium", "dimensions", "accession_number", "description")
SAME_FIELDS = ("credit_line", "rights_uri", "iiif_manifest_url")


def test_round_trip_through_the_lido_writer() -> None:
    objects = SYNTHETIC.synthetic_objects(500)
    options = LidoOptions(record_info_base_url="https://collection.example.org/objects/")
    counts = dict.fromkeys(("own ISO", "derived ISO", "manifest", "manifest alone", "items"), 0)
    counts["items without service"] = 0
    for obj in objects:
        mapped = map_lido(_parse(build_lido_xml(obj, options)))
        got = _validated(mapped, obj["object_id"])
        expected = {name: _as_xml_text(obj[name]) for name in TEXT_FIELDS + SAME_FIELDS}
        expected["title"] = expected["title"] or "[untitled]"
        expected["object_type"] = obj["object_type"] or "not specified"
        display = obj["creation_date_display"] or obj["creation_date_raw"]
        expected["creation_date_display"] = _as_xml_text(display or obj["creation_date_iso"])
        expected["creation_date_iso"] = _expected_iso(obj)
        assert {name: got[name] for name in expected} == expected, obj["object_id"]
        keys = _expected_media(obj)[0].keys() if obj["media"] else ()
        assert [{k: item[k] for k in keys} for item in got["media"] or []] == _expected_media(obj)
        counts["own ISO"] += bool(obj["creation_date_iso"])
        counts["derived ISO"] += bool(
            expected["creation_date_iso"] and not obj["creation_date_iso"]
        )
        counts["manifest"] += bool(obj["iiif_manifest_url"])
        counts["manifest alone"] += bool(obj["iiif_manifest_url"] and not obj["media"])
        counts["items"] += len(obj["media"] or [])
        counts["items without service"] += sum(
            1 for item in obj["media"] or [] if not item["iiif_image_service"]
        )
    print(f"round trip: {len(objects)} objects equal after LIDO and back; {counts}")
    assert len(objects) > 450 and all(counts.values())


@pytest.mark.parametrize("iso", ["1900-12", "2001-09", "1775", "1889-06-01"])
def test_an_iso_year_month_or_date_survives_the_writer_and_the_reader(iso: str) -> None:
    obj = _validated({"title": "T", "creation_date_iso": iso, "creation_date_display": "x"}, "o")
    xml = build_lido_xml(obj)
    assert f"<lido:earliestDate lido:type=\"{DATE_EXACT}\">{iso}</lido:earliestDate>" in xml
    assert map_lido(_parse(xml))["creation_date_iso"] == iso
