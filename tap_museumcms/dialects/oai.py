"""OAI-PMH 2.0 repositories serving LIDO or Dublin Core (``source: oai-pmh``).

Once per run, ``Identify`` (granularity, deletedRecord, earliestDatestamp) and
``ListMetadataFormats`` (the prefix must be offered, and be LIDO or ``oai_dc``). Then
``ListRecords`` page by page: the first request of a window carries ``metadataPrefix``,
``from`` (the bookmark, in the repository's granularity), ``until`` and ``set``; every later one
only the ``resumptionToken``, which is the cursor stored in STATE together with the window::

    GET {api_url}?verb=ListRecords&metadataPrefix=lido&from=2026-11-20T10:00:00Z
    GET {api_url}?verb=ListRecords&resumptionToken=eyJwIjoibGlkbyIs...

Each ``<record>`` is cut out of the stream and parsed alone (:mod:`tap_museumcms.xmlsplit`):
its key is the OAI identifier (a deleted header carries nothing else), ``modified`` its
datestamp, the fields come from :mod:`~tap_museumcms.dialects.lido_in` or
:mod:`~tap_museumcms.dialects.dc_in`, and a LIDO record travels on to ``lido_records`` as
the source sent it. OAI errors (HTTP 200 or 4xx with ``<error code=...>``): ``noRecordsMatch``
is an empty harvest, ``badResumptionToken`` restarts the window (the harvest passes over what
it already handled), ``cannotDisseminateFormat``/``badArgument``/``noSetHierarchy`` are
configuration errors.
"""

from __future__ import annotations

import re
import typing as t

from lxml import etree

from tap_museumcms.dialects.base import Dialect, PageEnd, RawItem
from tap_museumcms.dialects.oai_record import DC_NS, LIDO_NS, record_item
from tap_museumcms.errors import ConfigurationError, SourceError
from tap_museumcms.transport import LOGGER, PageRequest, http_failure, read_bounded
from tap_museumcms.xmlsplit import OAI_NS, BodyError, Envelope, RecordSplitter

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from tap_museumcms.transport import StreamStats, Transport

MAPPED = {LIDO_NS: "LIDO", DC_NS: "Dublin Core (oai_dc)"}
#: The largest Identify or ListMetadataFormats answer read.
SMALL_BODY = 1024 * 1024
_ROOT_END = re.compile(rb"</(?:[\w.-]+:)?OAI-PMH\s*>")

_O = f"{{{OAI_NS}}}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=True, remove_comments=True, remove_pis=True)


class OaiPmh(Dialect):
    """ListRecords with a resumption token: one page cursor per page, OAI errors read."""

    name = "oai-pmh"
    harvested = ("objects",)
    item_cursors = False
    pass_errors = True

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        super().__init__(config)
        self.prefix = str(config.get("oai_metadata_prefix") or "lido")
        self.set = config.get("oai_set") or None
        #: From Identify: "seconds" or "day".
        self.granularity = "seconds"
        self.deleted_record = "persistent"
        self.earliest: str | None = None
        #: Whether the last ListRecords request carried a token (its answer is read next).
        self._token_sent = False

    # -- once per run ---------------------------------------------------------------------

    def prepare(self, transport: Transport, stats: StreamStats) -> None:
        """Identify, then check the prefix with ListMetadataFormats."""
        identify = self._small(transport, stats, "Identify", strict=True)
        if identify is None:
            raise ConfigurationError(
                f"api_url {self.api_url!r} does not answer the OAI-PMH Identify request; "
                "check that it is the repository's OAI base URL")
        granularity = _text(identify, "granularity") or "YYYY-MM-DDThh:mm:ssZ"
        self.granularity = "day" if granularity.strip() == "YYYY-MM-DD" else "seconds"
        self.deleted_record = (_text(identify, "deletedRecord") or "no").strip()
        self.earliest = _text(identify, "earliestDatestamp")
        if self.deleted_record != "persistent":
            kept = "no" if self.deleted_record == "no" else "only a transient"
            LOGGER.warning(
                "the repository keeps %s record of deletions (deletedRecord=%s): objects "
                "deleted there are only found by a full harvest (see full_harvest_every_days)",
                kept, self.deleted_record)
        formats = self._small(transport, stats, "ListMetadataFormats", strict=False)
        if formats is None:
            LOGGER.warning("the repository did not answer ListMetadataFormats; harvesting "
                           "metadataPrefix %r unchecked", self.prefix)
            return
        offered = {
            (_text(item, "metadataPrefix") or "").strip():
            (_text(item, "metadataNamespace") or "").strip()
            for item in formats.iter(f"{_O}metadataFormat")
        }
        if self.prefix not in offered:
            raise ConfigurationError(
                f"the repository does not offer metadataPrefix {self.prefix!r} "
                f"(cannotDisseminateFormat); it offers: {', '.join(sorted(offered)) or 'none'}; "
                "check oai_metadata_prefix")
        if offered[self.prefix] not in MAPPED:
            raise ConfigurationError(
                f"metadataPrefix {self.prefix!r} is {offered[self.prefix]!r}: the tap maps "
                f"LIDO ({LIDO_NS}) and Dublin Core (oai_dc); check oai_metadata_prefix")

    def _small(
        self, transport: Transport, stats: StreamStats, verb: str, *, strict: bool
    ) -> etree._Element | None:
        """A small answer (Identify, ListMetadataFormats) as an element; None: no answer.

        A body cut before the end of its root element is asked for again (the same retry
        rule as any request); bytes after the root are ignored. With ``strict``, an HTTP error
        that is no OAI-PMH answer is reported as such.
        """
        request = PageRequest(self.api_url, (("verb", verb),), {"Accept": "text/xml"})
        attempt = 0
        while True:
            response = transport.get(request, stats=stats, pass_errors=True)
            body = read_bounded(response, SMALL_BODY)
            end = _ROOT_END.search(body)
            if end is not None or response.status_code >= 400 or b"OAI-PMH" not in body:
                break
            attempt = transport.backoff(attempt, transport.policy.max_retries,
                                        f"the {verb} answer was cut", request.full_url, stats)
        try:
            if b"<!DOCTYPE" in body[:4096].upper():
                raise BodyError("refused: the response declares a DTD")
            root = etree.fromstring(body[: end.end()] if end else body, _PARSER)
        except (etree.XMLSyntaxError, BodyError, ValueError):
            if strict and response.status_code >= 400:
                raise http_failure(response, self.api_url, body[:200].decode(
                    "utf-8", "replace")) from None
            return None
        if etree.QName(root).text != f"{_O}OAI-PMH":
            return None
        if root.find(f"{_O}error") is not None:
            return None
        return root.find(f"{_O}{verb}")

    # -- the window and its pages ----------------------------------------------------------

    def window(self, stream: str, since: str | None) -> dict[str, t.Any]:
        return {"metadataPrefix": self.prefix, "set": self.set, "until": None}

    def request(
        self, stream: str, cursor: str | None, since: str | None, window: Mapping[str, t.Any]
    ) -> PageRequest:
        headers = {"Accept": "text/xml, application/xml"}
        self._token_sent = bool(cursor)
        if cursor:
            return PageRequest(
                self.api_url, (("verb", "ListRecords"), ("resumptionToken", cursor)), headers)
        params = [("verb", "ListRecords"),
                  ("metadataPrefix", window.get("metadataPrefix") or self.prefix)]
        if since:
            params.append(("from", self.format_datestamp(since)))
        if window.get("until"):
            params.append(("until", self.format_datestamp(window["until"])))
        if window.get("set"):
            params.append(("set", window["set"]))
        return PageRequest(self.api_url, tuple(params), headers)

    def format_datestamp(self, iso: str) -> str:
        """``2026-11-20T10:00:00Z`` in the repository's granularity."""
        return iso[:10] if self.granularity == "day" else iso[:19] + "Z"

    def read(self, stream: str, chunks: Iterable[bytes], end: PageEnd) -> Iterator[RawItem]:
        """One item per ``<record>``; the envelope decides how the page ended."""
        splitter = RecordSplitter(max_record_bytes=self.max_item_bytes)
        cleaned = 0
        try:
            for chunk in chunks:
                for piece in splitter.feed(chunk):
                    _note_time(splitter.envelope, end)
                    item, fixed = record_item(piece, splitter.envelope.nsdecls,
                                              self.max_item_bytes)
                    cleaned += fixed
                    yield item
            for piece in splitter.close():
                yield record_item(piece, splitter.envelope.nsdecls, self.max_item_bytes)[0]
        except BodyError as exc:
            end.broken = str(exc)
            return
        _note_time(splitter.envelope, end)
        if cleaned:
            end.warnings.append(f"removed XML-illegal control characters from {cleaned} "
                                "record(s) before parsing them")
        self._ended(splitter.envelope, end)

    def explain(self, status: int, body: bytes) -> PageEnd | None:
        splitter = RecordSplitter(max_record_bytes=self.max_item_bytes)
        try:
            list(splitter.feed(body))
            list(splitter.close())
        except BodyError:
            return None
        if not splitter.envelope.errors:
            return None
        end = PageEnd()
        self._ended(splitter.envelope, end)
        return end

    def _ended(self, envelope: Envelope, end: PageEnd) -> None:
        if envelope.errors:
            self._answer(envelope.errors, end)
            return
        if not envelope.closed:
            end.broken = "the body ended before the end of the OAI-PMH response"
            return
        if envelope.trailing:
            end.warnings.append(f"ignored {envelope.trailing} bytes after </OAI-PMH>")
        size = (envelope.token_attributes.get("completeListSize") or "").strip()
        if size.isdigit():
            end.total = int(size)  # an estimate at some repositories: progress lines only
        if envelope.token:
            end.next_cursor = envelope.token
        else:
            end.complete = True  # an empty or absent token ends the list

    def _answer(self, errors: list[tuple[str, str]], end: PageEnd) -> None:
        """What OAI errors mean for the harvest."""
        codes = {code for code, _ in errors}
        shown = "; ".join(f"{code}: {message}" if message else code for code, message in errors)
        if "noRecordsMatch" in codes:
            end.complete = True  # nothing changed: a successful, empty harvest
        elif "badResumptionToken" in codes or ("badArgument" in codes and self._token_sent):
            # Some repositories answer an expired token with badArgument.
            end.restart = f"the repository rejected the resumptionToken ({shown})"
        elif "cannotDisseminateFormat" in codes:
            raise ConfigurationError(f"the repository cannot disseminate metadataPrefix "
                                     f"{self.prefix!r} ({shown}); check oai_metadata_prefix")
        elif "noSetHierarchy" in codes:
            raise ConfigurationError(f"the repository has no sets ({shown}); remove oai_set")
        elif codes & {"badArgument", "badVerb"}:
            raise ConfigurationError(f"the repository refused the request ({shown}); check "
                                     "oai_set, oai_metadata_prefix and start_date")
        else:
            raise SourceError(f"OAI-PMH error from the repository: {shown}")


def _text(element: etree._Element, name: str) -> str | None:
    return element.findtext(f"{_O}{name}")


def _note_time(envelope: Envelope, end: PageEnd) -> None:
    if envelope.response_date and not end.server_time:
        value = envelope.response_date.strip()
        end.server_time = value[:19] + "Z" if len(value) >= 19 else None
