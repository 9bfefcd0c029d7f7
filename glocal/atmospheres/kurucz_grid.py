"""The built-in Kurucz (1993) ATLAS9 grid ``glocal/data/atmospheres_kurucz1993.h5`` (written by
``scripts/build_data.py``) as regular (Teff, log g, [M/H]) axes with a presence mask.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .model import N_ELEMENTS, Atmosphere

__all__ = ["AtmosphereGrid", "load_grid", "GRID_PATH"]

GRID_PATH = Path(__file__).resolve().parents[1] / "data" / "atmospheres_kurucz1993.h5"


class AtmosphereGrid:
    """The committed Kurucz (1993) grid as regular axes with a presence mask.

    ``data[i_teff, i_logg, i_feh, :, q]`` holds quantity q (rhox, T, P, xne, abross) and
    ``present[i_teff, i_logg, i_feh]`` says whether the model exists (the grid has holes).
    """

    def __init__(self, teff, logg, feh, data, present, abundances, vturb, attrs=None):
        self.teff = np.asarray(teff, float)
        self.logg = np.asarray(logg, float)
        self.feh = np.asarray(feh, float)
        self.data = np.asarray(data, float)
        self.present = np.asarray(present, bool)
        self.abundances = np.asarray(abundances, float)  # (n_feh, 99)
        self.vturb = float(vturb)
        self.attrs = dict(attrs or {})
        shape = (self.teff.size, self.logg.size, self.feh.size)
        if self.present.shape != shape or self.data.shape[:3] != shape or self.data.shape[4] != 5:
            raise ValueError(f"inconsistent grid shapes: present {self.present.shape}, data {self.data.shape}")
        if self.abundances.shape != (self.feh.size, N_ELEMENTS):
            raise ValueError(f"abundance table has shape {self.abundances.shape}")
        for ax, name in ((self.teff, "teff"), (self.logg, "logg"), (self.feh, "feh")):
            if ax.size < 2 or np.any(np.diff(ax) <= 0):
                raise ValueError(f"grid axis {name} must be strictly increasing with >= 2 values")
        # log τ_Ross and log quantities per model, for interpolation on the τ scale
        with np.errstate(divide="ignore", invalid="ignore"):
            rhox, kap = self.data[..., 0], self.data[..., 4]
            tau0 = kap[..., :1] * rhox[..., :1]
            steps = 0.5 * (kap[..., 1:] + kap[..., :-1]) * np.diff(rhox, axis=-1)
            tau = np.concatenate([tau0, tau0 + np.cumsum(steps, axis=-1)], axis=-1)
            self.logtau = np.log10(tau)
            self.logq = np.stack(
                [np.log10(rhox), self.data[..., 1], np.log10(self.data[..., 2]),
                 np.log10(self.data[..., 3]), np.log10(kap)], axis=-1)
        # per (teff, feh) column: range of log g that exists (NaN when fewer than 2 models).
        # A few columns have an internal hole (e.g. [M/H]=-3, 5000 K, log g 1.0); it is bridged
        # by interpolating between the existing neighbours (a 1 dex step).
        self.gmin = np.full((self.teff.size, self.feh.size), np.nan)
        self.gmax = np.full_like(self.gmin, np.nan)
        self.internal_holes = []
        for i in range(self.teff.size):
            for k in range(self.feh.size):
                idx = np.flatnonzero(self.present[i, :, k])
                if idx.size >= 2:
                    self.gmin[i, k], self.gmax[i, k] = self.logg[idx[0]], self.logg[idx[-1]]
                    for j in sorted(set(range(idx[0], idx[-1] + 1)) - set(idx.tolist())):
                        self.internal_holes.append((self.teff[i], self.logg[j], self.feh[k]))

    @property
    def n_models(self) -> int:
        """Number of models the grid holds (nodes with ``present``)."""
        return int(self.present.sum())

    def model(self, i: int, j: int, k: int) -> Atmosphere:
        """The stored model at axis indices (teff i, logg j, feh k)."""
        if not self.present[i, j, k]:
            raise ValueError(f"no Kurucz model at Teff={self.teff[i]}, logg={self.logg[j]}, [M/H]={self.feh[k]}")
        d = self.data[i, j, k]
        return Atmosphere(self.teff[i], self.logg[j], self.feh[k], self.vturb, self.abundances[k].copy(),
                          d[:, 0], d[:, 1], d[:, 2], d[:, 3], d[:, 4],
                          source="Kurucz (1993) grid node", geometry="plane-parallel")


def _load_grid_file(path: Path) -> AtmosphereGrid:
    import h5py

    if not path.is_file():
        raise FileNotFoundError(f"built-in atmosphere grid not found: {path} (run scripts/build_data.py)")
    try:
        with h5py.File(path, "r") as f:
            teff, logg, feh = f["teff"][:], f["logg"][:], f["feh"][:]
            structure = f["structure"][:].astype(float)
            ab = f["abundances"][:].astype(float)
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
            vturb = float(f.attrs.get("vturb_kms", 2.0))
    except (OSError, KeyError) as exc:
        raise ValueError(f"{path}: corrupt or incomplete atmosphere grid file ({exc})") from exc
    ut, ug, uf = np.unique(teff), np.unique(logg), np.unique(feh)
    nd = structure.shape[1]
    data = np.full((ut.size, ug.size, uf.size, nd, 5), np.nan)
    present = np.zeros((ut.size, ug.size, uf.size), bool)
    it, ig, if_ = np.searchsorted(ut, teff), np.searchsorted(ug, logg), np.searchsorted(uf, feh)
    data[it, ig, if_] = structure
    present[it, ig, if_] = True
    # abundances: one row per [M/H]
    ab_feh = np.full((uf.size, N_ELEMENTS), np.nan)
    ab_feh[if_] = ab
    return AtmosphereGrid(ut, ug, uf, data, present, ab_feh, vturb, attrs)


@functools.lru_cache(maxsize=4)
def _cached_grid(path: str) -> AtmosphereGrid:
    return _load_grid_file(Path(path))


def load_grid(path: str | Path | None = None) -> AtmosphereGrid:
    """The built-in Kurucz (1993) grid (cached after the first call)."""
    return _cached_grid(str(Path(path) if path is not None else GRID_PATH))
