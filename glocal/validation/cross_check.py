"""Two engines on the same inputs: the difference of their R = 200 normalised spectra."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._checks import check_wave_range
from .convergence import r200_pixels

__all__ = ["cross_check"]


def cross_check(models, wave_range=(3000.0, 5000.0), engines=("sme", "spectrum"), *, R: float = 200.0,
                variant: Mapping | None = None, line_list=None, engine_options: Mapping | None = None) -> list[dict]:
    """rms and max |ΔF/F_c| at R = 200 between ``engines[1]`` and ``engines[0]`` per (Teff, log g, [Fe/H]).

    Both engines get the same atmosphere (Kurucz grid), microturbulence (Eqs. 4–7), line list
    (``line_list`` or the built-in one) and abundances (``variant``, [X/Fe] dict; default solar-scaled).
    ``engine_options``: {engine name: its options}.  Only R = 200 pixels whose ±5 FWHM kernel lies in
    ``wave_range`` are compared.  Returns one dict per model (``rms``, ``max``, ``n_pixels``).
    """
    from ..degrade import degrade
    from ..synthesis import resolve_inputs, synthesize
    engine_options = dict(engine_options or {})
    lo, hi = check_wave_range(wave_range)
    grid = r200_pixels(lo, hi, R)
    rows = []
    for teff, logg, feh in models:
        atm, vt, ll, wr = resolve_inputs(teff, logg, feh, line_list=line_list, wave_range=(lo, hi))
        out = {}
        for name in engines:
            s = synthesize(teff, logg, feh, abundances=variant, vturb=vt, wave_range=wr, engine=name,
                           atmosphere=atm, line_list=ll, options=engine_options.get(name))
            out[name] = degrade(s.wave, s.normalized, R=R, grid=grid)[1]
        d = out[engines[1]] - out[engines[0]]
        rows.append(dict(teff=teff, logg=logg, feh=feh, rms=float(np.sqrt(np.mean(d**2))),
                         max=float(np.max(np.abs(d))), n_pixels=int(grid.size)))
    return rows
