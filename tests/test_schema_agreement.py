"""The Singer JSON schemas and the validation contract agree, field for field and type for type."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, FormatChecker

from tap_museumcms.models import KEY_FIELDS, ValidationOptions, record_fields, validate_record
from tap_museumcms.schemas import load_schema

FIXTURES = json.loads(
    (Path(__file__).parent / "fixtures" / "models" / "records.json").read_text(encoding="utf-8")
)
PROVENANCE = {"_source_url", "_source_cursor", "_fetched_at", "_raw_sha256"}
KEY_PROPERTIES = {
    "objects": ["object_id"],
    "rights": ["rights_id"],
    "media": ["media_id"],
    "quarantine": ["stream", "raw_sha256"],
}
MODIFIED = "2026-11-20T10:00:00Z"

# RFC 3339 date-time, the meaning of "format": "date-time" (jsonschema only checks it when an
# optional package is installed, so the check is spelled out here).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.I)
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.fullmatch(value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


def validator(stream: str) -> Draft7Validator:
    schema = load_schema(stream)
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, format_checker=FORMATS)


def with_provenance(record: dict[str, Any], cursor: str | None = "b64:MTk5NC4xMjc=") -> dict:
    return {
        **record,
        "_source_url": "https://cms.example.org/api/objects?limit=100",
        "_source_cursor": cursor,
        "_fetched_at": "2026-11-29T08:00:00Z",
        "_raw_sha256": "0" * 64,
    }


def varied_inputs(stream: str) -> list[tuple[dict[str, Any], ValidationOptions]]:
    """Real fixtures of the stream, a tombstone, extras, and (objects) kept fuzzy dates."""
    quarantine, keep = ValidationOptions(), ValidationOptions(fuzzy_dates="keep")
    source_key = KEY_FIELDS[stream][0]
    inputs = [(copy.deepcopy(f["raw"]), keep) for f in FIXTURES.values() if f["stream"] == stream]
    inputs.append(({source_key: 7, "deleted": True, "modified": MODIFIED}, quarantine))
    if stream == "objects":
        inputs.append(
            (
                {
                    "ObjectID": 1,
                    "title": "t",
                    "creation_date_iso": "1850-60",
                    "modified": MODIFIED,
                    "media": [{"MediaID": "m", "dpi\x00": 300}],
                    "legacy": {"a": [1, "b\x1f"]},
                },
                keep,
            )
        )
        inputs.append(
            ({"ObjectID": "2", "title": "t", "media": [], "modified": MODIFIED}, quarantine)
        )
    if stream == "rights":
        inputs.append(
            (
                {
                    "RightsID": "r",
                    "ObjectID": "o",
                    "statement_uri": "CC BY-SA 4.0",
                    "valid_from": "2020",
                    "valid_to": "2030-12-31",
                    "modified": MODIFIED,
                    "x": None,
                },
                quarantine,
            )
        )
    if stream == "media":
        inputs.append(
            (
                {
                    "MediaID": "m",
                    "width": "10",
                    "height": 0,
                    "is_primary": False,
                    "modified": "2026-11-20T10:00:00.5+02:00",
                    "Exif": {"ISO": 100},
                },
                quarantine,
            )
        )
    return inputs


@pytest.mark.parametrize("stream", ["objects", "rights", "media"])
def test_schema_properties_are_exactly_the_record_fields_plus_provenance(stream: str) -> None:
    schema = load_schema(stream)
    assert set(schema["properties"]) == set(record_fields(stream)) | PROVENANCE
    for raw, options in varied_inputs(stream):
        record = validate_record(stream, raw, options)
        assert set(record) == set(record_fields(stream)), raw


def test_embedded_media_items_match_the_item_schema() -> None:
    items = load_schema("objects")["properties"]["media"]["items"]["properties"]
    record = validate_record("objects", copy.deepcopy(FIXTURES["aic_11_object"]["raw"]))
    assert set(record["media"][0]) == set(items)


@pytest.mark.parametrize("stream", ["objects", "rights", "media"])
def test_every_validated_record_validates_against_the_schema(stream: str) -> None:
    check = validator(stream)
    for raw, options in varied_inputs(stream):
        record = validate_record(stream, raw, options)
        errors = [e.message for e in check.iter_errors(with_provenance(record))]
        assert errors == [], (raw, errors)
        first_page = [e.message for e in check.iter_errors(with_provenance(record, cursor=None))]
        assert first_page == []


@pytest.mark.parametrize("stream", ["objects", "rights", "media"])
def test_schema_rejects_a_record_that_breaks_it(stream: str) -> None:
    """The schema check above can fail: a wrong type and an unknown property are caught."""
    check = validator(stream)
    raw, options = varied_inputs(stream)[-1]
    record = with_provenance(validate_record(stream, raw, options))
    assert list(check.iter_errors({**record, "modified": 20261120}))
    assert list(check.iter_errors({**record, "modified": "20 Nov 2026"}))
    assert list(check.iter_errors({**record, "surprise": 1}))
    assert list(check.iter_errors({**record, KEY_PROPERTIES[stream][0]: None}))


def _types(prop: dict[str, Any]) -> list[str]:
    kind = prop["type"]
    return kind if isinstance(kind, list) else [kind]


@pytest.mark.parametrize("stream", ["objects", "rights", "media", "quarantine"])
def test_key_properties_are_non_nullable_strings_and_all_others_nullable(stream: str) -> None:
    schema = load_schema(stream)
    keys = KEY_PROPERTIES[stream]
    assert schema["required"] == keys
    for name, prop in schema["properties"].items():
        if name in keys:
            assert _types(prop) == ["string"], name
        else:
            assert "null" in _types(prop), name
    nested = [schema["properties"]["media"]["items"]] if stream == "objects" else []
    for item in nested:
        assert all("null" in _types(p) for p in item["properties"].values())


@pytest.mark.parametrize("stream", ["objects", "rights", "media"])
def test_timestamps_are_date_times_and_extra_fields_an_open_object(stream: str) -> None:
    props = load_schema(stream)["properties"]
    for name in ("modified", "_sdc_deleted_at", "_fetched_at"):
        assert props[name]["format"] == "date-time"
    assert _types(props["extra_fields"]) == ["object", "null"]
    assert props["extra_fields"]["additionalProperties"] is True


def test_quarantine_schema_fields() -> None:
    schema = load_schema("quarantine")
    assert set(schema["properties"]) == {
        "stream",
        "raw_sha256",
        "key",
        "reason",
        "raw",
        "raw_size",
        "cursor",
        "source_url",
        "received_at",
    }
    assert schema["properties"]["received_at"]["format"] == "date-time"
    assert _types(schema["properties"]["raw_size"]) == ["integer", "null"]
    row = {
        "stream": "objects",
        "raw_sha256": "ab" * 32,
        "key": None,
        "reason": "title: field required",
        "raw": '{"ObjectID": "1"}',
        "raw_size": 17,
        "cursor": None,
        "source_url": "https://cms.example.org/api/objects",
        "received_at": "2026-11-29T08:00:00Z",
    }
    assert list(validator("quarantine").iter_errors(row)) == []
