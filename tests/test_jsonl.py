"""Unit tests for tap_museumcms.jsonl: line splitting at any chunk boundary, bounds, decoding."""

from __future__ import annotations

import gc
import itertools
import json
import random
import tracemalloc
from collections.abc import Iterator

import pytest

from tap_museumcms.jsonl import (
    RawLine,
    decode_json_line,
    iter_lines,
)


def reference_lines(body: bytes, max_line_bytes: int, prefix_bytes: int) -> list[RawLine]:
    """The obvious whole-body implementation, to compare the streaming one against."""
    out = []
    parts = body.split(b"\n")
    for index, part in enumerate(parts):
        terminated = index < len(parts) - 1
        if part.endswith(b"\r"):
            part = part[:-1]
        if not part.strip():
            continue
        big = len(part) > max_line_bytes
        data = part[:prefix_bytes] if big else part
        out.append(RawLine(data, len(part), big, terminated, max_line_bytes))
    return out


def split_at(body: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds)]


BODIES = {
    "empty": b"",
    "only-newlines": b"\n\n\r\n \t \n",
    "two-lines": b'{"a": 1}\n{"b": 2}\n',
    "crlf": b'{"a": 1}\r\n{"b": 2}\r\n',
    "blank-lines-between": b'\n{"a": 1}\n\n   \n\t\r\n{"b": 2}\n\n',
    "last-line-unterminated": b'{"a": 1}\n{"b": 2}',
    "last-line-unterminated-cr": b'{"a": 1}\n{"b": 2}\r',
    "escaped-newline-in-string": b'{"t": "line\\nbreak", "n": {"x": [1, 2]}}\n{"b": 2}\n',
    "lone-cr-inside-line": b'{"a": "x\ry"}\n',
    "oversized-middle": b'{"a": 1}\n' + b"x" * 40 + b'\n{"c": 3}\n',
    "oversized-crlf": b"y" * 39 + b"\r\n" + b'{"c": 3}\r\n',
    "oversized-last-unterminated": b'{"a": 1}\n' + b"z" * 50,
    "exactly-at-bound": b"q" * 24 + b"\n" + b"r" * 24 + b"\r\n" + b"s" * 25 + b"\n",
    "bound-plus-cr-unterminated": b"w" * 24 + b"\r",
    "invalid-utf8": b'{"a": "\xff\xfe"}\n{"b": 2}\n',
    "many-small": b"".join(b'{"i": %d}\n' % i for i in range(30)),
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_every_single_split_point_matches_the_whole_body_reading(name: str) -> None:
    body = BODIES[name]
    expected = reference_lines(body, max_line_bytes=24, prefix_bytes=8)
    for cut in range(len(body) + 1):
        chunks = split_at(body, [cut])
        got = list(iter_lines(chunks, max_line_bytes=24, prefix_bytes=8))
        assert got == expected, f"split at {cut}: {chunks!r}"


@pytest.mark.parametrize("name", sorted(BODIES))
def test_every_pair_of_split_points_and_one_byte_chunks(name: str) -> None:
    body = BODIES[name]
    expected = reference_lines(body, max_line_bytes=24, prefix_bytes=8)
    one_byte = [body[i : i + 1] for i in range(len(body))]
    assert list(iter_lines(one_byte, max_line_bytes=24, prefix_bytes=8)) == expected
    # Two cuts (three chunks, empty ones included) for every pair on shorter bodies.
    if len(body) <= 80:
        for a, b in itertools.combinations_with_replacement(range(len(body) + 1), 2):
            chunks = split_at(body, [a, b])
            got = list(iter_lines(chunks, max_line_bytes=24, prefix_bytes=8))
            assert got == expected, f"split at {a}, {b}"


def test_random_bodies_and_random_chunking_match_reference() -> None:
    rng = random.Random(1129)
    pieces = [b"\n", b"\r\n", b"\r", b" ", b"{}", b'"x"', b"a" * 7, b"b" * 30, b"c" * 70]
    for _ in range(3000):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 20)))
        max_line, prefix = rng.choice(
            [(0, 0), (0, 9), (5, 2), (5, 50), (30, 30), (64, 16), (1000, 4)]
        )
        cuts = [rng.randint(0, len(body)) for _ in range(rng.randint(0, 6))]
        got = list(iter_lines(split_at(body, cuts), max_line_bytes=max_line, prefix_bytes=prefix))
        assert got == reference_lines(body, max_line, prefix), (body, cuts, max_line)


def test_explicit_expectations() -> None:
    body = b'{"a": 1}\r\n\n  \n' + b"x" * 30 + b'\r\n{"b": 2}'
    lines = list(iter_lines([body[:5], body[5:20], body[20:]], max_line_bytes=24, prefix_bytes=4))
    assert lines == [
        RawLine(b'{"a": 1}', 8, False, True, 24),
        RawLine(b"xxxx", 30, True, True, 24),
        RawLine(b'{"b": 2}', 8, False, False, 24),
    ]


def test_empty_body_and_empty_chunks() -> None:
    assert list(iter_lines([])) == []
    assert list(iter_lines([b"", b"", b""])) == []
    assert list(iter_lines([b"", b'{"a": 1}', b"", b"\n", b""])) == [
        RawLine(b'{"a": 1}', 8, False, True)
    ]


def test_bytearray_and_memoryview_chunks_give_bytes() -> None:
    lines = list(iter_lines([bytearray(b'{"a": 1}\n{"b"'), memoryview(b": 2}\n")]))
    assert [line.data for line in lines] == [b'{"a": 1}', b'{"b": 2}']
    assert all(type(line.data) is bytes for line in lines)


def test_oversized_line_in_the_middle_then_valid_lines_still_decode() -> None:
    big = b'{"blob": "' + b"A" * 5000 + b'"}'
    body = b'{"i": 1}\n' + big + b'\n{"i": 2}\n{"i": 3}\n'
    chunks = [body[i : i + 333] for i in range(0, len(body), 333)]
    lines = list(iter_lines(chunks, max_line_bytes=1000, prefix_bytes=16))
    results = [decode_json_line(line) for line in lines]
    assert [r[0] for r in results] == [{"i": 1}, None, {"i": 2}, {"i": 3}]
    assert results[1][1] == f"line of {len(big)} bytes exceeds max_line_bytes 1000"
    assert lines[1].data == big[:16]


def test_rejects_negative_bounds() -> None:
    with pytest.raises(ValueError):
        list(iter_lines([b"x\n"], max_line_bytes=-1))


# ------------------------------------------------------------------------------------------
# Memory bound
# ------------------------------------------------------------------------------------------


def _huge_body(line_bytes: int, chunk: int) -> Iterator[bytes]:
    """A small line, one ``line_bytes`` line, a small line; generated chunk by chunk."""
    yield b'{"before": 1}\n{"big": "'
    block = b"M" * chunk
    sent = 0
    while sent < line_bytes:
        n = min(chunk, line_bytes - sent)
        yield block if n == chunk else block[:n]
        sent += n
    yield b'"}\n{"after": 2}\n'


def test_a_50_mb_line_is_skipped_in_bounded_memory() -> None:
    line_bytes = 50 * 1024 * 1024
    chunk = 64 * 1024
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        lines = list(iter_lines(_huge_body(line_bytes, chunk), max_line_bytes=1024 * 1024))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [line.oversized for line in lines] == [False, True, False]
    assert lines[1].size == len(b'{"big": "') + line_bytes + len(b'"}')
    assert lines[1].data.startswith(b'{"big": "MMMM') and len(lines[1].data) == 4096
    assert [decode_json_line(lines[i])[0] for i in (0, 2)] == [{"before": 1}, {"after": 2}]
    # Keeping the line would need 50 MiB; the bound allows 1 MiB (+ a transient copy) + a chunk.
    assert peak < 5 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


def test_memory_bound_also_holds_when_the_big_line_arrives_in_one_chunk_each_side() -> None:
    # A line kept across chunks up to the bound, then pushed over it by a large chunk.
    max_line = 256 * 1024
    chunks = [b"k" * (max_line - 10), b"k" * (2 * 1024 * 1024), b"\n{}\n"]
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        lines = list(iter_lines(iter(chunks), max_line_bytes=max_line, prefix_bytes=10))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(line.size, line.oversized) for line in lines] == [
        (max_line - 10 + 2 * 1024 * 1024, True),
        (2, False),
    ]
    assert lines[0].data == b"k" * 10
    # Chunks themselves are the caller's (2.25 MiB here); the splitter adds little on top.
    assert peak < 2 * max_line + 2 * 1024 * 1024 // 4


# ------------------------------------------------------------------------------------------
# Decoding
# ------------------------------------------------------------------------------------------


def _line(data: bytes) -> RawLine:
    return RawLine(data, len(data), False, True)


def test_decode_object_with_escaped_newlines_and_nesting() -> None:
    body = (
        b'{"title": "Harbour\\nat Dawn", "media": [{"MediaID": "m-88", "w": 4000}], '
        b'"note": "tab\\there \\u00e9\\r\\n"}\n'
    )
    (line,) = list(iter_lines([body[:17], body[17:]]))
    record, reason = decode_json_line(line)
    assert reason is None
    assert record == {
        "title": "Harbour\nat Dawn",
        "media": [{"MediaID": "m-88", "w": 4000}],
        "note": "tab\there \u00e9\r\n",
    }


def test_decode_big_integers_survive_and_floats_are_floats() -> None:
    record, reason = decode_json_line(
        _line(b'{"id": 123456789012345678901234567890, "neg": -9007199254740993, "f": 1.25}')
    )
    assert reason is None
    assert record == {"id": 123456789012345678901234567890, "neg": -9007199254740993, "f": 1.25}
    assert type(record["f"]) is float


def test_decode_utf8_and_bom() -> None:
    assert decode_json_line(_line('{"t": "Café"}'.encode())) == ({"t": "Café"}, None)
    assert decode_json_line(_line(b'\xef\xbb\xbf{"a": 1}')) == ({"a": 1}, None)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a": "\xff"}', "invalid UTF-8 at byte 7: invalid start byte"),
        (b'{"a": "\xc3"}', "invalid UTF-8 at byte 7: invalid continuation byte"),
        (b'{"a": "\xed\xa0\x80"}', "invalid UTF-8 at byte 7: invalid continuation byte"),
        (b'{"a": 1', "invalid JSON: Expecting ',' delimiter: line 1 column 8 (char 7)"),
        (b'{"a": 1}}', "invalid JSON: Extra data: line 1 column 9 (char 8)"),
        (b"not json", "invalid JSON: Expecting value: line 1 column 1 (char 0)"),
        (b'{"a": NaN}', "invalid JSON: non-standard constant NaN"),
        (b'{"a": -Infinity}', "invalid JSON: non-standard constant -Infinity"),
        (b"[1, 2]", "expected a JSON object, got array"),
        (b'"text"', "expected a JSON object, got string"),
        (b"42", "expected a JSON object, got number"),
        (b"4.2", "expected a JSON object, got number"),
        (b"true", "expected a JSON object, got boolean"),
        (b"null", "expected a JSON object, got null"),
    ],
)
def test_decode_failures_give_reasons(data: bytes, reason: str) -> None:
    assert decode_json_line(_line(data)) == (None, reason)


def test_decode_reason_for_oversized_line() -> None:
    line = RawLine(b'{"x": "', 20_000_000, True, True, 16 * 1024 * 1024)
    assert decode_json_line(line) == (
        None,
        "line of 20000000 bytes exceeds max_line_bytes 16777216",
    )


def test_decode_does_not_crash_on_pathological_values() -> None:
    deep = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    record, reason = decode_json_line(_line(deep))
    assert record is None and reason == "invalid JSON: nested too deeply"
    huge_int = b'{"a": ' + b"7" * 5000 + b"}"  # beyond Python's int max_str_digits (4300)
    record, reason = decode_json_line(_line(huge_int))
    assert record is None and reason is not None and reason.startswith("invalid JSON: ")


def test_round_trip_of_realistic_records_through_small_chunks() -> None:
    rng = random.Random(3)
    records = [
        {
            "ObjectID": f"1994.{i}",
            "title": rng.choice(["Harbour at Dawn", "Still life\nwith jug", "Ñandú", 'Say "hi"']),
            "width": rng.randint(1, 10**12),
            "ratio": rng.random(),
            "media": [{"MediaID": f"m-{i}", "is_primary": True}] * rng.randint(0, 3),
        }
        for i in range(300)
    ]
    body = b"".join(
        json.dumps(r, ensure_ascii=rng.random() < 0.5).encode() + b"\n" for r in records
    )
    chunks = [body[i : i + 97] for i in range(0, len(body), 97)]
    decoded = [decode_json_line(line) for line in iter_lines(chunks)]
    assert [r for r, _ in decoded] == records
    assert all(reason is None for _, reason in decoded)
