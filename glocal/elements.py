"""The periodic table as glocal uses it: symbols Z = 1…99 and standard atomic weights.

The single source of the element table for the package and for ``scripts/`` (the line-list,
atmosphere, abundance and chemistry code all index elements by Z through :data:`ELEMENTS`).
"""
from __future__ import annotations

import numpy as np

__all__ = ["ELEMENTS", "ATOMIC_MASSES", "atomic_number"]

#: Element symbols, Z = 1…99 (index Z − 1).
ELEMENTS: tuple[str, ...] = tuple(
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr "
    "Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm "
    "Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es".split()
)
_Z = {s: i + 1 for i, s in enumerate(ELEMENTS)}
#: Standard atomic weights (amu, IUPAC; mass number of the longest-lived isotope for
#: elements without stable isotopes), Z = 1…99.
ATOMIC_MASSES = np.array([
    1.008, 4.003, 6.94, 9.012, 10.81, 12.011, 14.007, 15.999, 18.998, 20.180, 22.990, 24.305,
    26.982, 28.085, 30.974, 32.06, 35.45, 39.948, 39.098, 40.078, 44.956, 47.867, 50.942, 51.996,
    54.938, 55.845, 58.933, 58.693, 63.546, 65.38, 69.723, 72.630, 74.922, 78.971, 79.904, 83.798,
    85.468, 87.62, 88.906, 91.224, 92.906, 95.95, 97, 101.07, 102.906, 106.42, 107.868, 112.414,
    114.818, 118.710, 121.760, 127.60, 126.904, 131.293, 132.905, 137.327, 138.905, 140.116,
    140.908, 144.242, 145, 150.36, 151.964, 157.25, 158.925, 162.500, 164.930, 167.259, 168.934,
    173.045, 174.967, 178.49, 180.948, 183.84, 186.207, 190.23, 192.217, 195.084, 196.967,
    200.592, 204.38, 207.2, 208.980, 209, 210, 222, 223, 226, 227, 232.038, 231.036, 238.029, 237,
    244, 243, 247, 247, 251, 252,
])


def atomic_number(symbol: str) -> int:
    """Z of an element symbol (case-insensitive, e.g. "Mg" or "mg" → 12); ValueError when unknown."""
    z = _Z_LOWER.get(str(symbol).strip().lower())
    if z is None:
        raise ValueError(f"unknown element symbol {symbol!r}")
    return z


_Z_LOWER = {s.lower(): z for s, z in _Z.items()}
