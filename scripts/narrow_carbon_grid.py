"""Write a ``realstars-carbon`` grid with a narrower [C/Fe] prior: most stars near solar carbon, a CEMP tail.

The ``realstars-carbon`` grid draws [C/Fe] uniformly in −0.5…+1.2 for each of the 20 abundance variants of
every atmosphere.  Halo stars are mostly at [C/Fe] ≈ 0…+0.5 and carbon-enhanced (CEMP, [C/Fe] > +0.7) stars
are a minority that grows towards low [Fe/H] (e.g. Placco et al. 2014, ApJ 797, 21: ~20 % below
[Fe/H] = −2 after evolutionary corrections).  This script keeps every spectrum with [C/Fe] ≤ ``--core-max``
and a seeded fraction ``--tail-fraction`` of those above it, so the training prior is flat over the core
and 1/4 as dense (default) in the tail.  Every atmosphere keeps its place (no model is lost), so
:func:`glocal.observed.training.split_by_atmosphere` cuts the same train/val/cal/test atmospheres as on
the full grid.  The output is written to a temporary file and renamed (never half-written).

    python scripts/narrow_carbon_grid.py --grid realstars-carbon-r40000.h5 --out realstars-carbon-narrow.h5
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import h5py
import numpy as np

ROW_GROUPS = ("flux", "continuum")


def select_rows(cfe: np.ndarray, core_max: float, tail_fraction: float, seed: int) -> np.ndarray:
    """Sorted indices kept: every row with cfe ≤ core_max, a seeded ``tail_fraction`` of the others."""
    if not 0.0 <= tail_fraction <= 1.0:
        raise ValueError(f"tail_fraction must be in [0, 1], got {tail_fraction}")
    rng = np.random.default_rng(seed)
    keep = (cfe <= core_max) | (rng.random(cfe.size) < tail_fraction)
    return np.flatnonzero(keep)


def write_subset(src: Path, out: Path, rows: np.ndarray) -> None:
    """Copy ``src`` to ``out`` keeping only ``rows`` of the per-spectrum datasets (atomic rename)."""
    tmp = out.with_name(out.name + ".tmp")
    with h5py.File(src, "r") as fin, h5py.File(tmp, "w") as fout:
        n = fin["flux"].shape[0]
        fout.attrs.update(dict(fin.attrs))

        def copy(name, obj):
            if not isinstance(obj, h5py.Dataset):
                fout.require_group(name)
                return
            data = obj[()]
            if obj.ndim >= 1 and obj.shape[0] == n and (name in ROW_GROUPS or name.startswith("labels/")):
                data = data[rows]
            fout.create_dataset(name, data=data)

        fin.visititems(copy)
        fout.attrs["subset_of"] = str(src.name)
        fout.attrs["subset_rows"] = int(rows.size)
    os.replace(tmp, out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=Path, required=True, help="realstars-carbon grid (HDF5)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--core-max", type=float, default=0.5, help="[C/Fe] up to which every spectrum is kept")
    ap.add_argument("--tail-fraction", type=float, default=0.25, help="fraction kept above --core-max")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    with h5py.File(a.grid, "r") as f:
        cfe = f["labels/cfe"][:]
        models = f["labels/model_id"][:]
    rows = select_rows(cfe, a.core_max, a.tail_fraction, a.seed)
    lost = np.setdiff1d(np.unique(models), np.unique(models[rows]))
    if lost.size:
        raise SystemExit(f"{lost.size} atmospheres would lose every variant; raise --tail-fraction")
    write_subset(a.grid, a.out, rows)
    tail = cfe[rows] > a.core_max
    print(f"{a.out}: {rows.size} of {cfe.size} spectra, {tail.mean():.1%} with [C/Fe] > {a.core_max}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
