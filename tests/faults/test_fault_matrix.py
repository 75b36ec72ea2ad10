"""Every row of the fault matrix: exactly the server's ground truth, nothing lost, nothing twice.

Each row runs the tap (its command-line path, in-process, on a fake clock) against the
reference server with one fault, run after run from the last STATE where the fault stops it,
and checks: the committed records are exactly the valid ones, the quarantine exactly the bad
ones (by key and, for inserted lines, by raw bytes), no record is lost or committed twice,
and each run exits as expected with the expected failure line.
"""

from __future__ import annotations

import pytest
from fault_rows import ROWS
from fault_runs import play


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_row_is_exact(row):
    outcome = play(row)
    assert outcome.problems == []
    assert outcome.lost == 0 and outcome.duplicates == 0
    assert outcome.expected == outcome.emitted
    assert outcome.quarantined == outcome.expected_quarantined
