"""The harvest loop: page after page from the checkpoint, with one give-up rule for every source.

A :class:`Harvester` runs one stream's harvest. For each page it writes a STATE (except before
the run's first request), asks the dialect for the request at the checkpoint, sends it through
the run's :class:`~tap_museumcms.transport.Transport`, hands each item to
:class:`~tap_museumcms.triage.Triage`, moves the checkpoint *before* anything is emitted, and
judges the page with :class:`~tap_museumcms.pagination.CursorGuard`.

The give-up rule, the same for every source:

* a page that makes no progress (its body broke before anything new, it only re-delivered
  records already emitted, or it held no item) is tried again from the checkpoint, with
  backoff, up to ``max_retries`` times in a row;
* a cursor the source rejects (an expired token) restarts the window, passing over what was
  handled; a source that rejects cursors more than ``max_retries`` times in a row before the
  harvest gets past what it had handled (tokens that expire faster than it can catch up) is
  stuck as well;
* a page that proves the source is stuck (the cursor it announces is the one it was requested
  with, or one the harvest already met) is not tried again;
* either way the stream stops with one ERROR line, its checkpoint kept, the other streams run,
  and the run exits non-zero at the end. Nothing is ever called complete that was cut short.
"""

from __future__ import annotations

import hashlib
import logging
import typing as t
from contextlib import closing
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from tap_museumcms.auth import config_secrets
from tap_museumcms.body import BodyRefused, body_chunks
from tap_museumcms.checkpoint import Checkpoint, iso_utc
from tap_museumcms.dialects.base import Dialect, PageEnd, derived_rows
from tap_museumcms.errors import SourceError
from tap_museumcms.models import ValidationOptions
from tap_museumcms.pagination import CursorGuard, PageVerdict
from tap_museumcms.prefetch import Prefetcher
from tap_museumcms.quiet import QuietPause
from tap_museumcms.redact import EchoMask, sanitize_url
from tap_museumcms.transport import BODY_ERRORS, StreamStats, http_failure, read_bounded
from tap_museumcms.triage import (
    Cut,
    Duplicate,
    Emit,
    PageInfo,
    Quarantine,
    Triage,
    reason_category,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    import requests

    from tap_museumcms.dialects.base import RawItem
    from tap_museumcms.transport import Transport

#: Bytes read from the socket at a time.
CHUNK_BYTES = 64 * 1024
#: How much of an HTTP error's body a dialect may read as a protocol answer.
ERROR_BODY_BYTES = 256 * 1024
#: Seconds between two progress lines of a long harvest.
PROGRESS_SECONDS = 30.0


class Outlet(t.Protocol):
    """Where a harvest sends what is not its own stream's records (the SDK adapter)."""

    def write_state(self) -> None:
        """Write a STATE now."""

    def quarantine(self, entry: dict[str, t.Any]) -> bool:
        """Emit a quarantine entry; False when the quarantine stream is not selected."""

    def derived(self, stream: str, record: dict[str, t.Any]) -> None:
        """Emit a row derived from a record (rights and media of a whole-object source)."""

    def documents(self, record: dict[str, t.Any], item: RawItem) -> None:
        """Emit the documents derived from an emitted record (LIDO, IIIF)."""

    def version(self, version: int | None) -> None:
        """Records from now on belong to this full harvest's version (None: no version)."""

    def activate(self, version: int) -> None:
        """The full harvest of this version is complete: send ACTIVATE_VERSION."""

    def pause(self, pause: QuietPause) -> None:
        """A quiet window began (the STATE is written): wait for its end, or end the run."""

    def fail(self, message: str) -> None:
        """The stream stopped early: fail the run at its end."""


@dataclass
class Page:
    """Book-keeping for the page being read."""

    info: PageInfo
    skip: int  # items at its start that were handled before
    end: PageEnd = field(default_factory=PageEnd)
    items: int = 0
    valid: int = 0
    emitted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    last_cursor: str | None = None
    last_cursor_was_new: bool = False
    broken: str | None = None  # why the body could not be read to its end
    misaligned: str | None = None  # the items passed over are not the ones handled before


class Harvester:
    """One stream's harvest from its checkpoint to the end of the list (or a clear stop).

    Args:
        stream: the harvested stream's name.
        state: the stream's writable Singer state.
        config: the tap settings.
        dialect, transport, outlet: the source, the run's HTTP client, where side rows go.
        logger: the stream's logger.
    """

    def __init__(
        self,
        stream: str,
        state: dict[str, t.Any],
        config: Mapping[str, t.Any],
        *,
        dialect: Dialect,
        transport: Transport,
        outlet: Outlet,
        logger: logging.Logger,
    ) -> None:
        self.stream = stream
        self.dialect = dialect
        self.transport = transport
        self.outlet = outlet
        self.logger = logger
        self.clock = transport.clock
        self.stats = StreamStats()
        self.checkpoint = _checkpoint(stream, state, config, dialect, transport.clock.time())
        self.guard = CursorGuard(seed=self.checkpoint.met_cursors)
        self.mask = EchoMask(config_secrets(config))
        self.triage = _triage(stream, self.checkpoint, config, dialect)
        self.prefetcher = _prefetcher(config, dialect, transport, self.stats)
        self.started = 0.0
        #: Cursor rejections since an item was last handled (not passed over).
        self.restarts = 0
        self._last_state = float("-inf")
        self._last_progress = 0.0
        #: The size of the list as the source last announced it (an estimate; progress only).
        self.total: int | None = None

    def run(self) -> Iterator[dict[str, t.Any]]:
        """Harvest; yield this stream's records (side rows go to the outlet)."""
        self.started = self.clock.monotonic()
        _log_start(self)
        self.outlet.version(self.checkpoint.version)
        try:
            yield from self._pages()
        finally:
            if self.prefetcher is not None:
                self.prefetcher.close()

    def _pages(self) -> Iterator[dict[str, t.Any]]:
        """Page after page from the checkpoint, under the one give-up rule."""
        cp = self.checkpoint
        limit = self.transport.policy.max_retries
        failed = 0  # pages in a row without progress
        while True:
            requested, skipped = cp.cursor, cp.skip
            self.guard.meet(requested)
            cp.note_requested(requested)
            if self.stats.pages and self._state_due():
                # Before every request but the run's first (nothing to lose before it, and a
                # run that fails at once leaves the saved state as it was).
                self.checkpoint_now()
            try:
                page = yield from PageReader(self).fetch(requested, skipped)
            except QuietPause as pause:
                self.checkpoint_now()
                self.outlet.pause(pause)  # waits for the window's end, or ends the run
                continue
            except SourceError as exc:  # the source is down, or kept failing: stop here
                self.checkpoint_now()
                raise type(exc)(f"{exc}; {self.stream} resumes at cursor {cp.cursor!r}") from None
            self.stats.pages += 1
            self._page_done(page)
            progressed = (cp.cursor, cp.skip) != (requested, skipped) or page.end.withdrawn > 0
            stop = self._after(page, requested)
            if stop is None:
                failed = 0
                self.triage.page_ok()
                continue
            if stop is _DONE:
                return
            failed = 1 if progressed else failed + 1
            if stop.final or failed > limit:
                _give_up(self, stop.message if stop.final
                         else f"{stop.message}, {failed} times in a row")
                return
            if stop.wait:
                self.transport.backoff(failed - 1, limit, stop.message, page.info.url,
                                       self.stats, category=stop.category)

    def checkpoint_now(self) -> None:
        """Write a STATE now (and note when, for the metrics)."""
        self.outlet.write_state()
        self.transport.metrics.checkpoint.labels(self.stream).set(self.clock.time())

    def _page_done(self, page: Page) -> None:
        metrics = self.transport.metrics
        metrics.pages.labels(self.stream).inc()
        metrics.records.labels(self.stream).inc(page.emitted)
        _log_page(self, page)
        if page.end.total is not None:
            self.total = page.end.total
        now = self.clock.monotonic()
        if now - self._last_progress >= PROGRESS_SECONDS:
            self._last_progress = now
            _log_progress(self)

    def _state_due(self) -> bool:
        """Whether a STATE goes out before this request (see ``Dialect.state_interval``)."""
        now = self.clock.monotonic()
        if now - self._last_state < self.dialect.state_interval:
            return False
        self._last_state = now
        return True

    def _after(self, page: Page, requested: str | None) -> _Stop | None:
        """What comes after a page: None (go on), _DONE, or a _Stop (no progress)."""
        cp = self.checkpoint
        if page.misaligned:
            return self._realign(page, requested)
        end = page.end
        broken = page.broken or end.broken
        if broken:
            return _Stop(f"the body broke at cursor {requested!r}: {broken}",
                         category="body broken")
        if end.stop:
            return _Stop(end.stop, final=True)
        if end.restart:
            return self._restart(end.restart)
        if self.dialect.item_cursors:
            outcome = self.guard.judge(
                requested=requested, last_cursor=page.last_cursor,
                last_cursor_was_new=page.last_cursor_was_new, lines=page.items,
                valid_records=page.valid, new_records=page.valid - page.duplicates,
                progressed=(cp.cursor != requested))
        else:
            outcome = self.guard.judge_page(
                requested=requested, next_cursor=end.next_cursor, complete=end.complete,
                items=page.items)
        verdict = outcome.verdict
        if verdict is PageVerdict.COMPLETE:
            if not self.dialect.item_cursors and cp.skip > page.items:
                # The list ended before the items to pass over did: it changed.
                page.misaligned = f"the list ended {cp.skip - page.items} items short"
                return self._realign(page, requested)
            if page.items and self.dialect.item_cursors:
                self.logger.warning("%s: %s", self.stream, outcome.message)
            if cp.version is not None:
                # Before the STATE that ends the harvest: a run that dies in between sends
                # it again when it resumes (the target's activation is idempotent).
                self.outlet.activate(cp.version)
            bookmark = cp.complete()
            self.checkpoint_now()
            _log_summary(self, bookmark)
            return _DONE
        if verdict in (PageVerdict.CONTINUE, PageVerdict.EMPTY) and not self.dialect.item_cursors:
            cp.next_page(t.cast(str, end.next_cursor), page.items)
        if verdict is PageVerdict.CONTINUE:
            return None
        if verdict is PageVerdict.EMPTY:
            return _Stop(f"cursor stuck: {outcome.message}", category="empty page", wait=False)
        if verdict is PageVerdict.REPEAT:
            return _Stop(f"cursor stuck: {outcome.message}", category="page repeated")
        return _Stop(outcome.message, final=True)

    def _restart(self, why: str) -> _Stop:
        """The source rejected the cursor: restart the window, unless it keeps doing so."""
        self.restarts += 1
        if self.restarts > self.transport.policy.max_retries:
            return _Stop(
                f"cursor stuck: the source rejected the cursor {self.restarts} times in a row "
                "before the harvest got past the items it had already handled (its tokens "
                f"expire faster than a restart catches up); last: {why}", final=True)
        handled = self.checkpoint.restart_window()
        self.guard = CursorGuard()
        self.logger.warning("%s: %s; restarting the window from its start and passing over the "
                            "%d items already handled", self.stream, why, handled)
        return _Stop(f"the source rejected the cursor: {why}", category="cursor rejected",
                     wait=False)

    def _realign(self, page: Page, requested: str | None) -> _Stop:
        self.logger.warning(
            "%s: the source no longer lists the same items at cursor %r (%s); reading the "
            "window again from its start: records already sent may be sent again (they merge "
            "on their key)", self.stream, requested, page.misaligned)
        self.checkpoint.realign()
        self.guard = CursorGuard()
        return _Stop(f"the list changed under cursor {requested!r}", category="list changed",
                     wait=False)


def _checkpoint(stream: str, state: dict[str, t.Any], config: Mapping[str, t.Any],
                dialect: Dialect, now: float) -> Checkpoint:
    """The stream's checkpoint (a source that cannot filter by date always harvests in full)."""
    every = config.get("full_harvest_every_days") if dialect.incremental else 0
    return Checkpoint(
        state,
        start_date=config.get("start_date") if dialect.incremental else None,
        new_window=lambda since: dialect.window(stream, since),
        full_every_days=float(every) if every is not None else None,
        now=now,
    )


def _triage(stream: str, checkpoint: Checkpoint, config: Mapping[str, t.Any],
            dialect: Dialect) -> Triage:
    return Triage(
        stream,
        checkpoint,
        options=ValidationOptions(fuzzy_dates=config.get("fuzzy_dates", "quarantine")),
        item_cursors=dialect.item_cursors,
        derive=derived_rows if dialect.harvested == ("objects",) else None,
        raw_max_bytes=int(config.get("quarantine_raw_max_bytes", 65536)),
    )


def _prefetcher(config: Mapping[str, t.Any], dialect: Dialect, transport: Transport,
                stats: StreamStats) -> Prefetcher | None:
    """Requests ahead of the harvester when ``max_concurrency`` > 1 and the source can say
    its next cursors (:meth:`Dialect.following`); None otherwise."""
    workers = int(config.get("max_concurrency") or 1)
    if workers < 2 or type(dialect).following is Dialect.following:
        return None
    return Prefetcher(transport, stats, workers, transport.settings.body)


class PageReader:
    """Reads one page's items: passes over what was handled before, triages, moves the
    checkpoint, then emits (records are yielded, side output goes to the outlet)."""

    def __init__(self, harvester: Harvester) -> None:
        self.harvester = harvester
        self.stream = harvester.stream
        self.dialect = harvester.dialect
        self.checkpoint = harvester.checkpoint
        self.triage = harvester.triage
        self.outlet = harvester.outlet
        self.stats = harvester.stats

    def fetch(self, requested: str | None, skip: int) -> t.Generator[dict, None, Page]:
        """Request the page at the checkpoint and read it; return its book-keeping."""
        cp, transport = self.checkpoint, self.harvester.transport
        ahead = self.harvester.prefetcher
        if ahead is not None:  # this page's request is built last: the dialect reads it next
            current, *following = [
                self.dialect.request(self.stream, cursor, cp.modified_since, cp.window)
                for cursor in [requested, *self.dialect.following(
                    self.stream, requested, cp.modified_since, ahead.workers)]]
            ahead.want(current, following)
        request = self.dialect.request(self.stream, requested, cp.modified_since, cp.window)
        response = (ahead.take(request) if ahead is not None else None) or transport.get(
            request, stats=self.stats, pass_errors=self.dialect.pass_errors)
        clock = transport.clock
        info = PageInfo(sanitize_url(response.url or request.full_url), requested,
                        iso_utc(clock.time()))
        page = Page(info=info, skip=skip)
        server_time = _server_time(response, clock.time())
        if response.status_code >= 400:
            # An HTTP error whose body may be the protocol's answer (an OAI-PMH error).
            body = read_bounded(response, ERROR_BODY_BYTES)
            end = self.dialect.explain(response.status_code, body)
            if end is None:
                detail = body[:200].decode("utf-8", "replace").strip().replace("\n", " ")
                raise http_failure(response, transport.api_url, detail or "(empty body)",
                                   oauth=transport.credentials.oauth is not None)
            page.end = end
            return page
        with closing(response):
            try:
                yield from self.read(response, page, server_time)
            except BODY_ERRORS as exc:
                page.broken = f"{type(exc).__name__} while reading the body"
            except BodyRefused as exc:
                page.end.stop = str(exc)
        cp.note_server_time(page.end.server_time or server_time)
        for warning in page.end.warnings:
            self.harvester.logger.warning("%s: %s", self.stream, warning)
        return page

    def read(
        self, response: requests.Response, page: Page, server_time: str
    ) -> Iterator[dict[str, t.Any]]:
        cp = self.checkpoint
        to_skip = page.skip
        noted = False
        body = body_chunks(response, self.harvester.transport.settings.body)
        items = self.dialect.read(self.stream, body, page.end)
        mask = self.harvester.mask
        for item in items:
            if mask:
                item = mask.item(item)
            page.items += 1
            if to_skip:
                # A resumed page: pass over what was handled before, then check the last one.
                to_skip -= 1
                if not to_skip and cp.skip_key not in (None, _item_key(item)):
                    page.misaligned = (f"expected {cp.skip_key!r} as item {page.skip} of the "
                                       f"page, found {_item_key(item)!r}")
                    return
                continue
            if not noted:  # before anything is emitted, so that any STATE carries it
                cp.note_server_time(page.end.server_time or server_time)
                noted = True
            self.harvester.restarts = 0
            outcome = self.triage.judge(item, page.info, alone=page.items == 1)
            if isinstance(outcome, Cut):
                page.broken = f"the body ended in the middle of an item ({outcome.reason})"
                return
            record = self._apply(outcome, item, page)
            if record is not None:
                yield record

    def _apply(self, outcome: t.Any, item: RawItem, page: Page) -> dict[str, t.Any] | None:
        """Move the checkpoint for one judged item, then emit; return the record to yield."""
        cp = self.checkpoint
        modified = identity = None
        if isinstance(outcome, Quarantine):
            page.quarantined += 1
            if outcome.entry is not None:
                self._quarantine(outcome.entry)
        elif isinstance(outcome, Duplicate):
            page.valid += 1
            page.duplicates += 1
            self.stats.duplicates_skipped += 1
            modified, identity = outcome.modified, (outcome.key, outcome.digest)
        else:
            page.valid += 1
            modified, identity = outcome.modified, (outcome.key, outcome.digest)
            cp.remember(outcome.key, modified, item.cursor)
        if self.dialect.item_cursors:
            if item.cursor:
                advances = self.harvester.guard.meet(item.cursor)
                page.last_cursor, page.last_cursor_was_new = item.cursor, advances
                if advances:
                    cp.advance(item.cursor, modified, identity)
        else:
            cp.note_handled(_item_key(item), modified, identity)
        if not isinstance(outcome, Emit):
            return None
        for entry in outcome.rejected:
            self._quarantine(entry)
        for stream, row in outcome.derived:
            self.outlet.derived(stream, row)
        self.outlet.documents(outcome.record, item)
        page.emitted += 1
        self.stats.records += 1
        return outcome.record

    def _quarantine(self, entry: dict[str, t.Any]) -> None:
        category = reason_category(entry["reason"])
        self.stats.quarantined[category] += 1
        self.harvester.transport.metrics.quarantined.labels(entry["stream"], category).inc()
        # Noted before it is emitted: a resumed run that meets this item again skips it.
        self.checkpoint.note_quarantined(entry["raw_sha256"])
        self.outlet.quarantine(entry)


@dataclass(frozen=True)
class _Stop:
    """A page without progress: why, and whether trying again can help."""

    message: str
    category: str = ""
    final: bool = False  # the source proved it is stuck: do not try again
    wait: bool = True  # back off before the next request


_DONE = _Stop("done")


def _give_up(harvester: Harvester, message: str) -> None:
    harvester.logger.error("%s: %s", harvester.stream, message)
    harvester.outlet.fail(f"{harvester.stream}: {message}")
    harvester.checkpoint_now()
    _log_summary(harvester, harvester.checkpoint.bookmark)


def _log_start(harvester: Harvester) -> None:
    cp, logger, stream = harvester.checkpoint, harvester.logger, harvester.stream
    if cp.resumed:
        logger.info("%s: resuming harvest at cursor %r (skip %d, modified_since=%s)",
                    stream, cp.cursor, cp.skip, cp.modified_since)
    else:
        kind = "incremental" if cp.modified_since else "full"
        logger.info("%s: starting %s harvest (modified_since=%s)", stream, kind, cp.modified_since)
    if cp.version is not None:
        logger.info("%s: full harvest, version %d: rows it does not see again will be marked "
                    "deleted when it completes", stream, cp.version)


def _log_progress(harvester: Harvester) -> None:
    """A progress line: records, pages, records/s, and an ETA when the source gave a total."""
    stats, cp = harvester.stats, harvester.checkpoint
    elapsed = max(harvester.clock.monotonic() - harvester.started, 1e-9)
    rate = stats.records / elapsed
    eta = ""
    done = stats.records + sum(stats.quarantined.values()) + stats.duplicates_skipped
    if harvester.total and rate > 0 and not cp.modified_since:
        left = max(harvester.total - done, 0)
        eta = f"; about {left / rate / 60:.0f} min left of about {harvester.total:,} (the " \
              "source's estimate)"
    harvester.logger.info("%s progress: %s records in %d pages, %.0f records/s%s",
                          harvester.stream, f"{stats.records:,}", stats.pages, rate, eta)


def _log_page(harvester: Harvester, page: Page) -> None:
    stats = harvester.stats
    elapsed = max(harvester.clock.monotonic() - harvester.started, 1e-9)
    broken = page.broken or page.end.broken
    harvester.logger.info(
        "%s page %d: %d records, %d quarantined, %d items, cursor %r -> %r%s (%.0f records/s)",
        harvester.stream, stats.pages, page.emitted, page.quarantined, page.items,
        page.info.cursor, page.last_cursor or page.end.next_cursor,
        f"; interrupted: {broken}" if broken else "", stats.records / elapsed,
    )


def _log_summary(harvester: Harvester, bookmark: str | None) -> None:
    s = harvester.stats
    quarantined = ", ".join(f"{k}: {v}" for k, v in s.quarantined.most_common()) or "none"
    retries = ", ".join(f"{k}: {v}" for k, v in s.retries.most_common()) or "none"
    harvester.logger.info(
        "%s summary: %d records in %d pages, %d duplicates skipped; quarantined by reason: "
        "%s; retries: %s; waited %.1f s; bookmark %s; %.1f s",
        harvester.stream, s.records, s.pages, s.duplicates_skipped, quarantined, retries,
        s.waited_seconds, bookmark, harvester.clock.monotonic() - harvester.started,
    )


def _item_key(item: RawItem) -> str:
    """What identifies an item when a resumed page is passed over: its key, else its bytes."""
    return item.key or "sha256:" + hashlib.sha256(item.raw).hexdigest()[:16]


def _server_time(response: requests.Response, now: float) -> str:
    """The server's ``Date`` (its clock decides what "modified since" means), else ours."""
    value = response.headers.get("Date")
    if value:
        try:
            return iso_utc(parsedate_to_datetime(value).timestamp())
        except (TypeError, ValueError, IndexError):
            pass
    return iso_utc(now)
