"""scripts/narrow_carbon_grid.py: the narrower [C/Fe] prior keeps every core spectrum, a fraction of the tail,
every atmosphere, and the grid format that glocal.dataset reads."""
from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from narrow_carbon_grid import main, select_rows  # noqa: E402


def _grid(path: Path, n_models=40, variants=20, n_wave=12, seed=1):
    rng = np.random.default_rng(seed)
    n = n_models * variants
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "glocal-dataset"
        f.attrs["format_version"] = 1
        f.create_dataset("wave", data=np.linspace(3000.0, 9000.0, n_wave))
        f.create_dataset("flux", data=rng.random((n, n_wave)).astype("f4"))
        f.create_dataset("continuum", data=rng.random((n, n_wave)).astype("f4"))
        f.create_dataset("done/model_ids", data=np.arange(n_models))
        f.create_dataset("labels/model_id", data=np.repeat(np.arange(n_models), variants))
        f.create_dataset("labels/cfe", data=rng.uniform(-0.5, 1.2, n))
        f.create_dataset("labels/teff", data=rng.uniform(4000, 6500, n))
    return n


def test_select_rows_keeps_the_core_and_a_fraction_of_the_tail():
    cfe = np.random.default_rng(0).uniform(-0.5, 1.2, 200_000)
    rows = select_rows(cfe, 0.5, 0.25, seed=3)
    kept = np.zeros(cfe.size, bool)
    kept[rows] = True
    assert np.all(kept[cfe <= 0.5])
    assert kept[cfe > 0.5].mean() == pytest.approx(0.25, abs=0.01)
    assert np.array_equal(rows, select_rows(cfe, 0.5, 0.25, seed=3))
    with pytest.raises(ValueError, match="tail_fraction"):
        select_rows(cfe, 0.5, 1.5, seed=0)


def test_subset_grid_rows_stay_aligned_and_nothing_half_written(tmp_path):
    src, out = tmp_path / "full.h5", tmp_path / "narrow.h5"
    n = _grid(src)
    assert main(["--grid", str(src), "--out", str(out), "--tail-fraction", "0.3"]) == 0
    assert not list(tmp_path.glob("*.tmp"))
    with h5py.File(src, "r") as a, h5py.File(out, "r") as b:
        cfe = a["labels/cfe"][:]
        rows = select_rows(cfe, 0.5, 0.3, seed=0)
        assert b["flux"].shape[0] == rows.size < n
        for name in ("flux", "continuum", "labels/cfe", "labels/teff", "labels/model_id"):
            assert np.array_equal(b[name][:], a[name][:][rows]), name
        assert np.array_equal(b["wave"][:], a["wave"][:]) and np.array_equal(b["done/model_ids"][:],
                                                                             a["done/model_ids"][:])
        assert set(np.unique(b["labels/model_id"][:])) == set(range(40))
        assert b.attrs["format"] == "glocal-dataset" and b.attrs["subset_rows"] == rows.size


def test_an_atmosphere_that_would_vanish_is_refused(tmp_path):
    src = tmp_path / "full.h5"
    _grid(src, n_models=3, variants=2)
    with h5py.File(src, "r+") as f:
        f["labels/cfe"][...] = 1.0
    with pytest.raises(SystemExit, match="lose every variant"):
        main(["--grid", str(src), "--out", str(tmp_path / "o.h5"), "--tail-fraction", "0.0"])
