"""The contract every synthesis engine fulfils: typed options in, one typed result out.

An engine is registered (``glocal.synthesis.registry``) with a function::

    run(atmosphere, abundances, line_list, wave_range, vturb, options, *, wave=None) -> EngineResult

* ``atmosphere``: a ``glocal.atmospheres.Atmosphere`` (surface-first ``rhox``, ``T``, ``P``, ``xne``);
* ``abundances``: (n_var, 99) log ε (H = 12), one row per abundance variant, all on the **same**
  atmosphere (paper §2.1: [X/Fe] changes do not change the model atmosphere);
* ``line_list``: a ``glocal.linelists.LineList`` in air wavelengths;
* ``wave_range``: (lo, hi) air Å; ``vturb``: microturbulence, km s⁻¹;
* ``options``: an instance of the engine's own frozen :class:`EngineOptions` dataclass;
* ``wave``: optional fixed output grid (air Å, strictly increasing) understood by every engine.

Inputs are validated once, by ``glocal.synthesis.synthesize_variants``, before an engine sees them.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["EngineResult", "EngineOptions"]


@dataclass(frozen=True)
class EngineResult:
    """What every engine returns for the n_var abundance variants of one atmosphere.

    ``wave`` (n_wave,) air Å; ``flux`` F and ``continuum`` F_c, both (n_var, n_wave), physical surface
    fluxes in erg s⁻¹ cm⁻² Å⁻¹ (an engine that only produces F/F_c returns ``flux`` = F/F_c and
    ``continuum`` = 1 and says so in ``details["normalized_only"]``). ``details``: engine-specific
    diagnostics (counts, classes, timings of the run), never needed to use the spectra.
    """
    wave: np.ndarray
    flux: np.ndarray
    continuum: np.ndarray
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        wave = np.asarray(self.wave)
        flux = np.atleast_2d(np.asarray(self.flux))
        cont = np.atleast_2d(np.asarray(self.continuum))
        if wave.ndim != 1:
            raise ValueError(f"engine result: wave must be 1-D, got shape {wave.shape}")
        if flux.shape[-1] != wave.size or cont.shape != flux.shape:
            raise ValueError(f"engine result: flux {flux.shape} and continuum {cont.shape} must be "
                             f"(n_var, {wave.size})")
        object.__setattr__(self, "wave", wave)
        object.__setattr__(self, "flux", flux)
        object.__setattr__(self, "continuum", cont)

    @property
    def normalized(self) -> np.ndarray:
        """F/F_c, (n_var, n_wave)."""
        return self.flux / self.continuum


class EngineOptions:
    """Base of the engines' option dataclasses (subclasses are ``@dataclass(frozen=True)``).

    ``from_mapping`` builds an instance from user options and rejects unknown names, listing the
    valid ones; ``as_dict`` gives the options as recorded in a grid's provenance.
    """

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | None = None, **more) -> EngineOptions:
        """An instance from ``options`` (and/or keywords); TypeError naming unknown options."""
        if isinstance(options, cls):
            return dataclasses.replace(options, **more) if more else options
        merged = dict(options or {})
        merged.update(more)
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(merged) - set(names))
        if unknown:
            raise TypeError(f"unknown option(s) {', '.join(map(repr, unknown))} for {cls.__name__}; "
                            f"valid: {', '.join(names)}")
        return cls(**merged)

    def as_dict(self) -> dict[str, Any]:
        """The options as a plain dict (field name → value)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
