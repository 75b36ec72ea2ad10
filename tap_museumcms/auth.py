"""Credentials: API keys (one or several, rotated) or an OAuth2 client-credentials token.

They go to the source's own origin only (scheme, host, port of ``api_url``), in the form the
source wants: ``Authorization: Bearer <key>``, ``X-API-Key: <key>``, or a query parameter
(``?wskey=<key>``). A request to any other origin (a next-page URL that points elsewhere, a
redirect) is sent without them::

    credentials = Credentials.from_config(config, key_param="api_key", clock=clock)
    session.auth = credentials
    credentials.rejected(response)   # a 401: next key, or a fresh token; None: nothing left

Keys: ``api_key`` is a string or a list (also a JSON list in a string, as an environment
variable gives it). A key the source rejects (401, 403) or whose budget is spent (a 429 whose
reset lies beyond ``max_retry_after_seconds``) is set aside and the next one used; the log
names keys by position, never by value.

OAuth2 (``oauth_token_url``, ``oauth_client_id``, ``oauth_client_secret``, ``oauth_scope``): the
token is fetched once, renewed before ``expires_in`` runs out (:data:`REFRESH_MARGIN`), and
renewed once more on a 401, never in a loop. The token request goes through the transport
like any other request (paced, retried), with the client's id and secret in HTTP Basic auth.
"""

from __future__ import annotations

import json
import threading
import typing as t
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from tap_museumcms.redact import url_secrets

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from tap_museumcms.clock import Clock

#: Seconds before a token's expiry when it is renewed (or a tenth of its life, if shorter).
REFRESH_MARGIN = 60.0


def origin_of(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of a URL, the port made explicit for http and https."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def config_secrets(config: Mapping[str, t.Any]) -> list[str]:
    """Every secret in the settings: keys, the OAuth2 client secret, secrets in ``api_url``."""
    return [*api_keys(config.get("api_key")), str(config.get("oauth_client_secret") or ""),
            *url_secrets(str(config.get("api_url") or ""))]


def api_keys(value: t.Any) -> list[str]:
    """The ``api_key`` setting as a list: a string, a list, or a JSON list in a string."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                return [value]
        else:
            return [value]
    return [str(key) for key in value if key]


@dataclass(frozen=True)
class OAuthSettings:
    """OAuth2 client credentials (``oauth_*`` settings)."""

    token_url: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    scope: str | None = None


class Credentials(requests.auth.AuthBase):
    """What a request to the source carries, and what to try when the source refuses it.

    Args:
        keys: the API keys, in order (may be empty).
        origin: ``(scheme, host, port)`` of ``api_url``.
        header: ``"authorization"`` or ``"x-api-key"`` (when ``param`` is None).
        param: the query parameter that carries the key, if the source wants one.
        oauth: OAuth2 client credentials (then ``keys`` are not used).
        clock: for token lifetimes.
        fetch_token: sends the token request (the transport's), returns the JSON answer.
    """

    def __init__(
        self, keys: list[str], origin: tuple[str, str, int | None], *,
        header: str = "authorization", param: str | None = None,
        oauth: OAuthSettings | None = None, clock: Clock | None = None,
        fetch_token: Callable[[OAuthSettings], Mapping[str, t.Any]] | None = None,
    ) -> None:
        self.keys = keys
        self.origin = origin
        self.header = header
        self.param = param
        self.oauth = oauth
        self.clock = clock
        self.fetch_token = fetch_token
        self.index = 0  # the key in use
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = threading.RLock()
        self._renewed_after_401 = False

    @classmethod
    def from_config(
        cls, config: Mapping[str, t.Any], *, key_param: str | None, clock: Clock,
    ) -> Credentials:
        oauth = None
        if config.get("oauth_token_url"):
            oauth = OAuthSettings(
                token_url=str(config["oauth_token_url"]),
                client_id=str(config.get("oauth_client_id") or ""),
                client_secret=str(config.get("oauth_client_secret") or ""),
                scope=config.get("oauth_scope"),
            )
        return cls(
            api_keys(config.get("api_key")), origin_of(str(config.get("api_url") or "")),
            header=config.get("auth_header", "authorization"), param=key_param, oauth=oauth,
            clock=clock,
        )

    @property
    def secrets(self) -> list[str]:
        """Every secret value, for the log filter."""
        found = list(self.keys)
        if self.oauth and self.oauth.client_secret:
            found.append(self.oauth.client_secret)
        if self._token:
            found.append(self._token)
        return found

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if origin_of(request.url or "") != self.origin:
            return request
        if self.oauth is not None:
            request.headers["Authorization"] = f"Bearer {self._current_token()}"
        elif self.index < len(self.keys):
            self._add_key(request, self.keys[self.index])
        return request

    def ensure(self, url: str) -> None:
        """Fetch or renew the OAuth2 token now if a request to ``url`` will need it.

        Called before that request is admitted, so that the token request takes its own turn
        with the pacer and the request waits for its turn after it (fetched while the request
        is being prepared, the token request would go after the request's turn, and the request
        right behind it).
        """
        if self.oauth is not None and origin_of(url) == self.origin:
            self._current_token()

    def _add_key(self, request: requests.PreparedRequest, key: str) -> None:
        if self.param:
            request.prepare_url(request.url, {self.param: key})
        elif self.header == "x-api-key":
            request.headers["X-API-Key"] = key
        else:
            request.headers["Authorization"] = f"Bearer {key}"

    def _current_token(self) -> str:
        with self._lock:  # concurrent requests: one token request, not one each
            return self._token_locked()

    def _token_locked(self) -> str:
        assert self.oauth is not None and self.fetch_token is not None and self.clock
        if self._token is None or self.clock.time() >= self._renew_at:
            answer = self.fetch_token(self.oauth)
            token, life = answer.get("access_token"), answer.get("expires_in")
            if not isinstance(token, str) or not token:
                raise ValueError("the token endpoint answered no access_token")
            life = float(life) if isinstance(life, int | float) and life > 0 else 3600.0
            self._token = token
            self._renew_at = self.clock.time() + life - min(REFRESH_MARGIN, life / 10)
        return self._token

    def rejected(self, status: int, *, budget_spent: bool = False) -> str | None:
        """The source refused the credentials: what to try next.

        Args:
            status: the HTTP status (401, 403, or 429 when ``budget_spent``).
            budget_spent: the key's budget is spent beyond ``max_retry_after_seconds``.

        Returns:
            A log line saying what changed (the request is then sent again), or None when
            there is nothing left to try (the refusal is final).
        """
        if self.oauth is not None:
            if status != 401 or self._renewed_after_401:
                return None
            self._renewed_after_401 = True
            self._token = None  # fetched anew for the next request
            return "the OAuth2 token was refused (HTTP 401); fetching a new one, once"
        if self.index + 1 >= len(self.keys):
            return None
        self.index += 1
        why = "its budget is spent" if budget_spent else f"HTTP {status}"
        return (f"API key {self.index} of {len(self.keys)} was set aside ({why}); using key "
                f"{self.index + 1} of {len(self.keys)}")

    def accepted(self) -> None:
        """A request with the current credentials went through."""
        self._renewed_after_401 = False

    def __repr__(self) -> str:  # never show a key or a token
        return f"Credentials(keys={len(self.keys)}, oauth={self.oauth is not None})"
