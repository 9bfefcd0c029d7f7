"""Line opacity: Voigt profiles, Doppler widths, damping, and the vectorised accumulation of
atomic and molecular lines onto a wavelength x depth grid.

* Voigt function H(a, v) = Re w(v + i a): Harris (1948) series for small a, Humlicek's (1982, JQSRT 27,
  437, "W4") rational approximation otherwise; relative accuracy 3.1e-4 (tested against scipy.special.wofz).
* Doppler width: Delta lambda_D = lambda / c sqrt(2 k T / m + xi^2)                         (Eq. L1)
* line absorption coefficient (cm^-1), Gray (2005) Eq. 11.12 in wavelength form:
  alpha = (pi e^2 / m_e c) (lambda^2 / c) gf (n_s / U_s) e^{-E_low/kT} (1 - e^{-h nu/kT})
          x H(a, v) / (sqrt(pi) Delta lambda_D),  v = (lambda - lambda_0)/Delta lambda_D,
          a = Gamma lambda^2 / (4 pi c Delta lambda_D)                                         (Eq. L2)
* damping Gamma = Gamma_rad + Gamma_Stark + Gamma_vdW:
  - radiative: 10**gamma_rad, else the classical value 2.223e15 / lambda[A]^2 s^-1 (Gray Eq. 11.14);
  - Stark: 10**gamma_stark n_e (T/10^4)^(1/6), else Cowley (1971) as in Korg
    (2.26e-7 n*_up^4 n_e for neutrals, 5.42e-7 n*_up^4/(Z+1)^2 n_e for ions);
  - van der Waals: gamma_vdw < 0: 10**gamma_vdw n_H (T/10^4)^0.3, n_H = n(H I) + 0.42 n(He) + 0.85 n(H2); gamma_vdw > 20: Anstee, Barklem &
    O'Mara (sigma.alpha packed); else Unsoeld (1955) with the hydrogenic <r^2> of Gray Eq. 11.30.
  Molecules get radiative damping, plus vdW/Stark when the list gives them; without list data the
  engine gives them log10(gamma_6/n_H) = ``molecular_vdw`` (default -8.2 in ``engine.run``; see there).
* selection: a log-space screening of the whole list (no transcendental function per line and depth)
  on every third layer below tau_Ross = ``select_tau``, then the exact centre-to-continuum ratio r
  (Voigt H(a, 0) included) of the survivors; lines with r < ``threshold`` everywhere are dropped.
* window: each line is evaluated where alpha_line / alpha_cont could exceed ``threshold`` at some
  depth, i.e. out to max(Delta lambda_D sqrt(ln(r/eps)), Delta lambda_D sqrt(a r / (sqrt(pi) eps)))
  with r the line-centre to continuum ratio; strong lines (Mg II h&k, Ca II H&K) therefore get wings
  tens of Angstrom wide, weak lines a few Doppler widths.
* accumulation (``line_opacity``): weak lines (r < ``weak_ratio``, linear in the flux) put their
  integrated opacity on the two grid points around the centre, so their contribution to any trapezoid
  integral over wavelength (the R = 200 degradation) is exact at any sampling; the others get H(a, v)
  per depth within ``core_doppler`` Doppler widths and the separable Lorentz-wing expansion
  a / (sqrt(pi) v^2) [1 + (3/2 - a^2) / v^2] beyond, summed as sparse matrix products.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numba
import numpy as np
from scipy.special import dawsn
from scipy.special import gamma as gamma_fn

from glocal._checks import require_air_linelist

from .chemistry import Chemistry, parse_species
from .tables import (A0_CM, AMU, ATOMIC_NUMBER, C_CGS, HC_EV_AA, K_CGS, K_EV, RYDBERG_EV, SIGMA_LINE,
                     load_tables)

SQRT_PI = np.sqrt(np.pi)


def voigt(a, v):
    """Voigt-Hjerting function H(a, v) = Re w(v + i a) (``_voigt1`` element by element, compiled): for a <= 0.03 the
    second-order Harris (1948) series in a with the exact first-order term H1 = (2/sqrt(pi)) (2 v D(v) - 1)
    (D = Dawson's integral, tabulated) for |v| < 6 and the Lorentz asymptote
    a/(sqrt(pi) v^2) (1 + 3/(2v^2) + 15/(4v^4)) beyond; for a > 0.03 and |v + i a| >= 5.5 the first four
    terms of the asymptotic series of w(z) in real arithmetic (8e-5), closer in Humlicek's (1982) W4
    regions 2-4.
    Max relative error 3.1e-4 (tests, against the Faddeeva function)."""
    a = np.asarray(a, float)
    v = np.asarray(v, float)
    if np.any(a < 0):
        raise ValueError("Voigt damping parameter a must be >= 0")
    a, v = (np.array(x) for x in np.broadcast_arrays(a, v))  # writeable contiguous copies
    out = np.empty(a.shape)
    _voigt_array(a.ravel(), v.ravel(), out.reshape(-1))
    return out


_H1_STEP = 1e-3
_H1_V = np.arange(0.0, 6.0 + 3 * _H1_STEP, _H1_STEP)
_H1_TAB = (2 / SQRT_PI) * (2 * _H1_V * dawsn(_H1_V) - 1)  # first-order Harris term (exact, tabulated)


@numba.njit(cache=True)
def _voigt1(a, v):
    """H(a, v) of ``voigt`` for one a >= 0 and v. The Harris core interpolates H1 linearly in a
    1e-3 step table (interpolation error < 1e-7)."""
    v = abs(v)
    if a <= 0.03:
        if v < 6.0:
            v2 = v * v
            f = v * (1.0 / _H1_STEP)
            i = int(f)
            w = f - i
            return math.exp(-v2) * (1.0 + a * a * (1.0 - 2.0 * v2)) + a * (_H1_TAB[i] * (1.0 - w)
                                                                         + _H1_TAB[i + 1] * w)
        iv2 = 1.0 / (v * v)
        return a / SQRT_PI * iv2 * (1.0 + iv2 * (1.5 + 3.75 * iv2))
    v2 = v * v
    a2 = a * a
    q = 1.0 / (v2 + a2)
    if q <= 1.0 / 30.25:  # |z| >= 5.5: four terms of w(z) ~ (i/sqrt(pi)) sum (2n-1)!! / (2^n z^(2n+1)), real
        return a * q / SQRT_PI * (1.0 + q * q * (0.5 * (3.0 * v2 - a2) + q * q * (
            0.75 * (5.0 * v2 * v2 - 10.0 * v2 * a2 + a2 * a2) + q * q * 1.875 * (
                7.0 * v2 * v2 * v2 - 35.0 * v2 * v2 * a2 + 21.0 * v2 * a2 * a2 - a2 * a2 * a2))))
    s = a + v
    t = complex(a, -v)
    if s >= 5.5:
        u = t * t
        return (t * (1.410474 + u * 0.5641896) / (0.75 + u * (3.0 + u))).real
    if a >= 0.195 * v - 0.176:
        num = 16.4955 + t * (20.20933 + t * (11.96482 + t * (3.778987 + t * 0.5642236)))
        den = 16.4955 + t * (38.82363 + t * (39.27121 + t * (21.69274 + t * (6.699398 + t))))
        return (num / den).real
    u = t * t
    num = t * (36183.31 - u * (3321.9905 - u * (1540.787 - u * (219.0313 - u * (
        35.76683 - u * (1.320522 - u * 0.56419))))))
    den = 32066.6 - u * (24322.84 - u * (9022.228 - u * (2186.181 - u * (364.2191 - u * (
        61.57037 - u * (1.841439 - u))))))
    return (np.exp(u) - num / den).real


@numba.njit(cache=True)
def _voigt_array(a, v, out):
    for i in range(a.size):
        out[i] = _voigt1(a[i], v[i])


def doppler_width(wave0, T, mass_amu, vturb_kms):
    """Delta lambda_D (same unit as wave0) of Eq. L1; broadcasts (n_lines, 1) against (nd,)."""
    return wave0 * np.sqrt(2 * K_CGS * T / (mass_amu * AMU) + (vturb_kms * 1e5) ** 2) / C_CGS


def variant_classes(ne: np.ndarray, tol: float = 1e-4) -> np.ndarray:
    """Label variants whose electron-density structures agree within ``tol`` (relative), shape (nv,).
    Variants of one class share every n_e-driven quantity (ionisation balance, continuum, H lines)."""
    labels = -np.ones(ne.shape[0], int)
    reps = []
    for v in range(ne.shape[0]):
        for c, r in enumerate(reps):
            if np.max(np.abs(ne[v] / ne[r] - 1)) <= tol:
                labels[v] = c
                break
        else:
            reps.append(v)
            labels[v] = len(reps) - 1
    return labels


@dataclass
class PreparedLines:
    """Line data resolved against the chemistry (only lines that can matter are kept).

    ``strength`` uses the largest number density over the variants, n_max(species, depth); variant v
    multiplies a line's opacity by ``ratio[species, v, depth]`` = n(species, v)/n_max <= 1.
    ``shared[species]`` is True when that ratio is a function of the variant's n_e class only."""

    wave: np.ndarray
    species: np.ndarray
    sp_index: np.ndarray  # (nl,) index into ratio/shared
    strength: np.ndarray  # (nl, nd): integrated alpha (cm^-1 Angstrom) at n_max
    dlam_D: np.ndarray  # (nl, nd) Angstrom
    a: np.ndarray  # (nl, nd)
    halfwidth: np.ndarray  # (nl,) Angstrom
    ratio: np.ndarray  # (ns, nv, nd)
    shared: np.ndarray  # (ns,) bool
    classes: np.ndarray  # (nv,) n_e class of each variant
    n_input: int = 0
    skipped: tuple = ()
    species_names: tuple = ()
    doppler_only: np.ndarray = None  # (nl,) bool: Lorentz wings never reach the threshold
    r_max: np.ndarray = None  # (nl,) largest line-centre / continuum ratio over the selection layers
    weak: np.ndarray = None  # (nl,) bool: r_max below ``weak_ratio`` (integrated-opacity deposit)


def as_air_linelist(line_list):
    """Check that ``line_list`` is a ``glocal.linelists.LineList`` in air and return it with the
    isotope fractions folded into log gf (as the SME engine does) when they are not applied yet."""
    require_air_linelist(line_list, "the built-in engine")
    if not getattr(line_list, "isotopes_applied", True):
        line_list = line_list.apply_isotope_fractions()
    return line_list


def as_wave_grid(grid) -> np.ndarray:
    """``grid`` as a float array; ValueError unless it is 1-D and strictly increasing."""
    grid = np.asarray(grid, float)
    if grid.ndim != 1 or np.any(np.diff(grid) <= 0):
        raise ValueError("wavelength grid must be 1-D and strictly increasing")
    return grid


def _col(ll, name):
    if name not in ll.data.dtype.names:
        raise ValueError(f"line list has no column {name!r}")
    return np.asarray(ll.data[name])


def species_mass(species: str) -> float:
    """Mass (amu) of an atom/ion ``"Fe 1"`` or a molecule (sum of its atoms' masses)."""
    tab = load_tables()
    el, stage = parse_species(species)
    if stage is not None:
        return float(tab["mass_amu"][ATOMIC_NUMBER[el] - 1])
    if el not in tab["mol_names"]:
        raise ValueError(f"unknown molecule {el!r}")
    comps = tab["mol_components"][tab["mol_names"].index(el)]
    return float(sum(tab["mass_amu"][ATOMIC_NUMBER[c.rstrip("+")] - 1] for c in comps))


def damping(wave0, species, elow, gamma_rad, gamma_stark, gamma_vdw, T, ne, nH, mass, molecular_vdw=None):
    """Total Lorentz width Gamma (s^-1) per line and depth, shape (nl, nd). ``nH``: van der Waals
    perturbers in H-atom equivalents (``Chemistry.vdw_perturbers``: H I, He I and H2). ``molecular_vdw``:
    log10 gamma_6/n_H at 10^4 K given to molecular lines without a van der Waals constant (None: none).
    Gamma = g_rad + g_4 n_e (T/1e4)^(1/6) + g_6 n_H (T/1e4)^0.3 [+ ABO: C e^(B + E ln T) n_H], with the
    per-line coefficients of ``damping_coefficients``."""
    uniq, inv = np.unique(np.asarray(species, str), return_inverse=True)
    parsed = [parse_species(s) for s in uniq]
    Z = np.array([ATOMIC_NUMBER[el] if st is not None else 0 for el, st in parsed], int)[inv]
    stage = np.array([st if st is not None else 0 for el, st in parsed], int)[inv]
    coef = damping_coefficients(np.asarray(wave0, float), Z, stage, np.asarray(elow, float), gamma_rad,
                                gamma_stark, gamma_vdw, np.asarray(mass, float), molecular_vdw)
    T = np.asarray(T, float)
    s4, s6 = _damping_depth_factors(T, ne, nH)
    gam = coef[0][:, None] + coef[1][:, None] * s4[None, :] + coef[2][:, None] * s6[None, :]
    abo = coef[3] > 0
    gam[abo] += coef[3][abo, None] * np.exp(coef[4][abo, None] + coef[5][abo, None] * np.log(T)[None, :]) * nH[None, :]
    return gam


def _damping_depth_factors(T, ne, nH):
    """Depth factors of the Stark and van der Waals terms of ``damping``: n_e (T/1e4)^(1/6), n_H (T/1e4)^0.3."""
    return ne * (T / 1e4) ** (1 / 6), nH * (T / 1e4) ** 0.3


def damping_coefficients(wave0, Z, stage, elow, gamma_rad, gamma_stark, gamma_vdw, mass, molecular_vdw=None):
    """Per-line damping coefficients (g_rad, g_4, g_6, C, B, E) of ``damping`` (Z, stage: 0 for molecules):

    * radiative: 10**gamma_rad, else the classical 2.223e15 / lambda^2 s^-1;
    * Stark: 10**gamma_stark, else Cowley (1971) from the hydrogenic n*_up (n* <= 10);
    * van der Waals: 10**gamma_vdw (< 0), Unsoeld (no value; ``molecular_vdw`` for molecules), or
      Anstee-Barklem-O'Mara (sigma.alpha > 20) as C e^(B + E ln T) per H atom (``abo_gamma``)."""
    tab = load_tables()
    g_rad = np.where(np.isfinite(gamma_rad), 10.0 ** np.nan_to_num(gamma_rad), 2.223e15 / wave0**2)
    atom = stage > 0
    chi = np.where(atom, tab["chi_eV"][np.maximum(Z - 1, 0), np.clip(stage - 1, 0, 2)], np.nan)
    E_up = elow + HC_EV_AA / wave0
    with np.errstate(invalid="ignore", divide="ignore"):
        nstar2 = stage**2 * RYDBERG_EV / (chi - E_up)
    ok = atom & np.isfinite(nstar2) & (nstar2 > 0)
    # the hydrogenic estimates are meaningless for upper levels within ~0.14 eV of the limit: n* <= 10
    nstar2 = np.where(ok, np.minimum(nstar2, 100.0), nstar2)
    g4_approx = np.where(stage == 1, 2.25910152e-7, 5.42184365e-7 / (stage + 1.0) ** 2) * nstar2**2
    g4 = np.where(np.isfinite(gamma_stark), 10.0 ** np.nan_to_num(gamma_stark), np.where(ok, g4_approx, 0.0))
    gv = np.asarray(gamma_vdw, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        e_up = np.maximum(chi - E_up, stage**2 * RYDBERG_EV / 100.0)  # same n* <= 10 cap
        dr2 = 2.5 * RYDBERG_EV**2 * stage**2 * (1 / e_up**2 - 1 / (chi - elow) ** 2)
    uns_ok = ok & (dr2 > 0)
    log_g6 = np.where(uns_ok, 6.33 + 0.4 * np.log10(np.where(uns_ok, dr2, 1.0)) + 0.3 * 4.0
                      + np.log10(K_CGS), -np.inf)
    if molecular_vdw is not None:
        log_g6 = np.where(~atom, float(molecular_vdw), log_g6)
    simple = np.where(np.isfinite(gv) & (gv < 0), gv, np.where(~np.isfinite(gv), log_g6, -np.inf))
    g6 = 10.0 ** simple
    C, B, E = np.zeros(gv.size), np.zeros(gv.size), np.zeros(gv.size)
    abo = np.isfinite(gv) & (gv > 20)
    if abo.any():  # abo_gamma = C (vbar/v0)^(1 - alpha), vbar = sqrt(8 k T / (pi mu))
        sigma = np.floor(gv[abo])
        alpha = gv[abo] - sigma
        v0 = 1e6
        inv_mu = 1 / (1.008 * AMU) + 1 / (mass[abo] * AMU)
        C[abo] = 2 * (4 / np.pi) ** (alpha / 2) * gamma_fn((4 - alpha) / 2) * v0 * sigma * A0_CM**2
        B[abo] = (1 - alpha) * (0.5 * np.log(8 * K_CGS * inv_mu / np.pi) - np.log(v0))
        E[abo] = 0.5 * (1 - alpha)
    return g_rad, g4, g6, C, B, E


def abo_gamma(sigma_a0, alpha, T, mass_amu):
    """Anstee-Barklem-O'Mara van der Waals broadening rate per H atom (cm^3 s^-1): cross-section
    ``sigma_a0`` (a0^2) at v0 = 1e6 cm/s, velocity exponent ``alpha``, perturbed mass (amu); broadcasts."""
    inv_mu = 1 / (1.008 * AMU) + 1 / (np.asarray(mass_amu, float) * AMU)
    vbar = np.sqrt(8 * K_CGS * T / np.pi * inv_mu)
    v0 = 1e6
    return (2 * (4 / np.pi) ** (alpha / 2) * gamma_fn((4 - alpha) / 2) * v0 * sigma_a0 * A0_CM**2
            * (vbar / v0) ** (1 - alpha))


def _screen_lines(wave, loggf, elow, sp_index, log_nu_f, chi, cont_grid, log_thr):
    """Indices of the lines whose centre-to-continuum ratio, evaluated in log space on the depth
    subset of ``log_nu_f`` / ``chi`` / ``cont_grid`` and ignoring stimulated emission and damping (both
    only lower it), reaches ``log_thr``:

        ln r = ln(SIGMA_LINE 1e-8 / (C sqrt(pi))) + ln lambda + ln(10) log gf + ln(n/U / F)[s, d]
               - E_low / kT_d - ln alpha_cont(lambda, d),   F = Delta lambda_D / lambda.

    No transcendental function per (line, depth), and a line stops at its first layer above the
    threshold (compiled, ``_screen_kernel``): 10^6 lines cost ~0.1 s."""
    cw, clog = cont_grid
    keep = np.zeros(wave.size, np.bool_)
    _screen_kernel(wave, loggf, elow, sp_index, log_nu_f, chi, np.asarray(cw, float),
                   np.ascontiguousarray(clog, float), float(log_thr), keep)
    return np.flatnonzero(keep)


@numba.njit(cache=True)
def _screen_kernel(wave, loggf, elow, sp, log_nu_f, chi, cw, clog, log_thr, keep):
    c0 = math.log(SIGMA_LINE * 1e-8 / (C_CGS * SQRT_PI))
    nc = cw.size
    for l in range(wave.size):
        j = min(max(np.searchsorted(cw, wave[l]) - 1, 0), nc - 2)
        f = (wave[l] - cw[j]) / (cw[j + 1] - cw[j])
        base = c0 + math.log(wave[l]) + math.log(10.0) * loggf[l]
        for d in range(chi.size):
            lr = base + log_nu_f[sp[l], d] - elow[l] * chi[d] - (clog[j, d] * (1.0 - f) + clog[j + 1, d] * f)
            if lr >= log_thr:
                keep[l] = True
                break


@numba.njit(cache=True)
def _select_lines(c0, wave, loggf, elow, sp, g_rad, g4, g6, abo_c, abo_b, abo_e, n_over_u, beta, vdop, s4, s6, lnT,
                  nH, cont, deep_sel, deep_win, threshold, wing_thr, max_window, nk, strength, dlam_D, a_out, half,
                  dop, r_max, index):
    """Per line of a chunk (list index c0 + l): integrated opacity (cm^-1 A; Eq. L2 without the profile,
    stimulated emission included), Doppler width (Eq. L1, lambda vdop[s, d]), damping a, and the
    centre-to-continuum ratio r = strength H(a, 0) / (sqrt(pi) dlam_D alpha_cont). Lines whose largest r
    over ``deep_sel`` reaches ``threshold`` are written at row nk, nk + 1, ... with their half-window
    (where the Doppler core or the Lorentz wing falls to ``wing_thr`` in the ``deep_win`` layers), their
    pure-Doppler flag and r_max; returns the new nk. ``strength``, ``dlam_D`` and ``a_out`` are float64
    buffers of this chunk (the line written at row nk goes to their row nk minus nk on entry): float32
    stores from this kernel made it 15-20x slower under LLVM's AVX-512 code on an Intel Emerald Rapids host."""
    nd = beta.size
    n0 = nk
    st = np.empty(nd)
    dl = np.empty(nd)
    r = np.empty(nd)
    av = np.empty(nd)
    for l in range(wave.size):
        lam = wave[l]
        amp = SIGMA_LINE * (lam * 1e-8) ** 2 / C_CGS * 1e8 * 10.0 ** loggf[l]
        e_up = elow[l] + HC_EV_AA / lam
        s = sp[l]
        pre = 0.0
        for d in range(nd):
            st[d] = amp * n_over_u[s, d] * (math.exp(-elow[l] * beta[d]) - math.exp(-e_up * beta[d]))
            dl[d] = lam * vdop[s, d]
            r[d] = st[d] / (SQRT_PI * dl[d] * cont[l, d])
            if deep_sel[d]:
                pre = max(pre, r[d])
        if pre < threshold:  # H(a, 0) <= 1: the pure-Doppler ratio bounds r from above
            continue
        rmax = 0.0
        wfac = lam * lam * 1e-8 / (4.0 * np.pi * C_CGS)
        for d in range(nd):
            gam = g_rad[l] + g4[l] * s4[d] + g6[l] * s6[d]
            if abo_c[l] > 0:
                gam += abo_c[l] * math.exp(abo_b[l] + abo_e[l] * lnT[d]) * nH[d]
            av[d] = gam * wfac / dl[d]
            r[d] *= _voigt1(av[d], 0.0)
            if deep_sel[d]:
                rmax = max(rmax, r[d])
        if rmax < threshold:
            continue
        h = 0.0
        dmax = 0.0
        damp = 0.0
        amax = 0.0
        for d in range(nd):
            dmax = max(dmax, dl[d])
            amax = max(amax, av[d])
            if deep_win[d]:
                core = math.sqrt(math.log(max(r[d] / wing_thr, 1.0)))
                wing = math.sqrt(max(av[d] * r[d] / (SQRT_PI * wing_thr), 0.0))
                h = max(h, max(core, wing) * dl[d])
                damp = max(damp, 2.0 * av[d] * r[d] / SQRT_PI)
        half[nk] = min(max(h, 3.0 * dmax), max_window)
        # pure-Doppler lines: the damping term (<= 2a/sqrt(pi) of the peak) stays below the threshold in
        # the wing-forming layers and a is small everywhere
        dop[nk] = damp < wing_thr and amax < 0.03
        r_max[nk] = rmax
        index[nk] = c0 + l
        for d in range(nd):
            strength[nk - n0, d] = st[d]
            dlam_D[nk - n0, d] = dl[d]
            a_out[nk - n0, d] = av[d]
        nk += 1
    return nk


def prepare_lines(line_list, chem: Chemistry, vturb, wave_range, alpha_cont_fn, threshold=1e-4,
                  max_window=300.0, ratio_tol=1e-4, skip_hydrogen=True, strict=False, classes=None,
                  tau_ross=None, select_tau=1e-5, wing_tau=1e-2, chunk=8192, molecular_vdw=None,
                  wing_threshold=None, weak_ratio=0.0, cont_grid=None, screen_step=3, screen_margin=0.5):
    """Resolve a line list against the chemistry and select the lines that matter.

    ``alpha_cont_fn(wave) -> (len(wave), nd)`` gives the (reference variant) continuum at the line
    centres. Lines whose centre-to-continuum ratio stays below ``threshold`` at all depths are dropped.
    Lines whose ratio stays below ``weak_ratio`` are flagged ``weak`` (``line_opacity`` deposits their
    integrated opacity on the two nearest grid points instead of evaluating the profile).
    ``cont_grid = (wave_c, ln alpha_c (n_c, nd))`` enables a log-space pre-screening of the whole list
    on every ``screen_step``-th selection layer, keeping lines within ``screen_margin`` of the threshold
    (the ratio is smooth in depth) for the exact evaluation.
    Species without chemistry data (e.g. HF) are skipped with a warning unless ``strict``."""
    line_list = as_air_linelist(line_list)
    wave = _col(line_list, "wave").astype(float)
    species = _col(line_list, "species").astype(str)
    elow = _col(line_list, "elow").astype(float)
    loggf = _col(line_list, "loggf").astype(float)
    nl_in = wave.size
    for nm, arr in (("wave", wave), ("elow", elow), ("loggf", loggf), ("species", species)):
        if arr.shape != (nl_in,):
            raise ValueError(f"line list column {nm!r} has shape {arr.shape}, expected ({nl_in},)")
    for nm, arr in (("wave", wave), ("elow", elow), ("loggf", loggf)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"line list column {nm!r} contains NaN/inf")
    if np.any(wave <= 0):
        raise ValueError("line wavelengths must be positive")
    g_rad = _col(line_list, "gamma_rad").astype(float)
    g_st = _col(line_list, "gamma_stark").astype(float)
    g_vdw = _col(line_list, "gamma_vdw").astype(float)
    lo, hi = wave_range
    keep = (wave > lo - max_window) & (wave < hi + max_window)
    T = chem.T
    nd = T.size
    nv = chem.ne.shape[0]
    if classes is None:
        classes = variant_classes(chem.ne)
    # species through the numeric code (sorting 10^6 strings is slow); a code names one species
    ucode, first, code_inv = np.unique(_col(line_list, "code").astype(float), return_index=True,
                                       return_inverse=True)
    code_species = species[first]
    if not np.array_equal(species, code_species[code_inv]):
        raise ValueError("line list: one species code is used for different species names")
    uniq = np.unique(code_species[np.unique(code_inv[keep])])
    skipped = []
    dens, part, mass = {}, {}, {}
    for s in uniq:
        try:
            el, st = parse_species(s)
            if st is not None and el == "H" and skip_hydrogen:
                skipped.append(s)  # hydrogen lines come from hydrogen.py
                continue
            dens[s] = chem.density(s)
            part[s] = chem.partition(s)
            mass[s] = species_mass(s)
        except ValueError as exc:
            if strict:
                raise
            dens.pop(s, None)
            part.pop(s, None)
            skipped.append(s)
            warnings.warn(f"built-in engine skips species {s!r}: {exc}", stacklevel=3)
    names = list(dens)
    lookup = {n_: k for k, n_ in enumerate(names)}
    sp_of_code = np.array([lookup.get(x, -1) for x in code_species], int)
    sp_all = sp_of_code[code_inv]
    keep &= sp_all >= 0
    idx = np.where(keep)[0]
    sp_all = sp_all[idx]
    if not names:
        names, dens, part = ["none"], {"none": np.zeros((nv, nd))}, {"none": np.ones(nd)}
    n_all = np.stack([dens[s] for s in names])  # (ns, nv, nd)
    n_max = n_all.max(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(n_max[:, None, :] > 0, n_all / np.where(n_max > 0, n_max, 1)[:, None, :], 0.0)
    reps = np.array([np.where(classes == c)[0][0] for c in range(classes.max() + 1)])
    shared = np.all(np.abs(ratio - ratio[:, reps[classes], :]) <= ratio_tol, axis=(1, 2))

    def no_lines():
        z = np.zeros((0, nd), np.float32)
        e = np.zeros(0)
        return PreparedLines(e, np.zeros(0, str), np.zeros(0, int), z, z, z, e, ratio, shared, classes,
                             nl_in, tuple(skipped), tuple(names), np.zeros(0, bool), e, np.zeros(0, bool))

    if idx.size == 0:
        return no_lines()
    U = np.stack([part[s] for s in names])
    mass_sp = np.array([mass[s] if s in mass else 1.0 for s in names])
    vt = np.broadcast_to(np.asarray(vturb, float), (nd,))
    nH = chem.vdw_perturbers(0)  # damping uses the n_e and perturbers of variant 0 (they barely move with O/Mg)
    tr = np.full(nd, 1.0) if tau_ross is None else np.asarray(tau_ross, float)
    # a line is kept if it reaches the threshold anywhere below tau_ross = select_tau; its window covers
    # the detunings where it exceeds the threshold in the layers that form the wings (tau_ross >= wing_tau)
    deep_sel = tr >= select_tau
    deep_win = tr >= wing_tau
    if not deep_sel.any() or not deep_win.any():
        deep_sel = deep_win = np.ones(nd, bool)
    if cont_grid is not None:
        sub = np.where(deep_sel)[0]
        sub = np.unique(np.concatenate([sub[::max(1, int(screen_step))], sub[-1:]]))
        with np.errstate(divide="ignore"):
            F = np.sqrt(2 * K_CGS * T[None, sub] / (mass_sp[:, None] * AMU) + (vt[None, sub] * 1e5) ** 2) / C_CGS
            log_nu_f = np.log(n_max[:, sub] / U[:, sub]) - np.log(F)
        cw, clog = cont_grid
        cand = np.concatenate([
            _screen_lines(wave[idx[c:c + 65536]], loggf[idx[c:c + 65536]], elow[idx[c:c + 65536]],
                          sp_all[c:c + 65536], log_nu_f, 1.0 / (K_EV * T[sub]),
                          (np.asarray(cw, float), np.asarray(clog, float)[:, sub]),
                          np.log(threshold * screen_margin)) + c
            for c in range(0, idx.size, 65536)])
        idx, sp_all = idx[cand], sp_all[cand]
    wave, species, elow, loggf = wave[idx], species[idx], elow[idx], loggf[idx]
    g_rad, g_st, g_vdw = g_rad[idx], g_st[idx], g_vdw[idx]
    sp_index = sp_all
    n_over_u = np.ascontiguousarray(n_max / U)
    beta = 1.0 / (K_EV * T)
    vdop = np.sqrt(2 * K_CGS * T[None, :] / (mass_sp[:, None] * AMU) + (vt[None, :] * 1e5) ** 2) / C_CGS
    # damping (van der Waals perturbers and n_e of variant 0: they barely move with O/Mg)
    sp_Z = np.array([ATOMIC_NUMBER[parse_species(n_)[0]] if parse_species(n_)[1] is not None else 0
                     for n_ in names], int)
    sp_stage = np.array([parse_species(n_)[1] or 0 for n_ in names], int)
    coef = damping_coefficients(wave, sp_Z[sp_index], sp_stage[sp_index], elow, g_rad, g_st, g_vdw,
                                mass_sp[sp_index], molecular_vdw)
    s4, s6 = _damping_depth_factors(T, chem.ne[0], nH)
    n = wave.size
    # float32 storage halves the memory of long lists (relative precision 6e-8 is ample)
    strength, dlD, a = (np.empty((n, nd), np.float32) for _ in range(3))
    half, r_max, kept = np.empty(n), np.empty(n), np.empty(n, np.int64)
    dop = np.empty(n, np.bool_)
    wt = threshold if wing_threshold is None else wing_threshold
    nk = 0
    buf = np.empty((3, min(n, chunk), nd))
    for c0 in range(0, n, chunk):  # the continuum at the line centres in bounded pieces
        sl = slice(c0, c0 + chunk)
        nk0 = nk
        nk = _select_lines(c0, wave[sl], loggf[sl], elow[sl], sp_index[sl], *(c[sl] for c in coef), n_over_u, beta,
                           vdop, s4, s6, np.log(T), nH, np.ascontiguousarray(alpha_cont_fn(wave[sl]), float),
                           deep_sel, deep_win, float(threshold), float(wt), float(max_window), nk, buf[0],
                           buf[1], buf[2], half, dop, r_max, kept)
        for out, b in zip((strength, dlD, a), buf):
            out[nk0:nk] = b[:nk - nk0]
    if nk == 0:
        return no_lines()
    s_ = kept[:nk]
    return PreparedLines(wave=wave[s_], species=species[s_], sp_index=sp_index[s_], strength=strength[:nk],
                         dlam_D=dlD[:nk], a=a[:nk], halfwidth=half[:nk], ratio=ratio, shared=shared,
                         classes=classes, n_input=nl_in, skipped=tuple(skipped), species_names=tuple(names),
                         doppler_only=dop[:nk], r_max=r_max[:nk], weak=r_max[:nk] < weak_ratio)


@dataclass
class LineOpacity:
    """Line opacity on the wavelength grid, stored compactly:

    * ``acc`` (nw, rank, nd) float32: the class-shared species summed on the low-rank basis of their
      n_e-class ratios; class k has alpha = sum_q acc[:, q, :] basis[q, k, :] (``class_alpha``);
    * the variant-specific species (e.g. OH when [O/Fe] varies), one block b per species
      ``species[b]``: the sorted rows where it has opacity, ``rows[ptr[b]:ptr[b + 1]]``, and alpha_s at
      n_max there, ``vals[ptr[b]:ptr[b + 1]]`` (float32); variant v adds sum_s ratio[s, v] alpha_s
      (``variant_specific``)."""

    acc: np.ndarray
    basis: np.ndarray
    species: np.ndarray  # (nb,) species index of each block
    ptr: np.ndarray  # (nb + 1,)
    rows: np.ndarray  # (m,)
    vals: np.ndarray  # (m, nd)
    nw: int
    nd: int

    def species_rows(self, b: int) -> np.ndarray:
        """Grid rows of block ``b`` (species ``species[b]``)."""
        return self.rows[self.ptr[b]:self.ptr[b + 1]]

    def class_alpha(self, k: int, i0: int = 0, i1: int | None = None) -> np.ndarray:
        """alpha of the class-shared species for n_e class ``k`` on rows [i0, i1), (rows, nd) float32."""
        i1 = self.nw if i1 is None else i1
        out = np.empty((i1 - i0, self.nd), np.float32)
        _class_rows(self.acc, self.basis[:, k, :].astype(np.float32), i0, out)
        return out

    @property
    def alpha_class(self) -> np.ndarray:
        """(n_class, nw, nd) dense class alphas (for inspection and tests; the engine uses class_alpha)."""
        return np.stack([self.class_alpha(k) for k in range(self.basis.shape[1])])

    def variant_specific(self, ratio_v: np.ndarray, ratio_ref: np.ndarray | None = None, i0: int = 0,
                         i1: int | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """sum_s (ratio_v[s] - ratio_ref[s]) alpha_s on rows [i0, i1) as a dense (rows, nd) array
        (ratio_ref = 0 if None); added to ``out`` if given."""
        i1 = self.nw if i1 is None else i1
        if out is None:
            out = np.zeros((i1 - i0, self.nd), np.float32)
        w = ratio_v[self.species] if ratio_ref is None else ratio_v[self.species] - ratio_ref[self.species]
        _add_block_rows(self.ptr, self.rows, self.vals, w.astype(np.float32), i0, i1, out)
        return out


@numba.njit(cache=True)
def _class_rows(acc, basis_k, i0, out):
    """out[i] = sum_q acc[i0 + i, q] basis_k[q] (``LineOpacity.class_alpha``)."""
    nq, nd = basis_k.shape
    for i in range(out.shape[0]):
        for d in range(nd):
            out[i, d] = acc[i0 + i, 0, d] * basis_k[0, d]
        for q in range(1, nq):
            for d in range(nd):
                out[i, d] += acc[i0 + i, q, d] * basis_k[q, d]


@numba.njit(cache=True)
def _add_block_rows(ptr, rows, vals, w, i0, i1, out):
    """out[rows - i0] += vals w[b] over the rows in [i0, i1) of every block b with a nonzero w[b]."""
    nd = vals.shape[1]
    for b in range(ptr.size - 1):
        if not np.any(w[b] != 0):
            continue
        seg = rows[ptr[b]:ptr[b + 1]]
        j0 = ptr[b] + np.searchsorted(seg, i0)
        j1 = ptr[b] + np.searchsorted(seg, i1)
        for j in range(j0, j1):
            for d in range(nd):
                out[rows[j] - i0, d] += vals[j, d] * w[b, d]


def _low_rank_ratios(cls_ratio: np.ndarray, shared: np.ndarray, tol: float):
    """Factor the class ratios of the class-shared species, depth by depth, as
    ratio[s, k, d] ~ sum_r weight[s, r, d] basis[r, k, d] (truncated SVD) with the smallest rank whose
    largest error is <= ``tol`` (ratios are <= 1, so this is relative to each species' densest class).

    The classes differ only through n_e, which moves the ionisation balance of all species in a few
    coherent ways, so a rank of 2-4 replaces one accumulation per class (9 at [Fe/H] = -2)."""
    ns, ncls, nd = cls_ratio.shape
    R = np.where(shared[:, None, None], cls_ratio, 0.0).transpose(2, 0, 1)  # (nd, ns, ncls)
    U, S, Vt = np.linalg.svd(R, full_matrices=False)  # (nd, ns, m), (nd, m), (nd, m, ncls)
    for rank in range(1, S.shape[1] + 1):
        approx = np.einsum("dsr,dr,drk->dsk", U[:, :, :rank], S[:, :rank], Vt[:, :rank])
        if np.max(np.abs(approx - R)) <= tol:
            break
    weight = (U[:, :, :rank] * S[:, None, :rank]).transpose(1, 2, 0)  # (ns, rank, nd)
    basis = Vt[:, :rank].transpose(1, 2, 0)  # (rank, ncls, nd)
    return weight, basis


def _trapezoid_widths(grid):
    """Quadrature weight of each grid point for the trapezoid rule (half the two adjacent intervals)."""
    wt = np.empty(grid.size)
    wt[1:-1] = 0.5 * (grid[2:] - grid[:-2])
    wt[0] = 0.5 * (grid[1] - grid[0])
    wt[-1] = 0.5 * (grid[-1] - grid[-2])
    return wt


def line_opacity(grid: np.ndarray, lines: PreparedLines, tol: float = 1e-3,
                 core_doppler: float | None = 6.0) -> LineOpacity:
    """Accumulate the selected lines onto ``grid`` (Angstrom, sorted), one compiled pass over the lines of
    each species (``_deposit_lines``).

    Lines flagged ``weak`` (linear in the flux) are deposited with their integrated opacity on the two
    grid points bracketing the line centre (linear "cloud-in-cell" weights divided by the trapezoid
    weight of the point), which keeps every weak line's contribution to the trapezoid integral of the
    opacity exact at any sampling; the others get their Voigt profile (``_voigt1``) at each window point
    and depth within max(``core_doppler``, 4 a) Doppler widths (the largest over depth) of the centre,
    and beyond that the first two terms of the asymptotic expansion
    H(a, v) = a / (sqrt(pi) v^2) [1 + (3/2 - a^2) / v^2 + O((1 + a^4) / v^4)] (relative error < 2e-3 at
    v >= 6 for a << 1, < 4e-3 at v = 4 a); ``core_doppler=None`` evaluates the Voigt function over the
    whole window. Class-shared species are summed on a low-rank basis of their n_e-class ratios
    (``tol``, see ``_low_rank_ratios``): a species whose lines put many profile points on each row
    they touch (Fe I, MgH, Cr I, Ni I in a cool dwarf) is deposited once and then folded onto the basis,
    one pass of rank x depth per row instead of one per profile point (3500/5.0/-1.0: deposit 23 -> 15 s
    on one Ice Lake core; the sums differ only in float32 rounding, < 1e-6 in F/Fc); the
    variant-specific ones (e.g. OH when [O/Fe] varies) are kept per species, on the rows their windows
    touch, for per-variant summation."""
    grid = as_wave_grid(grid)
    ncls = int(lines.classes.max()) + 1
    reps = np.array([np.where(lines.classes == c)[0][0] for c in range(ncls)])
    nd = lines.ratio.shape[2]
    nw = grid.size
    weight, basis = _low_rank_ratios(lines.ratio[:, reps, :], lines.shared, tol)
    acc = np.zeros((nw, weight.shape[1], nd), np.float32)
    weight = weight.astype(np.float32)
    blocks = []
    nl = lines.wave.size
    if nl:
        inside = (lines.wave > grid[0]) & (lines.wave < grid[-1])
        weak = inside & (lines.weak if lines.weak is not None else False)
        gauss = lines.doppler_only if lines.doppler_only is not None else np.zeros(nl, bool)
        half = np.asarray(lines.halfwidth, float)
        core = half
        if core_doppler is not None:
            amax = lines.a.max(axis=1).astype(np.float64)
            core = np.minimum(half, np.maximum(core_doppler, 4.0 * amax) * lines.dlam_D.max(axis=1))
        trap = _trapezoid_widths(grid)
        sp = np.asarray(lines.sp_index, np.int64)
        identity = np.arange(nw)
        # species in ascending order (so the blocks are too), line order kept within a species; a shared
        # species goes onto the basis directly when that costs less than depositing it and folding it
        nq = weight.shape[1]
        ones = np.ones((lines.shared.size, 1, nd), np.float32)
        order = np.argsort(sp, kind="stable")
        cuts = np.flatnonzero(np.diff(sp[order])) + 1
        for k in np.split(order, cuts):
            s = int(sp[k[0]])
            # rows touched: the two points of weak lines, the whole window of the others
            j = np.clip(np.searchsorted(grid, lines.wave[k]) - 1, 0, nw - 2)
            lo = np.where(weak[k], j, np.searchsorted(grid, lines.wave[k] - half[k]))
            hi = np.where(weak[k], j + 2, np.searchsorted(grid, lines.wave[k] + half[k], side="right"))
            cover = np.cumsum(np.bincount(lo, minlength=nw + 1) - np.bincount(hi, minlength=nw + 1))[:nw]
            rows = np.flatnonzero(cover > 0)
            if lines.shared[s] and (hi - lo).sum() * (nq - 1) <= rows.size * nq:
                _deposit_lines(grid, trap, k, lines.wave, sp, lines.strength, lines.dlam_D, lines.a, half, core,
                               weak, gauss, weight, identity, acc)
                continue
            rowmap = np.full(nw, -1, np.int64)
            rowmap[rows] = np.arange(rows.size)
            out = np.zeros((rows.size, 1, nd), np.float32)
            _deposit_lines(grid, trap, k, lines.wave, sp, lines.strength, lines.dlam_D, lines.a, half, core, weak,
                           gauss, ones, rowmap, out)
            if lines.shared[s]:
                _fold_rows(acc, rows, out[:, 0, :], weight[s])
            else:
                blocks.append((s, rows, out[:, 0, :]))
    ptr = np.cumsum([0] + [b[1].size for b in blocks])
    rows = np.concatenate([b[1] for b in blocks]) if blocks else np.zeros(0, np.int64)
    vals = np.concatenate([b[2] for b in blocks]) if blocks else np.zeros((0, nd), np.float32)
    return LineOpacity(acc=acc, basis=basis, species=np.array([b[0] for b in blocks], np.int64), ptr=ptr,
                       rows=rows, vals=vals, nw=nw, nd=nd)


@numba.njit(cache=True)
def _fold_rows(acc, rows, vals, w):
    """acc[rows[i], q] += vals[i] w[q]: one species' opacity onto the low-rank class basis."""
    nq, nd = w.shape
    for i in range(rows.size):
        r = rows[i]
        for q in range(nq):
            for d in range(nd):
                acc[r, q, d] += vals[i, d] * w[q, d]


@numba.njit(cache=True)
def _deposit_lines(grid, trap, idx, wave0, sp, strength, dlam_D, a, half, core, weak, gauss, weight, rowmap, out):
    """out[rowmap[i], q, d] += alpha_l(grid_i, d) weight[sp_l, q, d] for every line l in idx (see
    ``line_opacity``): weak lines on their two bracketing points, the others with H(a, v) (or e^{-v^2}
    where ``gauss``) for |lambda - lambda_0| <= core and the Lorentz-wing expansion out to ``half``."""
    nw = grid.size
    nd = strength.shape[1]
    nq = weight.shape[1]
    val = np.empty(nd, np.float32)
    inv = np.empty(nd)
    norm = np.empty(nd)
    p1 = np.empty((nq, nd), np.float32)
    p2 = np.empty((nq, nd), np.float32)
    for l in idx:
        w0 = wave0[l]
        s = sp[l]
        if weak[l]:
            j = min(max(np.searchsorted(grid, w0) - 1, 0), nw - 2)
            f = (w0 - grid[j]) / (grid[j + 1] - grid[j])
            for i, fac in ((j, (1.0 - f) / trap[j]), (j + 1, f / trap[j + 1])):
                r = rowmap[i]
                for q in range(nq):
                    for d in range(nd):
                        out[r, q, d] += strength[l, d] * fac * weight[s, q, d]
            continue
        for d in range(nd):
            inv[d] = 1.0 / dlam_D[l, d]
            norm[d] = strength[l, d] * inv[d] / SQRT_PI
        i0 = np.searchsorted(grid, w0 - core[l])
        i1 = np.searchsorted(grid, w0 + core[l], side="right")
        for i in range(i0, i1):
            x = grid[i] - w0
            for d in range(nd):
                v = x * inv[d]
                h = math.exp(-v * v) if gauss[l] else _voigt1(a[l, d], v)
                val[d] = h * norm[d]
            r = rowmap[i]
            for q in range(nq):
                for d in range(nd):
                    out[r, q, d] += val[d] * weight[s, q, d]
        if half[l] <= core[l]:
            continue
        for q in range(nq):  # alpha = p1 / x^2 + p2 / x^4 (x = lambda - lambda_0), times the weights
            for d in range(nd):
                t1 = strength[l, d] * a[l, d] * dlam_D[l, d] / np.pi * weight[s, q, d]
                p1[q, d] = t1
                p2[q, d] = t1 * (1.5 - a[l, d] * a[l, d]) * dlam_D[l, d] * dlam_D[l, d]
        for i0, i1 in ((np.searchsorted(grid, w0 - half[l]), np.searchsorted(grid, w0 - core[l])),
                       (i1, np.searchsorted(grid, w0 + half[l]))):
            for i in range(i0, i1):
                x2 = np.float32(1.0 / (grid[i] - w0) ** 2)  # float32 throughout: twice the vector width
                r = rowmap[i]
                for q in range(nq):
                    for d in range(nd):
                        out[r, q, d] += (p1[q, d] + p2[q, d] * x2) * x2
