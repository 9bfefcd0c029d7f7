"""Held-out evaluation of observed-spectra runs on a realstars grid, with fresh augmentation draws.

For each run (default: the shipped ``pretrained:observed-normalized`` and ``observed-calibrated``) the
test atmospheres of its own split (``split.npz`` of the training run, or recomputed from the seed in
its config) are augmented anew — S/N 30–100, E(B−V) 0–0.5 (calibrated kind), RV ±500 km/s, random
coverage keeping 4000–9000 Å, 0–2 % bad pixels — with ``--seed`` (other draws than the training
code's test set), predicted through the same function ``glocal predict`` uses (MC dropout + the
run's conformal calibration), and scored: MAE, bias, scatter, coverage of the 68 % and 95 % intervals
per label, and for the calibrated kind the mean |Δ label| between E(B−V) = 0 and 0.5 with all other
draws equal.  Prints a table and writes JSON.

    python scripts/evaluate_observed.py --grid realstars.h5 --json results/observed/evaluation.json
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def evaluate(run, ds, seed: int, copies: int, T: int) -> dict:
    from glocal.conformal import interval_coverage
    from glocal.observed.predict import _run_predictions
    from glocal.observed.training import OBSERVED_LABELS, TEST_AUGMENT, augmented_set, split_by_atmosphere

    obs = run.config["observed"]
    kind = obs["kind"]
    rows = run.split.get("test")
    if rows is None or not len(rows):
        rows = split_by_atmosphere(ds.labels["model_id"], obs["options"]["fractions"], run.config["seed"])["test"]
    X, y, _ = augmented_set(ds, rows, kind, copies, seed, TEST_AUGMENT)
    pred, std, err95 = _run_predictions(run, X, T=T, seed=seed)
    out = {"kind": kind, "n": int(len(y)), "seed": seed, "labels": {}}
    cov68, cov95 = interval_coverage(y, pred, std), interval_coverage(y, pred, err95)
    for j, lab in enumerate(OBSERVED_LABELS):
        e = pred[:, j] - y[:, j]
        out["labels"][lab] = {"mae": float(np.abs(e).mean()), "bias": float(e.mean()), "scatter": float(e.std()),
                              "coverage68": float(cov68[j]), "coverage95": float(cov95[j])}
    if kind == "calibrated":
        preds = []
        for ebv in (0.0, 0.5):
            Xe, _, _ = augmented_set(ds, rows, kind, 1, seed + 1, replace(TEST_AUGMENT, ebv=(ebv, ebv)))
            preds.append(run.estimator.predict(Xe))
        d = np.abs(preds[1] - preds[0]).mean(axis=0)
        out["reddening_shift_ebv0_to_0.5"] = {lab: float(d[j]) for j, lab in enumerate(OBSERVED_LABELS)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", required=True, type=Path, help="the realstars grid the runs were trained on")
    ap.add_argument("--runs", nargs="*", default=["pretrained:observed-normalized", "pretrained:observed-calibrated"])
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--mc-samples", type=int, default=30)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    from glocal._io import write_json
    from glocal.dataset import load_dataset
    from glocal.runs import load_run

    ds = load_dataset(a.grid)
    results = {}
    for spec in a.runs:
        r = evaluate(load_run(spec), ds, a.seed, a.copies, a.mc_samples)
        results[spec] = r
        print(f"{spec} ({r['kind']}, {r['n']} held-out spectra, seed {a.seed})")
        print("  label    MAE      bias     scatter  cover68  cover95" +
              ("  |Δ| E(B-V) 0→0.5" if "reddening_shift_ebv0_to_0.5" in r else ""))
        for lab, m in r["labels"].items():
            shift = r.get("reddening_shift_ebv0_to_0.5", {}).get(lab)
            print(f"  {lab:6s} {m['mae']:8.4g} {m['bias']:8.3g} {m['scatter']:8.4g} {m['coverage68']:8.3f} "
                  f"{m['coverage95']:8.3f}" + (f"  {shift:.4f}" if shift is not None else ""))
    if a.json:
        write_json(a.json, {"grid": str(a.grid), "results": results})
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
