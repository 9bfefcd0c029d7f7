"""Write glocal/data/overshoot_correction.csv: Eq. O1 of glocal.atmospheres.overshoot.

The ratio T_ODFNEW / T_grid at the Sun, from the Castelli & Kurucz (2003) ODFNEW solar model in
../shared/data/reference_atmospheres (not committed) and the built-in Kurucz (1993) grid interpolated to the
same parameters.  Prints the comparison with the two other solar models there (ksun.mod, MARCS 2008).

    python scripts/build_overshoot_table.py [--shared ../shared/data] [--out glocal/data/overshoot_correction.csv]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from glocal.atmospheres import grid_atmosphere, read_atmosphere
from glocal.atmospheres.overshoot import TABLE_PATH, solar_ratio_table

ROOT = Path(__file__).resolve().parents[1]
SUN = (5777.0, 4.4377, 0.0)
NOVER = "reference_atmospheres/ap00t5777g44377k1odfnew.dat"
OTHERS = {"ksun.mod (Kurucz, no overshooting)": "reference_atmospheres/ksun.mod",
          "MARCS 2008": "reference_atmospheres/sun.mod"}


def table_text(shared: Path) -> str:
    src = shared / NOVER
    log_tau, ratio = solar_ratio_table(grid_atmosphere(*SUN), read_atmosphere(src))
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    head = [f"# T_ODFNEW / T_grid at the Sun (Teff {SUN[0]:.0f} K, log g {SUN[1]}, [M/H] {SUN[2]:+.1f}) on the",
            "# Rosseland optical-depth scale: Eq. O1 of glocal.atmospheres.overshoot.",
            "# nover: Castelli & Kurucz (2003) ATLAS9 ODFNEW solar model (no overshooting), "
            f"{NOVER.split('/')[-1]} sha256 {sha}",
            "# grid: glocal.atmospheres.grid_atmosphere (Kurucz 1993 CD-ROM 13 grid, approximate overshooting)",
            "# written by scripts/build_overshoot_table.py",
            "# log_tau_ross,ratio"]
    return "\n".join(head + [f"{x:.2f},{r:.6f}" for x, r in zip(log_tau, ratio)]) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=TABLE_PATH)
    args = ap.parse_args(argv)
    text = table_text(args.shared)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, args.out)
    grid = grid_atmosphere(*SUN)
    at = {"grid (Kurucz 1993)": grid, "ODFNEW": read_atmosphere(args.shared / NOVER)}
    at |= {k: read_atmosphere(args.shared / v) for k, v in OTHERS.items()}
    print(f"wrote {args.out}; T (K) at log tau_Ross = -2, -1, 0, 0.5, 1:")
    for name, m in at.items():
        t = np.interp([-2, -1, 0, 0.5, 1], np.log10(m.tau_ross), m.T)
        print(f"  {name:36s}", " ".join(f"{v:7.0f}" for v in t))


if __name__ == "__main__":
    main()
