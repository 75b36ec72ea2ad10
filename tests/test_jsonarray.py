"""Cutting the records out of a JSON page: exact raw elements whatever the chunking, bounded."""

from __future__ import annotations

import json
import random
import tracemalloc

import pytest

from tap_museumcms.jsonarray import ArrayBodyError, ArraySplitter

ELEMENTS = [
    b'{"id": 1, "title": "A \\"quoted\\" [title] {x}", "tags": ["a", "]"]}',
    b'{"id": 2, "nested": {"data": [1, 2, {"data": []}]}, "s": "\\\\"}',
    b'"a string element, with ] and }"',
    b"12345",
    b"null",
    b'{"id": "\xc3\xa9t\xc3\xa9", "empty": {}, "list": [[], [[]]]}',
]


def page(elements: list[bytes], *, key: bytes = b"data") -> bytes:
    return (b'{"pagination": {"total": 6, "next_url": "http://x/?page=2"}, "' + key + b'": [\n  '
            + b",\n  ".join(elements) + b'\n], "info": {"license_text": "CC0 [1.0]"}}')


def split(body: bytes, size: int, path: tuple[str, ...] = ("data",), **kw: int):
    splitter = ArraySplitter(path, max_item_bytes=kw.get("max_item_bytes", 1 << 20))
    pieces = []
    for start in range(0, len(body), size):
        pieces += list(splitter.feed(body[start:start + size]))
    pieces += list(splitter.close())
    return pieces, splitter


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 16, 64, 1 << 20])
def test_elements_and_envelope_are_the_same_whatever_the_chunking(size):
    pieces, splitter = split(page(ELEMENTS), size)
    assert [p.data for p in pieces] == ELEMENTS
    assert all(p.complete and not p.oversized for p in pieces)
    assert [json.loads(p.data) for p in pieces] == [json.loads(e) for e in ELEMENTS]
    assert splitter.envelope() == {"pagination": {"total": 6, "next_url": "http://x/?page=2"},
                                   "data": [], "info": {"license_text": "CC0 [1.0]"}}


def test_random_documents_and_chunkings_match_json_loads():
    rng = random.Random(5)
    for _ in range(200):
        items = [{"id": rng.randint(0, 9), "t": rng.choice(["x", "]", "{", '"q"', "\\", "é"]),
                  "v": rng.choice([None, [1, {"a": "]"}], {"data": [1]}, 2.5, True])}
                 for _ in range(rng.randint(0, 6))]
        body = json.dumps({"info": {"n": len(items)}, "data": items, "z": [1]}).encode()
        cuts = sorted(rng.sample(range(1, len(body)), min(4, len(body) - 1)))
        splitter = ArraySplitter(("data",), max_item_bytes=1 << 20)
        pieces = []
        for start, stop in zip([0, *cuts], [*cuts, len(body)], strict=True):
            pieces += list(splitter.feed(body[start:stop]))
        pieces += list(splitter.close())
        assert [json.loads(p.data) for p in pieces] == items
        assert splitter.envelope() == {"info": {"n": len(items)}, "data": [], "z": [1]}


def test_a_nested_path_and_a_bare_array():
    body = b'{"status": 200, "response": {"rowCount": 2, "rows": [{"a": 1}, {"b": [2]}]}}'
    pieces, splitter = split(body, 4, ("response", "rows"))
    assert [p.data for p in pieces] == [b'{"a": 1}', b'{"b": [2]}']
    assert splitter.envelope() == {"status": 200, "response": {"rowCount": 2, "rows": []}}
    bare, splitter = split(b'  [1, 2 ,3]\n', 1, ())
    assert [p.data for p in bare] == [b"1", b"2", b"3"] and splitter.envelope() == []


def test_arrays_of_the_same_name_elsewhere_are_not_the_records():
    body = (b'{"info": {"data": [9, 9]}, "list": [{"data": [8]}], "data": [{"id": 1}],'
            b' "more": {"data": [7]}}')
    pieces, splitter = split(body, 3)
    assert [p.data for p in pieces] == [b'{"id": 1}']
    assert splitter.envelope()["info"] == {"data": [9, 9]}


def test_an_empty_array_and_a_missing_one():
    pieces, splitter = split(b'{"data": [], "info": {}}', 2)
    assert pieces == [] and splitter.found and splitter.envelope() == {"data": [], "info": {}}
    pieces, splitter = split(b'{"error": "rate limited"}', 2)
    assert pieces == [] and not splitter.found
    assert splitter.envelope() == {"error": "rate limited"}


def test_a_body_cut_inside_an_element_hands_it_over_incomplete():
    body = page(ELEMENTS)
    cut = body.index(b'"nested"') + 10
    pieces, splitter = split(body[:cut], 7)
    assert [p.complete for p in pieces] == [True, False]
    assert pieces[1].data.startswith(b'{"id": 2, "nested"')
    assert splitter.envelope() is None  # the body did not end well


def test_a_body_cut_after_the_array_has_no_envelope():
    body = page(ELEMENTS)
    pieces, splitter = split(body[: body.index(b'"info"')], 9)
    assert len(pieces) == len(ELEMENTS) and splitter.envelope() is None


def test_an_oversized_element_is_its_first_bytes_and_its_size_in_bounded_memory():
    big = b'{"id": 7, "text": "' + b"x" * 3_000_000 + b'", "tail": "]"}'
    body = page([b'{"id": 1}', big, b'{"id": 3}'])
    splitter = ArraySplitter(("data",), max_item_bytes=100_000)
    tracemalloc.start()
    pieces = []
    for start in range(0, len(body), 65536):
        pieces += list(splitter.feed(body[start:start + 65536]))
    pieces += list(splitter.close())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [p.oversized for p in pieces] == [False, True, False]
    assert pieces[1].size == len(big) and pieces[1].data == big[:4096]
    assert pieces[2].data == b'{"id": 3}'
    assert peak < 1_500_000  # not the 3 MB element


def test_what_is_not_the_page_is_said_so():
    with pytest.raises(ArrayBodyError, match="after the end"):
        split(b'{"data": [1]} trailing', 4)
    with pytest.raises(ArrayBodyError, match="does not start"):
        split(b'{"data": [1]}', 4, ())


def test_a_byte_order_mark_is_dropped():
    pieces, splitter = split(b"\xef\xbb\xbf" + page([b"1"]), 1)
    assert [p.data for p in pieces] == [b"1"] and splitter.envelope()["data"] == []
