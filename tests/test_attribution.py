import numpy as np
import pytest
import torch

from glocal.attribution import integrated_gradients, occlusion


class Linear(torch.nn.Module):
    """f(x) = w·x: integrated gradients are exactly w_i (x_i − b_i), occlusion w_i (x_i − fill)."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(torch.as_tensor(w, dtype=torch.float32)[:, None])
        self.n_pixels = len(w)

    def forward(self, x):
        return x @ self.w


def test_linear_model_has_analytic_attributions():
    rng = np.random.default_rng(1)
    w = rng.normal(size=12)
    x = rng.uniform(0.3, 1.0, size=(4, 12)).astype(np.float32)
    m = Linear(w)
    ig = integrated_gradients(m, x, 0, steps=4)
    np.testing.assert_allclose(ig, w * (x - 1.0), rtol=1e-5, atol=1e-6)
    occ = occlusion(m, x, 0, width=1)
    np.testing.assert_allclose(occ, w * (x - 1.0), rtol=1e-5, atol=1e-6)


def test_completeness_on_nonlinear_model():
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(20, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    x = np.random.default_rng(0).uniform(0.5, 1.0, size=(3, 20)).astype(np.float32)
    ig = integrated_gradients(m, x, 1, steps=200)
    with torch.no_grad():
        diff = (m(torch.as_tensor(x)) - m(torch.ones(3, 20)))[:, 1].numpy()
    np.testing.assert_allclose(ig.sum(axis=1), diff, rtol=1e-3, atol=1e-5)


def test_bad_input():
    m = Linear(np.ones(5))
    with pytest.raises(ValueError, match="NaN"):
        integrated_gradients(m, np.full((1, 5), np.nan), 0)
    with pytest.raises(ValueError, match="pixels"):
        occlusion(m, np.ones((1, 6)), 0)
    with pytest.raises(ValueError, match="n_spectra"):
        occlusion(m, np.ones(5), 0)
