"""Built-in vectorised LTE synthesis engine, one module per physical process.

Public entry point: :func:`run` with :class:`BuiltinOptions` (``engine="builtin"`` of ``glocal.synthesis``;
the contract of ``glocal.synthesis.contract``). Modules:

* ``chemistry``: Saha ionisation, molecular equilibrium, electron density;
* ``continuum``: continuous opacities and their sum, the coarse continuum grid, F_c;
* ``profiles``: Voigt function, Doppler widths, damping constants;
* ``selection``: which lines matter (screening, strengths, windows);
* ``deposit``: the selected lines accumulated on the wavelength grid (low-rank class basis);
* ``hydrogen`` (with ``holtsmark``): Balmer and Paschen lines;
* ``transfer``: optical depths and the formal solution;
* ``variants``: flux of every abundance variant (class representatives, linear response);
* ``grids``: wavelength grids; ``tables``: constants and the physics data file;
* ``options``: :class:`BuiltinOptions`; ``engine``: orchestration (:func:`run`).

Inputs are the project's ``glocal.atmospheres.Atmosphere`` and ``glocal.linelists.LineList``. Comparisons
with SME live in ``glocal.validation``.
"""
from .chemistry import Chemistry, solve_chemistry
from .continuum import BF_METALS, continuum_opacity
from .engine import run
from .grids import constant_r_grid
from .options import BuiltinOptions
from .profiles import voigt
from .transfer import flux_from_tau, optical_depth, planck_lambda

__all__ = ["run", "BuiltinOptions", "BF_METALS", "constant_r_grid", "continuum_opacity", "solve_chemistry", "Chemistry",
           "voigt", "flux_from_tau", "optical_depth", "planck_lambda"]
