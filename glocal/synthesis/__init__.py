"""Spectrum synthesis front door (paper §2.1): ``synthesize`` and ``synthesize_variants``.

Engines
-------
An engine is a function with the signature::

    run(atmosphere, abundances_list, line_list, wave_range, vturb, **options)
        -> (wave[n_wave], flux[n_var, n_wave], continuum[n_var, n_wave])

* ``atmosphere``: a ``glocal.atmospheres.Atmosphere`` (surface-first ``rhox``, ``T``, ``P``,
  ``xne``, and ``teff``, ``logg``, ``feh``, ``abundances``);
* ``abundances_list``: (n_var, 99) log ε (H = 12), one row per abundance variant, all computed on
  the **same** atmosphere (the paper keeps the model atmosphere fixed when [X/Fe] changes:
  SPECTRUM takes [M/H] from the model header and the [X/Fe] offsets only through
  ``stdatom.dat``, Eqs. 1–3);
* ``line_list``: a ``glocal.linelists.LineList`` in air wavelengths;
* ``wave_range``: (lo, hi) Å; ``vturb``: microturbulence, km/s;
* ``options``: engine specific (``wave=`` a fixed output grid is understood by all engines);
* returns the wavelength grid (air Å), the absolute surface flux F and the continuum-only flux
  F_c computed with the same atmosphere (engines that only produce F/F_c return F = F/F_c and
  F_c = 1).  The normalised spectrum of §2.1 is F/F_c.

Registered engines: ``"sme"`` (default; SMElib via pysme, :mod:`glocal.synthesis.sme`),
``"spectrum"`` (driver for Gray's SPECTRUM v2.77, :mod:`glocal.synthesis.spectrum`; returns F/F_c
only) and ``"builtin"`` (the vectorised LTE engine of :mod:`glocal.synthesis.builtin`).  Add more
with :func:`register_engine`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from .._checks import check_wave_range as _check_wave_range
from .._checks import finite_scalar as _scalar
from ..constants import WING_MARGIN

__all__ = [
    "Spectrum",
    "VariantSpectra",
    "synthesize",
    "synthesize_variants",
    "register_engine",
    "get_engine",
    "available_engines",
    "resolve_inputs",
    "convergence_table",
    "cross_check",
    "uv_feature_depths",
    "physics_checks",
    "FEATURE_WINDOWS",
]

_ENGINES: dict[str, Callable | str] = {
    "sme": "glocal.synthesis.sme:run",
    "spectrum": "glocal.synthesis.spectrum:run",
    "builtin": "glocal.synthesis.builtin:run",
}


def register_engine(name: str, func: Callable | str, *, overwrite: bool = False) -> None:
    """Register an engine ``run`` function (or a ``"module:function"`` path) under ``name``."""
    if not isinstance(name, str) or not name:
        raise TypeError("engine name must be a non-empty string")
    if not (callable(func) or (isinstance(func, str) and ":" in func)):
        raise TypeError("func must be callable or a 'module:function' string")
    if name in _ENGINES and not overwrite:
        raise ValueError(f"engine {name!r} already registered (pass overwrite=True)")
    _ENGINES[name] = func


def available_engines() -> tuple[str, ...]:
    return tuple(_ENGINES)


def get_engine(name: str) -> Callable:
    """The ``run`` function of engine ``name`` (ValueError for unknown names)."""
    if name not in _ENGINES:
        raise ValueError(f"unknown engine {name!r}; available: {', '.join(_ENGINES)}")
    f = _ENGINES[name]
    if isinstance(f, str):
        mod, attr = f.split(":")
        f = getattr(importlib.import_module(mod), attr)
        _ENGINES[name] = f
    return f


@dataclass
class _SpectraBase:
    """Fields and accessors shared by :class:`Spectrum` and :class:`VariantSpectra`: ``wave``
    (air Å), ``flux`` F, ``continuum`` F_c, the stellar parameters and v_t (km/s)."""
    wave: np.ndarray
    flux: np.ndarray
    continuum: np.ndarray
    teff: float
    logg: float
    feh: float
    vturb: float

    @property
    def normalized(self) -> np.ndarray:
        """F/F_c (§2.1)."""
        return self.flux / self.continuum

    def __getitem__(self, key):
        if key == "normalized":
            return self.normalized
        return getattr(self, key)


@dataclass
class VariantSpectra(_SpectraBase):
    """Spectra of several abundance variants on one atmosphere (arrays (n_var, n_wave))."""
    variants: list
    engine: str
    details: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.flux.shape[0]


@dataclass
class Spectrum(_SpectraBase):
    """One synthetic spectrum: ``wave`` (air Å), ``flux``, ``continuum``, ``normalized`` = F/F_c."""
    abundances: dict
    engine: str
    details: dict = field(default_factory=dict)


def resolve_inputs(teff, logg, feh, *, vturb=None, atmosphere=None, line_list=None,
                   wave_range=(2550.0, 10000.0)):
    """Fill defaults: Kurucz atmosphere (``grid_atmosphere``), v_t of Eqs. 4–7, built-in line list."""
    teff, logg, feh = _scalar(teff, "teff"), _scalar(logg, "logg"), _scalar(feh, "feh")
    lo, hi = _check_wave_range(wave_range)
    if teff <= 0:
        raise ValueError(f"teff must be positive, got {teff}")
    if atmosphere is None:
        from ..atmospheres import grid_atmosphere
        atmosphere = grid_atmosphere(teff, logg, feh)
    if vturb is None:
        from ..grid import microturbulence
        vturb = microturbulence(teff, logg, feh)
    vturb = _scalar(vturb, "vturb")
    if not 0 <= vturb <= 20:
        raise ValueError(f"vturb must be in [0, 20] km/s, got {vturb}")
    if line_list is None:
        from ..linelists import builtin_linelist
        line_list = builtin_linelist((lo - WING_MARGIN, hi + WING_MARGIN))
    return atmosphere, vturb, line_list, (lo, hi)


def synthesize_variants(teff, logg, feh, variants: Sequence[Mapping[str, float]], *, vturb=None,
                        wave_range=(2550.0, 10000.0), engine: str = "sme", atmosphere=None,
                        line_list=None, return_details: bool = False, **engine_options) -> VariantSpectra:
    """Spectra for several [X/Fe] dicts on ONE atmosphere (§2.1; Eqs. 1–3 for the abundances).

    ``variants`` e.g. ``glocal.grid.paper_variants()`` (16 dicts).  ``vturb=None`` applies
    Eqs. 4–7.  Returns :class:`VariantSpectra` with arrays (n_variants, n_wave).
    """
    from ..abundances import abundance_pattern
    if isinstance(variants, Mapping):
        raise TypeError("variants must be a sequence of {element: [X/Fe]} dicts, not a single dict")
    variants = [dict(v) for v in variants]
    if not variants:
        raise ValueError("variants is empty")
    run = get_engine(engine)
    atmosphere, vturb, line_list, wr = resolve_inputs(teff, logg, feh, vturb=vturb, atmosphere=atmosphere,
                                                      line_list=line_list, wave_range=wave_range)
    A = np.stack([abundance_pattern(float(feh), v) for v in variants])
    out = run(atmosphere, A, line_list, wr, vturb, return_details=return_details, **engine_options) \
        if return_details else run(atmosphere, A, line_list, wr, vturb, **engine_options)
    details = out[3] if return_details and len(out) > 3 else {}
    wave, flux, cont = (np.asarray(x, float) for x in out[:3])
    if flux.shape != (len(variants), wave.size) or cont.shape != flux.shape:
        raise RuntimeError(f"engine {engine!r} returned flux {flux.shape}, continuum {cont.shape} for "
                           f"{len(variants)} variants on {wave.size} points")
    return VariantSpectra(wave=wave, flux=flux, continuum=cont, teff=float(teff), logg=float(logg),
                          feh=float(feh), vturb=float(vturb), variants=variants, engine=engine,
                          details=details)


def synthesize(teff, logg, feh, *, abundances: Mapping[str, float] | None = None, vturb=None,
               wave_range=(2550.0, 10000.0), engine: str = "sme", atmosphere=None, line_list=None,
               **engine_options) -> Spectrum:
    """One spectrum: F, F_c and F/F_c (§2.1) for (Teff, log g, [Fe/H]) and [X/Fe] ``abundances``.

    ``abundances`` defaults to {"O": 0.0, "Mg": 0.0}; ``vturb=None`` applies Eqs. 4–7.
    """
    ab = {"O": 0.0, "Mg": 0.0} if abundances is None else dict(abundances)
    vs = synthesize_variants(teff, logg, feh, [ab], vturb=vturb, wave_range=wave_range, engine=engine,
                             atmosphere=atmosphere, line_list=line_list, **engine_options)
    return Spectrum(wave=vs.wave, flux=vs.flux[0], continuum=vs.continuum[0], teff=vs.teff,
                    logg=vs.logg, feh=vs.feh, vturb=vs.vturb, abundances=ab, engine=engine,
                    details=vs.details)


# ----------------------------------------------------------------------------- checks
def convergence_table(models=((4500.0, 2.0, -2.0), (6000.0, 4.0, -1.0)), wave_range=(3000.0, 3400.0),
                      *, engine: str = "sme", settings: Mapping | None = None,
                      reference: Mapping | None = None, R: float = 200.0, **common) -> list[dict]:
    """Max / rms change of the R = 200 normalised spectra between ``settings`` and a finer
    ``reference`` run (default: 0.01 Å uniform, 7 μ points, no line pre-selection, full H I ranges).

    Returns one dict per model with ``max_rel``, ``rms_rel`` (fractions) and the timings.
    Only R = 200 pixels whose ±5 FWHM kernel lies inside ``wave_range`` are compared.
    """
    import time
    from ..degrade import csst_grid, degrade
    settings = dict(settings or {})
    reference = dict(reference or {})
    lo, hi = _check_wave_range(wave_range)
    if engine == "sme" and "wave" not in reference:
        reference.setdefault("n_mu", 7)
        reference.setdefault("almax_min", None)
        reference.setdefault("h_depth_min", None)  # full H I line ranges
    rows = []
    for teff, logg, feh in models:
        ref_wave = reference.get("wave")
        if ref_wave is None:
            ref_wave = np.arange(lo, hi + 1e-9, 0.01)
        t0 = time.perf_counter()
        ref = synthesize(teff, logg, feh, wave_range=(lo, hi), engine=engine,
                         **{**common, **{k: v for k, v in reference.items() if k != "wave"}}, wave=ref_wave)
        t_ref = time.perf_counter() - t0
        t0 = time.perf_counter()
        test = synthesize(teff, logg, feh, wave_range=(lo, hi), engine=engine, **common, **settings)
        t_test = time.perf_counter() - t0
        grid = csst_grid(lo, hi, R)
        fwhm = grid / R
        inside = (grid - 5 * fwhm >= max(ref.wave[0], test.wave[0])) & \
                 (grid + 5 * fwhm <= min(ref.wave[-1], test.wave[-1]))
        grid = grid[inside]
        if grid.size == 0:
            raise ValueError(f"wave_range {wave_range} too short for any full R={R} kernel")
        _, a = degrade(ref.wave, ref.normalized, R=R, grid=grid)
        _, b = degrade(test.wave, test.normalized, R=R, grid=grid)
        rel = b / a - 1.0
        rows.append(dict(teff=teff, logg=logg, feh=feh, n_pixels=int(grid.size),
                         max_rel=float(np.max(np.abs(rel))), rms_rel=float(np.sqrt(np.mean(rel**2))),
                         seconds_reference=t_ref, seconds_test=t_test,
                         n_wave_reference=int(ref.wave.size), n_wave_test=int(test.wave.size)))
    return rows


def cross_check(models, wave_range=(3000.0, 5000.0), engines=("sme", "spectrum"), *, R: float = 200.0,
                variant: Mapping | None = None, line_list=None, engine_options: Mapping | None = None) -> list[dict]:
    """Same atmosphere + line list through two engines: rms and max |ΔF/F_c| at R = 200 per model."""
    from ..degrade import csst_grid, degrade
    a_name, b_name = engines
    engine_options = dict(engine_options or {})
    lo, hi = _check_wave_range(wave_range)
    grid = csst_grid(lo, hi, R)
    fwhm = grid / R
    grid = grid[(grid - 5 * fwhm >= lo) & (grid + 5 * fwhm <= hi)]
    rows = []
    for teff, logg, feh in models:
        atm, vt, ll, wr = resolve_inputs(teff, logg, feh, line_list=line_list, wave_range=(lo, hi))
        out = {}
        for name in engines:
            s = synthesize(teff, logg, feh, abundances=variant, vturb=vt, wave_range=wr, engine=name,
                           atmosphere=atm, line_list=ll, **engine_options.get(name, {}))
            out[name] = degrade(s.wave, s.normalized, R=R, grid=grid)[1]
        d = out[b_name] - out[a_name]
        rows.append(dict(teff=teff, logg=logg, feh=feh, rms=float(np.sqrt(np.mean(d**2))),
                         max=float(np.max(np.abs(d))), n_pixels=int(grid.size)))
    return rows


#: Feature windows (air Å) for the §2.3 checks: OH A–X (0,0)/(1,1) band head region, Mg I 2852,
#: Mg II h & k, O I 7774 triplet, and line-free-ish references for normalisation.
FEATURE_WINDOWS = {
    "OH": (3050.0, 3250.0),
    "MgI_2852": (2845.0, 2860.0),
    "MgII_2800": (2790.0, 2810.0),
    "OI_7774": (7768.0, 7780.0),
}


def uv_feature_depths(spectra: VariantSpectra, R: float | None = 200.0, windows: Mapping | None = None
                      ) -> dict[str, np.ndarray]:
    """Mean depth 1 − F/F_c in each feature window present in ``spectra``, per variant.

    With ``R`` the spectra are first degraded to R (Eqs. 8–11) and the window is widened to at least
    ±1 FWHM around its centre so that it holds R = 200 pixels.
    """
    windows = dict(FEATURE_WINDOWS if windows is None else windows)
    wave, norm = spectra.wave, spectra.normalized
    if R is not None:
        from ..degrade import degrade
        wave, norm = degrade(wave, norm, R=R, wmin=wave[0], wmax=wave[-1])
        norm = np.atleast_2d(norm)
    out = {}
    for name, (a, b) in windows.items():
        if R is not None:
            c = 0.5 * (a + b)
            a, b = min(a, c - c / R), max(b, c + c / R)
        m = (wave >= a) & (wave <= b)
        if m.any() and wave[0] <= a and wave[-1] >= b:
            out[name] = (1.0 - norm[:, m]).mean(axis=1)
    return out


def physics_checks(engine: str = "sme", feh: float = -1.0, *,
                   teffs=(3500, 4000, 4500, 5000, 5500, 6000, 7000, 8000), loggs=(1.0, 2.0, 3.0, 4.0, 5.0),
                   logg_fixed: float = 3.0, teff_fixed: float = 4500.0, delta: float = 0.6,
                   R: float | None = 200.0, windows: Mapping | None = None, cross_talk_max: float = 0.2,
                   **engine_options) -> dict:
    """§2.3 trends on normalised spectra (Figs. 3–4 of the paper).

    For each node of a Teff sweep (log g = ``logg_fixed``) and a log g sweep (Teff = ``teff_fixed``)
    at [Fe/H] = ``feh``, every feature window (default :data:`FEATURE_WINDOWS`) is synthesised for
    the base variant and for +``delta`` in [O/Fe] and in [Mg/Fe] (same atmosphere), optionally at
    R = 200.  Returns arrays ``depth_<feat>_vs_<axis>``, ``resp_O_…`` and ``resp_Mg_…`` (depth
    changes) and ``verdicts``: the paper's claims as (claim, passed, detail).  Nodes outside the
    atmosphere coverage are NaN.  Nothing is tuned: disagreements show up as failed verdicts.
    """
    from ..atmospheres import in_coverage
    windows = dict(FEATURE_WINDOWS if windows is None else windows)
    variants = [{"O": 0.0, "Mg": 0.0}, {"O": delta, "Mg": 0.0}, {"O": 0.0, "Mg": delta}]

    def feat(teff, logg):
        if not bool(in_coverage(teff, logg, feh)):
            return None
        d = {}
        for name, (a, b) in windows.items():
            pad = 3.0 if R is None else 6.0 * 0.5 * (a + b) / R
            vs = synthesize_variants(teff, logg, feh, variants, wave_range=(a - pad, b + pad), engine=engine,
                                     **engine_options)
            d.update(uv_feature_depths(vs, R=R, windows={name: (a, b)}))
        return d

    res: dict = {"teff": np.asarray(teffs, float), "logg": np.asarray(loggs, float), "feh": feh,
                 "delta": delta, "windows": windows}
    names = list(windows)
    for axis, values, fixed in (("teff", teffs, logg_fixed), ("logg", loggs, teff_fixed)):
        for n in names:
            for key in ("depth", "resp_O", "resp_Mg"):
                res[f"{key}_{n}_vs_{axis}"] = np.full(len(values), np.nan)
        for i, x in enumerate(values):
            d = feat(x, fixed) if axis == "teff" else feat(fixed, x)
            if d is None:
                continue
            for n in names:
                if n in d:
                    res[f"depth_{n}_vs_{axis}"][i] = d[n][0]
                    res[f"resp_O_{n}_vs_{axis}"][i] = d[n][1] - d[n][0]
                    res[f"resp_Mg_{n}_vs_{axis}"][i] = d[n][2] - d[n][0]
    T, G = res["teff"], res["logg"]
    verdicts = []

    def add(claim, ok, detail):
        verdicts.append(dict(claim=claim, passed=bool(ok), detail=detail))

    def peak(key, lo, hi, claim):
        y = res.get(key)
        if y is not None and np.isfinite(y).sum() >= 3:
            tpk = T[np.nanargmax(y)]
            interior = T[np.isfinite(y)].min() < tpk < T[np.isfinite(y)].max()
            add(claim, lo <= tpk <= hi and interior, f"maximum at {tpk:.0f} K (rise-then-fall: {interior})")

    def trend(key, x, sign, claim, xname):
        y = res.get(key)
        if y is not None:
            ok = np.isfinite(y)
            if ok.sum() >= 3:
                rho = np.corrcoef(x[ok], y[ok])[0, 1]
                add(claim, sign * rho > 0, f"corr({xname}, value) = {rho:+.2f}")

    peak("depth_OH_vs_teff", 4000, 5000, "OH band depth rises then falls with Teff, peak 4000-5000 K")
    peak("resp_O_OH_vs_teff", 4000, 5000, "OH response to [O/Fe] rises then falls with Teff, peak 4000-5000 K")
    y = res.get("resp_O_OH_vs_teff")
    if y is not None and np.isfinite(y).sum() >= 3 and np.any(T >= 7000):
        hot = np.nanmax(np.abs(y[T >= 7000])) if np.isfinite(y[T >= 7000]).any() else np.nan
        add("OH response virtually disappears at 7000-8000 K (< 10 % of its maximum)",
            np.isfinite(hot) and hot < 0.1 * np.nanmax(y), f"{hot:.4f} vs max {np.nanmax(y):.4f}")
    peak("depth_MgI_2852_vs_teff", 4000, 5800, "Mg I 2852 depth peaks between 4000 and 5800 K")
    trend("depth_MgII_2800_vs_teff", T, 1, "Mg II 2796/2803 strengthens with Teff", "Teff")
    trend("resp_O_OH_vs_logg", G, 1, "OH response to [O/Fe] grows with log g", "log g")
    trend("depth_MgI_2852_vs_logg", G, 1, "Mg I 2852 strengthens with log g", "log g")
    trend("depth_MgII_2800_vs_logg", G, -1, "Mg II 2796/2803 weakens with log g", "log g")
    for n_feat, elem, other in (("OH", "O", "Mg"), ("OI_7774", "O", "Mg"), ("MgI_2852", "Mg", "O"),
                                ("MgII_2800", "Mg", "O")):
        own_k, oth_k = f"resp_{elem}_{n_feat}_vs_teff", f"resp_{other}_{n_feat}_vs_teff"
        if own_k not in res:
            continue
        r_own, r_oth = res[own_k], res[oth_k]
        ok = np.isfinite(r_own) & np.isfinite(r_oth)
        if ok.any():
            own = float(np.max(np.abs(r_own[ok])))
            cross = float(np.max(np.abs(r_oth[ok])))
            ratio = cross / own if own > 0 else np.inf
            res[f"cross_talk_{n_feat}"] = ratio
            add(f"[{elem}/Fe] deepens {n_feat} and [{other}/Fe] leaves it (cross-talk < {cross_talk_max:.0%})",
                bool(np.max(r_own[ok]) > 0) and ratio < cross_talk_max,
                f"max |response| to {elem}: {own:.4f}, to {other}: {cross:.4f} (ratio {ratio:.3f})")
    res["verdicts"] = verdicts
    return res
