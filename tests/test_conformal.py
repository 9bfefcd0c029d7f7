"""Split-conformal calibration of model spreads (glocal.conformal): coverage on fresh data from the
same distribution, against an analytic case, and bad input."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from glocal.conformal import ConformalScale, fit_conformal, interval_coverage


def heteroscedastic(n, seed, shrink=0.2):
    """Truths, predictions with Gaussian errors of per-row σ, and a spread that is σ × ``shrink``
    (the MC-dropout case: right shape, wrong scale)."""
    rng = np.random.default_rng(seed)
    sigma = rng.uniform(0.05, 0.5, (n, 2))
    y = rng.uniform(-1, 1, (n, 2))
    pred = y + sigma * rng.standard_normal((n, 2))
    return y, pred, shrink * sigma


def test_coverage_on_fresh_data_and_analytic_factor():
    y, pred, spread = heteroscedastic(4000, 0)
    scale = fit_conformal(y, pred, spread, ["a", "b"])
    # σ = spread / 0.2 exactly, so q_c → z_c / 0.2 with z the two-sided Gaussian quantile
    for level in (0.68, 0.95):
        z = stats.norm.ppf(0.5 + level / 2) / 0.2
        q = scale.factors["a"][f"{level:.4g}"]
        assert abs(q / z - 1) < 0.05, (level, q, z)
    y2, pred2, spread2 = heteroscedastic(20000, 1)
    cov68 = interval_coverage(y2, pred2, scale.std(spread2))
    cov95 = interval_coverage(y2, pred2, scale.half_width(spread2, 0.95))
    assert np.all(np.abs(cov68 - 0.68) < 0.02) and np.all(np.abs(cov95 - 0.95) < 0.01)
    raw = interval_coverage(y2, pred2, spread2)                      # the uncalibrated spread
    assert np.all(raw < 0.25)


def test_round_trip_floor_and_errors():
    y, pred, spread = heteroscedastic(500, 2)
    spread[:10] = 0.0                                                # zero spread: floored, not zero width
    scale = fit_conformal(y, pred, spread, ["a", "b"])
    again = ConformalScale.from_dict(scale.to_dict())
    assert np.allclose(again.std(spread), scale.std(spread)) and (scale.std(spread) > 0).all()
    with pytest.raises(ValueError, match="not calibrated"):
        scale.half_width(spread, 0.9)
    with pytest.raises(ValueError, match="too few"):
        fit_conformal(y[:10], pred[:10], spread[:10], ["a", "b"])
    with pytest.raises(ValueError, match="NaN"):
        fit_conformal(np.full_like(y, np.nan), pred, spread, ["a", "b"])
    with pytest.raises(ValueError, match=">= 0"):
        fit_conformal(y, pred, -spread - 1, ["a", "b"])
    with pytest.raises(ValueError, match="corrupt"):
        ConformalScale.from_dict({"factors": {"a": {}}, "floor": {}})
