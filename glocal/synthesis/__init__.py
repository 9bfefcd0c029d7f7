"""Spectrum synthesis front door (paper §2.1): ``synthesize``, ``synthesize_variants``, ``run_engine``.

Every engine fulfils one contract (``glocal.synthesis.contract``)::

    run(atmosphere, abundances, line_list, wave_range, vturb, options, *, wave=None) -> EngineResult

with ``options`` an instance of the engine's frozen options dataclass.  Engines are looked up by
name in ``glocal.synthesis.registry``: ``"builtin"`` (default, :data:`DEFAULT_ENGINE`; the vectorised
LTE engine of :mod:`glocal.synthesis.builtin`), ``"sme"`` (SMElib through pysme,
:mod:`glocal.synthesis.sme`) and ``"spectrum"`` (Gray's SPECTRUM v2.77, :mod:`glocal.synthesis.spectrum`;
F/F_c only).  Add more with :func:`register_engine`.

The inputs are validated once, here, before an engine sees them (:func:`run_engine`): finite stellar
parameters (Teff > 0), 0 < λ_lo < λ_hi, an air-wavelength ``LineList``, abundances (n_var, 99) log ε
on the H = 12 scale, 0 ≤ v_t ≤ 20 km s⁻¹, a ``wave`` grid that is 1-D, finite, positive and strictly
increasing, and options known to the engine (unknown names rejected, listing the valid ones).

All abundance variants of one call share ONE atmosphere: the paper keeps the model atmosphere
fixed when [X/Fe] changes (SPECTRUM takes [M/H] from the model header and the [X/Fe] offsets only
through ``stdatom.dat``, Eqs. 1–3).  The normalised spectrum of §2.1 is F/F_c.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._checks import check_wave_grid, check_wave_range, finite_scalar, positive_scalar, require_air_linelist
from ..constants import WING_MARGIN
from .contract import EngineOptions, EngineResult
from .registry import (
    DEFAULT_ENGINE,
    EngineSpec,
    available_engines,
    describe_engines,
    engine_options,
    get_engine,
    register_engine,
)

__all__ = ["Spectrum", "VariantSpectra", "synthesize", "synthesize_variants", "run_engine", "check_engine_inputs",
           "resolve_inputs", "register_engine", "get_engine", "available_engines", "describe_engines",
           "engine_options", "EngineSpec", "EngineResult", "EngineOptions", "DEFAULT_ENGINE", "DEFAULT_WAVE_RANGE"]

#: The paper's synthesis range (air Å).
DEFAULT_WAVE_RANGE = (2550.0, 10000.0)
#: Largest microturbulence accepted (km s⁻¹).
VTURB_MAX = 20.0


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
    """Spectra of several abundance variants on one atmosphere (arrays (n_var, n_wave)); ``options``
    are the engine options the spectra were computed with, ``details`` the engine's diagnostics."""
    variants: list
    engine: str
    details: dict = field(default_factory=dict)
    options: EngineOptions | None = None

    def __len__(self) -> int:
        return self.flux.shape[0]


@dataclass
class Spectrum(_SpectraBase):
    """One synthetic spectrum: ``wave`` (air Å), ``flux``, ``continuum``, ``normalized`` = F/F_c."""
    abundances: dict
    engine: str
    details: dict = field(default_factory=dict)
    options: EngineOptions | None = None


def _check_abundances(abundances) -> np.ndarray:
    """(n_var, 99) finite log ε with A(H) = 12 (ValueError otherwise)."""
    A = np.asarray(abundances, dtype=float)
    if A.ndim != 2 or A.shape[0] < 1 or A.shape[1] != 99:
        raise ValueError(f"abundances must be (n_var, 99) log eps (H..Es), got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError("abundances contain NaN/inf")
    if np.any(np.abs(A[:, 0] - 12.0) > 1e-6):
        raise ValueError(f"abundances must be on the H = 12 scale, got A(H) = {A[:, 0]}")
    return A


def _check_vturb(vturb) -> float:
    vt = finite_scalar(vturb, "vturb")
    if not 0 <= vt <= VTURB_MAX:
        raise ValueError(f"vturb must be in [0, {VTURB_MAX:g}] km/s, got {vt}")
    return vt


def check_engine_inputs(atmosphere, abundances, line_list, wave_range, vturb, wave=None, *,
                        engine: str = "the engine"):
    """The engine inputs of the contract, validated: (abundances (n_var, 99), (lo, hi), v_t, wave or None).

    TypeError/ValueError with a message naming the input (see the module docstring).
    """
    if atmosphere is None:
        raise TypeError("atmosphere is required (a glocal.atmospheres.Atmosphere)")
    A = _check_abundances(abundances)
    wr = check_wave_range(wave_range)
    require_air_linelist(line_list, engine)
    vt = _check_vturb(vturb)
    grid = None if wave is None else check_wave_grid(wave, "wave", min_size=2)
    return A, wr, vt, grid


def _check_result(result, name: str, n_var: int) -> EngineResult:
    if not isinstance(result, EngineResult):
        raise TypeError(f"engine {name!r} returned {type(result).__name__}, not an EngineResult")
    if result.flux.shape[0] != n_var:
        raise RuntimeError(f"engine {name!r} returned {result.flux.shape[0]} spectra for {n_var} variants")
    return result


def _run_checked(spec: EngineSpec, opts: EngineOptions, atmosphere, abundances, line_list, wave_range, vturb,
                 wave) -> EngineResult:
    A, wr, vt, grid = check_engine_inputs(atmosphere, abundances, line_list, wave_range, vturb, wave,
                                          engine=f"engine {spec.name!r}")
    return _check_result(spec.run(atmosphere, A, line_list, wr, vt, opts, wave=grid), spec.name, A.shape[0])


def run_engine(engine: str, atmosphere, abundances, line_list, wave_range, vturb,
               options: EngineOptions | Mapping[str, Any] | None = None, *, wave=None, **option_values) -> EngineResult:
    """Validate the engine inputs once (:func:`check_engine_inputs`) and the options (the engine's
    dataclass; ``options`` updated with ``option_values``), then run engine ``engine``: the contract's
    ``EngineResult`` (flux and continuum (n_var, n_wave)).  TypeError/ValueError before the engine runs
    for bad inputs; TypeError/RuntimeError when the engine breaks the contract."""
    spec = get_engine(engine)
    opts = spec.options(options, **option_values)
    return _run_checked(spec, opts, atmosphere, abundances, line_list, wave_range, vturb, wave)


def resolve_inputs(teff, logg, feh, *, vturb=None, atmosphere=None, line_list=None,
                   wave_range=DEFAULT_WAVE_RANGE):
    """Check the stellar parameters and fill the defaults: Kurucz atmosphere (``grid_atmosphere``),
    v_t of Eqs. 4–7, built-in line list over ``wave_range`` ± ``WING_MARGIN``.

    Returns (atmosphere, vturb, line_list, (lo, hi)).
    """
    teff = positive_scalar(teff, "teff")
    logg, feh = finite_scalar(logg, "logg"), finite_scalar(feh, "feh")
    lo, hi = check_wave_range(wave_range)
    if atmosphere is None:
        from ..atmospheres import grid_atmosphere
        atmosphere = grid_atmosphere(teff, logg, feh)
    if vturb is None:
        from ..grid import microturbulence
        vturb = microturbulence(teff, logg, feh)
    vturb = _check_vturb(vturb)
    if line_list is None:
        from ..linelists import builtin_linelist
        line_list = builtin_linelist((lo - WING_MARGIN, hi + WING_MARGIN))
    return atmosphere, vturb, line_list, (lo, hi)


def _check_variants(variants) -> list[dict]:
    if isinstance(variants, Mapping):
        raise TypeError("variants must be a sequence of {element: [X/Fe]} dicts, not a single dict")
    variants = [dict(v) for v in variants]
    if not variants:
        raise ValueError("variants is empty")
    return variants


def synthesize_variants(teff, logg, feh, variants: Sequence[Mapping[str, float]], *, vturb=None,
                        wave_range=DEFAULT_WAVE_RANGE, engine: str = DEFAULT_ENGINE, atmosphere=None,
                        line_list=None, wave=None, options: EngineOptions | Mapping[str, Any] | None = None,
                        **option_values) -> VariantSpectra:
    """Spectra for several [X/Fe] dicts on ONE atmosphere (§2.1; Eqs. 1–3 for the abundances).

    ``variants`` e.g. ``glocal.grid.paper_variants()`` (16 dicts).  ``vturb=None`` applies Eqs. 4–7;
    ``atmosphere`` / ``line_list`` default to the Kurucz grid and the built-in list; ``wave`` is an
    optional fixed output grid (air Å).  ``options`` (the engine's options dataclass or a mapping) and
    ``option_values`` (keywords) are the engine options.  Returns :class:`VariantSpectra` with arrays
    (n_variants, n_wave).
    """
    from ..abundances import abundance_pattern
    spec = get_engine(engine)
    opts = spec.options(options, **option_values)
    variants = _check_variants(variants)
    atmosphere, vturb, line_list, wr = resolve_inputs(teff, logg, feh, vturb=vturb, atmosphere=atmosphere,
                                                      line_list=line_list, wave_range=wave_range)
    A = np.stack([abundance_pattern(float(feh), v) for v in variants])
    res = _run_checked(spec, opts, atmosphere, A, line_list, wr, vturb, wave)
    return VariantSpectra(wave=res.wave, flux=res.flux, continuum=res.continuum, teff=float(teff),
                          logg=float(logg), feh=float(feh), vturb=float(vturb), variants=variants, engine=engine,
                          details=dict(res.details), options=opts)


def synthesize(teff, logg, feh, *, abundances: Mapping[str, float] | None = None, vturb=None,
               wave_range=DEFAULT_WAVE_RANGE, engine: str = DEFAULT_ENGINE, atmosphere=None, line_list=None,
               wave=None, options: EngineOptions | Mapping[str, Any] | None = None, **option_values) -> Spectrum:
    """One spectrum: F, F_c and F/F_c (§2.1) for (Teff, log g, [Fe/H]) and [X/Fe] ``abundances``.

    ``abundances`` defaults to {"O": 0.0, "Mg": 0.0}; the other arguments as :func:`synthesize_variants`.
    """
    ab = {"O": 0.0, "Mg": 0.0} if abundances is None else dict(abundances)
    vs = synthesize_variants(teff, logg, feh, [ab], vturb=vturb, wave_range=wave_range, engine=engine,
                             atmosphere=atmosphere, line_list=line_list, wave=wave, options=options,
                             **option_values)
    return Spectrum(wave=vs.wave, flux=vs.flux[0], continuum=vs.continuum[0], teff=vs.teff, logg=vs.logg,
                    feh=vs.feh, vturb=vs.vturb, abundances=ab, engine=engine, details=vs.details,
                    options=vs.options)
