"""Convert the bundled CC0 museum data into the reference server's sample collection.

Reads the Tate collection dataset (1,000 artworks + the artists they cite) and ten Art Institute of
Chicago artwork responses from a data directory, and writes the three resources of the Museum CMS
harvesting API as JSON Lines, one record per line, without ``next_cursor`` (the server adds it):

    sample/objects.jsonl   {"ObjectID": "T00938", "title": ..., "media": [...], "modified": ...}
    sample/rights.jsonl    {"RightsID": "r-T00938", "ObjectID": "T00938", "statement_uri": ...}
    sample/media.jsonl     {"MediaID": "T00938_8", "ObjectID": "T00938", "iiif_image_service": ...}

(``sample/`` is ``tap_museumcms/refserver/sample/``.)

Run it once when the source data changes; the outputs are committed, the package never reads the
data directory at run time::

    python scripts/build_sample.py --data <folder with tate/ and aic/ of the CC0 data dumps>

Conversion rules (also in ``sample/ATTRIBUTION.md``):

* ``ObjectID`` and ``accession_number`` are the museum's accession number (Tate ``acno``,
  AIC ``main_reference_number``). Tate records come first (sorted by accession number), then AIC.
* ``creation_date_display`` is the source's date text as written ("c.1830–41", "?1831").
  ``creation_date_iso`` is the year when the source's structured range names a single year
  (Tate ``dateRange.startYear == endYear``; AIC ``date_start == date_end``); absent when the source
  says the date is unknown ("date not known", "n.d."); otherwise the CMS exports the fuzzy text
  itself (e.g. "1954-8", "c.1790-1") and the record is one the tap must quarantine.
* Rights: Tate metadata is CC0 but its images are not licensed. A Tate work whose every named maker
  died before 1944 gets the Public Domain Mark, one with a living or recently dead maker
  ``InC/1.0``, one whose makers' dates are unknown ``UND/1.0``. AIC ``is_public_domain`` gives
  CC0 in the non-canonical ``https`` form (the tap normalises it).
* Media: AIC ``image_id`` (and ``alt_image_ids``) become IIIF Image API 2 services at
  ``https://www.artic.edu/iiif/2/{image_id}``; Tate ``thumbnailUrl`` is used as the image URL.
* ``modified``: AIC ``updated_at`` converted to UTC; Tate has none, so the date the dataset was
  frozen (2014-10-01T00:00:00Z) is used for every Tate record.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import typing as t
from pathlib import Path

TATE_MODIFIED = "2014-10-01T00:00:00Z"
PD_DEATH_BEFORE = 1944  # life + 70 years at the Tate data freeze (October 2014)
RS_INC = "http://rightsstatements.org/vocab/InC/1.0/"
RS_UND = "http://rightsstatements.org/vocab/UND/1.0/"
CC_PDM = "http://creativecommons.org/publicdomain/mark/1.0/"
CC0_NONCANONICAL = "https://creativecommons.org/publicdomain/zero/1.0/"
AIC_IIIF = "https://www.artic.edu/iiif/2"
AIC_MANIFEST = "https://api.artic.edu/api/v1/artworks/{id}/manifest.json"
UNKNOWN_DATES = {"date not known", "n.d."}

Record = dict[str, t.Any]


def _drop_none(record: Record) -> Record:
    return {k: v for k, v in record.items() if v is not None}


def _iso_date(text: str | None, start: int | None, end: int | None) -> str | None:
    """The CMS's ISO export of a date: a clean year, nothing, or the fuzzy text itself."""
    if start is not None and start == end:
        return f"{start:04d}"
    if text is None or text.strip() in UNKNOWN_DATES:
        return None
    return text.replace("\u2013", "-")


def _death_year(contributor: Record) -> int | None | str:
    """Death year from a Tate contributor ``date`` ("1718–1784"); "living" for "born 1938"."""
    date = contributor.get("date") or ""
    if date.startswith("born"):
        return "living"
    match = re.search(r"(\d{4})\s*$", date)
    return int(match.group(1)) if match else None


def _tate_rights_uri(contributors: list[Record]) -> str:
    deaths = [_death_year(c) for c in contributors]
    if not deaths or any(d is None for d in deaths):
        return RS_UND
    if all(isinstance(d, int) and d < PD_DEATH_BEFORE for d in deaths):
        return CC_PDM
    return RS_INC


def _tate_maker(contributors: list[Record]) -> str | None:
    names = [
        c["fc"] if c.get("role") in (None, "artist") else f"{c['role']} {c['fc']}"
        for c in sorted(contributors, key=lambda c: c.get("displayOrder", 0))
    ]
    return "; ".join(names) or None


def convert_tate(artwork: Record) -> tuple[Record, Record, list[Record]]:
    """One Tate artwork JSON → (object, rights, media records)."""
    acno = artwork["acno"]
    date_range = artwork.get("dateRange") or {}
    rights_uri = _tate_rights_uri(artwork.get("contributors") or [])
    media: list[Record] = []
    if artwork.get("thumbnailUrl"):
        url = artwork["thumbnailUrl"]
        media.append(
            {
                "MediaID": url.rsplit("/", 1)[-1].rsplit(".", 1)[0],
                "iiif_image_service": url,
                "format": "image/jpeg",
                "is_primary": True,
            }
        )
    obj = _drop_none(
        {
            "ObjectID": acno,
            "title": artwork.get("title"),
            "creation_date_iso": _iso_date(
                artwork.get("dateText"), date_range.get("startYear"), date_range.get("endYear")
            ),
            "creation_date_display": artwork.get("dateText"),
            "maker": _tate_maker(artwork.get("contributors") or []),
            "object_type": artwork.get("classification"),
            "medium": artwork.get("medium"),
            "dimensions": artwork.get("dimensions"),
            "accession_number": acno,
            "credit_line": artwork.get("creditLine"),
            "rights_uri": rights_uri,
            "media": media,
            "modified": TATE_MODIFIED,
        }
    )
    copyright_text = artwork.get("thumbnailCopyright")
    rights = _drop_none(
        {
            "RightsID": f"r-{acno}",
            "ObjectID": acno,
            "statement_uri": rights_uri,
            "holder": copyright_text.removeprefix("© ").strip() if copyright_text else None,
            "credit_line": copyright_text,
            "modified": TATE_MODIFIED,
        }
    )
    media_records = [
        {
            "MediaID": m["MediaID"],
            "ObjectID": acno,
            **m,
            "caption": artwork.get("title"),
            "modified": TATE_MODIFIED,
        }
        for m in media
    ]
    return obj, rights, media_records


def _utc(stamp: str) -> str:
    parsed = dt.datetime.fromisoformat(stamp).astimezone(dt.UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


def convert_aic(artwork: Record) -> tuple[Record, Record, list[Record]]:
    """One AIC artwork detail JSON → (object, rights, media records)."""
    acno = artwork["main_reference_number"]
    modified = _utc(artwork.get("updated_at") or artwork["last_updated"])
    rights_uri = CC0_NONCANONICAL if artwork.get("is_public_domain") else RS_INC
    manifest = AIC_MANIFEST.format(id=artwork["id"])
    thumb = artwork.get("thumbnail") or {}
    media: list[Record] = []
    image_ids = [artwork.get("image_id")] + list(artwork.get("alt_image_ids") or [])
    for index, image_id in enumerate(i for i in image_ids if i):
        primary = index == 0
        media.append(
            _drop_none(
                {
                    "MediaID": image_id,
                    "iiif_image_service": f"{AIC_IIIF}/{image_id}",
                    "width": thumb.get("width") if primary else None,
                    "height": thumb.get("height") if primary else None,
                    "format": "image/jpeg",
                    "is_primary": primary,
                }
            )
        )
    obj = _drop_none(
        {
            "ObjectID": acno,
            "title": artwork.get("title"),
            "creation_date_iso": _iso_date(
                artwork.get("date_display"), artwork.get("date_start"), artwork.get("date_end")
            ),
            "creation_date_display": artwork.get("date_display"),
            "maker": artwork.get("artist_display"),
            "object_type": artwork.get("artwork_type_title"),
            "medium": artwork.get("medium_display"),
            "dimensions": artwork.get("dimensions"),
            "department": artwork.get("department_title"),
            "accession_number": acno,
            "description": artwork.get("description"),
            "credit_line": artwork.get("credit_line"),
            "rights_uri": rights_uri,
            "iiif_manifest_url": manifest,
            "media": media,
            "modified": modified,
        }
    )
    rights = _drop_none(
        {
            "RightsID": f"r-{acno}",
            "ObjectID": acno,
            "statement_uri": rights_uri,
            "holder": artwork.get("copyright_notice"),
            "credit_line": artwork.get("credit_line"),
            "modified": modified,
        }
    )
    caption = artwork.get("thumbnail", {}).get("alt_text") if artwork.get("thumbnail") else None
    media_records = [
        _drop_none(
            {
                "MediaID": m["MediaID"],
                "ObjectID": acno,
                **m,
                "iiif_manifest_url": manifest,
                "caption": caption if m["is_primary"] else None,
                "modified": modified,
            }
        )
        for m in media
    ]
    return obj, rights, media_records


def build(data: Path) -> dict[str, list[Record]]:
    """Convert everything under ``data``.

    Returns:
        ``{"objects": [...], "rights": [...], "media": [...]}`` in cursor order.
    """
    out: dict[str, list[Record]] = {"objects": [], "rights": [], "media": []}
    tate = [json.loads(p.read_text("utf-8")) for p in (data / "tate" / "artworks").rglob("*.json")]
    aic_dir = data / "aic" / "json" / "artworks"
    aic = [json.loads(p.read_text("utf-8")) for p in aic_dir.glob("*.json")]
    converted = [convert_tate(a) for a in sorted(tate, key=lambda a: a["acno"])]
    converted += [convert_aic(a) for a in sorted(aic, key=lambda a: a["main_reference_number"])]
    for obj, rights, media in converted:
        out["objects"].append(obj)
        out["rights"].append(rights)
        out["media"].extend(media)
    for stream, key in (("objects", "ObjectID"), ("rights", "RightsID"), ("media", "MediaID")):
        keys = [r[key] for r in out[stream]]
        if len(keys) != len(set(keys)):
            raise SystemExit(f"duplicate {key} in {stream}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True,
                        help="folder holding tate/ and aic/ (the CC0 data dumps)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "tap_museumcms" / "refserver" / "sample",
    )
    args = parser.parse_args(argv)
    resources = build(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    for stream, records in resources.items():
        lines = (json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
        (args.out / f"{stream}.jsonl").write_text("".join(lines), encoding="utf-8")
        print(f"{stream}: {len(records)} records", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
