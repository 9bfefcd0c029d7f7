"""The :class:`Atmosphere` record: one 1-D LTE model atmosphere (units and conventions in
:mod:`glocal.atmospheres`)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..elements import ELEMENTS

__all__ = ["Atmosphere", "N_ELEMENTS", "DEPTH_QUANTITIES"]

#: Number of abundance entries of a model, Z = 1…99 (:data:`glocal.elements.ELEMENTS`).
N_ELEMENTS = len(ELEMENTS)
#: Depth arrays of a model, in the column order of the built-in grid's ``structure`` table.
DEPTH_QUANTITIES = ("rhox", "T", "P", "xne", "abross")


@dataclass
class Atmosphere:
    """One 1-D LTE model atmosphere (depth arrays surface first, cgs units; see module doc)."""

    teff: float
    logg: float
    feh: float
    vturb: float
    abundances: np.ndarray
    rhox: np.ndarray
    T: np.ndarray
    P: np.ndarray
    xne: np.ndarray
    abross: np.ndarray
    source: str = ""
    geometry: str = "plane-parallel"
    tau_ross_file: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("teff", "logg", "feh", "vturb"):
            value = float(getattr(self, name))
            if not np.isfinite(value):
                raise ValueError(f"Atmosphere.{name} must be finite, got {value}")
            setattr(self, name, value)
        if self.geometry not in ("plane-parallel", "spherical"):
            raise ValueError(f"geometry must be 'plane-parallel' or 'spherical', got {self.geometry!r}")
        ab = np.asarray(self.abundances, dtype=float)
        if ab.shape != (N_ELEMENTS,):
            raise ValueError(f"abundances must have shape ({N_ELEMENTS},), got {ab.shape}")
        if not np.all(np.isfinite(ab)):
            raise ValueError("abundances contain NaN/inf")
        self.abundances = ab
        n = None
        for name in DEPTH_QUANTITIES:
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.ndim != 1 or arr.size < 2:
                raise ValueError(f"{name} must be a 1-D array with >= 2 depth points, got shape {arr.shape}")
            if n is None:
                n = arr.size
            elif arr.size != n:
                raise ValueError(f"depth arrays differ in length: {name} has {arr.size}, expected {n}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN/inf")
            if np.any(arr <= 0) and name != "xne":
                raise ValueError(f"{name} must be positive")
            setattr(self, name, arr)
        if np.any(self.xne < 0):
            raise ValueError("xne must be non-negative")
        if np.any(np.diff(self.rhox) <= 0):
            raise ValueError("rhox must increase strictly from the surface inwards")

    @property
    def ndepth(self) -> int:
        """Number of depth points."""
        return int(self.rhox.size)

    @property
    def tau_ross(self) -> np.ndarray:
        """Rosseland optical depth τ_R = ∫₀^rhox κ_R d rhox (trapezoid rule).

        Surface value: the opacity is taken constant above the top layer, so
        τ_R[0] = κ_R[0]·rhox[0] (ATLAS convention of a finite first column mass).
        """
        tau0 = self.abross[0] * self.rhox[0]
        steps = 0.5 * (self.abross[1:] + self.abross[:-1]) * np.diff(self.rhox)
        return np.concatenate([[tau0], tau0 + np.cumsum(steps)])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Depth structure as a dict of float64 arrays: rhox, T, P, xne, abross, tau_ross."""
        out = {name: np.array(getattr(self, name), dtype=float) for name in DEPTH_QUANTITIES}
        out["tau_ross"] = self.tau_ross
        return out
