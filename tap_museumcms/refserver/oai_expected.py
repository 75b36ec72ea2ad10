"""Ground truth of the OAI-PMH face: what a correct harvester of ``/oai`` ends up with.

Computed from the collection's JSON lines (``json.loads``, in ``oai_lists.classify``) and, for
generated collections, from the generator's declared fault kinds; never with the tap's code.
"""

from __future__ import annotations

import typing as t

from tap_museumcms.refserver.collection import (
    Collection,
    Expected,
    GeneratedCollection,
    absolute_url,
)
from tap_museumcms.refserver.oai_lists import Item, RecordWriter, classify, injected
from tap_museumcms.refserver.oai_render import ID_PREFIX, METADATA_FORMATS, text_of

if t.TYPE_CHECKING:
    from tap_museumcms.refserver.faults import Faults
    from tap_museumcms.refserver.oai import OaiSettings

_VALID_KINDS = (None, "control_chars", "date_circa", "date_impossible")
"""Generated fault kinds that stay valid on the OAI face (dates are just not written as dates)."""


def quarantined(item: Item, prefix: str) -> bool:
    """Whether a harvester must quarantine the record of a live or junk item.

    Rules: a line that is not JSON (served as a malformed record) and an object whose title is
    missing or blank are quarantined. With ``lido`` also an object whose ``iiif_manifest_url`` or
    a media ``iiif_image_service`` is present but not an absolute http(s) URL (the LIDO reader
    needs absolute URLs); ``oai_dc`` writes no URLs, so there they do not matter. Everything else
    is valid: fuzzy or impossible ISO dates (not written as ``earliestDate``), empty ObjectIDs
    (identified by position), control characters (the harvester strips them).
    """
    if item.kind == "junk":
        return True
    record = t.cast(dict[str, t.Any], item.record)
    if text_of(record.get("title")) is None:
        return True
    if prefix != "lido":
        return False
    urls = [record.get("iiif_manifest_url")]
    media = record.get("media")
    for entry in media if isinstance(media, list) else []:
        if isinstance(entry, dict):
            urls.append(entry.get("iiif_image_service"))
    return any(url is not None and not absolute_url(url) for url in urls)


def expected_oai(
    collection: Collection, settings: OaiSettings, faults: Faults, prefix: str = "lido"
) -> Expected:
    """Ground truth of a full, unfiltered harvest of ``/oai`` with ``metadataPrefix=prefix`` now.

    Returns:
        ``Expected`` whose ``valid_keys`` are the OAI identifiers of the live records the
        harvester emits (``{"oai:refserver.example:obj-0000000", ...}``), ``tombstones`` the
        identifiers of the deleted headers (empty when ``deleted_record`` is ``"no"``: deleted
        objects vanish), ``invalid_positions`` the collection positions whose record must be
        quarantined (see :func:`quarantined`) and ``malformed_lines`` the exact bytes of every
        ``<record>`` that ``malformed_line_every`` injects (``junk-after-<n>``).

    Raises:
        ValueError: for an unknown prefix.
    """
    if prefix not in METADATA_FORMATS:
        raise ValueError(f"prefix must be one of {sorted(METADATA_FORMATS)}")
    valid: set[str] = set()
    invalid: set[int] = set()
    tombstones: set[str] = set()
    for position in range(collection.size("objects")):
        verdict = _generated_verdict(collection, position, prefix)
        if verdict is not None:
            identifier, good = verdict
            (valid.add(identifier) if good else invalid.add(position))
            continue
        line = collection.record_at("objects", position)
        item = classify(position, line, collection.modified_at("objects", position))
        if item.kind == "deleted":
            if settings.deleted_record != "no":
                tombstones.add(item.identifier)
        elif quarantined(item, prefix):
            invalid.add(position)
        else:
            valid.add(item.identifier)
    return Expected(
        valid_keys=valid,
        invalid_positions=invalid,
        tombstones=tombstones,
        malformed_lines=_injected_records(collection, settings, faults, prefix),
    )


def _generated_verdict(
    collection: Collection, position: int, prefix: str
) -> tuple[str, bool] | None:
    """(identifier, valid) of an untouched generated object from its fault kind, without
    generating it; None when the line has to be read."""
    if not isinstance(collection, GeneratedCollection) or position >= collection.n:
        return None
    if collection.overridden("objects", position):
        return None
    kind = collection.invalid_kind(position)
    identifier = ID_PREFIX + collection.object_id(position)
    if kind in _VALID_KINDS or (kind == "relative_url" and prefix != "lido"):
        return identifier, True
    if kind == "key_empty":
        return f"{ID_PREFIX}position-{position}", True
    return identifier, False


def _injected_records(
    collection: Collection, settings: OaiSettings, faults: Faults, prefix: str
) -> frozenset[bytes]:
    every = faults.malformed_line_every
    if every <= 0:
        return frozenset()
    writer = RecordWriter(settings, faults, prefix)
    return frozenset(
        writer.malformed(injected(p, collection.modified_at("objects", p)))
        for p in range(every - 1, collection.size("objects"), every)
    )


def expected_json(expected: Expected) -> dict[str, t.Any]:
    """``Expected`` as served by ``GET /_admin/expected``."""
    return {
        "valid_keys": sorted(expected.valid_keys),
        "invalid_positions": sorted(expected.invalid_positions),
        "tombstones": sorted(expected.tombstones),
        "malformed_lines": sorted(m.decode("utf-8", "replace") for m in expected.malformed_lines),
    }
