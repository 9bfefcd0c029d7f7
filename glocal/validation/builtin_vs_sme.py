"""The built-in engine against SME (pysme-astro; Valenti & Piskunov 1996, Piskunov & Valenti 2017) on
the same atmosphere, line list, abundances and microturbulence.

:func:`compare_with_sme` runs both engines (through ``glocal.synthesis.run_engine``) and returns one
row per model: the agreement of the R = 200 normalised spectra (rms/max over the range), of the
absolute continuum, and of the abundance responses (+``delta`` dex in O and in Mg) in the OH
(3050–3250 Å) and Mg (2780–2870, 5160–5190 Å) windows.  R = 200 is ``glocal.degrade.degrade``
(paper §2.2, Eqs. 8–11) with trapezoidal kernel weights, since the engines' grids differ (constant R
vs SME's uniform ln λ).  SME's side (:func:`sme_reference`) is a dict that callers may cache
(``scripts/validate_builtin.py``).  The results over 20 models are in
``results/validation/builtin_vs_sme.json`` and the engine chapter.
"""
from __future__ import annotations

import time

import numpy as np

from ..constants import WING_MARGIN
from ..degrade import degrade

__all__ = ["compare_with_sme", "compare_builtin", "sme_reference", "sme_window_variants", "WINDOWS",
           "MIN_RESPONSE", "CONTINUUM_STEP", "WINDOW_PAD", "sme_bf_metals", "smelib_physics_options"]

#: Response windows (air Å) of the OH band and of Mg I/Mg II/Mg b.
WINDOWS = {"OH": [(3050.0, 3250.0)], "Mg": [(2780.0, 2870.0), (5160.0, 5190.0)]}
#: smallest mean change of F/Fc per R = 200 pixel in a window for which a response ratio is reported
MIN_RESPONSE = 1e-3
#: spacing (A) of the grid on which the absolute continua are compared (edges bracketed by the engines)
CONTINUUM_STEP = 1.0
#: margin (A) around each response window over which SME synthesises the +delta variants: at least 5.4
#: Gaussian sigmas of the R = 200 kernel at 5190 A, so the spliced R = 200 pixels inside the windows are exact
WINDOW_PAD = 60.0


def sme_bf_metals() -> tuple[str, ...]:
    """The built-in engine's bound-free metals that SMElib also has (it has no Ca I bound-free opacity):
    the comparison reports the continuum with these too, to separate that missing opacity."""
    from ..synthesis.builtin import BF_METALS
    return tuple(m for m in BF_METALS if m != "Ca")


def smelib_physics_options() -> dict:
    """Built-in options that adopt SMElib's physics where it differs by design: its hydrogen line
    profiles (``glocal.validation.smelib_hydrogen.SMELIB_HYDROGEN``) and its set of bound-free opacities."""
    from .smelib_hydrogen import SMELIB_HYDROGEN
    return {"hydrogen_profiles": SMELIB_HYDROGEN, "bound_free_metals": sme_bf_metals()}


def _run(engine, atm, A, line_list, wave_range, vt, options=None, wave=None):
    from ..synthesis import run_engine
    return run_engine(engine, atm, A, line_list, wave_range, vt, options, wave=wave)


def _variants(atm, A, delta):
    """Base abundances, +delta O, +delta Mg (entries beyond ``A`` from the atmosphere, 99 in all)."""
    A = np.asarray(A, float)[:99]
    A = np.concatenate([A, np.asarray(atm.abundances, float)[A.size:99]])
    var = np.tile(A, (3, 1))
    var[1, 7] += delta
    var[2, 11] += delta
    return var


def _weakest_lines(line_list, wave_range):
    """The two weakest non-hydrogen lines in ``wave_range``: SMElib needs a line list (it refuses a
    single line), and the continuum does not depend on which lines."""
    w = line_list["wave"]
    ok = np.where(~line_list.is_hydrogen & (w >= wave_range[0]) & (w <= wave_range[1]))[0]
    return line_list[np.sort(ok[np.argsort(line_list["loggf"][ok])[:2]])]


def continuum_grid(wave_range, step=CONTINUUM_STEP):
    """Uniform grid (Å) of ``step`` over ``wave_range``, ends included."""
    lo, hi = wave_range
    return np.arange(lo, hi + step / 2, step)


def _r200(wave, norm, lo, hi, resolution, grid=None):
    if grid is not None:
        return degrade(wave, norm, R=resolution, grid=grid, weighting="trapezoid")
    return degrade(wave, norm, R=resolution, wmin=lo, wmax=hi, weighting="trapezoid")


def sme_window_variants(atm, A, vt, line_list, wave_r200, base_r200, wave_range=(2550.0, 10000.0), delta=1.0,
                        resolution=200.0):
    """R = 200 spectra (3, n_pix) of the base (``base_r200``, SME's full-range run) and of the +delta O and
    +delta Mg variants, which equal the base except at the pixels of ``wave_r200`` in the response windows
    (:data:`WINDOWS`), where SME synthesises them. Each window, padded by :data:`WINDOW_PAD` Å (more than
    the reach of the R = 200 kernel), is synthesised on SME's default grid; the SME engine hands SMElib
    every line within ``glocal.constants.WING_MARGIN`` of it, so the far wings of strong lines outside the
    window (Mg I 2852, Mg II h&k in cool dwarfs) are there as in a full-range run."""
    from ..synthesis.sme import wave_grid
    lo, hi = wave_range
    var = _variants(atm, A, delta)[1:]
    wave_r200 = np.asarray(wave_r200, float)
    out = np.repeat(np.asarray(base_r200, float).reshape(1, -1), 3, axis=0)
    for a, b in sorted(w for ws in WINDOWS.values() for w in ws):
        pix = (wave_r200 >= a) & (wave_r200 <= b)
        if not pix.any():
            continue
        wave = wave_grid((max(lo, a - WINDOW_PAD), min(hi, b + WINDOW_PAD)))
        r = _run("sme", atm, var, line_list, (wave[0], wave[-1]), vt, wave=wave)
        _, out[1:, pix] = _r200(wave, r.normalized, lo, hi, resolution, grid=wave_r200[pix])
    return out


def sme_reference(atm, A, vt, line_list, wave_range=(2550.0, 10000.0), step=None, delta=1.0,
                  resolution=200.0, variants_in_windows=True):
    """SME's side of the comparison, cacheable: R = 200 normalised spectra of the base, +delta O and
    +delta Mg variants, and the absolute continuum of the base on a ``CONTINUUM_STEP`` grid.

    The base is synthesised over ``wave_range`` (``step`` Å uniform, or None: SME's default grid). With
    ``variants_in_windows`` the two variants are synthesised only in the response windows
    (:func:`sme_window_variants`) and equal the base elsewhere: their R = 200 spectra are exact inside the
    windows, which is all the response ratios use. The continuum comes from a second, line-free SMElib
    run on that grid (continuous opacity does not depend on the lines, and this avoids interpolating
    across the H I and metal edges)."""
    from ..synthesis.sme import wave_grid
    lo, hi = wave_range
    wave = wave_grid(wave_range) if step is None else np.arange(lo, hi + step / 2, step)
    var = _variants(atm, A, delta)
    t = time.perf_counter()
    r = _run("sme", atm, var[:1] if variants_in_windows else var, line_list, wave_range, vt, wave=wave)
    wl, ls = _r200(wave, r.normalized, lo, hi, resolution)
    if variants_in_windows:
        ls = sme_window_variants(atm, A, vt, line_list, wl, ls[0], wave_range, delta, resolution)
    t_s = time.perf_counter() - t
    cw = continuum_grid(wave_range)
    c_only = _run("sme", atm, var[:1], _weakest_lines(line_list, wave_range), wave_range, vt,
                  {"almax_min": None}, wave=cw).continuum
    return {"wave_r200": wl, "sme_r200": ls, "continuum_wave": cw, "sme_continuum": c_only[0],
            "time_sme_s": t_s, "variants_in_windows": variants_in_windows, "window_margin": WING_MARGIN}


def _builtin_continua(atm, A, vt, line_list, wave_range, cw):
    """The built-in engine's continuum of the base on ``cw`` (default options, no H I lines): with all
    its bound-free metals and with SMElib's set."""
    weakest = _weakest_lines(line_list, wave_range)
    base = {"hydrogen_lines": False}
    cb = _run("builtin", atm, A, weakest, wave_range, vt, base, wave=cw).continuum[0]
    cb_sme = _run("builtin", atm, A, weakest, wave_range, vt, {**base, "bound_free_metals": sme_bf_metals()},
                  wave=cw).continuum[0]
    return cb, cb_sme


def _responses(row, wl, lb, ls):
    """Ratios (built-in / SME) of the summed +delta responses in each window of :data:`WINDOWS` (NaN
    where SME's mean response per pixel is below :data:`MIN_RESPONSE`)."""
    for el, k in (("OH", 1), ("Mg", 2)):
        m = np.zeros(wl.size, bool)
        for a, b in WINDOWS[el]:
            m |= (wl >= a) & (wl <= b)
        rb = np.sum(lb[k][m] - lb[0][m])
        rs = np.sum(ls[k][m] - ls[0][m])
        row[f"response_sme_{el}"] = float(rs / max(m.sum(), 1))
        ok = m.any() and abs(rs) >= MIN_RESPONSE * m.sum()
        row[f"response_ratio_{el}"] = float(rb / rs) if ok else np.nan
    return row


def compare_builtin(atm, A, vt, line_list, reference, wave_range=(2550.0, 10000.0), delta=1.0,
                    resolution=200.0, engine_kwargs=None, return_spectra=False):
    """Run the built-in engine (options ``engine_kwargs``: a mapping) on one model and compare it with an
    :func:`sme_reference` dict: rms/max |difference| of the R = 200 normalised base spectra (also with
    SMElib's hydrogen profiles and bound-free set, ``*_smelib_physics``), max relative continuum
    difference (also with SMElib's bound-free opacities: ``continuum_max_rel_sme_opacities``), and the
    ratio of the abundance responses (built-in / SME) in the OH and Mg windows (NaN where SME's mean
    response is below :data:`MIN_RESPONSE`, e.g. OH in 8000 K models)."""
    lo, hi = wave_range
    options = dict(engine_kwargs or {})
    var = _variants(atm, A, delta)
    t = time.perf_counter()
    rb = _run("builtin", atm, var, line_list, wave_range, vt, options)
    t_b = time.perf_counter() - t
    wl, lb = _r200(rb.wave, rb.normalized, lo, hi, resolution)
    ls = np.asarray(reference["sme_r200"], float)
    if not np.allclose(wl, reference["wave_r200"], rtol=1e-7):
        raise ValueError("the SME reference was made on another R = 200 grid (wave range or R differ)")
    d = lb[0] - ls[0]
    # the base once more with SMElib's physics where it differs by design (what remains is the
    # difference between the engines themselves)
    re_ = _run("builtin", atm, var[:1], line_list, wave_range, vt, {**options, **smelib_physics_options()})
    d_e = _r200(re_.wave, re_.normalized, lo, hi, resolution)[1][0] - ls[0]
    cb, cb_sme = _builtin_continua(atm, var[:1], vt, line_list, wave_range,
                                   np.asarray(reference["continuum_wave"], float))
    row = {"teff": atm.teff, "logg": atm.logg, "feh": getattr(atm, "feh", np.nan),
           "rms": float(np.sqrt(np.mean(d**2))), "max": float(np.max(np.abs(d))),
           "wave_of_max": float(wl[np.argmax(np.abs(d))]),
           "rms_smelib_physics": float(np.sqrt(np.mean(d_e**2))), "max_smelib_physics": float(np.max(np.abs(d_e))),
           "wave_of_max_smelib_physics": float(wl[np.argmax(np.abs(d_e))]),
           "continuum_max_rel": float(np.max(np.abs(cb / reference["sme_continuum"] - 1))),
           "continuum_max_rel_sme_opacities": float(np.max(np.abs(cb_sme / reference["sme_continuum"] - 1))),
           "time_builtin_s": t_b, "time_sme_s": float(reference["time_sme_s"])}
    _responses(row, wl, lb, ls)
    if return_spectra:
        row.update(wave_r200=wl, builtin_r200=lb, sme_r200=ls)
    return row


def compare_with_sme(models, line_list=None, wave_range=(2550.0, 10000.0), step=0.02, resolution=200.0,
                     delta=1.0, engine_kwargs=None, return_spectra=False):
    """Compare built-in and SME spectra for each model.

    ``models``: iterable of (atmosphere, abundances, vturb). ``line_list`` defaults to
    ``glocal.linelists.builtin_linelist(wave_range)``. For each model both codes synthesise the
    base abundances and +``delta`` dex in O and in Mg; rows report rms/max |difference| of the R = 200
    normalised spectra, the max continuum difference, the ratio of the abundance responses (built-in /
    SME) in the OH and Mg windows, and the wall times. SME needs all 99 abundances: entries beyond
    ``abundances`` are taken from the atmosphere. ``step``: SME's uniform sampling (Å); ``None`` uses the SME
    engine's default grid (2 km/s in ln lambda, ``glocal.synthesis.sme.wave_grid``). ``engine_kwargs``:
    built-in engine options (mapping). With ``return_spectra`` each row also holds the R = 200 grid and
    both engines' three R = 200 spectra."""
    if line_list is None:
        from ..linelists import builtin_linelist
        line_list = builtin_linelist(wave_range)
    rows = []
    for atm, A, vt in models:
        ref = sme_reference(atm, A, vt, line_list, wave_range, step, delta, resolution)
        rows.append(compare_builtin(atm, A, vt, line_list, ref, wave_range, delta, resolution, engine_kwargs,
                                    return_spectra))
    return rows
