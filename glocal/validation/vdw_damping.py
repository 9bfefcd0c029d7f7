"""How far Unsöld's van der Waals widths fall below Anstee–Barklem–O'Mara (ABO) theory, on real line data.

The built-in line list (linemake) gives a van der Waals value for only 4 580 of its 83 650 atomic lines; the
engine gives the rest Unsöld's (1955) hydrogenic γ₆ (``glocal.synthesis.builtin.profiles``), which is known
to be too narrow. The reference here is the GALAH DR3 line list (Buder et al. 2021, in Korg's HDF5
repackaging, ``../shared/data/linelists/galah_dr3_linelist.h5``): 1 241 of its atomic lines carry ABO
cross-sections σ (a₀², at 10⁴ m/s) and velocity exponents α (Anstee & O'Mara 1995; Barklem & O'Mara 1997;
Barklem, O'Mara & Ross 1998). For each such line :func:`abo_over_unsold` evaluates, with the engine's own
functions, γ₆(ABO, T) / γ₆(Unsöld, T) per hydrogen atom; the median of that ratio is what
``BuiltinOptions.unsold_enhancement`` stands in for on the lines that have no data.

Assumption: the lines with ABO data are representative of those without (they are mostly Fe-group lines
of low and intermediate excitation, as are the linemake lines without damping). The spread is real:
the 16–84 % range of log₁₀ ratio is about −0.14…+0.26 for neutrals.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["GALAH_LIST", "CA_II_HK_ABO", "load_galah_abo_lines", "abo_over_unsold", "enhancement_summary"]

#: The GALAH DR3 list as shared with the project (Korg repackaging).
GALAH_LIST = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "linelists" / "galah_dr3_linelist.h5"
#: Ca II H & K (3933.663, 3968.469 Å air, lower level 0 eV): packed ABO σ.α = 234.223 (Barklem & O'Mara
#: 1998, MNRAS 300, 863, as given on Barklem's "How to use ABO data" page).
CA_II_HK_ABO = {"wave": (3933.663, 3968.469), "elow": 0.0, "packed": 234.223}


def load_galah_abo_lines(path=None) -> dict:
    """The atomic lines (neutral and singly ionised) of the GALAH DR3 list with packed ABO values (> 20):
    dict of arrays ``wave`` (Å), ``Z``, ``stage`` (1 = neutral), ``elow`` (eV), ``packed`` (σ.α)."""
    import h5py
    path = Path(GALAH_LIST if path is None else path)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found (the GALAH DR3 list of ../shared/data/linelists)")
    with h5py.File(path, "r") as f:
        formula = f["formula"][:]
        stage = f["ionization"][:].astype(int)
        vdw = f["vdW"][:].astype(float)
        sel = (formula[:, 1] == 0) & (stage <= 2) & (vdw > 20)
        return {"wave": f["wl"][:].astype(float)[sel], "Z": formula[sel, 0].astype(int), "stage": stage[sel],
                "elow": f["E_lo"][:].astype(float)[sel], "packed": vdw[sel]}


def abo_over_unsold(wave, Z, stage, elow, packed, T) -> np.ndarray:
    """γ₆(ABO) / γ₆(Unsöld) per H atom at temperature ``T`` (K) for lines given by their air wavelength (Å),
    atomic number, ionisation stage (1 = neutral), lower-level energy (eV) and packed σ.α; NaN where the
    engine has no Unsöld estimate (upper level above the ionisation limit)."""
    from ..elements import ATOMIC_MASSES
    from ..synthesis.builtin.profiles import _damping_depth_factors, damping_coefficients
    wave, Z, stage, elow, packed = (np.atleast_1d(np.asarray(x)) for x in (wave, Z, stage, elow, packed))
    mass = ATOMIC_MASSES[Z - 1]
    nan = np.full(wave.size, np.nan)
    g6_unsold_1e4 = damping_coefficients(wave, Z, stage, elow, nan, nan, nan, mass)[2]
    _, _, _, C, B, E = damping_coefficients(wave, Z, stage, elow, nan, nan, packed.astype(float), mass)
    _, scale = _damping_depth_factors(np.array([float(T)]), np.array([1.0]), np.array([1.0]))
    unsold = g6_unsold_1e4 * scale[0]
    abo = C * np.exp(B + E * np.log(float(T)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(unsold > 0, abo / unsold, np.nan)


def enhancement_summary(temperatures=(5000.0, 6000.0), path=None) -> dict:
    """Median ABO/Unsöld ratio of the GALAH lines per stage ("neutral", "ion", "all") and for Ca II H&K, each
    averaged (in log) over ``temperatures``; also ``n`` per stage and the 16/84 % points of log₁₀ ratio."""
    lines = load_galah_abo_lines(path)
    logs = np.mean([np.log10(abo_over_unsold(lines["wave"], lines["Z"], lines["stage"], lines["elow"],
                                             lines["packed"], T)) for T in temperatures], axis=0)
    out = {}
    for name, sel in (("neutral", lines["stage"] == 1), ("ion", lines["stage"] == 2),
                      ("all", np.ones(lines["stage"].size, bool))):
        r = logs[sel & np.isfinite(logs)]
        out[name] = {"n": int(r.size), "median": float(10 ** np.median(r)),
                     "log16": float(np.percentile(r, 16)), "log84": float(np.percentile(r, 84))}
    hk = CA_II_HK_ABO
    n = len(hk["wave"])
    r_hk = np.mean([np.log10(abo_over_unsold(hk["wave"], np.full(n, 20), np.full(n, 2), np.full(n, hk["elow"]),
                                             np.full(n, hk["packed"]), T)) for T in temperatures], axis=0)
    out["ca_ii_hk"] = float(10 ** np.mean(r_hk))
    return out
