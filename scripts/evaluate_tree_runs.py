"""Five-label tree runs for observed spectra: train them, evaluate them, write the committed record.

The real-stars chapter compares ``glocal predict`` with networks and with trees.  The tree runs are not
shipped (the data budget is full); this script trains them on the realstars grid with the recipe of
:func:`glocal.observed.training.train_observed_run` (the network runs' split, augmentation and conformal
calibration; ``--copies`` augmented draws per training spectrum) and writes the record the chapter reads,
``results/observed/tree_runs.json``:

* ``synthetic``: per run, the held-out test atmospheres of its split with fresh augmentation draws
  (``scripts/evaluate_observed.py``'s ``evaluate``: MAE, bias, scatter, coverage of the conformal 68 % and
  95 % intervals per label) and the full-coverage against no-UV MAE (``uv_comparison``);
* ``stars``: every shipped development star (:mod:`glocal.real_stars`) predicted through
  :func:`glocal.real_star_study.predict_stars` with the tree runs, with the UV and with every pixel blueward
  of :data:`glocal.real_star_study.UV_CUT` removed: per star and label the value, the 68 % half-width
  (``std``, conformal) and the flag, and the run that answered;
* ``literature_errors``: per case and label the MAE, bias and number of stars against the shipped
  literature table (:func:`glocal.real_star_study.literature_errors`), recomputable from ``stars``;
* provenance: the training command, library and version, date, git commit, grid sha256.

    python scripts/evaluate_tree_runs.py train --grid GRID --kind normalized --tree lightgbm --copies 2
    python scripts/evaluate_tree_runs.py evaluate --grid GRID --tree lightgbm --json results/observed/tree_runs.json

Training uses one thread (``n_jobs=1``; ``glocal train-observed`` has no thread option, so the estimator
built by the training code is given ``n_jobs=1`` here before it is fitted).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

KINDS = ("normalized", "calibrated")
RUNS = Path("/root/glocal-runs")


def run_dir(root: Path, kind: str, tree: str) -> Path:
    return Path(root) / f"observed-{kind}-{tree}"


def train(grid: Path, kind: str, tree: str, copies: int, root: Path, n_jobs: int = 1) -> Path:
    """Train one tree run with :func:`glocal.observed.training.train_observed_run` (``n_jobs`` threads)."""
    from glocal.observed import training
    from glocal.observed.training import ObservedTraining, train_observed_run

    build = training._estimator

    def one_thread(opts, out, progress):
        est = build(opts, out, progress)
        est.n_jobs = n_jobs
        return est

    training._estimator = one_thread
    out = run_dir(root, kind, tree)
    t0 = time.time()
    try:
        train_observed_run(grid, kind, out, ObservedTraining(model=tree, copies=copies), progress=False)
    finally:
        training._estimator = build
    print(f"trained {out} in {time.time() - t0:.0f} s")
    return out


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"



def synthetic(run, ds, seed: int, copies: int) -> dict:
    """Held-out test atmospheres of the run's split, fresh draws (``evaluate_observed.evaluate``) and the
    full-coverage against no-UV comparison (``evaluate_observed.uv_comparison``)."""
    from evaluate_observed import evaluate, uv_comparison
    out = evaluate(run, ds, seed, copies, T=2)
    out["uv_comparison"] = uv_comparison(run, ds, seed + 7, T=2)
    return out


def _num(x):
    x = float(x)
    return x if x == x else None


def star_answers(runs: list[Path], uv: bool) -> dict:
    """{star: run, band, flux_kind, flag, labels {label: value, std, err95}} of every shipped star."""
    from glocal.real_star_study import LABELS, predict_stars
    df = predict_stars(uv=uv, T=2, seed=0, runs=[str(r) for r in runs])
    out = {}
    for star, row in df.iterrows():
        out[str(star)] = {"run": Path(str(row["run"])).name if isinstance(row["run"], str) else None,
                          "band": row["band"] if isinstance(row["band"], str) else None,
                          "flux_kind": row["flux_kind"], "flag": str(row["flag"]),
                          "labels": {lab: {"value": _num(row[lab]), "std": _num(row[f"{lab}_std"]),
                                           "err95": _num(row[f"{lab}_err95"])} for lab in LABELS}}
    return out


def record_errors(record: dict) -> dict:
    """Per case, "all" stars and "stis" (STIS stars with a literature [Mg/Fe]): MAE, bias, n per label."""
    from glocal.real_star_study import literature_errors, record_table, stis_stars
    out = {}
    for case in record["stars"]:
        table = record_table(record, case)
        out[case] = {part: {lab: {k: _num(v) if k != "n" else int(v) for k, v in m.items()}
                            for lab, m in literature_errors(t).to_dict(orient="index").items()}
                     for part, t in (("all", table), ("stis", table.loc[stis_stars()]))}
    return out


def _training(run, kind: str, tree: str, root: Path) -> dict:
    """How the run was trained: the command, library and version, settings, grid checksum, wall time."""
    import importlib
    import json
    obs = run.config["observed"]
    cmd = (f"OMP_NUM_THREADS=1 python scripts/evaluate_tree_runs.py train --grid {obs['grid']} --kind {kind} "
           f"--tree {tree} --copies {obs['options']['copies']}")
    log = Path(root) / f"train-{kind}-{tree}.log"
    took = [ln for ln in log.read_text().splitlines() if ln.startswith("trained ")] if log.is_file() else []
    prov = run.path / "provenance.json"
    p = json.loads(prov.read_text()) if prov.is_file() else {}
    return {"command": cmd, "library": tree, "version": importlib.import_module(tree).__version__,
            "n_jobs": 1, "copies": int(obs["options"]["copies"]), "created_utc": run.config.get("created_utc"),
            "grid_sha256": p.get("dataset_sha256"), "n_augmented": p.get("n_augmented"),
            "wall_time_s": float(took[-1].split(" in ")[1].split()[0]) if took else None}


def evaluate_all(grid: Path, tree: str, root: Path, seed: int, copies: int) -> dict:
    """The whole record (module docstring)."""
    from glocal.dataset import load_dataset
    from glocal.real_star_study import UV_CUT
    from glocal.runs import load_run
    ds = load_dataset(grid)
    dirs = [run_dir(root, kind, tree) for kind in KINDS]
    record = {"description": "Five-label tree runs for observed spectra (not shipped): held-out synthetic test "
                             "and the shipped development stars with and without the UV; written by "
                             "scripts/evaluate_tree_runs.py", "tree": tree,
              "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "git_commit": _git_commit(),
              "uv_cut": UV_CUT, "runs": {}, "synthetic": {}, "stars": {}}
    for kind, d in zip(KINDS, dirs):
        run = load_run(d)
        record["runs"][d.name] = {"kind": kind, "training": _training(run, kind, tree, root)}
        record["synthetic"][d.name] = synthetic(run, ds, seed, copies)
        print(f"{d.name}: synthetic MAE " + ", ".join(
            f"{lab} {m['mae']:.4g} (cov68 {m['coverage68']:.2f})" for lab, m in record["synthetic"][d.name]
            ["labels"].items()))
    record["stars"] = {case: star_answers(dirs, uv) for case, uv in (("with UV", True), ("optical only", False))}
    record["literature_errors"] = record_errors(record)
    return record


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train one tree run (one thread)")
    tr.add_argument("--grid", required=True, type=Path)
    tr.add_argument("--kind", required=True, choices=KINDS)
    tr.add_argument("--tree", default="lightgbm", choices=("lightgbm", "xgboost", "catboost"))
    tr.add_argument("--copies", type=int, default=2, help="augmented draws per training spectrum")
    tr.add_argument("--runs", type=Path, default=RUNS, help="parent of the run directories")
    ev = sub.add_parser("evaluate", help="evaluate both kinds' runs and write the record")
    ev.add_argument("--grid", required=True, type=Path, help="the realstars grid the runs were trained on")
    ev.add_argument("--tree", default="lightgbm", choices=("lightgbm", "xgboost", "catboost"))
    ev.add_argument("--runs", type=Path, default=RUNS, help="parent of the run directories")
    ev.add_argument("--seed", type=int, default=101, help="seed of the fresh test draws")
    ev.add_argument("--copies", type=int, default=2, help="fresh draws per held-out test spectrum")
    ev.add_argument("--json", type=Path, default=ROOT / "results" / "observed" / "tree_runs.json")
    a = ap.parse_args(argv)
    if a.command == "train":
        train(a.grid, a.kind, a.tree, a.copies, a.runs)
        return 0
    from glocal._io import write_json
    record = evaluate_all(a.grid, a.tree, a.runs, a.seed, a.copies)
    for case, errs in record["literature_errors"].items():
        print(case + ": MAE vs literature (all stars) " + ", ".join(
            f"{lab} {m['mae']:.4g} (n={m['n']})" for lab, m in errs["all"].items())
            + f"; STIS [Mg/Fe] {errs['stis']['mgfe']['mae']:.4g}")
    write_json(a.json, record)
    print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
