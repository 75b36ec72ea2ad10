"""The README stays true: its settings table is what ``--about`` prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_settings_table_matches_about_output():
    about = subprocess.run(
        [sys.executable, "-m", "tap_museumcms", "--about", "--format=markdown"],
        capture_output=True, text=True, check=True,
    ).stdout
    start = about.index("## Settings")
    rows = [line for line in about[start:].splitlines() if line.startswith("| ")]
    assert len(rows) > 20
    readme = README.read_text(encoding="utf-8")
    missing = [row for row in rows if row not in readme]
    assert missing == [], "README settings table is stale; regenerate it with --about"
