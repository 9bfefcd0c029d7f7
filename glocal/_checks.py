"""Argument checks shared by several modules (abundances, line lists, synthesis engines)."""
from __future__ import annotations

import numpy as np

__all__ = ["finite_scalar", "check_wave_range", "require_air_linelist"]


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


def check_wave_range(wave_range) -> tuple[float, float]:
    """``wave_range`` as floats (lo, hi) in Å with 0 < lo < hi (ValueError otherwise)."""
    try:
        lo, hi = (float(x) for x in wave_range)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"wave_range must be a (lo, hi) pair in Å, got {wave_range!r}") from exc
    if not (np.isfinite(lo) and np.isfinite(hi)) or not 0 < lo < hi:
        raise ValueError(f"wave_range must satisfy 0 < lo < hi, got {wave_range!r}")
    return lo, hi


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
