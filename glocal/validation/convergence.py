"""Sampling convergence of an engine: its default settings against a finer reference run at R = 200."""
from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from .._checks import check_wave_range

__all__ = ["convergence_table", "r200_pixels", "SME_REFERENCE"]

#: The SME driver's reference settings (on top of a 0.01 Å grid): 7 μ points, no line pre-selection,
#: SMElib's full H I line ranges.
SME_REFERENCE = {"n_mu": 7, "almax_min": None, "h_depth_min": None}


def r200_pixels(lo: float, hi: float, R: float = 200.0, inner=None) -> np.ndarray:
    """The CSST grid pixels (Eq. 8) in [lo, hi] whose ±5 FWHM kernel lies inside ``inner`` (lo, hi)."""
    from ..degrade import csst_grid
    a, b = (lo, hi) if inner is None else inner
    grid = csst_grid(lo, hi, R)
    fwhm = grid / R
    return grid[(grid - 5 * fwhm >= a) & (grid + 5 * fwhm <= b)]


def _timed(**kwargs):
    from ..synthesis import synthesize
    t0 = time.perf_counter()
    s = synthesize(**kwargs)
    return s, time.perf_counter() - t0


def convergence_table(models=((4500.0, 2.0, -2.0), (6000.0, 4.0, -1.0)), wave_range=(3000.0, 3400.0),
                      *, engine: str = "sme", settings: Mapping | None = None,
                      reference: Mapping | None = None, R: float = 200.0, **common) -> list[dict]:
    """Max / rms change of the R = 200 normalised spectra between ``settings`` and a finer
    ``reference`` run of ``engine`` (default: the SME driver) for each (Teff, log g, [Fe/H]) model.

    ``settings`` and ``reference`` are engine options; ``reference`` may also hold ``wave``, the
    reference grid (default: uniform 0.01 Å over ``wave_range``); for ``engine="sme"`` the reference
    options default to :data:`SME_REFERENCE`.  ``common``: further ``synthesize`` arguments of both
    runs (e.g. ``line_list``).  Only R = 200 pixels whose ±5 FWHM kernel lies inside both runs'
    grids are compared.  Returns one dict per model with ``max_rel``, ``rms_rel`` (fractions),
    ``n_pixels``, the grid sizes and the wall seconds of both runs.
    """
    from ..degrade import degrade
    settings = dict(settings or {})
    reference = dict(reference or {})
    lo, hi = check_wave_range(wave_range)
    ref_wave = reference.pop("wave", None)
    if engine == "sme" and ref_wave is None:
        reference = {**SME_REFERENCE, **reference}
    if ref_wave is None:
        ref_wave = np.arange(lo, hi + 1e-9, 0.01)
    rows = []
    for teff, logg, feh in models:
        run = dict(teff=teff, logg=logg, feh=feh, wave_range=(lo, hi), engine=engine, **common)
        ref, t_ref = _timed(**run, wave=ref_wave, options=reference)
        test, t_test = _timed(**run, options=settings)
        grid = r200_pixels(lo, hi, R, inner=(max(ref.wave[0], test.wave[0]), min(ref.wave[-1], test.wave[-1])))
        if grid.size == 0:
            raise ValueError(f"wave_range {wave_range} too short for any full R={R} kernel")
        _, a = degrade(ref.wave, ref.normalized, R=R, grid=grid)
        _, b = degrade(test.wave, test.normalized, R=R, grid=grid)
        rel = b / a - 1.0
        rows.append(dict(teff=teff, logg=logg, feh=feh, n_pixels=int(grid.size),
                         max_rel=float(np.max(np.abs(rel))), rms_rel=float(np.sqrt(np.mean(rel**2))),
                         seconds_reference=t_ref, seconds_test=t_test,
                         n_wave_reference=int(ref.wave.size), n_wave_test=int(test.wave.size)))
    return rows
