"""Orchestration of the built-in LTE engine: ``run(atmosphere, abundances_list, line_list, wave_range,
vturb) -> (wave, flux[n_var, n_wave], continuum[n_var, n_wave])``.

The 16 [O/Fe] x [Mg/Fe] variants of one model (paper §2.1, Eqs. 1-3) share the atmosphere, so
everything that does not depend on O or Mg is computed once (identical variants only once at all):

1. chemistry (Saha + molecules + n_e) for all variants in one batched solve;
2. continuous opacity per variant on a coarse constant-R grid that brackets every edge, then
   interpolated (in log alpha) to the fine grid;
3. variants are grouped into n_e classes (Mg is a main electron donor at low [Fe/H], so the classes
   are essentially the [Mg/Fe] values; O barely moves n_e). Lines (``lines``): a log-space screening of
   the whole list, then weak lines (centre/continuum < ``weak_ratio``) deposited with their integrated
   opacity, the others with their Voigt core per depth and a separable Lorentz-wing expansion; species
   whose number density is a function of the class only (Fe I, Fe II, Mg I, MgH, ...) are summed on a
   low-rank basis of the class ratios, the others (OH, O I, and C-bearing species through CO when O
   changes) are kept per species and added per variant with their density ratio;
4. hydrogen lines once per class;
5. the formal solution in blocks of wavelengths (``transfer.flux_weighted``, compiled: tau from the
   reference weights, one exponential per point for the 7-angle quadrature), once per class
   representative together with its exact response dF/dkappa; the other variants of a class get
   F_r + response . (their opacity difference), and an exact solution where that difference moves tau
   by more than ``mask_tol`` (e.g. OH lines when O changes) (``_linear_variant``).

Tolerances (defaults): classes share n_e to 3e-3, species ratios to 3e-3, exact re-solution above 1e-2;
together they change F/Fc by < 2e-3 per pixel at full resolution (test_variants_are_independent_of_batching)
and by ~1e-4 at R = 200.

Wavelengths are in air (as the line lists). Fluxes are physical surface fluxes (erg s^-1 cm^-2 A^-1);
the continuum comes from the continuous opacity only (paper §2.1), so F/Fc is the normalised spectrum.
"""
from __future__ import annotations

import math
import time
import warnings

import numba
import numpy as np

from .. import _check_wave_range
from . import continuum as cont
from .chemistry import Chemistry, solve_chemistry
from .hydrogen import hydrogen_line_opacity
from .lines import as_air_linelist, line_opacity, prepare_lines, variant_classes
from .tables import AMU, C_CGS, K_CGS
from .transfer import flux_from_tau, flux_weighted, optical_depth, planck_lambda, reference_weights


# validity of the continuum tables: H- free-free (Bell & Berrington) from 1823 A, H- bound-free
# (McLaughlin et al. 2017, resampled to E <= 7 eV) from 1771 A; long end set by the Gaunt-factor table
WAVE_MIN, WAVE_MAX = 1823.0, 100000.0


#: ``resolution="auto"``: grid step of AUTO_STEP Doppler widths of Fe I lines at the temperature of
#: tau_Ross = 0.01 (microturbulence included): R = c / (AUTO_STEP v_D), rounded up to 1000. The R = 200
#: spectrum of crowded saturated blends (the UV of cool metal-poor giants) converges only once the
#: grid resolves the Doppler cores; 1.15 keeps it within 0.12 % of a 0.01 A run (4500/2.0/-2.0: R =
#: 124 000; R = 1e5 leaves 0.2 %; benchmarks/builtin_engine.py --sampling). It is conservative for
#: dwarfs (5000/4.5/-2.0: 163 000, although 125 000 is already within 0.06 %), hence not the default.
AUTO_STEP = 1.15


def auto_resolution(T, tau_ross, vturb, step: float = AUTO_STEP) -> float:
    """Resolving power of the ``resolution="auto"`` grid for a model with temperatures ``T`` on the
    Rosseland scale ``tau_ross`` (None: the coolest layer) and microturbulence ``vturb`` (km/s)."""
    T = np.asarray(T, float)
    t_ref = float(np.interp(np.log(0.01), np.log(tau_ross), T)) if tau_ross is not None else float(T.min())
    xi = float(np.max(np.asarray(vturb, float))) * 1e5
    v_d = np.sqrt(2 * K_CGS * t_ref / (55.845 * AMU) + xi * xi)
    return float(np.ceil(C_CGS / (step * v_d) / 1000.0) * 1000.0)


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


#: neutral metals whose bound-free opacity the engine includes (``continuum.metal_bf``)
BF_METALS = ("C", "Mg", "Al", "Si", "Ca", "Fe")
_BF_Z = {"C": 6, "Mg": 12, "Al": 13, "Si": 14, "Ca": 20, "Fe": 26}


def _check_bf_metals(metals) -> tuple:
    metals = tuple(metals)
    unknown = [m for m in metals if m not in BF_METALS]
    if unknown:
        raise ValueError(f"unknown bound-free metal(s) {unknown}; choose from {BF_METALS}")
    return metals


def _continuum_terms(wave, chem: Chemistry, metals=BF_METALS):
    """The continuous opacities as (process, alpha per unit density (nw, nd), density (nv, nd)): every
    process is linear in one number density or in a product of two, and its cross-section depends on
    T only, so the variants of a model share them. ``metals``: the neutral metals with bound-free opacity."""
    T = chem.T
    one, zero = np.ones_like(T), np.zeros_like(T)
    na = chem.n_atoms
    nHI, nHII, nHeI, ne = na[:, 0, 0], na[:, 0, 1], na[:, 1, 0], chem.ne
    nH2 = chem.n_mol[:, chem.mol_index["H2"]] if "H2" in chem.mol_index else np.zeros_like(nHI)
    terms = [("Hminus_bf", cont.hminus_bf(wave, T, one), chem.n_Hminus),
             ("Hminus_ff", cont.hminus_ff(wave, T, one, one), nHI * ne),
             ("H_bf", cont.hydrogen_bf(wave, T, one, chem.U[0, 0]), nHI),
             ("H_ff", cont.hydrogen_ff(wave, T, one, one), nHII * ne),
             ("Hemin_ff", cont.hemionus_ff(wave, T, one, one), nHeI * ne),
             ("H2plus", cont.h2plus(wave, T, one, one), nHI * nHII),
             ("rayleigh_H", cont.rayleigh(wave, one, zero, zero), nHI),
             ("rayleigh_He", cont.rayleigh(wave, zero, one, zero), nHeI),
             ("rayleigh_H2", cont.rayleigh(wave, zero, zero, one), nH2),
             ("thomson", cont.thomson(wave, one), ne)]
    sym = {k: _BF_Z[k] for k in _check_bf_metals(metals)}
    for k, a in cont.metal_bf(wave, T, {k: one for k in sym}, {k: chem.U[z - 1, 0] for k, z in sym.items()}).items():
        terms.append((f"{k}_bf", a, na[:, sym[k] - 1, 0]))
    mols = [m for m in ("CH", "OH", "NH") if m in chem.mol_index]
    q_mol = {m: chem.Q_mol[chem.mol_index[m]] for m in mols if m != "NH"}
    for k, a in cont.molecular_bf(wave, T, {m: one for m in mols}, q_mol).items():
        terms.append((f"{k}_bf", a, chem.n_mol[:, chem.mol_index[k]]))
    return terms


def continuum_opacity(wave, chem: Chemistry, v: int | None = None, split=False, metals=BF_METALS):
    """Total continuous alpha (cm^-1): (nw, nd) for variant ``v`` of a chemistry solution, (nv, nw, nd) for
    all variants (``v=None``, the cross-sections computed once); ``split``: {process: alpha} of variant v.
    ``metals``: the neutral metals with bound-free opacity (default all of ``BF_METALS``)."""
    terms = _continuum_terms(np.asarray(wave, float), chem, metals)
    if split:
        return {name: a * n[v][None, :] for name, a, n in terms}
    out = np.stack([sum(a * n[u][None, :] for _, a, n in terms)
                    for u in (range(chem.ne.shape[0]) if v is None else [v])])
    return out if v is None else out[0]


@numba.njit(cache=True, fastmath=True)
def _add_continuum(ac, j, w, h0, h_scale, i0, alpha, cont):
    """cont[i] = (1 - w_i) ac[j_i] + w_i ac[j_i + 1] (the continuum, interpolated from the coarse grid:
    R = 1500 with every edge bracketed, so linear and log-linear interpolation agree to ~1e-6) and
    alpha[i] += cont[i] + h0[i0 + i] h_scale (hydrogen lines; none if h0 has no rows)."""
    nd = alpha.shape[1]
    hyd = h0.shape[0] > 0
    for i in range(alpha.shape[0]):
        k = j[i]
        f = w[i]
        for d in range(nd):
            x = ac[k, d] * (1.0 - f) + ac[k + 1, d] * f
            cont[i, d] = x
            alpha[i, d] += x + (h0[i0 + i, d] * h_scale[d] if hyd else 0.0)


@numba.njit(cache=True)
def _linear_variant(F, R, kap, cont, dlac, j, w, cdiff, eps, inv_rho, D, cand, thr, w0, w1, w2, Fv, dk, big):
    """Flux of a variant from its class representative's (``_transfer``): its opacity difference
    dk = D / rho_v + kap eps + (continuum change, linear in the log-continuum difference ``dlac`` on the
    coarse grid, if ``cdiff``), Fv = F + R . dk; ``big`` marks the candidate rows where dk moves tau
    (reference weights, Eq. T0') by more than ``thr`` somewhere, to be solved exactly with kap + dk."""
    n, nd = kap.shape
    for i in range(n):
        k = j[i]
        f = w[i]
        acc = 0.0
        for d in range(nd):
            x = D[i, d] * inv_rho[d] + kap[i, d] * eps[d]
            if cdiff:
                dl = dlac[k, d] * (1.0 - f) + dlac[k + 1, d] * f
                x += cont[i, d] * dl * (1.0 + 0.5 * dl) * inv_rho[d]
            dk[i, d] = x
            acc += R[i, d] * x
        Fv[i] = F[i] + acc
        if cand[i]:
            t = w0 * dk[i, 0]
            if abs(t) > thr[i, 0]:
                big[i] = True
                continue
            for d in range(nd - 1):
                t += w1[d] * dk[i, d] + w2[d] * dk[i, d + 1]
                if abs(t) > thr[i, d + 1]:
                    big[i] = True
                    break


def _transfer(grid, cgrid, alpha_c, lop, ratio, hydrogen, chem, rhox, classes, reps, n_mu, lin_tol, dtype,
              tau_integration="reference", chunk=1024, tau_floor=0.01, tau_deep=20.0):
    """Line flux of every variant, in blocks of ``chunk`` wavelengths (all temporaries stay in cache).

    Per block and n_e class: alpha = continuum (interpolated from ``cgrid``) + class lines + hydrogen
    + the variant-specific species at the representative's ratios, then the formal solution
    (``transfer.flux_weighted``, tau from the reference weights of the representative's continuum at the
    block centre) and its exact response dF/dkappa. Every other variant v of the class differs by dkappa (its variant-specific
    species, continuum and mass density): F_v = F_r + sum_d dF/dkappa_d dkappa_d where that moves tau
    by less than ``lin_tol`` (relative; absolute ``lin_tol * tau_floor`` above tau = ``tau_floor``;
    ignored below tau = ``tau_deep``), an exact formal solution elsewhere (e.g. OH lines when O varies).
    ``hydrogen`` = (h0 (nw, nd) or no rows, h_scale (n_class, nd)): hydrogen lines of class c = h0 h_scale[c].
    Returns the flux and the number of exactly re-solved rows."""
    h0, h_scale = hydrogen
    nv, nc, nd = alpha_c.shape
    nw = grid.size
    flux = np.empty((nv, nw))
    lac = np.log(np.maximum(alpha_c, 1e-300)).astype(dtype)
    ac = alpha_c.astype(dtype)
    j = np.clip(np.searchsorted(cgrid, grid) - 1, 0, nc - 2)
    fw = ((grid - cgrid[j]) / (cgrid[j + 1] - cgrid[j])).astype(dtype)
    rho = chem.rho.astype(dtype)
    exact = tau_integration != "reference"
    if exact:  # validation path: every variant gets its own formal solution
        groups = [(classes[v], v, []) for v in range(nv)]
    else:  # (n_e class, representative, the other variants of the class)
        groups = [(c, r, [v for v in np.where(classes == c)[0] if v != r]) for c, r in enumerate(reps)]
    # continuum differences to the class representative (log), their largest size per coarse point,
    # and the mass-density factor rho_r / rho_v - 1
    dlac, rel_c, eps = {}, {}, {}
    for c, r, mem in groups:
        for v in mem:
            dlac[v] = lac[v] - lac[r]
            rel_c[v] = np.abs(dlac[v]).max(axis=1)
            eps[v] = (chem.rho[r] / chem.rho[v] - 1).astype(dtype)
    wref = {} if exact else {r: reference_weights(alpha_c[r] / chem.rho[r][None, :], rhox) for _, r, _ in groups}
    # rows where a variant's variant-specific line opacity differs from its class representative's
    vrows = {}
    for c, r, mem in groups:
        for v in mem:
            m = np.zeros(nw, bool)
            for b, s in enumerate(lop.species):
                if np.any(ratio[s, v] != ratio[s, r]):
                    m[lop.species_rows(b)] = True
            vrows[v] = m
    n_exact = 0
    for i0 in range(0, nw, chunk):
        i1 = min(nw, i0 + chunk)
        jj, ww = j[i0:i1], fw[i0:i1, None]
        jlo, jhi = int(jj.min()), int(jj.max()) + 2
        S = planck_lambda(grid[i0:i1], chem.T)
        jm = int(jj[jj.size // 2])
        for c, r, mem in groups:
            alpha = lop.class_alpha(c, i0, i1)
            cont_r = np.empty_like(alpha)
            _add_continuum(ac[r], jj, ww[:, 0], h0, h_scale[c], i0, alpha, cont_r)
            lop.variant_specific(ratio[:, r, :], i0=i0, i1=i1, out=alpha)
            if exact:
                tau = optical_depth((alpha / rho[r]).astype(np.float64), rhox, tau_integration)
                flux[r, i0:i1] = flux_from_tau(tau, S, n_mu)
                continue
            wts = tuple(x[jm] for x in wref[r])
            kap = alpha / rho[r]
            if not mem:
                flux[r, i0:i1] = flux_weighted(kap, wts, S, n_mu)
                continue
            F, tau, R = flux_weighted(kap, wts, S, n_mu, return_tau=True, return_response=True)
            flux[r, i0:i1] = F
            thr = np.maximum(tau, dtype.type(tau_floor)) * dtype.type(lin_tol)
            thr[tau >= tau_deep] = np.inf
            for v in mem:
                # the continuum enters linearly (its relative change is far below lin_tol); every row
                # is a candidate for an exact solution where it changes by more than 0.3 lin_tol
                cdiff = rel_c[v][jlo:jhi].max() > 1e-6
                cand = vrows[v][i0:i1]
                if cdiff and rel_c[v][jlo:jhi].max() > 0.3 * lin_tol:
                    cand = np.ones(i1 - i0, bool)
                D = np.zeros((i1 - i0, nd), dtype)
                if cand.any():
                    lop.variant_specific(ratio[:, v, :], ratio[:, r, :], i0=i0, i1=i1, out=D)
                Fv = np.empty(i1 - i0)
                dk = np.empty((i1 - i0, nd), dtype)
                big = np.zeros(i1 - i0, bool)
                _linear_variant(F, R, kap, cont_r, dlac[v], jj, ww[:, 0], cdiff, eps[v], 1.0 / rho[v], D, cand, thr,
                                *wts, Fv, dk, big)
                if big.any():
                    rows = np.flatnonzero(big)
                    n_exact += rows.size
                    Fv[rows] = flux_weighted(kap[rows] + dk[rows], wts, S[rows], n_mu)
                flux[v, i0:i1] = Fv
    return flux, n_exact


def _interp_lin(x_new, x, y):
    """Interpolate y (nx, nd) at x_new, per depth column (the continuum on its edge-bracketed coarse grid,
    where linear and log-linear interpolation agree to ~1e-6)."""
    j = np.clip(np.searchsorted(x, x_new) - 1, 0, x.size - 2)
    w = ((x_new - x[j]) / (x[j + 1] - x[j]))[:, None]
    return y[j] * (1 - w) + y[j + 1] * w


def _abundance_matrix(abundances_list):
    A = np.asarray(abundances_list, float)
    if A.ndim == 1:
        A = A[None, :]
    if A.ndim != 2 or A.shape[1] < 92:
        raise ValueError(f"abundances_list must be (n_var, >=92) log eps values, got {A.shape}")
    if np.any(np.isnan(A[:, :30])):
        raise ValueError("abundances_list has NaN for an element with Z <= 30")
    return A


def run(atmosphere, abundances_list, line_list, wave_range, vturb=None, *, resolution=125000.0,
        continuum_resolution: float = 1500.0, threshold: float = 3e-5, max_window: float = 300.0,
        n_mu="exp7", electron_density: str = "solve", hydrogen_lines: bool = True,
        ratio_tol: float = 3e-3, class_tol: float = 3e-3, mask_tol: float = 1e-2,
        transfer_dtype=np.float32, depth_points=None, molecular_vdw=-8.2, wing_threshold=None,
        wing_tau: float = 0.1, tau_integration: str = "reference", weak_ratio: float = 0.1,
        core_doppler: float | None = 6.0, hydrogen_dissolution: bool = False, hydrogen_profiles: str = "physical",
        bound_free_metals=BF_METALS,
        wave=None, return_details: bool = False):
    """Synthesise all abundance variants of one model atmosphere.

    The defaults are the converged setting: the R = 200 normalised spectra of all 16 paper variants of
    the 4500/2.0/-2.0 giant stay within 0.12 % (absolute; 0.22 % relative) per pixel of a 0.01 A run
    with threshold 1e-5 over 2550-10000 A, those of the 5000/4.5/-2.0 dwarf within 0.05 % (0.10 %)
    in the UV (benchmarks/builtin_engine.py --sampling).

    Parameters
    ----------
    atmosphere : object with surface-first depth arrays ``rhox`` (g cm^-2), ``T`` (K), ``P`` (dyn cm^-2),
        ``xne`` (cm^-3) and ``vturb`` (km/s) (e.g. ``glocal.atmospheres.Atmosphere``).
    abundances_list : (n_var, >=92) log eps (A_X = 12 + log N_X/N_H), Z = 1, 2, ... per variant.
        Identical rows are computed once.
    line_list : ``glocal.linelists.LineList`` in air; isotope fractions are folded into log gf when
        the list has not applied them (``isotopes_applied=False``, e.g. ``read_moog``).
    wave_range : (lo, hi) Angstrom.
    vturb : microturbulence (km/s), default ``atmosphere.vturb``.
    resolution : lambda/d lambda of the internal constant-R grid (ignored if ``wave`` is given), or
        "auto" (``auto_resolution``: ``AUTO_STEP`` = 1.15 Fe Doppler widths per step, 124 000 for the
        4500/2.0/-2.0 giant, 163 000 for the 5000/4.5/-2.0 dwarf with its 1.15 km/s microturbulence).
        The R = 200 spectrum of the giant's crowded UV converges only once the Doppler cores are resolved:
        R = 1e5 leaves up to 0.2 % (0.37 % relative), 125 000 (default) 0.12 %; the dwarf is within
        0.06 % at 125 000.
    continuum_resolution : R of the coarse continuum grid (edges are bracketed explicitly).
    threshold : lines are kept, and their windows extended, where alpha_line/alpha_cont >= threshold
        (1e-4 adds up to ~0.05 % at R = 200 in the UV of the 4500 K giant; weak lines are cheap, see
        ``weak_ratio``).
    weak_ratio : lines whose centre-to-continuum ratio stays below it are deposited with their integrated
        opacity on the two grid points around the centre (``lines.line_opacity``); 0.1 changes R = 200
        spectra by < 1e-4. Such lines are two-point spikes at the grid's own resolution: use 0 for
        line-profile work at full resolution.
    core_doppler : strong lines get their Voigt profile within this many Doppler widths of the centre and
        the two-term Lorentz-wing expansion beyond (separable, summed as a sparse product; None: Voigt
        over the whole window); 6 changes R = 200 spectra by ~1e-5.
    wing_threshold, wing_tau : a line's window extends to where alpha_line/alpha_cont falls below
        ``wing_threshold`` (default ``threshold``) in the layers with tau_Ross >= ``wing_tau``.
    max_window : cap (A) on a line's half-window; Mg II h&k and Ca II H&K reach tens of A.
    n_mu : angle quadrature of the flux integral: "exp7" (default, ``transfer.EXP7_POWERS``: one
        exponential per point, flux within 7e-5 of an exact angle integral) or a number of
        Gauss-Legendre angles (4: 3.4e-4).
    tau_integration : "reference" (default: kappa / kappa_cont linear in ln tau_cont between depth points,
        kappa_cont the continuum at the wavelength block, one small matrix product per block,
        ``transfer.reference_weights``), or "log" / "trapezoid" (``transfer.optical_depth``; these also
        give every variant its own formal solution, for validation). The trapezoid rule in column mass
        (the engine's scheme before) is 0.19 % off at R = 200 in the UV of the 4500 K giant; "reference"
        agrees with "log" (converged in depth to 4e-5) to 5e-5.
    electron_density : "solve" (charge conservation with the variant's abundances, default) or
        "atmosphere" (keep the model's xne).
    hydrogen_lines : add Balmer/Paschen lines from ``hydrogen`` (H I lines of the list are skipped).
    hydrogen_dissolution : level dissolution near the series limits (``hydrogen``: Hummer-Mihalas
        occupation probabilities on the lines plus the dissolved-level bound-free opacity, carried with the
        lines so that F_c keeps its sharp edge). Off by default, as in SME, the reference of the validation;
        on, the R = 200 pixel just redward of the Balmer limit moves from 7-9 % above SME to within 3 %
        (6500/4.0/-1.8, 8000/4.5/-1.0), the next one from 7-14 % to 5-7 %, and 3720-3800 A from
        within 0.7 % to 1-2 % below SME.
    hydrogen_profiles : "physical" (default) or "smelib": SMElib's hydrogen profiles, for validation against
        SME only (``hydrogen`` module docstring: HLINOP's additive Stark profile above n_up = 30 and the Stehle
        tables frozen at each line's last density; needs pysme).
    bound_free_metals : neutral metals whose photoionisation is included (default all of ``BF_METALS``:
        C, Mg, Al, Si, Ca, Fe); e.g. without "Ca" to match SMElib, which has no Ca I bound-free opacity.
    ratio_tol, class_tol : sharing tolerances across variants (see module docstring).
    mask_tol : variants of an n_e class get the class representative's flux plus the exact linear response
        to their opacity difference; wavelengths where that difference moves tau by more than
        ``mask_tol`` (relative) are solved exactly instead (1e-2: < 2e-4 at R = 200).
    transfer_dtype : float32 (default) or float64 for the formal solution (flux differs by < 1e-6).
    wave : explicit output/internal wavelength grid (air, strictly increasing) instead of constant R.
    depth_points : optionally resample the model to this many depths (equal steps in log tau_Ross);
        48 points moves R = 200 spectra by ~0.08 %, 36 by ~0.1-0.2 %.
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
    # identical variants (the paper's 16 include {O: 0, Mg: 0} twice) are computed once
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
    A = A[first]
    line_list = as_air_linelist(line_list)
    lo, hi = _check_wave_range(wave_range)
    bound_free_metals = _check_bf_metals(bound_free_metals)
    nd = d["T"].size
    abross = getattr(atmosphere, "abross", None)
    if abross is not None and np.size(abross) == nd and np.all(np.asarray(abross) > 0):
        tau_ross = optical_depth(np.asarray(abross, float), d["rhox"], "log")
    else:
        tau_ross = None
    if wave is None:
        if isinstance(resolution, str):
            if resolution != "auto":
                raise ValueError(f"resolution must be a number or 'auto', got {resolution!r}")
            resolution = auto_resolution(d["T"], tau_ross, vt)
        grid = constant_r_grid(lo, hi, resolution)
    else:
        grid = np.asarray(wave, float)
        if grid.ndim != 1 or grid.size < 2 or np.any(np.diff(grid) <= 0) or not np.all(np.isfinite(grid)):
            raise ValueError("wave must be a 1-D strictly increasing finite array")
        lo, hi = grid[0], grid[-1]
    if lo < WAVE_MIN or hi > WAVE_MAX:
        raise ValueError(f"wave_range ({lo}, {hi}) A is outside the range covered by the opacity tables "
                         f"({WAVE_MIN:.0f}-{WAVE_MAX:.0f} A)")
    if depth_points is not None:
        d, tau_ross = _resample_depth(d, tau_ross, int(depth_points))
    nv, nd = A.shape[0], d["T"].size
    tdtype = np.dtype(transfer_dtype)
    if tau_integration not in ("reference", "log", "trapezoid"):
        raise ValueError(f"tau_integration must be 'reference', 'log' or 'trapezoid', got {tau_integration!r}")

    chem = solve_chemistry(d["T"], d["P"], A[:, :92], ne_guess=d["xne"], electron_density=electron_density)
    timing["chemistry"] = time.perf_counter() - t0

    # coarse continuum grid bracketing all edges
    t = time.perf_counter()
    cgrid = constant_r_grid(lo * 0.999, hi * 1.001, continuum_resolution)
    edges = cont.continuum_edges(cgrid[0], cgrid[-1])
    cgrid = np.unique(np.concatenate([cgrid, edges - 2e-3, edges + 2e-3]))
    alpha_c = continuum_opacity(cgrid, chem, metals=bound_free_metals)  # (nv, nc, nd)
    timing["continuum"] = time.perf_counter() - t
    # lines, shared across variants (one Voigt evaluation per line and depth)
    t = time.perf_counter()
    classes = variant_classes(chem.ne, class_tol)
    reps = np.array([np.where(classes == c)[0][0] for c in range(classes.max() + 1)])
    log_alpha_c0 = np.log(np.maximum(alpha_c[0], 1e-300))
    lines = prepare_lines(line_list, chem, vt, (lo, hi), lambda w: _interp_lin(w, cgrid, alpha_c[0]),
                          threshold=threshold, max_window=max_window, ratio_tol=ratio_tol, classes=classes,
                          tau_ross=tau_ross, molecular_vdw=molecular_vdw, wing_threshold=wing_threshold,
                          wing_tau=wing_tau, weak_ratio=weak_ratio, cont_grid=(cgrid, log_alpha_c0))
    lop = line_opacity(grid, lines, core_doppler=core_doppler)
    timing["lines"] = time.perf_counter() - t
    t = time.perf_counter()
    h0, h_scale = np.zeros((0, nd), np.float32), np.ones((reps.size, nd), np.float32)
    if hydrogen_lines:
        # computed once, for the first class; the classes differ in n_e by ~1e-3-1e-2 (O, Mg donors), which
        # moves the Stark widths negligibly, so the other classes only rescale n(H I)
        r0 = reps[0]
        h0 = hydrogen_line_opacity(grid, chem.T, chem.ne[r0], chem.n_atoms[r0, 0, 0], chem.U[0, 0], vt,
                                   lambda w: _interp_lin(w, cgrid, alpha_c[0]), threshold=threshold,
                                   line_list=line_list, dissolution=hydrogen_dissolution,
                                   profiles=hydrogen_profiles, n_HeI=chem.n_atoms[r0, 1, 0])
        h0 = h0.astype(np.float32)
        h_scale = np.array([chem.n_atoms[r, 0, 0] / chem.n_atoms[r0, 0, 0] for r in reps], np.float32)
    timing["hydrogen"] = time.perf_counter() - t

    t = time.perf_counter()
    flux, n_masked = _transfer(grid, cgrid, alpha_c, lop, lines.ratio, (h0, h_scale),
                               chem, d["rhox"], classes, reps, n_mu, mask_tol, tdtype, tau_integration)
    Sc = planck_lambda(cgrid, chem.T)
    cmethod = "log" if tau_integration == "reference" else tau_integration
    fcont = np.empty((nv, grid.size))
    for v in range(nv):
        kc = alpha_c[v] / chem.rho[v][None, :]
        fc = flux_from_tau(optical_depth(kc, d["rhox"], cmethod), Sc, n_mu)
        fcont[v] = np.exp(np.interp(np.log(grid), np.log(cgrid), np.log(fc)))
    timing["transfer"] = time.perf_counter() - t
    flux, fcont = flux[source], fcont[source]
    timing["total"] = time.perf_counter() - t0
    if not np.all(np.isfinite(flux)):
        warnings.warn("non-finite flux values in the built-in synthesis", RuntimeWarning, stacklevel=2)
    if return_details:
        details = {"timing": timing, "n_lines_input": lines.n_input, "n_lines_used": int(lines.wave.size),
                   "n_classes": int(reps.size), "variant_specific_species": [
                       n_ for n_, sh in zip(lines.species_names, lines.shared) if not sh],
                   "n_masked_rows": int(n_masked), "skipped_species": lines.skipped,
                   "n_distinct_variants": len(first),
                   "chemistry": chem, "continuum_grid": cgrid}
        return grid, flux, fcont, details
    return grid, flux, fcont
