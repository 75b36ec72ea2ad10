"""What a LIDO record and a IIIF manifest cost per object: the previous builders against today's.

    .venv/bin/python benchmarks/bench_documents.py                 # 3,000 objects, 7 rounds
    .venv/bin/python benchmarks/bench_documents.py --objects 10000 --rounds 5

The objects are made the way the tap makes them: the reference server's generated collection
(the lines ``bench_harvest.py`` serves) through the models, and the 57 real Tate / AIC objects
of ``tests/fixtures/standards/real_objects.json`` repeated to the same count. "before" is the
element-by-element builder kept in ``tests/lido_reference.py`` / ``tests/iiif_reference.py``,
"after" is ``tap_museumcms.lido`` / ``tap_museumcms.iiif``; both build the stream record
(:func:`lido_record`, :func:`manifest_record`) with the tap's default settings. Rounds are
interleaved and the best round is kept (CPU time of this process, so other load matters less);
"+ encode" adds the msgspec encoding of the records, as the RECORD line writer does it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import iiif_reference  # noqa: E402
import lido_reference  # noqa: E402

from tap_museumcms import iiif, lido  # noqa: E402
from tap_museumcms.models import RecordRejected, validate_record  # noqa: E402
from tap_museumcms.refserver.collection import GeneratedCollection  # noqa: E402

Build = Callable[[dict[str, Any]], Any]
_ENCODE = msgspec.json.Encoder().encode


def generated_objects(count: int) -> list[dict[str, Any]]:
    """The valid objects among the first ``count`` lines of the generated collection."""
    collection = GeneratedCollection(count, invalid_every=50)
    objects = []
    for position in range(count):
        try:
            raw = json.loads(collection.record_at("objects", position))
            objects.append(validate_record("objects", raw))
        except (ValueError, RecordRejected):
            continue
    return objects


def real_objects(count: int) -> list[dict[str, Any]]:
    """The real fixture objects, repeated to ``count``."""
    path = ROOT / "tests" / "fixtures" / "standards" / "real_objects.json"
    real = json.loads(path.read_text(encoding="utf-8"))
    return [real[index % len(real)] for index in range(count)]


def builders() -> dict[str, Build]:
    """The four builders with the tap's default settings (no institution, no base URLs)."""
    lido_options = lido.LidoOptions()
    iiif_options = iiif.IIIFOptions()
    return {
        "lido before": lambda obj: lido_reference.lido_record(obj, lido_options),
        "lido after": lambda obj: lido.lido_record(obj, lido_options),
        "iiif before": lambda obj: iiif_reference.manifest_record(obj, iiif_options),
        "iiif after": lambda obj: iiif.manifest_record(obj, iiif_options),
        "encode after": lambda obj: (
            _ENCODE(lido.lido_record(obj, lido_options)),
            _ENCODE(iiif.manifest_record(obj, iiif_options)),
        ),
    }


def measure(objects: list[dict[str, Any]], rounds: int) -> dict[str, float]:
    """Best CPU µs per object of each builder over interleaved rounds."""
    best = dict.fromkeys(builders(), float("inf"))
    for _ in range(rounds):
        for name, build in builders().items():
            started = time.process_time()
            for obj in objects:
                build(obj)
            best[name] = min(best[name], time.process_time() - started)
    return {name: seconds / len(objects) * 1e6 for name, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    corpora = {
        "generated": generated_objects(args.objects),
        "real Tate/AIC": real_objects(args.objects),
    }
    for obj in corpora["generated"][:50] + corpora["real Tate/AIC"][:57]:  # same documents?
        assert lido.build_lido_xml(obj) == lido_reference.build_lido_xml(obj)
        assert iiif.build_manifest(obj) == iiif_reference.build_manifest(obj)
    print(f"CPU µs per object, best of {args.rounds} interleaved rounds")
    print("| objects | document | before | after | speed-up |")
    print("| --- | --- | --- | --- | --- |")
    for label, objects in corpora.items():
        us = measure(objects, args.rounds)
        both_before = us["lido before"] + us["iiif before"]
        both_after = us["lido after"] + us["iiif after"]
        rows = [
            ("LIDO", us["lido before"], us["lido after"]),
            ("IIIF", us["iiif before"], us["iiif after"]),
            ("LIDO + IIIF", both_before, both_after),
        ]
        for name, before, after in rows:
            print(f"| {label} ({len(objects)}) | {name} | {before:.1f} | {after:.1f} | "
                  f"{before / after:.1f}x |")
        print(f"| {label} ({len(objects)}) | LIDO + IIIF + encode | | "
              f"{us['encode after']:.1f} | |")


if __name__ == "__main__":
    main()
