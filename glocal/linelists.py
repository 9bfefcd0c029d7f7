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

Metadata: ``medium``, ``source``, ``citation``, ``isotopes_applied``.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from ._checks import check_wave_range
from ._io import read_maybe_gzipped
from .constants import EV_TO_CM1, H_IONIZATION_EV, RYDBERG_H

__all__ = [
    "LineList",
    "LINE_DTYPE",
    "read_moog",
    "read_vald",
    "read_kurucz",
    "builtin_linelist",
    "air_to_vacuum",
    "vacuum_to_air",
    "species_name",
    "species_code",
    "isotope_fraction",
    "SOLAR_ISOTOPE_FRACTIONS",
    "ELEMENTS",
    "ATOMIC_MASSES",
    "MOLECULE_NAMES",
    "LINELIST_PATH",
]

LINELIST_PATH = Path(__file__).resolve().parent / "data" / "linelist_linemake.h5"
EV_PER_CM1 = 1.0 / EV_TO_CM1  # eV per cm⁻¹ (CODATA 2018, glocal.constants)

ELEMENTS = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr "
    "Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm "
    "Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es"
).split()
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

LINE_DTYPE = np.dtype([
    ("wave", "f8"), ("species", "U8"), ("code", "f8"), ("isotope_code", "i4"), ("ion", "i1"),
    ("elow", "f8"), ("loggf", "f8"), ("gamma_rad", "f8"), ("gamma_stark", "f8"),
    ("gamma_vdw", "f8"), ("d0", "f8"), ("isotope_fraction", "f8"),
])
_MEDIA = ("air", "vacuum")


# ----------------------------------------------------------------------------------------
# Air / vacuum
# ----------------------------------------------------------------------------------------
def _check_wave(wave, name: str) -> np.ndarray:
    w = np.asarray(wave, dtype=float)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name}: wavelengths contain NaN/inf")
    if np.any(w <= 0):
        raise ValueError(f"{name}: wavelengths must be positive (Å)")
    return w


def vacuum_to_air(wave_vac):
    """Vacuum → air wavelength (Å): λ_air = λ_vac / n, Morton (2000, ApJS 130, 403) Eq. 3 with the
    Ciddor (1996) refractivity of standard air; λ < 2000 Å is left unchanged (IAU convention)."""
    w = _check_wave(wave_vac, "vacuum_to_air")
    s2 = (1e4 / w) ** 2
    n = 1.0 + 8.34254e-5 + 2.406147e-2 / (130.0 - s2) + 1.5998e-4 / (38.9 - s2)
    out = np.where(w >= 2000.0, w / n, w)
    return float(out) if np.ndim(wave_vac) == 0 else out


def air_to_vacuum(wave_air):
    """Air → vacuum wavelength (Å), inverse of :func:`vacuum_to_air` (N. Piskunov's fit used by
    VALD3, accurate to ~1e-5 Å); λ < 2000 Å is left unchanged."""
    w = _check_wave(wave_air, "air_to_vacuum")
    s2 = (1e4 / w) ** 2
    n = 1.0 + 8.336624212083e-5 + 2.408926869968e-2 / (130.1065924522 - s2) + 1.599740894897e-4 / (38.92568793293 - s2)
    out = np.where(w >= 2000.0, w * n, w)
    return float(out) if np.ndim(wave_air) == 0 else out


def hydrogen_levels(wave_air, elow_ev, n_up_max: int = 100):
    """Principal quantum numbers (n_lo, n_up) of H I lines from their air wavelength (Å) and lower-level
    energy (eV): n_lo from E_low = chi_H (1 - 1/n_lo^2), n_up from the Rydberg formula with the
    reduced-mass constant. Returns float arrays and a mask ``ok`` of lines that match a transition
    within 0.3 in n_up and have n_up <= ``n_up_max`` (line lists carry series-limit placeholders)."""
    elow = np.asarray(elow_ev, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        n_lo = np.rint(np.sqrt(H_IONIZATION_EV / (H_IONIZATION_EV - elow)))
        sigma = 1e8 / air_to_vacuum(np.asarray(wave_air, float))
        n_up_f = 1.0 / np.sqrt(1.0 / n_lo**2 - sigma / RYDBERG_H)
    n_up = np.rint(n_up_f)
    ok = np.isfinite(n_up) & (n_lo >= 1) & (n_up > n_lo) & (n_up <= n_up_max) & (np.abs(n_up_f - n_up) < 0.3)
    return n_lo, n_up, ok


# ----------------------------------------------------------------------------------------
# Species helpers
# ----------------------------------------------------------------------------------------
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


def _molecule_atoms(code: int) -> tuple[int, ...]:
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
            z1, z2 = _molecule_atoms(z)
            a1, a2 = divmod(int(k), 100)
            pairs = [(z1, a1), (z2, a2)]
        f = 1.0
        for p in pairs:
            if p not in SOLAR_ISOTOPE_FRACTIONS:
                raise ValueError(f"no solar isotopic fraction tabulated for Z={p[0]}, A={p[1]} (code {c})")
            f *= SOLAR_ISOTOPE_FRACTIONS[p]
        out[i] = f
    return out


# ----------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------
@dataclass
class LineList:
    """A line list: structured array ``data`` (see module doc) plus explicit metadata."""

    data: np.ndarray
    medium: str
    source: str = ""
    citation: str = ""
    isotopes_applied: bool = False
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.medium not in _MEDIA:
            raise ValueError(f"medium must be 'air' or 'vacuum', got {self.medium!r}")
        if not isinstance(self.data, np.ndarray) or self.data.dtype.names is None:
            raise TypeError("LineList.data must be a numpy structured array")
        missing = [n for n in LINE_DTYPE.names if n not in self.data.dtype.names]
        if missing:
            raise ValueError(f"LineList.data lacks columns {missing}")
        if self.data.dtype == LINE_DTYPE and self.data.ndim == 1:
            data = self.data
        else:
            data = np.empty(self.data.shape[0], LINE_DTYPE)
            for n in LINE_DTYPE.names:
                data[n] = self.data[n]
        for n in ("wave", "code", "elow", "loggf"):
            if not np.all(np.isfinite(data[n])):
                raise ValueError(f"LineList column {n!r} contains NaN/inf")
        if np.any(data["wave"] <= 0):
            raise ValueError("LineList wavelengths must be positive")
        self.data = data

    # -- table behaviour
    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.data[key]
        sub = self.data[key]
        if sub.ndim == 0:
            sub = sub.reshape(1)
        return self._like(sub)

    def __repr__(self) -> str:
        rng = f"{self.data['wave'].min():.2f}-{self.data['wave'].max():.2f} Å" if len(self) else "empty"
        return f"LineList({len(self)} lines, {rng}, medium={self.medium!r}, source={self.source!r})"

    def _like(self, data: np.ndarray, **changes) -> "LineList":
        kw = dict(medium=self.medium, source=self.source, citation=self.citation,
                  isotopes_applied=self.isotopes_applied, meta=dict(self.meta))
        kw.update(changes)
        return LineList(data, **kw)

    @property
    def columns(self) -> tuple[str, ...]:
        return LINE_DTYPE.names

    @property
    def is_hydrogen(self) -> np.ndarray:
        """Flag of H I lines (code 1.0): they need their own (Stark) profiles."""
        return np.isclose(self.data["code"], 1.0)

    @property
    def is_molecule(self) -> np.ndarray:
        return self.data["code"] >= 100

    def to_pandas(self):
        import pandas as pd

        df = pd.DataFrame({n: self.data[n] for n in LINE_DTYPE.names})
        df.attrs.update(medium=self.medium, source=self.source, citation=self.citation,
                        isotopes_applied=self.isotopes_applied)
        return df

    def sorted(self) -> "LineList":
        """Stable sort by wavelength."""
        return self._like(self.data[np.argsort(self.data["wave"], kind="stable")])

    def select(self, wave_range=None, species: Iterable[str] | None = None) -> "LineList":
        """Lines with wave_range[0] <= wave <= wave_range[1] and/or of the given species."""
        mask = np.ones(len(self), bool)
        if wave_range is not None:
            lo, hi = check_wave_range(wave_range)
            mask &= (self.data["wave"] >= lo) & (self.data["wave"] <= hi)
        if species is not None:
            species = [species] if isinstance(species, str) else list(species)
            mask &= np.isin(self.data["species"], species)
        return self._like(self.data[mask])

    def to_medium(self, medium: str) -> "LineList":
        """Copy with wavelengths converted to ``medium`` ("air" or "vacuum")."""
        if medium not in _MEDIA:
            raise ValueError(f"medium must be 'air' or 'vacuum', got {medium!r}")
        if medium == self.medium:
            return self._like(self.data.copy())
        data = self.data.copy()
        data["wave"] = air_to_vacuum(data["wave"]) if medium == "vacuum" else vacuum_to_air(data["wave"])
        return self._like(data, medium=medium)

    def apply_isotope_fractions(self) -> "LineList":
        """Copy with log10(isotope_fraction) added to log gf (no-op if already applied)."""
        if self.isotopes_applied:
            return self._like(self.data.copy())
        data = self.data.copy()
        frac = data["isotope_fraction"]
        if np.any(~(frac > 0)):
            raise ValueError("isotope_fraction must be > 0 to be applied")
        data["loggf"] = data["loggf"] + np.log10(frac)
        return self._like(data, isotopes_applied=True)

    def deduplicate(self) -> tuple["LineList", int]:
        """Drop exact duplicate rows (all columns equal, NaN == NaN); returns (list, n_dropped).
        The first occurrence is kept and the original order preserved."""
        data = self.data.copy()
        for n in LINE_DTYPE.names:
            if data.dtype[n].kind == "f":
                col = data[n]
                col[np.isnan(col)] = np.nan  # one canonical NaN bit pattern
        rows = np.ascontiguousarray(data).view(np.dtype((np.void, data.dtype.itemsize)))
        _, first = np.unique(rows, return_index=True)
        first.sort()
        return self._like(self.data[first]), len(self) - first.size

    @staticmethod
    def concatenate(lists: Iterable["LineList"]) -> "LineList":
        lists = list(lists)
        if not lists:
            raise ValueError("nothing to concatenate")
        media = {l.medium for l in lists}
        if len(media) != 1:
            raise ValueError(f"cannot concatenate line lists in different media {sorted(media)}; convert first")
        applied = {l.isotopes_applied for l in lists}
        if len(applied) != 1:
            raise ValueError("cannot mix lists with and without isotope fractions applied")
        return LineList(np.concatenate([l.data for l in lists]), medium=lists[0].medium,
                        source="; ".join(dict.fromkeys(l.source for l in lists)),
                        citation="; ".join(dict.fromkeys(l.citation for l in lists if l.citation)),
                        isotopes_applied=applied.pop())


def _empty(n: int) -> np.ndarray:
    data = np.zeros(n, LINE_DTYPE)
    for c in ("gamma_rad", "gamma_stark", "gamma_vdw", "d0"):
        data[c] = np.nan
    data["isotope_fraction"] = 1.0
    data["ion"] = 1
    return data


def _fill_species(data: np.ndarray) -> None:
    codes = data["code"]
    uniq, inv = np.unique(codes, return_inverse=True)
    names = np.array([species_name(c) for c in uniq], dtype="U8")
    data["species"] = names[inv]
    z = np.floor(codes + 1e-9)
    atom = z <= len(ELEMENTS)
    data["ion"] = np.where(atom, np.round((codes - z) * 10).astype(int) + 1, 1)


def _read_bytes(path) -> bytes:
    return read_maybe_gzipped(path, "line-list")


def _fixed_floats(block: np.ndarray, name: str, path, allow_blank: bool) -> np.ndarray:
    """Fixed-width byte columns → float (blank → NaN when allowed)."""
    field_ = np.char.strip(block)
    blank = field_ == b""
    if blank.any():
        if not allow_blank:
            raise ValueError(f"{path}: blank {name} field")
        field_ = np.where(blank, b"nan", field_)
    try:
        return field_.astype(float)
    except ValueError as exc:
        raise ValueError(f"{path}: non-numeric {name} field ({exc})") from exc


# ----------------------------------------------------------------------------------------
# MOOG (linemake)
# ----------------------------------------------------------------------------------------
def _line_table(raw: bytes, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets and lengths of the non-blank lines of ``raw`` (vectorised, no Python loop)."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    starts = np.concatenate([[0], nl + 1])
    ends = np.concatenate([nl, [buf.size]])
    lengths = ends - starts
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    return starts, lengths


def _gather(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, a: int, b: int) -> list[np.ndarray]:
    """Characters a..b of every line as a list of b-a uint8 columns (space-padded, CR → space)."""
    cols = []
    top = buf.size - 1
    for j in range(a, b):
        c = np.where(j < lengths, buf[np.minimum(starts + j, top)], 32).astype(np.uint8)
        c[c == 13] = 32
        cols.append(c)
    return cols


def _parse_decimal(cols: list[np.ndarray], what: str, path):
    """Vectorised parse of a fixed-width decimal field (no exponent) given as character
    columns: returns (value, mantissa, n_decimals); blank fields give NaN.  Values equal
    float(text) (integer mantissa divided by a power of ten, correctly rounded)."""
    n = cols[0].size
    mant = np.zeros(n, np.int64)
    ndig = np.zeros(n, np.int32)
    ndec = np.zeros(n, np.int32)
    ndot = np.zeros(n, np.int8)
    neg = np.zeros(n, bool)
    nsign = np.zeros(n, np.int8)
    for c in cols:
        dig = (c >= 48) & (c <= 57)
        dot = c == 46
        sign = (c == 45) | (c == 43)
        if np.any(~(dig | dot | sign | (c == 32))):
            row = int(np.flatnonzero(~(dig | dot | sign | (c == 32)))[0])
            text = bytes(int(k[row]) for k in cols).decode(errors="replace")
            raise ValueError(f"{path}: non-numeric {what} field {text!r} (record {row + 1})")
        mant = np.where(dig, mant * 10 + (c.astype(np.int64) - 48), mant)
        ndig += dig
        ndec += dig & (ndot > 0)
        ndot += dot
        neg |= c == 45
        nsign += sign
    if np.any(ndot > 1) or np.any(nsign > 1):
        raise ValueError(f"{path}: malformed {what} field (several '.' or signs)")
    if np.any(ndig > 18):
        raise ValueError(f"{path}: {what} field with more than 18 digits")
    value = np.where(neg, -1.0, 1.0) * mant / 10.0 ** ndec
    value[ndig == 0] = np.nan
    return value, mant, ndec


def read_moog(path, medium: str = "air", source: str | None = None, citation: str = "") -> LineList:
    """MOOG line list as written by linemake (Placco et al. 2021): fixed 10-character columns
    wavelength (Å), species code (with isotope digits), E_low (eV), log gf, damping, D0 (eV).

    The damping column is copied to ``gamma_vdw`` (MOOG: negative = log10 γ_6); blank → NaN.
    Isotope fractions are computed from the isotope digits (solar, Asplund et al. 2009) but not
    applied (``isotopes_applied=False``).  A first line that is not numeric is taken as a title.
    linemake wavelengths are in air.
    """
    if medium not in _MEDIA:
        raise ValueError(f"medium must be 'air' or 'vacuum', got {medium!r}")
    raw = _read_bytes(path)
    buf = np.frombuffer(raw, dtype=np.uint8)
    starts, lengths = _line_table(raw, 80)
    if starts.size:
        try:
            float(raw[starts[0]:starts[0] + min(10, lengths[0])])
        except ValueError:
            starts, lengths = starts[1:], lengths[1:]  # title line
    wave_f = _gather(buf, starts, lengths, 0, 10)
    nonblank = np.zeros(starts.size, bool)
    for c in wave_f:
        nonblank |= (c != 32)
    starts, lengths = starts[nonblank], lengths[nonblank]
    wave_f = [c[nonblank] for c in wave_f]
    if starts.size == 0:
        raise ValueError(f"{path}: empty MOOG line list")
    if np.any(lengths < 40):
        bad = int(np.flatnonzero(lengths < 40)[0])
        raise ValueError(f"{path}: line {bad + 1} is shorter than the 4 mandatory MOOG columns (truncated?)")
    wave, _, _ = _parse_decimal(wave_f, "wavelength", path)
    code, cmant, cdec = _parse_decimal(_gather(buf, starts, lengths, 10, 20), "species code", path)
    elow, _, _ = _parse_decimal(_gather(buf, starts, lengths, 20, 30), "excitation", path)
    loggf, _, _ = _parse_decimal(_gather(buf, starts, lengths, 30, 40), "log gf", path)
    damp, _, _ = _parse_decimal(_gather(buf, starts, lengths, 40, 50), "damping", path)
    d0, _, _ = _parse_decimal(_gather(buf, starts, lengths, 50, 60), "D0", path)
    for arr, name in ((wave, "wavelength"), (code, "species code"), (elow, "excitation"), (loggf, "log gf")):
        if np.isnan(arr).any():
            raise ValueError(f"{path}: blank {name} field in line {int(np.flatnonzero(np.isnan(arr))[0]) + 1}")
    z = np.floor(code + 1e-9).astype(np.int64)
    dec = cmant - z * 10 ** cdec.astype(np.int64)  # the decimal digits as an integer
    pow_ = 10 ** np.maximum(cdec - 1, 0).astype(np.int64)
    atom = z <= len(ELEMENTS)
    ion_digit = np.where(atom & (cdec >= 1), dec // pow_, 0)
    iso = np.where(atom, np.where(cdec >= 2, dec % pow_, 0), dec)
    data = _empty(wave.size)
    data["wave"], data["elow"], data["loggf"] = wave, elow, loggf
    data["code"] = code  # exactly float(text), isotope digits included
    data["isotope_code"] = iso
    data["gamma_vdw"] = np.where(damp == 0, np.nan, damp)
    _fill_species(data)
    data["d0"] = np.where(~atom, d0, np.nan)
    base = np.where(atom, z + ion_digit / 10.0, z.astype(float))
    keys, inv = np.unique(np.stack([base, iso.astype(float)], 1), axis=0, return_inverse=True)
    data["isotope_fraction"] = isotope_fraction(keys[:, 0], keys[:, 1].astype(int))[inv.ravel()]
    return LineList(data, medium=medium, source=source or Path(path).name,
                    citation=citation or "Placco et al. 2021, RNAAS 5, 92 (linemake)")


# ----------------------------------------------------------------------------------------
# VALD3
# ----------------------------------------------------------------------------------------
_VALD_ROW = re.compile(r"^'([A-Z][A-Za-z0-9]*)\s+(\d+)',(.*)$")


def read_vald(path) -> LineList:
    """VALD3 "extract stellar" or "extract all", short or long format.

    Medium from the header (``WL_air``/``WL_vac``), energies in eV or cm⁻¹ (converted to eV).
    Damping: Rad = log10 γ_rad, Stark = log10 γ_4/N_e, Waals < 0 = log10 γ_6/N_H, > 0 = ABO
    σ.α; zeros mean "not available" and become NaN.  VALD log gf already include the solar
    isotopic scaling when the file says so (``isotopes_applied``).
    """
    text = _read_bytes(path).decode("latin-1")
    lines = text.splitlines()
    header_i = next((i for i, l in enumerate(lines) if re.search(r"WL_(air|vac)", l)), None)
    if header_i is None:
        raise ValueError(f"{path}: no VALD column header (WL_air/WL_vac) found")
    header = lines[header_i]
    medium = "air" if "WL_air" in header else "vacuum"
    wl_unit = re.search(r"WL_(?:air|vac)\((\w+)\)", header)
    wl_scale = {"A": 1.0, "nm": 10.0}.get(wl_unit.group(1) if wl_unit else "A")
    if wl_scale is None:
        raise ValueError(f"{path}: unsupported VALD wavelength unit {wl_unit.group(1)!r}")
    long_format = "J lo" in header
    energy_cm = "cm^-1" in header or "cm-1" in header
    rows = []
    for line in lines[header_i + 1:]:
        m = _VALD_ROW.match(line)
        if not m:
            continue
        nums = []
        for tok in m.group(3).split(","):
            tok = tok.strip()
            if tok.startswith("'"):
                break
            if tok:
                nums.append(float(tok))
        rows.append((m.group(1), int(m.group(2)), nums))
    if not rows:
        raise ValueError(f"{path}: no VALD line rows found")
    data = _empty(len(rows))
    for i, (sp, ion, nums) in enumerate(rows):
        if long_format:
            if len(nums) < 12:
                raise ValueError(f"{path}: long-format row for {sp} {ion} has {len(nums)} numbers, need 12")
            wave, loggf, elow = nums[0], nums[1], nums[2]
            rad, stark, waals = nums[9], nums[10], nums[11]
        else:
            has_vmic = "Vmic" in header
            need = 7 + has_vmic
            if len(nums) < need:
                raise ValueError(f"{path}: short-format row for {sp} {ion} has {len(nums)} numbers, need {need}")
            wave, elow = nums[0], nums[1]
            off = 3 if has_vmic else 2
            loggf = nums[off]
            rad, stark, waals = nums[off + 1], nums[off + 2], nums[off + 3]
        code = species_code(sp) if sp in _NAME_TO_MOL or sp not in _Z else _Z[sp] + (ion - 1) / 10.0
        if code >= 100 and ion != 1:
            raise ValueError(f"{path}: ionised molecule {sp} {ion} not supported")
        data[i]["wave"] = wave * wl_scale
        data[i]["code"] = code
        data[i]["elow"] = elow * EV_PER_CM1 if energy_cm else elow
        data[i]["loggf"] = loggf
        data[i]["gamma_rad"] = rad if rad != 0 else np.nan
        data[i]["gamma_stark"] = stark if stark != 0 else np.nan
        data[i]["gamma_vdw"] = waals if waals != 0 else np.nan
    _fill_species(data)
    applied = "scaled by the solar isotopic ratios" in text
    return LineList(data, medium=medium, source=Path(path).name,
                    citation="VALD3: Ryabchikova et al. 2015, Phys. Scr. 90, 054005", isotopes_applied=applied)


# ----------------------------------------------------------------------------------------
# Kurucz
# ----------------------------------------------------------------------------------------
def read_kurucz(path, medium: str | None = None) -> LineList:
    """Kurucz line lists: gfall/gf*.dat 160-column atomic format or molecular ASCII.

    Wavelengths are nm in the files and returned in Å.  ``medium`` defaults to "vacuum" when
    the file name contains "vac" and to "air" otherwise (Kurucz: air above 200 nm).
    gfall damping columns are log10 γ_rad, log10 γ_4/N_e, log10 γ_6/N_H (0 → NaN).  The log
    isotope fraction (cols 119–124) and hyperfine fraction (cols 110–115) are stored in
    ``isotope_fraction`` (= 10^(iso + hfs)) and not applied to log gf.
    Molecular ASCII: F10.4 λ, F7.3 log gf, J, E (cm⁻¹), J', E', I4 code; E_low = min(|E|, |E'|);
    its isotope labels are not decoded (isotope_code 0, isotope_fraction 1).
    """
    path = Path(path)
    raw = _read_bytes(path)
    lines = [l for l in raw.splitlines() if l.strip()]
    if not lines:
        raise ValueError(f"{path}: empty Kurucz line list")
    if medium is None:
        medium = "vacuum" if "vac" in path.name.lower() else "air"
    if medium not in _MEDIA:
        raise ValueError(f"medium must be 'air' or 'vacuum', got {medium!r}")
    is_gfall = all(len(l.rstrip()) >= 100 for l in lines[:20])
    width = 160 if is_gfall else 80
    arr = np.array(lines, dtype=f"S{width}")
    buf = arr.view("S1").reshape(arr.size, width)

    def col(a, b):
        return np.ascontiguousarray(buf[:, a:b]).view(f"S{b - a}").ravel()

    data = _empty(arr.size)
    if is_gfall:
        wave_nm = _fixed_floats(col(0, 11), "wavelength", path, False)
        loggf = _fixed_floats(col(11, 18), "log gf", path, False)
        code = _fixed_floats(col(18, 24), "species code", path, False)
        e1 = np.abs(_fixed_floats(col(24, 36), "E1", path, False))
        e2 = np.abs(_fixed_floats(col(52, 64), "E2", path, False))
        grad = _fixed_floats(col(80, 86), "gamma_rad", path, True)
        gst = _fixed_floats(col(86, 92), "gamma_stark", path, True)
        gvw = _fixed_floats(col(92, 98), "gamma_vdw", path, True)
        iso = np.nan_to_num(_fixed_floats(col(106, 109), "isotope", path, True)).astype(int)
        hfs = np.nan_to_num(_fixed_floats(col(109, 115), "hfs fraction", path, True))
        isof = np.nan_to_num(_fixed_floats(col(118, 124), "isotope fraction", path, True))
        z = np.floor(code + 1e-9)
        charge = np.round((code - z) * 100).astype(int)
        if np.any(z < 1) or np.any(z > len(ELEMENTS)) or np.any(charge < 0):
            raise ValueError(f"{path}: invalid atomic species code in a gfall record")
        data["code"] = z + charge / 10.0
        data["isotope_code"] = iso
        data["gamma_rad"] = np.where(grad == 0, np.nan, grad)
        data["gamma_stark"] = np.where(gst == 0, np.nan, gst)
        data["gamma_vdw"] = np.where(gvw == 0, np.nan, gvw)
        data["isotope_fraction"] = 10.0 ** (isof + hfs)
        citation = "Kurucz 2011, Can. J. Phys. 89, 417 (gfall)"
    else:
        wave_nm = _fixed_floats(col(0, 10), "wavelength", path, False)
        loggf = _fixed_floats(col(10, 17), "log gf", path, False)
        e1 = np.abs(_fixed_floats(col(22, 32), "E1", path, False))
        e2 = np.abs(_fixed_floats(col(37, 48), "E2", path, False))
        code = _fixed_floats(col(48, 52), "molecule code", path, False)
        if np.any(code < 100):
            raise ValueError(f"{path}: molecular ASCII record with non-molecular code")
        data["code"] = code
        citation = "Kurucz molecular line data (kurucz.harvard.edu)"
    if np.any(wave_nm <= 0):
        raise ValueError(f"{path}: non-positive wavelength")
    data["wave"] = wave_nm * 10.0
    data["loggf"] = loggf
    data["elow"] = np.minimum(e1, e2) * EV_PER_CM1
    _fill_species(data)
    return LineList(data, medium=medium, source=path.name, citation=citation)


# ----------------------------------------------------------------------------------------
# The built-in list
# ----------------------------------------------------------------------------------------
def _load_builtin(path: Path) -> LineList:
    """Decode the committed "glocal-linelist-1" file written by scripts/build_data.py."""
    import h5py

    if not path.is_file():
        raise FileNotFoundError(f"built-in line list not found: {path} (run scripts/build_data.py)")
    try:
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format", "")
            fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
            if fmt != "glocal-linelist-1":
                raise ValueError(f"{path}: unknown line-list format {fmt!r}")
            g, t = f["lines"], f["species_table"]
            inc = g["wave_mA_increment"][:].astype(np.int64)
            gf = g["loggf_raw_mdex"][:]
            el = g["elow_meV"][:]
            idx = g["species_index"][:].astype(np.int64)
            table = {k: t[k][:] for k in ("species", "code", "isotope_code", "ion", "d0", "isotope_fraction")}
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    except (OSError, KeyError) as exc:
        raise ValueError(f"{path}: corrupt or incomplete line-list file ({exc})") from exc
    n = inc.size
    if not (gf.size == el.size == idx.size == n):
        raise ValueError(f"{path}: line-list columns differ in length")
    if n and (idx.min() < 0 or idx.max() >= table["code"].size):
        raise ValueError(f"{path}: species index out of range")
    data = _empty(n)
    data["wave"] = np.cumsum(inc) / 1000.0
    data["elow"] = el / 1000.0
    data["species"] = table["species"].astype(str)[idx]
    for k in ("code", "isotope_code", "ion", "d0", "isotope_fraction"):
        data[k] = table[k][idx]
    applied = bool(attrs.get("isotopes_applied", True))
    data["loggf"] = gf / 1000.0 + (np.log10(data["isotope_fraction"]) if applied else 0.0)
    return LineList(data, medium=str(attrs["medium"]), source=str(attrs.get("source", path.name)),
                    citation=str(attrs.get("citation", "")), isotopes_applied=applied, meta=attrs)


@functools.lru_cache(maxsize=2)
def _builtin_cached(path: str) -> LineList:
    return _load_builtin(Path(path))


def builtin_linelist(wave_range=(2500.0, 10050.0), path: str | Path | None = None) -> LineList:
    """The committed pruned linemake list (air wavelengths, isotope fractions applied) in
    ``wave_range`` (Å); H I lines are included and flagged by :attr:`LineList.is_hydrogen`."""
    full = _builtin_cached(str(Path(path) if path is not None else LINELIST_PATH))
    return full.select(wave_range=wave_range)
