"""The command line as a user runs it: exit codes, one clear error line, no secret anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tap_museumcms.refserver.collection import GeneratedCollection
from tap_museumcms.refserver.server import Faults, ReferenceServer

TOKEN = "tok-cli-7Hq2-secret"


def run_cli(tmp_path, config: dict, *extra: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    env = {**os.environ, "TAP_MUSEUMCMS_LOGLEVEL": "DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "tap_museumcms", "--config", str(path), *extra],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )


def test_debug_run_with_token_leaks_no_secret_and_exits_zero(tmp_path):
    with ReferenceServer(GeneratedCollection(60, invalid_every=7), token=TOKEN,
                         faults=Faults(status_503_every=4, retry_after=0)) as server:
        done = run_cli(tmp_path, {"api_url": server.url, "api_key": TOKEN, "page_size": 20})
        refused = run_cli(tmp_path, {"api_url": server.url, "api_key": TOKEN + "-wrong"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "DEBUG" in done.stderr  # the level really was DEBUG
    assert '"type":"RECORD"' in done.stdout.replace(" ", "")
    assert refused.returncode == 1
    for output in (done.stdout, done.stderr, refused.stdout, refused.stderr):
        assert TOKEN not in output
    errors = [line for line in refused.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, errors
    assert "HTTP 401" in errors[0] and "api_key" in errors[0]
    assert "Traceback" not in refused.stderr


def test_missing_required_setting_is_named(tmp_path):
    result = run_cli(tmp_path, {"page_size": 10})
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, errors
    assert "invalid settings" in errors[0] and "'api_url' is a required property" in errors[0]
    assert result.stdout == ""


def test_stuck_cursor_exits_non_zero_after_all_streams(tmp_path):
    with ReferenceServer(GeneratedCollection(100), faults=Faults(stuck_cursor_at_page=2)) as server:
        result = run_cli(tmp_path, {"api_url": server.url, "page_size": 30})
    assert result.returncode == 1
    assert "cursor stuck" in result.stderr
    streams = {json.loads(line)["stream"] for line in result.stdout.splitlines()
               if '"RECORD"' in line}
    assert {"objects", "rights", "media"} <= streams
