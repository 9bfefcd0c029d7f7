"""Built-in vectorised LTE synthesis engine (Korg-like layout: one module per physical process).

Public entry point: :func:`run` (``engine="builtin"`` of ``glocal.synthesis``). Modules:
``chemistry`` (Saha, molecules, n_e), ``continuum`` (continuous opacities), ``lines`` (Voigt, damping,
line opacity), ``hydrogen`` (Balmer/Paschen lines), ``transfer`` (formal solution), ``engine``
(orchestration), ``validation`` (comparison with SME), ``tables`` (constants and data file).
Inputs are the project's ``glocal.atmospheres.Atmosphere`` and ``glocal.linelists.LineList``.
"""
from .engine import constant_r_grid, continuum_opacity, run
from .chemistry import solve_chemistry, Chemistry
from .lines import voigt
from .transfer import flux_from_tau, optical_depth, planck_lambda
from .validation import compare_with_sme

__all__ = ["run", "constant_r_grid", "continuum_opacity", "solve_chemistry", "Chemistry",
           "voigt", "flux_from_tau", "optical_depth", "planck_lambda", "compare_with_sme"]
