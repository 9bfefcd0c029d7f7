"""Calibrated uncertainties: split-conformal scaling of a model's own spread.

A model gives, for every spectrum and label, a prediction ŷ and a spread s (the networks' Monte-Carlo
dropout standard deviation).  Raw MC-dropout spreads are far too small to be error bars (their ±s
interval covers 10–25 % of held-out truths, not 68 %).  :func:`fit_conformal` turns them into
intervals with a stated coverage by normalised split-conformal regression (Papadopoulos et al. 2008;
Angelopoulos & Bates 2023, §2.3): on a calibration set the model never trained on, the scores

    a_i = |y_i − ŷ_i| / σ_i,   σ_i = max(s_i, f · median(s))   (f = :data:`SIGMA_FLOOR`)

are collected per label, and the interval at confidence c is ŷ ± q_c σ with q_c the
⌈(n + 1) c⌉-th smallest score — computed by ``crepes.ConformalRegressor`` (normalised mode).  For a
test spectrum exchangeable with the calibration set, the interval covers the truth with probability
≥ c (and < c + 1/(n + 1)); the floor keeps one spectrum with a tiny spread from getting a zero-width
interval.  The guarantee is marginal: over the calibration distribution (S/N, reddening, coverage,
labels), not for every spectrum; the book and the run's metrics report coverage on held-out test
spectra drawn with other S/N, reddening and coverage draws.

:class:`ConformalScale` stores q_c per label and level; ``std(s)`` is the 68 % half-width q_0.68 σ
(the number a table's ``_std`` column reports) and ``half_width(s, 0.95)`` the 95 % one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ConformalScale", "fit_conformal", "interval_coverage", "LEVELS", "SIGMA_FLOOR"]

#: Confidence levels calibrated by default: the 1σ and 2σ equivalents.
LEVELS = (0.68, 0.95)
#: Floor of σ as a fraction of the calibration set's median spread (per label).
SIGMA_FLOOR = 0.1


def _as_table(a, what: str, shape=None) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    a = a[:, None] if a.ndim == 1 else a
    if a.ndim != 2 or (shape is not None and a.shape != shape):
        raise ValueError(f"{what} must be (n, n_labels){'' if shape is None else f' = {shape}'}, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    return a


@dataclass(frozen=True)
class ConformalScale:
    """Per-label conformal factors: ``factors[label][level]`` = q (see module docstring) and the
    spread floor ``floor[label]`` (label units); ``n_calibration`` spectra were used."""

    factors: dict
    floor: dict
    n_calibration: int

    @property
    def labels(self) -> list[str]:
        return list(self.factors)

    def sigma(self, spread) -> np.ndarray:
        """σ = max(s, floor) for spreads ``spread`` (n, n_labels) in the order of :attr:`labels`."""
        s = _as_table(spread, "spread")
        if s.shape[1] != len(self.labels):
            raise ValueError(f"spread has {s.shape[1]} columns for {len(self.labels)} labels {self.labels}")
        return np.maximum(s, np.array([self.floor[k] for k in self.labels])[None, :])

    def half_width(self, spread, level: float) -> np.ndarray:
        """Half-width of the ``level`` interval (n, n_labels); ``level`` must be a calibrated one."""
        key = _level_key(level)
        missing = [k for k in self.labels if key not in self.factors[k]]
        if missing:
            raise ValueError(f"level {level} is not calibrated (have {sorted(self.factors[self.labels[0]])})")
        q = np.array([self.factors[k][key] for k in self.labels])
        return q[None, :] * self.sigma(spread)

    def std(self, spread) -> np.ndarray:
        """The 68 % half-width: the calibrated one-sigma uncertainty."""
        return self.half_width(spread, 0.68)

    def to_dict(self) -> dict:
        return {"method": "normalised split-conformal (crepes.ConformalRegressor)", "factors": self.factors,
                "floor": self.floor, "n_calibration": int(self.n_calibration)}

    @classmethod
    def from_dict(cls, d: dict) -> ConformalScale:
        try:
            factors = {str(k): {str(lv): float(q) for lv, q in v.items()} for k, v in d["factors"].items()}
            floor = {str(k): float(v) for k, v in d["floor"].items()}
            n = int(d["n_calibration"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"corrupt conformal calibration: {exc}") from None
        if set(factors) != set(floor) or not factors:
            raise ValueError("corrupt conformal calibration: labels of factors and floor differ")
        return cls(factors, floor, n)


def _level_key(level: float) -> str:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")
    return f"{level:.4g}"


def fit_conformal(y, pred, spread, labels, levels=LEVELS) -> ConformalScale:
    """Calibrate with true labels ``y``, predictions ``pred`` and spreads ``spread`` (n, n_labels) of
    a calibration set the model did not train on (see the module docstring).  ``labels`` names the
    columns.  ValueError for shapes, non-finite values, negative spreads or fewer than 20 rows."""
    from crepes import ConformalRegressor

    y = _as_table(y, "y")
    pred = _as_table(pred, "pred", y.shape)
    spread = _as_table(spread, "spread", y.shape)
    labels = [str(k) for k in labels]
    if len(labels) != y.shape[1]:
        raise ValueError(f"{len(labels)} labels for {y.shape[1]} columns")
    if (spread < 0).any():
        raise ValueError("spread must be >= 0")
    if len(y) < 20:
        raise ValueError(f"{len(y)} calibration rows are too few for a conformal calibration (need >= 20)")
    factors, floor = {}, {}
    for j, name in enumerate(labels):
        med = float(np.median(spread[:, j]))
        floor[name] = SIGMA_FLOOR * med if med > 0 else 1e-6
        sigma = np.maximum(spread[:, j], floor[name])
        cr = ConformalRegressor().fit(residuals=np.abs(y[:, j] - pred[:, j]), sigmas=sigma)
        factors[name] = {}
        for level in levels:
            lo_hi = cr.predict_int(y_hat=np.zeros(1), sigmas=np.ones(1), confidence=float(level))
            factors[name][_level_key(level)] = float(lo_hi[0, 1])
    return ConformalScale(factors, floor, len(y))


def interval_coverage(y, pred, half_width) -> np.ndarray:
    """Fraction of rows with |y − pred| ≤ half_width, per column (n_labels,)."""
    y = _as_table(y, "y")
    return (np.abs(y - _as_table(pred, "pred", y.shape)) <= _as_table(half_width, "half_width", y.shape)).mean(0)
