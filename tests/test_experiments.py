import json

import numpy as np

from glocal import experiments


class FakeRun:
    name = "spt-glocal"
    config = {"band": "full", "split": {"kind": "grouped", "fractions": [0.8, 0.1, 0.1], "seed": 0}}


def test_records_and_headline_merge(tmp_path):
    res = {"noiseless": {"metrics": {"ofe": {"mae": 0.1, "sigma": 0.2, "bias": 0.0, "n": 10}}},
           "snr_30": {"metrics": {"ofe": {"mae": 0.3, "sigma": 0.4, "bias": 0.01, "n": 10}}}}
    recs = experiments.metrics_records(FakeRun(), res, scale="ci")
    assert [r["snr"] for r in recs] == [None, 30.0]
    assert all(r["split"] == "grouped" and r["band"] == "full" and r["study"] == "paper" for r in recs)
    path = experiments.write_headline(recs, "ci", root=tmp_path)
    # a second write with a changed value replaces the record with the same key, adds new ones
    recs2 = [dict(recs[0], mae=np.float64(0.05)), dict(recs[0], label="mgfe")]
    experiments.write_headline(recs2, "ci", root=tmp_path)
    data = json.loads(path.read_text())
    assert len(data) == 3
    ofe_clean = [r for r in data if r["label"] == "ofe" and r["snr"] is None]
    assert ofe_clean[0]["mae"] == 0.05


def test_paper_tables_are_complete():
    assert len(experiments.PAPER_TABLE2) == 10
    assert len(experiments.PAPER_TABLE3) == 5 * 2 * 3
    # Table 1 full-band row equals Table 2's SPT-GloCal [O/Fe] entry in the paper
    assert experiments.PAPER_TABLE1[("full", "ofe")] == experiments.PAPER_TABLE2[("spt-glocal", "ofe")]


def test_grid_dataset_subsamples_and_caches(tmp_path, monkeypatch):
    calls = []

    def fake_build(nodes, path, **kw):
        calls.append(nodes)
        path.write_bytes(b"x")
        return {"n_failed": 0}

    import glocal.build
    monkeypatch.setattr(glocal.build, "build_grid", fake_build)
    monkeypatch.setenv("GLOCAL_CACHE", str(tmp_path))
    p = experiments.grid_dataset("ci", engine="builtin", n_models=5, progress=False)
    again = experiments.grid_dataset("ci", engine="builtin", n_models=5, progress=False)
    assert p == again and len(calls) == 1
    nodes = calls[0]
    assert nodes.size == 5 and np.all(np.diff(nodes["model_id"]) > 0)
    experiments.grid_dataset("ci", engine="builtin", progress=False)
    assert calls[1] == "ci"
    import pytest
    with pytest.raises(ValueError, match="n_models"):
        experiments.grid_dataset("ci", engine="builtin", n_models=0)


def test_grid_dataset_default_engine_is_builtin(tmp_path, monkeypatch):
    import inspect

    import glocal.build
    seen = {}

    def fake_build(nodes, path, **kw):
        seen.update(kw)
        path.write_bytes(b"x")
        return {"n_failed": 0}

    monkeypatch.setattr(glocal.build, "build_grid", fake_build)
    monkeypatch.setenv("GLOCAL_CACHE", str(tmp_path))
    assert inspect.signature(experiments.grid_dataset).parameters["engine"].default == "builtin"
    experiments.grid_dataset("ci", n_models=3, progress=False)
    assert seen["engine"] == "builtin"


def test_trained_run_is_cached_and_trees_ignore_network_options(tmp_path, monkeypatch):
    from glocal.dataset import write_dataset
    from glocal.degrade import csst_grid
    monkeypatch.setenv("GLOCAL_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    wave, n = csst_grid(), 40
    labels = {"teff": rng.uniform(4000, 6500, n), "logg": rng.uniform(1, 5, n), "feh": rng.uniform(-4, -1, n),
              "vturb": np.full(n, 1.5), "ofe": rng.uniform(-0.2, 1.2, n), "mgfe": rng.uniform(-0.2, 1.2, n),
              "model_id": np.arange(n)}
    flux = (1 - 0.2 * labels["ofe"][:, None] * np.exp(-0.5 * ((wave - 3100) / 60) ** 2)).astype(np.float32)
    data = tmp_path / "toy.h5"
    write_dataset(data, wave, flux, labels, {"engine": "toy"})
    kw = dict(config={"n_estimators": 5}, train={"max_epochs": 3})
    run = experiments.trained_run(data, "xgboost", **kw)
    assert run.name == "xgboost" and run.config["training"] == {} and run.estimator.n_estimators == 5
    again = experiments.trained_run(data, "xgboost", **kw)
    assert again.path == run.path
    assert json.loads((run.path / "metrics.json").read_text()) == again.metrics
