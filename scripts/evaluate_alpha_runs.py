"""Observed runs fine-tuned on the ``realstars-alpha`` grid (halo α pattern as a nuisance), judged beside the shipped.

The shipped observed runs were trained on spectra whose Ne, Si, S, Ar, Ca and Ti are solar-scaled; halo stars
have [Si/Fe], [Ca/Fe], [Ti/Fe] near +0.3, and engine spectra with that pattern read +0.1…0.25 dex richer in
[Fe/H] to the shipped runs (book chapter 08: the alpha twins, the carbon probes).  The ``realstars-alpha`` grid
(``make realstars-alpha-grid``) is the ``realstars`` grid with those elements drawn together in −0.1…0.6 dex;
``make alpha-runs`` fine-tunes each shipped run on it (``glocal train-observed --init-from``).  This script writes
the record that decides, kind by kind, whether a fine-tuned run replaces the shipped one
(``results/observed/alpha_runs.json``):

* ``synthetic``: the held-out test atmospheres of the split (the shipped runs' own held-out atmospheres: the
  grids share atmospheres, draws and split seed) with fresh augmentation draws shared by both runs, MAE and
  bias per label in bins of the drawn [α/Fe];
* ``probes``: :func:`glocal.real_star_study.carbon_sensitivity` at [C/Fe] −0.5 and 0 (halo α pattern
  :data:`glocal.real_star_study.PROBE_XFE`) for both pairs;
* ``stars``, ``literature_errors``: every development star with the fine-tuned pair and the shipped pair, with
  and without the UV;
* ``shipping_rule``: the rule fixed before the runs were trained, per kind, and whether each part holds.

    python scripts/evaluate_alpha_runs.py --grid /root/glocal-grids/realstars-alpha-r40000.h5 \
        --runs /root/glocal-runs/alpha --json results/observed/alpha_runs.json
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

KINDS = ("normalized", "calibrated")
SHIPPED = {kind: f"pretrained:observed-{kind}" for kind in KINDS}
#: Bins of the drawn [α/Fe] (Ca's, shared by the group; lower edge inclusive) for the held-out scores.
ALPHA_BINS = ((-0.1, 0.1), (0.1, 0.2), (0.2, 0.4), (0.4, 0.6), (-0.1, 0.6))
#: The rule fixed before training, per kind. (a) halo-like spectra ([α/Fe] >= 0.2): held-out [Fe/H] MAE lower
#: than the shipped run's; (b) near solar-scaled spectra ([α/Fe] < 0.1): held-out MAE per label within this
#: fraction of the shipped run's; (c) the kind's development stars (normalized: MIKE, calibrated: STIS, with UV):
#: MAE against the literature worse by at most these amounts.
SOLAR_TOLERANCE = 0.10
DEV_TOLERANCE = {"teff": 10.0, "feh": 0.02, "mgfe": 0.02}


def held_out(runs: dict, ds, seed: int, copies: int, T: int) -> dict:
    """MAE and bias per label and [α/Fe] bin of each run in ``runs`` ({name: run}, one kind) on the held-out
    test atmospheres of the first run's split, augmented once with ``seed`` and shared by all runs."""
    from evaluate_observed import binned_errors
    out = binned_errors(runs, ds, "cafe", ALPHA_BINS, seed, copies, T, fmt="+.1f")
    for name, bins in out.items():
        print(f"{name}: held-out MAE " + "; ".join(
            f"[a/Fe] {b}: teff {m['labels']['teff']['mae']:.4g} feh {m['labels']['feh']['mae']:.4g} "
            f"mgfe {m['labels']['mgfe']['mae']:.4g}" for b, m in bins.items()), flush=True)
    return out


def probes(runs: dict, T: int) -> list[dict]:
    """The halo-pattern probes (:data:`glocal.real_star_study.CARBON_PROBES`, :data:`~glocal.real_star_study.PROBE_XFE`)
    at [C/Fe] −0.5 (mixed giants) and 0, read by ``runs`` ({kind: run spec})."""
    from glocal.real_star_study import carbon_sensitivity
    df = carbon_sensitivity(cfe=(-0.5, 0.0), runs=runs, T=T).reset_index()
    return [{k: (float(v) if k.startswith("d") or k == "cfe" else str(v)) for k, v in row.items()}
            for row in df.to_dict(orient="records")]


def _dev_stars(kind: str) -> list[str]:
    from glocal import real_stars
    from glocal.real_star_study import stis_stars
    lit = real_stars.load_literature().set_index("star")
    stis = set(stis_stars(label="teff"))
    have = [str(s) for s in lit.index if np.isfinite(lit.loc[s, "teff"])]
    return [s for s in have if (s in stis) == (kind == "calibrated")]


def _dev_mae(record: dict, case: str, stars: list[str]) -> dict:
    from glocal.real_star_study import literature_errors, record_table
    table = record_table(record, case).loc[stars]
    return {lab: float(m["mae"]) for lab, m in literature_errors(table).to_dict(orient="index").items()
            if lab in DEV_TOLERANCE}


def shipping_rule(record: dict) -> dict:
    """Each part of the rule per kind, with the numbers it compares and whether it holds."""
    out = {}
    for kind in KINDS:
        syn = record["synthetic"][kind]
        new, old = syn["alpha"], syn["shipped"]
        halo = {b: {"shipped": old[b]["labels"]["feh"]["mae"], "alpha": new[b]["labels"]["feh"]["mae"],
                    "holds": bool(new[b]["labels"]["feh"]["mae"] < old[b]["labels"]["feh"]["mae"])}
                for b in ("+0.2..+0.4", "+0.4..+0.6")}
        solar = {lab: {"shipped": old["-0.1..+0.1"]["labels"][lab]["mae"], "alpha": m["mae"],
                       "holds": bool(m["mae"] <= (1 + SOLAR_TOLERANCE) * old["-0.1..+0.1"]["labels"][lab]["mae"])}
                 for lab, m in new["-0.1..+0.1"]["labels"].items()}
        stars = _dev_stars(kind)
        d_new, d_old = _dev_mae(record, "alpha, with UV", stars), _dev_mae(record, "shipped, with UV", stars)
        dev = {lab: {"shipped": d_old[lab], "alpha": d_new[lab], "holds": bool(d_new[lab] <= d_old[lab] + tol)}
               for lab, tol in DEV_TOLERANCE.items()}
        parts = {"halo_feh": halo, "solar_scaled": solar, "dev_stars": {"stars": stars, **dev}}
        ok = all(v["holds"] for p in (halo, solar) for v in p.values()) and all(v["holds"] for v in dev.values()
                                                                                 if isinstance(v, dict))
        out[kind] = {"parts": parts, "ship": bool(ok)}
    return {"tolerances": {"solar_scaled_fraction": SOLAR_TOLERANCE, "dev_mae": DEV_TOLERANCE}, "kinds": out}


def fine_tuned_trainings(tuned: dict) -> dict:
    """{"observed-<kind>": {"kind", "training"}} of runs fine-tuned with ``glocal train-observed --init-from``
    ({kind: run}): how each was trained, its command completed with the fine-tuning options."""
    from evaluate_carbon_runs import _training
    out = {}
    for kind, run in tuned.items():
        opts = run.config["observed"]["options"]
        training = _training(run)
        training["command"] += (f" --init-from {Path(opts['init_from']).name} --lr {opts['lr']:g}"
                                f" --lr-step {opts['lr_step']}")
        out[f"observed-{kind}"] = {"kind": kind, "training": training}
    return out


def parse_fine_tune_args(doc: str, json_name: str, grid_help: str, argv=None):
    """``(args, dataset, {kind: fine-tuned run})`` for a script judging runs fine-tuned from the shipped pair:
    ``evaluate_observed.record_parser`` plus --runs (the folder holding observed-normalized, observed-calibrated)."""
    from evaluate_observed import record_parser

    from glocal.dataset import load_dataset
    from glocal.runs import load_run
    ap = record_parser(doc, ROOT / "results" / "observed" / json_name, grid_help)
    ap.add_argument("--runs", required=True, type=Path, help="folder holding observed-normalized, observed-calibrated")
    a = ap.parse_args(argv)
    return a, load_dataset(a.grid), {kind: load_run(str(a.runs / f"observed-{kind}")) for kind in KINDS}


def judge_and_write(record: dict, rule, path: Path) -> int:
    """Apply ``rule`` (record -> {"kinds": {kind: {"ship", ...}}, ...}) as ``record["shipping_rule"]``, print the
    per-kind decision and write the record to ``path`` (atomically); returns 0."""
    from glocal._io import write_json
    record["shipping_rule"] = rule(record)
    print("ship:", {k: v["ship"] for k, v in record["shipping_rule"]["kinds"].items()})
    write_json(path, record)
    print(f"wrote {path}")
    return 0


def main(argv=None) -> int:
    from evaluate_observed import answer_stars, record_head

    from glocal.runs import load_run
    a, ds, tuned = parse_fine_tune_args(__doc__, "alpha_runs.json", "the realstars-alpha grid the runs were tuned on",
                                        argv)
    record = record_head("Network runs fine-tuned on the realstars-alpha grid beside the shipped runs; "
                         "written by scripts/evaluate_alpha_runs.py", a.grid, ds, a.mc_samples)
    record["runs"] = fine_tuned_trainings(tuned)
    record["synthetic"] = {kind: held_out({"alpha": tuned[kind], "shipped": load_run(SHIPPED[kind])}, ds, a.seed,
                                          a.copies, a.mc_samples) for kind in KINDS}
    record["probes"] = {"alpha": probes({k: str(a.runs / f"observed-{k}") for k in KINDS}, a.mc_samples),
                        "shipped": probes(SHIPPED, a.mc_samples)}
    pairs = {"alpha": [str(a.runs / f"observed-{k}") for k in KINDS], "shipped": [SHIPPED[k] for k in KINDS]}
    answer_stars(record, pairs, a.mc_samples)
    return judge_and_write(record, shipping_rule, a.json)


if __name__ == "__main__":
    sys.exit(main())
