"""glocal.emulator, glocal.fitting and the ``glocal fit`` command (glocal.fit_cli)."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import pytest

from glocal.emulator import DEFAULT_DIR, LABELS, load_emulator
from glocal.fitting import PARAMS, fit_spectrum

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real_spectra"
GRID = Path(os.environ.get("GLOCAL_REALSTARS_GRID", "/root/glocal-grids/realstars-r40000.h5"))
TRUTH = np.array([5600.0, 3.6, -2.3, 0.6, 0.35])


@pytest.fixture(scope="module")
def emu():
    return load_emulator()


def _noisy(emu, truth, snr, seed, kind="normalized", tilt=0.0, ebv=0.0):
    rng = np.random.default_rng(seed)
    lnf, lnc = emu.predict(truth)
    x = np.log(emu.wave / 5000.0)
    if kind == "normalized":
        f = np.exp(lnf) * (1.0 + tilt * x)
    else:
        from glocal.fitting import _extinction
        f = 1e-13 * np.exp(lnf + lnc + tilt * x + ebv * _extinction(emu.wave))
    sig = f / snr
    return f + rng.normal(size=f.size) * sig, sig


def test_shipped_emulator_files_and_provenance(emu):
    weights = DEFAULT_DIR / "emulator.safetensors"
    assert weights.stat().st_size <= 600_000
    meta = json.loads((DEFAULT_DIR / "emulator.json").read_text())
    assert len(meta["grid"]["sha256"]) == 64 and meta["grid"]["n_spectra"] > 0
    assert set(meta["split"]["test_model_ids"]).isdisjoint(meta["split"]["val_model_ids"])
    assert (DEFAULT_DIR / "README.md").exists()
    assert emu.wave.size == 274 and emu.wave[0] == pytest.approx(2550.0)
    for band in ("uv", "optical"):
        assert meta["errors_test"][band]["rms_norm_flux"] < 0.05


def test_emulator_is_physical_and_batches(emu):
    rng = np.random.default_rng(0)
    labels = emu.lo + rng.uniform(size=(50, 5)) * (emu.hi - emu.lo)
    lnf, lnc = emu.predict(labels)
    assert lnf.shape == lnc.shape == (50, 274)
    f = np.exp(lnf)
    assert np.all(f > 0) and np.all(f < 1.1)
    np.testing.assert_allclose(emu.predict(labels[7])[0], lnf[7], rtol=0, atol=1e-12)
    # a metal-richer, Mg-richer spectrum has deeper lines on average
    lo, hi = TRUTH.copy(), TRUTH.copy()
    hi[2] += 1.0
    assert emu.normalized(hi).mean() < emu.normalized(lo).mean()


@pytest.mark.skipif(not GRID.exists(), reason=f"realstars grid {GRID} absent (set GLOCAL_REALSTARS_GRID)")
def test_emulator_matches_held_out_grid_spectra(emu):
    from glocal.dataset import load_dataset
    ds = load_dataset(GRID)
    test = np.flatnonzero(np.isin(np.asarray(ds.labels["model_id"]), emu.meta["split"]["test_model_ids"]))[:200]
    X = np.column_stack([np.asarray(ds.labels[k])[test] for k in LABELS])
    err = emu.normalized(X) - np.asarray(ds.flux[test], dtype=np.float64)
    assert np.sqrt(np.mean(err[:, ds.wave >= 4000] ** 2)) < 0.03


def test_recovers_labels_of_a_normalized_spectrum(emu):
    flux, sig = _noisy(emu, TRUTH, snr=100, seed=1, tilt=0.05)
    res = fit_spectrum((emu.wave, flux, sig, None, "normalized"), emulator=emu, model_error=False, telluric=False)
    got = np.array([res.labels[k] for k in LABELS])
    assert abs(got[0] - TRUTH[0]) < 150 and np.all(np.abs(got[1:] - TRUTH[1:]) < [0.4, 0.15, 0.2, 0.15])
    assert 0.6 < res.chi2_red < 1.5 and res.n_pixels == 274 and set(res.labels) == set(PARAMS)
    assert all(np.isfinite(res.std[k]) and res.std[k] > 0 for k in LABELS)


def test_calibrated_with_reddening_and_held_labels(emu):
    flux, sig = _noisy(emu, TRUTH, snr=100, seed=2, kind="calibrated", tilt=0.3, ebv=0.15)
    res = fit_spectrum((emu.wave, flux, sig, None, "calibrated"), emulator=emu, model_error=False, fit_ebv=True,
                       degree=1, fixed={"logg": TRUTH[1]})
    assert res.labels["logg"] == TRUTH[1] and np.isnan(res.std["logg"]) and "logg" not in res.free
    assert abs(res.labels["ebv"] - 0.15) < 0.05 and abs(res.labels["teff"] - TRUTH[0]) < 150
    assert abs(res.labels["mgfe"] - TRUTH[4]) < 0.15
    with pytest.raises(ValueError, match="E\\(B"):
        fit_spectrum((emu.wave, flux, sig, None, "normalized"), emulator=emu, fit_ebv=True)


def test_masked_pixels_and_band_are_not_fitted(emu):
    flux, sig = _noisy(emu, TRUTH, snr=80, seed=3)
    mask = np.zeros(274, bool)
    mask[40:60] = True
    bad = flux.copy()
    bad[mask] = 50.0
    a = fit_spectrum((emu.wave, flux, sig, mask, "normalized"), emulator=emu, telluric=False)
    b = fit_spectrum((emu.wave, bad, sig, mask, "normalized"), emulator=emu, telluric=False)
    assert a.n_pixels == 254 and b.labels == a.labels
    opt = fit_spectrum((emu.wave, flux, sig, None, "normalized"), emulator=emu, band="optical", telluric=False)
    assert opt.n_pixels == int((emu.wave >= 4000).sum()) and opt.band_used[0] >= 4000


def test_telluric_bands_dropped_for_normalized_input_by_default(emu):
    from glocal.fitting import telluric_mask
    tell = telluric_mask(emu.wave)
    assert tell[np.argmin(np.abs(emu.wave - 7640))] and not tell[np.argmin(np.abs(emu.wave - 5200))]
    assert not tell[emu.wave < 6500].any()
    flux, sig = _noisy(emu, TRUTH, snr=80, seed=7)
    flux[tell] *= 0.5                                  # a deep uncorrected absorption band
    res = fit_spectrum((emu.wave, flux, sig, None, "normalized"), emulator=emu)
    assert res.n_pixels == 274 - tell.sum() and abs(res.labels["teff"] - TRUTH[0]) < 200
    cal, csig = _noisy(emu, TRUTH, snr=80, seed=7, kind="calibrated")
    assert fit_spectrum((emu.wave, cal, csig, None, "calibrated"), emulator=emu).n_pixels == 274


def test_missing_sigma_is_estimated_and_flagged(emu):
    flux, _ = _noisy(emu, TRUTH, snr=60, seed=4)
    res = fit_spectrum((emu.wave, flux, None, None, "normalized"), emulator=emu)
    assert "sigma_estimated" in res.flags and np.isnan(res.chi2_red)
    assert 0 < res.std["teff"] < 500


def test_pulls_have_unit_width(emu):
    """σ from the Jacobian covariance matches the scatter of the estimates over noise draws."""
    truth = np.array([6000.0, 4.0, -2.0, 0.5, 0.5])
    pulls = []
    for seed in range(40):
        flux, sig = _noisy(emu, truth, snr=50, seed=100 + seed)
        r = fit_spectrum((emu.wave, flux, sig, None, "normalized"), emulator=emu, model_error=False, n_starts=1,
                         n_scan=128, telluric=False)
        pulls.append([(r.labels[k] - t) / r.std[k] for k, t in zip(LABELS, truth)])
    width = np.std(pulls, axis=0)
    assert np.all(width > 0.6) and np.all(width < 1.5), width


def test_refuses_off_grid_input_and_unknown_parameter(emu):
    flux, sig = _noisy(emu, TRUTH, snr=50, seed=5)
    with pytest.raises(ValueError, match="grid"):
        fit_spectrum((emu.wave * 1.01, flux, sig, None, "normalized"), emulator=emu)
    with pytest.raises(ValueError, match="unknown parameter"):
        fit_spectrum((emu.wave, flux, sig, None, "normalized"), emulator=emu, fixed={"vturb": 2})
    few = np.ones(274, bool)
    few[:5] = False
    res = fit_spectrum((emu.wave, flux, sig, few, "normalized"), emulator=emu)
    assert "too_few_pixels" in res.flags and np.isnan(res.labels["teff"])


def _parser():
    from glocal.fit_cli import add_fit_parser
    p = argparse.ArgumentParser(prog="glocal")
    add_fit_parser(p.add_subparsers(dest="command", required=True))
    return p


def test_cli_fit_writes_one_row_per_spectrum(emu, tmp_path):
    import pandas as pd

    from glocal.fit_cli import COLUMNS
    flux, sig = _noisy(emu, TRUTH, snr=100, seed=6)
    path = tmp_path / "star.csv"
    np.savetxt(path, np.column_stack([emu.wave, flux, sig]), delimiter=",", header="wave,flux,error", comments="")
    out = tmp_path / "fit.csv"
    args = _parser().parse_args(["fit", str(path), "-o", str(out), "--fix", "logg=3.6", "--flux", "normalized"])
    args.func(args)
    df = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert list(df.columns) == list(COLUMNS) and len(df) == 1
    row = df.iloc[0]
    assert row["logg"] == 3.6 and abs(row["teff"] - TRUTH[0]) < 200 and row["n_pixels_used"] > 200
    with pytest.raises(ValueError, match="NAME=VALUE"):
        args = _parser().parse_args(["fit", str(path), "-o", str(out), "--fix", "teff5600"])
        args.func(args)


@pytest.mark.skipif(not REAL.exists(), reason="../shared/data/real_spectra absent")
def test_real_spectra_fit_without_flags():
    from glocal.fit_cli import fit_observed
    from glocal.observed import read_spectra
    spectra = [read_spectra(REAL / "mike" / "hd140283.fits")[0],
               read_spectra(REAL / "calspec" / "hd111980_stis_006.fits.gz")[0]]
    df = fit_observed(spectra)
    assert list(df["flux_kind"]) == ["normalized", "calibrated"]
    assert (df["n_pixels_used"] > 150).all() and df[["teff", "feh", "mgfe"]].notna().all().all()
    # literature: HD 140283 5729 K, [Fe/H] −2.51; HD 111980 5600 K, −1.24 (literature.csv)
    assert (df["teff"].between(5000, 6600)).all() and (df["feh"] < -0.9).all()
