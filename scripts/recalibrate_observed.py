"""Refit a trained observed run's conformal calibration on calibration spectra augmented like its test spectra.

:func:`glocal.observed.training.recalibrate_observed_run` (its docstring gives the reason and the measurement);
rewrites ``uncertainty.json`` and ``metrics.json`` → ``observed_test`` of the run directory, and prints the new
test coverage per label.

    python scripts/recalibrate_observed.py --run /root/glocal-runs/overshoot/observed-calibrated \\
        --grid /root/glocal-grids/realstars-nover-r40000.h5
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, type=Path, help="run directory written by glocal train-observed")
    ap.add_argument("--grid", required=True, type=Path, help="the grid the run was trained on")
    a = ap.parse_args(argv)
    from glocal.observed.training import recalibrate_observed_run
    test = recalibrate_observed_run(a.run, a.grid)
    for lab, m in test.items():
        if isinstance(m, dict):
            print(f"{lab:6s} coverage 68 % {m['coverage68']:.3f}  95 % {m['coverage95']:.3f}  MAE {m['mae']:.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
