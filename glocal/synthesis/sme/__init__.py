"""SME engine (``engine="sme"``): LTE synthesis with SMElib (PySME, ``pysme-astro``), paper §2.1.

Contract
--------
``run(atmosphere, abundances, line_list, wave_range, vturb, options=SMEOptions(), *, wave=None)``
returns an ``EngineResult`` (``glocal.synthesis.contract``):

* ``wave`` (n_wave,): air Å; ``wave`` if given, else uniform in ln λ with ``options.step_kms``
  (2 km s⁻¹: 0.017 Å at 2550 Å, 0.067 Å at 10 000 Å), within SMElib's 1000–100 000 Å;
* ``flux`` F and ``continuum`` F_c (n_var, n_wave): surface fluxes F = 2π ∫ I μ dμ in SMElib's
  units (erg s⁻¹ cm⁻² Å⁻¹), with lines and of the continuum alone, from the same atmosphere and the
  same Gauss–Legendre μ quadrature (``n_mu`` points).  F/F_c is the §2.1 normalised spectrum, the
  quantity SPECTRUM writes without its ``f`` switch; no SME normalisation flags are used;
* ``details``: line counts (in, kept, per chunk), H I windows, chunk edges, timings of the run.

Inputs are validated once by ``glocal.synthesis.run_engine``; the driver checks only what is
intrinsic to SMElib (its wavelength limits, the atmosphere's depth arrays, the H = 12 abundance
scale).  SMElib does not convert air/vacuum: the line list and the grid are in air.

What the driver does
--------------------
SMElib is driven through its C interface (``pysme.sme_synth.SME_DLL``), not pysme's
``synthesize_spectrum`` pipeline, which re-interpolates what the grid needs fixed:

1. **One atmosphere, many abundance sets.**  [X/Fe] changes do not change the model atmosphere
   (§2.1).  Per variant SMElib gets ``InputModel`` + ``InputAbund`` + ``Ionization(4)`` +
   ``Opacity``.  ``Ionization(4)`` keeps the model's T and particle density, takes the gas
   density from SMElib's own EOS and solves the EOS, electrons included, with the variant's
   abundances: [Mg/Fe] changes n_e, hence H⁻ and the continuum, so nothing per wavelength is shared
   between variants.  Identical abundance rows are synthesised once; each variant's EOS starts from
   the previous solution (``eos_warm_start``).
2. **Lines.**  Every line within ``glocal.constants.WING_MARGIN`` (300 Å) of the output range goes to
   SMElib (far van der Waals wings of strong lines outside a short range matter).  Once per model,
   SMElib's screening ``ALMAXRange`` (with the largest abundance of every element over the variants)
   gives each line its peak line/continuum opacity ratio ALMAX and its contribution range (ratio >
   ``ACCRT`` = 1e-4); lines with ALMAX ≥ ``almax_min`` are kept, H I lines always.
3. **H I windows.**  The H I ranges (hundreds of Å) are narrowed to where each line's depression
   matters (``hydrogen_windows``): all cut-off wings together stay below ``h_depth_min`` in F/F_c.
4. **Transfer in chunks.**  ``Transf`` runs on pieces of ``chunk_width`` Å with the precomputed
   ranges (``SetLineInfoMode(2)``) and only the lines whose range overlaps the piece; the output is
   one grid, identical to a one-piece run to 1e-5.

SMElib settings: the Kurucz ATLAS9 continuous-opacity switches of the decks (``inputs.OPFLAG``;
H I lines come from the line list), continuous opacities on SMElib's edge-aware grid of
``CONTINUUM_GRID`` = 1 Å, ``accwi`` = ``ACCWI`` = 3e-3, van der Waals scale ``VDW_SCALE`` = 1, H₂
broadening on (``h2broad``), plane-parallel geometry on the RHOX scale.

Damping: missing γ_rad/γ_4/γ_6 (NaN) are passed as 0, which selects SMElib's classical/approximate
values (Unsöld for van der Waals).  H I lines carry their principal quantum numbers in the γ_4/γ_6
fields, derived from E_low and λ; H I lines for which that fails or n_upper > 100 are dropped.

Accuracy
--------
With the default :class:`SMEOptions` every R = 200 pixel of F/F_c is within 0.2 % of a reference
run on a 0.01 Å grid with 7 μ points, no line pre-selection and full H I ranges
(``glocal.validation.convergence_table``; ``tests/test_synthesis.py``).  The cut H I wings and
the chunking each move R = 200 F/F_c by < 0.1 % (tests).  Measured costs and the settings tried and
not adopted are recorded in ``results/benchmarks/sme_driver_notes.md``.

Concurrency: SMElib holds process-wide state; the driver serialises calls with a lock, so
parallelise with processes (``glocal.build`` uses Dask worker processes).
"""
from __future__ import annotations

from .driver import ACCRT, ACCWI, CONTINUUM_GRID, VDW_SCALE, SMEOptions, run
from .hydrogen_windows import h_windows
from .inputs import (
                     SMELines,
                     check_sme_range,
                     chunk_slices,
                     mu_quadrature,
                     prepare_lines,
                     sme_abundances,
                     sme_atmosphere,
                     wave_grid,
)
from .library import engine_version, smelib_path

__all__ = ["run", "SMEOptions", "engine_version", "smelib_path", "wave_grid", "check_sme_range", "chunk_slices",
           "prepare_lines", "SMELines", "mu_quadrature", "sme_abundances", "sme_atmosphere", "h_windows",
           "ACCRT", "ACCWI", "CONTINUUM_GRID", "VDW_SCALE"]
