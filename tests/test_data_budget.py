"""The committed runtime data stay within the project's budget of 12 MB (developers' guide)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 12_000_000  # bytes


def test_committed_runtime_data_within_budget():
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "glocal/data"], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the budget is checked on the committed files")
    files = [ROOT / f for f in out.split("\0") if f]
    total = sum(f.stat().st_size for f in files if f.is_file())
    assert files, "no committed runtime data found"
    assert total <= BUDGET, f"glocal/data holds {total / 1e6:.2f} MB in {len(files)} committed files (> 12 MB)"
