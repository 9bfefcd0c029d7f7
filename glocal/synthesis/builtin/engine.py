"""Orchestration of the built-in LTE engine: ``run(atmosphere, abundances_list, line_list, wave_range,
vturb) -> (wave, flux[n_var, n_wave], continuum[n_var, n_wave])``.

The 16 [O/Fe] x [Mg/Fe] variants of one model (paper §2.1, Eqs. 1-3) share the atmosphere, so
everything that does not depend on O or Mg is computed once:

1. chemistry (Saha + molecules + n_e) for all variants in one batched solve;
2. continuous opacity per variant on a coarse constant-R grid that brackets every edge, then
   interpolated (in log alpha) to the fine grid;
3. variants are grouped into n_e classes (Mg is a main electron donor at low [Fe/H], so the classes
   are the [Mg/Fe] values; O barely moves n_e). Every line's Voigt profile is evaluated once; species
   whose number density is a function of the class only (Fe I, Fe II, Mg I, MgH, ...) are summed per
   class, the others (OH, O I, and C-bearing species through CO when O changes) are kept as dense
   per-species blocks and added per variant with their density ratio;
4. hydrogen lines once per class;
5. the formal solution (``transfer.flux_from_tau``) once per class representative; the other variants
   of a class are re-solved only at the wavelengths where their opacity differs by more than
   ``mask_tol`` (relative) from the representative's.

Tolerances (defaults): classes share n_e to 3e-3, species ratios to 3e-3, masking at 1e-3; together
they change F/Fc by < 2e-3 per pixel at full resolution (test_variants_are_independent_of_batching).

Wavelengths are in air (as the line lists). Fluxes are physical surface fluxes (erg s^-1 cm^-2 A^-1);
the continuum comes from the continuous opacity only (paper §2.1), so F/Fc is the normalised spectrum.
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from .. import _check_wave_range
from . import continuum as cont
from .chemistry import Chemistry, solve_chemistry
from .hydrogen import hydrogen_line_opacity
from .lines import as_air_linelist, line_opacity, prepare_lines, variant_classes
from .transfer import flux_from_tau, optical_depth, planck_lambda


# validity of the continuum tables: H- free-free (Bell & Berrington) from 1823 A, H- bound-free
# (McLaughlin et al. 2017, resampled to E <= 7 eV) from 1771 A; long end set by the Gaunt-factor table
WAVE_MIN, WAVE_MAX = 1823.0, 100000.0


def constant_r_grid(lo: float, hi: float, resolution: float) -> np.ndarray:
    """Wavelengths from lo to hi (inclusive end point) with constant lambda/d lambda."""
    lo, hi = _check_wave_range((lo, hi))
    if not np.isfinite(resolution) or resolution <= 0:
        raise ValueError(f"resolution must be positive, got {resolution}")
    n = int(np.ceil(np.log(hi / lo) * resolution)) + 1
    return lo * np.exp(np.arange(n) / resolution)


def _atm(atmosphere, name):
    v = getattr(atmosphere, name, None)
    if v is None:
        raise TypeError(f"atmosphere has no attribute {name!r}")
    return v


def _depth_arrays(atmosphere):
    arrs = {}
    for k in ("rhox", "T", "P", "xne"):
        a = np.asarray(_atm(atmosphere, k), float)
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


def continuum_opacity(wave, chem: Chemistry, v: int, split=False):
    """Total continuous alpha (cm^-1), shape (nw, nd), for variant ``v`` of a chemistry solution."""
    T = chem.T
    nHI = chem.n_atoms[v, 0, 0]
    nHII = chem.n_atoms[v, 0, 1]
    nHeI = chem.n_atoms[v, 1, 0]
    ne = chem.ne[v]
    nH2 = chem.n_mol[v, chem.mol_index["H2"]] if "H2" in chem.mol_index else np.zeros_like(T)
    parts = {
        "Hminus_bf": cont.hminus_bf(wave, T, chem.n_Hminus[v]),
        "Hminus_ff": cont.hminus_ff(wave, T, nHI, ne),
        "H_bf": cont.hydrogen_bf(wave, T, nHI, chem.U[0, 0]),
        "H_ff": cont.hydrogen_ff(wave, T, nHII, ne),
        "Hemin_ff": cont.hemionus_ff(wave, T, nHeI, ne),
        "H2plus": cont.h2plus(wave, T, nHI, nHII),
        "rayleigh": cont.rayleigh(wave, nHI, nHeI, nH2),
        "thomson": cont.thomson(wave, ne),
    }
    sym = {"C": 6, "Mg": 12, "Al": 13, "Si": 14, "Ca": 20, "Fe": 26}
    metals = cont.metal_bf(wave, T, {k: chem.n_atoms[v, z - 1, 0] for k, z in sym.items()},
                           {k: chem.U[z - 1, 0] for k, z in sym.items()})
    for k, a in metals.items():
        parts[f"{k}_bf"] = a
    if split:
        return parts
    return sum(parts.values())


def _flux_rows(alpha, rho, rhox, S, n_mu, dtype, chunk=2048):
    """Emergent flux for alpha (nw, nd) in blocks of ``chunk`` wavelengths (bounded temporaries)."""
    out = np.empty(alpha.shape[0])
    for i in range(0, alpha.shape[0], chunk):
        kap = (alpha[i:i + chunk] / rho[None, :]).astype(dtype)
        out[i:i + chunk] = flux_from_tau(optical_depth(kap, rhox), S[i:i + chunk], n_mu)
    return out


def _interp_log(x_new, x, y=None, ly=None):
    """Interpolate y (nx, nd) at x_new in log y, per depth column (pass ``ly`` = log y to reuse it)."""
    if ly is None:
        ly = np.log(np.maximum(y, 1e-300))
    j = np.clip(np.searchsorted(x, x_new) - 1, 0, x.size - 2)
    w = ((x_new - x[j]) / (x[j + 1] - x[j]))[:, None]
    return np.exp(ly[j] * (1 - w) + ly[j + 1] * w)


def _abundance_matrix(abundances_list):
    A = np.asarray(abundances_list, float)
    if A.ndim == 1:
        A = A[None, :]
    if A.ndim != 2 or A.shape[1] < 92:
        raise ValueError(f"abundances_list must be (n_var, >=92) log eps values, got {A.shape}")
    if np.any(np.isnan(A[:, :30])):
        raise ValueError("abundances_list has NaN for an element with Z <= 30")
    return A


def run(atmosphere, abundances_list, line_list, wave_range, vturb=None, *, resolution: float = 100000.0,
        continuum_resolution: float = 1500.0, threshold: float = 1e-4, max_window: float = 300.0,
        n_mu: int = 4, electron_density: str = "solve", hydrogen_lines: bool = True,
        ratio_tol: float = 3e-3, class_tol: float = 3e-3, mask_tol: float = 1e-3,
        transfer_dtype=np.float64, depth_points=None, molecular_vdw=-8.2, wing_threshold=None,
        wing_tau: float = 0.1, wave=None, return_details: bool = False):
    """Synthesise all abundance variants of one model atmosphere.

    Parameters
    ----------
    atmosphere : object with surface-first depth arrays ``rhox`` (g cm^-2), ``T`` (K), ``P`` (dyn cm^-2),
        ``xne`` (cm^-3) and ``vturb`` (km/s) (e.g. ``glocal.atmospheres.Atmosphere``).
    abundances_list : (n_var, >=92) log eps (A_X = 12 + log N_X/N_H), Z = 1, 2, ... per variant.
    line_list : ``glocal.linelists.LineList`` in air; isotope fractions are folded into log gf when
        the list has not applied them (``isotopes_applied=False``, e.g. ``read_moog``).
    wave_range : (lo, hi) Angstrom.
    vturb : microturbulence (km/s), default ``atmosphere.vturb``.
    resolution : lambda/d lambda of the internal constant-R grid (ignored if ``wave`` is given);
        R = 1e5 keeps R = 200 spectra within 0.2 % of a 0.01 A run (benchmarks/builtin_engine.py).
    continuum_resolution : R of the coarse continuum grid (edges are bracketed explicitly).
    threshold : lines are kept, and their windows extended, where alpha_line/alpha_cont >= threshold
        (1e-3 is 2.4x faster and moves R = 200 spectra by <= 0.15 %).
    wing_threshold, wing_tau : a line's window extends to where alpha_line/alpha_cont falls below
        ``wing_threshold`` (default ``threshold``) in the layers with tau_Ross >= ``wing_tau``.
    max_window : cap (A) on a line's half-window; Mg II h&k and Ca II H&K reach tens of A.
    n_mu : Gauss-Legendre angles for the flux integral (Hopf grey atmosphere: 2.4e-4 with 4).
    electron_density : "solve" (charge conservation with the variant's abundances, default) or
        "atmosphere" (keep the model's xne).
    hydrogen_lines : add Balmer/Paschen lines from ``hydrogen`` (H I lines of the list are skipped).
    ratio_tol, class_tol, mask_tol : sharing tolerances across variants (see module docstring).
    transfer_dtype : float64 (default) or float32 for the formal solution (changes flux by ~2e-7).
    wave : explicit output/internal wavelength grid (air, strictly increasing) instead of constant R.
    depth_points : optionally resample the model to this many depths (equal steps in log tau_Ross);
        48 points moves R = 200 spectra by ~0.2 %, 36 by ~0.5 %.
    molecular_vdw : log10 of gamma_6/n_H (cm^3 s^-1, at 10^4 K, scaled as T^0.3) for molecular lines
        whose list entry has no damping (linemake hydrides/CN/C2). -8.2 is a typical hydride value and
        reproduces SME's own treatment of such lines: OH A-X (3090-3130 A, 5000 K dwarf, [Fe/H] = -2)
        absorption and its response to +0.4 dex O agree with SME to ~2 % (radiative damping only,
        ``None``, gives a 26 % weaker response). Atoms without data use Unsoeld (see ``lines``).

    Returns
    -------
    wave (n_wave,), flux (n_var, n_wave), continuum (n_var, n_wave) in erg s^-1 cm^-2 A^-1; with
    ``return_details`` also a dict of timings and diagnostics.
    """
    t0 = time.perf_counter()
    timing = {}
    d = _depth_arrays(atmosphere)
    if vturb is None:
        vturb = getattr(atmosphere, "vturb", None)
        if vturb is None:
            raise ValueError("vturb not given and atmosphere has no vturb")
    vt = np.asarray(vturb, float)
    if not np.all(np.isfinite(vt)) or np.any(vt < 0):
        raise ValueError(f"vturb must be finite and >= 0, got {vturb!r}")
    A = _abundance_matrix(abundances_list)
    line_list = as_air_linelist(line_list)
    lo, hi = _check_wave_range(wave_range)
    if wave is None:
        grid = constant_r_grid(lo, hi, resolution)
    else:
        grid = np.asarray(wave, float)
        if grid.ndim != 1 or grid.size < 2 or np.any(np.diff(grid) <= 0) or not np.all(np.isfinite(grid)):
            raise ValueError("wave must be a 1-D strictly increasing finite array")
        lo, hi = grid[0], grid[-1]
    if lo < WAVE_MIN or hi > WAVE_MAX:
        raise ValueError(f"wave_range ({lo}, {hi}) A is outside the range covered by the opacity tables "
                         f"({WAVE_MIN:.0f}-{WAVE_MAX:.0f} A)")
    nd = d["T"].size
    abross = getattr(atmosphere, "abross", None)
    if abross is not None and np.size(abross) == nd and np.all(np.asarray(abross) > 0):
        tau_ross = optical_depth(np.asarray(abross, float), d["rhox"])
    else:
        tau_ross = None
    if depth_points is not None:
        d, tau_ross = _resample_depth(d, tau_ross, int(depth_points))
    nv, nd = A.shape[0], d["T"].size
    tdtype = np.dtype(transfer_dtype)

    chem = solve_chemistry(d["T"], d["P"], A[:, :92], ne_guess=d["xne"], electron_density=electron_density)
    timing["chemistry"] = time.perf_counter() - t0

    # coarse continuum grid bracketing all edges
    t = time.perf_counter()
    cgrid = constant_r_grid(lo * 0.999, hi * 1.001, continuum_resolution)
    edges = cont.continuum_edges(cgrid[0], cgrid[-1])
    cgrid = np.unique(np.concatenate([cgrid, edges - 2e-3, edges + 2e-3]))
    alpha_c = np.stack([continuum_opacity(cgrid, chem, v) for v in range(nv)])  # (nv, nc, nd)
    timing["continuum"] = time.perf_counter() - t

    # lines, shared across variants (one Voigt evaluation per line and depth)
    t = time.perf_counter()
    classes = variant_classes(chem.ne, class_tol)
    reps = np.array([np.where(classes == c)[0][0] for c in range(classes.max() + 1)])
    log_alpha_c0 = np.log(np.maximum(alpha_c[0], 1e-300))
    lines = prepare_lines(line_list, chem, vt, (lo, hi), lambda w: _interp_log(w, cgrid, ly=log_alpha_c0),
                          threshold=threshold, max_window=max_window, ratio_tol=ratio_tol, classes=classes,
                          tau_ross=tau_ross, molecular_vdw=molecular_vdw, wing_threshold=wing_threshold,
                          wing_tau=wing_tau)
    lop = line_opacity(grid, lines)
    timing["lines"] = time.perf_counter() - t
    t = time.perf_counter()
    h_alpha = {}
    if hydrogen_lines:
        for c, r in enumerate(reps):
            h_alpha[c] = hydrogen_line_opacity(grid, chem.T, chem.ne[r], chem.n_atoms[r, 0, 0], chem.U[0, 0], vt)
    timing["hydrogen"] = time.perf_counter() - t

    t = time.perf_counter()
    S = planck_lambda(grid, chem.T).astype(tdtype)
    Sc = planck_lambda(cgrid, chem.T)
    flux = np.empty((nv, grid.size))
    fcont = np.empty((nv, grid.size))
    n_masked = 0
    for c, r in enumerate(reps):
        base = _interp_log(grid, cgrid, alpha_c[r]) + lop.alpha_class[c]
        if hydrogen_lines:
            base += h_alpha[c]
        spec_r = lop.variant_specific(lines.ratio[:, r, :])
        alpha_r = base + spec_r
        del base
        flux[r] = _flux_rows(alpha_r, chem.rho[r], d["rhox"], S, n_mu, tdtype)
        for v in np.where(classes == c)[0]:
            if v == r:
                continue
            D = lop.variant_specific(lines.ratio[:, v, :], lines.ratio[:, r, :])
            rows = np.where(np.max(np.abs(D) / alpha_r, axis=1) > mask_tol)[0]
            flux[v] = flux[r]
            if rows.size:
                flux[v, rows] = _flux_rows(alpha_r[rows] + D[rows], chem.rho[v], d["rhox"], S[rows], n_mu,
                                           tdtype)
            del D
            n_masked += rows.size
    for v in range(nv):
        kc = alpha_c[v] / chem.rho[v][None, :]
        fc = flux_from_tau(optical_depth(kc, d["rhox"]), Sc, n_mu)
        fcont[v] = np.exp(np.interp(np.log(grid), np.log(cgrid), np.log(fc)))
    timing["transfer"] = time.perf_counter() - t
    timing["total"] = time.perf_counter() - t0
    if not np.all(np.isfinite(flux)):
        warnings.warn("non-finite flux values in the built-in synthesis", RuntimeWarning, stacklevel=2)
    if return_details:
        details = {"timing": timing, "n_lines_input": lines.n_input, "n_lines_used": int(lines.wave.size),
                   "n_classes": int(reps.size), "variant_specific_species": [
                       n_ for n_, sh in zip(lines.species_names, lines.shared) if not sh],
                   "n_masked_rows": int(n_masked), "skipped_species": lines.skipped,
                   "chemistry": chem, "continuum_grid": cgrid}
        return grid, flux, fcont, details
    return grid, flux, fcont
