"""Which path does what: one request (method, path, query, headers, body) → one :class:`Reply`.

Endpoints::

    GET  /objects | /rights | /media ?cursor=&limit=&modified_since=   the JSONL face
    GET  /oai?verb=...  (or POST with a form body)                     the OAI-PMH face
    POST /oauth/token   grant_type=client_credentials, HTTP Basic      OAuth2 (``gate``)
    GET  /_admin/stats                  {"requests": {"/objects": 3}, "connections": 1, ...}
    GET  /_admin/expected?stream=objects {"valid_keys": [...], "invalid_positions": [...], ...}
    GET  /_admin/expected?face=oai&prefix=lido   the same for the OAI face (identifiers as keys)
    POST /_admin/mutate   {"op": "update"|"add"|"delete", "stream": "objects", "key": "...",
                           "fields": {...}}                 → {"line": {...}}
    POST /_admin/faults   {"status_429_every": 3, ...}     → the new fault settings

Data requests (both faces) need a key or a live token when the server has them (else 401,
JSON). Order for an API request (data or token): ``refuse_from_request`` (no answer at all), then
for a data request: the other host (``redirect_other_host_every``: requests for ``redirect_host``
need no credential and are never redirected), the credentials (``gate``), the face (syntax, rate
limiter and status faults, the redirect, the body), the encoding (``gzip_bomb_every``,
``gzip_bodies``), then ``slow_first_byte``.
"""

from __future__ import annotations

import json
import time
import typing as t
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs, urlencode

from tap_museumcms.refserver.collection import STREAM_KEYS
from tap_museumcms.refserver.encoding import encode_reply
from tap_museumcms.refserver.faults import DROP, Faults, Reply
from tap_museumcms.refserver.jsonl_face import json_error, json_reply
from tap_museumcms.refserver.oai_expected import expected_json
from tap_museumcms.refserver.oai_render import METADATA_FORMATS

if t.TYPE_CHECKING:
    from tap_museumcms.refserver.server import ReferenceServer

STREAM_PATHS = {f"/{name}": name for name in STREAM_KEYS}


class Headers(t.Protocol):
    """Request headers (``http.client.HTTPMessage`` or a dict)."""

    def get(self, name: str, default: None = None) -> str | None: ...


def request_host(headers: Headers) -> str:
    """The host a request addressed, lower-cased, without the port (``""`` when not said)."""
    host = (headers.get("Host") or "").strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def first_values(query: Mapping[str, list[str]]) -> dict[str, str]:
    """The first value of each query argument."""
    return {name: values[0] for name, values in query.items()}


def route(
    app: ReferenceServer,
    method: str,
    path: str,
    query: dict[str, list[str]],
    headers: Headers,
    body: bytes,
) -> Reply:
    """The reply to one request (see the module doc for the endpoints)."""
    if (path in STREAM_PATHS or path in ("/oai", "/oauth/token")) and app.policy.refuse():
        return DROP
    if path == "/oauth/token":
        return app.gate.token_reply(method, headers, body)
    if path in STREAM_PATHS:
        if method != "GET":
            return json_error(405, "method_not_allowed", "use GET", [("Allow", "GET")])
        stream = STREAM_PATHS[path]
        return _data(app, headers, path, query, lambda to: app.jsonl.reply(
            stream, first_values(query), redirect_to=to))
    if path == "/oai":
        if method == "POST":
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            names = query.keys() | form.keys()
            query = {name: [*query.get(name, []), *form.get(name, [])] for name in names}
        user_agent = headers.get("User-Agent") or ""
        return _data(app, headers, path, query, lambda to: app.oai.reply(
            query, user_agent, redirect_to=to))
    if (method, path) == ("GET", "/_admin/stats"):
        return json_reply(200, app.stats.snapshot())
    if (method, path) == ("GET", "/_admin/expected"):
        return _admin_expected(app, first_values(query))
    if (method, path) == ("POST", "/_admin/mutate"):
        return _admin_mutate(app, body)
    if (method, path) == ("POST", "/_admin/faults"):
        return _admin_faults(app, body)
    return json_error(404, "not_found", f"no such endpoint: {path}")


def _data(
    app: ReferenceServer,
    headers: Headers,
    path: str,
    query: Mapping[str, list[str]],
    build: Callable[[str | None], Reply],
) -> Reply:
    """The other host, auth, the face's reply (``build(redirect_to)``), its encoding, then
    ``slow_first_byte`` (real time) before any byte."""
    faults = app.policy.faults
    other = faults.redirect_host.lower()
    other_host = faults.redirect_other_host_every > 0 and request_host(headers) == other
    accept = headers.get("Accept-Encoding") or ""
    if not other_host:
        refusal = app.gate.check(headers)
        if refusal is not None:
            return encode_reply(refusal, faults, accept)
    redirect_to = None
    if faults.redirect_other_host_every > 0 and not other_host:
        port = app.url.rsplit(":", 1)[1]
        target = path + ("?" + urlencode(query, doseq=True) if query else "")
        redirect_to = f"http://{other}:{port}{target}"
    reply = encode_reply(build(redirect_to), faults, accept)
    slow, every = faults.slow_first_byte, faults.slow_first_byte_every
    if slow > 0 and reply.status not in (400, 403) and (
        every <= 0 or (reply.number > 0 and reply.number % every == 0)
    ):
        time.sleep(slow)
    return reply


def _admin_expected(app: ReferenceServer, params: dict[str, str]) -> Reply:
    if params.get("face") == "oai":
        prefix = params.get("prefix", "lido")
        if prefix not in METADATA_FORMATS:
            return json_error(
                400, "bad_request", f"prefix must be one of {sorted(METADATA_FORMATS)}"
            )
        return json_reply(200, expected_json(app.expected_oai(prefix)))
    stream = params.get("stream", "")
    if stream not in STREAM_KEYS:
        return json_error(400, "bad_request", f"stream must be one of {sorted(STREAM_KEYS)}")
    return json_reply(200, expected_json(app.expected(stream)))


def _admin_mutate(app: ReferenceServer, body: bytes) -> Reply:
    try:
        request = json.loads(body or b"{}")
        op, stream = request["op"], request["stream"]
        collection = app.collection
        if op == "update":
            line = collection.update(stream, request["key"], **request.get("fields", {}))
        elif op == "add":
            line = collection.add(stream, request.get("record") or request["fields"])
        elif op == "delete":
            line = collection.delete(stream, request["key"])
        else:
            raise ValueError(f"unknown op {op!r}")
    except (ValueError, KeyError, TypeError) as exc:
        return json_error(400, "bad_request", str(exc))
    return json_reply(200, {"line": json.loads(line)})


def _admin_faults(app: ReferenceServer, body: bytes) -> Reply:
    try:
        faults = Faults.from_dict(json.loads(body or b"{}"))
    except (ValueError, TypeError) as exc:
        return json_error(400, "bad_request", str(exc))
    app.set_faults(faults)
    return json_reply(200, faults.to_dict())
