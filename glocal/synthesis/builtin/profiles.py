"""Line profiles and widths: the Voigt function, Doppler widths and the damping constants.

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
  - van der Waals: gamma_vdw < 0: 10**gamma_vdw n_H (T/10^4)^0.3, n_H = n(H I) + 0.42 n(He) + 0.85 n(H2);
    gamma_vdw > 20: Anstee, Barklem & O'Mara (sigma.alpha packed); else Unsoeld (1955) with the
    hydrogenic <r^2> of Gray Eq. 11.30.
  Molecules get radiative damping, plus vdW/Stark when the list gives them; without list data the
  engine gives them log10(gamma_6/n_H) = ``molecular_vdw`` (``BuiltinOptions.molecular_vdw``).

Line selection (which lines, which windows) is in ``selection``, the accumulation onto the wavelength
grid in ``deposit``.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from scipy.special import dawsn
from scipy.special import gamma as gamma_fn

from glocal.constants import A0_CM, AMU, C_CGS, HC_EV_AA, RYDBERG_EV
from glocal.constants import K_BOLTZMANN as K_CGS

from .chemistry import parse_species
from .tables import ATOMIC_NUMBER, load_tables

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


def damping_coefficients(wave0, Z, stage, elow, gamma_rad, gamma_stark, gamma_vdw, mass, molecular_vdw=None,
                         unsold_enhancement=1.0):
    """Per-line damping coefficients (g_rad, g_4, g_6, C, B, E) of ``damping`` (Z, stage: 0 for molecules):

    * radiative: 10**gamma_rad, else the classical 2.223e15 / lambda^2 s^-1;
    * Stark: 10**gamma_stark, else Cowley (1971) from the hydrogenic n*_up (n* <= 10);
    * van der Waals: 10**gamma_vdw (< 0), Unsoeld times ``unsold_enhancement`` (no value; ``molecular_vdw``
      for molecules), or Anstee-Barklem-O'Mara (sigma.alpha > 20) as C e^(B + E ln T) per H atom
      (``abo_gamma``)."""
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
                      + np.log10(K_CGS) + np.log10(float(unsold_enhancement)), -np.inf)
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
