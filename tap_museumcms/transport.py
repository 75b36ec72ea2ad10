"""Transport: one pooled session per run, with auth, pacing, retries and failure classification.

The tap builds one :class:`Transport` when a run starts and hands it to every stream's
harvest, so all requests of a run share one connection pool, one rate budget and one retry
policy, whatever the source dialect::

    with Transport.from_config(config, clock=clock, rng=rng) as transport:
        response = transport.get(PageRequest(url, params, headers), stats=stats)
        ...  # read response.iter_content(...), then close it

:meth:`Transport.get` waits on the :class:`~tap_museumcms.ratelimit.Pacer` before each
attempt, retries 429/502/503/504, timeouts and broken connections (``Retry-After`` first,
full-jitter backoff otherwise), drains error bodies so the connection returns to the pool, and
turns a final failure into a :class:`~tap_museumcms.errors.TapError` that names the setting
to check. It never sleeps itself: every wait goes through the pacer on the injected clock.
"""

from __future__ import annotations

import logging
import typing as t
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import requests
import requests.adapters
import urllib3.exceptions

from tap_museumcms.errors import ConfigurationError, SourceError
from tap_museumcms.ratelimit import Pacer, RetryPolicy, is_retryable_status, parse_retry_after
from tap_museumcms.redact import sanitize_url

if t.TYPE_CHECKING:
    import random
    from collections.abc import Mapping

    from tap_museumcms.clock import Clock

#: Connections kept per host in the shared pool.
POOL_SIZE = 4
#: Exceptions that mean the body could not be read to its end.
BODY_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)

LOGGER = logging.getLogger("tap-museumcms")


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One GET a dialect wants sent: ``url?params`` with extra ``headers``."""

    url: str
    params: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def full_url(self) -> str:
        """The URL with its query string (``:`` kept readable, everything else escaped)."""
        if not self.params:
            return self.url
        return f"{self.url}?{urlencode(self.params, safe=':')}"


@dataclass
class StreamStats:
    """What one stream did, for the end-of-stream summary."""

    pages: int = 0
    records: int = 0
    duplicates_skipped: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    waited_seconds: float = 0.0


class KeyAuth(requests.auth.AuthBase):
    """Adds the API key to requests for the source's own origin, and to no other.

    The key goes where the source wants it: ``Authorization: Bearer <key>``, ``X-API-Key:
    <key>``, or a query parameter (``?wskey=<key>`` for Europeana, ``?api_key=`` for
    api.data.gov). A request to another scheme, host or port (a next-page URL that points
    elsewhere) is sent without it.

    Args:
        key: the API key (None: nothing is added).
        origin: ``(scheme, host, port)`` of ``api_url``.
        header: ``"authorization"`` or ``"x-api-key"`` (when ``param`` is None).
        param: the query parameter that carries the key, if the source wants one.
    """

    def __init__(
        self, key: str | None, origin: tuple[str, str, int | None], *,
        header: str = "authorization", param: str | None = None,
    ) -> None:
        self._key = key
        self._origin = origin
        self._header = header
        self._param = param

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if not self._key or origin_of(request.url or "") != self._origin:
            return request
        if self._param:
            request.prepare_url(request.url, {self._param: self._key})
        elif self._header == "x-api-key":
            request.headers["X-API-Key"] = self._key
        else:
            request.headers["Authorization"] = f"Bearer {self._key}"
        return request

    def __repr__(self) -> str:  # never show the key
        return f"KeyAuth(header={self._header!r}, param={self._param!r}, key=***)"


def origin_of(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of a URL, the port made explicit for http and https."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


class _Session(requests.Session):
    """A session that never follows a redirect to another host with the API key."""

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: t.Any) -> None:
        # requests drops ``Authorization`` on a redirect to another host, but not ``X-API-Key``.
        if "X-API-Key" in prepared_request.headers and self.should_strip_auth(
            response.request.url, prepared_request.url
        ):
            del prepared_request.headers["X-API-Key"]
        super().rebuild_auth(prepared_request, response)


class Transport:
    """The run's HTTP client: pooled session, auth, pacer, retry policy, classification.

    Args:
        api_url: the configured base URL (only for messages; never logged unmasked).
        session: the pooled session; ``auth`` is set on it.
        pacer: shared by every request of the run.
        policy: how often and how long to retry.
        clock, rng: injected time and randomness (jitter).
        timeout: connect and read timeout, seconds.
        user_agent: sent on every request.
    """

    def __init__(
        self,
        *,
        api_url: str,
        session: requests.Session,
        pacer: Pacer,
        policy: RetryPolicy,
        clock: Clock,
        rng: random.Random,
        timeout: float,
        user_agent: str,
        rate_statuses: frozenset[int] = frozenset(),
    ) -> None:
        self.api_url = api_url
        self.session = session
        self.pacer = pacer
        self.policy = policy
        self.clock = clock
        self.rng = rng
        self.timeout = timeout
        self.user_agent = user_agent
        self.rate_statuses = rate_statuses
        #: True once any response came back (connection errors before it mean bad settings).
        self.seen_response = False

    @classmethod
    def from_config(
        cls, config: Mapping[str, t.Any], *, clock: Clock, rng: random.Random,
        key_param: str | None = None, default_rps: float | None = None,
        rate_statuses: frozenset[int] = frozenset(),
    ) -> Transport:
        """Build the run's transport from the tap settings and the source's politeness.

        Args:
            key_param: the query parameter that carries the API key, when the source wants
                one (else it goes in a header, as ``auth_header`` says).
            default_rps: the source's request ceiling when ``max_requests_per_second`` is unset.
            rate_statuses: statuses that mean "slow down" at this source (the Met answers 403),
                retried like 429.
        """
        from tap_museumcms import __version__

        session = _Session()
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE, max_retries=0
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.auth = KeyAuth(
            config.get("api_key"), origin_of(str(config.get("api_url") or "")),
            header=config.get("auth_header", "authorization"), param=key_param,
        )
        rps = config.get("max_requests_per_second") or default_rps
        max_wait = float(config.get("max_retry_after_seconds", 300))
        return cls(
            api_url=str(config.get("api_url") or ""),
            session=session,
            pacer=Pacer(
                clock=clock,
                max_requests_per_second=float(rps) if rps else None,
                max_wait_seconds=max_wait,
            ),
            policy=RetryPolicy(
                max_retries=int(config.get("max_retries", 5)), max_retry_after_seconds=max_wait
            ),
            clock=clock,
            rng=rng,
            timeout=float(config.get("request_timeout_seconds", 60)),
            rate_statuses=rate_statuses,
            user_agent=config.get("user_agent") or default_user_agent(__version__),
        )

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.session.close()

    # -- sending ---------------------------------------------------------------------------

    def get(
        self, request: PageRequest, *, stats: StreamStats, pass_errors: bool = False
    ) -> requests.Response:
        """Send one GET with pacing and retries; return the streamed response.

        Args:
            request: what to send.
            stats: the stream's counters (retries, waits).
            pass_errors: return a final 4xx/5xx response (its body may explain itself, as an
                OAI-PMH error does) instead of raising.

        Raises:
            ConfigurationError: the settings cannot work (host, credentials, endpoint).
            SourceError: the source kept failing beyond ``max_retries``.
        """
        url = request.full_url
        shown = sanitize_url(url)
        headers = {"User-Agent": self.user_agent, **request.headers}
        prepared = self.session.prepare_request(requests.Request("GET", url, headers=headers))
        attempt = 0
        while True:
            stats.waited_seconds += self.pacer.wait()
            try:
                response = self.session.send(
                    prepared, stream=True, timeout=self.timeout, allow_redirects=True
                )
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                self.pacer.observe({})  # the request is no longer in flight
                attempt = self._connection_failed(exc, attempt, shown, stats)
                continue
            self.seen_response = True
            self.pacer.observe(response.headers)
            status = response.status_code
            if is_retryable_status(status) or status in self.rate_statuses:
                retry_after = parse_retry_after(
                    response.headers.get("Retry-After"),
                    now=self.clock.time(),
                    max_seconds=self.policy.max_retry_after_seconds,
                )
                drain(response)
                attempt = self.backoff(
                    attempt, self.policy.max_retries, f"HTTP {status}", shown, stats,
                    retry_after=retry_after,
                )
                continue
            if status >= 400 and not pass_errors:
                raise http_failure(response, self.api_url, excerpt(response))
            return response

    def _connection_failed(
        self, exc: BaseException, attempt: int, url: str, stats: StreamStats
    ) -> int:
        if isinstance(exc, requests.exceptions.ConnectionError) and _is_name_resolution_error(exc):
            raise ConfigurationError(
                f"cannot resolve the host of api_url {sanitize_url(self.api_url)!r}; check api_url"
            ) from None
        limit = self.policy.max_retries
        if isinstance(exc, requests.exceptions.ConnectionError) and not self.seen_response:
            limit = min(limit, 2)  # nothing has answered yet in this run: most likely a wrong host
        return self.backoff(attempt, limit, type(exc).__name__, url, stats, exc=exc)

    def backoff(
        self,
        attempt: int,
        limit: int,
        cause: str,
        url: str,
        stats: StreamStats,
        *,
        retry_after: float | None = None,
        exc: BaseException | None = None,
        category: str | None = None,
    ) -> int:
        """Count a failed attempt and schedule the wait, or give up with a clear error.

        Returns:
            The new attempt count (the caller tries again after the pacer's wait).

        Raises:
            ConfigurationError: a connection never succeeded in this run.
            SourceError: ``limit`` retries were spent.
        """
        attempt += 1
        stats.retries[category or cause] += 1
        if attempt > limit:
            if isinstance(exc, requests.exceptions.ConnectionError) and not self.seen_response:
                raise ConfigurationError(
                    f"cannot connect to api_url {sanitize_url(self.api_url)!r} ({cause} after "
                    f"{attempt} attempts); check that the source is reachable"
                ) from None
            raise SourceError(
                f"giving up on GET {url} after {attempt} attempts: last error {cause}"
            )
        wait = self.policy.wait_seconds(attempt, retry_after=retry_after, rng=self.rng)
        self.pacer.block_for(wait)
        how = "as told by Retry-After" if retry_after is not None else "backoff with jitter"
        LOGGER.warning(
            "%s on GET %s; retry %d of %d in %.2f s (%s)", cause, url, attempt, limit, wait, how
        )
        return attempt


def default_user_agent(version: str) -> str:
    """A descriptive User-Agent: some repositories answer a bot-looking one with 403."""
    return f"tap-museumcms/{version} (museum collection harvester; Singer tap for Meltano)"


def http_failure(
    response: requests.Response, api_url: str, detail: str
) -> ConfigurationError | SourceError:
    """The error for a final (non-retryable) HTTP failure, naming the setting to check."""
    status = response.status_code
    url = sanitize_url(response.request.url or "")
    request_id = response.headers.get("X-Request-Id")
    where = f"GET {url}" + (f" (request id {request_id})" if request_id else "")
    # 401/403: the key is wrong, missing or lacks rights (or the User-Agent is refused).
    if status in (401, 403):
        return ConfigurationError(
            f"HTTP {status} from {where}: the source refused the request; check the api_key "
            "and auth_header settings (some repositories also refuse a User-Agent that looks "
            "like a bot: see user_agent)"
        )
    # 404: the api_url does not point at the source.
    if status == 404:
        return ConfigurationError(
            f"HTTP 404 from {where}: no such endpoint; check the api_url setting "
            f"({sanitize_url(api_url)!r})"
        )
    return SourceError(f"HTTP {status} from {where}: {detail}")


def drain(response: requests.Response, limit: int = 64 * 1024) -> None:
    """Read a small error body to its end so the connection goes back to the pool."""
    try:
        read = 0
        for chunk in response.iter_content(16 * 1024):
            read += len(chunk)
            if read > limit:
                break
    except BODY_ERRORS:
        pass
    finally:
        response.close()


def read_bounded(response: requests.Response, limit: int) -> bytes:
    """A body's first ``limit`` bytes (or all of it, if shorter); closes the response."""
    body = bytearray()
    try:
        for chunk in response.iter_content(64 * 1024):
            body += chunk
            if len(body) >= limit:
                break
    except BODY_ERRORS:
        pass
    finally:
        response.close()
    return bytes(body[:limit])


def excerpt(response: requests.Response, limit: int = 200) -> str:
    """The start of a body, on one line, for an error message; closes the response."""
    try:
        text = next(response.iter_content(limit, decode_unicode=False), b"")
    except BODY_ERRORS:
        return "(no body)"
    finally:
        response.close()
    shown = text.decode("utf-8", errors="replace").strip().replace("\n", " ")[:limit]
    return shown or "(empty body)"


def _is_name_resolution_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, urllib3.exceptions.NameResolutionError):
            return True
        if "Name or service not known" in str(current) or "nodename nor servname" in str(current):
            return True
        first = current.args[0] if current.args else None
        nested = first if isinstance(first, BaseException) else None
        current = nested or current.__cause__ or current.__context__
    return False
