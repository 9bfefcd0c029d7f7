"""Tests of the learning-curve machinery: nested subsets, resumable records, power laws, crossovers, figure."""
import json

import numpy as np
import pytest
from scipy.optimize import brentq

from glocal import learning_curves as lc
from glocal.dataset import write_dataset
from glocal.degrade import csst_grid
from glocal.splits import split_indices

TINY = dict(dim=16, depth=1, heads=2, mlp_ratio=2.0, patch_size=8, window=4, n_window_layers=1,
            p=2, alpha=0.8, gamma=2, dropout=0.1)


def _toy_labels(n, rng):
    return {"teff": rng.uniform(4000, 6500, n), "logg": rng.uniform(1, 5, n), "feh": rng.uniform(-4, -1, n),
            "vturb": np.full(n, 1.5), "ofe": rng.choice(np.arange(-0.2, 1.3, 0.2), n),
            "mgfe": rng.choice(np.arange(-0.2, 1.3, 0.2), n), "model_id": np.arange(n) // 4}


@pytest.fixture(scope="module")
def toy_grid(tmp_path_factory):
    """~100 toy spectra whose line depths follow [O/Fe], [Mg/Fe] and [Fe/H]."""
    rng = np.random.default_rng(0)
    n, wave = 100, csst_grid()
    lab = _toy_labels(n, rng)

    def line(center, width, depth):
        return depth[:, None] * np.exp(-0.5 * ((wave[None, :] - center) / width) ** 2)
    flux = 1 - line(3100, 60, 0.3 + 0.2 * lab["ofe"]) - line(5170, 40, 0.2 + 0.2 * lab["mgfe"]) \
        - line(3900, 50, 0.4 + 0.1 * lab["feh"])
    path = tmp_path_factory.mktemp("lc") / "toy.h5"
    write_dataset(path, wave, np.clip(flux, 0.05, None).astype(np.float32), lab, {"engine": "test-toy"})
    return path


# ----------------------------------------------------------------------------- subsets
def test_nested_subsets_are_nested_and_inside_the_training_part():
    parts = split_indices(500, "random", seed=3)
    subs = lc.nested_subsets(parts["train"], [10, 50, 200, 400], seed=1)
    train = set(parts["train"].tolist())
    prev = set()
    for n, rows in subs.items():
        assert len(rows) == n == len(set(rows.tolist()))
        assert set(rows.tolist()) <= train
        assert prev <= set(rows.tolist())
        prev = set(rows.tolist())
    other = lc.nested_subsets(parts["train"], [50], seed=2)[50]
    assert set(other.tolist()) != set(subs[50].tolist())          # another seed, another subset
    assert np.array_equal(lc.nested_subsets(parts["train"], [50], seed=1)[50], subs[50])
    with pytest.raises(ValueError, match="outside"):
        lc.nested_subsets(parts["train"], [len(parts["train"]) + 1], seed=0)


def test_resolve_sizes_all_and_too_large():
    assert lc.resolve_sizes([300, "all", 100, 5000, 300], 1000) == ([100, 300, 1000], [5000])
    with pytest.raises(ValueError):
        lc.resolve_sizes([-5], 10)


def test_paper_training_size_from_the_paper_text():
    # §2.1: 11 763 atmospheres × 16 abundance variants; §3.3: 80 % of them for training
    assert lc.N_PAPER_TRAIN == 150566


# ----------------------------------------------------------------------------- resume and atomic writes
class _MeanEstimator:
    def __init__(self, y):
        self.m = y.mean(axis=0)

    def predict(self, x):
        return np.tile(self.m, (len(x), 1))


def test_resume_skips_done_fits_and_a_crash_leaves_a_valid_file(toy_grid, tmp_path, monkeypatch):
    calls = []

    def fake_fit(method, config, xs, ys, **kw):
        calls.append((method, len(xs[0])))
        if len(calls) == 3:
            raise KeyboardInterrupt("killed mid-run")
        return _MeanEstimator(ys[0]), 0.01, None

    monkeypatch.setattr(lc, "_fit_one", fake_fit)
    out = tmp_path / "curves.json"
    kw = dict(methods=["xgboost", "lightgbm"], sizes=[20, 40], seeds=[0], out_json=out, progress=False,
              log=lambda s: None)
    with pytest.raises(KeyboardInterrupt):
        lc.run_learning_curves(toy_grid, **kw)
    recs = json.loads(out.read_text())                     # two finished fits, a valid JSON list
    assert len(recs) == 2 * 2 and {r["n_train"] for r in recs} == {20}
    assert [p.name for p in tmp_path.iterdir()] == ["curves.json"]   # no temporary file left behind
    calls.clear()
    messages = []
    recs = lc.run_learning_curves(toy_grid, **{**kw, "log": messages.append})
    assert calls == [("lightgbm", 40), ("xgboost", 40)]     # only the missing fits
    assert any("2 of 4 fits already recorded" in m for m in messages)
    assert len(recs) == 8 and len(json.loads(out.read_text())) == 8
    for r in recs:
        assert {"method", "config", "band", "split", "label", "n_train", "seed", "mae", "sigma", "bias",
                "n_test", "epochs", "train_seconds", "grid", "git_commit"} <= set(r)
        assert r["grid"] == "toy.h5" and r["config"] == "default"
    calls.clear()
    lc.run_learning_curves(toy_grid, **kw)
    assert calls == []
    with pytest.raises(ValueError, match="not other.h5"):        # records of one grid per file
        lc.run_learning_curves(_copy(toy_grid, tmp_path), **kw)


def _copy(path, folder):
    dst = folder / "other.h5"
    dst.write_bytes(path.read_bytes())
    return dst


def test_extra_seeds_only_at_small_sizes(toy_grid, tmp_path):
    messages = []
    lc.run_learning_curves(toy_grid, methods=["xgboost"], sizes=[20, 40], seeds=[0, 1], extra_seeds_up_to=20,
                           out_json=tmp_path / "c.json", dry_run=True, log=messages.append)
    fits = [m for m in messages if m.startswith("to fit")]
    assert len(fits) == 3 and sum("seed=1" in m for m in fits) == 1 and "n=20 seed=1" in " ".join(fits)


# ----------------------------------------------------------------------------- power laws and crossovers
def _records(method, a, b, c, sizes=(300, 600, 1200, 2500, 5000, 10000, 25000), noise=0.0, seeds=(0, 1), rng=None):
    rng = rng or np.random.default_rng(0)
    return [{"method": method, "config": "cpu", "band": "full", "split": "random", "label": "ofe", "n_train": n,
             "seed": s, "mae": (a * n ** -b + c) * np.exp(noise * rng.normal())} for n in sizes for s in seeds]


def test_power_law_recovers_known_parameters():
    fit = lc.fit_power_law(_records("spt", 30.0, 0.7, 0.02))[("spt", "cpu", "full", "random", "ofe")]
    assert fit.floor and "2σ" in fit.reason
    np.testing.assert_allclose(fit.params, (30.0, 0.7, 0.02), rtol=1e-3)
    noisy = lc.fit_power_law(_records("spt", 30.0, 0.7, 0.02, noise=0.03))[("spt", "cpu", "full", "random", "ofe")]
    a, b, c = noisy.params
    assert abs(b - 0.7) < 0.15 and abs(c - 0.02) < 0.01
    assert all(np.isfinite(noisy.errors)) and noisy.errors[1] > 0
    pure = lc.fit_power_law(_records("xgboost", 2.0, 0.3, 0.0))[("xgboost", "cpu", "full", "random", "ofe")]
    assert not pure.floor and pure.params[2] == 0
    np.testing.assert_allclose(pure.params[:2], (2.0, 0.3), rtol=1e-3)
    few = lc.fit_power_law(_records("spt", 30.0, 0.7, 0.02, sizes=(100, 200, 400)))
    assert "too few" in next(iter(few.values())).reason


def test_projection_interval_contains_the_truth():
    fit = lc.fit_power_law(_records("spt", 5.0, 0.4, 0.0, noise=0.05, seeds=(0, 1, 2)))
    pr = lc.project(next(iter(fit.values())), 150566)
    truth = 5.0 * 150566 ** -0.4
    assert pr["lo"] < pr["mae"] < pr["hi"]
    assert pr["lo"] / 2 < truth < 2 * pr["hi"]
    boot = lc.fit_power_law(_records("spt", 5.0, 0.4, 0.0, noise=0.05, seeds=(0, 1, 2)), uncertainty="bootstrap",
                            n_samples=100)
    assert np.isfinite(next(iter(boot.values())).errors).all()


def test_crossover_found_where_the_curves_cross():
    net_abc, tree_abc = (20.0, 0.6, 0.01), (0.5, 0.25, 0.03)
    fits = lc.fit_power_law(_records("spt-glocal", *net_abc) + _records("xgboost", *tree_abc)
                            + _records("catboost", 0.6, 0.25, 0.03))
    net = fits[("spt-glocal", "cpu", "full", "random", "ofe")]
    trees = [f for k, f in fits.items() if k[0] != "spt-glocal"]
    truth = np.exp(brentq(lambda x: (20 * np.exp(-0.6 * x) + 0.01) - (0.5 * np.exp(-0.25 * x) + 0.03), 0, 20))
    c = lc.crossover(net, trees)
    assert c["status"] == "crosses" and c["best_tree"] == "xgboost"
    assert abs(np.log(c["n"] / truth)) < 0.05
    assert c["probability"] > 0.9


def test_crossover_none_when_the_network_stays_above_and_below_from_the_start():
    fits = lc.fit_power_law(_records("spt", 2.0, 0.3, 0.0) + _records("lightgbm", 1.0, 0.3, 0.0))
    net, tree = fits[("spt", "cpu", "full", "random", "ofe")], fits[("lightgbm", "cpu", "full", "random", "ofe")]
    assert lc.crossover(net, [tree]) is None
    assert lc.crossover(tree, [net])["status"] == "below"
    curves, cross = lc.summary(fits)
    assert len(curves) == 2 and cross[0]["status"] == "never" and cross[0]["n"] is None


def test_summary_does_not_extrapolate_a_crossing_below_the_smallest_measured_size():
    # network 0.571·n^-0.05, tree 2·n^-0.3: the laws meet at n = 150, below the smallest size measured
    # (300); over the data the network stays above the tree, which falls faster
    fits = lc.fit_power_law(_records("spt", 2 * 150 ** -0.25, 0.05, 0.0) + _records("xgboost", 2.0, 0.3, 0.0))
    net = fits[("spt", "cpu", "full", "random", "ofe")]
    tree = fits[("xgboost", "cpu", "full", "random", "ofe")]
    assert lc.crossover(net, [tree], n_range=(100, 1e7))["status"] == "below"     # extrapolated to n = 100
    _, cross = lc.summary(fits)
    assert cross[0]["status"] == "never" and cross[0]["n"] is None


# ----------------------------------------------------------------------------- figure and end to end
def test_plot_returns_a_figure():
    import matplotlib
    from matplotlib.figure import Figure

    from glocal.plots.learning import learning_curves
    recs = _records("spt-glocal", 20.0, 0.6, 0.01) + [dict(r, config="default")
                                                       for r in _records("xgboost", 0.5, 0.25, 0.03)]
    fig = learning_curves(recs, lc.fit_power_law(recs), labels=("ofe",), bands=("full",))
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.get_lines()) >= 4   # means, fits, paper stars, paper size
    matplotlib.pyplot.close(fig)


def test_end_to_end_xgboost_and_spt_on_toy_spectra(toy_grid, tmp_path):
    recs = lc.run_learning_curves(
        toy_grid, methods=["xgboost", "spt"], sizes=[30, 60], seeds=[0], configs={"tiny": TINY},
        train_options=dict(max_epochs=2, batch_size=16, lr=3e-3), out_json=tmp_path / "lc.json", threads=1,
        device="cpu", progress=False, log=lambda s: None)
    assert len(recs) == 2 * 2 * 2
    assert {(r["method"], r["config"]) for r in recs} == {("xgboost", "default"), ("spt", "tiny")}
    assert len({r["n_test"] for r in recs}) == 1 and recs[0]["n_test"] == 10
    assert all(np.isfinite(r["mae"]) and r["sigma"] > 0 for r in recs)
    assert {r["epochs"] for r in recs if r["method"] == "spt"} <= {1, 2}
    assert {r["epochs"] for r in recs if r["method"] == "xgboost"} == {None}
    assert json.loads((tmp_path / "lc.json").read_text()) == recs


def test_a_network_fit_resumed_after_a_kill_counts_the_epochs_of_the_killed_process(toy_grid, tmp_path,
                                                                                    monkeypatch):
    import time

    from glocal import training
    real_epoch, real_save, killed = training._train_epoch, training._ck.save_epoch, []

    def slow_first_epoch(*a, **k):       # the killed process's epoch takes ≥ 2 s (inside the epoch timing)
        if not killed:
            time.sleep(2.0)
        return real_epoch(*a, **k)

    def kill_after_first_save(*a, **k):
        real_save(*a, **k)
        if not killed:
            killed.append(True)
            raise KeyboardInterrupt("killed after epoch 0")

    monkeypatch.setattr(training, "_train_epoch", slow_first_epoch)
    monkeypatch.setattr(training._ck, "save_epoch", kill_after_first_save)
    kw = dict(methods=["spt"], sizes=[30], seeds=[0], configs={"tiny": TINY}, out_json=tmp_path / "lc.json",
              train_options=dict(max_epochs=3, batch_size=16, lr=3e-3, patience=10), threads=1, device="cpu",
              checkpoint_root=tmp_path / "ckpt", progress=False, log=lambda s: None)
    with pytest.raises(KeyboardInterrupt):
        lc.run_learning_curves(toy_grid, **kw)
    assert not (tmp_path / "lc.json").exists() and any((tmp_path / "ckpt").rglob("checkpoint.json"))
    t0 = time.perf_counter()
    recs = lc.run_learning_curves(toy_grid, **kw)
    resumed_wall = time.perf_counter() - t0
    assert resumed_wall < 2.0                               # the resumed process alone is faster than epoch 0
    assert {r["epochs"] for r in recs} == {3}
    assert all(r["train_seconds"] >= 2.0 for r in recs)     # epoch 0 of the killed process is counted
    assert not any((tmp_path / "ckpt").rglob("checkpoint.json"))   # removed once recorded


def test_script_summary_prints_projection_and_crossover(tmp_path, capsys):
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location(
        "learning_curves_script", Path(__file__).resolve().parents[1] / "scripts" / "learning_curves.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    recs = _records("spt-glocal", 20.0, 0.6, 0.01) + [dict(r, config="default")
                                                       for r in _records("xgboost", 0.5, 0.25, 0.03)]
    (tmp_path / "lc.json").write_text(json.dumps(recs))
    assert mod.main(["--scale", "x", "--out", str(tmp_path / "lc.json"), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "150566 training spectra" in out and "n = " in out and "crosses xgboost" in out
    row = next(line for line in out.splitlines() if line.startswith("| ofe | xgboost | default |"))
    at_300 = 0.5 * 300 ** -0.25 + 0.03                       # both seeds carry the noiseless law
    assert row.split("|")[4].strip() == f"{at_300:.4f} [2]" and "random split, full band" in out
