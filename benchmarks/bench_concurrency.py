"""``max_concurrency`` against a slow source, and against a source with an announced budget.

A local server answers Cleveland-shaped pages (the real CC0 records of
``tests/fixtures/cleveland/artworks.json``, renumbered) after a fixed latency per page, as a
real museum API does (100 ms to 2 s a page). The tap harvests the same collection as a
subprocess, sequentially and with several requests in flight; figures are wall time and
records per second, in one run.

The budget run announces ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining`` /
``X-RateLimit-Reset`` (a fixed window) and answers 429 past it: the figures are how many 429s
the tap drew and how much of the budget it used.

    .venv/bin/python benchmarks/bench_concurrency.py
    .venv/bin/python benchmarks/bench_concurrency.py --pages 60 --latency 0.1 --budget 30
"""

from __future__ import annotations

import argparse
import http.server
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
REAL = json.loads((ROOT / "tests/fixtures/cleveland/artworks.json").read_text())["data"]
PAGE = 20  # records per page (the tap's page_size; --page-size)


class Source:
    """The collection, the latency, the budget and what the server saw."""

    def __init__(self, pages: int, page_size: int, latency: float, budget: int | None,
                 window: float) -> None:
        self.page_size = page_size
        self.total = pages * page_size
        self.latency = latency
        self.budget = budget
        self.window = window
        self.lock = threading.Lock()
        self.served = 0
        self.refused = 0
        self.first: float | None = None
        self.last = 0.0
        self.per_window: dict[int, int] = {}  # window index -> requests served in it
        self._pages: dict[int, bytes] = {}

    def record(self, n: int) -> bytes:
        record = dict(REAL[n % len(REAL)], id=n, athena_id=n, title=f"Artwork {n}",
                      accession_number=f"BENCH.{n}")
        return json.dumps(record).encode()

    def page(self, skip: int) -> bytes:
        """The page at ``skip``, rendered once (the server's CPU stays out of the figures)."""
        with self.lock:
            rendered = self._pages.get(skip)
        if rendered is None:
            rendered = self._render(skip)
            with self.lock:
                self._pages[skip] = rendered
        return rendered

    def _render(self, skip: int) -> bytes:
        chosen = range(skip, min(skip + self.page_size, self.total))
        info = json.dumps({"total": self.total, "parameters": {"skip": str(skip)}}).encode()
        return (b'{"info": ' + info + b', "data": [' + b",".join(map(self.record, chosen))
                + b"]}")

    def admit(self) -> tuple[bool, dict[str, str]]:
        """Count the request against its window (fixed windows from the first request);
        its rate-limit headers (the reset in whole seconds, as servers send it)."""
        now = time.monotonic()
        with self.lock:
            self.first = now if self.first is None else self.first
            self.last = now
            if self.budget is None:
                self.served += 1
                return True, {}
            index = int((now - self.first) // self.window)
            used = self.per_window.setdefault(index, 0)
            allowed = used < self.budget
            self.per_window[index] = used + allowed
            self.served += allowed
            self.refused += not allowed
            reset = self.first + (index + 1) * self.window - now
            headers = {"X-RateLimit-Limit": str(self.budget),
                       "X-RateLimit-Remaining": str(self.budget - self.per_window[index]),
                       "X-RateLimit-Reset": str(max(1, math.ceil(reset)))}
            if not allowed:
                headers["Retry-After"] = str(max(1, math.ceil(reset)))
            return allowed, headers

    def budget_used(self) -> float:
        """Requests served per budget in the windows before the last (which the harvest's end
        cuts short)."""
        full = [n for index, n in sorted(self.per_window.items())][:-1]
        return sum(full) / (len(full) * self.budget) if full and self.budget else float("nan")


def prerender(source: Source) -> Source:
    for skip in range(0, source.total + 1, source.page_size):
        source.page(skip)
    return source


def serve(source: Source) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()  # no Nagle: headers and body are not held back by delayed ACKs
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:  # noqa: N802
            allowed, headers = source.admit()
            time.sleep(source.latency)  # the source's own time to answer a page
            skip = int(parse_qs(urlsplit(self.path).query).get("skip", ["0"])[0])
            body = source.page(skip) if allowed else b'{"error": "rate limited"}'
            self.send_response(200 if allowed else 429)
            for name, value in {**headers, "Content-Type": "application/json",
                                "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def catalog(config: Path, workdir: Path) -> Path:
    """The tap's catalog with ``objects`` and ``quarantine`` selected (no derived documents:
    the figures are about waiting, not CPU)."""
    out = subprocess.run([sys.executable, "-m", "tap_museumcms", "--config", str(config),
                          "--discover"], check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    for entry in data["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in ("objects", "quarantine")
    path = workdir / "catalog.json"
    path.write_text(json.dumps(data))
    return path


def harvest(source: Source, concurrency: int, workdir: Path) -> dict[str, float]:
    """One full harvest by the tap (objects only): its wall time (process start to exit) and
    what the server saw, ``span`` being the first request to the last (the harvest alone)."""
    httpd = serve(source)
    config = {"source": "cleveland", "api_url": f"http://127.0.0.1:{httpd.server_port}/api",
              "page_size": source.page_size, "max_concurrency": concurrency, "run_summary": False,
              "max_requests_per_second": 1000, "max_retries": 8}
    path = workdir / f"config-{concurrency}.json"
    path.write_text(json.dumps(config))
    selected = catalog(path, workdir)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tap_museumcms", "--config", str(path),
                           "--catalog", str(selected)], capture_output=True,
                          check=True)
    wall = time.perf_counter() - started
    httpd.shutdown()
    records = sum(1 for line in done.stdout.splitlines()
                  if line.startswith(b'{"type":"RECORD","stream":"objects"'))
    if records != source.total:
        raise SystemExit(f"expected {source.total} objects, got {records}")
    span = (source.last - source.first) if source.first is not None else 0.0
    return {"wall": wall, "records": records, "served": source.served,
            "refused": source.refused, "span": span}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=150)
    parser.add_argument("--page-size", type=int, default=PAGE,
                        help="records per page (real Cleveland records, about 4 KB each)")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--budget", type=int, default=40, help="requests per window")
    parser.add_argument("--window", type=float, default=5.0, help="budget window, seconds")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; {args.pages} pages of "
          f"{args.page_size} "
          f"records, {args.latency * 1000:.0f} ms a page")
    print("| run | tap wall s | harvest s | records/s | requests | 429s | vs sequential |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        base = None
        for concurrency in (1, args.concurrency):
            got = harvest(prerender(Source(args.pages, args.page_size, args.latency, None,
                                           args.window)), concurrency, workdir)
            rate = got["records"] / got["span"]
            base = base or rate
            print(f"| max_concurrency {concurrency} | {got['wall']:.2f} | {got['span']:.2f} | "
                  f"{rate:,.0f} | {got['served']:.0f} | 0 | {rate / base:.2f}x |")
        budget = prerender(Source(args.pages, args.page_size, args.latency, args.budget,
                                  args.window))
        got = harvest(budget, args.concurrency, workdir)
        used = budget.budget_used()
        print(f"| max_concurrency {args.concurrency}, budget {args.budget} per "
              f"{args.window:g} s | {got['wall']:.2f} | {got['span']:.2f} | "
              f"{got['records'] / got['span']:,.0f} | {got['served'] + got['refused']:.0f} | "
              f"{got['refused']:.0f} | budget used {used:.0%} |")


if __name__ == "__main__":
    main()
