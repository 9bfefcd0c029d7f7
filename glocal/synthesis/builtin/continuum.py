"""Continuous opacities (absorption coefficients alpha in cm^-1), vectorised over wavelength x depth.

Every function takes wavelengths ``wave`` (Angstrom, shape (nw,)) and depth arrays (shape (nd,)) and
returns an array of shape (nw, nd). Bound-free terms include stimulated emission (1 - e^{-h nu/kT});
the tabulated free-free terms already include it. Processes and sources:

* H- bound-free: McLaughlin et al. (2017) photodetachment cross-section.
* H- free-free: Bell & Berrington (1987) table, bilinear in (ln lambda, theta).
* H I bound-free: hydrogenic Kramers cross-section (Gray 2005, Eq. 8.4) with the Karzas & Latter
  (1961) Gaunt-factor approximation of Gray Eq. 8.5 for n <= 8, levels n >= 9 by the integral
  approximation (Gray Eq. 8.8).
* H I free-free: Kramers with the thermally averaged Gaunt factors of van Hoof et al. (2014).
* He- free-free, H2+ bound-free + free-free: fits of Kurucz (1970, SAO Spec. Rep. 309).
* Rayleigh scattering by H I (Lee 2005 / Dalgarno), He I (Dalgarno 1962) and H2 (Dalgarno & Williams
  1962); Thomson scattering by electrons. Scattering is treated as true absorption (LTE, as in SPECTRUM).
* Metal bound-free: Mg I and Si I (Peach 1970 via Kurucz), Fe I (Kurucz 1993 pseudo-levels), and
  excited levels of C I, Al I, Ca I with Kramers cross-sections at effective quantum numbers.
"""
from __future__ import annotations

import numpy as np

from .tables import (C_AA, HC_EV_AA, K_CGS, K_EV, RYDBERG_EV, RYDBERG_H_EV, SIGMA_THOMSON, interp_rows,
                     load_tables)
KRAMERS = 2.815e29  # 64 pi^4 m e^10 / (3 sqrt(3) c h^6), cm^2 Hz^3


def _check(wave, *depth):
    wave = np.asarray(wave, float)
    if wave.ndim != 1 or not np.all(np.isfinite(wave)) or np.any(wave <= 0):
        raise ValueError("wave must be a 1-D array of positive finite wavelengths (Angstrom)")
    out = [np.asarray(d, float) for d in depth]
    for d in out:
        if d.shape != out[0].shape or d.ndim != 1:
            raise ValueError("depth arrays must be 1-D with a common length")
    return (wave, *out)


def stimulated(wave, T):
    """1 - exp(-h nu / kT), shape (nw, nd)."""
    return -np.expm1(-HC_EV_AA / (wave[:, None] * K_EV * T[None, :]))


def hminus_bf(wave, T, n_hminus):
    """H- bound-free (McLaughlin et al. 2017): sigma(E) n(H-) (1 - e^{-h nu/kT})."""
    wave, T, n_hminus = _check(wave, T, n_hminus)
    E_tab, s_tab = load_tables()["hminus_bf"]
    E = HC_EV_AA / wave
    sig = np.where(E >= E_tab[0], np.interp(E, E_tab, s_tab, left=0.0, right=s_tab[-1]), 0.0)
    return sig[:, None] * n_hminus[None, :] * stimulated(wave, T)


def hminus_ff(wave, T, n_HI, ne):
    """H- free-free (Bell & Berrington 1987): K(lambda, theta) P_e n(H I), K in cm^4 dyn^-1."""
    wave, T, n_HI, ne = _check(wave, T, n_HI, ne)
    tab = load_tables()
    K = tab["hminus_ff"] * 1e-26  # (n_wave, n_theta)
    lw = np.log(tab["hminus_ff_wave"])
    Kw = np.stack([np.interp(np.log(wave), lw, K[:, j]) for j in range(K.shape[1])], axis=1)
    theta = np.clip(5040.0 / T, tab["hminus_ff_theta"][0], tab["hminus_ff_theta"][-1])
    Kt = interp_rows(tab["hminus_ff_theta"], Kw, theta)  # (nw, nd)
    return Kt * (ne * K_CGS * T * n_HI)[None, :]


def _gaunt_bf(n, wave):
    """Karzas-Latter/Menzel-Pekeris bound-free Gaunt factor approximation (Gray 2005, Eq. 8.5)."""
    lam_R = wave * 1e-8 * 1.0967758e5  # lambda (cm) x Rydberg (cm^-1)
    return 1.0 - 0.3456 / np.cbrt(lam_R) * (lam_R / n**2 - 0.5)


def hydrogen_bf(wave, T, n_HI, U_HI, n_max: int = 8):
    """H I bound-free from all levels (Gray 2005, Eqs. 8.4-8.8), n(H I) = total neutral hydrogen."""
    wave, T, n_HI, U_HI = _check(wave, T, n_HI, U_HI)
    nu = C_AA / wave
    kT = K_EV * T
    I = RYDBERG_H_EV
    total = np.zeros((wave.size, T.size))
    for n in range(1, n_max + 1):
        edge = n * n * HC_EV_AA / I
        sig = np.where(wave <= edge, KRAMERS / (n**5 * nu**3) * np.clip(_gaunt_bf(n, wave), 0, None), 0)
        pop = 2 * n * n * np.exp(-I * (1 - 1 / n**2) / kT) / U_HI
        total += sig[:, None] * pop[None, :]
    na = n_max + 0.5
    hi = (2 / U_HI) * np.exp(-I / kT) * kT / (2 * I) * np.expm1(I / (na**2 * kT))
    total += (KRAMERS / nu**3)[:, None] * hi[None, :]
    return total * n_HI[None, :] * stimulated(wave, T)


def gaunt_ff(wave, T, Z: float = 1.0):
    """Thermally averaged free-free Gaunt factor (van Hoof et al. 2014), shape (nw, nd)."""
    tab = load_tables()["gaunt_ff"]  # rows log10 u, cols log10 gamma^2
    lg2 = np.log10(Z**2 * RYDBERG_EV / (K_EV * np.asarray(T, float)))
    lu = np.log10(HC_EV_AA / (np.asarray(wave, float)[:, None] * K_EV * np.asarray(T, float)[None, :]))
    fi = np.clip((lu + 16.0) / 0.2, 0, tab.shape[0] - 1.000001)
    fj = np.clip((lg2 + 6.0) / 0.2, 0, tab.shape[1] - 1.000001)[None, :]
    fj = np.broadcast_to(fj, fi.shape)
    i, j = fi.astype(int), fj.astype(int)
    wi, wj = fi - i, fj - j
    return ((tab[i, j] * (1 - wi) + tab[i + 1, j] * wi) * (1 - wj)
            + (tab[i, j + 1] * (1 - wi) + tab[i + 1, j + 1] * wi) * wj)


def hydrogen_ff(wave, T, n_HII, ne):
    """H I free-free (hydrogenic Kramers, Gray 2005 Eq. 8.10, van Hoof Gaunt factors)."""
    wave, T, n_HII, ne = _check(wave, T, n_HII, ne)
    nu = C_AA / wave
    coef = 3.6919e8 / nu[:, None] ** 3 / np.sqrt(T)[None, :]
    return coef * gaunt_ff(wave, T) * (ne * n_HII)[None, :] * stimulated(wave, T)


def hemionus_ff(wave, T, n_HeI, ne):
    """He- free-free, fit of Kurucz (1970): (A T + B + C/T) n_e n(He I)."""
    wave, T, n_HeI, ne = _check(wave, T, n_HeI, ne)
    nu = C_AA / wave
    A = 3.397e-46 + (-5.216e-31 + 7.039e-15 / nu) / nu
    B = -4.116e-42 + (1.067e-26 + 8.135e-11 / nu) / nu
    C = 5.081e-37 + (-8.724e-23 - 5.659e-8 / nu) / nu
    return np.maximum(A[:, None] * T + B[:, None] + C[:, None] / T, 0) * (ne * n_HeI)[None, :]


def h2plus(wave, T, n_HI, n_HII):
    """H2+ bound-free + free-free, fit of Kurucz (1970) in ln(nu): exp(FR - ES/kT) n_H n_H+ stim."""
    wave, T, n_HI, n_HII = _check(wave, T, n_HI, n_HII)
    nu = C_AA / wave
    x = np.log(nu)
    FR = -3.0233e3 + (3.7797e2 + (-1.82496e1 + (3.9207e-1 - 3.1672e-3 * x) * x) * x) * x
    ES = -7.342e-3 + (-2.409e-15 + (1.028e-30 + (-4.230e-46 + (1.224e-61 - 1.351e-77 * nu) * nu)
                                     * nu) * nu) * nu
    val = np.exp(FR[:, None] - ES[:, None] / (K_EV * T)[None, :])
    return val * (n_HI * n_HII)[None, :] * stimulated(wave, T)


def rayleigh(wave, n_HI, n_HeI, n_H2):
    """Rayleigh scattering: H I (Kurucz 1970 fit of Dalgarno), He I (Dalgarno), H2 (Dalgarno &
    Williams 1962); wavelengths below the Lyman-alpha/He resonances are clamped."""
    wave = np.asarray(wave, float)
    w = np.maximum(wave, 1216.0)
    ww = w * w
    sH = (5.799e-13 + 1.422e-6 / ww + 2.784 / (ww * ww)) / (ww * ww)
    w2 = np.maximum(wave, 582.0) ** 2
    sHe = 5.484e-14 / w2**2 * (1 + (2.44e5 + 5.94e10 / (w2 - 2.90e5)) / w2) ** 2
    w3 = np.maximum(wave, 1300.0) ** 2
    sH2 = 8.14e-13 / w3**2 + 1.28e-6 / w3**3 + 1.61 / w3**4
    return (sH[:, None] * np.asarray(n_HI)[None, :] + sHe[:, None] * np.asarray(n_HeI)[None, :]
            + sH2[:, None] * np.asarray(n_H2)[None, :])


def thomson(wave, ne):
    """Electron (Thomson) scattering sigma_T n_e, shape (nw, nd)."""
    return np.broadcast_to(SIGMA_THOMSON * np.asarray(ne)[None, :], (np.size(wave), np.size(ne))).copy()


def _peach(wave, T, table, wave_tab, T_tab, negate):
    """Interpolate a Peach/Kurucz table of ln(sum g sigma e^{-E/kT}) in (ln nu, ln T)."""
    lnu = np.log(C_AA / wave)
    lnu_tab = np.log(C_AA / wave_tab)  # decreasing
    order = np.argsort(lnu_tab)
    xs, tab = lnu_tab[order], table[order]
    # linear in ln nu (extrapolating the last segment redward, as Kurucz does)
    i = np.clip(np.searchsorted(xs, lnu) - 1, 0, len(xs) - 2)
    w = (lnu - xs[i]) / (xs[i + 1] - xs[i])
    rows = tab[i] * (1 - w)[:, None] + tab[i + 1] * w[:, None]  # (nw, nT)
    lnT = np.log(np.clip(T, T_tab[0], T_tab[-1]))
    val = interp_rows(np.log(T_tab), rows, lnT)  # (nw, nd)
    return np.exp(-val) if negate else np.exp(val)


def metal_bf(wave, T, n_neutral: dict, U_neutral: dict):
    """Bound-free of neutral metals. ``n_neutral``/``U_neutral``: {"Mg": (nd,), ...} number densities
    and partition functions of the neutral atoms (keys C, Mg, Al, Si, Ca, Fe; missing keys skipped).
    Returns {element: alpha (nw, nd)} so variant-dependent elements can be handled separately."""
    wave = np.asarray(wave, float)
    T = np.asarray(T, float)
    tab = load_tables()
    stim = stimulated(wave, T)
    out = {}
    if "Mg" in n_neutral:
        s = _peach(wave, T, tab["mg1"], tab["mg1_wave"], tab["mg1_T"], negate=False)
        out["Mg"] = s * (n_neutral["Mg"] / U_neutral["Mg"])[None, :] * stim
    if "Si" in n_neutral:
        s = 9.0 * _peach(wave, T, tab["si1"], tab["si1_wave"], tab["si1_T"], negate=True)
        out["Si"] = s * (n_neutral["Si"] / U_neutral["Si"])[None, :] * stim
    if "Fe" in n_neutral:
        g, E, W = tab["fe1"]
        wn = 1e8 / wave
        sig = np.where(W[None, :] < wn[:, None],
                       3e-18 / (1 + ((W[None, :] + 3000 - wn[:, None]) / W[None, :] / 0.1) ** 4), 0.0)
        sig[wn < 21000] = 0.0
        bolt = g[:, None] * np.exp(-E[:, None] * 1.4387769 / T[None, :])  # (48, nd)
        out["Fe"] = (sig @ bolt) * (n_neutral["Fe"] / U_neutral["Fe"])[None, :] * stim
    if "Al" in n_neutral:
        nu = C_AA / wave
        s = np.where(nu >= 1.443e15, 6.5e-17 * (1.443e15 / nu) ** 5 * 6.0, 0.0)
        out["Al"] = s[:, None] * (n_neutral["Al"] / U_neutral["Al"])[None, :] * stim
    lev = tab["hydrogenic_levels"]
    chi = tab["chi_eV"]
    nu = C_AA / wave
    E_ph = HC_EV_AA / wave
    for Z, sym in ((6, "C"), (13, "Al"), (20, "Ca")):
        if sym not in n_neutral:
            continue
        rows = lev[lev[:, 0] == Z]
        I_lev = chi[Z - 1, 0] - rows[:, 1]  # binding energy of each level (eV)
        nstar = np.sqrt(RYDBERG_EV / I_lev)
        sig = np.where(E_ph[:, None] >= I_lev[None, :], KRAMERS / (nstar[None, :] ** 5 * nu[:, None] ** 3), 0)
        bolt = rows[:, 2][:, None] * np.exp(-rows[:, 1][:, None] / (K_EV * T)[None, :])
        a = (sig @ bolt) * (n_neutral[sym] / U_neutral[sym])[None, :] * stim
        out[sym] = out.get(sym, 0) + a
    return out


def continuum_edges(lo: float, hi: float) -> np.ndarray:
    """Wavelengths (Angstrom) of the opacity edges inside [lo, hi], for building a coarse grid that
    brackets every discontinuity."""
    tab = load_tables()
    edges = [n * n * HC_EV_AA / RYDBERG_H_EV for n in range(1, 9)]
    edges += list(tab["mg1_wave"]) + list(tab["si1_wave"])
    edges += list(1e8 / tab["fe1"][2]) + [1e8 / 21000.0]
    lev = tab["hydrogenic_levels"]
    chi = tab["chi_eV"]
    for Z, E, _ in lev:
        edges.append(HC_EV_AA / (chi[int(Z) - 1, 0] - E))
    e = np.array(sorted(set(np.round(edges, 4))))
    return e[(e > lo) & (e < hi)]
