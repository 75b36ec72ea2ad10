"""Who may ask the reference server for data: its API keys and its OAuth2 tokens.

Keys (``token`` and ``keys`` of :class:`~tap_museumcms.refserver.server.ReferenceServer`) come as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. With an :class:`OAuthClient`, the server
also has a client-credentials token endpoint::

    POST /oauth/token            Authorization: Basic base64(client_id:client_secret)
    grant_type=client_credentials[&scope=...]
    -> 200 {"access_token": "...", "token_type": "Bearer", "expires_in": 3600}
    -> 401 {"error": "invalid_client"} / 400 {"error": "unsupported_grant_type"}

and data requests then need ``Authorization: Bearer <token>`` with a token it issued that is still
live on the server clock (a key is accepted too, when the server has keys). Faults on them
(``reject_key``, ``oauth_revoke_at_request``, ``oauth_token_503_every``, ``oauth_wrong_scope``)
are described in :class:`~tap_museumcms.refserver.faults.Faults`. No key, token or secret is
ever logged or echoed; the request log names a credential by what it is (``"key 2"``,
``"oauth"``).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac
import secrets
import threading
import typing as t
from collections.abc import Sequence
from urllib.parse import parse_qs

from tap_museumcms.refserver.faults import FaultPolicy, Reply
from tap_museumcms.refserver.jsonl_face import json_error, json_reply

if t.TYPE_CHECKING:
    from tap_museumcms.clock import Clock
    from tap_museumcms.refserver.routes import Headers


@dataclasses.dataclass(frozen=True)
class OAuthClient:
    """The one OAuth2 client the server knows.

    Attributes:
        client_id: the client's id.
        client_secret: its secret (never shown).
        token_ttl: seconds (server clock) an issued token stays live; ``expires_in`` says so.
    """

    client_id: str
    client_secret: str = dataclasses.field(repr=False)
    token_ttl: float = 3600.0

    def __post_init__(self) -> None:
        if not self.token_ttl > 0:
            raise ValueError("token_ttl must be positive")


def _unauthorised(message: str, policy: FaultPolicy, status: int = 401,
                  error: str = "") -> Reply:
    _, rate_headers, _ = policy.rate_headers(count_request=False)
    challenge = 'Bearer realm="museumcms"' + (f', error="{error}"' if error else "")
    return json_error(status, "unauthorized" if status == 401 else "forbidden", message,
                      [("WWW-Authenticate", challenge), *rate_headers])


class Gate:
    """Checks the credentials of data requests and issues OAuth2 tokens.

    Args:
        keys: the accepted keys, in order (named ``key 1``, ``key 2``, ... in the log).
        oauth: the OAuth2 client, or None for no token endpoint.
        policy: the fault switches and counters.
        clock: server time (token lifetimes).
    """

    def __init__(
        self, keys: Sequence[str], oauth: OAuthClient | None, policy: FaultPolicy, clock: Clock
    ) -> None:
        self.keys = [key.encode() for key in keys]
        self.oauth = oauth
        self.policy = policy
        self.clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[int, float]] = {}  # token -> (serial, expires at)
        self._serial = 0
        self._revoked_below = 0

    @property
    def closed(self) -> bool:
        """Whether data requests need a credential at all."""
        return bool(self.keys) or self.oauth is not None

    # --- data requests ----------------------------------------------------------------------
    def check(self, headers: Headers) -> Reply | None:
        """None when the request may go on, else the 401 (or 403) reply.

        A request may offer a Bearer value and an ``X-API-Key``: one good credential is enough.
        """
        if not self.closed:
            return None
        if self.oauth is not None and self.policy.revocation_due():
            with self._lock:
                self._revoked_below = self._serial + 1
        refusal = None
        for offered in _offered(headers):
            verdict = self._judge(offered)
            if verdict is None:
                return None
            refusal = refusal or verdict
        return refusal or _unauthorised(
            "missing or invalid credentials: send Authorization: Bearer <token> or X-API-Key",
            self.policy, error="invalid_token" if self.oauth else "")

    def _judge(self, offered: bytes) -> Reply | None:
        """None for a good credential, a specific refusal, or a generic one (unknown)."""
        if self._key_index(offered) is not None:
            status = self.policy.key_refusal(offered.decode())
            if status is None:
                return None
            return _unauthorised("this API key is no longer accepted", self.policy, status)
        if self._token_live(offered.decode(errors="replace")):
            if not self.policy.faults.oauth_wrong_scope:
                return None
            return _unauthorised("the token's scope does not cover this resource",
                                 self.policy, error="insufficient_scope")
        return _unauthorised(
            "missing or invalid credentials: send Authorization: Bearer <token> or X-API-Key",
            self.policy, error="invalid_token" if self.oauth else "")

    def label(self, headers: Headers) -> str:
        """What credential a request carries, for the log: ``key 2``, ``oauth``, ``unknown``
        (something the server did not issue) or ``""`` (none)."""
        offers = _offered(headers)
        for offered in offers:
            index = self._key_index(offered)
            if index is not None:
                return f"key {index + 1}"
            with self._lock:
                if offered.decode(errors="replace") in self._tokens:
                    return "oauth"
        return "unknown" if offers else ""

    def _key_index(self, offered: bytes) -> int | None:
        found = None
        for index, key in enumerate(self.keys):
            if hmac.compare_digest(offered, key) and found is None:
                found = index
        return found

    def _token_live(self, token: str) -> bool:
        with self._lock:
            entry = self._tokens.get(token)
            revoked_below = self._revoked_below
        if entry is None:
            return False
        serial, expires_at = entry
        return serial >= revoked_below and self.clock.time() < expires_at

    # --- the token endpoint -----------------------------------------------------------------
    def token_reply(self, method: str, headers: Headers, body: bytes) -> Reply:
        """The answer of ``POST /oauth/token`` (see the module doc)."""
        if self.oauth is None:
            return json_error(404, "not_found", "this server has no token endpoint")
        if method != "POST":
            return json_error(405, "method_not_allowed", "use POST", [("Allow", "POST")])
        number, faults = self.policy.count_oauth_token_request()
        every = faults.oauth_token_503_every
        if every > 0 and number % every == 0:
            retry = [("Retry-After", self.policy.retry_after(faults.retry_after))]
            return json_error(503, "temporarily_unavailable", "the token service is busy", retry)
        if not self._client_ok(headers.get("Authorization") or ""):
            return json_error(401, "invalid_client", "client authentication failed",
                              [("WWW-Authenticate", 'Basic realm="museumcms"')])
        form = parse_qs(body.decode("utf-8", "replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return json_error(400, "unsupported_grant_type", "use client_credentials")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._serial += 1
            self._tokens[token] = (self._serial, self.clock.time() + self.oauth.token_ttl)
        ttl = self.oauth.token_ttl
        return json_reply(200, {"access_token": token, "token_type": "Bearer",
                                "expires_in": int(ttl) if float(ttl).is_integer() else ttl},
                          [("Cache-Control", "no-store")])

    def _client_ok(self, authorization: str) -> bool:
        assert self.oauth is not None
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            pair = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        client_id, _, secret = pair.partition(b":")
        expected_id, expected_secret = self.oauth.client_id, self.oauth.client_secret
        return hmac.compare_digest(client_id, expected_id.encode()) & hmac.compare_digest(
            secret, expected_secret.encode())


def _offered(headers: Headers) -> list[bytes]:
    """The credentials a request offers: its Bearer value, then its ``X-API-Key``."""
    found = []
    scheme, _, value = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        found.append(value.strip().encode())
    api_key = (headers.get("X-API-Key") or "").strip()
    if api_key:
        found.append(api_key.encode())
    return found
