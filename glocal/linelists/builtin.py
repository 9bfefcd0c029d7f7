"""The built-in line list: the committed, pruned linemake list ``glocal/data/linelist_linemake.h5``
(format "glocal-linelist-1", written by ``scripts/build_data.py``; provenance in
``glocal/data/PROVENANCE.md``).
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .table import LineList, _empty

__all__ = ["LINELIST_PATH", "builtin_linelist"]

LINELIST_PATH = Path(__file__).resolve().parents[1] / "data" / "linelist_linemake.h5"


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
