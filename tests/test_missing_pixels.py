"""Estimators with ``missing=True`` read NaN as a pixel that was not measured (issue 25: one run for
any coverage); without it NaN stays an error."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from glocal.models import build, estimator


def data(n=200, p=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, p)).astype(np.float32)
    y = np.c_[X[:, :5].sum(1), X[:, 5:9].mean(1)]
    Xm = X.copy()
    Xm[rng.random(X.shape) < 0.2] = np.nan
    return X, Xm, y


@pytest.mark.parametrize("name", ["xgboost", "lightgbm", "catboost"])
def test_trees_with_missing(name):
    X, Xm, y = data()
    est = estimator(name, n_estimators=30, missing=True).fit(Xm, y)
    assert np.isfinite(est.predict(Xm)).all()
    with pytest.raises(ValueError, match="NaN or infinite"):
        estimator(name, n_estimators=5).fit(Xm, y)


def test_network_mask_embedding():
    X, Xm, y = data()
    est = estimator("spt-glocal", config={"missing": True, "patch_size": 4}, max_epochs=2).fit(Xm, y)
    mean, std = est.predict(Xm, return_std=True, mc_samples=3)
    assert np.isfinite(mean).all() and np.isfinite(std).all()
    net = est.network_
    x = torch.as_tensor(X[:4])
    at_mean = x.clone()
    at_mean[:, 7] = net.input_mean[7]                   # a measured pixel at the training mean …
    gone = x.clone()
    gone[:, 7] = float("nan")                           # … and the same pixel missing: told apart
    with torch.no_grad():
        assert not torch.allclose(net(at_mean), net(gone))
    with pytest.raises(ValueError, match="no measured pixel"):
        est.predict(np.full((1, X.shape[1]), np.nan))
    bad = X[:2].copy()
    bad[0, 3] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        est.predict(bad)
    with pytest.raises(ValueError, match="NaN or infinite"):
        estimator("spt", max_epochs=1).fit(Xm, y)


def test_never_measured_pixel_is_always_missing():
    """A pixel with no data in training keeps a NaN mean and is read as missing whatever its value."""
    X, Xm, y = data(seed=1)
    Xm[:, 0] = np.nan
    est = estimator("spt", config={"missing": True, "patch_size": 4}, max_epochs=1).fit(Xm, y)
    assert torch.isnan(est.network_.input_mean[0])
    a, b = X[:3].copy(), X[:3].copy()
    b[:, 0] = 123.0
    assert np.allclose(est.predict(a), est.predict(b))


def test_old_configs_have_no_mask_embedding():
    net = build("spt-glocal", "cpu", n_pixels=64)
    assert net.mask_embed is None and not net.missing
    assert not any("mask_embed" in k for k in net.state_dict())
