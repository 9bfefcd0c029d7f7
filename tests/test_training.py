"""Tests of the §3.3 training loop and the §3.4 metrics."""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from glocal.evaluation import binned_errors, calibration, coverage, ensemble_stats, mae, regression_metrics, sigma
from glocal.models import build
from glocal.training import (
    LabelScaler,
    TrainOptions,
    add_noise_torch,
    average_state_dicts,
    predict_array,
    resolve_device,
    train_model,
)

torch.set_num_threads(2)
TINY = dict(dim=16, depth=1, heads=2, mlp_ratio=2.0, patch_size=4, window=4, n_window_layers=1,
            p=2, alpha=0.8, gamma=2, dropout=0.0)


def _data(n=64, n_pix=24, seed=0):
    rng = np.random.default_rng(seed)
    level, depth = rng.uniform(0.5, 1.5, n), rng.uniform(0.0, 0.5, n)
    x = level[:, None] + 0.01 * rng.standard_normal((n, n_pix))
    x[:, 8:12] -= depth[:, None]                         # an absorption "line"
    return x.astype(np.float32), np.stack([level, depth + 3.0], axis=1)


def _states_equal(m1, m2):
    s1, s2 = m1.state_dict(), m2.state_dict()
    return all(torch.equal(s1[k], s2[k]) for k in s1)


# ----------------------------------------------------------------------------- metrics
def test_mae_sigma_hand_computed():
    yt, yp = [1.0, 2.0, 3.0, 4.0], [1.5, 1.5, 3.5, 3.0]
    # residuals -.5 .5 -.5 1 -> MAE 2.5/4; mean .125; Σ(r - mean)^2 = 1.6875 -> σ = sqrt(1.6875/3)
    assert mae(yt, yp) == pytest.approx(0.625)
    assert sigma(yt, yp) == pytest.approx(0.75)
    m = regression_metrics(np.c_[yt, yt], np.c_[yp, yt], names=["ofe", "mgfe"])
    assert m["ofe"]["bias"] == pytest.approx(0.125) and m["mgfe"]["mae"] == 0
    assert m["ofe"]["rmse"] == pytest.approx(np.sqrt((0.25 * 3 + 1) / 4))
    with pytest.raises(ValueError, match="NaN"):
        mae([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="shape"):
        sigma([1.0, 2.0], [1.0, 2.0, 3.0])


def test_binned_errors_against_loop():
    rng = np.random.default_rng(3)
    x = rng.uniform(3500, 8000, 500)
    yt = rng.normal(size=500)
    yp = yt + rng.normal(scale=0.1 + (x > 6000), size=500)
    edges = np.array([3500, 4500, 6000, 7000, 8000.0])
    out = binned_errors(yt, yp, x, edges)
    for k in range(4):
        sel = (x >= edges[k]) & ((x < edges[k + 1]) if k < 3 else (x <= edges[k + 1]))
        r = yt[sel] - yp[sel]
        assert out["count"][k] == sel.sum()
        assert out["mse"][k] == pytest.approx(np.mean(r ** 2))
        assert out["sigma"][k] == pytest.approx(np.std(r, ddof=1))
    assert out["sigma"][3] > 3 * out["sigma"][0]        # the noisier hot bins show up
    empty = binned_errors(yt, yp, x, [0, 1, 2])
    assert np.isnan(empty["mse"]).all() and (empty["count"] == 0).all()
    with pytest.raises(ValueError, match="increasing"):
        binned_errors(yt, yp, x, [5, 4, 3])


def test_coverage_of_calibrated_gaussian_errors():
    rng = np.random.default_rng(0)
    n = 40000
    s = rng.uniform(0.05, 0.3, n)
    mu = rng.normal(size=n)
    y = mu + s * rng.normal(size=n)
    cov = coverage(y, mu, s)
    assert cov[0.68] == pytest.approx(0.68, abs=0.01)
    assert cov[0.95] == pytest.approx(0.95, abs=0.005)
    over = coverage(y, mu, 3 * s)             # over-estimated errors over-cover
    assert over[0.68] > 0.99
    cal = calibration(np.c_[y, y], np.c_[mu, mu], np.c_[s, s / 2], names=["a", "b"])
    assert cal["b"]["cov68"] < cal["a"]["cov68"] and cal["a"]["cov95"] == pytest.approx(0.95, abs=0.005)
    m, sd = ensemble_stats(np.stack([np.zeros(3), np.ones(3) * 2]))
    np.testing.assert_allclose(m, 1) and np.testing.assert_allclose(sd, np.sqrt(2))


# ----------------------------------------------------------------------------- pieces
def test_label_scaler_roundtrip_and_constant_column():
    y = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    sc = LabelScaler.fit(y, ["a", "b"])
    z = sc.transform(y)
    np.testing.assert_allclose(z[:, 0], [-np.sqrt(1.5), 0, np.sqrt(1.5)])
    np.testing.assert_allclose(z[:, 1], 0)
    np.testing.assert_allclose(sc.inverse(z), y)
    again = LabelScaler.from_dict(json.loads(json.dumps(sc.to_dict())))
    np.testing.assert_allclose(again.mean, sc.mean)
    with pytest.raises(ValueError):
        LabelScaler.from_dict({"names": ["a"], "mean": [0.0], "std": [0.0]})


def test_noise_augmentation_statistics():
    g = torch.Generator().manual_seed(0)
    x = torch.ones(2000, 50)
    noisy = add_noise_torch(x, 40.0, g) - x
    assert noisy.std().item() == pytest.approx(1 / 40, rel=0.02)
    x = torch.ones(200, 4000)           # per-spectrum σ estimated to ~1 %
    ranged = add_noise_torch(x, (20.0, 80.0), g) - x
    per = ranged.std(1)
    assert per.max().item() < 1.06 / 20 and per.min().item() > 0.94 / 80
    assert per.max().item() > 0.8 / 20 and per.min().item() < 1.2 / 80    # range is used


def test_average_state_dicts():
    a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(5)}
    avg = average_state_dicts([a, b])
    assert torch.equal(avg["w"], torch.tensor([2.0, 4.0])) and avg["n"].item() == 5


def test_resolve_device():
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == want and resolve_device("cpu").type == "cpu"


# ----------------------------------------------------------------------------- training loop
def test_training_learns_and_schedules(tmp_path):
    x, y = _data(96)
    torch.manual_seed(0)
    model = build("spt-glocal", TINY, n_pixels=24)
    opts = TrainOptions(max_epochs=6, batch_size=16, lr=3e-3, lr_step=2, lr_gamma=0.5, average_last=2,
                        patience=10)
    res = train_model(model, x[:64], y[:64], x[64:], y[64:], opts, label_names=["a", "b"],
                      progress=False, device="cpu")
    # input normalisation: training mean spectrum and rms of the centred training flux
    mu = x[:64].astype(np.float64).mean(0)
    np.testing.assert_allclose(model.input_mean.numpy(), mu, rtol=1e-5)
    assert model.input_scale.item() == pytest.approx(np.sqrt(np.mean((x[:64] - mu) ** 2)), rel=1e-5)
    lrs = [h["lr"] for h in res.history]
    np.testing.assert_allclose(lrs, [3e-3, 3e-3, 1.5e-3, 1.5e-3, 7.5e-4, 7.5e-4])
    assert res.history[-1]["train_loss"] < 0.7 * res.history[0]["train_loss"]
    assert res.epochs_run == 6 and not res.stopped_early
    pred = res.scaler.inverse(predict_array(model, x[64:]))
    # better than predicting the training mean for the dominant label
    assert np.mean((pred[:, 0] - y[64:, 0]) ** 2) < np.var(y[64:, 0])
    assert not model.training


def test_early_stopping_and_last_epochs_average(tmp_path):
    x, y = _data(48)
    torch.manual_seed(1)
    model = build("spt", TINY, n_pixels=24)
    # lr so small that the weights cannot change in float32: validation never improves after
    # epoch 0, so with patience 3 training stops after epoch 3 (4 epochs run)
    res = train_model(model, x[:32], y[:32], x[32:], y[32:],
                      TrainOptions(max_epochs=50, lr=1e-30, weight_decay=0.0, patience=3, average_last=10),
                      progress=False, run_dir=tmp_path)
    assert res.stopped_early and res.epochs_run == 4 and res.best_epoch == 0

    torch.manual_seed(2)
    model = build("spt-glocal", TINY, n_pixels=24)
    res = train_model(model, x[:32], y[:32], x[32:], y[32:], TrainOptions(max_epochs=5, lr=1e-2, average_last=3),
                      progress=False, run_dir=tmp_path / "avg")
    files = sorted((tmp_path / "avg").glob("epoch_*.safetensors"))
    assert [f.name for f in files] == ["epoch_00002.safetensors", "epoch_00003.safetensors",
                                       "epoch_00004.safetensors"]
    states = [load_file(str(f)) for f in files]
    for k, v in model.state_dict().items():
        expect = (states[0][k].double() + states[1][k].double() + states[2][k].double()) / 3
        torch.testing.assert_close(v.double(), expect, rtol=1e-6, atol=1e-7)
    assert not torch.equal(states[0]["head.weight"], states[2]["head.weight"])


def test_resume_continues_exactly(tmp_path):
    x, y = _data(48)
    kw = dict(batch_size=8, lr=5e-3, average_last=2, noise_snr=(30, 60))
    torch.manual_seed(3)
    straight = build("spt-glocal", dict(TINY, dropout=0.1), n_pixels=24)
    init = {k: v.clone() for k, v in straight.state_dict().items()}
    r1 = train_model(straight, x[:32], y[:32], x[32:], y[32:], TrainOptions(max_epochs=4, **kw),
                     run_dir=tmp_path / "a", progress=False)
    resumed = build("spt-glocal", dict(TINY, dropout=0.1), n_pixels=24)
    resumed.load_state_dict(init)
    train_model(resumed, x[:32], y[:32], x[32:], y[32:], TrainOptions(max_epochs=2, **kw),
                run_dir=tmp_path / "b", progress=False)
    fresh = build("spt-glocal", dict(TINY, dropout=0.1), n_pixels=24)   # different init: overwritten
    r2 = train_model(fresh, x[:32], y[:32], x[32:], y[32:], TrainOptions(max_epochs=4, **kw),
                     run_dir=tmp_path / "b", progress=False)
    assert r2.epochs_run == 4
    assert [h["train_loss"] for h in r2.history] == [h["train_loss"] for h in r1.history]
    assert _states_equal(straight, fresh)
    with pytest.raises(ValueError, match="parameters differ"):
        train_model(fresh, x[:32], y[:32], x[32:], y[32:], TrainOptions(max_epochs=5, **{**kw, "lr": 1e-3}),
                    run_dir=tmp_path / "b", progress=False)
    # resume=False starts again from scratch (checkpoints removed)
    r3 = train_model(fresh, x[:32], y[:32], x[32:], y[32:], TrainOptions(max_epochs=1, **kw),
                     run_dir=tmp_path / "b", resume=False, progress=False)
    assert r3.epochs_run == 1
    assert sorted(f.name for f in (tmp_path / "b").glob("epoch_*")) == ["epoch_00000.safetensors"]


def test_in_memory_training_matches_checkpointed_training(tmp_path):
    """Without run_dir nothing is written and the result is the same as with per-epoch checkpoints."""
    x, y = _data(48)
    opts = TrainOptions(max_epochs=3, batch_size=8, lr=5e-3, average_last=2, noise_snr=40.0)
    models = []
    for run_dir in (None, tmp_path / "ck"):
        torch.manual_seed(5)
        model = build("spt-glocal", dict(TINY, dropout=0.1), n_pixels=24)
        res = train_model(model, x[:32], y[:32], x[32:], y[32:], opts, run_dir=run_dir, progress=False)
        models.append((model, res))
    assert _states_equal(models[0][0], models[1][0])
    assert models[0][1].history[-1]["train_loss"] == models[1][1].history[-1]["train_loss"]
    assert models[0][1].final_val_loss == models[1][1].final_val_loss
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_train_options_validation():
    assert TrainOptions().lr == 1e-4 and TrainOptions().patience == 10       # the paper's defaults
    for bad in (dict(max_epochs=0), dict(batch_size=2.5), dict(lr=-1.0), dict(lr=float("nan")),
                dict(noise_snr=(50, 10)), dict(noise_snr=-3), dict(average_last=True)):
        with pytest.raises(ValueError):
            TrainOptions(**bad)
    with pytest.raises(TypeError):
        TrainOptions(max_epoch=3)
    rec = TrainOptions(noise_snr=[20, 40]).record(10, 2)
    assert rec["noise_snr"] == [20.0, 40.0] and rec["betas"] == [0.9, 0.999] and rec["n_val"] == 2
    json.dumps(rec)


def test_non_finite_loss_is_reported():
    x, y = _data(24)
    model = build("spt", TINY, n_pixels=24)
    with torch.no_grad():
        model.head.weight.fill_(float("inf"))
    with pytest.raises(FloatingPointError, match="epoch 0"):
        train_model(model, x[:16], y[:16], x[16:], y[16:], TrainOptions(max_epochs=2, normalise_input=False),
                    progress=False)


def test_training_input_errors():
    x, y = _data(20)
    model = build("spt", TINY, n_pixels=24)
    bad = x.copy()
    bad[0, 0] = np.nan
    one = TrainOptions(max_epochs=1)
    with pytest.raises(ValueError, match="NaN"):
        train_model(model, bad, y, x, y, one, progress=False)
    with pytest.raises(ValueError, match="outputs"):
        train_model(model, x, y[:, :1], x, y[:, :1], one, progress=False)
    with pytest.raises(ValueError, match="row counts"):
        train_model(model, x, y[:5], x, y, one, progress=False)
    with pytest.raises(ValueError, match="noise_snr"):
        train_model(model, x, y, x, y, TrainOptions(max_epochs=1, noise_snr=(50, 10)), progress=False)
    with pytest.raises(ValueError, match="empty"):
        train_model(model, x, y, x[:0], y[:0], one, progress=False)
    with pytest.raises(TypeError, match="TrainOptions"):
        train_model(model, x, y, x, y, {"max_epochs": 1}, progress=False)
