"""What the LIDO and IIIF streams cost: one sync with them off, one with them on, same run.

    .venv/bin/python benchmarks/bench_derived.py --size 50000

Prints records/s of the objects stream for: both derived streams disabled by setting, both
enabled but not selected, and both selected. Ratios are taken within this one run.
"""

from __future__ import annotations

import argparse

from bench_memory import run_once


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50_000)
    args = parser.parse_args()
    cases = [
        ("lido/iiif disabled", {"objects"}, {"lido_enabled": False, "iiif_enabled": False}),
        ("lido/iiif enabled, not selected", {"objects"}, {}),
        ("lido/iiif selected", {"objects", "lido_records", "iiif_manifests"}, {}),
        ("iiif only selected", {"objects", "iiif_manifests"}, {}),
    ]
    rows = [(name, run_once(args.size, streams, 1000, extra)) for name, streams, extra in cases]
    base = rows[0][1]["seconds"]
    print(f"{args.size} objects, page size 1000")
    print(f"{'case':<34} {'seconds':>8} {'objects/s':>10} {'vs off':>7} {'peak RSS MB':>12}")
    for name, row in rows:
        print(f"{name:<34} {row['seconds']:>8.1f} {args.size / row['seconds']:>10.0f} "
              f"{row['seconds'] / base:>7.2f} {row['peak_rss_mb']:>12.1f}")


if __name__ == "__main__":
    main()
