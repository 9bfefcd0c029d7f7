"""Two engines on the same inputs: the difference of their R = 200 normalised spectra."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._checks import check_wave_range
from .convergence import r200_pixels

__all__ = ["cross_check", "three_way"]


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


def three_way(builtin_dir, spectrum_dir, windows=None) -> list[dict]:
    """Built-in engine, SME and SPECTRUM over the whole range, from the cached R = 200 spectra.

    ``builtin_dir``: ``scripts/validate_builtin.py``'s per-model files (``wave_r200``, ``builtin_r200`` and
    ``sme_r200``, each (3, n): base, +δ O, +δ Mg); ``spectrum_dir``: ``scripts/spectrum_crosscheck.py``'s
    (``spectrum_r200``, same layout and grid).  Per model with both: rms and max |ΔF/F_c| of SPECTRUM and
    of the built-in engine against SME over all pixels and over the UV (< 4000 Å), the wavelength of
    SPECTRUM's largest difference, and the summed +δ responses in the OH and Mg windows of
    :data:`glocal.validation.builtin_vs_sme.WINDOWS` as ratios to SME's.
    """
    from pathlib import Path

    from .builtin_vs_sme import WINDOWS
    windows = WINDOWS if windows is None else windows
    rows = []
    for sp_path in sorted(Path(spectrum_dir).glob("*.npz")):
        b_path = Path(builtin_dir) / sp_path.name
        if not b_path.exists() or sp_path.name.endswith(".tmp.npz"):
            continue
        with np.load(b_path, allow_pickle=False) as zb, np.load(sp_path, allow_pickle=False) as zs:
            w = np.asarray(zb["wave_r200"], float)
            if not np.allclose(w, zs["wave_r200"], rtol=1e-7):
                raise ValueError(f"{sp_path.name}: SPECTRUM and SME/built-in files are on different grids")
            spectra = {"builtin": np.asarray(zb["builtin_r200"], float), "sme": np.asarray(zb["sme_r200"], float),
                       "spectrum": np.asarray(zs["spectrum_r200"], float)}
        teff, logg, feh = (float(x) for x in sp_path.stem.split("_"))
        row = {"teff": teff, "logg": logg, "feh": feh}
        uv = w < 4000.0
        for name in ("spectrum", "builtin"):
            d = spectra[name][0] - spectra["sme"][0]
            row |= {f"rms_{name}": float(np.sqrt(np.mean(d**2))), f"max_{name}": float(np.max(np.abs(d))),
                    f"rms_uv_{name}": float(np.sqrt(np.mean(d[uv] ** 2)))}
        row["wave_of_max_spectrum"] = float(w[np.argmax(np.abs(spectra["spectrum"][0] - spectra["sme"][0]))])
        for k, el in ((1, "OH"), (2, "Mg")):
            m = np.zeros(w.size, bool)
            for a, b in windows[el]:
                m |= (w >= a) & (w <= b)
            resp = {n: float(np.sum(s[k][m] - s[0][m])) for n, s in spectra.items()}
            row[f"response_sme_{el}"] = resp["sme"]
            for name in ("spectrum", "builtin"):
                row[f"response_ratio_{el}_{name}"] = resp[name] / resp["sme"] if resp["sme"] else np.nan
        rows.append(row)
    return rows
