"""One contract for the five estimators of glocal.models (SPT-GloCal, SPT, XGBoost, LightGBM, CatBoost):
fit on an array, predict shapes, return_std, save -> load -> identical predictions, bad input rejected
with clear errors, unknown hyper-parameters rejected."""
import json

import numpy as np
import pytest
import torch

from glocal.models import ESTIMATOR_NAMES, Estimator, NotFittedError, estimator, estimator_class, load

torch.set_num_threads(2)
NETWORK = dict(config=dict(dim=8, depth=1, heads=2, mlp_ratio=2.0, patch_size=4, window=2, n_window_layers=1,
                           p=1, gamma=2, dropout=0.2), max_epochs=2, batch_size=16, lr=3e-3)
SMALL = {"spt-glocal": NETWORK, "spt": NETWORK, "xgboost": dict(n_estimators=8, max_depth=3),
         "lightgbm": dict(n_estimators=8, num_leaves=7), "catboost": dict(n_estimators=8, max_depth=3)}
N_FEATURES = 16


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    X = (1.0 - 0.3 * rng.random((n, N_FEATURES))).astype(np.float32)
    y = np.stack([X[:, 2] - X[:, 7], 0.5 + X[:, 11] ** 2], axis=1)
    return X, y


@pytest.fixture(scope="module", params=ESTIMATOR_NAMES)
def fitted(request):
    X, y = _data()
    est = estimator(request.param, label_names=["a", "b"], **SMALL[request.param])
    assert est.fit(X[:40], y[:40], X_val=X[40:], y_val=y[40:]) is est
    return est


def test_registry_lists_the_five_methods():
    assert set(ESTIMATOR_NAMES) == {"spt-glocal", "spt", "xgboost", "lightgbm", "catboost"}
    for name in ESTIMATOR_NAMES:
        cls = estimator_class(name)
        assert issubclass(cls, Estimator) and cls.name == name and cls.uncertainty in ("mc_dropout", "none")
        assert "label_names" in cls.param_names() and "seed" in cls.param_names()


def test_predict_shapes_and_dtype(fitted):
    X, _ = _data(seed=1)
    pred = fitted.predict(X)
    assert pred.shape == (len(X), 2) and pred.dtype == np.float64 and np.isfinite(pred).all()
    assert fitted.label_names_ == ["a", "b"] and fitted.n_features_in_ == N_FEATURES
    assert fitted.predict(X[:1]).shape == (1, 2)


def test_return_std(fitted):
    X, _ = _data(seed=1)
    mean, std = fitted.predict(X, return_std=True)
    assert mean.shape == std.shape == (len(X), 2)
    if fitted.uncertainty == "mc_dropout":
        # MC dropout: non-negative spreads, positive with dropout 0.2; the mean of the passes is not
        # the deterministic prediction but close to it; seeded
        assert np.isfinite(std).all() and (std >= 0).all() and (std > 0).any()
        assert not np.array_equal(mean, fitted.predict(X))
        np.testing.assert_allclose(mean, fitted.predict(X), atol=10 * std.max())
        again = fitted.predict(X, return_std=True, mc_samples=5, seed=3)
        np.testing.assert_array_equal(again[1], fitted.predict(X, return_std=True, mc_samples=5, seed=3)[1])
        with pytest.raises(ValueError, match="T must be"):
            fitted.predict(X, return_std=True, mc_samples=1)
    else:
        # trees: no predictive distribution, documented as NaN; the mean is the prediction
        assert np.isnan(std).all()
        np.testing.assert_array_equal(mean, fitted.predict(X))


def test_save_load_identical(fitted, tmp_path):
    X, _ = _data(seed=2)
    path = fitted.save(tmp_path / "est")
    assert not [p for p in path.rglob("*") if p.suffix in (".pkl", ".pickle", ".pt", ".pth", ".joblib")]
    meta = json.loads((path / "estimator.json").read_text())
    assert meta["estimator"] == fitted.name and meta["label_names"] == ["a", "b"]
    again = load(path)
    assert type(again) is type(fitted) and again.get_params(runtime=False) == json.loads(
        json.dumps(fitted.get_params(runtime=False)))
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))
    m1, s1 = fitted.predict(X, return_std=True, seed=4)
    m2, s2 = again.predict(X, return_std=True, seed=4)
    np.testing.assert_array_equal(m2, m1)
    np.testing.assert_array_equal(s2, s1)


def test_bad_shapes_rejected(fitted):
    X, y = _data()
    fresh = estimator(fitted.name, **SMALL[fitted.name])
    with pytest.raises(ValueError, match="X must be 2-D"):
        fresh.fit(X[0], y[:1])
    with pytest.raises(ValueError, match="X must be 2-D"):
        fresh.fit(X[None], y)
    with pytest.raises(ValueError, match="y has 30 rows but X has 48"):
        fresh.fit(X, y[:30])
    with pytest.raises(ValueError, match="y must be"):
        fresh.fit(X, y[:, :, None])
    with pytest.raises(ValueError, match="X_val has 15 features"):
        fresh.fit(X[:40], y[:40], X_val=X[40:, :15], y_val=y[40:])
    with pytest.raises(ValueError, match="both X_val and y_val"):
        fresh.fit(X[:40], y[:40], X_val=X[40:])
    with pytest.raises(ValueError, match="y_val has 1 label columns"):
        fresh.fit(X[:40], y[:40], X_val=X[40:], y_val=y[40:, :1])
    with pytest.raises(ValueError, match="X has 15 features, the estimator was fitted on 16"):
        fitted.predict(X[:, :15])
    with pytest.raises(ValueError, match="X must be 2-D"):
        fitted.predict(X[0])
    with pytest.raises(ValueError, match="3 label_names for 2 label columns"):
        estimator(fitted.name, label_names=["a", "b", "c"], **SMALL[fitted.name]).fit(X, y)


def test_nan_and_inf_rejected(fitted):
    X, y = _data()
    fresh = estimator(fitted.name, **SMALL[fitted.name])
    bad = X.copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match=r"X contains 1 NaN or infinite value\(s\) \(first at row 3, column 5\)"):
        fresh.fit(bad, y)
    yi = y.copy()
    yi[7, 1] = np.inf
    with pytest.raises(ValueError, match=r"y contains 1 NaN or infinite value\(s\) \(first at row 7, column 1\)"):
        fresh.fit(X, yi)
    with pytest.raises(ValueError, match="X_val contains"):
        fresh.fit(X[:40], y[:40], X_val=bad[:8], y_val=y[:8])
    with pytest.raises(ValueError, match="X contains"):
        fitted.predict(bad)
    assert not fresh.is_fitted


def test_unfitted_and_unknown_hyperparameters(tmp_path):
    for name in ESTIMATOR_NAMES:
        est = estimator(name, **SMALL[name])
        with pytest.raises(NotFittedError, match=f"{name} estimator is not fitted"):
            est.predict(np.ones((2, N_FEATURES)))
        with pytest.raises(NotFittedError):
            est.save(tmp_path / name)
        with pytest.raises(TypeError, match=r"unknown hyper-parameter\(s\) \['n_trees'\].*valid: .*seed"):
            estimator(name, n_trees=5)
        with pytest.raises(TypeError):
            estimator_class(name)(n_trees=5)
        rebuilt = estimator(name, **est.get_params())
        assert rebuilt.get_params() == est.get_params()


def test_fit_on_arrays_touches_no_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    X, y = _data()
    for name in ESTIMATOR_NAMES:
        est = estimator(name, **SMALL[name]).fit(X, y[:, 0])          # 1-D y: one label
        assert est.predict(X).shape == (len(X), 1) and est.label_names_ == ["y0"]
    assert list(tmp_path.iterdir()) == []


def test_networks_hold_out_a_validation_split_when_none_is_given():
    X, y = _data()
    est = estimator("spt", validation_fraction=0.25, **NETWORK).fit(X, y)
    assert est.training_["params"]["n_train"] == 36 and est.training_["params"]["n_val"] == 12
    with pytest.raises(ValueError, match="validation_fraction"):
        estimator("spt", validation_fraction=1.0)
    with pytest.raises(ValueError, match="need at least 2"):
        estimator("spt", **NETWORK).fit(X[:2], y[:2])
