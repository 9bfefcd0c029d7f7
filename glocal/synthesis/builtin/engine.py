"""Orchestration of the built-in LTE engine: ``run(atmosphere, abundances, line_list, wave_range, vturb,
options) -> EngineResult`` (the contract of ``glocal.synthesis.contract``).

The 16 [O/Fe] x [Mg/Fe] variants of one model (paper §2.1, Eqs. 1-3) share the atmosphere, so
everything that does not depend on O or Mg is computed once (identical variants only once at all):

1. chemistry (``chemistry``: Saha + molecules + n_e) for all variants in one batched solve;
2. continuous opacity per variant on a coarse constant-R grid that brackets every edge, interpolated to
   the fine grid (``continuum``);
3. variants are grouped into n_e classes (Mg is a main electron donor at low [Fe/H], so the classes
   are essentially the [Mg/Fe] values; O barely moves n_e). Lines: a log-space screening of the whole
   list, then the lines that matter with their strengths, widths and windows (``selection``), deposited
   on the grid (``deposit``): class-shared species (Fe I, Fe II, Mg I, MgH, ...) on a low-rank basis of
   the class ratios, the others (OH, O I, and C-bearing species through CO when O changes) per species;
4. hydrogen lines once per class (``hydrogen``);
5. the formal solution in blocks of wavelengths (``variants``, ``transfer``), once per class
   representative together with its exact response dF/dkappa; the other variants of a class get
   F_r + response . (their opacity difference), and an exact solution where that difference moves tau
   by more than ``mask_tol``; F_c from the continuum alone on the coarse grid.

Wavelengths are in air (as the line lists). Fluxes are physical surface fluxes (erg s^-1 cm^-2 A^-1);
the continuum comes from the continuous opacity only (paper §2.1), so F/F_c is the normalised spectrum.
Accuracy of the defaults and the effect of every option: :class:`~.options.BuiltinOptions`.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from glocal._checks import check_wave_grid, check_wave_range
from glocal.atmospheres.overshoot import remove_overshoot
from glocal.synthesis.contract import EngineResult

from . import continuum as cont
from .chemistry import solve_chemistry
from .deposit import line_opacity
from .grids import WAVE_MAX, WAVE_MIN, auto_resolution, constant_r_grid
from .hydrogen import hydrogen_line_opacity
from .options import BuiltinOptions
from .selection import as_air_linelist, prepare_lines, variant_classes
from .transfer import optical_depth
from .variants import variant_fluxes


@dataclass
class _Model:
    """One atmosphere prepared for synthesis: depth arrays ``d`` (rhox, T, P, xne), tau_Ross (or None),
    microturbulence ``vt`` (km/s), the distinct abundance rows ``A`` with ``source[v]`` the row of
    variant v, the wavelength grid (air A) and the range (lo, hi) it covers (wave_range, or the ends
    of an explicit grid)."""
    d: dict
    tau_ross: np.ndarray | None
    vt: np.ndarray
    A: np.ndarray
    source: np.ndarray
    grid: np.ndarray
    lo: float
    hi: float


def _depth_arrays(atmosphere):
    """rhox, T, P, xne of ``atmosphere`` (TypeError if missing; ValueError unless 1-D, positive, finite,
    of one length, rhox increasing inwards)."""
    arrs = {}
    for k in ("rhox", "T", "P", "xne"):
        v = getattr(atmosphere, k, None)
        if v is None:
            raise TypeError(f"atmosphere has no attribute {k!r}")
        a = np.asarray(v, float)
        if a.ndim != 1:
            raise ValueError(f"atmosphere.{k} must be 1-D, got shape {a.shape}")
        if not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError(f"atmosphere.{k} must be finite and positive")
        arrs[k] = a
    n = {a.size for a in arrs.values()}
    if len(n) != 1:
        raise ValueError(f"atmosphere depth arrays differ in length: { {k: a.size for k, a in arrs.items()} }")
    if np.any(np.diff(arrs["rhox"]) <= 0):
        raise ValueError("atmosphere.rhox must increase strictly inwards (surface first)")
    return arrs


def _resample_depth(d, tau_ross, n):
    """Interpolate the model onto ``n`` points equally spaced in log tau_Ross (log column mass if
    tau_Ross is unknown); T linear, rhox/P/xne logarithmic in that coordinate."""
    if n < 8:
        raise ValueError(f"depth_points must be >= 8, got {n}")
    x = np.log(tau_ross) if tau_ross is not None else np.log(d["rhox"])
    xn = np.linspace(x[0], x[-1], n)
    out = {"T": np.interp(xn, x, d["T"])}
    for k in ("rhox", "P", "xne"):
        out[k] = np.exp(np.interp(xn, x, np.log(d[k])))
    return out, (np.exp(xn) if tau_ross is not None else None)


def _distinct_rows(abundances):
    """(distinct rows of the (n_var, >=92) log eps matrix, index of every variant's row): identical variants
    (the paper's 16 include {O: 0, Mg: 0} twice) are computed once."""
    A = np.asarray(abundances, float)
    if A.ndim == 1:
        A = A[None, :]
    if A.ndim != 2 or A.shape[1] < 92:
        raise ValueError(f"abundances must be (n_var, >=92) log eps values, got {A.shape}")
    if np.any(np.isnan(A[:, :30])):
        raise ValueError("abundances have NaN for an element with Z <= 30")
    first = []
    source = np.empty(A.shape[0], int)
    for v in range(A.shape[0]):
        for k, u in enumerate(first):
            if np.array_equal(A[u], A[v], equal_nan=True):
                source[v] = k
                break
        else:
            source[v] = len(first)
            first.append(v)
    return A[first], source


def _model(atmosphere, abundances, vturb, wave_range, wave, opts: BuiltinOptions) -> _Model:
    """Check and prepare the inputs of ``run`` (``_Model``)."""
    d = _depth_arrays(atmosphere)
    if vturb is None:
        vturb = getattr(atmosphere, "vturb", None)
        if vturb is None:
            raise ValueError("vturb not given and atmosphere has no vturb")
    vt = np.asarray(vturb, float)
    if not np.all(np.isfinite(vt)) or np.any(vt < 0):
        raise ValueError(f"vturb must be finite and >= 0, got {vturb!r}")
    A, source = _distinct_rows(abundances)
    lo, hi = check_wave_range(wave_range)
    abross = getattr(atmosphere, "abross", None)
    tau_ross = None
    if abross is not None and np.size(abross) == d["T"].size and np.all(np.asarray(abross) > 0):
        tau_ross = optical_depth(np.asarray(abross, float), d["rhox"], "log")
    if wave is None:
        resolution = opts.resolution
        if resolution == "auto":
            resolution = auto_resolution(d["T"], tau_ross, vt)
        grid = constant_r_grid(lo, hi, resolution)
    else:
        grid = check_wave_grid(wave, "wave", min_size=2)
        lo, hi = grid[0], grid[-1]
    if lo < WAVE_MIN or hi > WAVE_MAX:
        raise ValueError(f"wave_range ({lo}, {hi}) A is outside the range covered by the opacity tables "
                         f"({WAVE_MIN:.0f}-{WAVE_MAX:.0f} A)")
    if opts.structure_correction is not None:
        if tau_ross is None:
            raise ValueError(f"structure_correction={opts.structure_correction!r} needs the atmosphere's abross "
                             "(the Rosseland optical depth)")
        d = {**d, "T": remove_overshoot(d["T"], tau_ross)}
    if opts.depth_points is not None:
        d, tau_ross = _resample_depth(d, tau_ross, int(opts.depth_points))
    return _Model(d=d, tau_ross=tau_ross, vt=vt, A=A, source=source, grid=grid, lo=lo, hi=hi)


def _line_opacity(m: _Model, chem, cgrid, alpha_c, line_list, opts: BuiltinOptions):
    """(n_e class of every variant, class representatives, selected lines, their ``deposit.LineOpacity``)."""
    classes = variant_classes(chem.ne, opts.class_tol)
    reps = np.array([np.where(classes == c)[0][0] for c in range(classes.max() + 1)])
    log_alpha_c0 = np.log(np.maximum(alpha_c[0], 1e-300))
    lines = prepare_lines(line_list, chem, m.vt, (m.lo, m.hi),
                          lambda w: cont.interp_linear(w, cgrid, alpha_c[0]), threshold=opts.threshold,
                          max_window=opts.max_window, ratio_tol=opts.ratio_tol, classes=classes,
                          tau_ross=m.tau_ross, molecular_vdw=opts.molecular_vdw, weak_ratio=opts.weak_ratio,
                          cont_grid=(cgrid, log_alpha_c0), unsold_enhancement=opts.unsold_enhancement)
    lop = line_opacity(m.grid, lines, core_doppler=opts.core_doppler)
    return classes, reps, lines, lop


def _hydrogen(m: _Model, chem, reps, cgrid, alpha_c, line_list, opts: BuiltinOptions):
    """Hydrogen lines as (h0 (nw, nd) float32, h_scale (n_class, nd)): computed once, for the first class;
    the classes differ in n_e by ~1e-3-1e-2 (O, Mg donors), which moves the Stark widths negligibly, so
    the other classes only rescale n(H I). No rows without ``hydrogen_lines``."""
    nd = chem.T.size
    if not opts.hydrogen_lines:
        return np.zeros((0, nd), np.float32), np.ones((reps.size, nd), np.float32)
    r0 = reps[0]
    h0 = hydrogen_line_opacity(m.grid, chem.T, chem.ne[r0], chem.n_atoms[r0, 0, 0], chem.U[0, 0], m.vt,
                               lambda w: cont.interp_linear(w, cgrid, alpha_c[0]), threshold=opts.threshold,
                               line_list=line_list, dissolution=opts.hydrogen_dissolution,
                               profiles=opts.hydrogen_profiles, n_HeI=chem.n_atoms[r0, 1, 0])
    h_scale = np.array([chem.n_atoms[r, 0, 0] / chem.n_atoms[r0, 0, 0] for r in reps], np.float32)
    return h0.astype(np.float32), h_scale


def run(atmosphere, abundances, line_list, wave_range, vturb=None, options: BuiltinOptions | None = None, *,
        wave=None) -> EngineResult:
    """Synthesise all abundance variants of one model atmosphere (module docstring).

    ``atmosphere``: surface-first depth arrays ``rhox`` (g cm^-2), ``T`` (K), ``P`` (dyn cm^-2), ``xne``
    (cm^-3), optionally ``abross`` (cm^2 g^-1, for tau_Ross) and ``vturb`` (e.g.
    ``glocal.atmospheres.Atmosphere``); ``abundances``: (n_var, >=92) log eps (A_X = 12 + log N_X/N_H),
    Z = 1, 2, ..., identical rows computed once; ``line_list``: ``glocal.linelists.LineList`` in air
    (isotope fractions are folded into log gf when the list has not applied them); ``wave_range``: (lo,
    hi) air A within ``grids.WAVE_MIN``-``grids.WAVE_MAX``; ``vturb``: microturbulence (km/s, default
    ``atmosphere.vturb``); ``options``: :class:`BuiltinOptions` (None: the defaults; a mapping is
    checked by ``BuiltinOptions.from_mapping``); ``wave``: explicit output grid (air A, strictly
    increasing) instead of the constant-R grid.

    Returns ``EngineResult(wave, flux, continuum, details)``: flux F and continuum F_c (n_var, n_wave) in
    erg s^-1 cm^-2 A^-1; ``details``: ``timing`` (seconds per stage), ``n_lines_input``, ``n_lines_used``,
    ``n_classes``, ``variant_specific_species``, ``n_masked_rows`` (rows solved exactly),
    ``skipped_species``, ``n_distinct_variants``, ``chemistry`` (``Chemistry``), ``continuum_grid``."""
    opts = BuiltinOptions.from_mapping(options)
    t0 = time.perf_counter()
    line_list = as_air_linelist(line_list)
    m = _model(atmosphere, abundances, vturb, wave_range, wave, opts)
    timing = {}
    chem = solve_chemistry(m.d["T"], m.d["P"], m.A[:, :92], ne_guess=m.d["xne"],
                           electron_density=opts.electron_density)
    timing["chemistry"] = time.perf_counter() - t0
    t = time.perf_counter()
    cgrid = cont.continuum_grid(m.lo, m.hi, opts.continuum_resolution)
    alpha_c = cont.continuum_opacity(cgrid, chem, metals=opts.bound_free_metals)  # (nv, nc, nd)
    timing["continuum"] = time.perf_counter() - t
    t = time.perf_counter()
    classes, reps, lines, lop = _line_opacity(m, chem, cgrid, alpha_c, line_list, opts)
    timing["lines"] = time.perf_counter() - t
    t = time.perf_counter()
    hydrogen = _hydrogen(m, chem, reps, cgrid, alpha_c, line_list, opts)
    timing["hydrogen"] = time.perf_counter() - t
    t = time.perf_counter()
    flux, n_masked = variant_fluxes(m.grid, cgrid, alpha_c, lop, lines.ratio, hydrogen, chem, m.d["rhox"],
                                    classes, reps, opts.n_mu, opts.mask_tol, np.dtype(opts.transfer_dtype),
                                    opts.tau_integration)
    method = "log" if opts.tau_integration == "reference" else opts.tau_integration
    fcont = cont.continuum_flux(m.grid, cgrid, alpha_c, chem, m.d["rhox"], method, opts.n_mu)
    timing["transfer"] = time.perf_counter() - t
    flux, fcont = flux[m.source], fcont[m.source]
    timing["total"] = time.perf_counter() - t0
    if not np.all(np.isfinite(flux)):
        warnings.warn("non-finite flux values in the built-in synthesis", RuntimeWarning, stacklevel=2)
    details = {"timing": timing, "n_lines_input": lines.n_input, "n_lines_used": int(lines.wave.size),
               "n_classes": int(reps.size), "variant_specific_species": [
                   n_ for n_, sh in zip(lines.species_names, lines.shared) if not sh],
               "n_masked_rows": int(n_masked), "skipped_species": lines.skipped,
               "n_distinct_variants": int(m.A.shape[0]), "chemistry": chem, "continuum_grid": cgrid}
    return EngineResult(wave=m.grid, flux=flux, continuum=fcont, details=details)
