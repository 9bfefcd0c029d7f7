"""Validation of the synthesis engines: checks that are not needed to compute a spectrum.

* :func:`convergence_table` (``convergence``): an engine's default sampling against a finer reference
  run, at R = 200;
* :func:`cross_check` (``cross_check``): two engines on the same inputs, at R = 200;
* :func:`uv_feature_depths`, :data:`FEATURE_WINDOWS` (``features``) and :func:`physics_checks`
  (``physics_checks``): the paper's §2.3 trends (Figs. 3–4) as pass/fail verdicts;
* :func:`compare_with_sme` (``builtin_vs_sme``): the built-in engine against SME, model by model;
* ``smelib_hydrogen``: SMElib's hydrogen line profiles, emulated for the built-in engine so that the
  comparison with SME can separate that difference by design from the rest.

Every function runs the engines through ``glocal.synthesis`` (inputs validated there).
"""
from __future__ import annotations

from .builtin_vs_sme import compare_builtin, compare_with_sme, sme_reference, sme_window_variants
from .convergence import convergence_table
from .cross_check import cross_check
from .features import FEATURE_WINDOWS, uv_feature_depths
from .physics_checks import physics_checks

__all__ = ["convergence_table", "cross_check", "uv_feature_depths", "FEATURE_WINDOWS", "physics_checks",
           "compare_with_sme", "compare_builtin", "sme_reference", "sme_window_variants"]
