"""Spectral-feature windows of the paper's §2.3 checks and their mean depths in F/F_c."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["FEATURE_WINDOWS", "uv_feature_depths"]

#: Feature windows (air Å) for the §2.3 checks: OH A–X (0,0)/(1,1) band head region, Mg I 2852,
#: Mg II h & k and the O I 7774 triplet.
FEATURE_WINDOWS = {
    "OH": (3050.0, 3250.0),
    "MgI_2852": (2845.0, 2860.0),
    "MgII_2800": (2790.0, 2810.0),
    "OI_7774": (7768.0, 7780.0),
}


def uv_feature_depths(spectra, R: float | None = 200.0, windows: Mapping | None = None) -> dict[str, np.ndarray]:
    """Mean depth 1 − F/F_c in each feature window present in ``spectra``, per variant.

    ``spectra``: a ``glocal.synthesis.VariantSpectra`` (or anything with ``wave`` (n_wave,) air Å and
    ``normalized`` (n_var, n_wave)).  With ``R`` the spectra are first degraded to R (Eqs. 8–11) and
    the window is widened to at least ±1 FWHM around its centre so that it holds R = 200 pixels.
    Windows not fully covered by ``spectra.wave`` are left out of the result.
    """
    windows = dict(FEATURE_WINDOWS if windows is None else windows)
    wave, norm = spectra.wave, spectra.normalized
    if R is not None:
        from ..degrade import degrade
        wave, norm = degrade(wave, norm, R=R, wmin=wave[0], wmax=wave[-1])
        norm = np.atleast_2d(norm)
    out = {}
    for name, (a, b) in windows.items():
        if R is not None:
            c = 0.5 * (a + b)
            a, b = min(a, c - c / R), max(b, c + c / R)
        m = (wave >= a) & (wave <= b)
        if m.any() and wave[0] <= a and wave[-1] >= b:
            out[name] = (1.0 - norm[:, m]).mean(axis=1)
    return out
