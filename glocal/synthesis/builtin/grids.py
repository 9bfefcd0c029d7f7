"""Wavelength grids of the built-in engine: the constant-R synthesis grid and its resolving power.

* ``constant_r_grid(lo, hi, R)``: lambda_i = lo e^{i/R}, i = 0 .. ceil(R ln(hi/lo)) (constant lambda/d lambda,
  the last point at or just beyond ``hi``);
* ``auto_resolution``: R = c / (``AUTO_STEP`` v_D), v_D the Doppler velocity of Fe I (thermal plus
  microturbulence) at the temperature of tau_Ross = 0.01, rounded up to 1000;
* ``WAVE_MIN``, ``WAVE_MAX``: the range covered by the continuous-opacity tables.
"""
from __future__ import annotations

import numpy as np

from glocal._checks import check_wave_range
from glocal.constants import AMU, C_CGS
from glocal.constants import K_BOLTZMANN as K_CGS

#: validity of the continuum tables (Angstrom): H- free-free (Bell & Berrington) from 1823 A, H- bound-free
#: (McLaughlin et al. 2017, resampled to E <= 7 eV) from 1771 A; long end set by the Gaunt-factor table
WAVE_MIN, WAVE_MAX = 1823.0, 100000.0

#: ``resolution="auto"``: grid step of AUTO_STEP Doppler widths of Fe I lines at the temperature of
#: tau_Ross = 0.01 (microturbulence included): R = c / (AUTO_STEP v_D), rounded up to 1000. The R = 200
#: spectrum of crowded saturated blends (the UV of cool metal-poor giants) converges only once the
#: grid resolves the Doppler cores; 1.15 keeps it within 0.12 % of a 0.01 A run (4500/2.0/-2.0: R =
#: 124 000; R = 1e5 leaves 0.2 %; benchmarks/builtin_engine.py --sampling). It is conservative for
#: dwarfs (5000/4.5/-2.0: 163 000, although 125 000 is already within 0.06 %), hence not the default.
AUTO_STEP = 1.15


def auto_resolution(T, tau_ross, vturb, step: float = AUTO_STEP) -> float:
    """Resolving power of the ``resolution="auto"`` grid for a model with temperatures ``T`` (K) on the
    Rosseland scale ``tau_ross`` (None: the coolest layer) and microturbulence ``vturb`` (km/s)."""
    T = np.asarray(T, float)
    t_ref = float(np.interp(np.log(0.01), np.log(tau_ross), T)) if tau_ross is not None else float(T.min())
    xi = float(np.max(np.asarray(vturb, float))) * 1e5
    v_d = np.sqrt(2 * K_CGS * t_ref / (55.845 * AMU) + xi * xi)
    return float(np.ceil(C_CGS / (step * v_d) / 1000.0) * 1000.0)


def constant_r_grid(lo: float, hi: float, resolution: float) -> np.ndarray:
    """Wavelengths from lo to hi (Angstrom; the last point at or just beyond hi) with constant
    lambda / d lambda = ``resolution``."""
    lo, hi = check_wave_range((lo, hi))
    if not np.isfinite(resolution) or resolution <= 0:
        raise ValueError(f"resolution must be positive, got {resolution}")
    n = int(np.ceil(np.log(hi / lo) * resolution)) + 1
    return lo * np.exp(np.arange(n) / resolution)
