"""Peak memory of the tap on one huge JSON page of a public museum API.

A local server answers one Cleveland-shaped page (the real CC0 records of
``tests/fixtures/cleveland/artworks.json``, renumbered, each given a long ``wall_description``)
whose body is about ``--megabytes`` MB, then the empty page that ends the list. The page is
written in 64 KiB pieces as it is generated, so the server never holds it either. The tap
harvests it as a subprocess with ``objects`` and ``quarantine`` selected; the figure is its
peak RSS (``wait4``), beside a small page for comparison.

    .venv/bin/python benchmarks/bench_json_page.py                 # a 200 MB page
    .venv/bin/python benchmarks/bench_json_page.py --megabytes 50
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
REAL = json.loads((ROOT / "tests/fixtures/cleveland/artworks.json").read_text())["data"]
RECORDS = 1000  # the API's largest page


def record(n: int, text_bytes: int) -> bytes:
    words = ("harbour dawn oil canvas gift estate portrait river étude " * (text_bytes // 50))
    return json.dumps(dict(REAL[n % len(REAL)], id=n, athena_id=n, title=f"Artwork {n}",
                           accession_number=f"BENCH.{n}", wall_description=words[:text_bytes]),
                      ensure_ascii=False).encode()


def serve(text_bytes: int) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            skip = int(parse_qs(urlsplit(self.path).query).get("skip", ["0"])[0])
            count = RECORDS if skip == 0 else 0
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            info = {"total": RECORDS, "parameters": {"skip": str(skip)}}
            pieces = [b'{"info": ' + json.dumps(info).encode() + b', "data": [']
            for n in range(count):
                pieces.append((b"," if n else b"") + record(n, text_bytes))
                if sum(map(len, pieces)) >= 65536:
                    self._chunk(b"".join(pieces))
                    pieces = []
            self._chunk(b"".join(pieces) + b"]}")
            self.wfile.write(b"0\r\n\r\n")

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def harvest(text_bytes: int, workdir: Path) -> dict[str, float]:
    httpd = serve(text_bytes)
    config = workdir / f"config-{text_bytes}.json"
    config.write_text(json.dumps({
        "source": "cleveland", "api_url": f"http://127.0.0.1:{httpd.server_port}/api",
        "page_size": RECORDS, "max_requests_per_second": 1000, "run_summary": False,
        "max_line_bytes": 4 * text_bytes + 1_000_000}))
    catalog = json.loads(subprocess.run(
        [sys.executable, "-m", "tap_museumcms", "--config", str(config), "--discover"],
        check=True, capture_output=True, text=True).stdout)
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in ("objects", "quarantine")
    selected = workdir / "catalog.json"
    selected.write_text(json.dumps(catalog))
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "tap_museumcms", "--config", str(config),
                                 "--catalog", str(selected)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        records = 0
        for line in proc.stdout:
            records += line.startswith(b'{"type":"RECORD","stream":"objects"')
            sink.write(line)
        _, status, usage = os.wait4(proc.pid, 0)
    httpd.shutdown()
    if status != 0 or records != RECORDS:
        raise SystemExit(f"the harvest failed: exit status {status}, {records} objects")
    return {"seconds": time.perf_counter() - started, "rss": usage.ru_maxrss / 1024,
            "page_mb": RECORDS * len(record(1, text_bytes)) / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=200)
    args = parser.parse_args()
    text_bytes = max(1, int(args.megabytes * 1e6 / RECORDS) - len(record(1, 1)))
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; one Cleveland page of "
          f"{RECORDS} records")
    print("| page | record size | peak RSS MB | seconds |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (1, text_bytes):
            got = harvest(size, Path(tmp))
            print(f"| {got['page_mb']:.1f} MB | {got['page_mb'] * 1000 / RECORDS:.1f} KB | "
                  f"{got['rss']:.1f} | {got['seconds']:.1f} |")


if __name__ == "__main__":
    main()
