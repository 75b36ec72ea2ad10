"""Microbenchmark: tap_museumcms.jsonl against the naive whole-body ``bytes.splitlines``.

Feeds N lines of about 1 KB (object records shaped like the CMS contract), cut into 64 KiB
chunks, through

* ``iter_lines`` + ``decode_json_line`` (streaming, bounded memory, one reason per bad line);
* the baseline: ``b"".join(chunks).splitlines()`` + ``json.loads`` per non-blank line
  (needs the whole body in memory, no bounds, no error handling);

and, to separate splitting from decoding, the two splitters alone; then the same records as one
big JSON array: ``ArraySplitter`` + ``decode_json_line`` against ``json.loads`` of the whole
body. Run:

    .venv/bin/python benchmarks/bench_jsonl.py [--lines 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import time
import tracemalloc
from collections.abc import Callable

from tap_museumcms.jsonarray import ArraySplitter
from tap_museumcms.jsonl import RawLine, decode_json_line, iter_lines

CHUNK = 64 * 1024


def make_body(lines: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    words = ["harbour", "dawn", "oil", "canvas", "gift", "estate", "portrait", "river", "étude"]
    out = []
    for i in range(lines):
        record = {
            "ObjectID": f"1994.{i}",
            "title": " ".join(rng.choice(words) for _ in range(6)),
            "creation_date_iso": "1889-06-01",
            "maker": "A. Painter",
            "object_type": "painting",
            "medium": "Oil on canvas",
            "dimensions": "65 x 81 cm",
            "department": "European Paintings",
            "description": " ".join(rng.choice(words) for _ in range(rng.randint(60, 90))),
            "rights_uri": "http://rightsstatements.org/vocab/InC/1.0/",
            "media": [{"MediaID": f"m-{i}", "width": 4000, "height": 3000, "is_primary": True}],
            "modified": "2026-11-20T10:00:00Z",
            "next_cursor": f"c{i:08d}",
        }
        out.append(json.dumps(record, ensure_ascii=False).encode())
    return b"\n".join(out) + b"\n"


def chunked(body: bytes) -> list[bytes]:
    return [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]


def streaming_decode(chunks: list[bytes]) -> int:
    n = 0
    for line in iter_lines(chunks):
        record, _reason = decode_json_line(line)
        if record is not None:
            n += 1
    return n


def naive_decode(chunks: list[bytes]) -> int:
    n = 0
    for raw in b"".join(chunks).splitlines():
        if raw.strip():
            json.loads(raw)
            n += 1
    return n


def streaming_split(chunks: list[bytes]) -> int:
    return sum(1 for _ in iter_lines(chunks))


def naive_split(chunks: list[bytes]) -> int:
    return sum(1 for raw in b"".join(chunks).splitlines() if raw.strip())


def array_chunks(chunks: list[bytes]) -> list[bytes]:
    """The same records as one top-level JSON array, in 64 KiB chunks."""
    body = b"[" + b",\n".join(b"".join(chunks).splitlines()) + b"]"
    return chunked(body)


def streaming_array_decode(chunks: list[bytes]) -> int:
    n = 0
    splitter = ArraySplitter((), max_item_bytes=16 * 2**20)
    for chunk in [*chunks, None]:
        pieces = splitter.feed(chunk) if chunk is not None else splitter.close()
        for piece in pieces:
            record, _reason = decode_json_line(
                RawLine(piece.data, piece.size, piece.oversized, piece.complete))
            if record is not None:
                n += 1
    return n


def naive_array_decode(chunks: list[bytes]) -> int:
    return len(json.loads(b"".join(chunks)))


def measure(
    fn: Callable[[list[bytes]], int], chunks: list[bytes], repeat: int
) -> tuple[float, int]:
    best = float("inf")
    count = 0
    for _ in range(repeat):
        start = time.perf_counter()
        count = fn(chunks)
        best = min(best, time.perf_counter() - start)
    return best, count


def peak_mib(fn: Callable[[list[bytes]], int], chunks: list[bytes]) -> float:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn(chunks)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    body = make_body(args.lines)
    chunks = chunked(body)
    print(
        f"{args.lines} lines, {len(body) / args.lines:.0f} B/line avg, "
        f"{len(body) / 2**20:.1f} MiB, {len(chunks)} chunks of {CHUNK // 1024} KiB; "
        f"best of {args.repeat}"
    )
    array = array_chunks(chunks)
    cases = [
        ("iter_lines + decode_json_line", streaming_decode, chunks),
        ("splitlines + json.loads (naive)", naive_decode, chunks),
        ("iter_lines only", streaming_split, chunks),
        ("splitlines only (naive)", naive_split, chunks),
        ("ArraySplitter + decode_json_line", streaming_array_decode, array),
        ("json.loads(whole array) (naive)", naive_array_decode, array),
    ]
    for label, fn, data in cases:
        seconds, count = measure(fn, data, args.repeat)
        assert count == args.lines, (label, count)
        extra = peak_mib(fn, data) if args.lines <= 200_000 else float("nan")
        print(
            f"{label:36s} {count / seconds:>12,.0f} lines/s  {seconds:7.3f} s  "
            f"peak extra memory {extra:7.1f} MiB"
        )


if __name__ == "__main__":
    main()
