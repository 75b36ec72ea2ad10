"""What the tables must hold, computed from the reference server's collection, not from the tap.

The collection declares its own truth (``collection.expected(stream)``: valid keys, invalid
positions, tombstones). This module adds a content fingerprint per record that needs no tap code:
a projection of the fields that the contract passes through unchanged (the key, ``modified`` in
its fixed-width UTC form, and the plain text, number, boolean and URL fields), hashed. A text
field holding characters that the tap must clean (C0 controls, MARC separators, lone surrogates)
is left out of the projection; :func:`check_table` checks instead that no such character reached
the table.

    truth = stream_truth(server, "objects")
    problems = check_table("objects", warehouse.rows("objects"), truth)   # [] when exact
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
import typing as t

# stream -> (source key field, table key column, projected fields: source name == column name)
STREAMS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "objects": (
        "ObjectID",
        "object_id",
        ("title", "creation_date_display", "maker", "object_type", "medium", "dimensions",
         "department", "accession_number", "description", "credit_line", "iiif_manifest_url"),
    ),
    "rights": ("RightsID", "rights_id", ("holder", "credit_line")),
    "media": (
        "MediaID",
        "media_id",
        ("iiif_image_service", "iiif_manifest_url", "format", "width", "height", "caption",
         "is_primary"),
    ),
}
LINKED_OBJECT = {"rights": "ObjectID", "media": "ObjectID"}
"""Streams whose records name their object (column ``object_id``)."""

_DIRTY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def fixed_utc(value: str) -> str:
    """An ISO 8601 timestamp as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC (fraction dropped)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain_text(value: t.Any) -> t.Any:
    if isinstance(value, str):
        return value.strip() or None
    return value


def project_source(stream: str, record: dict[str, t.Any]) -> tuple[dict[str, t.Any], set[str]]:
    """The projection of a source record, and the fields left out because they need cleaning."""
    key_field, key_column, fields = STREAMS[stream]
    projection: dict[str, t.Any] = {key_column: record[key_field]}
    projection["modified"] = fixed_utc(record["modified"])
    if stream in LINKED_OBJECT and isinstance(record.get(LINKED_OBJECT[stream]), str):
        projection["object_id"] = record[LINKED_OBJECT[stream]]
    skipped: set[str] = set()
    for name in fields:
        value = record.get(name)
        if isinstance(value, str) and _DIRTY.search(value):
            skipped.add(name)
            continue
        projection[name] = _plain_text(value)
    return projection, skipped


def project_row(row: dict[str, t.Any], like: dict[str, t.Any]) -> dict[str, t.Any]:
    """The same projection taken from a table row (the columns named in ``like``)."""
    return {name: _plain_text(row.get(name)) for name in like}


def fingerprint(projection: dict[str, t.Any]) -> str:
    """SHA-256 of the projection's canonical JSON."""
    text = json.dumps(projection, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclasses.dataclass
class StreamTruth:
    """Ground truth of one stream.

    Attributes:
        valid: key -> (projection, fields left out) of the latest version of each valid record.
        tombstones: keys of deleted records.
        invalid_lines: the identity (see :func:`line_identity`) of each line the tap must
            quarantine.
        invalid_keys: the keys of those lines, where they can be read.
    """

    valid: dict[str, tuple[dict[str, t.Any], set[str]]]
    tombstones: set[str]
    invalid_lines: list[str]
    invalid_keys: set[str]


def stream_truth(server: t.Any, stream: str) -> StreamTruth:
    """Ground truth of ``stream`` on a running ``ReferenceServer`` (its collection, now)."""
    collection = server.collection
    expected = collection.expected(stream)
    key_field = STREAMS[stream][0]
    valid: dict[str, tuple[dict[str, t.Any], set[str]]] = {}
    invalid_lines: list[str] = []
    invalid_keys: set[str] = set()
    for position in range(collection.size(stream)):
        raw = collection.record_at(stream, position)
        if position in expected.invalid_positions:
            invalid_lines.append(line_identity(raw))
            try:
                key = json.loads(raw).get(key_field)
            except (ValueError, AttributeError):
                key = None
            if isinstance(key, str) and key:
                invalid_keys.add(key)
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        key = record.get(key_field) if isinstance(record, dict) else None
        if key in expected.valid_keys:
            valid[key] = project_source(stream, record)
    missing = expected.valid_keys - set(valid)
    assert not missing, f"{stream}: valid keys without a line: {sorted(missing)[:5]}"
    return StreamTruth(valid, set(expected.tombstones), invalid_lines, invalid_keys)


def check_table(stream: str, rows: list[dict[str, t.Any]], truth: StreamTruth) -> list[str]:
    """Compare a table with the truth; returns the problems (empty when exact).

    Exact means: no key twice; the live rows (``_sdc_deleted_at`` null) are exactly the valid
    keys, each with the source's content fingerprint; every tombstoned key that has a row has
    ``_sdc_deleted_at`` set; no row holds a character that needed cleaning.
    """
    key_column = STREAMS[stream][1]
    problems: list[str] = []
    keys = [row[key_column] for row in rows]
    if len(keys) != len(set(keys)):
        dupes = sorted({k for k in keys if keys.count(k) > 1})[:5]
        problems.append(f"{stream}: {len(keys) - len(set(keys))} duplicate keys, e.g. {dupes}")
    live = {row[key_column]: row for row in rows if row.get("_sdc_deleted_at") is None}
    deleted = {row[key_column] for row in rows if row.get("_sdc_deleted_at") is not None}
    if set(live) != set(truth.valid):
        extra = sorted(set(live) - set(truth.valid))
        lost = sorted(set(truth.valid) - set(live))
        problems.append(
            f"{stream}: live keys differ: {len(lost)} missing (e.g. {lost[:5]}), "
            f"{len(extra)} unexpected (e.g. {extra[:5]})"
        )
    if deleted - truth.tombstones:
        problems.append(
            f"{stream}: rows marked deleted that are not tombstones: "
            f"{sorted(deleted - truth.tombstones)[:5]}"
        )
    not_marked = truth.tombstones & set(live)
    if not_marked:
        problems.append(f"{stream}: tombstoned keys still live: {sorted(not_marked)[:5]}")
    wrong = []
    for key, (projection, _skipped) in truth.valid.items():
        row = live.get(key)
        if row is None:
            continue
        if fingerprint(project_row(row, projection)) != fingerprint(projection):
            wrong.append(key)
    if wrong:
        sample = wrong[0]
        projection = truth.valid[sample][0]
        diff = {
            k: (projection[k], project_row(live[sample], projection)[k])
            for k in projection
            if projection[k] != project_row(live[sample], projection)[k]
        }
        problems.append(
            f"{stream}: {len(wrong)} rows differ from the source, e.g. {sample}: {diff}"
        )
    dirty = [
        row[key_column]
        for row in rows
        if any(isinstance(v, str) and _DIRTY.search(v) for v in row.values())
    ]
    if dirty:
        problems.append(f"{stream}: rows with uncleaned control characters: {dirty[:5]}")
    return problems


def line_identity(raw: bytes | str) -> str:
    """What identifies a source line whatever the transport added: a JSON object without its
    ``next_cursor`` in canonical form, or the text itself when it is not JSON (a malformed line
    carries no cursor)."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        value = json.loads(text)
    except ValueError:
        return "text:" + text
    if isinstance(value, dict):
        value.pop("next_cursor", None)
    return "json:" + json.dumps(value, sort_keys=True, ensure_ascii=False)


def check_quarantine(rows: list[dict[str, t.Any]], truths: dict[str, StreamTruth]) -> list[str]:
    """The quarantine table must hold exactly one row per invalid line of each stream."""
    problems: list[str] = []
    pairs = [(row["stream"], row["raw_sha256"]) for row in rows]
    if len(pairs) != len(set(pairs)):
        problems.append(f"quarantine: {len(pairs) - len(set(pairs))} duplicate (stream, sha) rows")
    for row in rows:
        raw = (row.get("raw") or "").encode("utf-8")
        if len(raw) == row.get("raw_size") and hashlib.sha256(raw).hexdigest() != row["raw_sha256"]:
            problems.append(
                f"quarantine: raw_sha256 is not the SHA-256 of raw: {row['raw'][:80]!r}"
            )
            break
    for stream, truth in truths.items():
        got = sorted(line_identity(row.get("raw") or "") for row in rows if row["stream"] == stream)
        want = sorted(truth.invalid_lines)
        if got != want:
            problems.append(
                f"quarantine[{stream}]: {len(set(want) - set(got))} invalid lines missing, "
                f"{len(set(got) - set(want))} unexpected, {len(got)} rows for {len(want)} lines"
            )
    return problems


RESOURCE_STREAMS = ("objects", "rights", "media")
"""The CMS resource streams (the derived and quarantine streams are checked against them)."""


def check_all(
    warehouse: t.Any, server: t.Any, truths: dict[str, StreamTruth] | None = None
) -> tuple[list[str], int]:
    """Every table against the server's ground truth: (problems, rows compared)."""
    truths = truths or {s: stream_truth(server, s) for s in RESOURCE_STREAMS}
    problems: list[str] = []
    compared = 0
    for stream, truth in truths.items():
        rows = warehouse.rows(stream)
        compared += len(rows)
        problems += check_table(stream, rows, truth)
    quarantine = warehouse.rows("quarantine")
    compared += len(quarantine)
    problems += check_quarantine(quarantine, truths)
    return problems, compared
