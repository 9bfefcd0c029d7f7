"""Line opacity: Voigt profiles, Doppler widths, damping, and the vectorised accumulation of
atomic and molecular lines onto a wavelength x depth grid.

* Voigt function H(a, v) = Re w(v + i a) with the rational approximation of Humlicek (1982, JQSRT 27,
  437, "W4"); relative accuracy ~1e-4 (tested against scipy.special.wofz).
* Doppler width: Delta lambda_D = lambda / c sqrt(2 k T / m + xi^2)                         (Eq. L1)
* line absorption coefficient (cm^-1), Gray (2005) Eq. 11.12 in wavelength form:
  alpha = (pi e^2 / m_e c) (lambda^2 / c) gf (n_s / U_s) e^{-E_low/kT} (1 - e^{-h nu/kT})
          x H(a, v) / (sqrt(pi) Delta lambda_D),  v = (lambda - lambda_0)/Delta lambda_D,
          a = Gamma lambda^2 / (4 pi c Delta lambda_D)                                         (Eq. L2)
* damping Gamma = Gamma_rad + Gamma_Stark + Gamma_vdW:
  - radiative: 10**gamma_rad, else the classical value 2.223e15 / lambda[A]^2 s^-1 (Gray Eq. 11.14);
  - Stark: 10**gamma_stark n_e (T/10^4)^(1/6), else Cowley (1971) as in Korg
    (2.26e-7 n*_up^4 n_e for neutrals, 5.42e-7 n*_up^4/(Z+1)^2 n_e for ions);
  - van der Waals: gamma_vdw < 0: 10**gamma_vdw n_H (T/10^4)^0.3; gamma_vdw > 20: Anstee, Barklem &
    O'Mara (sigma.alpha packed); else Unsoeld (1955) with the hydrogenic <r^2> of Gray Eq. 11.30.
  Molecules get radiative damping, plus vdW/Stark when the list gives them; without list data the
  engine gives them log10(gamma_6/n_H) = ``molecular_vdw`` (default -8.2 in ``engine.run``; see there).
* window: each line is evaluated where alpha_line / alpha_cont could exceed ``threshold`` at some
  depth, i.e. out to max(Delta lambda_D sqrt(ln(r/eps)), Delta lambda_D sqrt(a r / (sqrt(pi) eps)))
  with r the line-centre to continuum ratio; strong lines (Mg II h&k, Ca II H&K) therefore get wings
  tens of Angstrom wide, weak lines a few Doppler widths.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import dawsn, wofz
from scipy.special import gamma as gamma_fn

from glocal._checks import require_air_linelist

from .chemistry import Chemistry, parse_species
from .tables import (A0_CM, AMU, ATOMIC_NUMBER, C_CGS, HC_EV_AA, K_CGS, K_EV, RYDBERG_EV, SIGMA_LINE,
                     load_tables)

SQRT_PI = np.sqrt(np.pi)


def voigt_hjerting(a, v):
    """Voigt-Hjerting function H(a, v) = Re w(v + i a), Humlicek (1982) W4 approximation.

    ``a`` >= 0 and ``v`` broadcast together; returns float64 array."""
    a = np.asarray(a, float)
    v = np.asarray(v, float)
    if np.any(a < 0):
        raise ValueError("Voigt damping parameter a must be >= 0")
    a, v = np.broadcast_arrays(a, v)
    x = np.abs(v)
    t = a - 1j * x
    s = x + a
    out = np.empty(x.shape, float)
    r1 = s >= 15.0
    r2 = (s < 15.0) & (s >= 5.5)
    r3 = (s < 5.5) & (a >= 0.195 * x - 0.176)
    r4 = ~(r1 | r2 | r3)
    if r1.any():
        out[r1] = _humlicek_region1(a[r1], x[r1])
    if r2.any():
        out[r2] = _humlicek_region2(t[r2])
    if r3.any():
        tt = t[r3]
        num = 16.4955 + tt * (20.20933 + tt * (11.96482 + tt * (3.778987 + tt * 0.5642236)))
        den = 16.4955 + tt * (38.82363 + tt * (39.27121 + tt * (21.69274 + tt * (6.699398 + tt))))
        out[r3] = (num / den).real
    if r4.any():
        tt = t[r4]
        u = tt * tt
        num = tt * (36183.31 - u * (3321.9905 - u * (1540.787 - u * (219.0313 - u * (
            35.76683 - u * (1.320522 - u * 0.56419))))))
        den = 32066.6 - u * (24322.84 - u * (9022.228 - u * (2186.181 - u * (364.2191 - u * (
            61.57037 - u * (1.841439 - u))))))
        out[r4] = (np.exp(u) - num / den).real
    return out


def _humlicek_region1(a, v):
    """Humlicek (1982) region 1 (a + |v| >= 15): Re[t c/(1/2 + t^2)], t = a - i v, in real arithmetic."""
    D = 0.5 + a * a - v * v
    return 0.5641896 * a * (0.5 + a * a + v * v) / (D * D + 4 * a * a * v * v)


def _humlicek_region2(t):
    """Humlicek (1982) region 2 (5.5 <= a + |v| < 15) at complex t = a - i v."""
    u = t * t
    return (t * (1.410474 + u * 0.5641896) / (0.75 + u * (3.0 + u))).real


def voigt_fast(a, v):
    """H(a, v) for the engine: second-order Harris (1948) series in a with the exact first-order term
    H1 = (2/sqrt(pi)) (2 v D(v) - 1) (D = Dawson's integral, tabulated) for a <= 0.03, |v| < 6; the
    Lorentz asymptote a/(sqrt(pi) v^2) (1 + 3/(2v^2) + 15/(4v^4)) for a <= 0.03, |v| >= 6; for a > 0.03
    Humlicek's (1982) region-1 rational form (a + |v| >= 15, in real arithmetic), his region 2
    (5.5 <= a + |v| < 15) and the Faddeeva function (scipy.special.wofz) otherwise.
    Max relative error 3.1e-4 (tests)."""
    a = np.asarray(a, float)
    v = np.abs(np.asarray(v, float))
    a, v = np.broadcast_arrays(a, v)
    vc = np.minimum(v, 6.0)
    iv2 = 1.0 / np.maximum(v * v, 36.0)
    out = np.where(v < 6.0, _harris_core(np.minimum(a, 0.03), vc),
                   a / SQRT_PI * iv2 * (1 + iv2 * (1.5 + 3.75 * iv2)))
    big = a > 0.03
    if big.any():
        ab, vb = a[big], v[big]
        sb = ab + vb
        res = np.empty(ab.shape)
        r1 = sb >= 15.0
        if r1.any():
            res[r1] = _humlicek_region1(ab[r1], vb[r1])
        r2 = (sb >= 5.5) & ~r1
        if r2.any():
            res[r2] = _humlicek_region2(ab[r2] - 1j * vb[r2])
        r3 = sb < 5.5
        if r3.any():
            res[r3] = wofz(vb[r3] + 1j * ab[r3]).real
        out[big] = res
    return out


_H1_STEP = 1e-3
_H1_V = np.arange(0.0, 6.0 + 3 * _H1_STEP, _H1_STEP)
_H1_TAB = (2 / SQRT_PI) * (2 * _H1_V * dawsn(_H1_V) - 1)  # first-order Harris term (exact, tabulated)


def _harris_core(a, v):
    """H(a, v) ~ e^{-v^2} (1 + a^2 (1 - 2 v^2)) + a H1(v) for small a, |v| < 6 (H1 linearly interpolated
    from a 1e-3 step table of the exact Dawson-function expression; interpolation error < 1e-7)."""
    v2 = v * v
    e = np.exp(-v2)
    f = v * (1.0 / _H1_STEP)
    i = f.astype(np.int64)
    w = f - i
    h1 = _H1_TAB[i] * (1 - w) + _H1_TAB[i + 1] * w
    return e * (1 + a * a * (1 - 2 * v2)) + a * h1


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
    """Total Lorentz width Gamma (s^-1) per line and depth, shape (nl, nd). ``molecular_vdw``: log10
    gamma_6/n_H at 10^4 K given to molecular lines without a van der Waals constant (None: none)."""
    tab = load_tables()
    nl = wave0.size
    T = T[None, :]
    g_rad = np.where(np.isfinite(gamma_rad), 10.0 ** np.nan_to_num(gamma_rad), 2.223e15 / wave0**2)
    gam = np.repeat(g_rad[:, None], T.shape[1], axis=1)
    uniq, inv = np.unique(np.asarray(species, str), return_inverse=True)
    parsed = [parse_species(s) for s in uniq]
    Z = np.array([ATOMIC_NUMBER[el] if st is not None else 0 for el, st in parsed], int)[inv]
    stage = np.array([st if st is not None else 0 for el, st in parsed], int)[inv]
    atom = stage > 0
    chi = np.where(atom, tab["chi_eV"][np.maximum(Z - 1, 0), np.clip(stage - 1, 0, 2)], np.nan)
    E_up = elow + HC_EV_AA / wave0
    with np.errstate(invalid="ignore", divide="ignore"):
        nstar2 = stage**2 * RYDBERG_EV / (chi - E_up)
    ok = atom & np.isfinite(nstar2) & (nstar2 > 0)
    # the hydrogenic estimates are meaningless for upper levels within ~0.14 eV of the limit: n* <= 10
    nstar2 = np.where(ok, np.minimum(nstar2, 100.0), nstar2)
    # Stark
    g4_approx = np.where(stage == 1, 2.25910152e-7, 5.42184365e-7 / (stage + 1.0) ** 2) * nstar2**2
    g4 = np.where(np.isfinite(gamma_stark), 10.0 ** np.nan_to_num(gamma_stark),
                  np.where(ok, g4_approx, 0.0))
    gam += g4[:, None] * ne[None, :] * (T / 1e4) ** (1 / 6)
    # van der Waals
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
    gam += (10.0 ** simple)[:, None] * nH[None, :] * (T / 1e4) ** 0.3
    abo = np.isfinite(gv) & (gv > 20)
    if abo.any():
        sigma = np.floor(gv[abo])
        alpha = gv[abo] - sigma
        gam[abo] += abo_gamma(sigma[:, None], alpha[:, None], T, mass[abo][:, None]) * nH[None, :]
    return gam


def abo_gamma(sigma_a0, alpha, T, mass_amu):
    """Anstee-Barklem-O'Mara van der Waals broadening rate per H atom (cm^3 s^-1): cross-section
    ``sigma_a0`` (a0^2) at v0 = 1e6 cm/s, velocity exponent ``alpha``, perturbed mass (amu); broadcasts."""
    inv_mu = 1 / (1.008 * AMU) + 1 / (np.asarray(mass_amu, float) * AMU)
    vbar = np.sqrt(8 * K_CGS * T / np.pi * inv_mu)
    v0 = 1e6
    return (2 * (4 / np.pi) ** (alpha / 2) * gamma_fn((4 - alpha) / 2) * v0 * sigma_a0 * A0_CM**2
            * (vbar / v0) ** (1 - alpha))


def prepare_lines(line_list, chem: Chemistry, vturb, wave_range, alpha_cont_fn, threshold=1e-4,
                  max_window=300.0, ratio_tol=1e-4, skip_hydrogen=True, strict=False, classes=None,
                  tau_ross=None, select_tau=1e-5, wing_tau=1e-2, chunk=4096, molecular_vdw=None,
                  wing_threshold=None):
    """Resolve a line list against the chemistry and select the lines that matter.

    ``alpha_cont_fn(wave) -> (len(wave), nd)`` gives the (reference variant) continuum at the line
    centres. Lines whose centre-to-continuum ratio stays below ``threshold`` at all depths are dropped.
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
    uniq = np.unique(species[keep])
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
    keep &= np.isin(species, names)
    idx = np.where(keep)[0]
    if not names:
        names, dens, part = ["none"], {"none": np.zeros((nv, nd))}, {"none": np.ones(nd)}
    n_all = np.stack([dens[s] for s in names])  # (ns, nv, nd)
    n_max = n_all.max(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(n_max[:, None, :] > 0, n_all / np.where(n_max > 0, n_max, 1)[:, None, :], 0.0)
    reps = np.array([np.where(classes == c)[0][0] for c in range(classes.max() + 1)])
    shared = np.all(np.abs(ratio - ratio[:, reps[classes], :]) <= ratio_tol, axis=(1, 2))
    def no_lines():
        z = np.zeros((0, nd))
        return PreparedLines(np.zeros(0), np.zeros(0, str), np.zeros(0, int), z, z, z, np.zeros(0),
                             ratio, shared, classes, nl_in, tuple(skipped), tuple(names))

    if idx.size == 0:
        return no_lines()
    wave, species, elow, loggf = wave[idx], species[idx], elow[idx], loggf[idx]
    g_rad, g_st, g_vdw = g_rad[idx], g_st[idx], g_vdw[idx]
    lookup = {n_: k for k, n_ in enumerate(names)}
    uq, inv = np.unique(species, return_inverse=True)
    sp_index = np.array([lookup[u] for u in uq])[inv]
    U = np.stack([part[s] for s in names])
    mass_sp = np.array([mass[s] for s in names])
    kT = K_EV * T[None, :]
    vt = np.broadcast_to(np.asarray(vturb, float), (nd,))
    nH = chem.n_atoms[0, 0, 0]  # damping uses the n_e and n_H of variant 0 (they barely move with O/Mg)
    tr = np.full(nd, 1.0) if tau_ross is None else np.asarray(tau_ross, float)
    # a line is kept if it reaches the threshold anywhere below tau_ross = select_tau; its window covers
    # the detunings where it exceeds the threshold in the layers that form the wings (tau_ross >= wing_tau)
    deep_sel = tr >= select_tau
    deep_win = tr >= wing_tau
    if not deep_sel.any() or not deep_win.any():
        deep_sel = deep_win = np.ones(nd, bool)
    keep_parts = []
    for c0 in range(0, wave.size, chunk):  # bounded memory for lists of 10^5-10^6 lines
        sl = slice(c0, c0 + chunk)
        w_, sp_ = wave[sl], sp_index[sl]
        stim = -np.expm1(-HC_EV_AA / (w_[:, None] * kT))
        # integrated line opacity, cm^-1 Angstrom (lambda^2/c in cm/Hz, x 1e8 A/cm)
        strength = (SIGMA_LINE * (w_[:, None] * 1e-8) ** 2 / C_CGS * 1e8 * 10.0 ** loggf[sl, None]
                    * (n_max / U)[sp_] * np.exp(-elow[sl, None] / kT) * stim)
        m_ = mass_sp[sp_]
        dlD = doppler_width(w_[:, None], T[None, :], m_[:, None], vt[None, :])
        r = strength / (SQRT_PI * dlD) / alpha_cont_fn(w_)
        # H(a, 0) <= 1, so the pure-Doppler centre ratio bounds r from above: screen before damping
        pre = np.where(r[:, deep_sel].max(axis=1) >= threshold)[0]
        if pre.size == 0:
            continue
        w_, sp_, m_ = w_[pre], sp_[pre], m_[pre]
        strength, dlD, r = strength[pre], dlD[pre], r[pre]
        lsl = c0 + pre
        gam = damping(w_, species[lsl], elow[lsl], g_rad[lsl], g_st[lsl], g_vdw[lsl], T, chem.ne[0], nH,
                      m_, molecular_vdw)
        a = gam * (w_[:, None] * 1e-8) ** 2 / (4 * np.pi * C_CGS * dlD * 1e-8)
        r = r * voigt_fast(a, 0.0)
        sel = np.where(r[:, deep_sel].max(axis=1) >= threshold)[0]
        if sel.size == 0:
            continue
        rw, aw, dw = r[sel][:, deep_win], a[sel][:, deep_win], dlD[sel][:, deep_win]
        wt = threshold if wing_threshold is None else wing_threshold
        with np.errstate(divide="ignore", invalid="ignore"):
            core = np.sqrt(np.log(np.maximum(rw / wt, 1.0)))
            wing = np.sqrt(np.maximum(aw * rw / (SQRT_PI * wt), 0.0))
        half = np.clip(np.max(np.maximum(core, wing) * dw, axis=1), 3 * dlD[sel].max(axis=1), max_window)
        # pure-Doppler lines: the damping term (<= 2a/sqrt(pi) of the peak) stays below the threshold in
        # the wing-forming layers and a is small everywhere
        dop = (np.max(2 * aw * rw / SQRT_PI, axis=1) < wt) & (np.max(a[sel], axis=1) < 0.03)
        # float32 storage halves the memory of long lists (relative precision 6e-8 is ample)
        keep_parts.append((lsl[sel], strength[sel].astype(np.float32), dlD[sel].astype(np.float32),
                           a[sel].astype(np.float32), half, dop))
    if not keep_parts:
        return no_lines()
    s_ = np.concatenate([k[0] for k in keep_parts])
    return PreparedLines(wave=wave[s_], species=species[s_], sp_index=sp_index[s_],
                         strength=np.concatenate([k[1] for k in keep_parts]),
                         dlam_D=np.concatenate([k[2] for k in keep_parts]),
                         a=np.concatenate([k[3] for k in keep_parts]),
                         halfwidth=np.concatenate([k[4] for k in keep_parts]), ratio=ratio, shared=shared,
                         classes=classes, n_input=nl_in, skipped=tuple(skipped), species_names=tuple(names),
                         doppler_only=np.concatenate([k[5] for k in keep_parts]))


@dataclass
class LineOpacity:
    """alpha of the class-shared species per n_e class (n_class, nw, nd), plus, for every
    variant-specific species (e.g. OH when [O/Fe] varies), a dense block alpha_s at n_max over the rows
    [row0, row1) where it has lines; variant v adds sum_s ratio[s, v] * alpha_s."""

    alpha_class: np.ndarray
    blocks: dict  # species index -> (row0, row1, alpha (row1-row0, nd))
    nw: int
    nd: int

    def variant_specific(self, ratio_v: np.ndarray, ratio_ref: np.ndarray | None = None) -> np.ndarray:
        """sum_s (ratio_v[s] - ratio_ref[s]) alpha_s as a dense (nw, nd) array (ratio_ref = 0 if None)."""
        out = np.zeros((self.nw, self.nd))
        for s, (r0, r1, blk) in self.blocks.items():
            w = ratio_v[s] if ratio_ref is None else ratio_v[s] - ratio_ref[s]
            if np.any(w != 0):
                out[r0:r1] += blk * w[None, :]
        return out


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


def line_opacity(grid: np.ndarray, lines: PreparedLines, chunk_elements: int = 131_072,
                 dtype=np.float64, tol: float = 1e-3) -> LineOpacity:
    """Accumulate the selected lines onto ``grid`` (Angstrom, sorted). The Voigt profile of every line
    is evaluated once; class-shared species are summed on a low-rank basis of their n_e-class
    ratios (``tol``, see ``_low_rank_ratios``) and then combined per class; the variant-specific ones (e.g. OH when [O/Fe] varies) are kept sparse for per-variant
    summation."""
    grid = as_wave_grid(grid)
    ncls = int(lines.classes.max()) + 1
    reps = np.array([np.where(lines.classes == c)[0][0] for c in range(ncls)])
    nd = lines.ratio.shape[2]
    nw = grid.size
    out = np.zeros((ncls, nw, nd), dtype=dtype)
    pieces = {}
    if lines.wave.size:
        order = np.argsort(lines.wave, kind="stable")
        i0 = np.searchsorted(grid, lines.wave - lines.halfwidth)
        i1 = np.searchsorted(grid, lines.wave + lines.halfwidth)
        npts = i1 - i0
        # bucket window lengths on a 1.25x geometric ladder (<= 25 % padding)
        ladder = np.unique(np.ceil(1.25 ** np.arange(0, 60)).astype(int))
        width = np.where(npts > 0, ladder[np.searchsorted(ladder, np.maximum(npts, 1))], 0)
        amp = lines.strength.astype(np.float64) / (SQRT_PI * lines.dlam_D)
        inv = 1.0 / lines.dlam_D.astype(np.float64)
        cls_ratio = lines.ratio[:, reps, :]  # (ns, ncls, nd)
        weight, basis = _low_rank_ratios(cls_ratio, lines.shared, tol)
        acc = np.zeros((weight.shape[1], nw, nd))
        dop = (lines.doppler_only if lines.doppler_only is not None
               else np.zeros(lines.wave.size, bool))
        for W, gauss in sorted({(int(x), bool(g)) for x, g in zip(width, dop) if x > 0}):
            ids = order[(width[order] == W) & (dop[order] == gauss)]  # wavelength-sorted batch
            per = max(1, chunk_elements // (W * nd))
            for c in range(0, ids.size, per):
                b = ids[c:c + per]
                cols = i0[b, None] + np.arange(W)[None, :]
                valid = cols < i1[b, None]
                cols = np.minimum(cols, nw - 1)
                v = (grid[cols] - lines.wave[b, None])[:, None, :] * inv[b, :, None]  # (L, nd, W)
                if gauss:  # Doppler core only (damping below threshold everywhere)
                    H = np.exp(-v * v)
                else:
                    H = voigt_fast(np.broadcast_to(lines.a[b, :, None].astype(np.float64), v.shape), v)
                val = H * amp[b, :, None] * valid[:, None, :]
                sp = lines.sp_index[b]
                sh = lines.shared[sp]
                cmin, cmax = int(cols.min()), int(cols.max())
                local = ((cols - cmin)[:, None, :] * nd + np.arange(nd)[None, :, None])
                span = (cmax - cmin + 1) * nd
                if sh.any():
                    everyone = bool(sh.all())  # the usual case: no boolean-index copies
                    lf = (local if everyone else local[sh]).ravel()
                    vs = val if everyone else val[sh]
                    wsp = weight[sp if everyone else sp[sh]]  # (L, rank, nd)
                    for q in range(acc.shape[0]):
                        wq = (vs * wsp[:, q, :, None]).ravel()
                        acc[q, cmin:cmax + 1] += np.bincount(lf, weights=wq, minlength=span).reshape(-1, nd)
                for sidx in np.unique(sp[~sh]):
                    m = sp == sidx
                    part = np.bincount(local[m].ravel(), weights=val[m].ravel(), minlength=span)
                    pieces.setdefault(int(sidx), []).append((cmin, part.reshape(-1, nd)))
        for k in range(ncls):
            out[k] = np.einsum("qwd,qd->wd", acc, basis[:, k, :])
        del acc
    blocks = {}
    for sidx, plist in pieces.items():
        r0 = min(p[0] for p in plist)
        r1 = max(p[0] + p[1].shape[0] for p in plist)
        blk = np.zeros((r1 - r0, nd))
        for c0, arr in plist:
            blk[c0 - r0:c0 - r0 + arr.shape[0]] += arr
        blocks[sidx] = (r0, r1, blk)
    return LineOpacity(alpha_class=out, blocks=blocks, nw=nw, nd=nd)
