"""The tap against a bare loop, side by side, on a server that only sends pre-rendered pages.

The server holds the JSONL pages of a generated collection already rendered (the reference
server's records, with their cursors), so the figures are the client's. Three clients harvest
the same objects, interleaved over several rounds; each is a process of its own, measured by
``wait4``: client CPU (user + system) per record, records per second (wall), peak RSS.

* ``bare``: ``requests`` + ``iter_lines`` + ``orjson`` (or msgspec) + one Singer RECORD line per
  record: the floor any Python tap stands on;
* ``tap``: ``python -m tap_museumcms`` with ``objects`` and ``quarantine`` selected
  (validation, quarantine, provenance, dedupe, a STATE per page);
* ``tap+derived``: the same with ``lido_records`` and ``iiif_manifests`` selected.

    .venv/bin/python benchmarks/bench_harvest.py                  # 200,000 objects, 3 rounds
    .venv/bin/python benchmarks/bench_harvest.py --objects 50000 --rounds 1
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tap_museumcms.refserver.collection import GeneratedCollection  # noqa: E402
from tap_museumcms.refserver.jsonl_face import decode_cursor, encode_cursor  # noqa: E402

BARE = r'''
import sys, requests
try:
    import orjson
    loads, dumps = orjson.loads, orjson.dumps
except ImportError:
    import msgspec
    loads, dumps = msgspec.json.decode, msgspec.json.encode
url, out = sys.argv[1], open("/dev/null", "wb")
session, cursor, count = requests.Session(), None, 0
while True:
    params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
    lines = 0
    with session.get(url + "/objects", params=params, stream=True) as response:
        for line in response.iter_lines(65536):
            if not line:
                continue
            try:
                record = loads(line)
            except ValueError:
                continue  # a broken line: the bare loop just skips it
            cursor = record.pop("next_cursor", cursor)
            out.write(b'{"type":"RECORD","stream":"objects","record":' + dumps(record) + b"}\n")
            lines += 1
    count += lines
    if not lines:
        break
print(count)
'''


def render(objects: int) -> list[bytes]:
    """Every line of the collection, rendered once, with the cursor that resumes after it."""
    collection = GeneratedCollection(objects, invalid_every=50)
    lines = []
    for position in range(objects):
        raw = collection.record_at("objects", position).rstrip()
        if raw.startswith(b"{") and raw.endswith(b"}"):
            raw = raw[:-1] + b',"next_cursor":"' + encode_cursor(position + 1).encode() + b'"}'
        lines.append(raw + b"\n")
    return lines


def serve(lines: list[bytes]) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            start = decode_cursor(query.get("cursor", [""])[0])
            limit = int(query.get("limit", ["1000"])[0])
            body = b"".join(lines[start:start + limit]) if parts.path == "/objects" else b""
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_port}"


def catalog(config: Path, streams: set[str], workdir: Path) -> Path:
    out = subprocess.run([sys.executable, "-m", "tap_museumcms", "--config", str(config),
                          "--discover"], check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    for entry in data["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    path = workdir / f"catalog-{len(streams)}.json"
    path.write_text(json.dumps(data))
    return path


def measure(cmd: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return {"wall": time.perf_counter() - started, "cpu": usage.ru_utime + usage.ru_stime,
            "rss": usage.ru_maxrss / 1024}


def start_server(objects: int) -> tuple[subprocess.Popen[str], str]:
    """The pre-rendered server in a process of its own (the clients' RSS stays theirs)."""
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(objects)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        httpd, url = serve(render(args.serve))
        print(url, flush=True)
        threading.Event().wait()
    server, url = start_server(args.objects)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        config = workdir / "config.json"
        config.write_text(json.dumps({"api_url": url, "page_size": 1000, "run_summary": False}))
        bare = workdir / "bare.py"
        bare.write_text(BARE)
        tap = [sys.executable, "-m", "tap_museumcms", "--config", str(config), "--catalog"]
        clients = {
            "bare": [sys.executable, str(bare), url],
            "tap": [*tap, str(catalog(config, {"objects", "quarantine"}, workdir))],
            "tap+derived": [*tap, str(catalog(config, {"objects", "quarantine", "lido_records",
                                                       "iiif_manifests"}, workdir))],
        }
        results: dict[str, list[dict[str, float]]] = {name: [] for name in clients}
        for _ in range(args.rounds):
            for name, cmd in clients.items():
                results[name].append(measure(cmd))
    server.terminate()
    n = args.objects
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; {n} objects of about 1 KB, "
          f"page 1,000, pre-rendered server; median of {args.rounds} interleaved rounds")
    print("| harvester | client CPU µs/record | records/s | peak RSS MB | vs bare loop |")
    print("| --- | --- | --- | --- | --- |")
    base = statistics.median(r["cpu"] for r in results["bare"])
    for name, rows in results.items():
        cpu = statistics.median(r["cpu"] for r in rows)
        wall = statistics.median(r["wall"] for r in rows)
        rss = max(r["rss"] for r in rows)
        print(f"| {name} | {cpu / n * 1e6:.1f} | {n / wall:,.0f} | {rss:.0f} | "
              f"{base / cpu:.2f} |")


if __name__ == "__main__":
    main()
