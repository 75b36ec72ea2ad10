"""The rows of the fault matrix: one fault (or a few together) on the JSONL and OAI-PMH faces.

Every row is played in-process on a fake clock (:func:`fault_runs.play`); ``tests/faults`` plays
them all, ``benchmarks/fault_matrix.py`` plays them larger and adds the rows that need real
processes and real time (SIGTERM, SIGKILL, a read timeout, a 100 MB line).
"""

from __future__ import annotations

from fault_runs import KILLED, Row

from tap_museumcms.refserver import Faults, OAuthClient, ReferenceServer

BOTH = ("jsonl", "oai")
#: The quiet window of the quiet-hours rows: the fake clock starts at 2027-01-15T08:00:00Z and
#: the runs are paced to one request every 10 s, so it begins mid-run.
QUIET = "08:01-08:30 UTC"
OAUTH = OAuthClient("harvester", "client-s3cret-Q7", token_ttl=600)
OAUTH_SETTINGS = {"oauth_token_url": "{url}/oauth/token", "oauth_client_id": "harvester",
                  "oauth_client_secret": "client-s3cret-Q7"}
KEYS = ("key-A-7f3kW", "key-B-9m2qZ")
TOKEN = "tok-redirect-51xV"


def big_record(server: ReferenceServer) -> None:
    """One object of 300 KB: its page is over a 200 KB ``max_page_bytes``."""
    server.collection.update("objects", "obj-0000045", description="x" * 300_000)


def _both(name: str, **kwargs: object) -> list[Row]:
    return [Row(name, face, **kwargs) for face in BOTH]  # type: ignore[arg-type]


def _rows() -> list[Row]:
    rows: list[Row] = []
    rows += _both("429 storm, Retry-After seconds",
                  faults=Faults(status_429_every=3, retry_after=7, retry_after_form="seconds"))
    rows += _both("429 storm, Retry-After HTTP-date",
                  faults=Faults(status_429_every=3, retry_after=7, retry_after_form="date"))
    rows += _both("429 storm, Retry-After 0",
                  faults=Faults(status_429_every=3, retry_after=0))
    rows += _both("429 storm, Retry-After huge (clamped)",
                  faults=Faults(status_429_every=3, retry_after=86_400),
                  settings={"max_retry_after_seconds": 30})
    rows += _both("503 bursts", faults=Faults(status_503_every=8, status_burst=3, retry_after=2))
    rows += _both("500, 502, 504", faults=Faults(status_500_every=5, status_502_every=7,
                                                 status_504_every=11))
    rows += _both("connection refused, then back",
                  faults=Faults(refuse_from_request=6, refuse_for_requests=3))
    rows += _both("reset mid-body", faults=Faults(reset_mid_body_every=4))
    rows += _both("truncated last line", faults=Faults(truncate_body_every=3))
    rows.append(Row("malformed JSON", "jsonl", Faults(malformed_line_every=13)))
    rows.append(Row("malformed XML", "oai", Faults(malformed_line_every=13)))
    rows.append(Row("schema drift on every field", "jsonl", Faults(schema_drift_every=11)))
    rows.append(Row("duplicate and overlapping pages", "jsonl",
                    Faults(overlap_every=3, overlap_records=25)))
    rows += _both("gzip bodies", faults=Faults(gzip_bodies=True, reset_mid_body_every=5))
    rows.append(Row("gzip bomb", "jsonl", Faults(gzip_bomb_every=6), exits=(1, 1, 0),
                    message="decompression bomb"))
    rows.append(Row("gzip bomb", "oai", Faults(gzip_bomb_every=5), exits=(1, 1, 0),
                    message="decompression bomb"))
    rows.append(Row("a page over max_page_bytes (raised for the next run)", "jsonl",
                    settings={"max_page_bytes": 200_000}, later={"max_page_bytes": 1_000_000},
                    prepare=big_record, exits=(1, 0), message="larger than max_page_bytes"))
    rows.append(Row("a page over max_page_bytes (raised for the next run)", "oai",
                    Faults(oai_huge_description_bytes=20_000), settings={"max_page_bytes": 200_000},
                    later={"max_page_bytes": 10_000_000}, exits=(1, 0),
                    message="larger than max_page_bytes"))
    rows += _both("stuck cursor", faults=Faults(stuck_cursor_at_page=3), exits=(1, 0),
                  message="cursor stuck")
    rows += _both("cursor / token loop", faults=Faults(cursor_loop_at_page=4), exits=(1, 0),
                  message="cursor loop")
    rows.append(Row("expired token (a quiet window outlives it)", "oai", token_ttl=600,
                    settings={"quiet_hours": [QUIET], "max_requests_per_second": 0.1}))
    rows += _both("401 mid-run with OAuth2 (refresh once)",
                  faults=Faults(oauth_revoke_at_request=6), server={"oauth": OAUTH},
                  settings=OAUTH_SETTINGS)
    rows += _both("a key rejected (rotate)",
                  faults=Faults(reject_key=KEYS[0], reject_key_from_request=5),
                  server={"keys": KEYS}, settings={"api_key": list(KEYS)})
    rows += _both("redirect to another host", faults=Faults(redirect_other_host_every=4),
                  server={"token": TOKEN}, settings={"api_key": TOKEN})
    rows += _both("host down longer than the breaker allows",
                  faults=Faults(refuse_from_request=6, refuse_for_requests=10**6), heal=True,
                  exits=(1, 0), message="is down")
    rows += _both("quiet window mid-run (wait)",
                  settings={"quiet_hours": [QUIET], "max_requests_per_second": 0.1})
    rows += _both("quiet window mid-run (exit)",
                  settings={"quiet_hours": [QUIET], "quiet_hours_action": "exit",
                            "max_requests_per_second": 0.1},
                  exits=(0, 0), message="quiet hours", pause=1800)
    rows += _both("killed mid-page (in-process SIGKILL)", kills=(40, 90),
                  exits=(KILLED, KILLED, 0))
    rows += _both("429 + reset + malformed", faults=Faults(
        status_429_every=5, retry_after=3, reset_mid_body_every=7, malformed_line_every=17))
    rows.append(Row("token expiry + 503 + kill", "oai",
                    Faults(status_503_every=6, retry_after=2), token_ttl=600, kills=(45,),
                    exits=(KILLED, 0), pause=3600))
    rows.append(Row("all statuses + gzip + drift + overlap", "jsonl", Faults(
        status_429_every=7, status_503_every=11, status_500_every=13, gzip_bodies=True,
        schema_drift_every=9, overlap_every=4, refuse_from_request=20, refuse_for_requests=2),
        settings={"max_retries": 8}))
    return rows


ROWS: list[Row] = _rows()
