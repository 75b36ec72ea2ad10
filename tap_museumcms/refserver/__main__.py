"""Run the reference server from a shell or a test in another process.

    python -m tap_museumcms.refserver --port 0 --collection generated:100000 --invalid-every 50
    READY http://127.0.0.1:41234

The OAI-PMH face (``/oai``) is always on; ``--oai-granularity seconds|day``,
``--oai-deleted-record persistent|transient|no``, ``--oai-page-size N`` and ``--oai-token-ttl S``
set its :class:`~tap_museumcms.refserver.oai.OaiSettings`.

Prints exactly one ``READY <url>`` line on stdout, serves until SIGTERM or SIGINT, exits 0. The
token may come from ``MUSEUMCMS_REF_TOKEN`` instead of ``--token`` (keeps it out of process lists);
more accepted keys from ``MUSEUMCMS_REF_KEYS`` (comma-separated). ``--oauth-client-id`` (with the
secret in ``MUSEUMCMS_REF_OAUTH_SECRET``) and ``--oauth-token-ttl`` open the OAuth2 token endpoint
``POST /oauth/token``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

from tap_museumcms.refserver.collection import Collection, GeneratedCollection, SampleCollection
from tap_museumcms.refserver.oai import DELETED_RECORD, GRANULARITIES, OaiSettings
from tap_museumcms.refserver.server import MAX_LIMIT, Faults, OAuthClient, ReferenceServer


def make_collection(spec: str, *, seed: int = 0, invalid_every: int = 0) -> Collection:
    """``"sample"`` or ``"generated:N"`` → a collection.

    Raises:
        ValueError: on any other spec.
    """
    if spec == "sample":
        return SampleCollection()
    name, _, size = spec.partition(":")
    if name == "generated" and size.isdigit():
        return GeneratedCollection(int(size), seed=seed, invalid_every=invalid_every)
    raise ValueError(f"--collection must be 'sample' or 'generated:N', not {spec!r}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tap_museumcms.refserver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--collection", default="sample", help="sample | generated:N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--invalid-every", type=int, default=0)
    parser.add_argument("--token", default=None, help="or set MUSEUMCMS_REF_TOKEN")
    parser.add_argument("--faults", default=None, help='JSON, e.g. {"status_429_every": 5}')
    parser.add_argument("--max-limit", type=int, default=MAX_LIMIT)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--oai-granularity", choices=sorted(GRANULARITIES), default="seconds")
    parser.add_argument("--oai-deleted-record", choices=DELETED_RECORD, default="persistent")
    parser.add_argument("--oai-page-size", type=int, default=100)
    parser.add_argument("--oai-token-ttl", type=float, default=None, help="seconds; default: none")
    parser.add_argument("--oauth-client-id", default=None,
                        help="open POST /oauth/token; secret in MUSEUMCMS_REF_OAUTH_SECRET")
    parser.add_argument("--oauth-token-ttl", type=float, default=3600.0)
    return parser


def _oauth(args: argparse.Namespace) -> OAuthClient | None:
    if not args.oauth_client_id:
        return None
    secret = os.environ.get("MUSEUMCMS_REF_OAUTH_SECRET", "")
    return OAuthClient(args.oauth_client_id, secret, token_ttl=args.oauth_token_ttl)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        collection = make_collection(
            args.collection, seed=args.seed, invalid_every=args.invalid_every
        )
        faults = Faults.from_dict(json.loads(args.faults)) if args.faults else None
        oai = OaiSettings(
            granularity=args.oai_granularity,
            deleted_record=args.oai_deleted_record,
            page_size=args.oai_page_size,
            token_ttl=args.oai_token_ttl,
        )
    except ValueError as exc:
        parser.error(str(exc))
    token = args.token or os.environ.get("MUSEUMCMS_REF_TOKEN") or None
    oauth = _oauth(args)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server = ReferenceServer(
        collection,
        faults=faults,
        token=token,
        keys=[k for k in os.environ.get("MUSEUMCMS_REF_KEYS", "").split(",") if k],
        oauth=oauth,
        host=args.host,
        port=args.port,
        max_limit=args.max_limit,
        verbose=args.verbose,
        oai=oai,
    )
    with server:
        sys.stdout.write(f"READY {server.url}\n")
        sys.stdout.flush()
        while not stop.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
