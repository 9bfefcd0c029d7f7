"""Air ↔ vacuum wavelength conversion and the level numbers of hydrogen lines (Å throughout).

Below 2000 Å air and vacuum wavelengths coincide by the IAU convention; above, λ_air = λ_vac / n
with the refractive index n of standard air (dry, 15 °C, 101 325 Pa, 450 ppm CO₂).
"""
from __future__ import annotations

import numpy as np

from .._checks import check_wavelengths
from ..constants import H_IONIZATION_EV, RYDBERG_H

__all__ = ["air_refractive_index", "vacuum_to_air", "air_to_vacuum", "hydrogen_levels"]

#: Å: below it the IAU convention defines no air wavelengths (conversions leave λ unchanged there).
AIR_MIN_WAVE = 2000.0


def air_refractive_index(wave_vac):
    """Refractive index n(λ_vac) of standard air, Morton (2000, ApJS 130, 403) Eq. 3 with the Ciddor
    (1996) refractivity; ``wave_vac`` in Å (any shape), held at its 2000 Å value below 2000 Å."""
    lam = np.maximum(check_wavelengths(wave_vac, "wave_vac"), AIR_MIN_WAVE)
    s2 = (1e4 / lam) ** 2
    return 1.0 + 8.34254e-5 + 2.406147e-2 / (130.0 - s2) + 1.5998e-4 / (38.9 - s2)


def vacuum_to_air(wave_vac):
    """Vacuum → air wavelength (Å): λ_air = λ_vac / n, Morton (2000, ApJS 130, 403) Eq. 3 with the
    Ciddor (1996) refractivity of standard air; λ < 2000 Å is left unchanged (IAU convention)."""
    w = check_wavelengths(wave_vac, "wave_vac")
    out = np.where(w >= AIR_MIN_WAVE, w / air_refractive_index(w), w)
    return float(out) if np.ndim(wave_vac) == 0 else out


def air_to_vacuum(wave_air):
    """Air → vacuum wavelength (Å), inverse of :func:`vacuum_to_air` (N. Piskunov's fit used by
    VALD3, accurate to ~1e-5 Å); λ < 2000 Å is left unchanged."""
    w = check_wavelengths(wave_air, "wave_air")
    s2 = (1e4 / w) ** 2
    n = 1.0 + 8.336624212083e-5 + 2.408926869968e-2 / (130.1065924522 - s2) + 1.599740894897e-4 / (38.92568793293 - s2)
    out = np.where(w >= 2000.0, w * n, w)
    return float(out) if np.ndim(wave_air) == 0 else out


def hydrogen_levels(wave_air, elow_ev, n_up_max: int = 100):
    """Principal quantum numbers (n_lo, n_up) of H I lines from their air wavelength (Å) and lower-level
    energy (eV): n_lo from E_low = chi_H (1 - 1/n_lo^2), n_up from the Rydberg formula with the
    reduced-mass constant. Returns float arrays and a mask ``ok`` of lines that match a transition
    within 0.3 in n_up and have n_up <= ``n_up_max`` (line lists carry series-limit placeholders)."""
    elow = np.asarray(elow_ev, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        n_lo = np.rint(np.sqrt(H_IONIZATION_EV / (H_IONIZATION_EV - elow)))
        sigma = 1e8 / air_to_vacuum(np.asarray(wave_air, float))
        n_up_f = 1.0 / np.sqrt(1.0 / n_lo**2 - sigma / RYDBERG_H)
    n_up = np.rint(n_up_f)
    ok = np.isfinite(n_up) & (n_lo >= 1) & (n_up > n_lo) & (n_up <= n_up_max) & (np.abs(n_up_f - n_up) < 0.3)
    return n_lo, n_up, ok

