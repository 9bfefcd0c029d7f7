"""The paper-scale accelerator path (glocal.accel): mixed precision, torch.compile, checkpoints, data placement.

On the CPU the same code runs at tiny size: bf16 autocast and ``torch.compile(backend="eager")`` (no C++
toolchain needed). The CUDA-only test runs the paper configuration a few steps with inductor.
"""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from glocal import accel
from glocal.cli import _accelerator_options, build_parser, main
from glocal.dataset import write_dataset
from glocal.degrade import csst_grid
from glocal.models import build, estimator, load
from glocal.training import TrainOptions, predict_array, train_model

torch.set_num_threads(1)
TINY = dict(dim=16, depth=1, heads=2, mlp_ratio=2.0, patch_size=4, window=4, n_window_layers=1,
            p=2, alpha=0.8, gamma=2, dropout=0.1, n_outputs=2)
CUDA = torch.cuda.is_available()


@pytest.fixture(scope="module", autouse=True)
def _numba_kernel_compiled():
    """Compile the CPU competition kernel (numba) once outside torch.compile: when its first call for a
    signature happens inside a compiled region, dynamo tries to trace numba's Python compile hook and
    fails ("exception table entry start instruction has no offset"). The fix belongs in
    glocal/models/competition.py (``torch.compiler.disable`` on the kernel call); the CUDA path never
    takes the kernel."""
    torch.manual_seed(0)
    with torch.no_grad():
        build("spt-glocal", TINY, n_pixels=24)(torch.rand(2, 24) + 0.5)


def _data(n=48, n_pix=24, seed=0):
    rng = np.random.default_rng(seed)
    level, depth = rng.uniform(0.5, 1.5, n), rng.uniform(0.0, 0.5, n)
    x = level[:, None] + 0.01 * rng.standard_normal((n, n_pix))
    x[:, 8:12] -= depth[:, None]
    return x.astype(np.float32), np.stack([level, depth + 3.0], axis=1)


def _net(**kw):
    return estimator("spt-glocal", config=TINY, batch_size=16, lr=1e-3, patience=5, average_last=2,
                     mc_samples=4, seed=0, device="cpu", **kw)


def _weights(est):
    return est.network_.state_dict()


def _equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _model(seed=0, name="spt-glocal"):
    torch.manual_seed(seed)
    return build(name, TINY, n_pixels=24)


def _train(opts, **kw):
    x, y = _data()
    model = _model()
    res = train_model(model, x[:36], y[:36], x[36:], y[36:], opts, progress=False, device="cpu", **kw)
    return model, res


# ----------------------------------------------------------------------------- fp32 default unchanged
def test_fp32_default_unchanged_and_bf16_really_autocasts():
    base = dict(max_epochs=2, batch_size=16, lr=1e-3, average_last=2, seed=3)
    ref, ref_res = _train(TrainOptions(**base))
    for extra in ({"precision": "fp32", "compile": False}, {"precision": "auto", "compile": "auto"}):
        m, res = _train(TrainOptions(**base, **extra))          # on the CPU "auto" is fp32 and no compile
        assert _equal(m.state_dict(), ref.state_dict()), extra
        assert res.history == [dict(h, seconds=r["seconds"]) for h, r in zip(ref_res.history, res.history)]
        assert "precision" not in res.params
    # the eager backend replays the same operations: same weights to float32 rounding
    m, _ = _train(TrainOptions(**base, compile="eager"))
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(m.state_dict()[k], v, rtol=1e-5, atol=1e-6)
    # bf16: the Linear layers see bf16 inputs in training and validation, the weights stay float32
    seen = set()
    model = _model()
    model.head.register_forward_hook(lambda mod, inp, out: seen.add((mod.training, out.dtype)))
    x, y = _data()
    res = train_model(model, x[:36], y[:36], x[36:], y[36:], TrainOptions(**base, precision="bf16"),
                      progress=False, device="cpu")
    assert seen == {(True, torch.bfloat16), (False, torch.bfloat16)}
    assert all(v.dtype == torch.float32 for v in model.state_dict().values() if v.is_floating_point())
    assert res.params["precision"] == "bf16" and np.isfinite(res.final_val_loss)
    assert not _equal(model.state_dict(), ref.state_dict())


def test_options_and_resolution():
    for bad in ({"precision": "fp64"}, {"precision": None}, {"compile": ""}, {"compile": 1}, {"compile": None}):
        with pytest.raises(ValueError):
            TrainOptions(**bad)
    cpu = torch.device("cpu")
    assert accel.resolve_precision("auto", cpu) == "fp32" and accel.resolve_precision("bf16", cpu) == "bf16"
    if CUDA:
        want = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        assert accel.resolve_precision("auto", torch.device("cuda")) == want
    m = _model()
    assert accel.compile_module(m, False, cpu) is m and accel.compile_module(m, "auto", cpu) is m
    wrapped = accel.compile_module(m, "eager", cpu)
    assert wrapped is not m and wrapped._orig_mod is m
    assert all(k.startswith("_orig_mod.") for k in wrapped.state_dict())
    data = accel.Data.place([np.zeros((4, 3), np.float32)] * 4, cpu)
    assert data.resident and data.xt.device == cpu


# ----------------------------------------------------------------------------- bf16 + compile, checkpoints
def test_bf16_compiled_training_checkpoints_resume_and_reload(tmp_path):
    x, y = _data()
    opts = dict(precision="bf16", compile="eager")
    first = _net(max_epochs=2, checkpoint_dir=tmp_path / "ck", **opts).fit(x, y)
    meta = json.loads((tmp_path / "ck" / "checkpoint.json").read_text())
    assert meta["epoch"] == 1 and meta["params"]["precision"] == "bf16" and "grad_scaler" not in meta
    saved = load_file(str(tmp_path / "ck" / "epoch_00001.safetensors"))
    assert not any(k.startswith("_orig_mod") for k in saved) and saved.keys() == _weights(first).keys()

    # resume to 4 epochs (compiled, and uncompiled from a copy of the same checkpoint) = uninterrupted run
    import shutil
    shutil.copytree(tmp_path / "ck", tmp_path / "ck_plain")
    resumed = _net(max_epochs=4, checkpoint_dir=tmp_path / "ck", **opts).fit(x, y)
    assert resumed.training_["epochs_run"] == 4
    assert resumed.training_["history"][:2] == first.training_["history"][:2]
    straight = _net(max_epochs=4, checkpoint_dir=tmp_path / "ck2", **opts).fit(x, y)
    assert _equal(_weights(resumed), _weights(straight))
    plain = _net(max_epochs=4, checkpoint_dir=tmp_path / "ck_plain", precision="bf16").fit(x, y)
    for k, v in _weights(straight).items():
        torch.testing.assert_close(_weights(plain)[k], v, rtol=1e-4, atol=1e-5)

    # another precision does not resume a bf16 checkpoint
    with pytest.raises(ValueError, match="trained in bf16"):
        _net(max_epochs=5, checkpoint_dir=tmp_path / "ck").fit(x, y)

    # predictions: finite, the same after save/load (precision is saved with the model, compile is not)
    pred = resumed.predict(x)
    mean, std = resumed.predict(x, return_std=True)
    assert np.isfinite(pred).all() and np.isfinite(mean).all() and (std > 0).all()
    resumed.save(tmp_path / "model")
    hyper = json.loads((tmp_path / "model" / "estimator.json").read_text())["hyperparameters"]
    assert hyper["precision"] == "bf16" and "compile" not in hyper
    again = load(tmp_path / "model")
    np.testing.assert_array_equal(again.predict(x), pred)
    np.testing.assert_array_equal(again.predict(x, return_std=True)[1], std)
    # bf16 prediction differs from fp32 prediction of the same weights, but not by much
    z32 = predict_array(resumed.network_, x)
    z16 = predict_array(resumed.network_, x, precision="bf16")
    assert not np.array_equal(z32, z16) and np.abs(z32 - z16).max() < 0.1


# ----------------------------------------------------------------------------- CLI
def test_cli_precision_and_compile_flags():
    parse = build_parser().parse_args
    base = ["train", "--data", "d.h5", "--out", "o"]
    assert _accelerator_options(parse(base + ["--config", "paper"]), {}) == {"precision": "auto", "compile": "auto"}
    assert _accelerator_options(parse(base), {}) == {}
    args = parse(base + ["--config", "paper", "--precision", "fp16", "--compile", "eager"])
    assert _accelerator_options(args, {}) == {"precision": "fp16", "compile": "eager"}
    assert _accelerator_options(parse(base + ["--compile"]), {}) == {"compile": True}
    assert _accelerator_options(parse(base + ["--config", "paper", "--compile", "off"]), {}) == \
        {"precision": "auto", "compile": False}
    assert _accelerator_options(parse(base + ["--config", "paper"]), {"precision": "fp32"}) == {"compile": "auto"}
    assert _accelerator_options(parse(base + ["--config", "paper", "--model", "xgboost"]), {}) == {}
    with pytest.raises(ValueError, match="conflicts"):
        _accelerator_options(parse(base + ["--precision", "bf16"]), {"precision": "fp32"})
    with pytest.raises(ValueError, match="networks only"):
        _accelerator_options(parse(base + ["--model", "xgboost", "--precision", "bf16"]), {})
    with pytest.raises(SystemExit):
        parse(base + ["--precision", "fp64"])


def test_cli_train_paper_based_config_end_to_end(tmp_path):
    """``glocal train`` with a (tiny) paper-based config: precision defaults to auto, --compile eager given."""
    rng = np.random.default_rng(0)
    n, wave = 40, csst_grid()
    labels = {"teff": rng.uniform(4000, 6500, n), "logg": rng.uniform(1, 5, n), "feh": rng.uniform(-4, -1, n),
              "vturb": np.full(n, 1.5), "ofe": rng.uniform(-0.2, 1.2, n), "mgfe": rng.uniform(-0.2, 1.2, n),
              "model_id": np.arange(n)}
    depth = 0.2 + 0.2 * labels["ofe"][:, None] * np.exp(-0.5 * ((wave - 3100) / 60) ** 2)
    write_dataset(tmp_path / "toy.h5", wave, (1 - depth).astype(np.float32), labels, {"engine": "test-toy"})
    config = json.dumps({"base": "paper", "dim": 16, "depth": 1, "heads": 2, "mlp_ratio": 2.0})
    rc = main(["train", "--data", str(tmp_path / "toy.h5"), "--out", str(tmp_path / "run"), "--config", config,
               "--compile", "eager", "--train-options", '{"max_epochs": 1, "batch_size": 16, "progress": false,'
               ' "device": "cpu"}'])
    assert rc == 0
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["training"]["precision"] == "auto" and cfg["training"]["compile"] == "eager"
    assert cfg["model_config"]["pool"] == "cls" and cfg["model_config"]["dim"] == 16
    est = json.loads((tmp_path / "run" / "estimator.json").read_text())
    assert est["hyperparameters"]["precision"] == "auto" and "compile" not in est["hyperparameters"]
    ck = json.loads((tmp_path / "run" / "checkpoints" / "checkpoint.json").read_text())
    assert "precision" not in ck["params"]                   # auto is fp32 on the CPU
    assert np.isfinite(json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]["ofe"]["mae"])


# ----------------------------------------------------------------------------- CUDA
@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_paper_config_on_cuda(tmp_path, monkeypatch, precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    x, y = _data(n=96, n_pix=274, seed=1)
    kw = dict(max_epochs=2, batch_size=32, lr=1e-4, average_last=2, precision=precision, compile=True)
    torch.manual_seed(0)
    model = build("spt-glocal", "paper", n_pixels=274)
    res = train_model(model, x[:80], y[:80], x[80:], y[80:], TrainOptions(**kw), run_dir=tmp_path / "ck",
                      device="cuda", progress=False)
    assert res.epochs_run == 2 and np.isfinite(res.final_val_loss) and res.params["precision"] == precision
    meta = json.loads((tmp_path / "ck" / "checkpoint.json").read_text())
    assert ("grad_scaler" in meta) == (precision == "fp16")
    # resume one more epoch with the data held in pinned host memory (batch-by-batch copies)
    monkeypatch.setattr(accel, "DEVICE_DATA_FRACTION", 0.0)
    torch.manual_seed(0)
    model = build("spt-glocal", "paper", n_pixels=274)
    res = train_model(model, x[:80], y[:80], x[80:], y[80:], TrainOptions(**{**kw, "max_epochs": 3}),
                      run_dir=tmp_path / "ck", device="cuda", progress=False)
    assert res.epochs_run == 3 and np.isfinite(res.final_val_loss)
    pred = predict_array(model, x, precision=precision)
    assert np.isfinite(pred).all()
