"""The OAI-PMH 2.0 face of the reference server: ``GET {url}/oai?verb=...`` over the collection's
``objects`` stream (positions, mutations and faults shared with the JSONL face).

Verbs: ``Identify``, ``ListMetadataFormats`` (``lido``, ``oai_dc``), ``ListSets`` (``all`` and
``type:<object_type>``), ``ListRecords`` and ``ListIdentifiers`` (``metadataPrefix``, ``from``,
``until``, ``set``, or ``resumptionToken`` alone), ``GetRecord``. POST with a form body works as
GET. Errors follow the protocol, HTTP 200 with the envelope::

    <OAI-PMH ...><responseDate>2027-01-15T10:00:00Z</responseDate>
    <request>http://127.0.0.1:41234/oai</request>
    <error code="badArgument">from and until must use the granularity YYYY-MM-DD</error></OAI-PMH>

Order of checks for one request: the server's credentials (401, in ``routes``), ``oai_bot_403``
(403, plain text), the syntax (``badVerb``, ``badArgument``: not a data request, the fault
counter does not move), the rate limiter, the status faults and the redirect to another host
(from here on a data request), then the request itself (``badResumptionToken``,
``cannotDisseminateFormat``, ``idDoesNotExist``, ``noRecordsMatch``). Body faults (reset,
truncate) hit list pages only. Page counting for ``stuck_cursor_at_page`` and
``cursor_loop_at_page``: a list request without a token starts a new harvest at page 1; the
token a first page "was requested with" is the token of the list's start (a stuck first page
announces a token that starts the list again).

Paging (see ``oai_lists``): ``page_size`` listed records per page; the ``cursor`` of a page's
token counts the records before the page (plus ``Faults.oai_first_cursor``); ``completeListSize``
is counted when the list begins (exact up to 5,000 positions, estimated above) and travels in
the token.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import typing as t
from collections.abc import Callable, Iterable, Iterator

from tap_museumcms.clock import Clock
from tap_museumcms.refserver.collection import Collection, Expected
from tap_museumcms.refserver.faults import Admission, FaultPolicy, Faults, Reply
from tap_museumcms.refserver.oai_lists import Item, Pager, RecordWriter, classify
from tap_museumcms.refserver.oai_render import (
    ID_PREFIX,
    METADATA_FORMATS,
    datestamp,
    envelope_close,
    envelope_open,
    error_xml,
    esc,
    set_spec,
    token_xml,
)
from tap_museumcms.refserver.oai_token import ListState, TokenCodec

GRANULARITIES = {"seconds": "YYYY-MM-DDThh:mm:ssZ", "day": "YYYY-MM-DD"}
"""OaiSettings.granularity → how Identify announces it."""
DELETED_RECORD = ("persistent", "transient", "no")
XML_TYPE = "text/xml; charset=UTF-8"
ERROR_STATUS = {
    "badArgument": 400,
    "badVerb": 400,
    "badResumptionToken": 400,
    "cannotDisseminateFormat": 422,
    "noRecordsMatch": 404,
    "idDoesNotExist": 404,
}
"""The HTTP status of an OAI error under ``Faults.oai_errors_as_http``."""

_LIST_ARGS = ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"})
_VERBS: dict[str, tuple[set[str], set[str]]] = {
    "Identify": (set(), set()),
    "ListMetadataFormats": (set(), {"identifier"}),
    "ListSets": (set(), {"resumptionToken"}),
    "ListRecords": _LIST_ARGS,
    "ListIdentifiers": _LIST_ARGS,
    "GetRecord": ({"identifier", "metadataPrefix"}, set()),
}
"""verb → (required arguments, optional arguments)."""
_DATE_FORMS = {
    "seconds": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"),
    "day": re.compile(r"\d{4}-\d{2}-\d{2}"),
}
_BOT = re.compile(r"python-requests|bot", re.IGNORECASE)
_STATUS_TEXT = {
    302: "Moved to another host: see Location.",
    429: "Too many requests: slow down.",
    500: "Internal error: the repository failed.",
    502: "Bad gateway: the collection database did not answer.",
    503: "The repository is busy; come back after Retry-After seconds.",
    504: "Gateway timeout: the collection database did not answer in time.",
}


@dataclasses.dataclass(frozen=True)
class OaiSettings:
    """How the OAI-PMH repository behaves (by design, not by fault).

    Attributes:
        granularity: ``"seconds"`` (``YYYY-MM-DDThh:mm:ssZ``) or ``"day"`` (``YYYY-MM-DD``):
            datestamps, ``from``/``until`` and ``earliestDatestamp``; ``from``/``until`` in the
            seconds form in a day repository is a ``badArgument`` (the day form is always
            accepted, as OAI-PMH 3.3.1 requires).
        deleted_record: ``"persistent"`` or ``"transient"`` (deleted objects are listed as
            ``<header status="deleted">``) or ``"no"`` (they vanish from lists).
        page_size: listed records per page (deleted headers and malformed records count).
        token_ttl: seconds (server clock) a resumptionToken stays valid; None = forever. When
            set, tokens carry ``expirationDate``.
        repository_name: Identify's ``repositoryName``.
        admin_email: Identify's ``adminEmail``.
    """

    granularity: str = "seconds"
    deleted_record: str = "persistent"
    page_size: int = 100
    token_ttl: float | None = None
    repository_name: str = "Reference Museum CMS (tap-museumcms refserver)"
    admin_email: str = "oai-admin@refserver.example"

    def __post_init__(self) -> None:
        if self.granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {sorted(GRANULARITIES)}")
        if self.deleted_record not in DELETED_RECORD:
            raise ValueError(f"deleted_record must be one of {list(DELETED_RECORD)}")
        if self.page_size < 1:
            raise ValueError("page_size must be at least 1")
        if self.token_ttl is not None and self.token_ttl <= 0:
            raise ValueError("token_ttl must be positive (or None)")


class OaiError(Exception):
    """An OAI-PMH error: ``code`` as in the protocol, and a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class OaiRequest(t.NamedTuple):
    """A syntactically valid request: the verb and its arguments (one value each)."""

    verb: str
    args: dict[str, str]

    @property
    def echo(self) -> dict[str, str]:
        """The ``<request>`` attributes: ``{"verb": "ListRecords", "metadataPrefix": "lido"}``."""
        return {"verb": self.verb, **self.args}


def parse_request(query: dict[str, list[str]], granularity: str) -> OaiRequest:
    """Check verb and arguments as the protocol says (no look at the data).

    Args:
        query: every argument with all its values, e.g. ``{"verb": ["ListRecords"],
            "metadataPrefix": ["lido"], "from": ["2026-01-01T00:00:00Z"]}``.
        granularity: the repository's (``from``/``until`` must use it).

    Raises:
        OaiError: ``badVerb`` or ``badArgument``.
    """
    verbs = query.get("verb", [])
    if len(verbs) != 1 or verbs[0] not in _VERBS:
        shown = ", ".join(verbs) or "none"
        raise OaiError("badVerb", f"verb must be one of {', '.join(_VERBS)} (got {shown})")
    verb = verbs[0]
    args: dict[str, str] = {}
    for name, values in query.items():
        if name == "verb":
            continue
        if len(values) != 1:
            raise OaiError("badArgument", f"argument {name} is repeated")
        args[name] = values[0]
    required, optional = _VERBS[verb]
    illegal = sorted(set(args) - required - optional)
    if illegal:
        raise OaiError("badArgument", f"illegal argument(s) for {verb}: {', '.join(illegal)}")
    if "resumptionToken" in args and len(args) > 1:
        raise OaiError("badArgument", "resumptionToken is an exclusive argument")
    missing = sorted(required - set(args)) if "resumptionToken" not in args else []
    if missing:
        raise OaiError("badArgument", f"missing argument(s) for {verb}: {', '.join(missing)}")
    since, before = window_bounds(args.get("from"), args.get("until"), granularity)
    if since is not None and before is not None and since >= before:
        raise OaiError("badArgument", "from is later than until")
    return OaiRequest(verb, args)


def window_bounds(
    since: str | None, until: str | None, granularity: str
) -> tuple[float | None, float | None]:
    """``from``/``until`` as a half-open epoch window ``[since, before)``: ``until`` is inclusive
    at its own granularity (``2026-01-02`` means up to 2026-01-02T23:59:59).

    Every repository accepts the day form (OAI-PMH 3.3.1); the seconds form only a repository of
    seconds granularity.

    Raises:
        OaiError: ``badArgument`` for a value that is not a date in an accepted form.
    """
    low = None if since is None else _parse_date(since, granularity)[0]
    if until is None:
        return low, None
    high, step = _parse_date(until, granularity)
    return low, high + step


def _parse_date(text: str, granularity: str) -> tuple[float, int]:
    """Epoch seconds of a ``from``/``until`` value and the length of the moment it names."""
    if _DATE_FORMS["day"].fullmatch(text):
        form, step = "%Y-%m-%d", 86400
    elif granularity == "seconds" and _DATE_FORMS["seconds"].fullmatch(text):
        form, step = "%Y-%m-%dT%H:%M:%SZ", 1
    else:
        shown = GRANULARITIES[granularity]
        raise OaiError("badArgument", f"from and until must use the granularity {shown}: {text!r}")
    try:
        parsed = dt.datetime.strptime(text, form)
    except ValueError as exc:
        raise OaiError("badArgument", f"not a date: {text!r}") from exc
    return parsed.replace(tzinfo=dt.UTC).timestamp(), step


class _ListVerbs:
    """ListRecords and ListIdentifiers: windows, resumptionTokens, pages (a part of
    :class:`OaiFace`, which provides the attributes below)."""

    settings: OaiSettings
    policy: FaultPolicy
    clock: Clock
    tokens: TokenCodec
    pager: Pager

    def _open(self, echo: dict[str, str] | None) -> str:
        raise NotImplementedError

    def _list(self, request: OaiRequest, admission: Admission) -> Reply:
        """One page of ListRecords / ListIdentifiers, streamed."""
        faults = admission.faults
        now = int(self.clock.time() // 1)
        token = request.args.get("resumptionToken")
        if token is None:
            state = self._new_list(request, now)
            requested_with = self.tokens.encode(state)
        else:
            state = self._resume(request.verb, token, faults, now)
            requested_with = token
        since, before = window_bounds(state.since, state.until, self.settings.granularity)
        page, previous = self.policy.turn_page("oai", requested_with, new_harvest=token is None)
        items, next_position, listed = self.pager.gather(
            state, since, before, faults.malformed_line_every
        )
        if not items:
            raise OaiError("noRecordsMatch", "no record matches the request")
        announced = None
        if next_position is not None:
            following = dataclasses.replace(
                state, position=next_position, cursor=state.cursor + listed, issued=now
            )
            announced = self.tokens.encode(following)
        if faults.stuck_cursor_at_page and page == faults.stuck_cursor_at_page:
            announced = requested_with
        elif faults.cursor_loop_at_page and page == faults.cursor_loop_at_page:
            announced = previous or requested_with
        cut = None
        reset = admission.fires(faults.reset_mid_body_every)
        if reset or admission.fires(faults.truncate_body_every):
            cut = len(items) // 2
        writer = RecordWriter(
            self.settings, faults, state.prefix, headers_only=state.verb == "ListIdentifiers"
        )
        head = self._open(request.echo) + f"<{state.verb}>\n"
        tail = self._token(announced, state, faults) + f"</{state.verb}>\n"
        tail += envelope_close(garbage=faults.oai_trailing_garbage)
        body = _list_body(head, items, writer, tail, cut)
        headers = [("Content-Type", XML_TYPE), *admission.headers]
        return Reply(200, headers, body, chunked=True, abort=reset)

    def _new_list(self, request: OaiRequest, now: int) -> ListState:
        args = request.args
        prefix = args["metadataPrefix"]
        if prefix not in METADATA_FORMATS:
            raise OaiError("cannotDisseminateFormat", f"unknown metadataPrefix {prefix!r}")
        since, before = window_bounds(
            args.get("from"), args.get("until"), self.settings.granularity
        )
        size = self.pager.list_size(args.get("set"), since, before)
        return ListState(
            request.verb,
            prefix,
            args.get("from"),
            args.get("until"),
            args.get("set"),
            0,
            0,
            size,
            now,
        )

    def _resume(self, verb: str, token: str, faults: Faults, now: int) -> ListState:
        """The state a resumptionToken carries.

        Raises:
            OaiError: ``badResumptionToken`` (unknown, altered, expired, other verb, or the
                ``oai_bad_token_every`` fault).
        """
        count = self.policy.count_token_request()
        every = faults.oai_bad_token_every
        if every > 0 and count % every == 0:
            raise OaiError("badResumptionToken", "the resumptionToken has expired")
        try:
            state = self.tokens.decode(token)
        except ValueError as exc:
            raise OaiError("badResumptionToken", str(exc)) from exc
        if state.verb != verb:
            raise OaiError("badResumptionToken", f"the resumptionToken belongs to {state.verb}")
        ttl = self.settings.token_ttl
        if ttl is not None and now > state.issued + ttl:
            raise OaiError("badResumptionToken", "the resumptionToken has expired")
        return state

    def _token(self, announced: str | None, state: ListState, faults: Faults) -> str:
        """The ``<resumptionToken>`` element of a page (empty on the last page)."""
        size = round(state.size * faults.oai_list_size_factor)
        cursor = state.cursor + faults.oai_first_cursor
        if announced is None:
            if faults.oai_omit_final_token:
                return ""
            return token_xml("", cursor=cursor, size=size, expiration=None)
        expiration = None
        if self.settings.token_ttl is not None:
            issued = self.tokens.decode(announced).issued
            expiration = datestamp(issued + self.settings.token_ttl, "seconds")
        return token_xml(announced, cursor=cursor, size=size, expiration=expiration)


class OaiFace(_ListVerbs):
    """Builds the replies of ``/oai``.

    Args:
        collection: the data (its ``objects`` stream).
        policy: the shared fault switches and counters.
        settings: the repository's behaviour.
        clock: server time (responseDate, token issue and expiry).
        base_url: returns the repository's base URL, e.g. ``http://127.0.0.1:41234/oai``.
    """

    def __init__(
        self,
        collection: Collection,
        policy: FaultPolicy,
        settings: OaiSettings,
        clock: Clock,
        base_url: Callable[[], str],
    ) -> None:
        self.collection = collection
        self.policy = policy
        self.settings = settings
        self.clock = clock
        self.base_url = base_url
        self.tokens = TokenCodec()
        self.pager = Pager(collection, settings)

    # --- replies -----------------------------------------------------------------------------
    def reply(
        self, query: dict[str, list[str]], user_agent: str, *, redirect_to: str | None = None
    ) -> Reply:
        """The whole response to one authorised ``/oai`` request (``redirect_to``: where
        ``redirect_other_host_every`` sends it)."""
        faults = self.policy.faults
        if faults.oai_bot_403 and _BOT.search(user_agent or ""):
            text = b"Forbidden: automated clients are not served here.\n"
            return Reply(403, [("Content-Type", "text/plain; charset=utf-8")], [text])
        try:
            request = parse_request(query, self.settings.granularity)
        except OaiError as error:
            return self._error(error, None, faults, [])
        admission = self.policy.admit(redirect_to=redirect_to)
        if admission.status != 200:
            text = _STATUS_TEXT[admission.status].encode() + b"\n"
            headers = [("Content-Type", "text/plain; charset=utf-8"), *admission.headers]
            return Reply(admission.status, headers, [text], number=admission.n)
        try:
            reply = self._answer(request, admission)
        except OaiError as error:
            reply = self._error(error, request, admission.faults, admission.headers)
        return reply._replace(number=admission.n)

    def _answer(self, request: OaiRequest, admission: Admission) -> Reply:
        verb, args = request.verb, request.args
        if verb in ("ListRecords", "ListIdentifiers"):
            return self._list(request, admission)
        if verb == "GetRecord":
            return self._get_record(request, admission)
        if verb == "Identify":
            inner = self._identify()
        elif verb == "ListMetadataFormats":
            if "identifier" in args:
                self._resolve(args["identifier"])
            inner = _metadata_formats()
        else:
            if "resumptionToken" in args:
                raise OaiError("badResumptionToken", "ListSets is complete in one response")
            inner = self._list_sets()
        return self._xml(200, inner, request.echo, admission.faults, admission.headers)

    def _open(self, echo: dict[str, str] | None) -> str:
        now = datestamp(self.clock.time(), "seconds")
        return envelope_open(now, self.base_url(), echo)

    def _xml(
        self,
        status: int,
        inner: str,
        echo: dict[str, str] | None,
        faults: Faults,
        headers: Iterable[tuple[str, str]],
    ) -> Reply:
        text = self._open(echo) + inner + envelope_close(garbage=faults.oai_trailing_garbage)
        body = text.encode("utf-8", "replace")
        return Reply(status, [("Content-Type", XML_TYPE), *headers], [body])

    def _error(
        self,
        error: OaiError,
        request: OaiRequest | None,
        faults: Faults,
        headers: Iterable[tuple[str, str]],
    ) -> Reply:
        """The error envelope; no ``<request>`` attributes after badVerb/badArgument (spec 3.2)."""
        status = ERROR_STATUS.get(error.code, 400) if faults.oai_errors_as_http else 200
        echo = None if request is None or error.code in ("badVerb", "badArgument") else request.echo
        return self._xml(status, error_xml(error.code, error.message), echo, faults, headers)

    # --- small verbs -------------------------------------------------------------------------
    def _identify(self) -> str:
        earliest = self.collection.earliest_modified("objects")
        stamp = datestamp(
            self.clock.time() if earliest is None else earliest, self.settings.granularity
        )
        fields = (
            ("repositoryName", self.settings.repository_name),
            ("baseURL", self.base_url()),
            ("protocolVersion", "2.0"),
            ("adminEmail", self.settings.admin_email),
            ("earliestDatestamp", stamp),
            ("deletedRecord", self.settings.deleted_record),
            ("granularity", GRANULARITIES[self.settings.granularity]),
        )
        inner = "".join(f"<{name}>{esc(value)}</{name}>" for name, value in fields)
        scheme = "http://www.openarchives.org/OAI/2.0/oai-identifier"
        description = (
            f'<description><oai-identifier xmlns="{scheme}"><scheme>oai</scheme>'
            "<repositoryIdentifier>refserver.example</repositoryIdentifier>"
            f"<delimiter>:</delimiter><sampleIdentifier>{ID_PREFIX}obj-0000001</sampleIdentifier>"
            "</oai-identifier></description>"
        )
        return f"<Identify>{inner}{description}</Identify>\n"

    def _list_sets(self) -> str:
        names = {"all": "All objects"}
        for kind in self.collection.object_types():
            spec = set_spec(kind)
            if spec:
                names.setdefault(spec, f"Objects of type {kind}")
        sets = "".join(
            f"<set><setSpec>{esc(spec)}</setSpec><setName>{esc(name)}</setName></set>"
            for spec, name in names.items()
        )
        return f"<ListSets>{sets}</ListSets>\n"

    def _resolve(self, identifier: str) -> Item:
        """The item an identifier names.

        Raises:
            OaiError: ``idDoesNotExist``.
        """
        ident = identifier.strip()
        local = ident[len(ID_PREFIX) :] if ident.startswith(ID_PREFIX) else None
        candidates: list[int] = []
        if local is not None:
            match = re.fullmatch(r"(?:position|junk)-(\d+)", local)
            if match:
                candidates.append(int(match.group(1)))
            found = self.collection.position_of("objects", local)
            if found is not None:
                candidates.append(found)
        size = self.collection.size("objects")
        for position in candidates:
            if position < size:
                line = self.collection.record_at("objects", position)
                item = classify(position, line, self.collection.modified_at("objects", position))
                if item.identifier == ident and self.pager.visible(item):
                    return item
        raise OaiError("idDoesNotExist", f"no record with identifier {identifier!r}")

    def _get_record(self, request: OaiRequest, admission: Admission) -> Reply:
        prefix = request.args["metadataPrefix"]
        if prefix not in METADATA_FORMATS:
            raise OaiError("cannotDisseminateFormat", f"unknown metadataPrefix {prefix!r}")
        item = self._resolve(request.args["identifier"])
        writer = RecordWriter(self.settings, admission.faults, prefix)
        head = self._open(request.echo) + "<GetRecord>"
        tail = "</GetRecord>\n" + envelope_close(garbage=admission.faults.oai_trailing_garbage)

        def body() -> Iterator[bytes]:
            yield head.encode()
            yield from writer.pieces(item)
            yield tail.encode()

        headers = [("Content-Type", XML_TYPE), *admission.headers]
        return Reply(200, headers, body(), chunked=True)

    # --- ground truth ------------------------------------------------------------------------
    def expected(self, prefix: str = "lido") -> Expected:
        """See :func:`tap_museumcms.refserver.oai_expected.expected_oai`."""
        from tap_museumcms.refserver.oai_expected import expected_oai

        return expected_oai(self.collection, self.settings, self.policy.faults, prefix)


def _metadata_formats() -> str:
    formats = "".join(
        f"<metadataFormat><metadataPrefix>{prefix}</metadataPrefix><schema>{schema}</schema>"
        f"<metadataNamespace>{namespace}</metadataNamespace></metadataFormat>"
        for prefix, (schema, namespace) in METADATA_FORMATS.items()
    )
    return f"<ListMetadataFormats>{formats}</ListMetadataFormats>\n"


def _list_body(
    head: str, items: list[Item], writer: RecordWriter, tail: str, cut: int | None
) -> Iterator[bytes]:
    """The page record by record; with ``cut``, it stops halfway into the first piece of record
    number ``cut`` (for the reset and truncate faults)."""
    yield head.encode()
    for index, item in enumerate(items):
        pieces = writer.pieces(item)
        if index == cut:
            first = next(pieces)
            yield first[: max(1, len(first) // 2)]
            return
        yield from pieces
    yield tail.encode()
