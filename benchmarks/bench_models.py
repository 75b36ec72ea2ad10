"""Throughput of the validation contract: validate N generated object records, print records/s.

Run: ``.venv/bin/python benchmarks/bench_models.py [N]`` (default 50,000). The records look like
the contract's example object (18 fields, one embedded media item) with some variety: numeric
keys, offsets in ``modified``, a MARC delimiter in one record out of ten, an extra field in one out
of five. The singer-sdk ceiling to beat is about 25,000 records/s.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from tap_museumcms.models import validate_record


def make_object(i: int) -> dict[str, Any]:
    """One raw object record, e.g. ``{"ObjectID": "1994.0", "title": "Harbour at Dawn 0", ...}``."""
    record: dict[str, Any] = {
        "ObjectID": i if i % 7 == 0 else f"1994.{i}",
        "title": f"Harbour at Dawn {i}" + ("\x1fbsketch" if i % 10 == 0 else ""),
        "creation_date_iso": ("1889-06-01", "1889-06", "1889")[i % 3],
        "creation_date_display": "June 1889",
        "maker": "A. Painter",
        "object_type": "painting",
        "medium": "Oil on canvas",
        "dimensions": "65 x 81 cm",
        "department": "European Paintings",
        "accession_number": f"1994.{i}",
        "description": "A harbour at dawn, boats at anchor, a lighthouse to the left. " * 3,
        "credit_line": "Gift of a friend of the museum",
        "rights_uri": ("http://rightsstatements.org/vocab/InC/1.0/", "CC0")[i % 2],
        "iiif_manifest_url": f"https://cms.example.org/iiif/1994.{i}/manifest",
        "media": [
            {
                "MediaID": f"m-{i}",
                "iiif_image_service": f"https://img.example.org/iiif/3/m-{i}",
                "width": 4000,
                "height": "3000",
                "format": "image/jpeg",
                "is_primary": True,
            }
        ],
        "modified": ("2026-11-20T10:00:00Z", "2026-11-20T11:00:00.250+01:00")[i % 2],
    }
    if i % 5 == 0:
        record["legacy_number"] = f"L-{i}"
    return record


def main(count: int) -> float:
    """Validate ``count`` records and return records per second."""
    records = [make_object(i) for i in range(count)]
    started = time.perf_counter()
    for raw in records:
        validate_record("objects", raw)
    elapsed = time.perf_counter() - started
    return count / elapsed


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    rate = main(n)
    print(f"validated {n} object records: {rate:,.0f} records/s")
