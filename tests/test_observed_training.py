"""Training runs for observed spectra (glocal.observed.training) on a small toy grid with a continuum:
split by atmosphere, augmentation per kind, conformal calibration, the run directory and its use by
``predict_prepared``."""
from __future__ import annotations

import numpy as np
import pytest

from glocal.dataset import DatasetWriter, load_dataset
from glocal.degrade import csst_grid
from glocal.observed.training import (
    OBSERVED_LABELS,
    ObservedTraining,
    augmented_set,
    split_by_atmosphere,
    train_observed_run,
)

TINY = (("dim", 16), ("depth", 1), ("heads", 2), ("n_window_layers", 1))


@pytest.fixture(scope="module")
def toy_grid(tmp_path_factory):
    """60 atmospheres × 4 variants on the CSST grid: lines whose depths follow the labels, a
    Planck-shaped continuum."""
    path = tmp_path_factory.mktemp("toy") / "toy.h5"
    wave = csst_grid()
    rng = np.random.default_rng(0)
    centres = rng.uniform(2600, 9900, 40)
    rows, flux, cont = [], [], []
    for m in range(60):
        teff, logg, feh = rng.uniform(4000, 7000), rng.uniform(1, 5), rng.uniform(-4, -1)
        for _ in range(4):
            ofe, mgfe = rng.uniform(-0.2, 1.2, 2)
            depth = 0.1 + 0.05 * (feh + 4) + 0.03 * np.r_[ofe * np.ones(20), mgfe * np.ones(20)] + 0.02 * logg
            f = 1 - (depth[:, None] * np.exp(-0.5 * ((wave - centres[:, None]) / 40) ** 2)).sum(0)
            flux.append(np.clip(f, 0.05, 1))
            cont.append(1e5 / wave ** 5 / np.expm1(1.4388e8 / (wave * teff)))
            rows.append((teff, logg, feh, 1.5, ofe, mgfe, m))
    rows = np.array(rows)
    labels = {k: rows[:, j] for j, k in enumerate(("teff", "logg", "feh", "vturb", "ofe", "mgfe"))}
    labels["model_id"] = rows[:, 6].astype(np.int64)
    with DatasetWriter(path, wave, {"engine": "toy", "note": "toy grid for tests"}, continuum=True) as w:
        w.append(np.array(flux), labels, continuum=np.array(cont))
    return path


def test_split_keeps_atmospheres_whole(toy_grid):
    ds = load_dataset(toy_grid)
    idx = split_by_atmosphere(ds.labels["model_id"], (0.7, 0.1, 0.1, 0.1), 0)
    parts = [set(ds.labels["model_id"][v]) for v in idx.values()]
    assert all(not (a & b) for i, a in enumerate(parts) for b in parts[i + 1:])
    assert sum(len(v) for v in idx.values()) == len(ds)
    with pytest.raises(ValueError, match="too few"):
        split_by_atmosphere(np.arange(3), (0.7, 0.1, 0.1, 0.1), 0)


def test_augmented_sets_reproducible_and_masked(toy_grid):
    ds = load_dataset(toy_grid)
    opts = ObservedTraining()
    a = augmented_set(ds, np.arange(20), "calibrated", 2, 5, opts.augment)
    b = augmented_set(ds, np.arange(20), "calibrated", 2, 5, opts.augment)
    assert a[0].shape == (40, ds.wave.size) and a[1].shape == (40, 5)
    assert np.array_equal(a[0], b[0], equal_nan=True)
    assert np.isnan(a[0]).any() and not np.isnan(a[0]).all(axis=1).any()
    keep = (ds.wave >= 4000) & (ds.wave <= 9000)
    assert np.isnan(a[0][:, keep]).mean() < 0.05                 # the minimum band stays (bad pixels apart)


@pytest.mark.parametrize("model,kind", [("spt-glocal", "calibrated"), ("xgboost", "normalized")])
def test_train_observed_run_end_to_end(toy_grid, tmp_path, model, kind):
    from glocal.observed.predict import predict_prepared
    from glocal.observed.prepare import prepare
    from glocal.observed.spectrum import ObservedSpectrum
    opts = ObservedTraining(model=model, network=TINY, copies=1, calibration_copies=2, test_copies=1,
                            max_epochs=1, mc_samples=3, fractions=(0.6, 0.1, 0.2, 0.1))
    run = train_observed_run(toy_grid, kind, tmp_path / "run", opts, progress=False)
    assert run.labels == list(OBSERVED_LABELS) and run.config["observed"]["kind"] == kind
    assert set(run.uncertainty["factors"]) == set(OBSERVED_LABELS)
    test = run.metrics["observed_test"]
    assert all(0 <= test[k]["coverage68"] <= test[k]["coverage95"] <= 1 for k in OBSERVED_LABELS)
    assert ("reddening_shift_ebv0_to_0.5" in run.metrics) == (kind == "calibrated")
    lo, hi = run.config["observed"]["label_ranges"]["teff"]
    assert 4000 <= lo < hi <= 7000
    ds = load_dataset(toy_grid)
    f = ds.flux[0] * (ds.continuum[0] * 1e-14 if kind == "calibrated" else 1)
    spec = ObservedSpectrum(ds.wave, f.astype(float), meta={"name": "toy"})
    prep = prepare(spec, band="full", flux_kind=kind)
    df = predict_prepared([(prep, {"source": "toy"}, 0)], [(kind, run, "toy-run")], T=3)
    assert np.isfinite(df.loc[0, list(OBSERVED_LABELS)].astype(float)).all()
    assert np.isfinite(df.loc[0, [f"{k}_err95" for k in OBSERVED_LABELS]].astype(float)).all()
    with pytest.raises(ValueError, match=r"other settings \(.*\bseed\b"):
        train_observed_run(toy_grid, kind, tmp_path / "run", ObservedTraining(model=model, seed=9), progress=False)
    again = train_observed_run(toy_grid, kind, tmp_path / "run", opts, progress=False)   # resumes: same settings
    assert again.config["observed"]["options"] == run.config["observed"]["options"]


def test_fine_tuning_starts_from_the_given_run(toy_grid, tmp_path):
    """init_from: with a vanishing learning rate the fine-tuned run predicts as its source (the weights were
    copied, the normalisation refitted on the same data), with a random start it does not; a source of another
    architecture is refused by name; trees cannot be fine-tuned."""
    from glocal.runs import load_run
    base = dict(network=TINY, copies=1, calibration_copies=2, test_copies=1, max_epochs=1, mc_samples=3,
                fractions=(0.6, 0.1, 0.2, 0.1))
    source = train_observed_run(toy_grid, "normalized", tmp_path / "source", ObservedTraining(**base),
                                progress=False)
    still = dict(base, lr=1e-12, seed=1)
    tuned = train_observed_run(toy_grid, "normalized", tmp_path / "tuned",
                               ObservedTraining(**still, init_from=str(source.path)), progress=False)
    fresh = train_observed_run(toy_grid, "normalized", tmp_path / "fresh", ObservedTraining(**still),
                               progress=False)
    assert tuned.config["observed"]["options"]["init_from"] == str(source.path)
    assert "init_from" not in source.config["observed"]["options"]      # older runs' configs stay comparable
    x = np.random.default_rng(3).uniform(0.3, 1.0, (8, source.wave.size)).astype(np.float32)
    ref = source.estimator.predict(x)
    assert np.abs(tuned.estimator.predict(x) - ref).max() < 1e-3 * np.abs(ref).max()
    assert np.abs(load_run(fresh.path).estimator.predict(x) - ref).max() > 1e-2 * np.abs(ref).max()
    other = dict(base, network=(("dim", 24), ("depth", 1), ("heads", 2), ("n_window_layers", 1)))
    with pytest.raises(ValueError, match="not this architecture"):
        train_observed_run(toy_grid, "normalized", tmp_path / "other",
                           ObservedTraining(**other, init_from=str(source.path)), progress=False)
    with pytest.raises(ValueError, match="init_from fine-tunes a network"):
        train_observed_run(toy_grid, "normalized", tmp_path / "trees",
                           ObservedTraining(model="xgboost", init_from=str(source.path)), progress=False)


def test_recalibration_refits_on_test_like_spectra(toy_grid, tmp_path):
    """recalibrate_observed_run: the factors change (other calibration spectra), are recorded as test-like, the
    reloaded run uses them, and the test metrics are recomputed with the same MAE (same test spectra and model)."""
    from glocal.observed.training import recalibrate_observed_run
    from glocal.runs import load_run
    opts = ObservedTraining(network=TINY, copies=1, calibration_copies=2, test_copies=1, max_epochs=1, mc_samples=3,
                            fractions=(0.6, 0.1, 0.2, 0.1))
    run = train_observed_run(toy_grid, "normalized", tmp_path / "run", opts, progress=False)
    before = run.uncertainty["factors"]
    test = recalibrate_observed_run(run.path, toy_grid, progress=False)
    again = load_run(run.path)
    assert again.uncertainty["calibration_augment"] == "test"
    assert again.uncertainty["factors"] != before
    assert again.metrics["observed_test"] == test
    for lab in OBSERVED_LABELS:
        assert test[lab]["mae"] == pytest.approx(run.metrics["observed_test"][lab]["mae"], rel=1e-6)
        assert 0 <= test[lab]["coverage68"] <= test[lab]["coverage95"] <= 1
