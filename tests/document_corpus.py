"""Every object the LIDO and IIIF tests know, for comparing a builder with its reference.

:func:`corpus_objects` gathers, each under a label naming where it comes from:

- the 57 real Tate / AIC objects (``fixtures/standards/real_objects.json``);
- the real API records of the dialect fixtures (AIC, Cleveland, Europeana, the Met, the
  Smithsonian, SMK) and the real LIDO records (``fixtures/lido``), mapped by their dialect and
  validated by the models, as the tap hands them on;
- the reference server's bundled sample and a generated collection, through the models;
- 2,000 synthetic objects (``fixtures/standards/synthetic.py``);
- hostile text (every ``synthetic.HOSTILE`` sample in every text field, of the object and of its
  images), odd ids and URLs, and objects the models would never pass (numbers where text is
  expected, media that is not a list, sizes that are text) since the builders take any mapping.

:func:`lido_options` and :func:`iiif_options` list the settings to build them with, hostile
ones included. :func:`outcome` turns a build into something comparable: the output, or the type
of the exception it raised.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fixtures.standards import synthetic as SYNTHETIC
from lxml import etree

from tap_museumcms.dialects import aic, cleveland, europeana, met, smithsonian, smk
from tap_museumcms.dialects.lido_in import map_lido
from tap_museumcms.iiif import IIIFOptions
from tap_museumcms.lido import LidoOptions
from tap_museumcms.models import RecordRejected, ValidationOptions, validate_record
from tap_museumcms.refserver.collection import GeneratedCollection, SampleCollection

FIXTURES = Path(__file__).parent / "fixtures"
KEEP = ValidationOptions(fuzzy_dates="keep")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_LIDO = "{http://www.lido-schema.org}lido"

BASE_OBJECT: dict[str, Any] = {
    "object_id": "1994.127",
    "title": "Harbour at Dawn",
    "creation_date_iso": None,
    "creation_date_display": "c.1830–41",
    "creation_date_raw": None,
    "maker": "A. Painter",
    "object_type": "painting",
    "medium": "Oil on canvas",
    "dimensions": "65 x 81 cm",
    "department": "European Paintings",
    "accession_number": "1994.127",
    "description": "A harbour at dawn.",
    "credit_line": "Gift of A. Donor",
    "rights_uri": "http://rightsstatements.org/vocab/InC/1.0/",
    "iiif_manifest_url": "https://cms.example.org/iiif/1994.127/manifest",
    "media": [
        {
            "media_id": "m-88",
            "iiif_image_service": "https://img.example.org/iiif/3/m-88",
            "width": 4000,
            "height": 3000,
            "format": "image/jpeg",
            "is_primary": False,
            "caption": "Front",
            "rights_uri": None,
        },
        {
            "media_id": "m-89",
            "iiif_image_service": "https://img.example.org/iiif/2/m-89/",
            "width": 1000,
            "height": 800,
            "format": "image/tiff",
            "is_primary": True,
            "caption": None,
            "rights_uri": "http://creativecommons.org/publicdomain/zero/1.0/",
        },
    ],
    "modified": "2026-11-20T10:00:00Z",
    "deleted": False,
}
OBJECT_TEXT_FIELDS = (
    "title",
    "maker",
    "object_type",
    "medium",
    "dimensions",
    "department",
    "accession_number",
    "description",
    "credit_line",
    "creation_date_display",
    "creation_date_raw",
)
MEDIA_TEXT_FIELDS = ("media_id", "caption", "format", "image_url")


def _validated(raw: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return validate_record("objects", raw, KEEP)
    except RecordRejected:
        return None


def _dialect_objects() -> list[tuple[str, dict[str, Any]]]:
    """Real API records mapped by their dialect, then validated."""
    mapped: list[tuple[str, dict[str, Any]]] = []
    for path in sorted((FIXTURES / "aic" / "artworks").glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        iiif_url, api_base = "https://www.artic.edu/iiif/2", "https://api.artic.edu/api/v1"
        mapped.append(
            (f"aic {path.stem}", aic.map_artwork(record, iiif_url=iiif_url, api_base=api_base))
        )
    page = json.loads((FIXTURES / "cleveland" / "artworks.json").read_text(encoding="utf-8"))
    mapped += [(f"cleveland {i}", cleveland.map_artwork(r)) for i, r in enumerate(page["data"])]
    page = json.loads((FIXTURES / "europeana" / "search_page.json").read_text(encoding="utf-8"))
    mapped += [(f"europeana {i}", europeana.map_item(r)) for i, r in enumerate(page["items"])]
    for oid in (436535, 570722):
        record = json.loads((FIXTURES / "met" / f"object-{oid}.json").read_text(encoding="utf-8"))
        mapped.append((f"met {oid}", met.map_object(record)))
    for name in ("edanmdm-nasm_A19710896000.json", "chndm_1931-66-88.json"):
        row = json.loads((FIXTURES / "smithsonian" / name).read_text(encoding="utf-8"))
        mapped.append((f"smithsonian {name}", smithsonian.map_row(row)))
    item = json.loads((FIXTURES / "smk" / "item.json").read_text(encoding="utf-8"))
    mapped.append(("smk item", smk.map_item(item)))
    for path in sorted((FIXTURES / "lido").rglob("*.xml")):
        root = etree.parse(str(path), _PARSER).getroot()
        records = [root] if root.tag == _LIDO else root.findall(_LIDO)
        for index, record in enumerate(records):
            raw = {
                **map_lido(record),
                "ObjectID": f"oai:{path.name}:{index}",
                "modified": "2026-11-20T10:00:00Z",
            }
            mapped.append((f"lido {path.name} {index}", raw))
    return [(label, obj) for label, raw in mapped if (obj := _validated(raw)) is not None]


def _server_objects() -> list[tuple[str, dict[str, Any]]]:
    """The reference server's sample and 1,000 generated lines, through the models."""
    found = []
    for name, collection in (
        ("sample", SampleCollection()),
        ("generated", GeneratedCollection(1000, invalid_every=7)),
    ):
        for position in range(collection.size("objects")):
            try:
                raw = json.loads(collection.record_at("objects", position))
            except ValueError:
                continue
            obj = _validated(raw) if isinstance(raw, dict) else None
            if obj is not None:
                found.append((f"{name} {position}", obj))
    return found


def _hostile_objects() -> list[tuple[str, dict[str, Any]]]:
    """Hostile text in every field of the object and of its images."""
    found = []
    for number, hostile in enumerate(SYNTHETIC.HOSTILE):
        texts = dict.fromkeys(OBJECT_TEXT_FIELDS, hostile)
        hostile_media = dict.fromkeys(MEDIA_TEXT_FIELDS, hostile)
        first, second = BASE_OBJECT["media"]
        media = [
            dict(first, **hostile_media, rights_uri=hostile),
            dict(second, **hostile_media, iiif_image_service=None),
        ]
        found.append((f"hostile {number}", dict(BASE_OBJECT, **texts)))
        found.append((f"hostile id {number}", dict(BASE_OBJECT, object_id=f"A/B {hostile}")))
        found.append((f"hostile media {number}", dict(BASE_OBJECT, media=media)))
        found.append(
            (
                f"hostile urls {number}",
                dict(
                    BASE_OBJECT,
                    rights_uri=hostile,
                    iiif_manifest_url=f"https://cms.example.org/{hostile}",
                    media=[
                        dict(BASE_OBJECT["media"][0], iiif_image_service=f"https://i.org/{hostile}")
                    ],
                ),
            )
        )
    return found


def _odd_objects() -> list[tuple[str, dict[str, Any]]]:
    """Objects the models would not pass on: the builders must still agree on them."""
    base, image = BASE_OBJECT, BASE_OBJECT["media"][0]
    odd: dict[str, dict[str, Any]] = {
        "minimal": {"object_id": "x-1"},
        "no id": {"object_id": "\x00 "},
        "numbers": dict(
            base, object_id=42, accession_number=1994, title=0, maker=False, credit_line=3.5
        ),
        "crlf": dict(
            base,
            title="a\r\nb\rc",
            description="  two\r\n\r\nlines  ",
            creation_date_display="c.1830\r\n",
        ),
        "markup": dict(
            base,
            title='<b>"x" & y</b> ]]>',
            credit_line="A & B <c>",
            iiif_manifest_url="https://c.example.org/m?a=1&b=<2>",
        ),
        "iso dates": dict(base, creation_date_iso="1900-12", creation_date_display=None),
        "iso full": dict(base, creation_date_iso="1889-06-01T10:00:00Z"),
        "raw date": dict(base, creation_date_raw="1890s", creation_date_display="the 1890s"),
        "no date": dict(base, creation_date_display="date not known", maker=None),
        "date only": dict(base, maker=None, creation_date_display="?exhibited 1807"),
        "maker only": dict(base, creation_date_display=None),
        "unknown rights": dict(base, rights_uri="All rights reserved", credit_line=None),
        "https rights": dict(base, rights_uri="https://creativecommons.org/licenses/by/4.0/"),
        "media tuple": dict(base, media=tuple(base["media"])),
        "media dict": dict(base, media=image),
        "media text": dict(base, media="m-88"),
        "media junk": dict(base, media=[None, "x", 3, image]),
        "manifest only": dict(base, media=[]),
        "manifest json": dict(base, iiif_manifest_url="https://c.example.org/1/manifest.json"),
        "no manifest": dict(base, iiif_manifest_url=None),
        "relative manifest": dict(base, iiif_manifest_url="/iiif/1/manifest"),
        "tab in host": dict(base, iiif_manifest_url="https://c.exa\tmple.org/1/manifest"),
        "query host": dict(base, iiif_manifest_url="https://c.example.org?x=/1/manifest"),
        "bad ipv6 host": dict(base, iiif_manifest_url="https://[c.example.org/1/manifest"),
        "sizes as text": dict(base, media=[dict(image, width="4000", height="0300")]),
        "sizes odd": dict(base, media=[dict(image, width=True, height=-3), dict(image, width=0)]),
        "superscript size": dict(base, media=[dict(image, width="²")]),
        "same media ids": dict(base, media=[image, image, dict(image, media_id=None)]),
        "image file": dict(
            base,
            iiif_manifest_url=None,
            media=[
                {
                    "media_id": "DT1567.jpg",
                    "image_url": "https://i.org/a.jpg?x=1&y=2",
                    "format": 'image/"jpeg"\t',
                    "width": 3000,
                    "height": 2400,
                },
                {"image_url": "https://i.org/b.png", "format": None, "width": None},
            ],
        ),
        "smithsonian ids": dict(
            base,
            media=[
                dict(
                    image,
                    iiif_image_service=(
                        "https://ids.si.edu/ids/iiif/NASM-A19710896000-NASM2018-02400"
                    ),
                )
            ],
        ),
        "ftp service": dict(base, media=[dict(image, iiif_image_service="ftp://i.org/m")]),
        "primary flags": dict(
            base, media=[dict(image, is_primary=1), dict(image, media_id="b", is_primary=True)]
        ),
    }
    return [(f"odd {name}", obj) for name, obj in odd.items()]


@functools.cache
def corpus_objects() -> tuple[tuple[str, dict[str, Any]], ...]:
    """Every object of the corpus, as ``(label, object)``, e.g. ``("aic 27992", {...})``."""
    real = json.loads((FIXTURES / "standards" / "real_objects.json").read_text(encoding="utf-8"))
    synthetic = SYNTHETIC.synthetic_objects(2000)
    return (
        *[(f"real {obj['object_id']}", obj) for obj in real],
        *_dialect_objects(),
        *_server_objects(),
        *[(f"synthetic {obj['object_id']}", obj) for obj in synthetic],
        *_hostile_objects(),
        *_odd_objects(),
    )


def lido_options() -> dict[str, LidoOptions]:
    """Settings of the LIDO builder to compare with, by name."""
    return {
        "defaults": LidoOptions(),
        "info link": LidoOptions(
            record_source="Example Museum",
            record_info_base_url="https://collection.example.org/objects/",
        ),
        "other language and ids": LidoOptions(
            language="de",
            id_type="uri",
            record_rights_uri="http://rightsstatements.org/vocab/InC/1.0/",
        ),
        "hostile": LidoOptions(
            record_source='Museum <&> "x"\x00\t',
            language=' e"n\r\n',
            record_info_base_url=' https://c.example.org/?a=1&b="2"\r\n',
            id_type='urn:x:<&>"\t',
            record_rights_uri="All rights\r <&>",
        ),
        "blank": LidoOptions(record_source=" \x00", language="", record_rights_uri="", id_type=""),
        "illegal id type": LidoOptions(id_type="local\x00"),
        "illegal record rights": LidoOptions(record_rights_uri="http://x.org/\ud800"),
    }


def iiif_options() -> dict[str, IIIFOptions]:
    """Settings of the IIIF builder to compare with, by name."""
    return {
        "defaults": IIIFOptions(),
        "institution": IIIFOptions(
            iiif_base_url="https://iiif.example.org/manifests",
            provider_id="https://www.wikidata.org/entity/Q1",
            provider_label="Example Museum",
            provider_homepage="https://www.example.org/",
        ),
        "homepage only": IIIFOptions(
            iiif_base_url="https://iiif.example.org/m/",
            provider_homepage="https://www.example.org/",
            language="de",
        ),
        "hostile": IIIFOptions(
            iiif_base_url=" https://iiif.example.org/\x00m// ",
            provider_id="not a URI",
            provider_label=" <&>\ud800 ",
            provider_homepage="ftp://example.org",
            language=" \x00 ",
        ),
        "no http base": IIIFOptions(iiif_base_url="iiif.example.org/m", provider_label=""),
    }


def outcome(build: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """``("ok", output)`` of a build, or ``("raised", exception type name)``: a ``ValueError``
    of any kind counts as one (lxml raised ``UnicodeEncodeError``, a ``ValueError``, for a lone
    surrogate in a setting it wrote unchecked; the prepared builder raises ``ValueError``)."""
    try:
        return "ok", build(*args)
    except ValueError:  # lxml refuses XML-illegal text with ValueError or UnicodeEncodeError
        return "raised", "ValueError"
    except Exception as error:  # noqa: BLE001 - any exception is an outcome to compare
        return "raised", type(error).__name__


def corpus_sample(step: int = 8) -> tuple[tuple[str, dict[str, Any]], ...]:
    """The corpus with the bulk groups (synthetic, reference server) thinned to every
    ``step``-th object: enough for settings, which only change the fixed parts of a document."""
    bulk = ("synthetic ", "sample ", "generated ")
    return tuple(
        entry
        for index, entry in enumerate(corpus_objects())
        if not entry[0].startswith(bulk) or index % step == 0
    )
