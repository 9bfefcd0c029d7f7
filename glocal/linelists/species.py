"""Species of a line list: MOOG species codes, names and solar isotopic fractions.

MOOG codes (Sneden 1973; as written by linemake): an atom is Z + (ion − 1)/10 (26.0 = Fe I,
12.1 = Mg II), a diatomic molecule is 100·Z₁ + Z₂ with Z₁ ≤ Z₂ (108 = OH, 607 = CN); decimal digits
beyond the first (atoms) or all decimals (molecules) encode isotopes (3.0007 = ⁷Li, 108.00116 =
¹⁶O¹H).  The element table is :mod:`glocal.elements`.
"""
from __future__ import annotations

import re

import numpy as np

from ..elements import ATOMIC_MASSES, ELEMENTS

__all__ = ["ELEMENTS", "ATOMIC_MASSES", "MOLECULE_NAMES", "SOLAR_ISOTOPE_FRACTIONS", "species_name",
           "species_code", "molecule_atoms", "isotope_fraction"]

_Z = {s: i + 1 for i, s in enumerate(ELEMENTS)}

#: Conventional names of the MOOG molecular codes (Z's sorted ascending, two digits each).
MOLECULE_NAMES = {
    101: "H2", 106: "CH", 107: "NH", 108: "OH", 109: "HF", 112: "MgH", 114: "SiH", 117: "HCl",
    120: "CaH", 126: "FeH", 606: "C2", 607: "CN", 608: "CO", 707: "N2", 708: "NO", 808: "O2",
    812: "MgO", 814: "SiO", 822: "TiO", 823: "VO",
}
_NAME_TO_MOL = {v: k for k, v in MOLECULE_NAMES.items()}

#: Solar-system isotopic fractions (Asplund et al. 2009, ARA&A 47, 481, Table 3; from
#: Rosman & Taylor 1998) for the elements whose isotopes the line lists resolve.
SOLAR_ISOTOPE_FRACTIONS: dict[tuple[int, int], float] = {
    (1, 1): 0.99998, (1, 2): 0.00002,
    (3, 6): 0.0759, (3, 7): 0.9241,
    (6, 12): 0.988938, (6, 13): 0.011062,
    (7, 14): 0.99771, (7, 15): 0.00229,
    (8, 16): 0.997621, (8, 17): 0.000379, (8, 18): 0.002000,
    (9, 19): 1.0,
    (12, 24): 0.7899, (12, 25): 0.1000, (12, 26): 0.1101,
    (14, 28): 0.922297, (14, 29): 0.046832, (14, 30): 0.030872,
    (17, 35): 0.7576, (17, 37): 0.2424,
    (22, 46): 0.0825, (22, 47): 0.0744, (22, 48): 0.7372, (22, 49): 0.0541, (22, 50): 0.0518,
    (26, 54): 0.05845, (26, 56): 0.91754, (26, 57): 0.02119, (26, 58): 0.00282,
}


def species_name(code: float) -> str:
    """MOOG code → species name: 26.0 → "Fe 1", 12.1 → "Mg 2", 108 → "OH", 607 → "CN"."""
    code = float(code)
    z = int(np.floor(code + 1e-9))
    if z < 1:
        raise ValueError(f"invalid species code {code}")
    if z <= len(ELEMENTS):
        ion = int(round((code - z) * 10)) + 1
        return f"{ELEMENTS[z - 1]} {ion}"
    if z in MOLECULE_NAMES:
        return MOLECULE_NAMES[z]
    z1, z2 = divmod(z, 100)
    if not (1 <= z1 <= len(ELEMENTS) and 1 <= z2 <= len(ELEMENTS)):
        raise ValueError(f"unknown molecular species code {code}")
    return ELEMENTS[z1 - 1] + ELEMENTS[z2 - 1]



def molecule_atoms(code: int) -> tuple[int, int]:
    """(Z₁, Z₂) of a diatomic MOOG molecule code (607 → (6, 7)); ValueError for larger molecules."""
    if code >= 10000:
        raise ValueError(f"only diatomic molecules are supported, got code {code}")
    return divmod(code, 100)


def species_code(name: str) -> float:
    """Species name → MOOG code ("Fe 1" → 26.0, "Mg 2" → 12.1, "OH" → 108.0, "C2" → 606.0)."""
    name = name.strip()
    m = re.fullmatch(r"([A-Z][a-z]?)\s*(\d+)", name)
    if m and m.group(1) in _Z and name not in _NAME_TO_MOL:
        ion = int(m.group(2))
        if ion < 1:
            raise ValueError(f"ionisation stage must be >= 1 in {name!r}")
        return _Z[m.group(1)] + (ion - 1) / 10.0
    if name in _NAME_TO_MOL:
        return float(_NAME_TO_MOL[name])
    parts = re.findall(r"([A-Z][a-z]?)(\d*)", name)
    if not parts or "".join(a + b for a, b in parts) != name:
        raise ValueError(f"unknown species {name!r}")
    zs = []
    for sym, count in parts:
        if sym not in _Z:
            raise ValueError(f"unknown element {sym!r} in species {name!r}")
        zs += [_Z[sym]] * (int(count) if count else 1)
    if len(zs) != 2:
        raise ValueError(f"only atoms and diatomic molecules are supported, got {name!r}")
    z1, z2 = sorted(zs)
    return float(z1 * 100 + z2)


def isotope_fraction(code, isotope_code) -> np.ndarray:
    """Solar fraction of the isotope (atoms) or isotopologue (molecules, product of the atoms'
    fractions) encoded MOOG-style: 3.0007 → (code 3.0, iso 7) → f(⁷Li); 108.00116 →
    (108, 116) → f(¹H)·f(¹⁶O).  Isotope code 0 (not resolved) gives 1."""
    code = np.atleast_1d(np.asarray(code, float))
    iso = np.atleast_1d(np.asarray(isotope_code, int))
    out = np.ones(np.broadcast(code, iso).shape)
    for i, (c, k) in enumerate(np.broadcast(code, iso)):
        if k == 0:
            continue
        z = int(np.floor(c + 1e-9))
        if z <= len(ELEMENTS):
            pairs = [(z, int(k))]
        else:
            z1, z2 = molecule_atoms(z)
            a1, a2 = divmod(int(k), 100)
            pairs = [(z1, a1), (z2, a2)]
        f = 1.0
        for p in pairs:
            if p not in SOLAR_ISOTOPE_FRACTIONS:
                raise ValueError(f"no solar isotopic fraction tabulated for Z={p[0]}, A={p[1]} (code {c})")
            f *= SOLAR_ISOTOPE_FRACTIONS[p]
        out[i] = f
    return out

