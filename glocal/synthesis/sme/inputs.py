"""SMElib's inputs from glocal's: wavelength grid, μ quadrature, abundances, atmosphere, line list."""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from ..._checks import check_wave_range, require_air_linelist
from ...constants import AMU, C_KMS, K_BOLTZMANN
from ...elements import ATOMIC_MASSES

__all__ = ["wave_grid", "check_sme_range", "chunk_slices", "mu_quadrature", "sme_abundances", "sme_atmosphere",
           "SMELines", "prepare_lines", "OPFLAG", "SME_WAVE_LIMITS"]

#: Kurucz ATLAS9 opacity switches (IFOP) as in the decks: H, H2+, H-, H Rayleigh, He, He+, He-,
#: He Rayleigh, cool metals, luke, hot, electrons, H2 Rayleigh, (H lines off), ...
OPFLAG = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0], dtype=np.int16)
#: Wavelengths (Å) SMElib's continuous opacities cover here.
SME_WAVE_LIMITS = (1000.0, 100000.0)


def check_sme_range(wave_range) -> tuple[float, float]:
    """``wave_range`` as (lo, hi) floats inside :data:`SME_WAVE_LIMITS` (ValueError otherwise)."""
    lo, hi = check_wave_range(wave_range)
    if lo < SME_WAVE_LIMITS[0] or hi > SME_WAVE_LIMITS[1]:
        raise ValueError(f"wave_range ({lo}, {hi}) Å is outside what SMElib supports here "
                         f"({SME_WAVE_LIMITS[0]:.0f}-{SME_WAVE_LIMITS[1]:.0f} Å)")
    return lo, hi


def wave_grid(wave_range, step_kms: float = 2.0) -> np.ndarray:
    """Grid uniform in ln λ from wave_range[0] to ≥ wave_range[1] with step ``step_kms`` (km/s)."""
    lo, hi = check_sme_range(wave_range)
    step = float(step_kms)
    if not np.isfinite(step) or step <= 0 or step > 100:
        raise ValueError(f"step_kms must be in (0, 100] km/s, got {step_kms!r}")
    n = int(np.ceil(np.log(hi / lo) / (step / C_KMS))) + 1
    return lo * np.exp(np.arange(n) * (step / C_KMS))


def chunk_slices(grid: np.ndarray, chunk_width) -> list[slice]:
    """Contiguous pieces of ``grid`` about ``chunk_width`` Å wide (one piece if None/0 or inf)."""
    n = grid.size
    if chunk_width is None or not np.isfinite(float(chunk_width)) or float(chunk_width) <= 0:
        return [slice(0, n)]
    width = float(chunk_width)
    if width < 1.0:
        raise ValueError(f"chunk_width must be >= 1 Å (or None for one piece), got {chunk_width!r}")
    span = grid[-1] - grid[0]
    k = max(1, int(np.ceil(span / width - 0.01)))      # pieces may be up to 1 % wider than asked
    edges = np.searchsorted(grid, grid[0] + span * np.arange(1, k) / k)
    bounds = np.unique(np.r_[0, edges, n])
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def mu_quadrature(n_mu: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes/weights on μ ∈ (0, 1) such that F = 2π Σ w_i μ_i I(μ_i)."""
    n = int(n_mu)
    if n != n_mu or n < 1 or n > 20:
        raise ValueError(f"n_mu must be an integer in 1..20, got {n_mu!r}")
    x, w = np.polynomial.legendre.leggauss(n)
    mu = 0.5 * (x + 1.0)
    # SMElib expects μ in decreasing order (disc centre first)
    order = np.argsort(mu)[::-1]
    return mu[order].copy(), 0.5 * w[order]


def sme_abundances(logeps) -> np.ndarray:
    """99 log ε (H = 12) → SMElib 'sme' format: [N_H/N_tot, log10(N_X/N_tot) …]."""
    a = np.asarray(logeps, dtype=float)
    if a.shape != (99,):
        raise ValueError(f"abundance pattern must have 99 entries (H..Es), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("abundance pattern contains NaN/inf")
    if abs(a[0] - 12.0) > 1e-6:
        raise ValueError(f"abundance pattern must be on the H = 12 scale, got A(H) = {a[0]}")
    n = 10.0 ** (a - 12.0)
    tot = n.sum()
    out = np.log10(n / tot)
    out[0] = 1.0 / tot
    return np.maximum(out, -99.0)


def _atm_attr(atm, *names):
    for n in names:
        if hasattr(atm, n):
            return getattr(atm, n)
        if isinstance(atm, dict) and n in atm:
            return atm[n]
    raise TypeError(f"atmosphere lacks {names[0]!r} (expected glocal.atmospheres.Atmosphere-like object)")


def _depth_structure(atmosphere) -> tuple[np.ndarray, ...]:
    """rhox, T, P, n_e as checked 1-D arrays (≥ 5 depths, positive, rhox increasing)."""
    rhox = np.asarray(_atm_attr(atmosphere, "rhox"), float)
    T = np.asarray(_atm_attr(atmosphere, "T", "temp"), float)
    P = np.asarray(_atm_attr(atmosphere, "P", "pgas"), float)
    xne = np.asarray(_atm_attr(atmosphere, "xne"), float)
    for name, arr in (("rhox", rhox), ("T", T), ("P", P), ("xne", xne)):
        if arr.ndim != 1 or arr.size < 5 or arr.shape != rhox.shape:
            raise ValueError(f"atmosphere.{name} must be 1-D with the same >=5 depth points as rhox")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0) or (name != "xne" and np.any(arr <= 0)):
            raise ValueError(f"atmosphere.{name} must be finite and positive")
    if np.any(np.diff(rhox) <= 0):
        raise ValueError("atmosphere.rhox must increase strictly from the surface inwards")
    return rhox, T, P, xne


def sme_atmosphere(atmosphere) -> tuple[dict, float, float]:
    """Depth structure for SMElib ``InputModel`` (RHOX scale, plane parallel).

    SMElib wants the atomic (nucleus) number density xna and the mass density ρ; from the Kurucz
    deck (P, T, n_e): xna = P/kT − n_e and ρ = xna · Σ_i f_i m_i with f_i the nucleus fractions of
    the model's own abundances (molecule formation is neglected, as in pysme's KRZ reader).
    Returns (atmo dict, teff, logg).
    """
    rhox, T, P, xne = _depth_structure(atmosphere)
    xna = P / (K_BOLTZMANN * T) - xne
    if np.any(xna <= 0):
        raise ValueError("atmosphere has n_e >= P/kT somewhere (inconsistent P, T, xne)")
    try:
        ab = np.asarray(_atm_attr(atmosphere, "abundances"), float)
    except TypeError:
        ab = None
    if ab is not None and ab.shape == (99,) and np.all(np.isfinite(ab)):
        frac = 10.0 ** (ab - ab[0])
        mmean = float((frac * ATOMIC_MASSES).sum() / frac.sum())
    else:  # H + He (Y ≈ 0.25) only
        mmean = (ATOMIC_MASSES[0] + 0.085 * ATOMIC_MASSES[1]) / 1.085
    atmo = {"depth": "RHOX", "RHOX": rhox, "temp": T, "xne": xne, "xna": xna, "rho": xna * mmean * AMU,
            "wlstd": 5000.0, "opflag": OPFLAG, "geom": "PP"}
    return atmo, float(_atm_attr(atmosphere, "teff")), float(_atm_attr(atmosphere, "logg"))


@dataclass
class SMELines:
    """Line list converted for SMElib (sorted by wavelength)."""
    species: np.ndarray   # S8, "Fe 1", "OH 1"
    atomic: np.ndarray    # (8, n): Z, ion, λ, E_low, log gf, γ_rad, γ_4 (or n_lo), γ_6 (or n_up)
    n_dropped_h: int


_PREP_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _convert_lines(d, isotopes_applied: bool) -> SMELines:
    """SMElib arrays of the line-list rows ``d`` (sorted by wavelength)."""
    code = np.asarray(d["code"], float)
    mol = code >= 100
    species = np.array([s if (" " in s) else s + " 1" for s in d["species"]], dtype="S8")
    z = np.where(mol, 1.0, np.floor(code))
    ion = np.asarray(d["ion"], float)
    g_rad = np.nan_to_num(np.asarray(d["gamma_rad"], float), nan=0.0)
    g_4 = np.nan_to_num(np.asarray(d["gamma_stark"], float), nan=0.0)
    g_6 = np.nan_to_num(np.asarray(d["gamma_vdw"], float), nan=0.0)
    keep = np.ones(d.shape[0], bool)
    is_h = (~mol) & (np.floor(code) == 1) & (ion == 1)
    if np.any(is_h):
        from ...linelists import hydrogen_levels
        nlo, nup, ok = hydrogen_levels(np.asarray(d["wave"], float)[is_h], np.asarray(d["elow"], float)[is_h])
        g_4[is_h] = np.where(ok, nlo, 0.0)
        g_6[is_h] = np.where(ok, nup, 0.0)
        keep[np.flatnonzero(is_h)[~ok]] = False
    loggf = np.asarray(d["loggf"], float)
    if not isotopes_applied:
        frac = np.asarray(d["isotope_fraction"], float)
        if np.any(~np.isfinite(frac) | (frac <= 0) | (frac > 1)):
            raise ValueError("line list has isotope fractions outside (0, 1]")
        loggf = loggf + np.log10(frac)  # SMElib has no isotope ratios: fold them into log gf
    atomic = np.stack([z, ion, np.asarray(d["wave"], float), np.asarray(d["elow"], float),
                       loggf, g_rad, g_4, g_6])
    return SMELines(species=species[keep], atomic=np.ascontiguousarray(atomic[:, keep]),
                    n_dropped_h=int((~keep).sum()))


def prepare_lines(line_list, wave_range=None) -> SMELines:
    """Convert a ``glocal.linelists.LineList`` (air) to SMElib arrays, optionally only the lines in
    ``wave_range``; cached per list object and range.

    Missing damping constants (NaN) become 0, which selects SMElib's own approximations.  SMElib reads
    the principal quantum numbers of H I lines from the γ_4/γ_6 fields: they are derived from E_low and
    λ (Rydberg formula) and H I lines for which that fails (series-limit placeholders, n_upper > 100)
    are dropped (counted in ``n_dropped_h``).  Isotope fractions not yet applied are folded into log gf.
    """
    if line_list is None:
        raise ValueError("line_list is None")
    require_air_linelist(line_list, "SME engine")
    key = (None if wave_range is None else tuple(float(x) for x in wave_range))
    try:
        cached = _PREP_CACHE.get(line_list)
    except TypeError:
        cached = None
    if cached is not None and key in cached:
        return cached[key]
    d = line_list.data
    if wave_range is not None:
        lo, hi = wave_range
        d = d[(d["wave"] >= lo) & (d["wave"] <= hi)]
    d = d[np.argsort(d["wave"], kind="stable")]
    out = _convert_lines(d, getattr(line_list, "isotopes_applied", True))
    try:
        _PREP_CACHE.setdefault(line_list, {})[key] = out
    except TypeError:
        pass
    return out
