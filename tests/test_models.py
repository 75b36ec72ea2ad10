"""The validation contract: every production failure of the CMS contract, on real records.

Fixtures: tests/fixtures/models/records.json, converted from Tate and Art Institute of Chicago
metadata (CC0 1.0, see ATTRIBUTION.md there).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tap_museumcms.models import (
    DEFAULT_OPTIONS,
    KEY_FIELDS,
    RecordRejected,
    ValidationOptions,
    source_key,
    validate_record,
)

FIXTURES = json.loads(
    (Path(__file__).parent / "fixtures" / "models" / "records.json").read_text(encoding="utf-8")
)
KEEP = ValidationOptions(fuzzy_dates="keep")
MODIFIED = "2026-11-20T10:00:00Z"


def raw(name: str) -> dict[str, Any]:
    """A deep copy of a fixture's raw record."""
    return copy.deepcopy(FIXTURES[name]["raw"])


def obj(**fields: Any) -> dict[str, Any]:
    """A minimal valid raw object, with fields overridden (None removes a field)."""
    record: dict[str, Any] = {
        "ObjectID": "1994.127",
        "title": "Harbour at Dawn",
        "modified": MODIFIED,
    }
    record.update(fields)
    return {k: v for k, v in record.items() if v is not None}


def rejected(
    stream: str, record: Any, options: ValidationOptions = DEFAULT_OPTIONS
) -> RecordRejected:
    with pytest.raises(RecordRejected) as caught:
        validate_record(stream, record, options)
    return caught.value


# --- real records --------------------------------------------------------------------------------


def test_tate_object_is_cleaned_renamed_and_keeps_its_extra_fields() -> None:
    record = validate_record("objects", raw("tate_t00938_object"))
    assert record["object_id"] == "T00938"
    assert record["title"] == "Sketch for ‘The Conjuror’"
    assert record["creation_date_iso"] == "1775"
    assert record["creation_date_raw"] is None
    assert record["dimensions"] == "support: 575 x 819 mm\r\nframe: 765 x 940 x 70 mm"
    assert record["rights_uri"] == "http://creativecommons.org/publicdomain/mark/1.0/"
    assert record["media"] == [
        {
            "media_id": "T00938_8",
            "iiif_image_service": "http://www.tate.org.uk/art/images/work/T/T00/T00938_8.jpg",
            "image_url": None,
            "width": None,
            "height": None,
            "format": "image/jpeg",
            "is_primary": True,
            "caption": None,
            "rights_uri": None,
            "extra_fields": None,
        }
    ]
    assert record["extra_fields"] == {
        "acquisitionYear": 1967,
        "url": "http://www.tate.org.uk/art/artworks/hone-sketch-for-the-conjuror-t00938",
    }
    assert record["deleted"] is False
    assert record["_sdc_deleted_at"] is None
    assert "ObjectID" not in record


def test_aic_object_with_numeric_key_and_offset_timestamp() -> None:
    record = validate_record("objects", raw("aic_11_object"))
    assert record["object_id"] == "11"
    assert record["modified"] == "2024-12-13T00:41:56Z"  # 18:41:56-06:00
    assert record["rights_uri"] == "http://creativecommons.org/publicdomain/zero/1.0/"
    assert record["maker"] == "Walter Shirlaw\nAmerican, 1838–1909"
    assert record["media"][0]["iiif_image_service"] == (
        "https://www.artic.edu/iiif/2/7b7a6f39-1cd8-ea2f-9811-18b0e23edac0"
    )
    assert record["extra_fields"] == {"is_public_domain": True, "place_of_origin": "United States"}
    json.dumps(record)  # JSON-serialisable as it stands


def test_aic_media_and_rights_records() -> None:
    media = validate_record("media", raw("aic_16_media"))
    assert media["media_id"] == "e82b61d4-1d5b-a15d-4d2e-ff9caca3fb51"
    assert media["object_id"] == "16"
    assert (media["width"], media["height"]) == (1969, 3000)  # "1969" arrived as a string
    assert media["modified"] == "2024-12-12T21:57:37Z"
    rights = validate_record("rights", raw("aic_20_rights"))
    assert rights["rights_id"] == "r-20"
    assert rights["object_id"] == "20"
    assert rights["statement_uri"] == "http://creativecommons.org/publicdomain/zero/1.0/"
    assert rights["holder"] is None
    assert rights["valid_from"] == "2024-12-13"


def test_tate_fuzzy_date_is_rejected_by_default_and_kept_on_request() -> None:
    error = rejected("objects", raw("tate_t06505_object_fuzzy_date"))
    assert error.key == "T06505"
    assert error.reason.startswith("creation_date_iso: 'c.1843, c.1855' is not an ISO 8601 date")
    record = validate_record("objects", raw("tate_t06505_object_fuzzy_date"), KEEP)
    assert record["creation_date_iso"] is None
    assert record["creation_date_raw"] == "c.1843, c.1855"
    assert record["creation_date_display"] == "c.1843, c.1855"


def test_object_without_creation_date_is_fine() -> None:
    record = validate_record("objects", raw("tate_t00967_object_no_date"))
    assert record["creation_date_iso"] is None
    assert record["creation_date_raw"] is None
    assert record["creation_date_display"] == "date not known"


# --- keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1994.127", "1994.127"), ("  T00938 ", "T00938"), (1994, "1994"), (0, "0"), (12.0, "12")],
)
def test_key_forms_accepted(value: Any, expected: str) -> None:
    assert validate_record("objects", obj(ObjectID=value))["object_id"] == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "ObjectID: must not be empty or blank"),
        ("   ", "ObjectID: must not be empty or blank"),
        ("\x1e\x00", "ObjectID: must not be empty or blank"),
        (None, "ObjectID: must not be empty or blank"),
        (1994.127, "ObjectID: 1994.127 is not an integral number"),
        (float("nan"), "ObjectID: nan is not an integral number"),
        (True, "ObjectID: must be a string or an integer, not a boolean (got True)"),
        (["1994"], "ObjectID: must be a string or an integer (got ['1994'])"),
    ],
)
def test_bad_keys_are_rejected(value: Any, message: str) -> None:
    record = obj()
    record["ObjectID"] = value
    assert rejected("objects", record).reason.startswith(message)


def test_missing_key_and_title_are_reported_together() -> None:
    error = rejected("objects", {"modified": MODIFIED, "maker": "A. Painter"})
    assert error.reason == "ObjectID: field required; title: field required"
    assert error.key is None


@pytest.mark.parametrize(
    ("stream", "record", "reason"),
    [
        (
            "rights",
            {"ObjectID": "1", "statement_uri": "CC0", "modified": MODIFIED},
            "RightsID: field required",
        ),
        (
            "rights",
            {"RightsID": "r-1", "statement_uri": "CC0", "modified": MODIFIED},
            "ObjectID: field required",
        ),
        (
            "rights",
            {"RightsID": "r-1", "ObjectID": "1", "modified": MODIFIED},
            "statement_uri: field required",
        ),
        (
            "rights",
            {"RightsID": "r-1", "ObjectID": "1", "statement_uri": " ", "modified": MODIFIED},
            "statement_uri: must not be empty or blank",
        ),
        ("media", {"ObjectID": "1", "modified": MODIFIED}, "MediaID: field required"),
        ("media", {"MediaID": "m-1"}, "modified: field required"),
    ],
)
def test_required_fields_of_rights_and_media(stream: str, record: dict, reason: str) -> None:
    assert rejected(stream, record).reason == reason


def test_media_without_object_is_kept() -> None:
    record = validate_record("media", {"MediaID": 88, "modified": MODIFIED})
    assert (record["media_id"], record["object_id"]) == ("88", None)


# --- title and types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "reason"),
    [
        ("", "title: must not be empty or blank"),
        (" \t ", "title: must not be empty or blank"),
        (None, "title: must not be empty or blank"),
        (1889, "title: input should be a valid string (got 1889)"),
        (["Harbour"], "title: input should be a valid string (got ['Harbour'])"),
    ],
)
def test_bad_titles(title: Any, reason: str) -> None:
    record = obj()
    record["title"] = title
    assert rejected("objects", record).reason == reason


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"maker": 42}, "maker: input should be a valid string (got 42)"),
        (
            {"accession_number": 1994.127},
            "accession_number: input should be a valid string (got 1994.127)",
        ),
        ({"media": "m-88"}, "media: input should be a valid list (got 'm-88')"),
        (
            {"media": [{"MediaID": "m-1", "width": "wide"}]},
            "media[0].width: input should be a valid integer, unable to parse string as an integer "
            "(got 'wide')",
        ),
        (
            {"media": [{"MediaID": "m-1", "height": -3}]},
            "media[0].height: input should be greater than or equal to 0 (got -3)",
        ),
        (
            {"media": [{"MediaID": "m-1", "width": 4000.5}]},
            "media[0].width: input should be a valid integer, got a number with a fractional part "
            "(got 4000.5)",
        ),
        (
            {"media": [{"MediaID": "m-1", "width": True}]},
            "media[0].width: must be a non-negative integer (got True)",
        ),
        (
            {"media": [{"MediaID": "m-1", "is_primary": "yes"}]},
            "media[0].is_primary: input should be a valid boolean (got 'yes')",
        ),
        (
            {"media": [{"MediaID": "m-1", "is_primary": 1}]},
            "media[0].is_primary: input should be a valid boolean (got 1)",
        ),
        ({"deleted": "true"}, "deleted: input should be a valid boolean (got 'true')"),
        ({"media": [{"width": 10}]}, "media[0].MediaID: field required"),
    ],
)
def test_wrong_types_are_rejected_with_the_value(fields: dict, reason: str) -> None:
    assert rejected("objects", obj(**fields)).reason == reason


def test_sizes_accept_numeric_strings_and_is_primary_accepts_booleans() -> None:
    record = validate_record(
        "media",
        {
            "MediaID": "m-1",
            "width": "4000",
            "height": 3000,
            "is_primary": False,
            "modified": MODIFIED,
        },
    )
    assert (record["width"], record["height"], record["is_primary"]) == (4000, 3000, False)


def test_every_error_is_listed_in_one_reason() -> None:
    record = {
        "title": "",
        "creation_date_iso": "19th century",
        "rights_uri": "CC BY 5.0",
        "iiif_manifest_url": "/iiif/1/manifest",
        "modified": "yesterday",
    }
    reason = rejected("objects", record).reason
    assert reason.split("; ") == [
        "ObjectID: field required",
        "title: must not be empty or blank",
        "creation_date_iso: '19th century' is not an ISO 8601 date "
        "(a fuzzy date, kept only with fuzzy_dates=keep)",
        "rights_uri: unknown rights statement 'CC BY 5.0'",
        "iiif_manifest_url: '/iiif/1/manifest' is not an absolute http(s) URL",
        "modified: 'yesterday' is not an ISO 8601 datetime",
    ]


def test_long_offending_values_are_truncated_in_the_reason() -> None:
    reason = rejected("objects", obj(maker=7, creation_date_iso="circa " + "x" * 500)).reason
    shown = reason.split("creation_date_iso: ")[1].split(" is not")[0]
    assert len(shown) <= 80 and shown.endswith("...")
    assert len(reason) < 300


def test_non_object_line_is_rejected() -> None:
    assert rejected("objects", ["ObjectID", "1"]).reason == "record: not a JSON object (got list)"


def test_unknown_stream_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown stream 'artists'"):
        validate_record("artists", obj())


# --- dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "1889-06-01",
        "1889-06",
        "1889",
        "0850",
        "1889-06-01T12:30:00Z",
        "1889-06-01T12:30+01:00",
        "2024-02-29",
        "0000",
    ],
)
def test_iso_creation_dates_are_kept_as_sent(value: str) -> None:
    record = validate_record("objects", obj(creation_date_iso=value))
    assert (record["creation_date_iso"], record["creation_date_raw"]) == (value, None)


@pytest.mark.parametrize("value", ["2026-13-45", "1889-02-30", "2023-02-29", "1889-06-01T25:00:00"])
def test_impossible_dates_are_rejected_under_both_policies(value: str) -> None:
    expected = f"creation_date_iso: {value!r} is not a real date"
    assert rejected("objects", obj(creation_date_iso=value)).reason == expected
    assert rejected("objects", obj(creation_date_iso=value), KEEP).reason == expected


@pytest.mark.parametrize(
    "value",
    ["c. 1850", "1850-60", "1850-1860", "19th century", "c.1830–41", "?1831", "June 1889", "-0499"],
)
def test_fuzzy_dates_follow_the_policy(value: str) -> None:
    reason = rejected("objects", obj(creation_date_iso=value)).reason
    assert reason.startswith(f"creation_date_iso: {value!r} is not an ISO 8601 date")
    record = validate_record("objects", obj(creation_date_iso=value), KEEP)
    assert (record["creation_date_iso"], record["creation_date_raw"]) == (None, value)


def test_creation_date_of_wrong_type_is_rejected_under_both_policies() -> None:
    for options in (ValidationOptions(), KEEP):
        reason = rejected("objects", obj(creation_date_iso=1850), options).reason
        assert reason == "creation_date_iso: must be an ISO 8601 date string (got 1850)"


def test_fuzzy_validity_dates_of_rights_are_always_rejected() -> None:
    record = {
        "RightsID": "r-1",
        "ObjectID": "1",
        "statement_uri": "InC",
        "modified": MODIFIED,
        "valid_from": "c. 2020",
        "valid_to": "2020-02-31",
    }
    reason = rejected("rights", record, KEEP).reason
    assert reason == (
        "valid_from: 'c. 2020' is not an ISO 8601 date "
        "(a fuzzy date, kept only with fuzzy_dates=keep); "
        "valid_to: '2020-02-31' is not a real date"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20T10:00:00Z", "2026-11-20T10:00:00Z"),
        ("2026-11-20T10:00:00.987654Z", "2026-11-20T10:00:00Z"),
        ("2026-11-20T11:00:00+01:00", "2026-11-20T10:00:00Z"),
        ("2026-11-20T04:00:00-06:00", "2026-11-20T10:00:00Z"),
        ("2026-11-20 10:00:00", "2026-11-20T10:00:00Z"),  # no offset: read as UTC
        ("2026-11-20t10:00z", "2026-11-20T10:00:00Z"),
        ("2026-12-31T23:30:00-01:00", "2027-01-01T00:30:00Z"),
    ],
)
def test_modified_is_normalised_to_utc_seconds(value: str, expected: str) -> None:
    assert validate_record("objects", obj(modified=value))["modified"] == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2026-11-20", "modified: '2026-11-20' is not an ISO 8601 datetime"),
        ("2026-11-31T10:00:00Z", "modified: '2026-11-31T10:00:00Z' is not an ISO 8601 datetime"),
        ("20 Nov 2026", "modified: '20 Nov 2026' is not an ISO 8601 datetime"),
        (1763632800, "modified: must be an ISO 8601 datetime string (got 1763632800)"),
        (None, "modified: field required"),
    ],
)
def test_bad_modified_is_rejected(value: Any, reason: str) -> None:
    assert rejected("objects", obj(modified=value)).reason == reason


def test_normalised_modified_strings_sort_like_the_moments() -> None:
    moments = [
        "2026-11-20T10:00:00.500+00:00",
        "2026-11-20T10:00:01Z",
        "2026-11-20T09:59:59.999Z",
        "2026-11-20T11:00:00.100+01:00",
    ]
    out = [validate_record("objects", obj(modified=m))["modified"] for m in moments]
    assert sorted(out) == [
        "2026-11-20T09:59:59Z",
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:00:01Z",
    ]


# --- URLs and rights -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://cms.example.org/iiif/1994.127/manifest",
        "http://localhost:8080/m",
        "https://[2001:db8::1]/iiif/manifest",
        "HTTPS://CMS.EXAMPLE.ORG/m?x=1#y",
    ],
)
def test_absolute_http_urls_are_kept_as_sent(url: str) -> None:
    assert validate_record("objects", obj(iiif_manifest_url=url))["iiif_manifest_url"] == url


@pytest.mark.parametrize(
    "url",
    [
        "/iiif/1994.127/manifest",
        "cms.example.org/iiif/manifest",
        "ftp://cms.example.org/m",
        "https://",
        "http:///path",
        "https://cms.example.org/a manifest",
        "javascript:alert(1)",
        "file:///etc/passwd",
    ],
)
def test_bad_urls_are_rejected_in_every_url_field(url: str) -> None:
    reason = rejected("objects", obj(iiif_manifest_url=url)).reason
    assert reason == f"iiif_manifest_url: {url!r} is not an absolute http(s) URL"
    nested = rejected("objects", obj(media=[{"MediaID": "m", "iiif_image_service": url}])).reason
    assert nested == f"media[0].iiif_image_service: {url!r} is not an absolute http(s) URL"
    media = {
        "MediaID": "m",
        "iiif_manifest_url": url,
        "iiif_image_service": url,
        "modified": MODIFIED,
    }
    assert rejected("media", media).reason == (
        f"iiif_image_service: {url!r} is not an absolute http(s) URL; "
        f"iiif_manifest_url: {url!r} is not an absolute http(s) URL"
    )


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        (
            "https://rightsstatements.org/page/InC/1.0/?language=en",
            "http://rightsstatements.org/vocab/InC/1.0/",
        ),
        ("CC BY 4.0", "http://creativecommons.org/licenses/by/4.0/"),
        ("In Copyright", "http://rightsstatements.org/vocab/InC/1.0/"),
        (
            "https://creativecommons.org/share-your-work/public-domain/cc0/",
            "http://creativecommons.org/publicdomain/zero/1.0/",
        ),
    ],
)
def test_rights_uris_are_normalised_on_objects_and_rights(value: str, canonical: str) -> None:
    assert validate_record("objects", obj(rights_uri=value))["rights_uri"] == canonical
    rights = {"RightsID": "r", "ObjectID": "o", "statement_uri": value, "modified": MODIFIED}
    assert validate_record("rights", rights)["statement_uri"] == canonical


def test_unknown_rights_uri_is_rejected_naming_it() -> None:
    reason = rejected("objects", obj(rights_uri="https://example.org/licence/7")).reason
    assert reason.startswith("rights_uri: unknown rights statement 'https://example.org/licence/7'")


# --- cleaning ------------------------------------------------------------------------------------


def test_control_characters_are_removed_everywhere_including_nested_and_extra_fields() -> None:
    record = obj(
        ObjectID="1994\x00.127",
        title="\x1faHarbour at Dawn\x1fbsketch\x1e",
        medium="Oil on\x00 canvas",
        media=[
            {
                "MediaID": "m-88\x00",
                "format": "image/jpeg\x1d",
                "dpi\x00": "300\x0b",
                "notes": ["a\x00", {"k\x1f": "v\ufffe"}],
            }
        ],
        legacy_note="\x1fa$100 paid\x1e",
        legacy_tags=["x\x00y", {"deep\x00": ["\x1fz"]}],
    )
    out = validate_record("objects", record)
    assert out["object_id"] == "1994.127"
    assert out["title"] == "Harbour at Dawn sketch"
    assert out["medium"] == "Oil on canvas"
    assert out["media"][0]["media_id"] == "m-88"
    assert out["media"][0]["format"] == "image/jpeg"
    assert out["media"][0]["extra_fields"] == {"dpi": "300", "notes": ["a", {"k": "v"}]}
    assert out["extra_fields"] == {
        "legacy_note": "$100 paid",
        "legacy_tags": ["xy", {"deep": [None]}],
    }
    assert "\x00" not in json.dumps(out, ensure_ascii=False)


def test_blank_optional_strings_become_null() -> None:
    out = validate_record(
        "objects", obj(maker="   ", medium="\x00", iiif_manifest_url="", rights_uri=" ")
    )
    assert (out["maker"], out["medium"], out["iiif_manifest_url"], out["rights_uri"]) == (
        None,
        None,
        None,
        None,
    )


def test_surrounding_whitespace_is_stripped_from_clean_and_dirty_records() -> None:
    clean = validate_record("objects", obj(title="  Harbour  ", maker=" A. Painter\n"))
    dirty = validate_record("objects", obj(title="  Harbour\x00  ", maker=" A. Painter\n"))
    assert (clean["title"], clean["maker"]) == ("Harbour", "A. Painter")
    assert (dirty["title"], dirty["maker"]) == ("Harbour", "A. Painter")


def test_reason_shows_control_characters_escaped_never_raw() -> None:
    reason = rejected("objects", obj(media={"m\x00": "\x1f88"})).reason
    assert reason == "media: input should be a valid list (got {'m\\x00': '\\x1f88'})"


# --- extra fields, cursor, tombstones ------------------------------------------------------------


def test_unknown_fields_keep_their_original_names_and_values() -> None:
    out = validate_record("objects", obj(LegacyNumber=17, inscription="signed", object_id="shadow"))
    assert out["extra_fields"] == {
        "LegacyNumber": 17,
        "inscription": "signed",
        "object_id": "shadow",
    }
    assert out["object_id"] == "1994.127"


def test_next_cursor_left_in_the_record_is_not_data() -> None:
    out = validate_record("objects", obj(next_cursor="b64:MTk5NC4xMjc="))
    assert out["extra_fields"] is None


@pytest.mark.parametrize("stream", ["objects", "rights", "media"])
def test_tombstone_needs_only_key_and_modified(stream: str) -> None:
    source, key = KEY_FIELDS[stream]
    out = validate_record(
        stream, {source: 1994, "deleted": True, "modified": "2026-11-20T11:00:00+01:00"}
    )
    assert out[key] == "1994"
    assert out["deleted"] is True
    assert out["modified"] == out["_sdc_deleted_at"] == "2026-11-20T10:00:00Z"
    others = {
        k: v for k, v in out.items() if k not in (key, "deleted", "modified", "_sdc_deleted_at")
    }
    assert others and all(v is None for v in others.values())


def test_tombstone_ignores_its_other_fields_even_when_invalid() -> None:
    out = validate_record(
        "objects", obj(deleted=True, title="", creation_date_iso="c. 1850", rights_uri="??")
    )
    assert out["deleted"] is True and out["title"] is None


def test_tombstone_still_needs_a_readable_key_and_modified() -> None:
    error = rejected("objects", {"ObjectID": " ", "deleted": True, "modified": "soon"})
    assert error.reason == (
        "ObjectID: must not be empty or blank; modified: 'soon' is not an ISO 8601 datetime"
    )
    assert error.key is None


def test_deleted_false_or_null_is_a_normal_record() -> None:
    assert validate_record("objects", obj(deleted=False))["deleted"] is False
    record = obj()
    record["deleted"] = None
    assert validate_record("objects", record)["deleted"] is False
    assert rejected(
        "objects", {"ObjectID": "1", "deleted": False, "modified": MODIFIED}
    ).reason == ("title: field required")


# --- source_key ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"ObjectID": " 1994.127 "}, "1994.127"),
        ({"ObjectID": 1994}, "1994"),
        ({"ObjectID": 12.0}, "12"),
        ({"ObjectID": 1994.127}, "1994.127"),
        ({"ObjectID": "\x00\x1e"}, None),
        ({"ObjectID": ""}, None),
        ({"ObjectID": True}, None),
        ({"ObjectID": ["x"]}, None),
        ({}, None),
        (["not", "a", "dict"], None),
    ],
)
def test_source_key(record: Any, expected: str | None) -> None:
    assert source_key("objects", record) == expected


def test_rejection_carries_the_key_when_readable() -> None:
    assert rejected("media", {"MediaID": 88, "modified": "x"}).key == "88"
    assert rejected("rights", {"RightsID": "r-9", "modified": MODIFIED}).key == "r-9"
