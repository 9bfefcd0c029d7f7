"""A normalized-flux network run trained on the ``realstars-emp`` grid ([Fe/H] −5…−1), judged beside the shipped one.

The shipped observed runs were trained on the ``realstars`` box, whose [Fe/H] floor is −4; the real-stars
chapter shows that a star below it is answered near the floor (``metallicity_floor_probes``).  The
``realstars-emp`` preset extends the same box to [Fe/H] −5 (``make realstars-emp-grid``) and ``make emp-runs``
trains a run on it.  This script writes the record that decides whether such a run replaces the shipped one,
``results/observed/emp_runs.json``:

* ``synthetic``: the held-out test atmospheres of the EMP run's split on the EMP grid, fresh augmentation draws
  (the same draws for both runs, as ``scripts/evaluate_observed.py``), MAE and bias per label in [Fe/H] bins,
  for the EMP run and for the shipped run (which never saw [Fe/H] < −4: its numbers there show the floor);
* ``floor_probes``: :func:`glocal.real_star_study.metallicity_floor_probes` for both runs;
* ``stars``, ``literature_errors``: every development star predicted with the EMP normalized run beside the
  shipped calibrated run, with and without the UV, errors against the literature;
* ``shipping_rule``: the rule fixed before the run was trained and whether each part holds.

    python scripts/evaluate_emp_runs.py --grid /root/glocal-grids/realstars-emp-r40000.h5 \
        --run /root/glocal-runs/emp/observed-normalized --json results/observed/emp_runs.json
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

SHIPPED = "pretrained:observed-normalized"
CALIBRATED = "pretrained:observed-calibrated"
#: [Fe/H] bins of the held-out scores (lower edge inclusive).
FEH_BINS = ((-5.0, -4.0), (-4.0, -3.0), (-3.0, -2.0), (-2.0, -1.0), (-4.0, -1.0))
#: The rule fixed before training: dev-star MAE may worsen by at most these amounts ...
DEV_TOLERANCE = {"teff": 10.0, "feh": 0.02, "mgfe": 0.02}
#: ... the held-out MAE over [Fe/H] >= -4 by at most this fraction per label, and every floor probe at or
#: below -4.25 must be answered within this many dex.
SYNTHETIC_TOLERANCE = 0.10
FLOOR_TOLERANCE = 0.3


def held_out(runs: dict, ds, seed: int, copies: int, T: int) -> dict:
    """MAE and bias per label and [Fe/H] bin of each run in ``runs`` ({name: run}) on the held-out test
    atmospheres of the first run's split, augmented once with ``seed`` and shared by all runs."""
    from evaluate_observed import binned_errors
    out = binned_errors(runs, ds, "feh", FEH_BINS, seed, copies, T, fmt="+.0f")
    for name, bins in out.items():
        print(name + ": held-out MAE over -4..-1: " + ", ".join(
            f"{lab} {m['mae']:.4g}" for lab, m in bins["-4..-1"]["labels"].items())
              + "; below -4: " + ", ".join(f"{lab} {m['mae']:.4g}" for lab, m in bins["-5..-4"]["labels"].items()),
              flush=True)
    return out


def floor(spec, T: int) -> list[dict]:
    from glocal.real_star_study import metallicity_floor_probes
    df = metallicity_floor_probes(runs={"normalized": spec}, T=T).reset_index()
    return [{k: (str(v) if k in ("star", "flag") else float(v)) for k, v in row.items()}
            for row in df.to_dict(orient="records")]


def shipping_rule(record: dict) -> dict:
    """Each part of the rule, with the numbers it compares and whether it holds."""
    dev_new = record["literature_errors"]["emp, with UV"]["all"]
    dev_old = record["literature_errors"]["shipped, with UV"]["all"]
    dev = {lab: {"shipped": dev_old[lab]["mae"], "emp": dev_new[lab]["mae"],
                 "holds": bool(dev_new[lab]["mae"] <= dev_old[lab]["mae"] + tol)} for lab, tol in DEV_TOLERANCE.items()}
    syn_new = record["synthetic"]["emp"]["-4..-1"]["labels"]
    syn_old = record["synthetic"]["shipped"]["-4..-1"]["labels"]
    syn = {lab: {"shipped": syn_old[lab]["mae"], "emp": syn_new[lab]["mae"],
                 "holds": bool(syn_new[lab]["mae"] <= (1 + SYNTHETIC_TOLERANCE) * syn_old[lab]["mae"])}
           for lab in syn_new}
    probes = [p for p in record["floor_probes"]["emp"] if p["feh_true"] <= -4.25]
    worst = max(abs(p["dfeh"]) for p in probes)
    parts = {"dev_stars": dev, "held_out_feh_ge_-4": syn,
             "floor_probes": {"worst_abs_dfeh": worst, "holds": bool(worst <= FLOOR_TOLERANCE)}}
    ok = (all(v["holds"] for v in dev.values()) and all(v["holds"] for v in syn.values())
          and parts["floor_probes"]["holds"])
    return {"tolerances": {"dev_mae": DEV_TOLERANCE, "held_out_fraction": SYNTHETIC_TOLERANCE,
                           "floor_dex": FLOOR_TOLERANCE}, "parts": parts, "ship": bool(ok)}


def main(argv=None) -> int:
    from evaluate_observed import answer_stars, record_head, record_parser
    ap = record_parser(__doc__, ROOT / "results" / "observed" / "emp_runs.json",
                       "the realstars-emp grid the run was trained on")
    ap.add_argument("--run", required=True, type=Path, help="the EMP observed-normalized run folder")
    a = ap.parse_args(argv)
    from evaluate_carbon_runs import _training

    from glocal._io import write_json
    from glocal.dataset import load_dataset
    from glocal.runs import load_run
    ds = load_dataset(a.grid)
    emp, shipped = load_run(str(a.run)), load_run(SHIPPED)
    record = record_head("A normalized network run trained on the realstars-emp grid beside the shipped one; "
                         "written by scripts/evaluate_emp_runs.py", a.grid, ds, a.mc_samples)
    record["run"] = {"training": _training(emp)}
    record["run"]["training"]["command"] = record["run"]["training"]["command"].replace(   # as `make emp-runs`
        "OMP_NUM_THREADS=1", "OMP_NUM_THREADS=2")
    record["synthetic"] = held_out({"emp": emp, "shipped": shipped}, ds, a.seed, a.copies, a.mc_samples)
    record["floor_probes"] = {"emp": floor(str(a.run), a.mc_samples), "shipped": floor(SHIPPED, a.mc_samples)}
    for p in record["floor_probes"]["emp"]:
        print(f"floor probe {p['star']} {p['feh_true']:+.2f}: emp answers {p['feh']:+.2f} ({p['flag']})")
    pairs = {"emp": [str(a.run), CALIBRATED], "shipped": [SHIPPED, CALIBRATED]}
    answer_stars(record, pairs, a.mc_samples)
    record["shipping_rule"] = shipping_rule(record)
    print("ship:", record["shipping_rule"]["ship"])
    write_json(a.json, record)
    print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
