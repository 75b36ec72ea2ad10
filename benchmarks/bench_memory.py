"""Peak RSS and throughput of a full sync as the collection grows.

Runs the reference server (a generated collection, never held in memory) and the tap as
separate processes, the tap's output going to /dev/null, and reports the tap's peak RSS
(``wait4`` rusage of that one process) and records per second for each size.

    .venv/bin/python benchmarks/bench_memory.py                 # 10k, 100k, 1M objects
    .venv/bin/python benchmarks/bench_memory.py --sizes 10000 100000 --streams objects media
    .venv/bin/python benchmarks/bench_memory.py --source oai-pmh --sizes 1000 100000 1000000
    .venv/bin/python benchmarks/bench_memory.py --source oai-pmh --sizes 100 \
        --page-size 100 --huge-description-bytes 2000000        # one 200 MB page

Constant memory means the peak RSS column stays flat while the record count grows 100x.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def start_server(size: int, server_args: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tap_museumcms.refserver", "--port", "0",
         "--collection", f"generated:{size}", *server_args],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"reference server did not start: {line!r}")
    return proc, line.split(" ", 1)[1]


def catalog_for(config_path: Path, streams: set[str], workdir: Path) -> Path:
    out = subprocess.run(
        [sys.executable, "-m", "tap_museumcms", "--config", str(config_path), "--discover"],
        check=True, capture_output=True, text=True,
    ).stdout
    catalog = json.loads(out)
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    path = workdir / "catalog.json"
    path.write_text(json.dumps(catalog))
    return path


def run_once(
    size: int, streams: set[str], page_size: int, extra: dict, server_args: list[str]
) -> dict[str, float]:
    server, url = start_server(size, server_args)
    if extra.get("source") == "oai-pmh":
        url += "/oai"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            config = workdir / "config.json"
            config.write_text(json.dumps({"api_url": url, "page_size": page_size, **extra}))
            catalog = catalog_for(config, streams, workdir)
            started = time.perf_counter()
            with open(os.devnull, "wb") as sink, open(workdir / "tap.log", "wb") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "tap_museumcms", "--config", str(config),
                     "--catalog", str(catalog)],
                    stdout=sink, stderr=log,
                )
                _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - started
            if status != 0:
                tail = (workdir / "tap.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"tap failed for size {size}:\n{tail}")
            records = 0
            for line in (workdir / "tap.log").read_text(errors="replace").splitlines():
                if " summary: " in line:
                    records += int(line.split(" summary: ", 1)[1].split(" ", 1)[0])
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {"size": size, "records": records, "seconds": elapsed,
            "peak_rss_mb": usage.ru_maxrss / 1024, "records_per_s": records / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--streams", nargs="+", default=["objects"])
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--config", default="{}", help="extra tap settings as JSON")
    parser.add_argument("--source", default="jsonl", choices=["jsonl", "oai-pmh"])
    parser.add_argument("--huge-description-bytes", type=int, default=0,
                        help="OAI-PMH: pad every record's description to this many bytes")
    args = parser.parse_args()
    extra = {**json.loads(args.config), "source": args.source}
    server_args = ["--oai-page-size", str(args.page_size)]
    if args.huge_description_bytes:
        faults = {"oai_huge_description_bytes": args.huge_description_bytes}
        server_args += ["--faults", json.dumps(faults)]
    rows = [run_once(size, set(args.streams), args.page_size, extra, server_args)
            for size in args.sizes]
    print(f"source {args.source}; streams: {', '.join(args.streams)}; page size "
          f"{args.page_size}; settings {extra}; server {' '.join(server_args)}")
    print(f"{'objects':>10} {'records':>10} {'seconds':>9} {'records/s':>10} {'peak RSS MB':>12}")
    for row in rows:
        print(f"{row['size']:>10} {row['records']:>10} {row['seconds']:>9.1f} "
              f"{row['records_per_s']:>10.0f} {row['peak_rss_mb']:>12.1f}")
    base = rows[0]["peak_rss_mb"]
    print("peak RSS ratio to the smallest run: "
          + ", ".join(f"{r['peak_rss_mb'] / base:.2f}" for r in rows))


if __name__ == "__main__":
    main()
