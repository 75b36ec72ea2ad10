"""Streams fed by another stream rather than by a request: quarantine, LIDO, IIIF.

A side stream's records are produced while its source stream is read (a rejected line, or a
derived document for each valid object), so memory stays constant: nothing is buffered until
the side stream's own turn. Its SCHEMA is sent before its first record.
"""

from __future__ import annotations

import hashlib
import typing as t

from lxml import etree
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams import Stream

from tap_museumcms.iiif import IIIFOptions, manifest_record
from tap_museumcms.lido import LidoOptions, lido_record
from tap_museumcms.output import FastRecords
from tap_museumcms.schemas import load_schema
from tap_museumcms.standards.validate import lido_version

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context


class SideStream(FastRecords, Stream):
    """A stream whose records are pushed in with :meth:`feed`."""

    #: Records are built here already typed to the schema.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: t.Any) -> None:
        super().__init__(tap=tap, schema=load_schema(self.name))
        self._schema_sent = False
        self.fed = 0

    def build(self, source: dict[str, t.Any], document: bytes | None) -> dict[str, t.Any] | None:
        """Turn what was fed into this stream's record (None: nothing to emit)."""
        return source

    def feed(self, source: dict[str, t.Any], document: bytes | None = None) -> None:
        """Emit the record built from ``source`` now, if this stream is selected.

        Args:
            source: the record this stream's record is built from.
            document: the source's own document for it, when it sent one (a LIDO record).
        """
        if not self.selected:
            return
        record = self.build(source, document)
        if record is None:
            return
        if not self._schema_sent:
            self._write_schema_message()
            self._schema_sent = True
        self._write_record_message(record)
        self.fed += 1

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """Nothing of its own to request: every record was fed during its source's sync."""
        return iter(())


class QuarantineStream(SideStream):
    """One record per rejected input line: which stream, why, and the raw text.

    Record shape::

        {"stream": "objects", "raw_sha256": "5e8f...", "key": "1994.127" | null,
         "reason": "title: Field required", "raw": "{\\"ObjectID\\": ...}", "raw_size": 312,
         "cursor": "b64:..." | null, "source_url": "http://cms/objects?limit=500",
         "received_at": "2026-11-29T09:00:00Z"}
    """

    name = "quarantine"
    record_time_field = "received_at"
    primary_keys: t.ClassVar[list[str]] = ["stream", "raw_sha256"]
    replication_key = None


PROVENANCE = ("_source_url", "_source_cursor", "_fetched_at", "_raw_sha256")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


class DerivedStream(SideStream):
    """A document derived from each object record; a deleted object withdraws it."""

    primary_keys: t.ClassVar[list[str]] = ["object_id"]
    replication_key = None

    def derive(self, obj: dict[str, t.Any], document: bytes | None) -> dict[str, t.Any] | None:
        """Build the document record of a live object (None: nothing to emit)."""
        raise NotImplementedError

    def build(self, source: dict[str, t.Any], document: bytes | None) -> dict[str, t.Any] | None:
        if source.get("_sdc_deleted_at"):
            record = dict.fromkeys(self.schema["properties"])
            record.update(object_id=source["object_id"], modified=source.get("modified"),
                          _sdc_deleted_at=source["_sdc_deleted_at"])
        else:
            record = self.derive(source, document)
            if record is None:
                return None
            record["_sdc_deleted_at"] = None
        for name in PROVENANCE:
            record[name] = source.get(name)
        return record


class LidoRecordsStream(DerivedStream):
    """One LIDO XML record per valid object.

    When the source sent its own LIDO record (an OAI-PMH repository), that record is passed
    through unchanged once it is valid against the LIDO 1.1 or 1.0 XSD; an invalid one goes to
    ``quarantine`` (stream ``lido_records``), never altered. Otherwise a LIDO 1.1 record is
    built from the object (:mod:`tap_museumcms.lido`).

    Record shape::

        {"object_id": "1994.127", "lido_xml": "<lido:lido xmlns:lido=...>...</lido:lido>",
         "lido_version": "1.1", "modified": "2026-11-20T10:00:00Z", "_sdc_deleted_at": null, ...}
    """

    name = "lido_records"

    def __init__(self, tap: t.Any) -> None:
        super().__init__(tap)
        config = tap.config
        self.options = LidoOptions(
            record_source=config.get("institution_name") or "tap-museumcms",
            record_info_base_url=config.get("record_info_base_url"),
        )

    def derive(self, obj: dict[str, t.Any], document: bytes | None) -> dict[str, t.Any] | None:
        if document is None:
            return lido_record(obj, self.options)
        version, errors = lido_version(etree.fromstring(document, _PARSER))
        if version is not None:
            return {"object_id": obj["object_id"], "lido_xml": document.decode("utf-8"),
                    "lido_version": version, "modified": obj.get("modified")}
        shown = "; ".join(errors[:3]) + ("; ..." if len(errors) > 3 else "")
        self._reject(obj, document, "the source's LIDO record is not valid against the LIDO "
                     f"1.1 or 1.0 XSD (it is not passed through altered): {shown}")
        return None

    def _reject(self, obj: dict[str, t.Any], document: bytes, reason: str) -> None:
        quarantine = self._tap.streams.get("quarantine")
        if quarantine is None:
            return
        limit = int(self.config.get("quarantine_raw_max_bytes", 65536))
        quarantine.feed({
            "stream": self.name, "raw_sha256": hashlib.sha256(document).hexdigest(),
            "key": obj["object_id"], "reason": reason,
            "raw": document[:limit].decode("utf-8", "backslashreplace"),
            "raw_size": len(document), "cursor": obj.get("_source_cursor"),
            "source_url": obj.get("_source_url"), "received_at": obj.get("_fetched_at"),
        })


class IIIFManifestsStream(DerivedStream):
    """One IIIF Presentation 3.0 Manifest per valid object that has images.

    Record shape::

        {"object_id": "1994.127", "manifest_id": "https://cms.example.org/iiif/1994.127/manifest",
         "manifest": {"@context": "http://iiif.io/api/presentation/3/context.json", ...},
         "modified": "2026-11-20T10:00:00Z", "_sdc_deleted_at": null, ...}
    """

    name = "iiif_manifests"

    def __init__(self, tap: t.Any) -> None:
        super().__init__(tap)
        config = tap.config
        self.options = IIIFOptions(
            iiif_base_url=config.get("iiif_base_url"),
            provider_id=config.get("institution_url"),
            provider_label=config.get("institution_name") or "Museum",
            provider_homepage=config.get("institution_url"),
        )

    def derive(self, obj: dict[str, t.Any], document: bytes | None) -> dict[str, t.Any] | None:
        return manifest_record(obj, self.options)
