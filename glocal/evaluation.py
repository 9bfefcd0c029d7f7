"""Evaluation metrics of paper §3.4 and the uncertainty calibration of the future-work section.

* :func:`mae` — Eq. 18, ``MAE = (1/N) Σ |y_i − ŷ_i|``.
* :func:`sigma` — Eq. 19, the standard deviation of the residuals ``r_i = y_i − ŷ_i`` about
  their mean, with the ``N − 1`` (Bessel) denominator.
* :func:`regression_metrics` — both, plus the mean residual (bias) and the RMSE, per label.
* :func:`binned_errors` — MSE and σ of the residuals in bins of another variable (Figs 8–9).
* :func:`coverage` / :func:`calibration` — empirical coverage of the central 68 % and 95 %
  Gaussian intervals ``ŷ ± z·s`` (z = 0.9945 and 1.9600): a calibrated uncertainty ``s`` gives
  coverages close to the nominal levels.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import norm

__all__ = ["mae", "sigma", "regression_metrics", "binned_errors", "coverage", "calibration",
           "ensemble_stats"]


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    if yt.shape != yp.shape:
        raise ValueError(f"y_true {yt.shape} and y_pred {yp.shape} have different shapes")
    if yt.ndim not in (1, 2) or yt.shape[0] == 0:
        raise ValueError(f"expected non-empty (N,) or (N, n_labels) arrays, got shape {yt.shape}")
    if not (np.isfinite(yt).all() and np.isfinite(yp).all()):
        raise ValueError("y_true / y_pred contain NaN or infinite values")
    return yt, yp


def mae(y_true, y_pred) -> np.ndarray | float:
    """Mean absolute error, Eq. 18 (per column for 2-D input)."""
    yt, yp = _pair(y_true, y_pred)
    out = np.mean(np.abs(yt - yp), axis=0)
    return float(out) if out.ndim == 0 else out


def sigma(y_true, y_pred) -> np.ndarray | float:
    """Standard deviation of the residuals about their mean, N − 1 denominator (Eq. 19)."""
    yt, yp = _pair(y_true, y_pred)
    if yt.shape[0] < 2:
        raise ValueError("sigma (Eq. 19) needs at least 2 samples")
    r = yt - yp
    out = np.sqrt(np.sum((r - r.mean(axis=0)) ** 2, axis=0) / (r.shape[0] - 1))
    return float(out) if out.ndim == 0 else out


def regression_metrics(y_true, y_pred, names=None) -> dict:
    """``{name: {"mae", "sigma", "bias", "rmse", "n"}}`` per label column (bias = mean of y − ŷ)."""
    yt, yp = _pair(y_true, y_pred)
    yt, yp = (yt[:, None], yp[:, None]) if yt.ndim == 1 else (yt, yp)
    names = list(names) if names is not None else [f"y{j}" for j in range(yt.shape[1])]
    if len(names) != yt.shape[1]:
        raise ValueError(f"{len(names)} names for {yt.shape[1]} label columns")
    m, s = np.atleast_1d(mae(yt, yp)), np.atleast_1d(sigma(yt, yp))
    r = yt - yp
    return {n: {"mae": float(m[j]), "sigma": float(s[j]), "bias": float(r[:, j].mean()),
                "rmse": float(np.sqrt(np.mean(r[:, j] ** 2))), "n": int(len(r))}
            for j, n in enumerate(names)}


def binned_errors(y_true, y_pred, x, bins) -> dict:
    """MSE, σ (Eq. 19) and MAE of the residuals in bins of ``x`` (paper Figs 8–9).

    ``y_true``, ``y_pred``, ``x``: (N,). ``bins``: increasing edges (M+1,), or an integer number
    of equal-width bins spanning ``x``. Bins are half-open ``[e_k, e_{k+1})`` except the last,
    which includes its upper edge; points outside the edges are ignored. Returns arrays of
    length M: ``edges``, ``centers``, ``count``, ``mse``, ``sigma``, ``mae`` (NaN where a bin
    has too few points: < 1 for MSE/MAE, < 2 for σ).
    """
    yt, yp = _pair(y_true, y_pred)
    xv = np.asarray(x, dtype=np.float64)
    if yt.ndim != 1 or xv.shape != yt.shape:
        raise ValueError(f"y_true, y_pred and x must be 1-D of equal length; got {yt.shape}, {xv.shape}")
    if not np.isfinite(xv).all():
        raise ValueError("x contains NaN or infinite values")
    if np.ndim(bins) == 0:
        nb = int(bins)
        if nb != bins or nb < 1:
            raise ValueError(f"number of bins must be a positive integer, got {bins!r}")
        lo, hi = xv.min(), xv.max()
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, nb + 1)
    else:
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or not np.isfinite(edges).all() or np.any(np.diff(edges) <= 0):
            raise ValueError("bins must be a strictly increasing 1-D array of at least 2 finite edges")
    nb = edges.size - 1
    k = np.searchsorted(edges, xv, side="right") - 1
    k[xv == edges[-1]] = nb - 1
    inside = (k >= 0) & (k < nb)
    k, r = k[inside], (yt - yp)[inside]
    cnt = np.bincount(k, minlength=nb).astype(np.float64)
    s1 = np.bincount(k, weights=r, minlength=nb)
    s2 = np.bincount(k, weights=r ** 2, minlength=nb)
    sa = np.bincount(k, weights=np.abs(r), minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        mse = np.where(cnt > 0, s2 / cnt, np.nan)
        mean = np.where(cnt > 0, s1 / cnt, np.nan)
        var = np.where(cnt > 1, (s2 - cnt * mean ** 2) / (cnt - 1), np.nan)
        mae_b = np.where(cnt > 0, sa / cnt, np.nan)
    return {"edges": edges, "centers": 0.5 * (edges[1:] + edges[:-1]), "count": cnt.astype(np.int64),
            "mse": mse, "sigma": np.sqrt(np.clip(var, 0, None)), "mae": mae_b}


def coverage(y_true, mean, std, levels=(0.68, 0.95)) -> dict:
    """Fraction of ``y_true`` inside ``mean ± z(level)·std`` for each level (per column)."""
    yt, mu = _pair(y_true, mean)
    s = np.asarray(std, dtype=np.float64)
    if s.shape != yt.shape:
        raise ValueError(f"std {s.shape} must have the shape of y_true {yt.shape}")
    if np.isnan(s).any() or (s < 0).any():
        raise ValueError("std must be non-negative and not NaN")
    out = {}
    for lev in levels:
        if not 0 < lev < 1:
            raise ValueError(f"coverage level must be in (0, 1), got {lev}")
        z = norm.ppf(0.5 + lev / 2)
        frac = np.mean(np.abs(yt - mu) <= z * s, axis=0)
        out[float(lev)] = float(frac) if np.ndim(frac) == 0 else frac
    return out


def calibration(y_true, mean, std, names=None, levels=(0.68, 0.95)) -> dict:
    """``{name: {"cov68": …, "cov95": …, "mean_std": …}}`` from :func:`coverage`."""
    yt, mu = _pair(y_true, mean)
    yt, mu = (yt[:, None], mu[:, None]) if yt.ndim == 1 else (yt, mu)
    s = np.asarray(std, dtype=np.float64).reshape(yt.shape)
    names = list(names) if names is not None else [f"y{j}" for j in range(yt.shape[1])]
    cov = coverage(yt, mu, s, levels)
    return {n: {**{f"cov{round(100 * lev)}": float(np.atleast_1d(cov[lev])[j]) for lev in cov},
                "mean_std": float(s[:, j].mean())} for j, n in enumerate(names)}


def ensemble_stats(predictions) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (ddof=1) over the first axis of stacked member predictions."""
    p = np.asarray(predictions, dtype=np.float64)
    if p.ndim < 2 or p.shape[0] < 2:
        raise ValueError(f"need predictions of at least 2 members stacked on axis 0, got shape {p.shape}")
    return p.mean(0), p.std(0, ddof=1)
