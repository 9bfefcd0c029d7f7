"""Tests of run directories: train, save, load, predict on other grids, evaluate with noise."""
import hashlib
import json

import numpy as np
import pytest
import torch

from glocal.dataset import load_dataset, write_dataset
from glocal.degrade import csst_grid, degrade
from glocal.runs import (
    evaluate_ensemble,
    evaluate_run,
    load_run,
    predict,
    predict_arrays,
    predict_ensemble,
    train_ensemble,
    train_run,
)

torch.set_num_threads(2)
TINY = dict(dim=16, depth=1, heads=2, mlp_ratio=2.0, patch_size=8, window=4, n_window_layers=1,
            p=2, alpha=0.8, gamma=2, dropout=0.1)
FAST = dict(max_epochs=2, batch_size=16, lr=3e-3, progress=False, device="cpu")


def _spectra(wave, ofe, mgfe, feh):
    """Toy continuum-normalised spectra: Gaussian lines whose depths follow the labels."""
    def line(center, width, depth):
        return depth[:, None] * np.exp(-0.5 * ((wave[None, :] - center) / width) ** 2)
    f = 1 - line(3100, 60, 0.3 + 0.2 * ofe) - line(5170, 40, 0.2 + 0.2 * mgfe) \
        - line(3900, 50, 0.4 + 0.1 * feh)
    return np.clip(f, 0.05, None)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 64
    wave = csst_grid()
    labels = {"teff": rng.uniform(4000, 6500, n), "logg": rng.uniform(1, 5, n),
              "feh": rng.uniform(-4, -1, n), "vturb": np.full(n, 1.5),
              "ofe": rng.choice(np.arange(-0.2, 1.3, 0.2), n), "mgfe": rng.choice(np.arange(-0.2, 1.3, 0.2), n),
              "model_id": np.arange(n) // 2}
    flux = _spectra(wave, labels["ofe"], labels["mgfe"], labels["feh"]).astype(np.float32)
    path = tmp_path_factory.mktemp("data") / "toy.h5"
    write_dataset(path, wave, flux, labels, {"engine": "test-toy", "note": "unit-test spectra"})
    return path


@pytest.fixture(scope="module")
def glocal_run(data_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "glocal"
    return train_run(data_file, "spt-glocal", "full", TINY, "random", out, seed=0, **FAST)


def test_run_directory_contents(glocal_run, data_file):
    d = glocal_run.path
    for name in ("config.json", "estimator.json", "model.safetensors", "metrics.json",
                 "provenance.json", "wave.npy", "split.npz"):
        assert (d / name).is_file(), name
    assert not [p for p in d.rglob("*") if p.suffix in (".pkl", ".pt", ".pth", ".pickle")]
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["model"] == "spt-glocal" and cfg["labels"] == ["ofe", "mgfe"] and cfg["band"] == "full"
    assert cfg["model_config"]["dim"] == 16 and cfg["training"]["max_epochs"] == 2
    prov = json.loads((d / "provenance.json").read_text())
    assert prov["dataset_sha256"] == hashlib.sha256(data_file.read_bytes()).hexdigest()
    assert prov["dataset_provenance"]["engine"] == "test-toy"
    assert prov["wave"]["n"] == 274 and prov["wave"]["R"] == pytest.approx(200, rel=1e-9)
    split = np.load(d / "split.npz")
    assert sorted(np.concatenate([split[k] for k in ("train", "val", "test")])) == list(range(64))
    metrics = json.loads((d / "metrics.json").read_text())
    assert metrics["training"]["epochs_run"] == 2 and {"val", "test"} <= set(metrics)
    est = json.loads((d / "estimator.json").read_text())
    assert est["estimator"] == "spt-glocal" and est["label_names"] == ["ofe", "mgfe"] and est["n_features"] == 274
    assert est["hyperparameters"]["max_epochs"] == 2 and est["hyperparameters"]["seed"] == 0
    assert "device" not in est["hyperparameters"] and "checkpoint_dir" not in est["hyperparameters"]
    assert (d / "checkpoints" / "checkpoint.json").is_file()


def test_load_run_reproduces_predictions(glocal_run, data_file):
    ds = load_dataset(data_file)
    again = load_run(glocal_run.path)
    a = predict(glocal_run, ds.wave, ds.flux[:5], uncertainty="none")
    b = predict(again, ds.wave, ds.flux[:5], uncertainty="none")
    assert list(a) == ["ofe", "ofe_std", "mgfe", "mgfe_std"]
    for key in ("ofe", "mgfe"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-7)
        assert a[key].shape == (5,) and np.isnan(a[key + "_std"]).all()
    mc = predict(again, ds.wave, ds.flux[:5], T=6)
    assert (mc["ofe_std"] > 0).all() and (mc["mgfe_std"] > 0).all()
    one = predict(again, ds.wave, ds.flux[0], uncertainty="none")       # single 1-D spectrum
    np.testing.assert_allclose(one["mgfe"][0], b["mgfe"][0], rtol=1e-6, atol=1e-7)
    import pandas as pd
    assert pd.DataFrame(mc).shape == (5, 4)


def test_predict_grid_handling(glocal_run, data_file):
    ds = load_dataset(data_file)
    with pytest.raises(ValueError, match="wavelength grid mismatch"):
        predict(glocal_run, ds.wave + 1.0, ds.flux[:2], uncertainty="none")
    with pytest.raises(ValueError, match="increasing"):
        predict(glocal_run, ds.wave[::-1], ds.flux[:2], uncertainty="none")
    with pytest.raises(ValueError, match="flux must be"):
        predict(glocal_run, ds.wave, ds.flux[:2, :100], uncertainty="none")
    bad = ds.flux[:2].copy()
    bad[0, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        predict(glocal_run, ds.wave, bad, uncertainty="none")
    # a high-resolution spectrum is degraded onto the run's grid (paper Eqs 8–11)
    hi_wave = np.arange(2400.0, 10200.0, 0.5)
    labels = (np.array([0.4]), np.array([0.8]), np.array([-2.0]))
    hi = _spectra(hi_wave, *labels)
    direct = predict_arrays(glocal_run, hi_wave, hi, uncertainty="none")[0]
    _, low = degrade(hi_wave, hi, R=200, grid=glocal_run.wave)
    expect = predict_arrays(glocal_run, glocal_run.wave, np.atleast_2d(low), uncertainty="none")[0]
    np.testing.assert_allclose(direct, expect, rtol=1e-6, atol=1e-7)


def test_optical_band_run_and_subgrid(data_file, tmp_path):
    run = train_run(data_file, "spt", "optical", TINY, "grouped", tmp_path / "opt", seed=1, **FAST)
    assert run.wave.min() >= 4000 and run.wave.size < 274
    ds = load_dataset(data_file)
    sel = ds.wave >= 4000
    full = predict_arrays(run, ds.wave, ds.flux[:3], uncertainty="none")[0]
    band = predict_arrays(run, ds.wave[sel], ds.flux[:3, sel], uncertainty="none")[0]
    np.testing.assert_allclose(full, band, rtol=1e-6, atol=1e-7)
    # grouped split: no model_id in two parts
    ids = {k: set(ds.labels["model_id"][v]) for k, v in run.split.items()}
    assert not (ids["train"] & ids["test"]) and not (ids["train"] & ids["val"])


def test_evaluate_run_with_noise(glocal_run, data_file, tmp_path):
    res = evaluate_run(glocal_run, data_file, snr_list=[30, 50], seed=3, uncertainty="mc_dropout",
                       T=4, return_predictions=True)
    assert set(res) == {"noiseless", "snr_30", "snr_50"}
    plain = evaluate_run(glocal_run, load_dataset(data_file), snr_list=[30], seed=3, save=False)
    json.dumps(plain)                                    # JSON-ready without the arrays
    stored = json.loads((glocal_run.path / "metrics.json").read_text())
    np.testing.assert_allclose(stored["evaluation"]["test/noiseless"]["metrics"]["ofe"]["n"],
                               len(glocal_run.split["test"]))
    noisy = res["snr_30"]
    assert not np.allclose(noisy["y_pred"], res["noiseless"]["y_pred"])
    # metrics recomputed independently from the returned arrays (Eqs 18–19)
    r = noisy["y_true"][:, 0] - noisy["y_pred"][:, 0]
    assert noisy["metrics"]["ofe"]["mae"] == pytest.approx(np.abs(r).mean())
    assert noisy["metrics"]["ofe"]["sigma"] == pytest.approx(r.std(ddof=1))
    assert 0 <= noisy["calibration"]["mgfe"]["cov68"] <= noisy["calibration"]["mgfe"]["cov95"] <= 1
    # the same seed reproduces the noisy spectra
    res2 = evaluate_run(glocal_run, data_file, snr_list=[30], seed=3, save=False,
                        return_predictions=True)
    res3 = evaluate_run(glocal_run, data_file, snr_list=[30], seed=3, save=False,
                        return_predictions=True)
    np.testing.assert_array_equal(res2["snr_30"]["y_pred"], res3["snr_30"]["y_pred"])
    assert res2["snr_30"]["metrics"] == plain["snr_30"]["metrics"]
    # another dataset is refused: the split indices would not apply
    ds = load_dataset(data_file)
    other = tmp_path / "other.h5"
    write_dataset(other, ds.wave, ds.flux * 0.99, ds.labels, {"engine": "x"})
    with pytest.raises(ValueError, match="differs"):
        evaluate_run(glocal_run, other)


def test_tree_run_roundtrip(data_file, tmp_path):
    run = train_run(data_file, "xgboost", "full", {"n_estimators": 15, "max_depth": 3},
                    out=tmp_path / "xgb")
    assert sorted(p.name for p in (tmp_path / "xgb").iterdir()) == \
        ["config.json", "estimator.json", "metrics.json", "provenance.json", "split.npz", "tree_xgboost_0.json",
         "tree_xgboost_1.json", "wave.npy"]                 # no checkpoints/ for trees
    assert json.loads((tmp_path / "xgb" / "config.json").read_text())["model_config"] == \
        {"n_estimators": 15, "max_depth": 3}
    ds = load_dataset(data_file)
    again = load_run(tmp_path / "xgb")
    a = predict(run, ds.wave, ds.flux[:4])
    np.testing.assert_array_equal(predict(again, ds.wave, ds.flux[:4])["ofe"], a["ofe"])
    assert np.isnan(a["ofe_std"]).all()
    assert "xgboost" in repr(again) and len(repr(again)) < 200
    with pytest.raises(TypeError, match="unknown hyper-parameter.*max_epochs"):
        train_run(data_file, "lightgbm", "full", out=tmp_path / "lgb", max_epochs=3)
    with pytest.raises(ValueError, match="config must be"):
        train_run(data_file, "catboost", "full", config="huge", out=tmp_path / "cb")
    paper = train_run(data_file, "catboost", "full", config="paper", n_estimators=3)    # defaults, in memory
    assert paper.config["model_config"] == {} and paper.estimator.max_depth == 6 and paper.path is None


def test_train_run_in_memory_matches_run_directory(data_file, glocal_run, tmp_path, monkeypatch):
    """Without ``out`` nothing is written, and the run equals the one trained into a directory."""
    monkeypatch.chdir(tmp_path)
    run = train_run(load_dataset(data_file), "spt-glocal", "full", TINY, "random", seed=0, **FAST)
    assert run.path is None and list(tmp_path.iterdir()) == []
    for k, v in glocal_run.model.state_dict().items():
        torch.testing.assert_close(run.model.state_dict()[k], v, rtol=0, atol=0)
    assert run.metrics["test"] == glocal_run.metrics["test"]
    drop = lambda hist: [{k: v for k, v in h.items() if k != "seconds"} for h in hist]    # noqa: E731
    assert drop(run.metrics["training"]["history"]) == drop(glocal_run.metrics["training"]["history"])
    assert "in memory" in repr(run)
    ev = evaluate_run(run, load_dataset(data_file), snr_list=[40], seed=1)     # save=True: kept in memory
    assert "test/snr_40" in run.metrics["evaluation"] and list(tmp_path.iterdir()) == []
    assert ev["snr_40"]["metrics"] == evaluate_run(glocal_run, data_file, snr_list=[40], seed=1,
                                                   save=False)["snr_40"]["metrics"]


def test_legacy_run_directory_is_read(glocal_run, data_file, tmp_path):
    """Runs of format version 1 (scaler.json, trees/trees.json; no estimator.json) still load and
    predict as the estimator they were written from."""
    import shutil

    from glocal.models import estimator
    legacy = tmp_path / "legacy"
    shutil.copytree(glocal_run.path, legacy, ignore=shutil.ignore_patterns("checkpoints"))
    est = json.loads((legacy / "estimator.json").read_text())
    (legacy / "estimator.json").unlink()
    (legacy / "scaler.json").write_text(json.dumps(est["scaler"]))
    with pytest.raises(FileNotFoundError, match="estimator.json"):
        load_run(legacy)                                  # a version-2 run needs its estimator.json
    cfg = json.loads((legacy / "config.json").read_text())
    (legacy / "config.json").write_text(json.dumps(dict(cfg, format_version=1)))
    old = load_run(legacy)
    ds = load_dataset(data_file)
    np.testing.assert_array_equal(predict_arrays(old, ds.wave, ds.flux[:5], T=4)[1],
                                  predict_arrays(glocal_run, ds.wave, ds.flux[:5], T=4)[1])
    assert old.estimator.get_params()["max_epochs"] == 2 and old.estimator.training_["epochs_run"] == 2
    # a version-1 tree run: trees/ with trees.json whose params use the old names
    x = ds.flux[:40].astype(np.float32)
    y = ds.label_matrix(["ofe", "mgfe"])[:40]
    tree = estimator("lightgbm", n_estimators=8, seed=3, label_names=["ofe", "mgfe"]).fit(x, y)
    tdir = tmp_path / "legacy_tree"
    (tdir / "trees").mkdir(parents=True)
    for name in ("wave.npy", "provenance.json"):
        shutil.copy2(legacy / name, tdir / name)
    cfg = dict(json.loads((legacy / "config.json").read_text()), model="lightgbm", model_config={}, training={})
    (tdir / "config.json").write_text(json.dumps(cfg))
    (tdir / "scaler.json").write_text(json.dumps(tree.scaler_.to_dict()))
    files = []
    for j, b in enumerate(tree.boosters_):
        b.save_model(str(tdir / "trees" / f"tree_lightgbm_{j}.txt"))
        files.append(f"tree_lightgbm_{j}.txt")
    params = dict(n_estimators=8, learning_rate=0.05, max_depth=6, num_leaves=63, subsample=0.8, colsample=0.5,
                  n_jobs=2, random_state=3)
    (tdir / "trees" / "trees.json").write_text(json.dumps(dict(kind="lightgbm", params=params, n_labels=2,
                                                               n_features=274, files=files)))
    back = load_run(tdir)
    assert back.estimator.seed == 3 and back.estimator.n_estimators == 8
    np.testing.assert_array_equal(back.estimator.predict(x), tree.predict(x))


def test_run_errors_and_resume(glocal_run, data_file, tmp_path):
    with pytest.raises(ValueError, match="different configuration"):
        train_run(data_file, "spt-glocal", "optical", TINY, "random", glocal_run.path, **FAST)
    with pytest.raises(ValueError, match="unknown model"):
        train_run(data_file, "resnet", out=tmp_path / "r")
    with pytest.raises(FileNotFoundError):
        train_run(tmp_path / "missing.h5", "spt", out=tmp_path / "r")
    with pytest.raises(FileNotFoundError):
        load_run(tmp_path / "nowhere")
    # resuming the same configuration reuses the finished checkpoints (same weights)
    again = train_run(data_file, "spt-glocal", "full", TINY, "random", glocal_run.path, seed=0, **FAST)
    for k, v in glocal_run.model.state_dict().items():
        torch.testing.assert_close(again.model.state_dict()[k], v)
    # corrupt / inconsistent files
    import shutil
    broken = tmp_path / "broken"
    shutil.copytree(glocal_run.path, broken)
    np.save(broken / "wave.npy", np.arange(10.0))
    with pytest.raises(ValueError, match="points"):
        load_run(broken)
    (broken / "config.json").write_text("{oops")
    with pytest.raises(ValueError, match="corrupt"):
        load_run(broken)
    shutil.rmtree(broken)
    shutil.copytree(glocal_run.path, broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_run(broken)


def test_deep_ensemble(data_file, tmp_path):
    runs = train_ensemble(data_file, "spt", seeds=(0, 1), out=tmp_path / "ens", config=TINY,
                          **{**FAST, "max_epochs": 1})
    assert all(np.array_equal(runs[0].split[k], runs[1].split[k]) for k in ("train", "test"))
    ds = load_dataset(data_file)
    out = predict_ensemble([r.path for r in runs], ds.wave, ds.flux[:6])
    assert out["ofe"].shape == (6,) and (out["ofe_std"] > 0).all()
    p0 = predict(runs[0], ds.wave, ds.flux[:6], uncertainty="none")["ofe"]
    p1 = predict(runs[1], ds.wave, ds.flux[:6], uncertainty="none")["ofe"]
    np.testing.assert_allclose(out["ofe"], (p0 + p1) / 2, rtol=1e-9)
    np.testing.assert_allclose(out["ofe_std"], np.abs(p0 - p1) / np.sqrt(2), rtol=1e-9)
    ev = evaluate_ensemble(runs, data_file, snr_list=[40], seed=0, return_predictions=True)
    m0 = evaluate_run(runs[0], data_file, snr_list=[40], seed=0, save=False, return_predictions=True)
    m1 = evaluate_run(runs[1], data_file, snr_list=[40], seed=0, save=False, return_predictions=True)
    mean = (m0["snr_40"]["y_pred"] + m1["snr_40"]["y_pred"]) / 2
    np.testing.assert_allclose(ev["snr_40"]["y_pred"], mean, rtol=1e-9)
    half = np.abs(m0["snr_40"]["y_pred"] - m1["snr_40"]["y_pred"]) / np.sqrt(2)
    inside = np.abs(ev["snr_40"]["y_true"] - mean) <= 1.959964 * half
    assert ev["snr_40"]["calibration"]["mgfe"]["cov95"] == pytest.approx(inside[:, 1].mean())


def test_export_run_is_compact_and_predicts_alike(glocal_run, data_file, tmp_path):
    from glocal.runs import export_run
    out = export_run(glocal_run, tmp_path / "exported", note="unit test")
    names = sorted(p.name for p in out.iterdir())
    assert names == ["config.json", "estimator.json", "metrics.json", "model.safetensors", "provenance.json",
                     "wave.npy"]
    assert (out / "model.safetensors").stat().st_size < 0.6 * (glocal_run.path / "model.safetensors").stat().st_size
    ds = load_dataset(data_file)
    a = predict(glocal_run, ds.wave, ds.flux[:8], uncertainty="none")
    b = predict(out, ds.wave, ds.flux[:8], uncertainty="none")
    for k in ("ofe", "mgfe"):
        np.testing.assert_allclose(b[k], a[k], atol=2e-3)
    assert json.loads((out / "provenance.json").read_text())["export"]["weights_dtype"] == "float16"
    with pytest.raises(FileExistsError):
        export_run(glocal_run, out)


def test_unknown_pretrained_name_is_a_clear_error():
    with pytest.raises(ValueError, match="no shipped run"):
        load_run("pretrained:does-not-exist")


# ----------------------------------------------------------------------------- command line
@pytest.mark.parametrize("argv", [[], ["grid"], ["grid", "info"], ["grid", "build"], ["degrade"], ["train"],
                                  ["evaluate"], ["predict"], ["pretrained"]])
def test_cli_help(argv, capsys):
    from glocal.cli import main
    with pytest.raises(SystemExit) as exc:
        main(argv + ["--help"])
    assert exc.value.code == 0
    assert "usage: glocal" in capsys.readouterr().out


def test_cli_choices_come_from_the_registries(capsys):
    from glocal.cli import build_parser
    from glocal.models import ESTIMATOR_NAMES
    from glocal.synthesis import available_engines
    args = build_parser().parse_args(["grid", "build", "--out", "x.h5"])
    assert args.engine == "builtin" and "builtin" in available_engines()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["grid", "build", "--out", "x.h5", "--engine", "nope"])
    assert "invalid choice" in capsys.readouterr().err
    for name in ESTIMATOR_NAMES:
        assert build_parser().parse_args(["train", "--data", "d.h5", "--out", "o", "--model", name]).model == name


def test_cli_reads_gzipped_fits_tables(tmp_path):
    import gzip
    import shutil

    from astropy.table import Table

    from glocal.cli import read_spectra
    wave, flux = np.linspace(3000.0, 9000.0, 50), np.linspace(0.5, 1.0, 50)
    Table({"WAVE": wave, "FLUX": flux}).write(tmp_path / "star.fits")
    with open(tmp_path / "star.fits", "rb") as src, gzip.open(tmp_path / "star.fits.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    w, f, labels, names = read_spectra(tmp_path / "star.fits.gz")
    np.testing.assert_array_equal(w, wave)
    assert f.shape == (1, 50) and labels is None and names == ["star"]
    np.testing.assert_array_equal(f[0], flux)
    (tmp_path / "star.txt").write_text("1 2")
    with pytest.raises(ValueError, match="unsupported format"):
        read_spectra(tmp_path / "star.txt")


def test_cli_train_evaluate_predict(data_file, tmp_path, capsys):
    import pandas as pd

    from glocal.cli import main
    out = tmp_path / "run"
    assert main(["train", "--data", str(data_file), "--model", "xgboost", "--config", '{"n_estimators": 5}',
                 "--out", str(out)]) == 0
    assert (out / "estimator.json").is_file()
    assert main(["evaluate", str(out), "--data", str(data_file), "--snr", "30"]) == 0
    assert "snr_30" in capsys.readouterr().out
    assert main(["predict", str(data_file), "--run", str(out), "-o", str(tmp_path / "p.csv")]) == 0
    table = pd.read_csv(tmp_path / "p.csv")
    schema = {"source", "index", "band", "flux_kind", "flag", "teff", "logg", "feh", "ofe", "ofe_std", "mgfe",
              "mgfe_std", "teff_std"}
    assert schema <= set(table.columns) and len(table) == 64
    assert (table["flag"].fillna("") == "").all() and table[["ofe", "mgfe"]].notna().all().all()
    assert table["teff"].isna().all()  # a two-label run predicts no Teff: NaN, never a number
    assert main(["train", "--data", str(data_file), "--model", "xgboost", "--out", str(tmp_path / "r2"),
                 "--train-options", '{"max_epochs": 3}']) == 2
    assert "unknown hyper-parameter" in capsys.readouterr().err


def test_cli_grid_presets_and_limit():
    """`grid info` describes every preset with its own variants; `grid build --limit` reaches build_grid."""
    from glocal import grid
    from glocal.cli import build_parser
    for name in grid.PRESETS:
        args = build_parser().parse_args(["grid", "build", "--preset", name, "--out", "x.h5", "--limit", "3"])
        assert args.limit == 3 and args.preset == name
    assert build_parser().parse_args(["grid", "build", "--out", "x.h5"]).limit is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["grid", "build", "--preset", "nope", "--out", "x.h5"])


def test_cli_grid_info_realstars(capsys):
    from glocal.cli import main
    assert main(["grid", "info", "--preset", "realstars", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_variants"] == 20 and info["n_spectra"] == 20 * info["n_models"] >= 30000
