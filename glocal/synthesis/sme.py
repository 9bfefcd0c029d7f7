"""SME engine (``engine="sme"``): LTE synthesis with the SMElib of PySME (``pysme-astro``), §2.1.

We drive SMElib at the level of its C interface (``pysme.sme_synth.SME_DLL``) instead of the
high-level ``synthesize_spectrum`` pipeline, because the grid needs exactly three things that the
pipeline hides or re-interpolates:

* **One atmosphere, many abundance sets.**  The paper keeps the model atmosphere fixed when
  [X/Fe] changes (§2.1: the SPECTRUM model header carries [M/H] only; Eq. 2 offsets enter through
  ``stdatom.dat``).  We pass the depth structure once per model and only call ``InputAbund`` +
  ``Ionization(4)`` + ``Opacity`` per variant.  ``Ionization(4)`` keeps the model's T and particle
  density, takes the gas density (g cm⁻³) from SMElib's own EOS -- the density that
  ``sme_atmosphere`` derives from P/kT with the model's mean mass ignores H₂ and the variant's He,
  which made SMElib's opacities per gram 26-63 % too high in a 3500 K dwarf and ~2.5 % too low in
  8000 K models -- and solves the EOS, electrons included, with each variant's abundances: in a metal-poor
  giant (4500/1.5/−2.0) [Mg/Fe] + 0.2 raises n_e, and with it H⁻ and the continuum opacity, by up
  to 20 % and 8 % in the line-forming layers ([O/Fe] + 0.2: < 1e-3), so the variants differ through
  line and continuous opacities and nothing per wavelength can be reused between them.
* **F/Fc from the same atmosphere.**  ``Transf`` returns the specific intensities with lines
  (I_λ) and of the continuum only (I_c,λ), solved on the same depth grid; we integrate both over
  the disc with the same Gauss–Legendre μ quadrature and return F, F_c and F/F_c, the quantity
  SPECTRUM writes without the ``f`` switch (§2.1).  No SME continuum normalisation flags are used.
* **A fixed wavelength grid.**  Default: uniform in ln λ with ``step_kms`` = 2 km/s (0.017 Å at
  2550 Å, 0.067 Å at 10 000 Å), i.e. a constant fraction of the Doppler width; the paper's 0.02 Å
  is ``wave=np.arange(...)``.  :func:`glocal.synthesis.convergence_table` checks that the R = 200
  spectra move by < 0.2 % against a finer reference.

Medium: SMElib does not convert air/vacuum; the line list is in **air** and so is the output grid
(the CSST R = 200 grid of ``glocal.degrade`` is defined on air wavelengths).

Lines: every line within ``glocal.constants.WING_MARGIN`` (300 Å) of the range goes to SMElib, whose
screening below keeps those that reach into it.  A margin of max(5 Å, 0.002 λ), as before, cut off the far
van der Waals wings of strong lines just outside a short range: in the 3500/5.0/−1.0 dwarf a 3010–3290 Å
run came out up to 0.016 (6 %) shallower at R = 200 than the same pixels of a run from 2550 Å, and the
validation's +0.4 dex O and Mg variants, synthesised in such windows, had too small a response.

Speed: SMElib holds a process-wide lock (one synthesis per process at a time); parallelise with
processes (``glocal.build`` uses Dask worker processes).  Once per model, SMElib's own screening
(``ALMAXRange``, evaluated with the largest abundances of all variants) gives every line its peak
line/continuum opacity ratio over depth, ALMAX, and its contribution range (where that ratio
exceeds ``accrt``); lines with ALMAX ≥ ``almax_min`` are kept.  ``Transf`` then runs on chunks of
``chunk_width`` Å with these ranges passed in (``SetLineInfoMode(2)``) and a mask that switches on only
the lines whose range overlaps the chunk: per-line set-up and per-point work are those of the lines
that can matter there, the per-chunk overhead is a few ms, and the EOS, continuum opacities (tabulated
on SMElib's edge-aware fixed grid, ``continuum_grid`` Å) and everything else are prepared once per
variant; the output is one continuous grid.  H I lines cost ≈ 50 µs per line and wavelength
point (Stark profiles at every depth, tens of times a metal line) and their ``accrt`` ranges reach
200–1500 Å, so they get windows of their own (:func:`_h_windows`): each is synthesised alone, once
per model, at
~50 offsets from its centre; a window ends where that line's depression 1 − F/F_c stays below a
threshold chosen so that all cut-off wings together stay below ``h_depth_min`` (1e-4) on a 20 km/s
grid; lines that never reach it inside the range are left out.  The gain is these windows, which
act through the per-line ranges: the chunking itself is CPU-neutral within the ±5 % noise of the
measurements and gives bit-identical output (it bounds the work per ``Transf`` call and yields the
per-chunk CPU profile in ``details``).  The EOS of each variant is warm-started from the previous
one; identical abundance sets are synthesised once.

Measured and not used (R = 200 change against the defaults, 3000–3400 Å, 4500/1.5/−2.0): ``n_mu`` = 2
(0.5 %), ``step_kms`` = 2.5 (0.13 %), 3 (0.2 %), ``almax_min`` = 3e-3 (0.05 % for 7 % less time),
1e-2 (0.18 %), ``accrt`` = 3e-4 (0.05 % for 4 %); ``h_depth_min`` = 1e-3 (0.05 % for 26 % less
time in 3700–4100 Å of 8000/4.5/−1.0); continuum by interpolation (``long_continuum`` off saves
≈ 10 µs of ≈ 30–120 µs per point, but continuum edges need exact points); reuse of EOS or continuum
between variants (see above: [Mg/Fe] changes n_e); fewer depth points (the model resampled equally in
log τ_Ross; SMElib's time falls about in proportion, 2× for a 3500 K dwarf at 48 points): in 2650–2950 Å
of 4500/2.0/−2.0, where the defaults are 0.075 % from the 0.01 Å / 7 μ / all-lines reference, 56, 48
and 40 points are 0.16, 0.21 and 0.34 % from it for 18, 38 and 45 % less CPU time, and cubic instead
of linear resampling only takes 48 points from 0.18 to 0.15 % off the 72-point run: the error is SMElib's
depth discretisation, not the resampling.

Cost (one core of a shared 2-core machine under load, CPU/wall ≈ 0.25, which inflates CPU seconds;
before/after measured under the same load).  ``python benchmarks/synthesis.py`` (4500/2.0/−2.0,
2550–10 000 Å, 204 833 points, 4 variants): line screening of the 1.1 M-line built-in list ≈ 25 CPU s
once per model (107 k lines kept), H I windows ≈ 2.5 CPU s once per model, ≈ 36 CPU s per variant
(≈ 0.5 s EOS + opacities) → 35 CPU s per spectrum, 566 per 16-variant model; one piece with SMElib's
own H ranges (the previous implementation): 161 CPU s per spectrum.  Full range, one variant, screening
included, before → after: 4500/1.5/−2.0 181 → 68 CPU s (transfer: 2550–3640 Å 9.5 s, 3640–4640 Å
17 s of which 8.6 s in the 100 Å at the Balmer limit, 4640–10 000 Å 12 s); 8000/4.5/−1.0 476 → 235
(76 of 133 H I windows reach the ends of the range; 3640–4640 Å 107 s, 8110–10 000 Å 65 s);
3500/0.5/−1.0 290 → 186 (1.07 M lines kept, 140 s of transfer spread over the range).  R = 200 F/F_c
moved by ≤ 3e-5 per pixel in all three.  What remains is per-point work that SMElib repeats for
every variant: ≈ 30 µs per point for the transfer + continuum with 3 μ, the metal lines, and the
H I profiles, which dominate for A-type stars.  Where SMElib's time goes (``py-spy record --native``
of 3000–3600 Å, 4500/2.0/−2.0, three variants, screening included): the line opacity per point and
depth (``OPMTRX``) 38 %, line screening (``ALMAXRange``) 16 %, the EOS (``Ionization``) 13 %, the
per-line set-up of each ``Transf`` call (``LINEOPAC``, mostly the continuum at each line centre) 11 %,
the formal solution (``TBINTG``) 8 %: the bulk is SMElib's own per-line, per-point, per-depth work,
which no setting of the interface removes without moving the R = 200 spectra (list above).

Damping: missing γ_rad/γ_4/γ_6 (NaN) are passed as 0, which selects SMElib's classical/
approximate values (Unsöld for van der Waals, scaled by ``vdw_scale``).  For H I lines SMElib
reads the principal quantum numbers of the lower and upper level from the γ_4/γ_6 fields; we derive
them from E_low and λ (Rydberg formula) and drop H I lines for which that fails (series-limit
placeholders) or n_upper > 100.
"""
from __future__ import annotations

import os
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass

import numpy as np

from .._checks import check_wave_range, require_air_linelist
from ..constants import AMU, C_KMS, K_BOLTZMANN, WING_MARGIN

__all__ = ["run", "wave_grid", "chunk_slices", "prepare_lines", "mu_quadrature", "sme_abundances",
           "sme_atmosphere", "DEFAULTS", "engine_version"]

#: Default engine options (see module docstring).
DEFAULTS = dict(step_kms=2.0, n_mu=3, accrt=1e-4, accwi=3e-3, continuum_grid=1.0,
                almax_min=1e-3, vdw_scale=1.0, h2broad=True, eos_warm_start=True,
                chunk_width=100.0, h_depth_min=1e-4)

# Kurucz ATLAS9 opacity switches (IFOP) as in the decks: H, H2+, H-, H Rayleigh, He, He+, He-,
# He Rayleigh, cool metals, luke, hot, electrons, H2 Rayleigh, (H lines off), ...
_OPFLAG = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0], dtype=np.int16)

_LOCK = threading.RLock()
_DLL = None


def _ensure_home() -> None:
    """pysme writes its config to ~/.sme at import: use a private temp HOME if ~ is read-only."""
    home = os.path.expanduser("~")
    if not (os.path.isdir(home) and os.access(home, os.W_OK)):
        alt = os.path.join(tempfile.gettempdir(), f"glocal-sme-home-{os.getuid()}")
        os.makedirs(alt, exist_ok=True)
        os.environ["HOME"] = alt


def _dll():
    global _DLL
    if _DLL is None:
        _ensure_home()
        try:
            from pysme.sme_synth import SME_DLL
        except ImportError as exc:  # pragma: no cover - dependency missing
            raise ImportError("engine='sme' needs the 'pysme-astro' package (import name pysme)") from exc
        import logging
        logging.getLogger("pysme").setLevel(logging.ERROR)
        _DLL = SME_DLL()
    return _DLL


def smelib_path() -> str:
    """Path of the compiled SME library that pysme loads (for routines called directly, e.g. HLINOP)."""
    _ensure_home()
    try:
        from pysme.smelib.libtools import get_full_libfile
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise ImportError("SMElib's routines need the 'pysme-astro' package (import name pysme)") from exc
    return get_full_libfile()


def _lib():
    _dll()
    import pysme.sme_synth as ss
    return ss._smelib


def engine_version() -> str:
    """'pysme <version>, SMElib <version>'."""
    import pysme
    try:
        lib = _dll().SMELibraryVersion()
    except Exception:  # pragma: no cover
        lib = "unknown"
    return f"pysme {getattr(pysme, '__version__', 'unknown')}, SMElib {lib}"


# --------------------------------------------------------------------------- inputs
def wave_grid(wave_range, step_kms: float = DEFAULTS["step_kms"]) -> np.ndarray:
    """Grid uniform in ln λ from wave_range[0] to ≥ wave_range[1] with step ``step_kms`` (km/s)."""
    lo, hi = _check_range(wave_range)
    step = float(step_kms)
    if not np.isfinite(step) or step <= 0 or step > 100:
        raise ValueError(f"step_kms must be in (0, 100] km/s, got {step_kms!r}")
    n = int(np.ceil(np.log(hi / lo) / (step / C_KMS))) + 1
    return lo * np.exp(np.arange(n) * (step / C_KMS))


def _check_range(wave_range) -> tuple[float, float]:
    lo, hi = check_wave_range(wave_range)
    if lo < 1000 or hi > 100000:
        raise ValueError(f"wave_range ({lo}, {hi}) Å is outside what SMElib supports here (1000-100000 Å)")
    return lo, hi


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


def sme_atmosphere(atmosphere) -> tuple[dict, float, float]:
    """Depth structure for SMElib ``InputModel`` (RHOX scale, plane parallel).

    SMElib wants the atomic (nucleus) number density xna and the mass density ρ; from the Kurucz
    deck (P, T, n_e): xna = P/kT − n_e and ρ = xna · Σ_i f_i m_i with f_i the nucleus fractions of
    the model's own abundances (molecule formation is neglected, as in pysme's KRZ reader).
    Returns (atmo dict, teff, logg).
    """
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
    ntot = P / (K_BOLTZMANN * T)
    xna = ntot - xne
    if np.any(xna <= 0):
        raise ValueError("atmosphere has n_e >= P/kT somewhere (inconsistent P, T, xne)")
    try:
        ab = np.asarray(_atm_attr(atmosphere, "abundances"), float)
    except TypeError:
        ab = None
    from ..linelists import ATOMIC_MASSES
    if ab is not None and ab.shape == (99,) and np.all(np.isfinite(ab)):
        frac = 10.0 ** (ab - ab[0])
        mmean = float((frac * ATOMIC_MASSES).sum() / frac.sum())
    else:  # H + He (Y ≈ 0.25) only
        mmean = (ATOMIC_MASSES[0] + 0.085 * ATOMIC_MASSES[1]) / 1.085
    rho = xna * mmean * AMU
    atmo = {"depth": "RHOX", "RHOX": rhox, "temp": T, "xne": xne, "xna": xna, "rho": rho,
            "wlstd": 5000.0, "opflag": _OPFLAG, "geom": "PP"}
    teff = float(_atm_attr(atmosphere, "teff"))
    logg = float(_atm_attr(atmosphere, "logg"))
    return atmo, teff, logg


@dataclass
class SMELines:
    """Line list converted for SMElib (sorted by wavelength)."""
    species: np.ndarray   # S8, "Fe 1", "OH 1"
    atomic: np.ndarray    # (8, n): Z, ion, λ, E_low, log gf, γ_rad, γ_4 (or n_lo), γ_6 (or n_up)
    n_dropped_h: int


_PREP_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def prepare_lines(line_list, wave_range=None) -> SMELines:
    """Convert a ``glocal.linelists.LineList`` to SMElib arrays (cached per list object)."""
    if line_list is None:
        raise ValueError("line_list is None")
    require_air_linelist(line_list, "SME engine")
    data = line_list.data
    key = (None if wave_range is None else tuple(float(x) for x in wave_range))
    try:
        cached = _PREP_CACHE.get(line_list)
    except TypeError:
        cached = None
    if cached is not None and key in cached:
        return cached[key]
    d = data
    if wave_range is not None:
        lo, hi = wave_range
        d = d[(d["wave"] >= lo) & (d["wave"] <= hi)]
    d = d[np.argsort(d["wave"], kind="stable")]
    n = d.shape[0]
    code = np.asarray(d["code"], float)
    mol = code >= 100
    species = np.array([s if (" " in s) else s + " 1" for s in d["species"]], dtype="S8")
    z = np.where(mol, 1.0, np.floor(code))
    ion = np.asarray(d["ion"], float)
    g_rad = np.nan_to_num(np.asarray(d["gamma_rad"], float), nan=0.0)
    g_4 = np.nan_to_num(np.asarray(d["gamma_stark"], float), nan=0.0)
    g_6 = np.nan_to_num(np.asarray(d["gamma_vdw"], float), nan=0.0)
    keep = np.ones(n, bool)
    is_h = (~mol) & (np.floor(code) == 1) & (ion == 1)
    if np.any(is_h):
        from ..linelists import hydrogen_levels
        nlo, nup, ok = hydrogen_levels(np.asarray(d["wave"], float)[is_h], np.asarray(d["elow"], float)[is_h])
        g_4[is_h] = np.where(ok, nlo, 0.0)
        g_6[is_h] = np.where(ok, nup, 0.0)
        keep[np.flatnonzero(is_h)[~ok]] = False
    loggf = np.asarray(d["loggf"], float)
    if not getattr(line_list, "isotopes_applied", True):
        frac = np.asarray(d["isotope_fraction"], float)
        if np.any(~np.isfinite(frac) | (frac <= 0) | (frac > 1)):
            raise ValueError("line list has isotope fractions outside (0, 1]")
        loggf = loggf + np.log10(frac)  # SMElib has no isotope ratios: fold them into log gf
    atomic = np.stack([z, ion, np.asarray(d["wave"], float), np.asarray(d["elow"], float),
                       loggf, g_rad, g_4, g_6])
    out = SMELines(species=species[keep], atomic=np.ascontiguousarray(atomic[:, keep]),
                   n_dropped_h=int((~keep).sum()))
    try:
        _PREP_CACHE.setdefault(line_list, {})[key] = out
    except TypeError:
        pass
    return out


# --------------------------------------------------------------------------- engine
def _check_abundances(abundances_list) -> np.ndarray:
    A = np.asarray(abundances_list, dtype=float)
    if A.ndim == 1:
        A = A[None, :]
    if A.ndim != 2 or A.shape[1] != 99 or A.shape[0] < 1:
        raise ValueError(f"abundances_list must be (n_variants, 99) log eps, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError("abundances_list contains NaN/inf")
    return A


# Offsets (Å) from an H I line centre at which its single-line depression is sampled to size its window
_H_OFFSETS = np.array([0.0, 0.1, 0.3, 0.6, 1.0, 1.6, 2.5, 4.0, 6.0, 9.0, 13.0, 19.0, 27.0, 38.0, 55.0, 80.0,
                       115.0, 165.0, 240.0, 350.0, 500.0, 720.0, 1000.0, 1400.0, 2000.0])


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


def _interp_loglog(x, xp, fp):
    """Interpolate fp(xp) (xp increasing, > 0) at x in log-log; zeros stay zeros (log-linear fallback)."""
    x = np.asarray(x, float)
    lx, lxp = np.log(np.maximum(x, 1e-6)), np.log(np.maximum(xp, 1e-6))
    pos = fp > 0
    if pos.sum() < 2:
        return np.interp(lx, lxp, fp, left=fp[0], right=0.0)
    lf = np.interp(lx, lxp, np.log(np.where(pos, fp, 1e-300)), left=np.log(max(fp[0], 1e-300)), right=-np.inf)
    out = np.exp(lf)
    out[out < 1e-250] = 0.0
    return out


def _side_window(off, dep, eps):
    """Distance from the centre beyond which the sampled depression ``dep(off)`` stays below ``eps``.

    ``off`` increasing ≥ 0 on one side (the last entry is the edge of what can matter: the end of
    SMElib's own range or of the synthesis range).  Log-log interpolation between the last sample
    ≥ eps and the next one, plus 20 % margin; inf (no cut) if the last sample is still ≥ eps."""
    above = np.flatnonzero(dep >= eps)
    if above.size == 0:
        return 0.0
    k = above[-1]
    if k == off.size - 1:
        return np.inf
    x0, x1, d0, d1 = off[k], off[k + 1], dep[k], dep[k + 1]
    if d1 <= 0 or x0 <= 0:
        x = x1
    else:
        slope = (np.log(d1) - np.log(d0)) / (np.log(x1) - np.log(x0))
        x = x1 if slope >= 0 else np.exp(np.log(x0) + (np.log(eps) - np.log(d0)) / slope)
    x = max(x0, 1.2 * x)
    return np.inf if x >= off[-1] else float(x)


def _h_windows(dll, mu, wmu, centres, rs, re, idx_h, lo, hi, depth_min, accrt, accwi):
    """Per-H-I-line windows [left, right] (Å) outside which its wings move F/F_c by < depth_min in sum.

    Each H I line is synthesised alone (precomputed-line mask with that line only) at ``_H_OFFSETS``
    from its centre, clipped to its SMElib range and to [lo, hi]; the window on each side ends where
    the single-line depression 1 − F/F_c falls below a per-line threshold.  The threshold starts at
    ``depth_min`` and is halved until the summed depression of all truncated wings, evaluated on a
    coarse grid over [lo, hi], is below ``depth_min``.  Lines whose depression never reaches the
    threshold inside [lo, hi] get an empty window (they are left out).  Returns (left, right, cpu_s).
    """
    t0 = time.process_time()
    nl = rs.size
    tabs = []
    for j, i in enumerate(idx_h):
        c = centres[i]
        a, b = max(lo, rs[i]), min(hi, re[i])
        pts = np.unique(np.r_[c - _H_OFFSETS, c + _H_OFFSETS, a, b])
        pts = pts[(pts >= a) & (pts <= b)]
        if pts.size == 0 or b <= a:
            tabs.append((pts, np.zeros(0)))
            continue
        mask = np.zeros(nl, np.uint8)
        mask[i] = 1
        dll.InputLinePrecomputedInfo(rs, re, mask)
        _, _, sint, cint = dll.Transf(mu, wave=pts, accrt=accrt, accwi=accwi)
        dep = 1.0 - ((wmu * mu) @ sint) / ((wmu * mu) @ cint)
        tabs.append((pts, np.maximum(dep, 0.0)))
    coarse = wave_grid((lo, hi), 20.0) if hi > lo else np.array([lo])

    def windows(eps):
        left = np.zeros(len(idx_h))
        right = np.zeros(len(idx_h))
        tail = np.zeros(coarse.size)
        for j, i in enumerate(idx_h):
            pts, dep = tabs[j]
            if dep.size == 0:
                continue
            c = centres[i]
            r_side = pts >= c
            l_side = pts <= c
            ro, rd = pts[r_side] - c, dep[r_side]
            lo_, ld = (c - pts[l_side])[::-1], dep[l_side][::-1]
            right[j] = _side_window(ro, rd, eps) if ro.size else 0.0
            left[j] = _side_window(lo_, ld, eps) if lo_.size else 0.0
            # what is cut off (all of it for a line with two empty windows) counts as tail
            d = coarse - c
            m_r = (d > right[j]) & (d <= (ro[-1] if ro.size else 0.0))
            m_l = (-d > left[j]) & (-d <= (lo_[-1] if lo_.size else 0.0))
            if ro.size and m_r.any():
                tail[m_r] += _interp_loglog(d[m_r], ro, rd)
            if lo_.size and m_l.any():
                tail[m_l] += _interp_loglog(-d[m_l], lo_, ld)
        return left, right, (float(tail.max()) if tail.size else 0.0)

    eps = float(depth_min)
    for _ in range(8):
        left, right, worst = windows(eps)
        if worst <= depth_min:
            break
        eps *= 0.5
    return left, right, time.process_time() - t0


def run(atmosphere, abundances_list, line_list, wave_range, vturb, *, wave=None,
        step_kms: float = DEFAULTS["step_kms"], n_mu: int = DEFAULTS["n_mu"],
        accrt: float = DEFAULTS["accrt"], accwi: float = DEFAULTS["accwi"],
        continuum_grid=DEFAULTS["continuum_grid"], almax_min: float | None = DEFAULTS["almax_min"],
        vdw_scale: float = DEFAULTS["vdw_scale"], h2broad: bool = DEFAULTS["h2broad"],
        eos_warm_start: bool = DEFAULTS["eos_warm_start"], chunk_width=DEFAULTS["chunk_width"],
        h_depth_min: float | None = DEFAULTS["h_depth_min"], return_details: bool = False):
    """Synthesise every abundance set of ``abundances_list`` on one atmosphere with SMElib.

    Engine interface (see ``glocal.synthesis``): returns ``wave`` (n_wave,) air Å,
    ``flux`` and ``continuum`` (n_variants, n_wave): surface flux F = 2π∫I μ dμ in SMElib's
    intensity units (erg s⁻¹ cm⁻² Å⁻¹); F/F_c is the §2.1 normalised spectrum.
    ``almax_min=None`` disables the line pre-selection (all lines go to every variant).
    ``eos_warm_start`` starts SMElib's EOS iteration from the previous variant's solution
    (≈10× faster per variant; the converged result is unchanged, see tests).
    ``chunk_width`` (Å) splits the grid into pieces synthesised one after the other, each with only
    the lines whose contribution range overlaps it (None: one piece); the output is one grid.
    ``h_depth_min``: H I line wings are cut where their summed depression of F/F_c is below this
    (None: SMElib's own ``accrt`` ranges, hundreds of Å).
    """
    A = _check_abundances(abundances_list)
    vt = float(vturb)
    if not np.isfinite(vt) or vt < 0 or vt > 20:
        raise ValueError(f"vturb must be in [0, 20] km/s, got {vturb!r}")
    if h_depth_min is not None and not (np.isfinite(h_depth_min) and 0 < h_depth_min < 0.1):
        raise ValueError(f"h_depth_min must be in (0, 0.1) or None, got {h_depth_min!r}")
    if wave is None:
        grid = wave_grid(wave_range, step_kms)
    else:
        grid = np.asarray(wave, dtype=float)
        if grid.ndim != 1 or grid.size < 2 or not np.all(np.isfinite(grid)) or np.any(np.diff(grid) <= 0):
            raise ValueError("wave must be a 1-D, finite, strictly increasing array (Å)")
        _check_range((grid[0], grid[-1]))
    lo, hi = float(grid[0]), float(grid[-1])
    chunks = chunk_slices(grid, chunk_width)
    mu, wmu = mu_quadrature(n_mu)
    atmo, teff, logg = sme_atmosphere(atmosphere)
    # lines whose wings can reach [lo, hi]; SMElib's ALMAXRange below decides which do
    lines = prepare_lines(line_list, (lo - WING_MARGIN, hi + WING_MARGIN))
    if lines.species.size == 0:
        raise ValueError(f"line list has no lines within {lo - WING_MARGIN:.1f}-{hi + WING_MARGIN:.1f} Å")
    # identical abundance sets (the paper's 16 variants hold {O: 0, Mg: 0} twice) are synthesised once
    _, first, inverse = np.unique(A, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)                       # unique rows in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    U = A[np.sort(first)]
    back = rank[np.asarray(inverse).ravel()]        # variant v -> row of U
    timing: dict[str, float] = {}
    nv, nw, nu = A.shape[0], grid.size, U.shape[0]
    flux_u = np.empty((nu, nw))
    cont_u = np.empty((nu, nw))
    n_chunk_lines = []
    chunk_cpu = np.zeros(len(chunks))
    h_info = {}
    with _LOCK:
        dll = _dll()
        lib = _lib()
        with dll.session():
            t0 = time.perf_counter()
            c0 = time.process_time()
            dll.SetContinuumOpacityGrid(continuum_grid)
            # warm-start the EOS from the previous variant's solution (same T, P structure)
            dll.SetEosWarmStartMode(bool(eos_warm_start))
            dll.SetLineInfoMode(0)
            species, atomic = lines.species, lines.atomic
            lib.InputLineList(species, atomic)

            def _prepare(abund):
                dll.InputModel(teff, logg, vt, atmo)
                lib.InputAbund(sme_abundances(abund))
                dll.Ionization(4)  # gas density from SMElib's own EOS (see module docstring)
                dll.SetVWscale(float(vdw_scale))
                if h2broad:
                    dll.SetH2broad(True)
                else:
                    dll.ClearH2broad()
                dll.InputWaveRange(lo - 2.0, hi + 2.0)
                dll.Opacity()

            try:
                # SMElib's own screening and contribution ranges (what Transf would compute itself),
                # with the largest abundance of every element over the variants
                _prepare(A.max(axis=0))
                almax, ranges = dll.ALMAXRange(accrt=float(accrt))
                almax = np.asarray(almax, float)
                ranges = np.asarray(ranges, float).reshape(-1, 2)
                is_h = np.char.strip(species) == b"H 1"
                keep = np.ones(species.size, bool) if almax_min is None else (almax >= float(almax_min))
                keep |= is_h                         # H I: broad wings, few lines
                species, atomic = species[keep], np.ascontiguousarray(atomic[:, keep])
                rs, re_ = ranges[keep, 0].copy(), ranges[keep, 1].copy()
                is_h = is_h[keep]
                n_kept = int(keep.sum())
                lib.InputLineList(species, atomic)
                # from here on Transf uses these ranges and per-chunk masks of active lines
                dll.SetLineInfoMode(2)
                timing["line_selection"] = time.perf_counter() - t0
                timing["line_selection_cpu"] = time.process_time() - c0
                t_syn, c_syn = time.perf_counter(), time.process_time()
                active = np.ones(species.size, bool)
                for u in range(nu):
                    _prepare(U[u])
                    if u == 0 and h_depth_min is not None and is_h.any():
                        idx_h = np.flatnonzero(is_h)
                        left, right, h_cpu = _h_windows(dll, mu, wmu, atomic[2], rs, re_, idx_h, lo, hi,
                                                        float(h_depth_min), float(accrt), float(accwi))
                        cen = atomic[2, idx_h]
                        rs[idx_h] = np.maximum(rs[idx_h], cen - left)
                        re_[idx_h] = np.minimum(re_[idx_h], cen + right)
                        empty = (left <= 0) & (right <= 0)
                        active[idx_h[empty]] = False
                        wmax = np.maximum(left, right)
                        h_info = dict(h_lines=int(idx_h.size), h_lines_used=int((~empty).sum()),
                                      h_lines_uncut=int(np.isinf(wmax).sum()),
                                      h_window_max=float(np.max(wmax[np.isfinite(wmax)], initial=0.0)),
                                      h_window_cpu=h_cpu)
                    for k, sl in enumerate(chunks):
                        c_chunk = time.process_time()
                        g = grid[sl]
                        # SMElib adds a line at λ only for range_s < λ < range_e
                        m = active & (re_ > g[0]) & (rs < g[-1])
                        if u == 0:
                            n_chunk_lines.append(int(m.sum()))
                        dll.InputLinePrecomputedInfo(rs, re_, m.astype(np.uint8))
                        _, w_out, sint, cint = dll.Transf(mu, wave=g, accrt=float(accrt), accwi=float(accwi))
                        if w_out.size != g.size:
                            raise RuntimeError(f"SMElib returned {w_out.size} points for a {g.size}-point grid")
                        flux_u[u, sl] = 2.0 * np.pi * (wmu * mu) @ sint
                        cont_u[u, sl] = 2.0 * np.pi * (wmu * mu) @ cint
                        chunk_cpu[k] += time.process_time() - c_chunk
            finally:
                dll.SetLineInfoMode(0)
                dll.SetEosWarmStartMode(False)  # never carry EOS history over to another model
            timing["synthesis"] = time.perf_counter() - t_syn
            timing["synthesis_cpu"] = time.process_time() - c_syn
    flux, cont = flux_u[back], cont_u[back]
    if not (np.all(np.isfinite(flux)) and np.all(cont > 0)):
        raise RuntimeError("SMElib produced non-finite flux or non-positive continuum")
    if return_details:
        details = dict(timing=timing, n_lines_in=int(lines.species.size), n_lines_used=int(n_kept),
                       n_dropped_h_lines=lines.n_dropped_h, n_mu=int(n_mu), step_kms=step_kms,
                       n_wave=int(nw), n_chunks=len(chunks), n_chunk_lines=n_chunk_lines,
                       chunk_edges=[(float(grid[sl][0]), float(grid[sl][-1])) for sl in chunks],
                       chunk_cpu=(chunk_cpu / nu).tolist(),
                       n_unique_variants=int(nu), **h_info)
        return grid, flux, cont, details
    return grid, flux, cont
