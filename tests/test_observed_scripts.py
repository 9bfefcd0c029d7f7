"""scripts/export_observed.py keeps the sections of the runs it does not export (``--kinds``)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from export_observed import KINDS, _sections  # noqa: E402


def test_sections_of_the_shipped_record_split_by_kind_and_rebuild_it(tmp_path):
    shipped = (ROOT / "glocal" / "data" / "pretrained" / "observed-runs.md").read_text().splitlines()
    parts = _sections(ROOT / "glocal" / "data" / "pretrained" / "observed-runs.md")
    assert set(parts) == set(KINDS)
    for kind, lines in parts.items():
        assert lines[0] == f"## `observed-{kind}`" and any("weights sha256" in line for line in lines)
        assert not any(line.startswith("## ") for line in lines[1:])
    start = shipped.index(f"## `observed-{KINDS[0]}`")
    assert shipped[start:] == [line for kind in KINDS for line in parts[kind]]
    assert _sections(tmp_path / "missing.md") == {}
