"""The fault matrix: tests/ on the import path (``harness``, ``fakeclock``), as for the tests
one folder up, and this folder's helpers (``fault_runs``, ``fault_rows``)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
