"""Line selection: which lines of a list can matter for a model, their strengths, widths and windows.

* resolution against the chemistry: every species of the list gets its number density per variant and
  its partition function (``chemistry``); a line's integrated opacity (cm^-1 A, Eq. L2 of ``profiles``
  without the profile, stimulated emission included) is computed at n_max, the largest density over the
  variants, and variant v multiplies it by ratio[species, v, depth] = n(species, v) / n_max <= 1;
  a species is *shared* when that ratio depends on the variant's n_e class only (``variant_classes``);
* screening: a log-space bound of the centre-to-continuum ratio of the whole list (no transcendental
  function per line and depth) on every third layer below tau_Ross = ``select_tau``, then the exact ratio
  r (Voigt H(a, 0) included) of the survivors; lines with r < ``threshold`` everywhere are dropped;
* window: each line is evaluated where alpha_line / alpha_cont could exceed ``threshold`` in the layers
  with tau_Ross >= ``WING_TAU``, i.e. out to max(Delta lambda_D sqrt(ln(r/eps)),
  Delta lambda_D sqrt(a r / (sqrt(pi) eps))) with r the line-centre to continuum ratio (at least 3
  Doppler widths, at most ``max_window``); strong lines (Mg II h&k, Ca II H&K) therefore get wings tens
  of Angstrom wide, weak lines a few Doppler widths;
* flags for the deposit (``deposit``): ``weak`` (r < ``weak_ratio``, linear in the flux) and
  ``doppler_only`` (the Lorentz wings never reach the threshold and a < 0.03 everywhere).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numba
import numpy as np

from glocal._checks import require_air_linelist
from glocal.constants import AMU, C_CGS, HC_EV_AA, K_EV, SIGMA_LINE
from glocal.constants import K_BOLTZMANN as K_CGS

from .chemistry import Chemistry, parse_species
from .profiles import SQRT_PI, _damping_depth_factors, _voigt1, damping_coefficients
from .tables import ATOMIC_NUMBER, load_tables

#: a line's window reaches the detuning where it falls below the threshold in the layers with
#: tau_Ross >= WING_TAU (those that form the wings; above them the line core dominates anyway)
WING_TAU = 0.1
#: lines screened per call of the compiled screening kernel (bounds its temporaries)
SCREEN_CHUNK = 65536


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


def _screen_lines(wave, loggf, elow, sp_index, log_nu_f, chi, cont_grid, log_thr):
    """Indices of the lines whose centre-to-continuum ratio, evaluated in log space on the depth
    subset of ``log_nu_f`` / ``chi`` / ``cont_grid`` and ignoring stimulated emission and damping (both
    only lower it), reaches ``log_thr``:

        ln r = ln(SIGMA_LINE 1e-8 / (C sqrt(pi))) + ln lambda + ln(10) log gf + ln(n/U / F)[s, d]
               - E_low / kT_d - ln alpha_cont(lambda, d),   F = Delta lambda_D / lambda.

    No transcendental function per (line, depth), and a line stops at its first layer above the
    threshold (compiled, ``_screen_kernel``)."""
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
    stores from this kernel defeat LLVM's vectorised code on some CPUs (results/benchmarks/
    builtin_engine_notes.md); the caller converts."""
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


def _line_columns(line_list) -> dict:
    """The columns the engine reads (wave, species, elow, loggf, gamma_rad, gamma_stark, gamma_vdw, code)
    as float / str arrays; ValueError for a missing column or NaN/inf in wave, elow, loggf."""
    cols = {n: _col(line_list, n).astype(str if n == "species" else float)
            for n in ("wave", "species", "elow", "loggf", "gamma_rad", "gamma_stark", "gamma_vdw", "code")}
    nl = cols["wave"].size
    for nm, arr in cols.items():
        if arr.shape != (nl,):
            raise ValueError(f"line list column {nm!r} has shape {arr.shape}, expected ({nl},)")
    for nm in ("wave", "elow", "loggf"):
        if not np.all(np.isfinite(cols[nm])):
            raise ValueError(f"line list column {nm!r} contains NaN/inf")
    if np.any(cols["wave"] <= 0):
        raise ValueError("line wavelengths must be positive")
    return cols


def _species_data(cols, keep, chem: Chemistry, skip_hydrogen: bool, strict: bool):
    """Resolve the species of the lines in ``keep`` against the chemistry: (names, densities {name:
    (nv, nd)}, partition functions {name: (nd,)}, masses {name: amu}, skipped names, species index of
    every line of the list (-1: skipped)). H I is skipped (``hydrogen`` computes its lines) when
    ``skip_hydrogen``; species without chemistry data (e.g. HF) with a warning unless ``strict``."""
    # species through the numeric code (sorting 10^6 strings is slow); a code names one species
    species = cols["species"]
    ucode, first, code_inv = np.unique(cols["code"], return_index=True, return_inverse=True)
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
            warnings.warn(f"built-in engine skips species {s!r}: {exc}", stacklevel=4)
    names = list(dens)
    lookup = {n_: k for k, n_ in enumerate(names)}
    sp_of_code = np.array([lookup.get(x, -1) for x in code_species], int)
    return names, dens, part, mass, skipped, sp_of_code[code_inv]


def _variant_ratios(dens, names, classes, ratio_tol):
    """(n_max (ns, nd), ratio (ns, nv, nd) = n / n_max, shared (ns,)): a species is shared when its ratio
    equals its class representative's within ``ratio_tol`` in every variant and layer."""
    n_all = np.stack([dens[s] for s in names])  # (ns, nv, nd)
    n_max = n_all.max(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(n_max[:, None, :] > 0, n_all / np.where(n_max > 0, n_max, 1)[:, None, :], 0.0)
    reps = np.array([np.where(classes == c)[0][0] for c in range(classes.max() + 1)])
    shared = np.all(np.abs(ratio - ratio[:, reps[classes], :]) <= ratio_tol, axis=(1, 2))
    return n_max, ratio, shared


def _screen(cols, idx, sp_all, T, vt, mass_sp, n_max, U, deep_sel, cont_grid, threshold, screen_step,
            screen_margin):
    """The lines of ``idx`` (species ``sp_all``) that pass ``_screen_lines`` on every ``screen_step``-th
    layer of ``deep_sel`` within ``screen_margin`` of the threshold: (idx, sp_all) of the survivors."""
    sub = np.where(deep_sel)[0]
    sub = np.unique(np.concatenate([sub[::max(1, int(screen_step))], sub[-1:]]))
    with np.errstate(divide="ignore"):
        F = np.sqrt(2 * K_CGS * T[None, sub] / (mass_sp[:, None] * AMU) + (vt[None, sub] * 1e5) ** 2) / C_CGS
        log_nu_f = np.log(n_max[:, sub] / U[:, sub]) - np.log(F)
    cw, clog = cont_grid
    wave, loggf, elow = cols["wave"], cols["loggf"], cols["elow"]
    n = SCREEN_CHUNK
    cand = np.concatenate([
        _screen_lines(wave[idx[c:c + n]], loggf[idx[c:c + n]], elow[idx[c:c + n]], sp_all[c:c + n], log_nu_f,
                      1.0 / (K_EV * T[sub]), (np.asarray(cw, float), np.asarray(clog, float)[:, sub]),
                      np.log(threshold * screen_margin)) + c
        for c in range(0, idx.size, n)])
    return idx[cand], sp_all[cand]


def _select(cols, sp_index, names, chem, n_over_u, vdop, alpha_cont_fn, deep_sel, deep_win, threshold,
            max_window, molecular_vdw, mass_sp, chunk, unsold_enhancement=1.0):
    """Run ``_select_lines`` over the candidate lines (columns ``cols`` already restricted to them) in
    chunks of ``chunk``: (index of the kept lines into ``cols``, strength, dlam_D, a (float32, (nk, nd)),
    half-window, doppler_only, r_max)."""
    T = chem.T
    nd = T.size
    wave = cols["wave"]
    nH = chem.vdw_perturbers(0)  # damping uses the n_e and perturbers of variant 0 (they barely move with O/Mg)
    parsed = [parse_species(n_) for n_ in names]
    sp_Z = np.array([ATOMIC_NUMBER[el] if st is not None else 0 for el, st in parsed], int)
    sp_stage = np.array([st or 0 for _, st in parsed], int)
    coef = damping_coefficients(wave, sp_Z[sp_index], sp_stage[sp_index], cols["elow"], cols["gamma_rad"],
                                cols["gamma_stark"], cols["gamma_vdw"], mass_sp[sp_index], molecular_vdw,
                                unsold_enhancement)
    s4, s6 = _damping_depth_factors(T, chem.ne[0], nH)
    beta = 1.0 / (K_EV * T)
    n = wave.size
    # float32 storage halves the memory of long lists (relative precision 6e-8 is ample)
    strength, dlD, a = (np.empty((n, nd), np.float32) for _ in range(3))
    half, r_max, kept = np.empty(n), np.empty(n), np.empty(n, np.int64)
    dop = np.empty(n, np.bool_)
    nk = 0
    buf = np.empty((3, min(n, chunk), nd))
    for c0 in range(0, n, chunk):  # the continuum at the line centres in bounded pieces
        sl = slice(c0, c0 + chunk)
        nk0 = nk
        nk = _select_lines(c0, wave[sl], cols["loggf"][sl], cols["elow"][sl], sp_index[sl], *(c[sl] for c in coef),
                           n_over_u, beta, vdop, s4, s6, np.log(T), nH,
                           np.ascontiguousarray(alpha_cont_fn(wave[sl]), float), deep_sel, deep_win,
                           float(threshold), float(threshold), float(max_window), nk, buf[0], buf[1], buf[2],
                           half, dop, r_max, kept)
        for out, b in zip((strength, dlD, a), buf):
            out[nk0:nk] = b[:nk - nk0]
    return kept[:nk], strength[:nk], dlD[:nk], a[:nk], half[:nk], dop[:nk], r_max[:nk]


def prepare_lines(line_list, chem: Chemistry, vturb, wave_range, alpha_cont_fn, threshold=1e-4,
                  max_window=300.0, ratio_tol=1e-4, skip_hydrogen=True, strict=False, classes=None,
                  tau_ross=None, select_tau=1e-5, wing_tau=WING_TAU, chunk=8192, molecular_vdw=None,
                  weak_ratio=0.0, cont_grid=None, screen_step=3, screen_margin=0.5,
                  unsold_enhancement=1.0) -> PreparedLines:
    """Resolve a line list against the chemistry and select the lines that matter (module docstring).

    ``line_list``: a ``glocal.linelists.LineList`` in air; ``chem``: the ``Chemistry`` of all variants;
    ``vturb`` (km/s, scalar or (nd,)); ``wave_range`` (lo, hi) A: lines within ``max_window`` of it are
    considered. ``alpha_cont_fn(wave) -> (len(wave), nd)`` gives the (reference variant) continuum
    (cm^-1) at the line centres. Lines whose centre-to-continuum ratio stays below ``threshold`` in every
    layer with tau_Ross >= ``select_tau`` are dropped; windows use the layers with tau_Ross >= ``wing_tau``
    (all layers if ``tau_ross`` is None). Lines whose ratio stays below ``weak_ratio`` are flagged
    ``weak``. ``classes``: n_e class per variant (default ``variant_classes(chem.ne)``); ``ratio_tol``:
    see ``_variant_ratios``. ``cont_grid = (wave_c, ln alpha_c (n_c, nd))`` enables the log-space
    pre-screening (``_screen``). ``molecular_vdw``, ``unsold_enhancement``: see
    ``profiles.damping_coefficients``.
    ``chunk``: lines per pass of the compiled selection (the result does not depend on it)."""
    line_list = as_air_linelist(line_list)
    cols = _line_columns(line_list)
    nl_in = cols["wave"].size
    lo, hi = wave_range
    keep = (cols["wave"] > lo - max_window) & (cols["wave"] < hi + max_window)
    T = chem.T
    nd = T.size
    nv = chem.ne.shape[0]
    if classes is None:
        classes = variant_classes(chem.ne)
    names, dens, part, mass, skipped, sp_all = _species_data(cols, keep, chem, skip_hydrogen, strict)
    keep &= sp_all >= 0
    idx = np.where(keep)[0]
    sp_all = sp_all[idx]
    if not names:
        names, dens, part = ["none"], {"none": np.zeros((nv, nd))}, {"none": np.ones(nd)}
    n_max, ratio, shared = _variant_ratios(dens, names, classes, ratio_tol)
    meta = dict(ratio=ratio, shared=shared, classes=classes, n_input=nl_in, skipped=tuple(skipped),
                species_names=tuple(names))
    if idx.size == 0:
        return _no_lines(nd, **meta)
    U = np.stack([part[s] for s in names])
    mass_sp = np.array([mass[s] if s in mass else 1.0 for s in names])
    vt = np.broadcast_to(np.asarray(vturb, float), (nd,))
    tr = np.full(nd, 1.0) if tau_ross is None else np.asarray(tau_ross, float)
    deep_sel, deep_win = tr >= select_tau, tr >= wing_tau
    if not deep_sel.any() or not deep_win.any():
        deep_sel = deep_win = np.ones(nd, bool)
    if cont_grid is not None:
        idx, sp_all = _screen(cols, idx, sp_all, T, vt, mass_sp, n_max, U, deep_sel, cont_grid, threshold,
                              screen_step, screen_margin)
    cols = {k: v[idx] for k, v in cols.items()}
    vdop = np.sqrt(2 * K_CGS * T[None, :] / (mass_sp[:, None] * AMU) + (vt[None, :] * 1e5) ** 2) / C_CGS
    kept, strength, dlD, a, half, dop, r_max = _select(
        cols, sp_all, names, chem, np.ascontiguousarray(n_max / U), vdop, alpha_cont_fn, deep_sel, deep_win,
        threshold, max_window, molecular_vdw, mass_sp, chunk, unsold_enhancement)
    if kept.size == 0:
        return _no_lines(nd, **meta)
    return PreparedLines(wave=cols["wave"][kept], species=cols["species"][kept], sp_index=sp_all[kept],
                         strength=strength, dlam_D=dlD, a=a, halfwidth=half, doppler_only=dop, r_max=r_max,
                         weak=r_max < weak_ratio, **meta)


def _no_lines(nd, **meta) -> PreparedLines:
    """A ``PreparedLines`` without lines (``meta``: ratio, shared, classes, n_input, skipped, names)."""
    z = np.zeros((0, nd), np.float32)
    e = np.zeros(0)
    return PreparedLines(wave=e, species=np.zeros(0, str), sp_index=np.zeros(0, int), strength=z, dlam_D=z, a=z,
                         halfwidth=e, doppler_only=np.zeros(0, bool), r_max=e, weak=np.zeros(0, bool), **meta)
