"""Argument checks shared by the whole package (wavelength grids, scalars, line lists).

Every module validates user input through these functions, so that one kind of bad input gets one
kind of message wherever it enters.
"""
from __future__ import annotations

import numpy as np

__all__ = ["finite_scalar", "positive_scalar", "check_wave_range", "check_wave_grid", "require_finite",
           "check_wavelengths", "require_air_linelist"]


def finite_scalar(x, name: str) -> float:
    """``x`` as a finite float; TypeError for bools, arrays and non-numbers, ValueError for NaN/inf."""
    if isinstance(x, (bool, np.bool_)) or not np.isscalar(x) and np.ndim(x) != 0:
        raise TypeError(f"{name} must be a real scalar, got {x!r}")
    try:
        v = float(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real scalar, got {x!r}") from exc
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def positive_scalar(x, name: str) -> float:
    """``x`` as a finite float > 0 (errors as :func:`finite_scalar`, ValueError when ≤ 0)."""
    v = finite_scalar(x, name)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {v!r}")
    return v


def check_wave_range(wave_range) -> tuple[float, float]:
    """``wave_range`` as floats (lo, hi) in Å with 0 < lo < hi (ValueError otherwise)."""
    try:
        lo, hi = (float(x) for x in wave_range)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"wave_range must be a (lo, hi) pair in Å, got {wave_range!r}") from exc
    if not (np.isfinite(lo) and np.isfinite(hi)) or not 0 < lo < hi:
        raise ValueError(f"wave_range must satisfy 0 < lo < hi, got {wave_range!r}")
    return lo, hi


def check_wave_grid(wave, name: str = "wave", min_size: int = 1) -> np.ndarray:
    """``wave`` as a float64 1-D array of at least ``min_size`` finite, positive, strictly increasing
    wavelengths (Å).

    TypeError for non-numeric input; ValueError naming the first offending index otherwise.
    """
    try:
        arr = np.asarray(wave, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} needs at least {min_size} sample(s), got {arr.size}")
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr))
        raise ValueError(f"{name} contains {bad.size} non-finite value(s) (first at index {bad[0]})")
    if arr.size and arr[0] <= 0:
        raise ValueError(f"{name} must be positive (Å), first value is {arr[0]!r}")
    steps = np.diff(arr)
    if np.any(steps <= 0):
        i = int(np.flatnonzero(steps <= 0)[0])
        raise ValueError(f"{name} must be strictly increasing; "
                         f"{name}[{i}]={arr[i]!r} >= {name}[{i + 1}]={arr[i + 1]!r}")
    return arr


def check_wavelengths(wave, name: str = "wave") -> np.ndarray:
    """``wave`` as a float64 array of any shape (a scalar gives a 0-d array) of finite, positive
    wavelengths (Å), in any order: the check for wavelengths that are values (line positions,
    conversions), not a sampling grid (use :func:`check_wave_grid` for grids).

    TypeError for non-numeric input; ValueError naming the first offending (flat) index otherwise.
    """
    try:
        arr = np.asarray(wave, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric: {exc}") from None
    flat = arr.ravel()
    bad = np.flatnonzero(~np.isfinite(flat))
    if bad.size:
        raise ValueError(f"{name} contains {bad.size} non-finite (NaN/inf) value(s) (first at index {bad[0]})")
    bad = np.flatnonzero(flat <= 0)
    if bad.size:
        raise ValueError(f"{name} must be positive (Å); {name}[{bad[0]}]={flat[bad[0]]!r}")
    return arr


def require_finite(arr: np.ndarray, what: str) -> np.ndarray:
    """``arr`` unchanged when every value is finite; ValueError counting the NaN/inf values and naming the
    first one's position (row, column for 2-D arrays) otherwise."""
    bad = ~np.isfinite(arr)
    if bad.any():
        where = ", ".join(f"{axis} {int(i)}" for axis, i in zip(("row", "column"), np.argwhere(bad)[0]))
        if arr.ndim > 2:
            where = f"index {tuple(int(i) for i in np.argwhere(bad)[0])}"
        raise ValueError(f"{what} contains {int(bad.sum())} NaN or infinite value(s) (first at {where})")
    return arr


def require_air_linelist(line_list, engine: str) -> None:
    """TypeError unless ``line_list`` looks like a ``glocal.linelists.LineList`` (structured
    ``data``); ValueError unless it is in air wavelengths, as ``engine`` needs."""
    data = getattr(line_list, "data", None)
    if getattr(data, "dtype", None) is None or data.dtype.names is None:
        raise TypeError(f"line_list must be a glocal.linelists.LineList, got {type(line_list).__name__}")
    medium = getattr(line_list, "medium", "air")
    if medium != "air":
        raise ValueError(f"{engine} works in air wavelengths; got a {medium!r} line list "
                         "(convert with LineList.to_medium('air'))")
