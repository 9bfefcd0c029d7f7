"""Validation of the built-in engine against SME (pysme-astro; Valenti & Piskunov 1996, Piskunov &
Valenti 2017) on the same atmosphere, line list, abundances and microturbulence.

``compare_with_sme(models)`` runs both engines (SME through the project's SME engine,
``glocal.synthesis.sme.run``) and returns a table (list of dicts) of the agreement of R = 200 normalised
spectra (rms/max over the full range), of the continuum, and of the abundance response in the OH
(3050-3250 A) and Mg (2780-2870, 5160-5190 A) windows. The R = 200 degradation is
``glocal.degrade.degrade`` (paper §2.2, Eqs. 8-11) with trapezoidal kernel weights, since the two
engines' grids differ (constant R vs uniform ``step``).

Measured (Kurucz 1993 [M/H] = -2 models 5000/4.5, 6000/4.0, 4500/1.5; linemake atoms + hydrides + CN +
C2; +0.4 dex responses; windows because SME needs ~20 min per full-range spectrum; measured with an
earlier private pysme driver that gave SME the built-in chemistry's rho/n_e, whereas
``glocal.synthesis.sme.run`` keeps the model's n_e):

==============  =====================  =====================  ==================  ===============
window (A)      R=200 rms              R=200 max              continuum (max)     response ratio
==============  =====================  =====================  ==================  ===============
2750-2900 (Mg)  0.27-0.67 %            0.59-1.06 %            0.6-1.8 %           Mg 1.00-1.01
3000-3300 (OH)  0.10-0.32 %            0.26-0.73 %            1.3-2.3 %           OH 0.98-0.99
5100-5250 (Mg)  0.03-0.07 %            0.05-0.12 %            0.6 %               Mg 0.99-1.04
==============  =====================  =====================  ==================  ===============

Continuum alone, 2600-9900 A: within 0.6 % redward of 4500 A for all three models; 1.1-1.8 % low for
6000/4.0 in the UV; 2-6 % high at 3400-4000 A for the two cool models (largest, 5.7 %, at the Balmer
limit of the 4500/1.5 giant) -- most likely missing UV bound-free opacity (OH/CH photodissociation
and TOPbase-quality Mg I/Fe I/Si I cross-sections are not included).
"""
from __future__ import annotations

import time

import numpy as np

from glocal.constants import WING_MARGIN
from glocal.degrade import degrade
from glocal.synthesis.sme import run as sme_run

from .engine import BF_METALS, run

WINDOWS = {"OH": [(3050.0, 3250.0)], "Mg": [(2780.0, 2870.0), (5160.0, 5190.0)]}
#: smallest mean change of F/Fc per R = 200 pixel in a window for which a response ratio is reported
MIN_RESPONSE = 1e-3
#: spacing (A) of the grid on which the absolute continua are compared (edges bracketed by the engines)
CONTINUUM_STEP = 1.0
#: the built-in engine's bound-free metals that SMElib also has (it has no Ca I bound-free opacity); the
#: table reports the continuum with these too, to separate that missing opacity from everything else
SME_BF_METALS = tuple(m for m in BF_METALS if m != "Ca")


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
    lo, hi = wave_range
    return np.arange(lo, hi + step / 2, step)


#: margin (A) around each response window over which SME synthesises the +delta variants: at least 5.4
#: Gaussian sigmas of the R = 200 kernel at 5190 A, so the spliced R = 200 pixels inside the windows are exact
WINDOW_PAD = 60.0


def sme_window_variants(atm, A, vt, line_list, wave_r200, base_r200, wave_range=(2550.0, 10000.0), delta=1.0,
                        resolution=200.0):
    """R = 200 spectra (3, n_pix) of the base (``base_r200``, SME's full-range run) and of the +delta O and
    +delta Mg variants, which equal the base except at the pixels of ``wave_r200`` in the response windows
    (``WINDOWS``), where SME synthesises them. Each window, padded by
    ``WINDOW_PAD`` A (more than the reach of the R = 200 kernel), is synthesised on SME's converged grid; the
    SME engine hands SMElib every line within ``glocal.constants.WING_MARGIN`` of it, so the far wings of
    strong lines outside the window (Mg I 2852, Mg II h&k in cool dwarfs) are there as in a full-range run."""
    from glocal.synthesis.sme import wave_grid
    lo, hi = wave_range
    var = _variants(atm, A, delta)[1:]
    wave_r200 = np.asarray(wave_r200, float)
    out = np.repeat(np.asarray(base_r200, float).reshape(1, -1), 3, axis=0)
    for a, b in sorted(w for ws in WINDOWS.values() for w in ws):
        pix = (wave_r200 >= a) & (wave_r200 <= b)
        if not pix.any():
            continue
        wave = wave_grid((max(lo, a - WINDOW_PAD), min(hi, b + WINDOW_PAD)))
        _, fw, cw_ = sme_run(atm, var, line_list, (wave[0], wave[-1]), vt, wave=wave)
        _, out[1:, pix] = degrade(wave, fw / cw_, R=resolution, grid=wave_r200[pix], weighting="trapezoid")
    return out


def sme_reference(atm, A, vt, line_list, wave_range=(2550.0, 10000.0), step=None, delta=1.0,
                  resolution=200.0, variants_in_windows=True):
    """SME's side of the comparison, cacheable: R = 200 normalised spectra of the base, +delta O and
    +delta Mg variants, and the absolute continuum of the base on a ``CONTINUUM_STEP`` grid.

    The base is synthesised over ``wave_range``. With ``variants_in_windows`` the two variants are
    synthesised only in the response windows (``sme_window_variants``) and equal the base elsewhere: their
    R = 200 spectra are exact inside the windows, which is all the response ratios use, at a third of the
    cost. The continuum comes from a second, line-free SMElib run on that grid (continuous opacity does not
    depend on the lines, and this avoids interpolating across the H I and metal edges)."""
    lo, hi = wave_range
    if step is None:
        from glocal.synthesis.sme import wave_grid
        wave = wave_grid(wave_range)
    else:
        wave = np.arange(lo, hi + step / 2, step)
    var = _variants(atm, A, delta)
    t = time.perf_counter()
    _, f_s, c_s = sme_run(atm, var[:1] if variants_in_windows else var, line_list, wave_range, vt, wave=wave)
    wl, ls = degrade(wave, f_s / c_s, R=resolution, wmin=lo, wmax=hi, weighting="trapezoid")
    if variants_in_windows:
        ls = sme_window_variants(atm, A, vt, line_list, wl, ls[0], wave_range, delta, resolution)
    t_s = time.perf_counter() - t
    cw = continuum_grid(wave_range)
    _, _, c_only = sme_run(atm, var[:1], _weakest_lines(line_list, wave_range), wave_range, vt, wave=cw,
                           almax_min=None)
    return {"wave_r200": wl, "sme_r200": ls, "continuum_wave": cw, "sme_continuum": c_only[0],
            "time_sme_s": t_s, "variants_in_windows": variants_in_windows, "window_margin": WING_MARGIN}


def compare_builtin(atm, A, vt, line_list, reference, wave_range=(2550.0, 10000.0), delta=1.0,
                    resolution=200.0, engine_kwargs=None, return_spectra=False):
    """Run the built-in engine on one model and compare it with an ``sme_reference`` dict: rms/max
    |difference| of the R = 200 normalised base spectra (also with SMElib's hydrogen profiles and bound-free
    set, ``*_smelib_physics``), max relative continuum difference (also with
    SMElib's bound-free opacities, ``SME_BF_METALS``: ``continuum_max_rel_sme_opacities``), and the
    ratio of the abundance responses (built-in / SME) in the OH and Mg windows (NaN where SME's mean
    response is below ``MIN_RESPONSE``, e.g. OH in 8000 K models)."""
    lo, hi = wave_range
    var = _variants(atm, A, delta)
    t = time.perf_counter()
    w_b, f_b, c_b = run(atm, var, line_list, wave_range, vt, **dict(engine_kwargs or {}))
    t_b = time.perf_counter() - t
    wl, lb = degrade(w_b, f_b / c_b, R=resolution, wmin=lo, wmax=hi, weighting="trapezoid")
    ls = np.asarray(reference["sme_r200"], float)
    if not np.allclose(wl, reference["wave_r200"], rtol=1e-7):
        raise ValueError("the SME reference was made on another R = 200 grid (wave range or R differ)")
    d = lb[0] - ls[0]
    # the base once more with SMElib's physics where it differs by design: its hydrogen profiles and its
    # set of bound-free opacities (what remains is the difference between the engines themselves)
    kw = dict(engine_kwargs or {}, hydrogen_profiles="smelib", bound_free_metals=SME_BF_METALS)
    w_e, f_e, c_e = run(atm, var[:1], line_list, wave_range, vt, **kw)
    d_e = degrade(w_e, f_e / c_e, R=resolution, wmin=lo, wmax=hi, weighting="trapezoid")[1][0] - ls[0]
    cw = np.asarray(reference["continuum_wave"], float)
    weakest = _weakest_lines(line_list, wave_range)
    _, _, cb = run(atm, var[:1], weakest, wave_range, vt, wave=cw, hydrogen_lines=False)
    # the same with SMElib's set of continuous opacities (no Ca I bound-free)
    _, _, cb_sme = run(atm, var[:1], weakest, wave_range, vt, wave=cw, hydrogen_lines=False,
                       bound_free_metals=SME_BF_METALS)
    row = {"teff": atm.teff, "logg": atm.logg, "feh": getattr(atm, "feh", np.nan),
           "rms": float(np.sqrt(np.mean(d**2))), "max": float(np.max(np.abs(d))),
           "wave_of_max": float(wl[np.argmax(np.abs(d))]),
           "rms_smelib_physics": float(np.sqrt(np.mean(d_e**2))), "max_smelib_physics": float(np.max(np.abs(d_e))),
           "wave_of_max_smelib_physics": float(wl[np.argmax(np.abs(d_e))]),
           "continuum_max_rel": float(np.max(np.abs(cb[0] / reference["sme_continuum"] - 1))),
           "continuum_max_rel_sme_opacities": float(np.max(np.abs(cb_sme[0] / reference["sme_continuum"] - 1))),
           "time_builtin_s": t_b, "time_sme_s": float(reference["time_sme_s"])}
    for el, k in (("OH", 1), ("Mg", 2)):
        m = np.zeros(wl.size, bool)
        for a, b in WINDOWS[el]:
            m |= (wl >= a) & (wl <= b)
        rb = np.sum(lb[k][m] - lb[0][m])
        rs = np.sum(ls[k][m] - ls[0][m])
        # SME's mean response per pixel; below MIN_RESPONSE the ratio of two near-zero numbers means nothing
        row[f"response_sme_{el}"] = float(rs / max(m.sum(), 1))
        ok = m.any() and abs(rs) >= MIN_RESPONSE * m.sum()
        row[f"response_ratio_{el}"] = float(rb / rs) if ok else np.nan
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
    engine's own converged grid (2 km/s in ln lambda, ``glocal.synthesis.sme.wave_grid``). With
    ``return_spectra`` each row also holds the R = 200 grid and both engines' three R = 200 spectra."""
    if line_list is None:
        from glocal.linelists import builtin_linelist
        line_list = builtin_linelist(wave_range)
    rows = []
    for atm, A, vt in models:
        ref = sme_reference(atm, A, vt, line_list, wave_range, step, delta, resolution)
        rows.append(compare_builtin(atm, A, vt, line_list, ref, wave_range, delta, resolution, engine_kwargs,
                                    return_spectra))
    return rows
