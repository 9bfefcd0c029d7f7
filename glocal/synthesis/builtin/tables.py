"""Access to ``glocal/data/physics_tables.h5`` (built by ``scripts/build_physics_data.py``; provenance and
citations are stored in the file's attributes), the element symbols of the chemistry (Z = 1..92, from
``glocal.elements``) and the Saha constant. Physical constants come from ``glocal.constants``."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import h5py
import numpy as np

from glocal.constants import H_CGS, M_E
from glocal.constants import K_BOLTZMANN as K_CGS
from glocal.elements import ELEMENTS

SAHA_CONST = (2.0 * np.pi * M_E * K_CGS / H_CGS**2) ** 1.5  # cm^-3 K^-1.5

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "physics_tables.h5"


def table_path() -> Path:
    """Location of the physics tables (env ``GLOCAL_PHYSICS_TABLES`` overrides)."""
    return Path(os.environ.get("GLOCAL_PHYSICS_TABLES", DEFAULT_PATH))


@functools.lru_cache(maxsize=2)
def load_tables(path: str | None = None) -> dict:
    """Read every table into memory once (float64 arrays). Raises FileNotFoundError/ValueError."""
    p = Path(path) if path else table_path()
    if not p.is_file():
        raise FileNotFoundError(f"physics tables not found at {p}; run scripts/build_physics_data.py")
    try:
        with h5py.File(p, "r") as h5:
            out = {
                "symbols": h5["atoms"].attrs["symbols"].split(),
                "atom_log10_T": h5["atoms/log10_T"][:].astype(float),
                "atom_log10_U": h5["atoms/log10_U"][:].astype(float),
                "chi_eV": h5["atoms/chi_eV"][:].astype(float),
                "mass_amu": h5["atoms/mass_amu"][:].astype(float),
                "mol_names": h5["molecules"].attrs["names"].split(),
                "mol_components": [c.split() for c in h5["molecules"].attrs["components"].split(";")],
                "mol_log10_T": h5["molecules/log10_T"][:].astype(float),
                "mol_log10_Kp": h5["molecules/log10_Kp"][:].astype(float),
                "mol_log10_Q": h5["molecules/log10_Q"][:].astype(float),
                "hminus_bf": h5["continuum/hminus_bf"][:].astype(float),
                "hminus_ff": h5["continuum/hminus_ff_bell_berrington"][:].astype(float),
                "hminus_ff_wave": h5["continuum/hminus_ff_bell_berrington"].attrs["wave_A"].astype(float),
                "hminus_ff_theta": h5["continuum/hminus_ff_bell_berrington"].attrs["theta"].astype(float),
                "gaunt_ff": h5["continuum/gaunt_ff_vanhoof"][:].astype(float),
                "mg1": h5["continuum/mg1_peach_ln"][:].astype(float),
                "mg1_wave": h5["continuum/mg1_peach_ln"].attrs["wave_A"].astype(float),
                "mg1_T": h5["continuum/mg1_peach_ln"].attrs["T"].astype(float),
                "si1": h5["continuum/si1_peach_negln"][:].astype(float),
                "si1_wave": h5["continuum/si1_peach_negln"].attrs["wave_A"].astype(float),
                "si1_T": h5["continuum/si1_peach_negln"].attrs["T"].astype(float),
                "fe1": h5["continuum/fe1_pseudo_levels"][:].astype(float),
                "hydrogenic_levels": h5["continuum/hydrogenic_levels"][:].astype(float),
                "fe1_rmatrix": (h5["continuum/fe1_zatsarinny2019"].attrs["term_E_eV"].astype(float),
                                 h5["continuum/fe1_zatsarinny2019"].attrs["wavenumber_cm"].astype(float),
                                 h5["continuum/fe1_zatsarinny2019"][:].astype(float)),
                "nh_stancil": (h5["continuum/nh_stancil"].attrs["T"].astype(float),
                               h5["continuum/nh_stancil"].attrs["wave_A"].astype(float),
                               h5["continuum/nh_stancil"][:].astype(float)),
                "mol_photo": {name: (h5[f"continuum/{key}"].attrs["E_eV"].astype(float),
                                     h5[f"continuum/{key}"].attrs["T"].astype(float),
                                     h5[f"continuum/{key}"][:].astype(float),
                                     h5[f"continuum/{key}"].attrs["partition_T"].astype(float),
                                     h5[f"continuum/{key}"].attrs["partition"].astype(float))
                              for name, key in (("CH", "ch_kurucz"), ("OH", "oh_kurucz"))},
                "citations": str(h5.attrs.get("citations", "")),
                "stark": {},
            }
            for key, g in h5["hydrogen_stark"].items():
                out["stark"][key] = {
                    "lower": int(g.attrs["lower"]), "upper": int(g.attrs["upper"]),
                    "log_gf": float(g.attrs["log_gf"]),
                    "log10_x": g["log10_dnu_over_F0"][:].astype(float),
                    "log10_ne": g["log10_ne"][:].astype(float),
                    "log10_T": g["log10_T"][:].astype(float),
                    "lambda0": g["lambda0"][:].astype(float),
                    "log10_profile": g["log10_profile"][:].astype(float),
                }
    except (OSError, KeyError) as exc:
        raise ValueError(f"physics tables at {p} are corrupt or incomplete: {exc}") from exc
    return out


SYMBOLS = list(ELEMENTS[:92])  # Z = 1..92, the elements of the chemistry
ATOMIC_NUMBER = {s: i + 1 for i, s in enumerate(SYMBOLS)}


def interp_rows(x_grid: np.ndarray, table: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Linear interpolation of every row of ``table[..., n_grid]`` at points ``x`` (clamped).

    Returns an array of shape ``table.shape[:-1] + x.shape``.
    """
    x = np.asarray(x, float)
    step = x_grid[1] - x_grid[0]
    uniform = np.allclose(np.diff(x_grid), step, rtol=1e-4, atol=1e-6)
    if uniform:
        f = np.clip((x - x_grid[0]) / step, 0, len(x_grid) - 1 - 1e-9)
        i = f.astype(int)
    else:
        xc = np.clip(x, x_grid[0], x_grid[-1])
        i = np.clip(np.searchsorted(x_grid, xc) - 1, 0, len(x_grid) - 2)
        f = i + (xc - x_grid[i]) / (x_grid[i + 1] - x_grid[i])
    w = f - i
    return table[..., i] * (1 - w) + table[..., i + 1] * w
