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

import json
import logging
import math
import typing as t
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import requests
import requests.adapters
import urllib3.exceptions

from tap_museumcms.auth import Credentials, OAuthSettings, origin_of
from tap_museumcms.body import BodyLimits
from tap_museumcms.breaker import STATE_VALUES, CircuitBreaker
from tap_museumcms.errors import ConfigurationError, SourceError
from tap_museumcms.metrics import RunMetrics
from tap_museumcms.quiet import QuietHours, QuietPause
from tap_museumcms.ratelimit import Pacer, RetryPolicy, parse_retry_after
from tap_museumcms.redact import install_secret_filter, sanitize_url

if t.TYPE_CHECKING:
    import random
    from collections.abc import Mapping

    from tap_museumcms.clock import Clock

#: Connections kept per host in the shared pool.
POOL_SIZE = 4
#: Statuses retried by default: the host failing (a 429 is rate limiting, retried apart).
DEFAULT_RETRY_STATUSES = frozenset({500, 502, 503, 504})
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


@dataclass(frozen=True)
class TransportSettings:
    """What the transport needs from the tap's settings and the source's dialect.

    ``retry_statuses`` (setting) are retried and count as the host failing (the breaker);
    ``rate_statuses`` (the dialect's, and 429) mean "slow down": retried, never a failure.
    """

    api_url: str
    user_agent: str
    timeout: float = 60.0
    max_retries: int = 5
    max_retry_after_seconds: float = 300.0
    max_requests_per_second: float | None = None
    retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
    rate_statuses: frozenset[int] = frozenset({429})
    breaker_failures: int = 5
    breaker_window_seconds: float = 60.0
    breaker_open_seconds: float = 60.0
    allow_insecure_http: bool = False
    body: BodyLimits = field(default_factory=BodyLimits)
    max_concurrency: int = 1

    @classmethod
    def from_config(
        cls, config: Mapping[str, t.Any], *, default_rps: float | None = None,
        rate_statuses: frozenset[int] = frozenset(),
    ) -> TransportSettings:
        from tap_museumcms import __version__

        def number(name: str, default: float) -> float:
            value = config.get(name)
            return float(value) if value is not None else default

        rps = config.get("max_requests_per_second") or default_rps
        max_page = config.get("max_page_bytes")
        return cls(
            api_url=str(config.get("api_url") or ""),
            user_agent=config.get("user_agent") or default_user_agent(__version__),
            timeout=number("request_timeout_seconds", 60),
            max_retries=int(number("max_retries", 5)),
            max_retry_after_seconds=number("max_retry_after_seconds", 300),
            max_requests_per_second=float(rps) if rps else None,
            retry_statuses=frozenset(int(s) for s in config.get("retry_statuses")
                                     or DEFAULT_RETRY_STATUSES) - {429},
            rate_statuses=frozenset({429}) | rate_statuses,
            breaker_failures=int(number("breaker_failures", 5)),
            breaker_window_seconds=number("breaker_window_seconds", 60),
            breaker_open_seconds=number("breaker_open_seconds", 60),
            allow_insecure_http=bool(config.get("allow_insecure_http")),
            body=BodyLimits(max_bytes=int(max_page) if max_page else None),
            max_concurrency=max(1, int(number("max_concurrency", 1))),
        )


class Transport:
    """The run's HTTP client: pooled session, credentials, admission, retries, classification.

    Args:
        settings: see :class:`TransportSettings`.
        clock, rng: injected time and randomness (jitter).
        credentials: what requests to the source carry (keys or an OAuth2 token).
        quiet: the quiet hours (no request inside one).
        metrics: the run's counters.
    """

    def __init__(
        self, settings: TransportSettings, *, clock: Clock, rng: random.Random,
        credentials: Credentials, quiet: QuietHours | None = None,
        metrics: RunMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.api_url = settings.api_url
        self.clock = clock
        self.rng = rng
        self.policy = RetryPolicy(max_retries=settings.max_retries,
                                  max_retry_after_seconds=settings.max_retry_after_seconds)
        self.pacer = Pacer(clock=clock, max_requests_per_second=settings.max_requests_per_second,
                           max_wait_seconds=settings.max_retry_after_seconds)
        self.session = pooled_session(allow_insecure_http=settings.allow_insecure_http,
                                      size=max(POOL_SIZE, settings.max_concurrency))
        self.session.auth = self.credentials = credentials
        credentials.fetch_token = self.fetch_token
        self.admission = Admission(self, quiet)
        self.metrics = metrics or RunMetrics()
        #: True once any response came back (connection errors before it mean bad settings).
        self.seen_response = False

    @property
    def timeout(self) -> float:
        return self.settings.timeout

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.metrics.count_connections(self.session)
        self.session.close()

    # -- sending ---------------------------------------------------------------------------

    def get(
        self, request: PageRequest, *, stats: StreamStats, pass_errors: bool = False
    ) -> requests.Response:
        """Send one GET with admission and retries; return the streamed response.

        Args:
            request: what to send.
            stats: the stream's counters (retries, waits).
            pass_errors: return a final 4xx/5xx response (its body may explain itself, as an
                OAI-PMH error does) instead of raising.

        Raises:
            ConfigurationError: the settings cannot work (host, credentials, endpoint).
            SourceError: the source kept failing beyond ``max_retries``.
            QuietPause: a quiet window began (nothing was sent).
        """
        url = request.full_url
        headers = {"User-Agent": self.settings.user_agent, "Accept-Encoding": "gzip, deflate",
                   **request.headers}
        return self._exchange(lambda: requests.Request("GET", url, headers=headers), url,
                              stats, pass_errors)

    def fetch_token(self, oauth: OAuthSettings) -> dict[str, t.Any]:
        """The OAuth2 client-credentials token request, paced and retried like any other."""
        data = {"grant_type": "client_credentials", **({"scope": oauth.scope}
                                                        if oauth.scope else {})}
        basic = requests.auth.HTTPBasicAuth(oauth.client_id, oauth.client_secret)
        response = self._exchange(
            lambda: requests.Request("POST", oauth.token_url, data=data, auth=basic,
                                     headers={"User-Agent": self.settings.user_agent}),
            oauth.token_url, StreamStats(), pass_errors=True, source=False)
        answer = token_answer(response, oauth.token_url)
        token = answer.get("access_token")
        if isinstance(token, str) and token:
            install_secret_filter([*self.credentials.secrets, token])
        return answer

    def _exchange(
        self, make: t.Callable[[], requests.Request], url: str, stats: StreamStats,
        pass_errors: bool, *, source: bool = True,
    ) -> requests.Response:
        """Send until a response stands (``source``: False for the OAuth2 token request)."""
        check_scheme(url, self.settings.allow_insecure_http)
        shown = sanitize_url(url)
        attempt = 0
        while True:
            if source:
                self.credentials.ensure(url)  # a token request goes first, paced on its own
            self.admission.admit(url, stats)
            prepared = self.session.prepare_request(make())
            try:
                response = self.session.send(prepared, stream=True, timeout=self.timeout,
                                             allow_redirects=True, **env_settings(self.session,
                                                                                  url))
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                self.pacer.observe({})  # the request is no longer in flight
                self.admission.failed(url, type(exc).__name__)
                attempt = self._connection_failed(exc, attempt, shown, stats)
                continue
            self.seen_response = True
            self.pacer.observe(response.headers)
            self.metrics.request(urlsplit(url).path or "/", response.status_code)
            verdict = self._judge(response, url, shown, attempt, stats, source=source)
            if isinstance(verdict, int):
                attempt = verdict
                continue
            if response.status_code >= 400 and not pass_errors:
                raise http_failure(response, self.api_url, excerpt(response),
                                   oauth=self.credentials.oauth is not None)
            return response

    def _judge(
        self, response: requests.Response, url: str, shown: str, attempt: int,
        stats: StreamStats, *, source: bool = True,
    ) -> int | None:
        """A new attempt count when the request goes again, None when the response stands."""
        status, settings = response.status_code, self.settings
        retry_after = parse_retry_after(response.headers.get("Retry-After"),
                                        now=self.clock.time(), max_seconds=math.inf)
        spent = status == 429 and retry_after is not None and (
            retry_after > settings.max_retry_after_seconds)
        refused = status in (401, 403) and status not in settings.rate_statuses
        if source and (refused or spent):
            change = self.credentials.rejected(status, budget_spent=spent)
            if change is not None:
                drain(response)
                LOGGER.warning("%s (on GET %s)", change, shown)
                return attempt  # the credentials changed: the same attempt again
        if status in settings.rate_statuses or status in settings.retry_statuses:
            if status not in settings.rate_statuses:
                self.admission.failed(url, f"HTTP {status}")
            drain(response)
            return self.backoff(attempt, self.policy.max_retries, f"HTTP {status}", shown, stats,
                                retry_after=retry_after)
        self.admission.succeeded(url)
        if status < 400 and source:  # (a token endpoint's 200 says nothing of the token)
            self.credentials.accepted()
        return None

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
        self, attempt: int, limit: int, cause: str, url: str, stats: StreamStats, *,
        retry_after: float | None = None, exc: BaseException | None = None,
        category: str | None = None,
    ) -> int:
        """Count a failed attempt and schedule the wait, or give up with a clear error.

        Returns:
            The new attempt count (the caller tries again after the admission's wait).

        Raises:
            ConfigurationError: a connection never succeeded in this run.
            SourceError: ``limit`` retries were spent.
        """
        attempt += 1
        stats.retries[category or cause] += 1
        self.metrics.retry(category or cause)
        if attempt > limit:
            if isinstance(exc, requests.exceptions.ConnectionError) and not self.seen_response:
                raise ConfigurationError(
                    f"cannot connect to api_url {sanitize_url(self.api_url)!r} ({cause} after "
                    f"{attempt} attempts); check that the source is reachable"
                ) from None
            raise SourceError(
                f"giving up on GET {url} after {attempt} attempts: last error {cause}"
            )
        retry_after = None if retry_after is None else min(
            retry_after, self.policy.max_retry_after_seconds)
        wait = self.policy.wait_seconds(attempt, retry_after=retry_after, rng=self.rng)
        how = "as told by Retry-After" if retry_after is not None else "backoff with jitter"
        self.pacer.block_for(wait, "retry_after" if retry_after is not None else "backoff")
        LOGGER.warning(
            "%s on GET %s; retry %d of %d in %.2f s (%s)", cause, url, attempt, limit, wait, how
        )
        return attempt


class Admission:
    """Decides when a request may go: quiet hours, the host's breaker, then the pacer.

    Every wait is slept on the injected clock and recorded by cause (metrics, stats).
    """

    def __init__(self, transport: Transport, quiet: QuietHours | None) -> None:
        self.transport = transport
        self.quiet = quiet
        self.breakers: dict[tuple[str, str, int | None], CircuitBreaker] = {}

    def breaker(self, url: str) -> CircuitBreaker:
        """The breaker of the request's host (one per origin, shared by every stream)."""
        origin = origin_of(url)
        found = self.breakers.get(origin)
        if found is None:
            s = self.transport.settings
            found = self.breakers[origin] = CircuitBreaker(
                failures=s.breaker_failures, window_seconds=s.breaker_window_seconds,
                open_seconds=s.breaker_open_seconds, clock=self.transport.clock,
                host=origin[1] or "the source")
        return found

    def admit(self, url: str, stats: StreamStats) -> None:
        """Wait until the request may go, then admit it.

        Raises:
            QuietPause: now is inside a quiet window (before anything was sent).
        """
        transport = self.transport
        clock, pacer, metrics = transport.clock, transport.pacer, transport.metrics
        breaker = self.breaker(url)
        while True:
            quiet = self.quiet.current() if self.quiet else None
            if quiet is not None:
                raise QuietPause(*quiet)
            wait, cause = breaker.before_request(), "breaker"
            if wait <= 0:
                wait, cause = pacer.delay(), pacer.cause
            if wait <= 0:
                break
            clock.sleep(wait)
            stats.waited_seconds += wait
            metrics.waited(cause, wait)
        pacer.wait()  # admits it (no wait left)
        metrics.breaker.labels(breaker.host).set(STATE_VALUES[breaker.state])
        budget = pacer.budget
        if budget is not None:
            metrics.budget.set(budget.remaining)

    def failed(self, url: str, what: str) -> None:
        """The host failed a request: the breaker counts it (a failed probe raises)."""
        breaker = self.breaker(url)
        was = breaker.state
        breaker.failure(what)
        if breaker.state == "open" and was != "open":
            LOGGER.warning("circuit breaker open: %s", breaker.describe())
        self.transport.metrics.breaker.labels(breaker.host).set(STATE_VALUES[breaker.state])

    def succeeded(self, url: str) -> None:
        self.breaker(url).success()


class _Session(requests.Session):
    """A session that never follows a redirect to another host with an API key header, nor
    to plain http on another machine unless ``allow_insecure_http`` (as for ``api_url``).

    (requests itself drops ``Authorization`` there; a key in the query is only ever added to
    the source's own origin, see :class:`~tap_museumcms.auth.Credentials`.)
    """

    allow_insecure_http = False

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: t.Any) -> None:
        try:
            check_scheme(prepared_request.url or "", self.allow_insecure_http)
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"{exc}; the source redirected GET {sanitize_url(response.request.url or '')} "
                "there") from None
        if "X-API-Key" in prepared_request.headers and self.should_strip_auth(
            response.request.url, prepared_request.url
        ):
            del prepared_request.headers["X-API-Key"]
        super().rebuild_auth(prepared_request, response)


def token_answer(response: requests.Response, token_url: str) -> dict[str, t.Any]:
    """The JSON answer of an OAuth2 token endpoint (closes the response).

    Raises:
        ConfigurationError: the endpoint refused the client or did not answer JSON.
    """
    body = read_bounded(response, 64 * 1024)
    if response.status_code >= 400:
        raise ConfigurationError(
            f"the OAuth2 token request to {sanitize_url(token_url)} failed with HTTP "
            f"{response.status_code}; check oauth_client_id, oauth_client_secret and oauth_scope")
    try:
        answer = json.loads(body)
    except ValueError:
        raise ConfigurationError("the OAuth2 token endpoint did not answer JSON") from None
    return answer if isinstance(answer, dict) else {}


def pooled_session(*, allow_insecure_http: bool = False, size: int = POOL_SIZE
                   ) -> requests.Session:
    """One session, its connections pooled (``size`` per host) and never retried by urllib3
    (the tap retries)."""
    session = _Session()
    session.allow_insecure_http = allow_insecure_http
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=POOL_SIZE, pool_maxsize=size, max_retries=0
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def env_settings(session: requests.Session, url: str) -> dict[str, t.Any]:
    """Proxies and a CA bundle from the environment; TLS verification is never switched off."""
    merged = session.merge_environment_settings(url, {}, None, None, None)
    verify = merged.get("verify")
    return {"proxies": merged.get("proxies") or {},
            "verify": verify if isinstance(verify, str) and verify else True}


_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def check_scheme(url: str, allow_insecure_http: bool) -> None:
    """Plain http goes to loopback only, unless ``allow_insecure_http`` is set.

    Raises:
        ConfigurationError: plain http to another host.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "http" and not allow_insecure_http and not (
        host in _LOOPBACK or host.startswith("127.")
    ):
        raise ConfigurationError(
            f"refusing plain http to {host}: use https, or set allow_insecure_http if this "
            "network is trusted (credentials and data would travel in clear)")


def default_user_agent(version: str) -> str:
    """A descriptive User-Agent: some repositories answer a bot-looking one with 403."""
    return f"tap-museumcms/{version} (museum collection harvester; Singer tap for Meltano)"


def http_failure(
    response: requests.Response, api_url: str, detail: str, *, oauth: bool = False
) -> ConfigurationError | SourceError:
    """The error for a final (non-retryable) HTTP failure, naming the setting to check
    (``oauth``: the credentials are an OAuth2 client's)."""
    status = response.status_code
    url = sanitize_url(response.request.url or "")
    request_id = response.headers.get("X-Request-Id")
    where = f"GET {url}" + (f" (request id {request_id})" if request_id else "")
    # 401/403: the key is wrong, missing or lacks rights (or the User-Agent is refused).
    if status in (401, 403):
        settings = "api_key and auth_header settings"
        if oauth:
            settings = "oauth_client_id, oauth_client_secret and oauth_scope settings" + (
                " (a fresh token was refused as well)" if status == 401 else "")
        return ConfigurationError(
            f"HTTP {status} from {where}: the source refused the request; check the {settings} "
            "(some repositories also refuse a User-Agent that looks like a bot: see user_agent)"
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
