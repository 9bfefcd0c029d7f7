"""Atomic and molecular line lists: one table type, readers, air/vacuum conversion (paper §2.1).

:class:`LineList` wraps a numpy structured array with the columns

=====================  =====================================================================
``wave``               wavelength, Å (float64), in the list's ``medium`` ("air" or "vacuum")
``species``            "Fe 1", "Mg 2", "OH", "CH", "MgH", … (atoms: element + ionisation stage)
``code``               MOOG species code as in the source: 26.0 = Fe I, 12.1 = Mg II,
                       108.00116 = ¹⁶O¹H, 607.01214 = ¹²C¹⁴N (VALD/Kurucz readers: no isotope digits)
``isotope_code``       the isotope digits as integer (108.00116 → 116, 3.0007 → 7; 0 = none)
``ion``                1 = neutral, 2 = singly ionised, … (molecules: 1)
``elow``               lower-level excitation energy, eV
``loggf``              log10 (g f)
``gamma_rad``          log10 γ_rad (s⁻¹); NaN where not given
``gamma_stark``        log10 γ_4 / N_e (s⁻¹ cm³) at 10⁴ K; NaN where not given
``gamma_vdw``          van der Waals: < 0 → log10 γ_6 / N_H (s⁻¹ cm³) at 10⁴ K; > 0 → Anstee–
                       Barklem–O'Mara "σ.α" packed value (VALD/Kurucz convention); NaN where absent
``d0``                 dissociation energy, eV (molecules; NaN for atoms)
``isotope_fraction``   solar fraction of the isotope/isotopologue carrying the line (1 where the
                       species is not isotope-resolved); whether it is already included in
                       ``loggf`` is recorded in ``meta['isotopes_applied']``
=====================  =====================================================================

The package is split by concept: :mod:`.table` (the data model), :mod:`.species` (codes, names,
isotopes), :mod:`.wavelengths` (air ↔ vacuum), :mod:`.readers` (MOOG, VALD3, Kurucz) and
:mod:`.builtin` (the committed list); every public name is importable from ``glocal.linelists``.
"""
from __future__ import annotations

from .builtin import LINELIST_PATH, builtin_linelist
from .readers import read_kurucz, read_moog, read_vald
from .species import (
    ATOMIC_MASSES,
    ELEMENTS,
    MOLECULE_NAMES,
    SOLAR_ISOTOPE_FRACTIONS,
    isotope_fraction,
    molecule_atoms,
    species_code,
    species_name,
)
from .table import LINE_DTYPE, LineList
from .wavelengths import air_to_vacuum, hydrogen_levels, vacuum_to_air

__all__ = [
    "LineList",
    "LINE_DTYPE",
    "read_moog",
    "read_vald",
    "read_kurucz",
    "builtin_linelist",
    "air_to_vacuum",
    "vacuum_to_air",
    "hydrogen_levels",
    "species_name",
    "species_code",
    "molecule_atoms",
    "isotope_fraction",
    "SOLAR_ISOTOPE_FRACTIONS",
    "ELEMENTS",
    "ATOMIC_MASSES",
    "MOLECULE_NAMES",
    "LINELIST_PATH",
]
