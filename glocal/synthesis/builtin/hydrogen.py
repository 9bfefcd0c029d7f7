"""Hydrogen line opacity: the Balmer (n_lo = 2) and Paschen (n_lo = 3) series up to n_up = ``n_max``.

Line strength (Gray 2005 Eq. 11.12; stimulated emission via the upper level population)::

    alpha = (pi e^2/m_e c)(lambda^2/c) gf n(H I) [e^{-E_lo/kT} - e^{-E_up/kT}] / U(H I) x profile   (H1)

Profiles (per Angstrom, area 1):

* n_up <= 30 (tabulated lines): the Doppler-convolved Stark profiles of Stehle & Hutcheon (1999, A&AS
  140, 93), interpolated in (log T, log n_e, log(Delta nu / F0)) with the Holtsmark field
  F0 = 1.25e-9 n_e^(2/3) (cgs) and extrapolated beyond the table as (Delta nu)^(-5/2). Each line's
  table stops at the density where the line merges with its neighbours (10^19.5 cm^-3 for H-alpha,
  10^15 for H10, 10^13 for H20, 10^11.5 for H30; hot dwarfs reach 10^15): in denser layers the
  quasi-static profile below is used instead, which joins the table there (H10-H25 at 8000 K: table /
  quasi-static 0.75-1.4 for beta = 0.3-50; it was 0.3-3 before the K_nm convention below was fixed).
  SMElib does not do this: its packed table file repeats each line's last valid density, so its
  widths stay frozen at that density (H20: identical profiles at n_e = 1e13, 1e14, 1e15).
* H-alpha, H-beta, H-gamma also carry self-resonance broadening from the Anstee-Barklem-O'Mara theory
  (Barklem, Piskunov & O'Mara 2000, A&A 363, 1091: sigma = 1180, 2320, 4208 a0^2; alpha = 0.677,
  0.455, 0.380). The Stark (S) and self-broadened Voigt (V) profiles are combined as
  max(S + V - G, 0), G the thermal Gaussian contained in both: exact in the far wings (where
  convolution adds wings) and in area, and S in the core.
* n_up > 30: quasi-static Holtsmark profile (Holtsmark 1919; Griem 1960, ApJ 132, 883; centre filled
  flat, ``_flat_top``) in beta = |Delta lambda| / (2^(2/3) K_nm F0'), with
  K_nm = 5.5e-5 (n^2 m^2)^2 / (m^2 - n^2) / (1 + 0.13/(m - n)) A per cgs field unit (Griem's Eq. 33 with
  the correction used in HLINOP, Barklem & Piskunov 2003). Griem defines K_nm by the ion wing,
  1.5 beta^-5/2 per side of a unit-area profile; a Holtsmark distribution of that wing is 2^(2/3) wider
  (``GRIEM_K_HOLTSMARK``). Ions and electrons are both quasi-static, F0' = 2^(2/3) F0, so the wing is
  3 beta^-5/2 per side, as in the Stehle & Hutcheon tables. Combined with the Doppler core the way HLINOP
  does: the wider mechanism alone within its half-width, the sum outside. Every profile keeps unit area;
  HLINOP (which SMElib uses for n_up > 30) adds the ion quasi-static profile, the quasi-static electron
  fraction times the same profile and an electron-impact Lorentzian, an area of ~2 (measured through
  SMElib 6.13 for H31-H63 at 8000 K), which makes SME's merged Balmer pseudo-continuum deeper.
* gf beyond the table: Kramers' hydrogenic oscillator strength times the bound-bound Gaunt factor fit of
  Johnson (1972, ApJ 174, 227), which reproduces the tabulated gf to < 1 % (tests).

Windows follow SME's hydrogen treatment (HLINOP, which SMElib uses; Barklem & Piskunov 2003): a line's
blue wing stops at its series limit (no dissolved-level opacity: the high members merge into the
pseudo-continuum that the R = 200 spectra show just redward of the Balmer and Paschen jumps), the red wing
extends until the line opacity falls below ``threshold`` times the continuous opacity in every layer
(capped at ``max_window``). Level dissolution (occupation probabilities, Hummer & Mihalas 1988, as in
Korg) is not applied by default, as in SME. ``dissolution=True`` applies it consistently: every line is
weighted by w(n_up)/w(n_lo) (``occupation_probability``) and the transitions into dissolved levels add the
bound-free cross-section continued redward of the limit (``dissolved_bound_free``), which joins the
bound-free continuum at the edge; that opacity is carried with the lines, so F_c keeps its sharp edge.
(Occupation probabilities alone, without the dissolved bound-free part, raise the R = 200 flux at
3650-3700 A of an 8000 K dwarf from 0.28 to 0.93 against SME's 0.38.)

Sampling: the profiles are smooth away from the line cores, so each line is accumulated on a coarse
constant-R grid (``coarse_resolution``, 20 000) and only its core (+-``core_doppler`` Doppler widths, tapered)
on the caller's grid; beyond ``far_detuning`` (15 A, or 4 core widths) the wings, a smooth power law of the
detuning, go on a sparser grid (``far_resolution``, 6000; tapered in over one more such distance), except
the blue wing of a line cut at its series limit. The sums are interpolated once. The far grid moves the wing
opacity by < 1.5 % (tests), R = 200 spectra by < 1e-5 (4500/2.0/-2.0, 6500/4.0/-1.0, 8000/4.5/-1.0).

Other profiles (``profiles=`` a callable with the interface of :func:`physical_profile`) replace the
physical ones line by line; ``glocal.validation.smelib_hydrogen`` provides SMElib's, which reproduce the
two SMElib artefacts described above, so that the remaining built-in - SME differences can be told apart.

Wavelengths are returned on the caller's grid, in air (line centres converted from vacuum with the IAU
formula, ``glocal.linelists.vacuum_to_air``).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numba
import numpy as np

from glocal._checks import check_wave_grid
from glocal.constants import C_AA, C_CGS, HC_EV_AA, K_EV, RYDBERG_H, SIGMA_LINE
from glocal.constants import H_IONIZATION_EV as RYDBERG_H_EV
from glocal.linelists import air_to_vacuum, hydrogen_levels, vacuum_to_air

from .grids import constant_r_grid
from .holtsmark import _flat_top, _holtsmark_ln, _holtsmark_table
from .profiles import SQRT_PI, _voigt1, abo_gamma, doppler_width
from .tables import load_tables

SELF_BROADENING = {3: (1180.0, 0.677), 4: (2320.0, 0.455), 5: (4208.0, 0.380)}
M_H = 1.00794
LN10 = math.log(10.0)
#: ratio of the quasi-static field of ions + electrons to that of ions alone (density doubled)
FIELD_IONS_ELECTRONS = 2.0 ** (2.0 / 3.0)
#: Griem's K_nm is defined by the ion-only asymptotic wing, S(beta) -> 1.5 beta^-5/2 on each side for a
#: profile of unit area over both sides (Griem 1960, ApJ 132, 883; the ion profiles S(beta, P) of HLINOP,
#: Barklem & Piskunov 2003, have this asymptote), whereas a Holtsmark distribution of width w gives
#: (1.496/2) (|dl|/w)^-5/2 per side: the width per unit field is therefore 2^(2/3) K_nm, not K_nm. With the
#: electrons (FIELD_IONS_ELECTRONS) the wing is 3 beta^-5/2, the asymptote of the Stehle & Hutcheon tables
#: (their wing constants for H10-H30 give 3.0-3.1), so the profile joins the tables at their last density.
GRIEM_K_HOLTSMARK = 2.0 ** (2.0 / 3.0)


# --------------------------------------------------------------------------- atomic data
def series_limit_vacuum(n_lo: int) -> float:
    """Vacuum wavelength (A) of the series limit of lower level ``n_lo``."""
    return 1e8 * n_lo**2 / RYDBERG_H


def line_center_vacuum(n_lo: int, n_up: int) -> float:
    """Vacuum wavelength (A) of the n_lo -> n_up transition (Rydberg formula, reduced mass)."""
    return 1e8 / (RYDBERG_H * (1.0 / n_lo**2 - 1.0 / n_up**2))


def gaunt_bb(n_lo, n_up):
    """Bound-bound Gaunt factor of hydrogen, Johnson (1972, ApJ 174, 227) Eqs. 10-11 and Table 1."""
    n = np.asarray(n_lo, float)
    x = 1.0 - (n / np.asarray(n_up, float)) ** 2
    g0 = np.where(n == 1, 1.1330, np.where(n == 2, 1.0785, 0.9935 + 0.2328 / n - 0.1296 / n**2))
    g1 = np.where(n == 1, -0.4059, np.where(n == 2, -0.2319, -(0.6282 - 0.5598 / n + 0.5299 / n**2) / n))
    g2 = np.where(n == 1, 0.07014, np.where(n == 2, 0.02947, (0.3887 - 1.181 / n + 1.470 / n**2) / n**2))
    return g0 + g1 / x + g2 / x**2


def log_gf(n_lo, n_up):
    """log10(g_lo f) of a hydrogen line: Kramers' f (Menzel & Pekeris 1935) times ``gaunt_bb``,
    g_lo = 2 n_lo^2."""
    n, m = np.asarray(n_lo, float), np.asarray(n_up, float)
    f = 32.0 / (3.0 * np.sqrt(3.0) * np.pi) / (n**5 * m**3) / (1.0 / n**2 - 1.0 / m**2) ** 3 * gaunt_bb(n, m)
    return np.log10(2.0 * n**2 * f)


def griem_knm(n_lo: int, n_up: int) -> float:
    """Griem's (1960) K_nm (A per cgs field unit) of the asymptotic Holtsmark wing, with HLINOP's
    1/(1 + 0.13/(m - n)) correction that matches Vidal, Cooper & Smith (1973)."""
    n2, m2 = float(n_lo) ** 2, float(n_up) ** 2
    return 5.5e-5 * (n2 * m2) ** 2 / (m2 - n2) / (1.0 + 0.13 / (n_up - n_lo))


def occupation_probability(n, ne, T):
    """Occupation probability w_n of hydrogen level ``n`` (may be non-integer) perturbed by charged
    particles: Hummer & Mihalas (1988) in the fit of Hubeny, Hummer & Lanz (1994, A&A 282, 151,
    Eqs. 4.26-4.30): beta = 8.3e14 n_e^(-2/3) K_n / n^4, K_n = 1 (n <= 3) or (16/3) n / (n + 1)^2,
    a = 0.09 n_e^(1/6) / sqrt(T), x = (1 + a)^3.15, f = 0.1402 x beta^3 / (1 + 0.1285 x beta^(3/2)),
    w = f / (1 + f). Neutral perturbers are left out (they matter only where the high members are weak)."""
    n = np.asarray(n, float)
    ne, T = np.asarray(ne, float), np.asarray(T, float)
    K = np.where(n <= 3, 1.0, 16.0 / 3.0 * n / (n + 1.0) ** 2)
    beta = 8.3e14 * ne ** (-2.0 / 3.0) * K / n**4
    x = (1.0 + 0.09 * ne ** (1.0 / 6.0) / np.sqrt(T)) ** 3.15
    f = 0.1402 * x * beta**3 / (1.0 + 0.1285 * x * beta**1.5)
    return f / (1.0 + f)


def dissolved_bound_free(wave, T, ne, n_HI, U_HI, n_lo: int):
    """Opacity (cm^-1, (nw, nd)) of transitions from level ``n_lo`` into dissolved upper levels, redward
    of the series limit (Daeppen, Anderson & Mihalas 1987; Hubeny, Hummer & Lanz 1994): the bound-free
    cross-section continued below threshold, times the dissolved fraction 1 - w(n*)/w(n_lo) of the
    effective upper level n* with h nu = I (1/n_lo^2 - 1/n*^2). Same wavelength convention, Kramers
    cross-section and Gaunt factor (taken at the edge) as ``continuum.hydrogen_bf``, with which it joins
    continuously at the edge."""
    from .continuum import KRAMERS, _gaunt_bf, stimulated
    wave = np.asarray(wave, float)
    nu = C_AA / wave
    I = RYDBERG_H_EV
    edge = n_lo**2 * HC_EV_AA / I
    red = wave > edge
    out = np.zeros((wave.size, np.size(T)))
    if not red.any():
        return out
    e = HC_EV_AA / wave[red]  # photon energy, eV
    inv = 1.0 / n_lo**2 - e / I
    nstar = 1.0 / np.sqrt(np.maximum(inv, 1e-12))
    ok = nstar > n_lo + 1.0
    if not ok.any():
        return out
    idx = np.flatnonzero(red)[ok]
    sig = KRAMERS / (n_lo**5 * nu[idx] ** 3) * np.clip(_gaunt_bf(n_lo, np.full(idx.size, edge * (1 - 1e-9))), 0, None)
    w_lo = occupation_probability(n_lo, ne, T)
    diss = np.clip(1.0 - occupation_probability(nstar[ok][:, None], ne[None, :], T[None, :]) / w_lo[None, :], 0, 1)
    pop = n_HI * 2 * n_lo**2 * np.exp(-I * (1 - 1 / n_lo**2) / (K_EV * T)) / U_HI
    out[idx] = sig[:, None] * diss * pop[None, :] * stimulated(wave[idx], T)
    return out


# --------------------------------------------------------------------------- profiles
def _stehle_table(ln, lg_T, lg_ne):
    """The Stehle & Hutcheon log10 profile (per Hz) interpolated to every layer's (log T, log n_e):
    (log10 detuning grid in units of F0 (nx,), log10 profile (nx, nd)), the table's first point dropped."""
    ltab, ntab = ln["log10_T"], ln["log10_ne"]
    fT = np.clip(np.interp(lg_T, ltab, np.arange(ltab.size)), 0, ltab.size - 1.000001)
    fN = np.clip(np.interp(lg_ne, ntab, np.arange(ntab.size)), 0, ntab.size - 1.000001)  # (used inside only)
    iT, iN = fT.astype(int), fN.astype(int)
    wT, wN = fT - iT, fN - iN
    P = ln["log10_profile"]
    logp = ((P[:, iN, iT] * (1 - wT) + P[:, iN, iT + 1] * wT) * (1 - wN)
            + (P[:, iN + 1, iT] * (1 - wT) + P[:, iN + 1, iT + 1] * wT) * wN)  # (nx, nd)
    return np.asarray(ln["log10_x"][1:], float), np.ascontiguousarray(logp[1:], float)


@dataclass(frozen=True)
class HydrogenLine:
    """One hydrogen line: levels ``n_lo`` -> ``n_up``, its Stehle & Hutcheon table entry ``table`` (None
    beyond the tables), ``log_gf``, and its centre in vacuum and in air (``lam_vac``, ``lam_air``, A)."""
    n_lo: int
    n_up: int
    table: dict | None
    log_gf: float
    lam_vac: float
    lam_air: float


@dataclass(frozen=True)
class HydrogenLayers:
    """The atmosphere as the hydrogen profiles see it, per layer (nd,): T (K), log10 T, n_e (cm^-3),
    log10 n_e, the Holtsmark field F0 = 1.25e-9 n_e^(2/3) (cgs), n(H I) and n(He I) (cm^-3; n_HeI may be
    None), microturbulence ``vturb`` (km/s). Build it with :meth:`of`."""
    T: np.ndarray
    lg_T: np.ndarray
    ne: np.ndarray
    lg_ne: np.ndarray
    F0: np.ndarray
    n_HI: np.ndarray
    n_HeI: np.ndarray | None
    vturb: np.ndarray

    @classmethod
    def of(cls, T, ne, n_HI, vturb, n_HeI=None) -> HydrogenLayers:
        T, ne, n_HI = (np.asarray(x, float) for x in (T, ne, n_HI))
        vt = np.broadcast_to(np.asarray(vturb, float), (T.size,))
        return cls(T=T, lg_T=np.log10(T), ne=ne, lg_ne=np.log10(ne), F0=1.25e-9 * ne ** (2.0 / 3.0), n_HI=n_HI,
                   n_HeI=None if n_HeI is None else np.asarray(n_HeI, float), vturb=vt)


def doppler_widths(line: HydrogenLine, layers: HydrogenLayers):
    """(Doppler width with microturbulence, thermal Doppler width) of ``line`` per layer, A (Eq. L1)."""
    return (doppler_width(line.lam_air, layers.T, M_H, layers.vturb),
            doppler_width(line.lam_air, layers.T, M_H, 0.0))


def physical_profile(line: HydrogenLine, dl, layers: HydrogenLayers, *, quasi_static: bool = True,
                     self_broadening: bool = True) -> np.ndarray:
    """Profile (per A, area ~1) of ``line`` at air detunings ``dl`` (nw,) from its centre in every layer:
    (nw, nd) (``_profile_rows``): the Stehle & Hutcheon table where it reaches; beyond its density
    (``quasi_static``; False: the table at its own densities, clamped to its range), and for lines without
    a table, the quasi-static (Holtsmark) profile with a Doppler core (HLINOP's approximate convolution);
    for H-alpha to H-gamma with a table, plus the self-broadening impact profile (``self_broadening``).

    This is the default of the ``profiles`` argument of :func:`hydrogen_line_opacity`; any replacement
    takes the same (line, dl, layers) and returns the same (nw, nd) array."""
    ln = line.table
    dlD, dlD_th = doppler_widths(line, layers)
    F0, dlD, dlD_th = (np.ascontiguousarray(x, float) for x in (layers.F0, dlD, dlD_th))
    nd = F0.size
    if ln is None:
        lx, logp, quasi = np.zeros(2), np.zeros((2, nd)), np.ones(nd, np.bool_)
    else:
        lx, logp = _stehle_table(ln, layers.lg_T, layers.lg_ne)
        quasi = (np.asarray(layers.lg_ne > ln["log10_ne"][-1] + 1e-3) if quasi_static  # beyond the table
                 else np.zeros(nd, np.bool_))
    a_sb = np.zeros(0)
    if ln is not None and self_broadening and line.n_lo == 2 and line.n_up in SELF_BROADENING:
        sig, alp = SELF_BROADENING[line.n_up]
        gam = abo_gamma(sig, alp, layers.T, M_H) * layers.n_HI
        a_sb = np.ascontiguousarray(gam * (line.lam_air * 1e-8) ** 2 / (4 * np.pi * C_CGS * dlD_th * 1e-8), float)
    width = griem_knm(line.n_lo, line.n_up) * GRIEM_K_HOLTSMARK * FIELD_IONS_ELECTRONS * F0  # A per unit beta
    lb, lh = _holtsmark_table()
    b_max, h_max, area = _flat_top()
    dl = np.ascontiguousarray(dl, float)
    out = np.empty((dl.size, nd))
    _profile_rows(dl, lx, logp, quasi, float(line.lam_vac), float(line.lam_air), F0, width, dlD, dlD_th, a_sb,
                  lb, lh, b_max, h_max, area, out)
    return out


@numba.njit(cache=True)
def _profile_rows(dl, lx, logp, quasi, lam_vac, lam_air, F0, width, dlD, dlD_th, a_sb, lb, lh, b_max, h_max,
                  area, out):
    """Kernel of ``_profile``. Stehle & Hutcheon: log-linear in the table's log detuning (in frequency, with
    the line's local refractive index: the grid is in air), -5/2 power law beyond its last point; quasi-static:
    the flat-topped Holtsmark distribution (``_flat_top``) of width ``width``, two-sided, with the
    Gaussian core where the Doppler width wins and the sum of both outside max(width, Doppler width)."""
    nd = F0.size
    nx = lx.size
    nu0 = C_AA / lam_vac
    conv = C_AA / lam_vac ** 2  # per Hz -> per A
    sb = a_sb.size > 0
    ln_w = np.log(width)
    lg_f0 = np.log10(F0)
    ln_bmax = math.log(b_max)
    for i in range(dl.size):
        x = dl[i]
        ln_x = math.log(abs(x)) if x != 0.0 else -np.inf
        lg_dnu = math.log10(max(abs(C_AA / ((lam_air + x) * lam_vac / lam_air) - nu0), 1e-300))
        for d in range(nd):
            if quasi[d]:
                w = width[d]
                y = ln_x - ln_w[d]  # ln beta
                q = h_max if y < ln_bmax else _holtsmark_ln(y, lb, lh)
                stark = 0.5 * q / area / w
                g = math.exp(-(x / dlD[d]) ** 2) / (SQRT_PI * dlD[d])
                if abs(x) <= max(w, dlD[d]):
                    p = g if dlD[d] >= w else stark
                else:
                    p = stark + g
            else:
                lgx = max(lg_dnu - lg_f0[d], -30.0)
                if lgx > lx[nx - 1]:
                    val = logp[nx - 1, d] - 2.5 * (lgx - lx[nx - 1])
                elif lgx <= lx[0]:
                    val = logp[0, d]
                else:
                    k = np.searchsorted(lx, lgx) - 1
                    f = (lgx - lx[k]) / (lx[k + 1] - lx[k])
                    val = logp[k, d] * (1.0 - f) + logp[k + 1, d] * f
                p = math.exp(val * LN10) * conv
            if sb:  # impact (Voigt) minus the Gaussian core it replaces
                v = x / dlD_th[d]
                p = max(p + (_voigt1(a_sb[d], v) - math.exp(-v * v)) / (SQRT_PI * dlD_th[d]), 0.0)
            out[i, d] = p


def hydrogen_lines(series=(2, 3), n_max: int = 80, line_list=None) -> list[HydrogenLine]:
    """Every line used, as :class:`HydrogenLine` (n_lo, n_up, Stark table entry or None, log gf, vacuum
    and air wavelengths).

    With a ``line_list`` that holds H I lines, those lines are used (their wavelengths and gf; levels from
    ``glocal.linelists.hydrogen_levels``, which drops series-limit placeholders exactly as the SME
    engine does), so that SME and the built-in engine see the same hydrogen lines. Otherwise: every
    line of ``series`` up to n_up = ``n_max`` with tabulated or ``log_gf`` strengths."""
    tab = {(ln["lower"], ln["upper"]): ln for ln in load_tables()["stark"].values()}
    if line_list is not None and np.any(line_list.is_hydrogen):
        h = line_list.data[line_list.is_hydrogen]
        n_lo, n_up, ok = hydrogen_levels(h["wave"], h["elow"])
        out = []
        for w, lgf, a, b in zip(h["wave"][ok], h["loggf"][ok], n_lo[ok].astype(int), n_up[ok].astype(int)):
            if a in series:
                out.append(HydrogenLine(a, b, tab.get((a, b)), float(lgf), float(air_to_vacuum(w)), float(w)))
        return out
    out = []
    for n_lo in series:
        for n_up in range(n_lo + 1, n_max + 1):
            ln = tab.get((n_lo, n_up))
            lam_vac = float(np.median(ln["lambda0"])) if ln is not None else line_center_vacuum(n_lo, n_up)
            lgf = float(ln["log_gf"]) if ln is not None else float(log_gf(n_lo, n_up))
            out.append(HydrogenLine(n_lo, n_up, ln, lgf, lam_vac, float(vacuum_to_air(lam_vac))))
    return out


def _line_amplitude(line: HydrogenLine, layers: HydrogenLayers, U_HI, dissolution: bool):
    """alpha / profile (cm^-1 per unit profile per A) of Eq. H1 per layer, times w(n_up)/w(n_lo) with
    ``dissolution``."""
    kT = K_EV * layers.T
    E_lo = RYDBERG_H_EV * (1 - 1 / line.n_lo**2)
    E_up = RYDBERG_H_EV * (1 - 1 / line.n_up**2)
    levels = (np.exp(-E_lo / kT) - np.exp(-E_up / kT)) / U_HI
    amp = 10**line.log_gf * layers.n_HI * SIGMA_LINE * (line.lam_vac * 1e-8) ** 2 / C_CGS * 1e8 * levels
    if dissolution:  # only the undissolved fraction of the upper level absorbs in the line
        amp = amp * occupation_probability(line.n_up, layers.ne, layers.T) / occupation_probability(
            line.n_lo, layers.ne, layers.T)
    return amp


def _deposit_line(prof, amp, lam0, blue, w_lo, w_hi, core, near, grids, accs):
    """Add one line's opacity prof(dl) x amp (``prof``: detuning (n,) -> (n, nd)) over [w_lo, w_hi]: the
    wings beyond ``near`` (a smooth power law of the detuning) on the far grid, tapered in from near to
    2 near; the rest but the tapered core on the coarse grid; the core (+-2 ``core``) on the fine grid.
    The blue wing of a line cut at its series limit (``w_lo`` = ``blue``) stays on the coarse grid
    whole, which keeps the cut sharp. ``grids`` = (fine, coarse, far), ``accs`` their sums."""
    grid, coarse, far = grids
    out, acc, acc_far = accs
    near_blue = near if w_lo > blue else np.inf
    for a_, b_, nr in ((w_lo, lam0 - near, near_blue), (lam0 + near, w_hi, near)):
        i0, i1 = np.searchsorted(far, [a_, b_])
        if i1 > i0 and np.isfinite(nr):
            dl = far[i0:i1] - lam0
            acc_far[i0:i1] += prof(dl) * (amp[None, :] * np.clip(np.abs(dl) / nr - 1.0, 0.0, 1.0)[:, None])
    i0, i1 = np.searchsorted(coarse, [max(w_lo, lam0 - 2 * near_blue), min(w_hi, lam0 + 2 * near)])
    if i1 > i0:
        dl = coarse[i0:i1] - lam0
        outer = np.where(dl < 0, near_blue, near)
        taper = np.clip(np.abs(dl) / core - 1.0, 0.0, 1.0) * (1.0 - np.clip(np.abs(dl) / outer - 1.0, 0.0, 1.0))
        acc[i0:i1] += prof(dl) * (amp[None, :] * taper[:, None])
    j0, j1 = np.searchsorted(grid, [max(w_lo, lam0 - 2 * core), min(w_hi, lam0 + 2 * core)])
    if j1 > j0:
        dl = grid[j0:j1] - lam0
        taper = 1.0 - np.clip(np.abs(dl) / core - 1.0, 0.0, 1.0)
        out[j0:j1] += prof(dl) * (amp[None, :] * taper[:, None])


def _sub_grids(grid, coarse_resolution, far_resolution):
    """The coarse and far constant-R grids over [grid[0], grid[-1]] (the far one ends exactly at grid[-1])."""
    lo, hi = grid[0], grid[-1]
    coarse = constant_r_grid(lo, hi, coarse_resolution) if grid.size > 1 else grid
    coarse = coarse[coarse <= hi]
    far = constant_r_grid(lo, hi, far_resolution) if grid.size > 1 else grid
    far = np.append(far[far < hi], hi) if far.size > 1 else far
    return coarse, far


def hydrogen_line_opacity(grid, T, ne, n_HI, U_HI, vturb, alpha_cont=None, *, line_list=None,
                          threshold: float = 1e-4, max_window: float = 400.0, series=(2, 3), n_max: int = 80,
                          coarse_resolution: float = 20000.0, core_doppler: float = 12.0,
                          far_resolution: float = 6000.0, far_detuning: float = 15.0,
                          dissolution: bool = False, profiles="physical", n_HeI=None):
    """alpha(lambda, depth) of the hydrogen lines (cm^-1), shape (len(grid), nd), on ``grid`` (air A,
    strictly increasing), for a layer structure T (K), n_e, n(H I) (cm^-3), U(H I), ``vturb`` (km/s).

    ``alpha_cont``: optional callable ``w -> (len(w), nd)`` continuous opacity (cm^-1) that sets each
    line's red window (where line/continuum >= ``threshold`` in some layer); without it every line gets
    ``max_window``. Blue wings stop at the series limit (see module docstring). ``line_list``: its H I lines
    are used when it has any (see ``hydrogen_lines``). ``dissolution``: level dissolution (module docstring).
    ``profiles``: "physical" (:func:`physical_profile`) or a callable with its interface,
    ``profiles(line: HydrogenLine, dl (nw,) air detunings in A, layers: HydrogenLayers) -> (nw, nd)``
    profile per A, e.g. ``glocal.validation.smelib_hydrogen.SMELIB_HYDROGEN`` (SMElib's profiles, for
    validation; it needs ``n_HeI``, the He I densities, in ``layers.n_HeI``). ``coarse_resolution``,
    ``far_resolution``, ``far_detuning``, ``core_doppler``: the sub-grids of the module docstring."""
    if profiles == "physical":
        profiles = physical_profile
    elif not callable(profiles):
        raise ValueError(f"profiles must be 'physical' or a callable (line, dl, layers), got {profiles!r}")
    grid = check_wave_grid(grid, "grid")
    layers = HydrogenLayers.of(T, ne, n_HI, vturb, n_HeI)
    U_HI = np.asarray(U_HI, float)
    out = np.zeros((grid.size, layers.T.size))
    lo, hi = grid[0], grid[-1]
    coarse, far = _sub_grids(grid, coarse_resolution, far_resolution)
    acc, acc_far = np.zeros((coarse.size, out.shape[1])), np.zeros((far.size, out.shape[1]))
    for line in hydrogen_lines(series, n_max, line_list):
        lam0 = line.lam_air
        blue = float(vacuum_to_air(series_limit_vacuum(line.n_lo)))
        if lam0 - max_window > hi or lam0 + max_window < lo or blue > hi:
            continue
        amp = _line_amplitude(line, layers, U_HI, dissolution)
        dlD = doppler_widths(line, layers)[0]
        prof = functools.partial(profiles, line, layers=layers)
        red = lam0 + max_window
        if alpha_cont is not None:
            probe = lam0 + np.geomspace(0.05, max_window, 48)
            ok = (prof(probe - lam0) * amp[None, :] >= threshold * alpha_cont(probe)).any(axis=1)
            red = probe[np.nonzero(ok)[0][-1]] if ok.any() else lam0 + core_doppler * dlD.max()
        core = core_doppler * float(dlD.max())
        _deposit_line(prof, amp, lam0, blue, max(blue, lam0 - (red - lam0)), red, core,
                      max(far_detuning, 4.0 * core), (grid, coarse, far), (out, acc, acc_far))
    if dissolution:
        for n_lo in series:
            acc += dissolved_bound_free(coarse, layers.T, layers.ne, layers.n_HI, U_HI, n_lo)
    if coarse.size > 1:
        # interpolate the smooth wings once (index and weights shared by every depth)
        _add_interpolated(coarse, far, acc_far, acc)
        _add_interpolated(grid, coarse, acc, out)
    return out


@numba.njit(cache=True)
def _add_interpolated(grid, coarse, acc, out):
    """out[i] += acc linearly interpolated from ``coarse`` to grid[i] (both sorted; one index walk)."""
    k = 0
    nc = coarse.size
    for i in range(grid.size):
        while k < nc - 2 and coarse[k + 1] < grid[i]:
            k += 1
        t = (grid[i] - coarse[k]) / (coarse[k + 1] - coarse[k])
        for d in range(acc.shape[1]):
            out[i, d] += acc[k, d] * (1.0 - t) + acc[k + 1, d] * t
