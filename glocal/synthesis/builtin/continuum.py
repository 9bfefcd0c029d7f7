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
* Metal bound-free: Mg I and Si I (Peach 1970 via Kurucz; below/above the tabulated 4000-10000 K the
  Boltzmann sums are extrapolated linearly in 1/T, exact for one dominant level), Fe I from the
  term-resolved B-spline R-matrix cross-sections of Zatsarinny et al. (2019, Phys. Rev. A 99, 023430;
  the Kurucz 1993 pseudo-levels remain available), and excited levels of C I, Al I, Ca I with Kramers
  cross-sections at effective quantum numbers. For Ca I this is a lower bound rather than an
  overestimate: over 2600-3500 A and 3000-4500 K the Kramers sum is 0.25-0.7x the Opacity Project
  (TOPbase) cross-sections as averaged in SPECTRUM (Gray & Corbally 1994), except within ~100 A of the
  4s4p 3P edge (2933 A) where it is 1.1-1.5x. SMElib/ATLAS9 have no Ca I bound-free at all.
* Molecular photodissociation (:func:`molecular_bf`): CH (Kurucz, van Dishoeck & Tarafdar 1987, ApJ
  322, 412) and OH (van Dishoeck & Dalgarno 1983) as tabulated in ATLAS9 (Kurucz 1993), NH (Stancil
  and collaborators, as packaged for SMElib). In cool metal-poor giants CH adds 5-15 % of the
  continuous opacity at 3500-4300 A; Fe I (R-matrix) up to ~30 % below 3000 A in 3500 K stars, 5-20x
  the Kurucz pseudo-level value.

The sum over processes (:func:`continuum_opacity`) exploits that every process is linear in one number
density or in a product of two, with a cross-section that depends on T only: the variants of a model
share the cross-sections. The engine evaluates it on a coarse constant-R grid that brackets every edge
(:func:`continuum_grid`) and interpolates linearly (:func:`interp_linear`; linear and log-linear
interpolation agree to ~1e-6 there); :func:`continuum_flux` is F_c, the flux of the continuous opacity
alone (paper §2.1).
"""
from __future__ import annotations

import numpy as np

from glocal._checks import check_wavelengths
from glocal.constants import C_AA, HC_EV_AA, K_EV, RYDBERG_EV, SIGMA_THOMSON
from glocal.constants import H_IONIZATION_EV as RYDBERG_H_EV
from glocal.constants import K_BOLTZMANN as K_CGS

from .grids import constant_r_grid
from .tables import interp_rows, load_tables
from .transfer import flux_from_tau, optical_depth, planck_lambda

KRAMERS = 2.815e29  # 64 pi^4 m e^10 / (3 sqrt(3) c h^6), cm^2 Hz^3


def _check(wave, *depth):
    """``wave`` (1-D, finite, positive, any order) and the depth arrays (1-D, one length) as floats."""
    wave = check_wavelengths(wave)
    if wave.ndim != 1:
        raise ValueError(f"wave must be 1-D, got shape {wave.shape}")
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
    """Interpolate a Peach/Kurucz table of ln S, S = sum_i g_i sigma_i e^{-E_i/kT}, in (ln nu, T).

    Inside the tabulated temperatures: linear in ln T (as Kurucz's MG1OP/SI1OP). Outside: ln S is
    extrapolated linearly in 1/T from the end segment, which is exact when one level dominates
    (d ln S / d(1/kT) = -E) and keeps S falling with the Boltzmann factors in the cool layers of
    3500 K models (clamping T at 4000 K overestimated the Mg I opacity at 2600 K by ~10^3 at 6000 A).
    """
    lnu = np.log(C_AA / wave)
    lnu_tab = np.log(C_AA / wave_tab)  # decreasing
    order = np.argsort(lnu_tab)
    xs, tab = lnu_tab[order], table[order]
    # linear in ln nu (extrapolating the last segment redward, as Kurucz does)
    i = np.clip(np.searchsorted(xs, lnu) - 1, 0, len(xs) - 2)
    w = (lnu - xs[i]) / (xs[i + 1] - xs[i])
    rows = tab[i] * (1 - w)[:, None] + tab[i + 1] * w[:, None]  # (nw, nT)
    rows = -rows if negate else rows  # ln S
    T = np.asarray(T, float)
    val = interp_rows(np.log(T_tab), rows, np.log(np.clip(T, T_tab[0], T_tab[-1])))  # (nw, nd)
    for end, nb in ((0, 1), (-1, -2)):
        out = T < T_tab[0] if end == 0 else T > T_tab[-1]
        if np.any(out):
            slope = (rows[:, nb] - rows[:, end]) / (1.0 / T_tab[nb] - 1.0 / T_tab[end])
            val[:, out] = rows[:, end][:, None] + slope[:, None] * (1.0 / T[out] - 1.0 / T_tab[end])[None, :]
    return np.exp(val)


def fe1_rmatrix(wave, T):
    """Fe I photoionisation, sum over the 44 LS terms of g sigma(nu) e^{-E/kT} (cm^2), shape (nw, nd).

    Cross-sections: B-spline R-matrix calculation of Zatsarinny, Bartschat, Fernandez-Menchero & Tayal
    (2019, Phys. Rev. A 99, 023430), NIST term energies, resonances smoothed by a Gaussian of sigma =
    1 % in wavenumber (Bautista, Romano & Pradhan 1998), as packaged for SMElib by J. Valenti (2022).
    Linear in wavenumber on the 100 cm^-1 grid; zero outside it (10000-56000 cm^-1)."""
    E, wn_tab, gs = load_tables()["fe1_rmatrix"]
    wn = 1e8 / np.asarray(wave, float)
    j = np.clip(np.searchsorted(wn_tab, wn) - 1, 0, wn_tab.size - 2)
    w = (wn - wn_tab[j]) / (wn_tab[j + 1] - wn_tab[j])
    sig = gs[:, j] * (1 - w) + gs[:, j + 1] * w  # (n_term, nw)
    sig[:, (wn < wn_tab[0]) | (wn > wn_tab[-1])] = 0.0
    bolt = np.exp(-E[:, None] / (K_EV * np.asarray(T, float))[None, :])  # (n_term, nd)
    return sig.T @ bolt


def metal_bf(wave, T, n_neutral: dict, U_neutral: dict, fe1: str = "zatsarinny2019"):
    """Bound-free of neutral metals. ``n_neutral``/``U_neutral``: {"Mg": (nd,), ...} number densities
    and partition functions of the neutral atoms (keys C, Mg, Al, Si, Ca, Fe; missing keys skipped).
    ``fe1``: "zatsarinny2019" (R-matrix, default) or "kurucz1993" (ATLAS9 pseudo-levels, which are 5-20x
    weaker below 3000 A). Returns {element: alpha (nw, nd)} so variant-dependent elements can be
    handled separately."""
    if fe1 not in ("zatsarinny2019", "kurucz1993"):
        raise ValueError(f"fe1 must be 'zatsarinny2019' or 'kurucz1993', got {fe1!r}")
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
    if "Fe" in n_neutral and fe1 == "zatsarinny2019":
        out["Fe"] = fe1_rmatrix(wave, T) * (n_neutral["Fe"] / U_neutral["Fe"])[None, :] * stim
    elif "Fe" in n_neutral:
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


def molecular_bf(wave, T, n_mol: dict, Q_mol: dict | None = None):
    """Photodissociation continua of CH, OH and NH: {name: alpha (nw, nd)} for the keys of ``n_mol``
    (number densities, (nd,)) among "CH", "OH", "NH"; others are ignored.

    CH, OH: Kurucz (1993, ATLAS9 CHOP/OHOP) tables of the LTE-averaged cross-section per molecule,
    log10 sigma(E, T) on 0.1 eV x 500 K grids (CH: Kurucz, van Dishoeck & Tarafdar 1987, ApJ 322, 412;
    OH: van Dishoeck & Dalgarno 1983), linear in E and T (T clamped to 2000-9000 K), zero below 2.0
    (CH) / 2.1 eV (OH). As in ATLAS the averaged cross-section is multiplied by Kurucz's partition
    function, giving the Boltzmann sum over the molecule's states, and divided by ``Q_mol[name]``
    (the partition function of the chemistry; Kurucz's own when not given):
    alpha = sigma(E, T) Q_K(T) / Q(T) n (1 - e^{-h nu/kT}).
    NH: cross-section per molecule for LTE level populations (sum of three electronic transitions) of
    Stancil and collaborators, 1800-5200 A, log-linear in T (clamped to 500-10000 K)."""
    wave, T = _check(wave, T)
    tab = load_tables()
    stim = stimulated(wave, T)
    E = HC_EV_AA / wave
    out = {}
    for name in ("CH", "OH"):
        if name not in n_mol:
            continue
        E_tab, T_tab, lsig, pT, part = tab["mol_photo"][name]
        i = np.clip(np.floor((E - E_tab[0]) / (E_tab[1] - E_tab[0]) + 1e-9).astype(int), 0, E_tab.size - 2)
        w = (E - E_tab[i]) / (E_tab[i + 1] - E_tab[i])
        rows = lsig[i] * (1 - w)[:, None] + lsig[i + 1] * w[:, None]  # (nw, nT)
        ls = interp_rows(T_tab, rows, np.clip(T, T_tab[0], T_tab[-1]))  # (nw, nd)
        inside = (E >= E_tab[0]) & (E <= E_tab[-1])
        QK = np.interp(T, pT, part)
        Q = QK if Q_mol is None or name not in Q_mol else np.asarray(Q_mol[name], float)
        n = np.asarray(n_mol[name], float)
        out[name] = np.where(inside[:, None], 10.0 ** ls, 0.0) * (QK / Q * n)[None, :] * stim
    if "NH" in n_mol:
        T_nh, w_nh, lsig = tab["nh_stancil"]
        j = np.clip(np.searchsorted(w_nh, wave) - 1, 0, w_nh.size - 2)
        w = (wave - w_nh[j]) / (w_nh[j + 1] - w_nh[j])
        rows = lsig[:, j] * (1 - w) + lsig[:, j + 1] * w  # (nT, nw)
        ls = interp_rows(T_nh, rows.T, np.clip(T, T_nh[0], T_nh[-1]))  # (nw, nd)
        inside = (wave >= w_nh[0]) & (wave <= w_nh[-1])
        out["NH"] = np.where(inside[:, None], 10.0 ** ls, 0.0) * np.asarray(n_mol["NH"], float)[None, :] * stim
    return out


def continuum_edges(lo: float, hi: float) -> np.ndarray:
    """Wavelengths (Angstrom) of the opacity edges inside [lo, hi], for building a coarse grid that
    brackets every discontinuity."""
    tab = load_tables()
    edges = [n * n * HC_EV_AA / RYDBERG_H_EV for n in range(1, 9)]
    edges += list(tab["mg1_wave"]) + list(tab["si1_wave"])
    lev = tab["hydrogenic_levels"]
    chi = tab["chi_eV"]
    for Z, E, _ in lev:
        edges.append(HC_EV_AA / (chi[int(Z) - 1, 0] - E))
    e = np.array(sorted(set(np.round(edges, 4))))
    return e[(e > lo) & (e < hi)]


# --------------------------------------------------------------------------- the sum over processes
#: neutral metals whose bound-free opacity the engine can include (``metal_bf``)
BF_METALS = ("C", "Mg", "Al", "Si", "Ca", "Fe")
_BF_Z = {"C": 6, "Mg": 12, "Al": 13, "Si": 14, "Ca": 20, "Fe": 26}


def check_bf_metals(metals) -> tuple:
    """``metals`` as a tuple of names from ``BF_METALS`` (ValueError naming unknown ones)."""
    metals = tuple(metals)
    unknown = [m for m in metals if m not in BF_METALS]
    if unknown:
        raise ValueError(f"unknown bound-free metal(s) {unknown}; choose from {BF_METALS}")
    return metals


def _continuum_terms(wave, chem, metals=BF_METALS):
    """The continuous opacities as (process, alpha per unit density (nw, nd), density (nv, nd)) for a
    ``chemistry.Chemistry`` ``chem``. ``metals``: the neutral metals with bound-free opacity."""
    T = chem.T
    one, zero = np.ones_like(T), np.zeros_like(T)
    na = chem.n_atoms
    nHI, nHII, nHeI, ne = na[:, 0, 0], na[:, 0, 1], na[:, 1, 0], chem.ne
    nH2 = chem.n_mol[:, chem.mol_index["H2"]] if "H2" in chem.mol_index else np.zeros_like(nHI)
    terms = [("Hminus_bf", hminus_bf(wave, T, one), chem.n_Hminus),
             ("Hminus_ff", hminus_ff(wave, T, one, one), nHI * ne),
             ("H_bf", hydrogen_bf(wave, T, one, chem.U[0, 0]), nHI),
             ("H_ff", hydrogen_ff(wave, T, one, one), nHII * ne),
             ("Hemin_ff", hemionus_ff(wave, T, one, one), nHeI * ne),
             ("H2plus", h2plus(wave, T, one, one), nHI * nHII),
             ("rayleigh_H", rayleigh(wave, one, zero, zero), nHI),
             ("rayleigh_He", rayleigh(wave, zero, one, zero), nHeI),
             ("rayleigh_H2", rayleigh(wave, zero, zero, one), nH2),
             ("thomson", thomson(wave, one), ne)]
    sym = {k: _BF_Z[k] for k in check_bf_metals(metals)}
    for k, a in metal_bf(wave, T, {k: one for k in sym}, {k: chem.U[z - 1, 0] for k, z in sym.items()}).items():
        terms.append((f"{k}_bf", a, na[:, sym[k] - 1, 0]))
    mols = [m for m in ("CH", "OH", "NH") if m in chem.mol_index]
    q_mol = {m: chem.Q_mol[chem.mol_index[m]] for m in mols if m != "NH"}
    for k, a in molecular_bf(wave, T, {m: one for m in mols}, q_mol).items():
        terms.append((f"{k}_bf", a, chem.n_mol[:, chem.mol_index[k]]))
    return terms


def continuum_opacity(wave, chem, v: int | None = None, split=False, metals=BF_METALS):
    """Total continuous alpha (cm^-1) = sum over processes of alpha per unit density x density: (nw, nd)
    for variant ``v`` of a ``chemistry.Chemistry`` solution, (nv, nw, nd) for all variants (``v=None``,
    the cross-sections computed once); ``split``: {process: alpha} of variant v.
    ``metals``: the neutral metals with bound-free opacity (default all of ``BF_METALS``)."""
    terms = _continuum_terms(np.asarray(wave, float), chem, metals)
    if split:
        return {name: a * n[v][None, :] for name, a, n in terms}
    out = np.stack([sum(a * n[u][None, :] for _, a, n in terms)
                    for u in (range(chem.ne.shape[0]) if v is None else [v])])
    return out if v is None else out[0]


def continuum_grid(lo: float, hi: float, resolution: float) -> np.ndarray:
    """The coarse grid of the continuum (Angstrom): constant R = ``resolution`` from 0.999 lo to 1.001 hi
    plus two points 2e-3 A either side of every opacity edge inside it (``continuum_edges``)."""
    cgrid = constant_r_grid(lo * 0.999, hi * 1.001, resolution)
    edges = continuum_edges(cgrid[0], cgrid[-1])
    return np.unique(np.concatenate([cgrid, edges - 2e-3, edges + 2e-3]))


def interp_linear(x_new, x, y):
    """Interpolate y (nx, nd) at x_new, per depth column (the continuum on its edge-bracketed coarse grid,
    where linear and log-linear interpolation agree to ~1e-6)."""
    j = np.clip(np.searchsorted(x, x_new) - 1, 0, x.size - 2)
    w = ((x_new - x[j]) / (x[j + 1] - x[j]))[:, None]
    return y[j] * (1 - w) + y[j + 1] * w


def continuum_flux(grid, cgrid, alpha_c, chem, rhox, method: str = "log", n_mu="exp7") -> np.ndarray:
    """F_c (erg s^-1 cm^-2 A^-1, (nv, len(grid))): the flux of the continuous opacity ``alpha_c`` (nv, nc, nd)
    alone, solved on the coarse grid ``cgrid`` (tau by ``transfer.optical_depth`` with ``method``, angle
    quadrature ``n_mu``) and interpolated log-linearly in wavelength to ``grid``."""
    Sc = planck_lambda(cgrid, chem.T)
    fcont = np.empty((alpha_c.shape[0], grid.size))
    for v in range(alpha_c.shape[0]):
        kc = alpha_c[v] / chem.rho[v][None, :]
        fc = flux_from_tau(optical_depth(kc, rhox, method), Sc, n_mu)
        fcont[v] = np.exp(np.interp(np.log(grid), np.log(cgrid), np.log(fc)))
    return fcont
