"""Removing the approximate overshooting of the Kurucz (1993) grid: a solar-differential temperature correction.

The built-in grid (:mod:`.kurucz_grid`) is Kurucz's 1993 ATLAS9 grid, computed with his approximate convective
overshooting.  Castelli, Gratton & Kurucz (1997, A&A 318, 841) showed that overshooting heats the layers around
τ_Ross ≈ 1 and cools those below, and that models without it (the ODFNEW grid of Castelli & Kurucz 2003, which
the paper used) describe the Sun's Balmer lines and colours better.  Measured here at the Sun (Teff 5777 K,
log g 4.4377, [M/H] 0; ``scripts/build_overshoot_table.py``), the grid's model (:func:`grid_atmosphere`) is
126 K hotter at τ_Ross = 1 and up to 266 K cooler at τ_Ross ≈ 4 than the ODFNEW model, while the Kurucz solar
model without overshooting (``ksun.mod``) and the MARCS 2008 solar model (Gustafsson et al. 2008) lie within
16 K of ODFNEW at τ_Ross = 1: the grid's structure is the outlier.

No metal-poor model without overshooting is available here, so the correction is the solar one, applied as a
ratio on the Rosseland optical-depth scale to every model::

    T'(τ) = T(τ) · r(log τ),   r = T_ODFNEW,⊙ / T_grid,⊙  at the same log τ_Ross      (O1)

with P, ρx and τ_Ross kept and n_e re-solved by the engine's chemistry.  r is tabulated every 0.05 dex in
log τ_Ross over −2…+2, the layers where overshooting acts (``glocal/data/overshoot_correction.csv``), and
taken as 1 outside (|r − 1| ≤ 1.2e-3 at both ends).  Assumption: the overshooting's temperature signature in the
metal-poor models is the Sun's.  Used only through the built-in engine's ``structure_correction`` option.

Accuracy: Eq. O1 reproduces the ODFNEW T(τ_Ross) of the Sun (0.2 %), not the ODFNEW model: P and ρx stay the
grid's, and on the engine's own opacities the layers emit differently (the continuum at 4000 Å of the corrected
solar model is 3.7 % above ODFNEW's, the uncorrected one's 0.8 %).  What matters for the networks was measured
with the shipped runs on a [Fe/H] = −1.5 spectrum synthesised on each solar structure
(``scripts/evaluate_overshoot_runs.py``, record ``solar_readings``): the corrected structure moves the answers
57 % (normalized run) and 76 % (calibrated) of the way from the grid's to ODFNEW's in Teff (the full shift is
+152 and +155 K) and 58–60 % in [Fe/H] (+0.16, +0.19 dex).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["TABLE_PATH", "CORRECTIONS", "load_temperature_ratio", "temperature_ratio", "remove_overshoot",
           "solar_ratio_table", "LOG_TAU_RANGE"]

#: The committed table of Eq. O1 (built by ``scripts/build_overshoot_table.py``).
TABLE_PATH = Path(__file__).resolve().parents[1] / "data" / "overshoot_correction.csv"
#: Names accepted by the engine's ``structure_correction`` option.
CORRECTIONS = ("nover-solar",)
#: Sampling of the table in log τ_Ross.
TABLE_STEP = 0.05
#: The layers the correction touches (log τ_Ross): where overshooting acts.  Above them the two solar models
#: differ for other reasons (ODFs, abundances: the ratio reaches 0.986 at log τ = −6.85), which this
#: correction is not meant to carry.
LOG_TAU_RANGE = (-2.0, 2.0)


def solar_ratio_table(grid_model, nover_model, step: float = TABLE_STEP,
                      log_tau_range=LOG_TAU_RANGE) -> tuple[np.ndarray, np.ndarray]:
    """(log τ_Ross, r) of Eq. O1 from two models of one star (objects with ``T`` and ``tau_ross``), on the
    multiples of ``step`` inside ``log_tau_range`` and the log τ range both models cover; T interpolated
    linearly in log τ."""
    lt_g, lt_n = np.log10(np.asarray(grid_model.tau_ross)), np.log10(np.asarray(nover_model.tau_ross))
    lo = max(lt_g[0], lt_n[0], log_tau_range[0])
    hi = min(lt_g[-1], lt_n[-1], log_tau_range[1])
    log_tau = np.arange(np.ceil(lo / step), np.floor(hi / step) + 1) * step
    ratio = np.interp(log_tau, lt_n, nover_model.T) / np.interp(log_tau, lt_g, grid_model.T)
    return np.round(log_tau, 6), ratio


@lru_cache(maxsize=1)
def load_temperature_ratio() -> tuple[np.ndarray, np.ndarray]:
    """(log τ_Ross, r) of the committed table; FileNotFoundError naming the build command if it is missing."""
    if not TABLE_PATH.is_file():
        raise FileNotFoundError(f"{TABLE_PATH} is missing; rebuild it with python scripts/build_overshoot_table.py")
    data = np.loadtxt(TABLE_PATH, delimiter=",", comments="#", skiprows=0, dtype=float, ndmin=2)
    return data[:, 0], data[:, 1]


def temperature_ratio(log_tau) -> np.ndarray:
    """r(log τ_Ross) of Eq. O1: the table linearly interpolated, 1 outside it."""
    x, r = load_temperature_ratio()
    log_tau = np.asarray(log_tau, dtype=float)
    return np.where((log_tau < x[0]) | (log_tau > x[-1]), 1.0, np.interp(log_tau, x, r))


def remove_overshoot(T, tau_ross) -> np.ndarray:
    """T'(τ) of Eq. O1 for depth arrays ``T`` (K) and ``tau_ross`` (> 0, same shape); ValueError otherwise."""
    T, tau = np.asarray(T, dtype=float), np.asarray(tau_ross, dtype=float)
    if T.shape != tau.shape:
        raise ValueError(f"T {T.shape} and tau_ross {tau.shape} must have one shape")
    if not (np.all(np.isfinite(tau)) and np.all(tau > 0)):
        raise ValueError("tau_ross must be finite and positive")
    return T * temperature_ratio(np.log10(tau))
