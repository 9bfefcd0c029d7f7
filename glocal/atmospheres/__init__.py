"""Model atmospheres: readers, the built-in Kurucz (1993) grid and its interpolation (paper §2.1).

The paper computes spectra on a fine (Teff, log g, [Fe/H]) grid of ATLAS9 models
(§2.1: Teff 3500–8000 K, log g 0–5 in 0.25 dex, [Fe/H] −4…−1 in 0.2 dex).  The
Castelli & Kurucz (2003) ODFNEW grid used in the paper is not redistributable here, so
the built-in grid is the Kurucz (1993, CD-ROM 13) ATLAS9 grid (250 K, 0.5 dex, 0.5 dex
steps) and the paper's nodes are obtained by interpolation on a common Rosseland
optical-depth scale (:func:`grid_atmosphere`).

Conventions (all arrays surface first):

* ``rhox``   column mass, g cm⁻²
* ``T``      temperature, K
* ``P``      gas pressure, dyn cm⁻²
* ``xne``    electron number density, cm⁻³
* ``abross`` Rosseland mean opacity per gram, cm² g⁻¹
* ``abundances`` 99 values A_X = 12 + log10(N_X/N_H) for Z = 1…99 with the model's
  metallicity already applied (A_H = 12).  Absent elements carry very negative values
  (Kurucz: −20 in log N/N_tot, i.e. A ≈ −8 + [M/H]; MARCS: −99).

The package is split by concept: :mod:`.model` (the :class:`Atmosphere` record), :mod:`.readers`
(ATLAS9 and MARCS files), :mod:`.kurucz_grid` (the committed grid) and :mod:`.interpolation`
(models between the grid nodes, coverage, accuracy); every public name is importable from
``glocal.atmospheres``.
"""
from __future__ import annotations

from .interpolation import (
    DEFAULT_MAX_EXTRAPOLATION,
    coverage_report,
    grid_atmosphere,
    in_coverage,
    leave_one_out,
)
from .kurucz_grid import GRID_PATH, AtmosphereGrid, load_grid
from .model import DEPTH_QUANTITIES, N_ELEMENTS, Atmosphere
from .readers import read_atmosphere, read_atmospheres

__all__ = [
    "Atmosphere",
    "read_atmosphere",
    "read_atmospheres",
    "load_grid",
    "AtmosphereGrid",
    "grid_atmosphere",
    "in_coverage",
    "coverage_report",
    "leave_one_out",
    "DEFAULT_MAX_EXTRAPOLATION",
    "GRID_PATH",
    "N_ELEMENTS",
    "DEPTH_QUANTITIES",
]
