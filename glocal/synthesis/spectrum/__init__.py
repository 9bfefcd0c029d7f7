"""Driver for R. O. Gray's SPECTRUM v2.77 (Gray & Corbally 1994, AJ 107, 742), the paper's code (§2.1).

By default SPECTRUM runs with the paper's switches ``nita`` (§2.1: "computed with the ``nita``
switch and without the ``f`` option"): ``n`` silent, ``i`` isotopes enabled, ``t`` ATLAS9 model
headers, ``a`` atom file given; no ``f``, so the output is the normalised intensity F/F_c.
``SpectrumOptions(switches=...)`` also accepts ``"nta"``, ``"nia"`` and ``"na"`` (the driver's former
path: simple-header model, isotope fractions folded into log gf), kept to cross-check the
``t``/``i`` inputs against it (``tests/test_spectrum_driver.py``).

``run`` writes, in a scratch directory (``SpectrumOptions.workdir``, else a temporary one):

* the model atmosphere.  With ``t`` an ATLAS9 ``READ DECK6`` deck (:func:`write_kurucz_model`).
  Under ``t`` SPECTRUM's ``inmodel6.c`` reads only: Teff after ``TEFF`` and log g after
  ``GRAVITY`` on the first line holding ``TEFF``; [M/H] = log10 of the number after ``SCALE`` on
  the first later line holding ``SCALE`` (``ABUNDANCE SCALE 10^[Fe/H]``); it skips to the line holding
  ``READ`` and takes every following row ``rhox T P n_e κ_R accrad [vturb]`` up to ``PRADK``.
  The ``ABUNDANCE CHANGE`` lines (the atmosphere's own mixture, ATLAS convention) are written for
  other ATLAS readers (``glocal.atmospheres.read_atmospheres`` reads the deck back) but SPECTRUM
  ignores them: its abundances come from the atom file.  The deck has no PRADK value (written
  0) and no per-layer ACCRAD (written 0); neither is used by SPECTRUM.  Without ``t`` the simple
  header (:func:`write_model`): ``Teff log g [M/H] N`` and N rows ``rhox T P n_e κ_R 0``.  Both
  carry the same depth values; [M/H] = the model's [Fe/H], which SPECTRUM adds to every metal (Eq. 1);
* an atom file per abundance variant in ``stdatom.dat`` format (``inatom2.c``): a comment line,
  then NATOM − NMOL = 92 element rows ``Z log(N_X/N_tot) mass I1 I2 I3 I4 maxcharge`` followed by
  NMOL = 15 molecule rows (the molecules ``pop13.c`` knows).  The element abundances are the solar
  mixture plus the [X/Fe] offsets of the variant — Eq. 2 (A_X^file = A_X⊙ + [X/Fe]); SPECTRUM then
  adds [M/H] (Eq. 3).  Ionisation energies and masses come from ``glocal/data/physics_tables.h5``;
  triply ionised stages are not tabulated there, so ``maxcharge`` ≤ 2;
* with ``i`` an isotope file (:func:`write_isotope_file`, ``inisotope.c``): rows
  ``code iso atomic-mass relative-abundance`` with the solar isotopic fractions the line lists use
  (``glocal.linelists.SOLAR_ISOTOPE_FRACTIONS``, Asplund et al. 2009, plus Ca, which
  ``isorelabun.c`` requires but no glocal list resolves, from the same source) and isotope
  masses (AME2016);
* the line list in ``luke.lst`` style (``linelst12b.c``): ``λ code [iso] E_low E_up log gf fac type …``
  with energies in cm⁻¹, log gf to 4 decimals (a fraction folded into 3 decimals would be rounded
  by up to 5·10⁻⁴ dex), species SPECTRUM does not support dropped, transition type ``GA`` with
  the log10 damping constants when the list has all three, else ``99`` (SPECTRUM's
  approximations).  Each line's isotopic fraction is applied exactly once
  (:func:`spectrum_isotopes`).  Without ``i`` it is folded into log gf.  With ``i`` the line
  carries SPECTRUM's isotope number and the unscaled log gf wherever SPECTRUM applies that same
  fraction itself — atoms with an isotope in the file (``inline8.c``: gf × relabund, and the
  isotope's mass in the Doppler width) and the isotopologues ``pop13.c`` knows (CH, NH, OH, MgH,
  SiH, CaH, C2, CN, CO, SiO: number density × the two atoms' relabund, with its own reduced
  mass for each isotopologue); every other line (e.g. TiO, whose isotope numbers ``pop13.c``
  ignores, or a line whose fraction differs from the file's product) gets isotope number 0 and
  the fraction folded into log gf;

and runs SPECTRUM, answering its prompts on stdin (model, line list, atom file, [isotope file],
output, vturb, range, step).  The output (λ, F/F_c) is parsed and returned as an ``EngineResult``
with flux = F/F_c and continuum = 1 (``details["normalized_only"]``).  The binary comes from the
``binary`` option or the ``GLOCAL_SPECTRUM_BIN`` environment variable; :func:`build_spectrum`
compiles the C sources.  Options: :class:`SpectrumOptions`; inputs are validated once by
``glocal.synthesis.run_engine`` (the driver checks what is intrinsic to SPECTRUM: supported species,
at most ``SPECTRUM_NTAU`` depths, the switches).

``nita`` and ``na`` agree closely but not exactly.  ``t`` alone changes nothing (``nta``
reproduces ``na`` bit for bit: same depth values, same [M/H]).  With ``i`` SPECTRUM (a) uses its
own reduced mass for each isotopologue in the dissociation equilibrium (``pop13.c``: ¹²CH 0.92974,
¹³CH 0.93533, ¹⁶OH 0.94809, ¹⁸OH 0.95439, ²⁴MgH 0.96719 amu, …) instead of the atom file's
mean-mass value (CH 0.92996, OH 0.94826, MgH 0.96786), which changes the molecule's number density
∝ μ^−1.5 by −0.9 % (¹³CH, ¹⁸OH) to +0.1 % (²⁴MgH); (b) uses isotope masses in atomic Doppler
widths; (c) estimates line-computation radii from the unscaled log gf (``initrad``).  On the
models 4500/1.5/−2, 5000/4.5/−2, 4000/1.0/−1 in windows with OH (3080–3130 Å), Mg II (2790–2860),
CH (4300–4330) and MgH/Mg b (5160–5190) the normalised spectra differ by ≤ 2·10⁻³ at full
resolution (¹⁸OH lines in the 4000 K giant) and ≤ 5·10⁻⁵ after degradation to R = 200.
"""
from __future__ import annotations

from .driver import (
    DEFAULT_SWITCHES,
    LINE_MARGIN,
    SWITCHES,
    SpectrumOptions,
    binary_or_build,
    build_spectrum,
    engine_version,
    find_binary,
    run,
)
from .files import (
    ABSENT_LOG,
    CA_ISOTOPE_FRACTIONS,
    ISOTOPE_MASSES,
    MOLECULE_D0_EV,
    N_ELEMENTS_SPECTRUM,
    SPECTRUM_ISOTOPOLOGUES,
    SPECTRUM_MOLECULES,
    SPECTRUM_NTAU,
    SPECTRUM_REQUIRED_ISOTOPES,
    isotope_table,
    molecule_d0,
    read_output,
    spectrum_isotopes,
    write_atom_file,
    write_isotope_file,
    write_kurucz_model,
    write_line_list,
    write_model,
)

__all__ = ["run", "SpectrumOptions", "engine_version", "build_spectrum", "binary_or_build", "find_binary",
           "write_model",
           "write_kurucz_model", "write_atom_file", "write_isotope_file", "write_line_list", "read_output",
           "spectrum_isotopes", "isotope_table", "molecule_d0", "SPECTRUM_MOLECULES", "SWITCHES", "DEFAULT_SWITCHES",
           "LINE_MARGIN", "SPECTRUM_NTAU", "SPECTRUM_REQUIRED_ISOTOPES", "SPECTRUM_ISOTOPOLOGUES", "MOLECULE_D0_EV",
           "CA_ISOTOPE_FRACTIONS", "ISOTOPE_MASSES", "N_ELEMENTS_SPECTRUM", "ABSENT_LOG"]
