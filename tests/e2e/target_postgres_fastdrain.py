#!/usr/bin/env python3
"""MeltanoLabs target-postgres with a shorter full-drain interval: for the end-to-end tests only.

A singer-sdk target prints the tap's latest STATE only when it drains *all* its sinks: at the end
of the input, on SIGTERM/SIGINT, and when the oldest buffered record is older than
``Target._MAX_RECORD_AGE_IN_MINUTES`` (5 minutes; no setting changes it, and ``batch_size_rows``
only drains one sink, which prints no STATE). Meltano saves what the target prints, so a pipeline
killed in its first five minutes has nothing to resume from. The crash tests need checkpoints
within seconds, so this wrapper lowers that class attribute from ``MUSEUMCMS_E2E_DRAIN_MINUTES``
(default 5, i.e. the stock behaviour) and then runs the stock target unchanged.

Meltano runs it as the executable of the test-only loader ``target-postgres-fastdrain``
(``inherit_from: target-postgres``); ``#!/usr/bin/env python3`` finds the target's virtualenv
because Meltano puts that virtualenv's ``bin`` first on ``PATH``.
"""

from __future__ import annotations

import os


def main() -> None:
    """Patch the drain interval, then hand over to the stock command line."""
    from target_postgres.target import TargetPostgres

    minutes = float(os.environ.get("MUSEUMCMS_E2E_DRAIN_MINUTES", "5"))
    TargetPostgres._MAX_RECORD_AGE_IN_MINUTES = minutes
    TargetPostgres.cli()


if __name__ == "__main__":
    main()
