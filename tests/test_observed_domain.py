"""The domain check of observed-spectra runs (glocal.observed.domain): in-domain spectra pass at the
stated rate, spectra with features the training set never had are caught, smooth factors are absorbed."""
from __future__ import annotations

import numpy as np
import pytest

from glocal.degrade import csst_grid
from glocal.observed.domain import SpectrumDomain, fit_domain


def family(n, seed, noise=0.0, extra_line=None):
    """Spectra with 3 lines whose depths vary (a 3-parameter family), optionally a 4th, foreign line."""
    wave = csst_grid()
    rng = np.random.default_rng(seed)
    depth = rng.uniform(0.05, 0.5, (n, 3))
    prof = np.exp(-0.5 * ((wave[None, :] - np.array([[3933.0], [5175.0], [6563.0]])) / 30.0) ** 2)
    x = 1.0 - depth @ prof
    if extra_line is not None:
        x -= 0.3 * np.exp(-0.5 * ((wave - extra_line) / 30.0) ** 2)
    return wave, x + noise * rng.standard_normal(x.shape)


def test_threshold_rate_foreign_features_and_smooth_factors(tmp_path):
    wave, clean = family(300, 0)
    _, ref = family(500, 1, noise=0.02)
    ref[:, :20] = np.nan                                           # masked blue end in the reference set
    dom = fit_domain(wave, clean, ref, n_components=5)
    _, fresh = family(2000, 2, noise=0.02)
    rate = np.mean(dom.misfit(fresh) > dom.threshold)
    assert 0.0 <= rate < 0.03                                     # ~1 % by construction (fresh draws)
    _, foreign = family(50, 3, noise=0.02, extra_line=4500.0)
    assert np.all(dom.misfit(foreign) > dom.threshold)
    tilt = 1.0 + 0.05 * (wave - 6000.0) / 4000.0                 # a smooth calibration error is absorbed
    assert np.mean(dom.misfit(fresh[:200] * tilt) > dom.threshold) < 0.05
    dom.save(tmp_path / "d.npz")
    again = SpectrumDomain.load(tmp_path / "d.npz")
    assert np.allclose(again.misfit(foreign), dom.misfit(foreign), rtol=1e-4)
    assert np.isnan(dom.misfit(np.full((1, wave.size), np.nan)))[0]
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(ValueError, match="corrupt domain model"):
        SpectrumDomain.load(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="pixels"):
        dom.misfit(np.ones((1, 10)))
