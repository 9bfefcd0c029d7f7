"""The line-list table: :class:`LineList` (a numpy structured array of :data:`LINE_DTYPE` rows plus
its metadata) and the helpers the readers use to fill one.  Columns: see :mod:`glocal.linelists`.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_wave_range
from .species import ELEMENTS, species_name
from .wavelengths import air_to_vacuum, vacuum_to_air

__all__ = ["LINE_DTYPE", "LineList"]

LINE_DTYPE = np.dtype([
    ("wave", "f8"), ("species", "U8"), ("code", "f8"), ("isotope_code", "i4"), ("ion", "i1"),
    ("elow", "f8"), ("loggf", "f8"), ("gamma_rad", "f8"), ("gamma_stark", "f8"),
    ("gamma_vdw", "f8"), ("d0", "f8"), ("isotope_fraction", "f8"),
])
_MEDIA = ("air", "vacuum")


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

    def _like(self, data: np.ndarray, **changes) -> LineList:
        kw = dict(medium=self.medium, source=self.source, citation=self.citation,
                  isotopes_applied=self.isotopes_applied, meta=dict(self.meta))
        kw.update(changes)
        return LineList(data, **kw)

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names of :data:`LINE_DTYPE`, in storage order."""
        return LINE_DTYPE.names

    @property
    def is_hydrogen(self) -> np.ndarray:
        """Flag of H I lines (code 1.0): they need their own (Stark) profiles."""
        return np.isclose(self.data["code"], 1.0)

    @property
    def is_molecule(self) -> np.ndarray:
        """Flag of molecular lines (MOOG code ≥ 100)."""
        return self.data["code"] >= 100

    def to_pandas(self):
        """The table as a ``pandas.DataFrame`` (one column per field; metadata in ``df.attrs``)."""
        import pandas as pd

        df = pd.DataFrame({n: self.data[n] for n in LINE_DTYPE.names})
        df.attrs.update(medium=self.medium, source=self.source, citation=self.citation,
                        isotopes_applied=self.isotopes_applied)
        return df

    def sorted(self) -> LineList:
        """Stable sort by wavelength."""
        return self._like(self.data[np.argsort(self.data["wave"], kind="stable")])

    def select(self, wave_range=None, species: Iterable[str] | None = None) -> LineList:
        """Lines with wave_range[0] <= wave <= wave_range[1] and/or of the given species."""
        mask = np.ones(len(self), bool)
        if wave_range is not None:
            lo, hi = check_wave_range(wave_range)
            mask &= (self.data["wave"] >= lo) & (self.data["wave"] <= hi)
        if species is not None:
            species = [species] if isinstance(species, str) else list(species)
            mask &= np.isin(self.data["species"], species)
        return self._like(self.data[mask])

    def to_medium(self, medium: str) -> LineList:
        """Copy with wavelengths converted to ``medium`` ("air" or "vacuum")."""
        if medium not in _MEDIA:
            raise ValueError(f"medium must be 'air' or 'vacuum', got {medium!r}")
        if medium == self.medium:
            return self._like(self.data.copy())
        data = self.data.copy()
        data["wave"] = air_to_vacuum(data["wave"]) if medium == "vacuum" else vacuum_to_air(data["wave"])
        return self._like(data, medium=medium)

    def apply_isotope_fractions(self) -> LineList:
        """Copy with log10(isotope_fraction) added to log gf (no-op if already applied)."""
        if self.isotopes_applied:
            return self._like(self.data.copy())
        data = self.data.copy()
        frac = data["isotope_fraction"]
        if np.any(~(frac > 0)):
            raise ValueError("isotope_fraction must be > 0 to be applied")
        data["loggf"] = data["loggf"] + np.log10(frac)
        return self._like(data, isotopes_applied=True)

    def deduplicate(self) -> tuple[LineList, int]:
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
    def concatenate(lists: Iterable[LineList]) -> LineList:
        """One list of the rows of ``lists`` in the given order; they must share the medium and
        ``isotopes_applied`` (ValueError otherwise); sources and citations are joined."""
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

