"""Held-out evaluation of observed-spectra runs on a realstars grid, with fresh augmentation draws.

For each run (default: the shipped ``pretrained:observed-normalized`` and ``observed-calibrated``) the
test atmospheres of its own split (``split.npz`` of the training run, or recomputed from the seed in
its config) are augmented anew — S/N 30–100, E(B−V) 0–0.5 (calibrated kind), RV ±500 km/s, random
coverage keeping 4000–9000 Å, 0–2 % bad pixels — with ``--seed`` (other draws than the training
code's test set), predicted through the same function ``glocal predict`` uses (MC dropout + the
run's conformal calibration), and scored: MAE, bias, scatter, coverage of the 68 % and 95 % intervals
per label, and for the calibrated kind the mean |Δ label| between E(B−V) = 0 and 0.5 with all other
draws equal.  ``--uv`` adds the paper's question on the same held-out spectra: full coverage 2550–10000 Å
against every pixel blueward of 4000 Å removed (no other coverage cut), MAE per label.  Prints a table and
writes JSON.

    python scripts/evaluate_observed.py --grid realstars.h5 --json results/observed/evaluation.json

``--update`` keeps the other runs' results already in the JSON file (each result records its grid), so runs
trained on different grids (``realstars``, ``realstars-carbon``) can share one record.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def record_parser(doc: str, default_json: Path, grid_help: str) -> argparse.ArgumentParser:
    """The options shared by the scripts that judge candidate runs against the shipped ones (``evaluate_emp_runs``,
    ``evaluate_alpha_runs``, ``evaluate_damping_runs``): --grid (required), --seed, --copies, --mc-samples, --json."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--grid", required=True, type=Path, help=grid_help)
    ap.add_argument("--seed", type=int, default=101, help="seed of the fresh test draws")
    ap.add_argument("--copies", type=int, default=1, help="fresh draws per held-out test spectrum")
    ap.add_argument("--mc-samples", type=int, default=30)
    ap.add_argument("--json", type=Path, default=default_json)
    return ap


def record_head(description: str, grid: Path, ds, mc_samples: int) -> dict:
    """The opening of such a record: description, UTC date, git commit, the grid (name, sha256, size), T."""
    import datetime as _dt

    from evaluate_tree_runs import _git_commit

    from glocal._io import sha256_file
    return {"description": description, "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "git_commit": _git_commit(),
            "grid": {"name": grid.name, "sha256": sha256_file(grid), "n_spectra": int(ds.n)}, "mc_samples": mc_samples}


def answer_stars(record: dict, pairs: dict, T: int) -> None:
    """Fill ``record["stars"]`` ("<name>, with UV" and "<name>, optical only": every development star answered by the
    run specs ``pairs[name]``, one per flux kind) and ``record["literature_errors"]`` from those answers, printing
    the MAE of each case against the literature."""
    from evaluate_carbon_runs import star_answers
    from evaluate_tree_runs import record_errors
    record["stars"] = {f"{name}, {case}": star_answers(runs, uv, T)
                       for name, runs in pairs.items() for case, uv in (("with UV", True), ("optical only", False))}
    record["literature_errors"] = record_errors(record)
    for case, errs in record["literature_errors"].items():
        print(case + ": MAE vs literature (all stars) " + ", ".join(
            f"{lab} {m['mae']:.4g} (n={m['n']})" for lab, m in errs["all"].items()))


def test_rows(run, ds, recompute: bool = False):
    """The run's held-out rows: its split.npz, or (shipped runs, which drop it; or ``recompute``: ``ds`` is not
    the grid the run was trained on, e.g. the full grid of a subset) the split recomputed on ``ds`` from the
    seed and fractions in its config (:func:`glocal.observed.training.split_by_atmosphere`: the same test
    atmospheres wherever every atmosphere is present)."""
    from glocal.observed.training import split_by_atmosphere
    rows = None if recompute else run.split.get("test")
    if rows is None or not len(rows):
        obs = run.config["observed"]
        rows = split_by_atmosphere(ds.labels["model_id"], obs["options"]["fractions"], run.config["seed"])["test"]
    return rows


def binned_errors(runs: dict, ds, label: str, bins, seed: int, copies: int, T: int, fmt: str = "+.0f") -> dict:
    """MAE and bias per label of each run in ``runs`` ({name: run}, one flux kind) on the held-out test
    atmospheres of the first run's split, augmented once with ``seed`` and shared by all runs, in ``bins``
    ((lo, hi), ...) of the dataset label ``label`` (lower edge inclusive; the highest edge inclusive too):
    {name: {"lo..hi": {"n", "labels": {label: {"mae", "bias"}}}}}, the keys written with ``fmt``."""
    from glocal.observed.predict import _run_predictions
    from glocal.observed.training import OBSERVED_LABELS, TEST_AUGMENT, augmented_set
    first = next(iter(runs.values()))
    rows = test_rows(first, ds)
    X, y, _ = augmented_set(ds, rows, first.config["observed"]["kind"], copies, seed, TEST_AUGMENT)
    value = np.tile(np.asarray(ds.labels[label])[rows], copies)
    top = max(hi for _, hi in bins)
    out = {}
    for name, run in runs.items():
        pred, _, _ = _run_predictions(run, X, T=T, seed=seed)
        scores = {}
        for lo, hi in bins:
            sel = (value >= lo) & ((value < hi) if hi < top else (value <= hi))
            e = pred[sel] - y[sel]
            scores[f"{lo:{fmt}}..{hi:{fmt}}"] = {"n": int(sel.sum()), "labels": {
                lab: {"mae": float(np.abs(e[:, j]).mean()), "bias": float(e[:, j].mean())}
                for j, lab in enumerate(OBSERVED_LABELS)}}
        out[name] = scores
    return out


def evaluate(run, ds, seed: int, copies: int, T: int, recompute_split: bool = False) -> dict:
    from glocal.conformal import interval_coverage
    from glocal.observed.predict import _run_predictions
    from glocal.observed.training import OBSERVED_LABELS, TEST_AUGMENT, augmented_set

    kind = run.config["observed"]["kind"]
    rows = test_rows(run, ds, recompute_split)
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


def uv_comparison(run, ds, seed: int, T: int) -> dict:
    """MAE per label on the run's held-out atmospheres with full coverage and with λ < 4000 Å removed."""
    from glocal.observed.predict import _run_predictions
    from glocal.observed.training import OBSERVED_LABELS, TEST_AUGMENT, augmented_set

    kind = run.config["observed"]["kind"]
    cfg = replace(TEST_AUGMENT, cut_probability=0.0)
    X, y, _ = augmented_set(ds, test_rows(run, ds), kind, 1, seed, cfg)
    out = {}
    for case, keep in (("with UV", np.ones(ds.wave.size, bool)), ("optical only", ds.wave >= 4000.0)):
        Xc = np.where(keep[None, :], X, np.nan)
        if kind == "calibrated":          # renormalise on the kept pixels, as predict does for such an input
            Xc = _renormalise(ds.wave, X, keep, seed)
        pred = _run_predictions(run, Xc, T=T, seed=seed)[0]
        out[case] = {lab: float(np.abs(pred[:, j] - y[:, j]).mean()) for j, lab in enumerate(OBSERVED_LABELS)}
    return out


def _renormalise(wave, X, keep, seed):
    """Calibrated inputs N = F/exp P: N·exp P is F up to the fitted smooth factor, so the optical-only input is
    the optical part renormalised by the same smooth fit on the kept pixels (glocal.observed.normalize)."""
    from glocal.observed.normalize import normalize_calibrated
    out = np.full_like(X, np.nan)
    for i, row in enumerate(X):
        mask = ~keep | ~np.isfinite(row)
        out[i] = normalize_calibrated(wave, np.where(mask, 1.0, row), mask)[0]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", required=True, type=Path, help="the realstars grid the runs were trained on")
    ap.add_argument("--runs", nargs="*", default=["pretrained:observed-normalized", "pretrained:observed-calibrated"])
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--mc-samples", type=int, default=30)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--uv", action="store_true", help="also compare full coverage with λ < 4000 Å removed")
    ap.add_argument("--update", action="store_true", help="keep the other runs' results in --json")
    a = ap.parse_args(argv)
    from glocal._io import write_json
    from glocal.dataset import load_dataset
    from glocal.runs import load_run

    ds = load_dataset(a.grid)
    results = {}
    for spec in a.runs:
        run = load_run(spec)
        r = evaluate(run, ds, a.seed, a.copies, a.mc_samples)
        r["grid"] = str(a.grid)
        if a.uv:
            r["uv_comparison"] = uv_comparison(run, ds, a.seed + 7, a.mc_samples)
            print("  MAE with UV / optical only: " + ", ".join(
                f"{lab} {r['uv_comparison']['with UV'][lab]:.4g} / {r['uv_comparison']['optical only'][lab]:.4g}"
                for lab in r["uv_comparison"]["with UV"]))
        results[spec] = r
        print(f"{spec} ({r['kind']}, {r['n']} held-out spectra, seed {a.seed})")
        print("  label    MAE      bias     scatter  cover68  cover95" +
              ("  |Δ| E(B-V) 0→0.5" if "reddening_shift_ebv0_to_0.5" in r else ""))
        for lab, m in r["labels"].items():
            shift = r.get("reddening_shift_ebv0_to_0.5", {}).get(lab)
            print(f"  {lab:6s} {m['mae']:8.4g} {m['bias']:8.3g} {m['scatter']:8.4g} {m['coverage68']:8.3f} "
                  f"{m['coverage95']:8.3f}" + (f"  {shift:.4f}" if shift is not None else ""))
    if a.json:
        if a.update and a.json.is_file():
            old = json.loads(a.json.read_text())
            kept = {spec: {"grid": old.get("grid", "")} | r for spec, r in old["results"].items()
                    if spec not in results}
            results = kept | results
        write_json(a.json, {"results": results})
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
