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


def test_test_rows_recomputed_on_a_full_grid_keep_the_subset_runs_atmospheres():
    """A run trained on a subset grid (narrow_carbon_grid.py) keeps row indices of that subset in split.npz;
    on the full grid the held-out rows must be recomputed by atmosphere, giving the same atmospheres."""
    from types import SimpleNamespace

    import numpy as np
    from evaluate_observed import test_rows

    from glocal.observed.training import split_by_atmosphere
    models_full = np.repeat(np.arange(200), 20)
    keep = np.random.default_rng(2).random(models_full.size) < 0.7          # the subset grid's rows
    models_sub = models_full[keep]
    fractions, seed = (0.8, 0.05, 0.075, 0.075), 0
    run = SimpleNamespace(split=split_by_atmosphere(models_sub, fractions, seed),
                          config={"seed": seed, "observed": {"options": {"fractions": fractions}}})
    full = SimpleNamespace(labels={"model_id": models_full})
    rows = test_rows(run, full, recompute=True)
    assert set(models_full[rows]) == set(models_sub[run.split["test"]])
    assert rows.size == 20 * len(set(models_sub[run.split["test"]]))        # every variant of those atmospheres
    assert np.array_equal(test_rows(run, full), run.split["test"])          # without recompute: the stored rows
