"""Network runs trained on the ``realstars-carbon`` grid, judged beside the shipped runs: the committed record.

The shipped observed-spectra runs were trained on the ``realstars`` grid, where carbon is solar-scaled; the
real-stars chapter shows that a carbon-enhanced giant reads hundreds of K cooler because of it.  This script
takes a pair of runs trained the same way on the ``realstars-carbon`` grid ([C/Fe] −0.5…+1.2 drawn per
spectrum as a nuisance; same atmospheres, O/Mg draws and split), which are not shipped (the data budget holds
one pair), and writes what the chapter reads, ``results/observed/carbon_runs.json``:

* ``synthetic``: for the carbon runs and the shipped runs alike, the held-out test atmospheres of the split on
  the carbon grid (so with [C/Fe] varied), fresh augmentation draws (``scripts/evaluate_observed.py``'s
  ``evaluate``: MAE, bias, scatter, coverage per label);
* ``carbon_sensitivity``: :func:`glocal.real_star_study.carbon_sensitivity` for both pairs (engine spectra
  of typical halo stars at [C/Fe] −0.5, 0, +0.5, +0.9: predicted minus true labels);
* ``stars``, ``literature_errors``: every shipped development star predicted by the carbon runs (MC dropout,
  ``--mc-samples`` passes), with the UV and without it, and the errors against the literature, as in
  ``results/observed/tree_runs.json``;
* provenance: the training commands, the grid's sha256, date, git commit.

    python scripts/evaluate_carbon_runs.py --grid realstars-carbon-r40000.h5 --runs /root/glocal-runs \
        --json results/observed/carbon_runs.json

Runs trained on a subset of the carbon grid (``scripts/narrow_carbon_grid.py``: a narrower [C/Fe] prior) are
judged on the same full carbon grid: ``--grid`` stays the evaluation grid, ``--train-grid`` names the subset
(recorded as ``training_grid``), ``--prior`` describes the prior:

    python scripts/evaluate_carbon_runs.py --grid realstars-carbon-r40000.h5 \
        --train-grid realstars-carbon-narrow.h5 --runs /root/glocal-runs/narrow \
        --prior "[C/Fe] flat in -0.5..+0.5, 1/4 as dense in +0.5..+1.2" \
        --json results/observed/carbon_runs_narrow.json
"""
from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

KINDS = ("normalized", "calibrated")
SHIPPED = {kind: f"pretrained:observed-{kind}" for kind in KINDS}


def star_answers(runs: list[str], uv: bool, T: int) -> dict:
    """{star: run, band, flux_kind, flag, labels {label: value, std, err95}} of every shipped star."""
    from evaluate_tree_runs import _num

    from glocal.real_star_study import LABELS, predict_stars
    df = predict_stars(uv=uv, T=T, seed=0, runs=runs)
    return {str(star): {"run": Path(str(row["run"])).name,
                        "band": row["band"] if isinstance(row["band"], str) else None,
                        "flux_kind": row["flux_kind"], "flag": str(row["flag"]),
                        "labels": {lab: {"value": _num(row[lab]), "std": _num(row[f"{lab}_std"]),
                                         "err95": _num(row[f"{lab}_err95"])} for lab in LABELS}}
            for star, row in df.iterrows()}


def sensitivity(runs: dict, T: int) -> list[dict]:
    from glocal.real_star_study import carbon_sensitivity
    df = carbon_sensitivity(runs=runs, T=T).reset_index()
    return [{k: (float(v) if k.startswith("d") or k == "cfe" else str(v)) for k, v in row.items()}
            for row in df.to_dict(orient="records")]


def _training(run) -> dict:
    obs = run.config["observed"]
    hist = run.metrics["training"]["history"]
    return {"command": f"OMP_NUM_THREADS=1 glocal train-observed --grid {Path(obs['grid']).name} "
                       f"--kind {obs['kind']} --out observed-{obs['kind']} --copies {obs['options']['copies']} "
                       f"--max-epochs {obs['options']['max_epochs']}",
            "copies": int(obs["options"]["copies"]), "epochs": len(hist),
            "train_minutes": round(sum(h["seconds"] for h in hist) / 60, 1),
            "created_utc": run.config.get("created_utc"), "grid_sha256": run.provenance.get("dataset_sha256")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", required=True, type=Path, help="the realstars-carbon grid the runs were trained on")
    ap.add_argument("--runs", required=True, type=Path,
                    help="folder holding observed-normalized/ and observed-calibrated/")
    ap.add_argument("--train-grid", type=Path, default=None,
                    help="the grid the runs were trained on, when it is not --grid (a subset of it)")
    ap.add_argument("--prior", default="[C/Fe] uniform in -0.5..+1.2", help="the training [C/Fe] prior, in words")
    ap.add_argument("--seed", type=int, default=101, help="seed of the fresh test draws")
    ap.add_argument("--copies", type=int, default=1, help="fresh draws per held-out test spectrum")
    ap.add_argument("--mc-samples", type=int, default=30)
    ap.add_argument("--json", type=Path, default=ROOT / "results" / "observed" / "carbon_runs.json")
    a = ap.parse_args(argv)
    import h5py
    from evaluate_observed import evaluate
    from evaluate_tree_runs import _git_commit, record_errors

    from glocal._io import sha256_file, write_json
    from glocal.dataset import load_dataset
    from glocal.real_star_study import UV_CUT
    from glocal.runs import load_run
    ds = load_dataset(a.grid)
    carbon = {kind: str(a.runs / f"observed-{kind}") for kind in KINDS}
    record = {"description": "Network runs trained on the realstars-carbon grid (not shipped) beside the shipped "
                             "runs; written by scripts/evaluate_carbon_runs.py",
              "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "git_commit": _git_commit(),
              "grid": {"name": a.grid.name, "sha256": sha256_file(a.grid), "n_spectra": int(ds.n)}, "uv_cut": UV_CUT,
              "mc_samples": a.mc_samples, "carbon_prior": a.prior, "runs": {}, "synthetic": {}}
    if a.train_grid is not None:
        with h5py.File(a.train_grid, "r") as f:
            n_train = int(f["flux"].shape[0])
        record["training_grid"] = {"name": a.train_grid.name, "sha256": sha256_file(a.train_grid),
                                   "n_spectra": n_train}
    for kind in KINDS:
        run = load_run(carbon[kind])
        record["runs"][f"observed-{kind}-carbon"] = {"kind": kind, "training": _training(run)}
        for label, r in ((f"observed-{kind}-carbon", run), (f"observed-{kind} (shipped)", load_run(SHIPPED[kind]))):
            subset = a.train_grid is not None and r is run        # its split.npz indexes the subset grid
            record["synthetic"][label] = evaluate(r, ds, a.seed, a.copies, a.mc_samples, recompute_split=subset)
            print(f"{label}: held-out (carbon grid) MAE " + ", ".join(
                f"{lab} {m['mae']:.4g}" for lab, m in record["synthetic"][label]["labels"].items()), flush=True)
    record["carbon_sensitivity"] = {"shipped": sensitivity(SHIPPED, a.mc_samples),
                                    "carbon": sensitivity(carbon, a.mc_samples)}
    record["stars"] = {case: star_answers(list(carbon.values()), uv, a.mc_samples)
                       for case, uv in (("with UV", True), ("optical only", False))}
    record["literature_errors"] = record_errors(record)
    for case, errs in record["literature_errors"].items():
        print(case + ": MAE vs literature (all stars) " + ", ".join(
            f"{lab} {m['mae']:.4g} (n={m['n']})" for lab, m in errs["all"].items()))
    write_json(a.json, record)
    print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
