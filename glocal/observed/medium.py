"""Air and vacuum wavelengths: the conversion, and which one a file records.

glocal works in **air** wavelengths throughout (its line lists, the Eq. 8 grid and the trained runs).

Conversion
    The IAU standard (Morton 2000, ApJS 130, 403, Eq. 8; the Edlén 1966 dispersion formula as refitted
    by Birch & Downs 1994 for dry air at 15 °C, 101 325 Pa, 0.045 % CO₂), also used by VALD and SDSS:

        n − 1 = 8.34254e-5 + 2.406147e-2 / (130 − s²) + 1.5998e-4 / (38.9 − s²),   s = 10⁴ / λ_vac [Å]

    and λ_air = λ_vac / n(λ_vac).  The inverse (air → vacuum) is solved by fixed-point iteration of the
    same formula to 1e-10 Å, so a round trip is exact to rounding (not the ~1e-5 Å of the approximate
    inverse fits).  By the IAU convention air wavelengths are not defined below 2000 Å; there n is held at
    its 2000 Å value so that converted grids stay continuous and increasing (glocal's bands start at
    2550 Å, so these pixels never enter a prediction).

Which medium a file records (:func:`medium_from_header`), first match wins:
    1. ``AIRORVAC`` = 'air' / 'vac…' (IRAF/ESO/HARPS convention);
    2. ``VACUUM`` = T / F (LAMOST);
    3. ``CTYPE1`` = 'AWAV…' → air (FITS WCS Paper III, Greisen et al. 2006).  ``'WAVE'`` is *not* taken
       as vacuum: the standard says so, but IRAF and several pipelines write it for air wavelengths;
    4. column names: a wavelength column whose name contains ``AIR`` / ``VAC``; ``LOGLAM`` → vacuum
       (SDSS/BOSS convention);
    5. a HISTORY/COMMENT card stating it, e.g. CALSPEC's "All wavelengths are in vacuum" (checked on the
       STIS CALSPEC headers: the whole table, 1700–10 100 Å and the appended model, is vacuum);
    6. otherwise the reader's ``default`` (``"air"``, the convention of ground-based échelle reductions
       such as MIKE/CarPy and IRAF, whose headers carry no keyword).
An explicit ``medium=`` given to the reader overrides all of these.
"""
from __future__ import annotations

import re

import numpy as np

from glocal._checks import check_wavelengths
from glocal.linelists.wavelengths import air_refractive_index

__all__ = ["MEDIA", "vac_to_air", "air_to_vac", "refractive_index", "medium_from_header", "check_medium"]

MEDIA = ("air", "vacuum")


def check_medium(medium, name: str = "medium") -> str:
    """``medium`` normalised to "air" or "vacuum" (accepts "vac"); ValueError otherwise."""
    if not isinstance(medium, str):
        raise TypeError(f"{name} must be 'air' or 'vacuum', got {medium!r}")
    m = medium.strip().lower()
    if m in ("vac", "vacuum"):
        return "vacuum"
    if m == "air":
        return "air"
    raise ValueError(f"{name} must be 'air' or 'vacuum', got {medium!r}")


def refractive_index(wave_vac) -> np.ndarray:
    """Refractive index of standard air n(λ_vac) (Morton 2000); ``wave_vac`` in Å, any shape; held at its
    2000 Å value below 2000 Å (:func:`glocal.linelists.air_refractive_index`, the package's one formula)."""
    return np.asarray(air_refractive_index(wave_vac), dtype=np.float64)


def vac_to_air(wave_vac) -> np.ndarray:
    """Air wavelengths (Å) of vacuum wavelengths ``wave_vac`` (Å): λ_air = λ_vac / n(λ_vac)."""
    lam = check_wavelengths(wave_vac, "wave_vac")
    return lam / refractive_index(lam)


def air_to_vac(wave_air, tol: float = 1e-10, max_iter: int = 20) -> np.ndarray:
    """Vacuum wavelengths (Å) of air wavelengths ``wave_air`` (Å): the exact inverse of :func:`vac_to_air`.

    Fixed-point iteration λ_vac ← λ_air · n(λ_vac), which contracts by a factor ~|dn/dλ|·λ ≈ 1e-5 per
    step; stops when every wavelength has changed by less than ``tol`` Å.
    """
    lam_air = check_wavelengths(wave_air, "wave_air")
    lam = lam_air * refractive_index(lam_air)
    for _ in range(max_iter):
        new = lam_air * refractive_index(lam)
        done = np.all(np.abs(new - lam) < tol)
        lam = new
        if done:
            break
    return lam


_HISTORY_VAC = re.compile(r"wavelengths?\b[^.]*\bin\s+vacuum|vacuum\s+wavelengths?", re.I)
_HISTORY_AIR = re.compile(r"wavelengths?\b[^.]*\bin\s+air\b|\bair\s+wavelengths?", re.I)


def _from_keywords(header) -> tuple[str, str] | None:
    if "AIRORVAC" in header:
        v = str(header["AIRORVAC"]).strip().lower()
        if v.startswith("vac"):
            return "vacuum", "AIRORVAC"
        if v.startswith("air"):
            return "air", "AIRORVAC"
    if "VACUUM" in header and isinstance(header["VACUUM"], (bool, np.bool_)):
        return ("vacuum" if header["VACUUM"] else "air"), "VACUUM"
    ctype = str(header.get("CTYPE1", "")).strip().upper()
    if ctype.startswith("AWAV"):
        return "air", "CTYPE1=AWAV"
    return None


def _from_columns(colnames) -> tuple[str, str] | None:
    for name in colnames or ():
        up = name.upper()
        if not any(k in up for k in ("WAVE", "LAM", "WL")):
            continue
        if "VAC" in up or up in ("LOGLAM", "LOGLAMBDA"):
            return "vacuum", f"column {name}"
        if "AIR" in up:
            return "air", f"column {name}"
    return None


def _from_history(header) -> tuple[str, str] | None:
    cards = []
    for key in ("HISTORY", "COMMENT"):
        if key in header:
            cards.extend(str(c) for c in header[key])
    text = " ".join(cards)
    if _HISTORY_VAC.search(text):
        return "vacuum", "HISTORY/COMMENT"
    if _HISTORY_AIR.search(text):
        return "air", "HISTORY/COMMENT"
    return None


def medium_from_header(header=None, colnames=None, default: str = "air") -> tuple[str, str]:
    """(medium, reason) of a file's wavelengths from its FITS header and column names (rules above).

    ``header`` is an astropy Header or any mapping (``None`` for none); ``reason`` names the keyword,
    column or card that decided, or ``"default"``.
    """
    default = check_medium(default, "default")
    for found in (_from_keywords(header or {}), _from_columns(colnames),
                  _from_history(header) if header is not None else None):
        if found is not None:
            return found
    return default, "default"
