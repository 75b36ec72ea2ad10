"""The validation contract at the ingestion boundary: raw CMS records in, clean Singer records out.

The HTTP client decodes one JSONL line, pops ``next_cursor`` and calls :func:`validate_record`. It
gets back a plain, JSON-serialisable dict for the Singer RECORD, or :class:`RecordRejected` with a
human-readable reason listing every problem (the client quarantines the line)::

    validate_record("objects", {"ObjectID": 1994, "title": "Harbour\\x00 at Dawn",
                                "creation_date_iso": "1889-06", "legacy_id": "A-17",
                                "modified": "2026-11-20T11:00:00+01:00"})
    -> {"object_id": "1994", "title": "Harbour at Dawn", "creation_date_iso": "1889-06",
        "creation_date_raw": None, ..., "media": None, "modified": "2026-11-20T10:00:00Z",
        "deleted": False, "_sdc_deleted_at": None, "extra_fields": {"legacy_id": "A-17"}}

    validate_record("objects", {"title": "", "creation_date_iso": "c. 1850", "modified": "x"})
    -> RecordRejected("ObjectID: field required; title: must not be empty or blank; "
                      "creation_date_iso: 'c. 1850' is not an ISO 8601 date ...; "
                      "modified: 'x' is not an ISO 8601 datetime")

Decisions (the JSONL contract leaves these open):

- Text: every string, nested ones and extra fields (names and values) included, goes through
  :func:`tap_museumcms.text.clean_text` (MARC separators and XML-illegal characters such as
  ``\\x00`` removed, ends stripped). A string that is empty after cleaning becomes ``None``.
- Keys (``ObjectID``, ``RightsID``, ``MediaID``, and ``ObjectID`` in rights and media): strings, or
  integers turned into strings (``1994`` -> ``"1994"``). An integral float is read as the integer
  (``12.0`` -> ``"12"``, JSON does not tell them apart); a non-integral float is rejected, because
  ``1994.10`` arrives as ``1994.1`` and the key can no longer be trusted. Booleans are rejected.
- Other fields are typed strictly: a number where text is expected is rejected, not stringified.
  ``width``/``height`` accept non-negative integers and integer strings (``"4000"``);
  ``is_primary`` and ``deleted`` accept only JSON booleans (``deleted: null`` means false).
- ``creation_date_iso`` accepts ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` and ISO 8601 datetimes, and
  keeps the text as sent. A value shaped like a date that is not a real one (``"2026-13-45"``,
  ``"1889-02-30"``) is always rejected; year ``0000`` (1 BC in ISO 8601) is accepted. Anything
  else (``"c. 1850"``, ``"1850-60"``, ``"19th century"``, negative years) is a fuzzy date:
  rejected by default; with
  ``ValidationOptions(fuzzy_dates="keep")`` the record is kept with ``creation_date_iso = None``
  and the text in ``creation_date_raw`` (always in the output, ``None`` otherwise).
  ``valid_from``/``valid_to`` (rights) take the same forms, and fuzzy ones are always rejected.
- ``modified`` is required on every stream: an ISO 8601 datetime (a date alone is rejected), read as
  UTC when it has no offset, and written as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC. Fractional seconds are
  truncated: a fixed-width form is what keeps the strings order-comparable (``"...:00.5Z"`` sorts
  before ``"...:00Z"``), and truncating never moves a bookmark past a record, since
  ``modified_since`` is inclusive (at worst a record of the same second is fetched again).
- URL fields (``iiif_manifest_url``, ``iiif_image_service``) must be absolute ``http``/``https``
  URLs with a host and no whitespace; they are kept as sent. Extra fields are not checked.
- Rights URIs (``rights_uri``, ``statement_uri``) are normalised by :mod:`tap_museumcms.rights`;
  an unknown one is rejected with a reason naming it. ``statement_uri`` is required on rights.
- Required beyond the key and ``modified``: ``title`` (objects), ``ObjectID`` and
  ``statement_uri`` (rights: the contract has one rights record per object). A media record's
  ``ObjectID`` is optional: a DAMS can hold assets not yet linked to an object.
- Unknown fields are kept, never dropped: they go to ``extra_fields`` under their original names
  (not snake-cased: they are the CMS's names, and renaming could make two of them collide), with
  their values cleaned; ``extra_fields`` is ``None`` when there are none. Unknown fields of an
  embedded media item go to that item's own ``extra_fields``. ``next_cursor`` is transport, not
  data: if it is still present it is ignored.
- A tombstone (``"deleted": true``) needs only its key and ``modified``; its other fields are not
  validated and come out ``None``, with ``_sdc_deleted_at`` = ``modified``.

- Reasons: ``"<field>: <message>"`` per error, in field order, joined by ``"; "`` (messages never
  contain ``"; "``); nested fields read ``media[0].width``; offending values are shown as their
  ``repr`` (control characters escaped) cut to 80 characters.

The models do the checking; :func:`validate_record` builds the output dict itself (faster than
``model_dump`` and with the exact field set of ``schemas/<stream>.json``; the schema agreement
test holds them together). Speed: about 48,000 object records per second on the project's 2-core
machine (``benchmarks/bench_models.py``), twice the singer-sdk ceiling of about 25,000.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tap_museumcms.rights import UnknownRights, normalize_rights_uri
from tap_museumcms.text import clean_text, needs_cleaning, strip_xml_illegal

StreamName = Literal["objects", "rights", "media"]

KEY_FIELDS: dict[str, tuple[str, str]] = {
    "objects": ("ObjectID", "object_id"),
    "rights": ("RightsID", "rights_id"),
    "media": ("MediaID", "media_id"),
}
"""Stream -> (key field as the CMS sends it, key property in the Singer record)."""

_TRANSPORT_FIELDS = frozenset({"next_cursor"})
_SHOW_MAX = 80


@dataclass(frozen=True)
class ValidationOptions:
    """Policies of the validation contract.

    Attributes:
        fuzzy_dates: ``"quarantine"`` rejects a record whose ``creation_date_iso`` is a fuzzy date;
            ``"keep"`` keeps it with ``creation_date_iso = None`` and the text in
            ``creation_date_raw``.
    """

    fuzzy_dates: Literal["quarantine", "keep"] = "quarantine"


DEFAULT_OPTIONS = ValidationOptions()
"""The default policies: fuzzy dates quarantined."""


class RecordRejected(Exception):
    """A record that breaks the contract.

    Attributes:
        reason: Every problem, ``"field: message"`` joined by ``"; "``, e.g.
            ``"title: field required; creation_date_iso: 'c. 1850' is not an ISO 8601 date"``.
        key: The record's source key when it could be read (see :func:`source_key`), else None.
    """

    def __init__(self, reason: str, key: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key


def _show(value: Any) -> str:
    """Repr of an offending value, truncated for a reason string: ``'c. 1850'``."""
    text = repr(value)
    return text if len(text) <= _SHOW_MAX else text[: _SHOW_MAX - 3] + "..."


def _clean_value(value: Any) -> Any:
    """Clean every string in a JSON value; blank strings become None."""
    if type(value) is str:
        return clean_text(value) or None
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_value(v) for v in value]
    return value


# --- field rules (pure functions, raise ValueError with a readable message) -------------------


def _as_key(value: Any) -> str:
    """A key: non-empty string, or an integer (or integral number) turned into a string."""
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise ValueError("must not be empty or blank")
        return value
    if value is None:
        raise ValueError("must not be empty or blank")
    if isinstance(value, bool):
        raise ValueError(f"must be a string or an integer, not a boolean (got {_show(value)})")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        if math.isfinite(value) and value == int(value):
            return str(int(value))
        raise ValueError(
            f"{_show(value)} is not an integral number "
            "(a decimal key is ambiguous: send it as a string)"
        )
    raise ValueError(f"must be a string or an integer (got {_show(value)})")


_ISO_DATE_RE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})([Tt ].*)?)?)?")


class _FuzzyDate(str):
    """Marker: a fuzzy date kept under ``fuzzy_dates="keep"``."""

    __slots__ = ()


def _iso_date(value: Any, *, keep_fuzzy: bool) -> str | _FuzzyDate | None:
    """An ISO 8601 date, year-month, year or datetime, kept as sent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 date string (got {_show(value)})")
    value = value.strip()
    if not value:
        return None
    match = _ISO_DATE_RE.fullmatch(value)
    year, month, day, time = match.groups() if match else (None, None, None, None)
    if match and day is not None:
        try:
            if time is None:
                # Year 0000 (1 BC in ISO 8601) is a leap year like 2000; Python has no year 0.
                date(int(year) or 2000, int(month), int(day))  # type: ignore[arg-type]
            else:
                datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{_show(value)} is not a real date") from None
        return value
    if match and (month is None or "01" <= month <= "12"):
        return value
    # Free text ("c. 1850", "19th century") or a short range ("1850-60").
    if keep_fuzzy:
        return _FuzzyDate(value)
    raise ValueError(
        f"{_show(value)} is not an ISO 8601 date (a fuzzy date, kept only with fuzzy_dates=keep)"
    )


_CANONICAL_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def _utc_datetime(value: Any) -> str:
    """An ISO 8601 datetime normalised to ``YYYY-MM-DDTHH:MM:SSZ`` in UTC (naive means UTC)."""
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 datetime string (got {_show(value)})")
    value = value.strip()
    if _CANONICAL_DATETIME_RE.fullmatch(value):
        # Already in the output form (the common case): only check that it is a real moment.
        try:
            datetime.fromisoformat(value[:19])
        except ValueError:
            raise ValueError(f"{_show(value)} is not an ISO 8601 datetime") from None
        return value
    if len(value) < 13 or value[10] not in "Tt ":
        raise ValueError(f"{_show(value)} is not an ISO 8601 datetime")
    try:
        moment = datetime.fromisoformat(value.upper())  # fromisoformat wants "T" and "Z"
        # No offset: read as UTC. An offset: converted to UTC.
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"{_show(value)} is not an ISO 8601 datetime") from None
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


# An absolute http(s) URL: scheme, optional userinfo, a non-empty host (name or [IPv6]), optional
# port, then a path, query or fragment; no whitespace or control character anywhere. A regex is
# several times faster than urlsplit, and validation runs on every record.
_HTTP_URL_RE = re.compile(
    r"https?://(?:[^\s/?#@\x00-\x1f\x7f]*@)?(?:\[[0-9A-Fa-f:.]+\]|[^\s/?#@:\[\]\x00-\x1f\x7f]+)"
    r"(?::[0-9]*)?(?:[/?#][^\s\x00-\x1f\x7f]*)?",
    re.IGNORECASE,
)


def _http_url(value: Any) -> str | None:
    """An absolute http(s) URL with a host, kept as sent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be a URL string (got {_show(value)})")
    value = value.strip()
    if not value:
        return None
    if _HTTP_URL_RE.fullmatch(value) is None:
        raise ValueError(f"{_show(value)} is not an absolute http(s) URL")
    return value


def _rights_uri(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be a rights URI string (got {_show(value)})")
    if not value.strip():
        return None
    try:
        return normalize_rights_uri(value)
    except UnknownRights as exc:
        raise ValueError(str(exc)) from None


def _size(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"must be a non-negative integer (got {_show(value)})")
    return value


# --- models -------------------------------------------------------------------------------------


class _CmsModel(BaseModel):
    """Base: cleans strings and moves unknown fields to ``extra_fields`` before validation.

    Subclasses declare ``extra_fields`` last; ``_nested`` names the fields holding nested models,
    which clean their own input. Cleaning is split for speed: a record whose strings hold nothing
    to remove (the common case) is passed on as it is; plain ``str`` fields are then stripped by
    pydantic-core (``str_strip_whitespace``), the field validators strip what they read, and
    :func:`_output` turns blank strings into ``None``.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    _input_names: ClassVar[frozenset[str]] = frozenset()
    _nested: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        fields = cls.model_fields.items()
        cls._input_names = frozenset(
            field.alias or name for name, field in fields if name != "extra_fields"
        )

    @model_validator(mode="before")
    @classmethod
    def _prepare(cls, data: Any) -> Any:
        if type(data) is not dict and not isinstance(data, Mapping):
            return data
        names = cls._input_names
        # One regex scan over all top-level strings decides whether any needs cleaning.
        dirty = needs_cleaning("".join([value for value in data.values() if type(value) is str]))
        if not dirty and names.issuperset(data):
            return data
        known = {
            name: clean_text(value) if dirty and type(value) is str else value
            for name, value in data.items()
            if name in names
        }
        extra = {
            clean_text(str(name)): _clean_value(value)
            for name, value in data.items()
            if name not in names and name not in _TRANSPORT_FIELDS
        }
        if extra:
            known["extra_fields"] = extra
        return known


def _modified_validator() -> Any:
    return field_validator("modified", mode="before")(lambda value: _utc_datetime(value))


def _key_validator(*fields: str) -> Any:
    return field_validator(*fields, mode="before")(lambda value: _as_key(value))


def _url_validator(*fields: str) -> Any:
    return field_validator(*fields, mode="before")(lambda value: _http_url(value))


def _size_validator() -> Any:
    return field_validator("width", "height", mode="before")(lambda value: _size(value))


class MediaRef(_CmsModel):
    """An asset embedded in an object's ``media`` list.

    Input: ``{"MediaID": "m-88", "iiif_image_service": "https://img.example.org/iiif/3/m-88",
    "width": 4000, "height": 3000, "format": "image/jpeg", "is_primary": true}``.
    """

    media_id: str = Field(alias="MediaID")
    iiif_image_service: str | None = None
    image_url: str | None = None
    width: int | None = Field(default=None, ge=0)
    height: int | None = Field(default=None, ge=0)
    format: str | None = None
    is_primary: StrictBool | None = None
    caption: str | None = None
    rights_uri: str | None = None
    extra_fields: dict[str, Any] | None = None

    _check_key = _key_validator("media_id")
    _check_urls = _url_validator("iiif_image_service", "image_url")
    _check_sizes = _size_validator()
    _check_rights = field_validator("rights_uri", mode="before")(lambda value: _rights_uri(value))

    def to_item(self) -> dict[str, Any]:
        """The item as it appears in the object record's ``media`` array."""
        return _blank_to_none(dict(self.__dict__))


class ObjectRecord(_CmsModel):
    """An object (``GET /objects``); see the module docstring for the rules."""

    _nested: ClassVar[frozenset[str]] = frozenset({"media"})

    object_id: str = Field(alias="ObjectID")
    title: str = Field(min_length=1)
    # str, None, or a _FuzzyDate kept under fuzzy_dates="keep" (typed Any so that the marker
    # class survives; _creation_date does all the checking).
    creation_date_iso: Any = None
    creation_date_display: str | None = None
    maker: str | None = None
    object_type: str | None = None
    medium: str | None = None
    dimensions: str | None = None
    department: str | None = None
    accession_number: str | None = None
    lido_rec_id: str | None = None
    object_published_id: str | None = None
    description: str | None = None
    credit_line: str | None = None
    rights_uri: str | None = None
    iiif_manifest_url: str | None = None
    media: list[MediaRef] | None = None
    modified: str
    deleted: StrictBool | None = False
    extra_fields: dict[str, Any] | None = None

    _check_key = _key_validator("object_id")
    _check_urls = _url_validator("iiif_manifest_url")
    _check_rights = field_validator("rights_uri", mode="before")(lambda value: _rights_uri(value))
    _check_modified = _modified_validator()

    @field_validator("creation_date_iso", mode="before")
    @classmethod
    def _creation_date(cls, value: Any, info: ValidationInfo) -> Any:
        keep = bool(info.context) and info.context.get("fuzzy_dates") == "keep"
        return _iso_date(value, keep_fuzzy=keep)


class RightsRecord(_CmsModel):
    """A rights statement (``GET /rights``)."""

    rights_id: str = Field(alias="RightsID")
    object_id: str = Field(alias="ObjectID")
    statement_uri: str
    holder: str | None = None
    credit_line: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    modified: str
    deleted: StrictBool | None = False
    extra_fields: dict[str, Any] | None = None

    _check_key = _key_validator("rights_id", "object_id")
    _check_modified = _modified_validator()

    @field_validator("statement_uri", mode="before")
    @classmethod
    def _statement(cls, value: Any) -> Any:
        if type(value) is str and not value.strip():
            raise ValueError("must not be empty or blank")
        return _rights_uri(value)

    @field_validator("valid_from", "valid_to", mode="before")
    @classmethod
    def _validity(cls, value: Any) -> Any:
        return _iso_date(value, keep_fuzzy=False)


class MediaRecord(_CmsModel):
    """A digital asset (``GET /media``)."""

    media_id: str = Field(alias="MediaID")
    object_id: str | None = Field(default=None, alias="ObjectID")
    iiif_image_service: str | None = None
    image_url: str | None = None
    iiif_manifest_url: str | None = None
    format: str | None = None
    width: int | None = Field(default=None, ge=0)
    height: int | None = Field(default=None, ge=0)
    caption: str | None = None
    rights_uri: str | None = None
    is_primary: StrictBool | None = None
    modified: str
    deleted: StrictBool | None = False
    extra_fields: dict[str, Any] | None = None

    _check_key = _key_validator("media_id")
    _check_object = field_validator("object_id", mode="before")(
        lambda value: None if value is None else _as_key(value)
    )
    _check_urls = _url_validator("iiif_image_service", "image_url", "iiif_manifest_url")
    _check_sizes = _size_validator()
    _check_rights = field_validator("rights_uri", mode="before")(lambda value: _rights_uri(value))
    _check_modified = _modified_validator()


class _Tombstone(_CmsModel):
    """A deleted record: only the key and ``modified`` are read; other fields are ignored."""

    key: str
    modified: str
    deleted: Literal[True]

    _check_key = _key_validator("key")
    _check_modified = _modified_validator()


class _ObjectTombstone(_Tombstone):
    key: str = Field(alias="ObjectID")


class _RightsTombstone(_Tombstone):
    key: str = Field(alias="RightsID")


class _MediaTombstone(_Tombstone):
    key: str = Field(alias="MediaID")


_MODELS: dict[str, type[ObjectRecord | RightsRecord | MediaRecord]] = {
    "objects": ObjectRecord,
    "rights": RightsRecord,
    "media": MediaRecord,
}
_TOMBSTONES: dict[str, type[_Tombstone]] = {
    "objects": _ObjectTombstone,
    "rights": _RightsTombstone,
    "media": _MediaTombstone,
}
_CONTEXTS: dict[str, dict[str, str]] = {
    "quarantine": {"fuzzy_dates": "quarantine"},
    "keep": {"fuzzy_dates": "keep"},
}


def record_fields(stream: str) -> tuple[str, ...]:
    """The property names of a stream's validated record, in output order.

    Args:
        stream: ``"objects"``, ``"rights"`` or ``"media"``.

    Returns:
        e.g. ``("rights_id", "object_id", "statement_uri", ..., "modified", "deleted",
        "_sdc_deleted_at", "extra_fields")`` (provenance fields are added by the client).
    """
    model = _MODELS[stream]
    names = [n for n in model.model_fields if n != "extra_fields"]
    if stream == "objects":
        names.insert(names.index("creation_date_iso") + 1, "creation_date_raw")
    return (*names, "_sdc_deleted_at", "extra_fields")


def source_key(stream: str, raw: Mapping[str, Any]) -> str | None:
    """Best-effort key of a raw record, for the quarantine.

    Args:
        stream: ``"objects"``, ``"rights"`` or ``"media"``.
        raw: The decoded line, e.g. ``{"ObjectID": 1994.127, ...}``.

    Returns:
        The key as text (``"1994.127"``; strings cleaned), or None when absent, blank or not a
        string or number.
    """
    if not isinstance(raw, Mapping):
        return None
    value = raw.get(KEY_FIELDS[stream][0])
    if isinstance(value, str):
        return clean_text(value) or None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        try:
            return _as_key(value)
        except ValueError:
            return strip_xml_illegal(str(value))
    return None


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "record"


def _reason(exc: ValidationError) -> str:
    """``"field: message"`` for every error, joined by ``"; "``."""
    parts: list[str] = []
    for error in exc.errors(include_url=False, include_context=False):
        kind = error["type"]
        if kind == "missing":
            message = "field required"
        elif kind == "string_too_short" or (kind == "string_type" and error["input"] is None):
            message = "must not be empty or blank"
        elif kind == "value_error":
            message = error["msg"].removeprefix("Value error, ")
        else:
            message = f"{error['msg'][:1].lower()}{error['msg'][1:]} (got {_show(error['input'])})"
        # Messages avoid "; " so that the reason splits back into one entry per error.
        parts.append(f"{_location(error['loc'])}: {message}")
    return strip_xml_illegal("; ".join(parts))


def validate_record(
    stream: str,
    raw: Mapping[str, Any],
    options: ValidationOptions = DEFAULT_OPTIONS,
) -> dict[str, Any]:
    """Validate and clean one raw CMS record.

    Args:
        stream: ``"objects"``, ``"rights"`` or ``"media"``.
        raw: One decoded JSONL line without ``next_cursor``, e.g. ``{"ObjectID": "1994.127",
            "title": "Harbour at Dawn", "modified": "2026-11-20T10:00:00Z", ...}``.
        options: Policies, e.g. ``ValidationOptions(fuzzy_dates="keep")``.

    Returns:
        The Singer record, snake_case and JSON-serialisable, e.g. ``{"object_id": "1994.127",
        "title": "Harbour at Dawn", ..., "modified": "2026-11-20T10:00:00Z", "deleted": False,
        "_sdc_deleted_at": None, "extra_fields": None}``; :func:`record_fields` gives its keys.

    Raises:
        RecordRejected: the record breaks the contract; ``.reason`` lists every problem.
        ValueError: ``stream`` is not a stream name (a programming error, not bad data).
    """
    model = _MODELS.get(stream)
    if model is None:
        raise ValueError(f"unknown stream {stream!r}; expected one of {sorted(_MODELS)}")
    if not isinstance(raw, Mapping):
        raise RecordRejected(f"record: not a JSON object (got {type(raw).__name__})")
    try:
        if raw.get("deleted") is True:
            tombstone = _TOMBSTONES[stream].model_validate(raw)
            record = dict.fromkeys(record_fields(stream))
            record[KEY_FIELDS[stream][1]] = tombstone.key
            record["modified"] = record["_sdc_deleted_at"] = tombstone.modified
            record["deleted"] = True
            return record
        validated = model.model_validate(raw, context=_CONTEXTS[options.fuzzy_dates])
    except ValidationError as exc:
        raise RecordRejected(_reason(exc), key=source_key(stream, raw)) from None
    return _output(stream, validated)


def _blank_to_none(record: dict[str, Any]) -> dict[str, Any]:
    """Blank strings (stripped by pydantic-core) become None, in place."""
    if "" in record.values():
        for name, value in record.items():
            if value == "":
                record[name] = None
    return record


def _output(stream: str, model: BaseModel) -> dict[str, Any]:
    record = _blank_to_none(dict(model.__dict__))
    extra = record.pop("extra_fields")
    if stream == "objects":
        when = record["creation_date_iso"]
        if isinstance(when, _FuzzyDate):
            record["creation_date_iso"], record["creation_date_raw"] = None, str(when)
        else:
            record["creation_date_raw"] = None
        media = record["media"]
        if media is not None:
            record["media"] = [item.to_item() for item in media]
    record["deleted"] = bool(record["deleted"])  # a JSON null means "not deleted"
    record["_sdc_deleted_at"] = None
    record["extra_fields"] = extra
    return record
