"""Physical constants shared by the whole package (cgs units unless the name says otherwise).

Values are the CODATA 2018 recommended values: E. Tiesinga, P. J. Mohr, D. B. Newell &
B. N. Taylor, "CODATA recommended values of the fundamental physical constants: 2018",
Rev. Mod. Phys. 93, 025010 (2021); https://physics.nist.gov/cuu/Constants/.  Since the 2019 SI
redefinition c, h, k_B and e are exact; the derived values below (k_B in eV, h c in eV Å, the
wavenumber of 1 eV) are those constants combined and rounded as CODATA 2018 quotes them.

The one value that is not a CODATA constant is the ionisation energy of hydrogen,
:data:`H_IONIZATION_EV`, an atomic datum (NIST Atomic Spectra Database, Kramida et al.), and the
reduced-mass Rydberg constant of hydrogen :data:`RYDBERG_H`, R_∞ / (1 + m_e/m_p).

Every module imports its constants from here; change a value only here (and note that it changes
the numerical results of the synthesis engines).
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "C_CGS", "C_KMS", "C_AA", "H_CGS", "K_BOLTZMANN", "K_EV", "EV_ERG", "EV_TO_CM1", "HC_EV_AA",
    "M_E", "E_CHARGE", "AMU", "A0_CM", "RYDBERG_EV", "RYDBERG_H", "H_IONIZATION_EV",
    "SIGMA_THOMSON", "SIGMA_LINE",
]

# --- exact (2019 SI) ------------------------------------------------------------------------
#: Speed of light in vacuum, cm s⁻¹ (exact).
C_CGS = 2.99792458e10
#: Speed of light in vacuum, km s⁻¹ (exact).
C_KMS = 299792.458
#: Speed of light in vacuum, Å s⁻¹ (exact).
C_AA = 2.99792458e18
#: Planck constant h, erg s (exact).
H_CGS = 6.62607015e-27
#: Boltzmann constant k_B, erg K⁻¹ (exact).
K_BOLTZMANN = 1.380649e-16
#: Electron volt, erg (exact).
EV_ERG = 1.602176634e-12

# --- derived from the exact constants (CODATA 2018 rounding) --------------------------------
#: Boltzmann constant k_B, eV K⁻¹.
K_EV = 8.617333262e-5
#: Wavenumber of 1 eV, cm⁻¹ per eV (1 eV / (h c)).
EV_TO_CM1 = 8065.543937
#: h c, eV Å.
HC_EV_AA = 12398.419843320026

# --- measured (CODATA 2018) -----------------------------------------------------------------
#: Electron mass m_e, g.
M_E = 9.1093837015e-28
#: Elementary charge, esu (statcoulomb): e c / 10 in cgs-Gaussian units.
E_CHARGE = 4.80320471e-10
#: Atomic mass constant m_u (1 amu), g.
AMU = 1.66053906660e-24
#: Bohr radius a_0, cm.
A0_CM = 5.29177210903e-9
#: Rydberg energy R_∞ h c, eV.
RYDBERG_EV = 13.605693122994
#: Thomson cross-section, cm².
SIGMA_THOMSON = 6.6524587321e-25

# --- hydrogen (atomic data, not CODATA constants) -------------------------------------------
#: Rydberg constant for hydrogen (reduced mass), cm⁻¹.
RYDBERG_H = 109677.58
#: Ionisation energy of H I, eV (NIST ASD).
H_IONIZATION_EV = 13.598434

# --- combinations ---------------------------------------------------------------------------
#: Classical line cross-section π e² / (m_e c), cm² Hz.
SIGMA_LINE = np.pi * E_CHARGE**2 / (M_E * C_CGS)

# --- synthesis ------------------------------------------------------------------------------
#: Lines within this distance (Å) of a synthesis range are handed to the engines, whose own screening
#: (SMElib's ALMAXRange, the built-in engine's per-line windows, capped at the same 300 Å) decides which
#: reach into it: in cool dwarfs the van der Waals wings of Mg II h&k, Mg I 2852 and Ca II H&K depress
#: F/F_c hundreds of Å away (3500/5.0/-1.0: up to 6 % at 3050-3250 Å from lines below 3000 Å).
WING_MARGIN = 300.0
