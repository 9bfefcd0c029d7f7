"""Observed runs fine-tuned on spectra with wider van der Waals damping (ABO-scaled Unsöld), judged beside the shipped.

The shipped runs were trained on engine spectra whose atomic lines without list data (95 % of them) have Unsöld's
γ₆, which Anstee–Barklem–O'Mara theory puts 1.35× higher (median over the GALAH DR3 lines with ABO data,
:mod:`glocal.validation.vdw_damping`).  Engine twins of the development stars made with that wider damping read
richer and hotter to the shipped runs (``twins`` below), the sense in which the STIS dwarfs depart from their
literature labels.  ``make damping-runs`` fine-tunes each shipped run on the ``realstars-alpha`` atmospheres and
draws synthesised with ``unsold_enhancement=1.35`` (``make realstars-damping-grid``, the first 800 atmospheres);
this script writes the record that decides, kind by kind, whether a fine-tuned run replaces the shipped one
(``results/observed/damping_runs.json``):

* ``enhancement``: the ABO / Unsöld ratios the option stands for (needs ``../shared/data``; null without it);
* ``twins``: :func:`glocal.real_star_study.synthetic_twins` (halo-α twins at the literature labels) with Unsöld and
  with the grid's enhancement, read by the shipped runs;
* ``synthetic``: the fine-tuned runs' held-out test atmospheres with fresh augmentation draws shared by both runs,
  MAE and bias per label in bins of [α/Fe] (``evaluate_alpha_runs.held_out``);
* ``stars``, ``literature_errors``: every development star with the fine-tuned pair and the shipped pair, with and
  without the UV;
* ``shipping_rule``: the rule fixed before the runs were trained, per kind: (a) on the held-out spectra (all
  [α/Fe]) the fine-tuned run's Teff, [Fe/H] and [Mg/Fe] MAE are no higher than the shipped run's; (b) the kind's
  development stars (normalized: MIKE, calibrated: STIS; with UV) are no worse than the shipped run's by more
  than ``evaluate_alpha_runs.DEV_TOLERANCE`` (10 K, 0.02 dex, 0.02 dex).

    python scripts/evaluate_damping_runs.py --grid /root/glocal-grids/realstars-alpha-abo-r40000.h5 \\
        --runs /root/glocal-runs/damping --json results/observed/damping_runs.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import evaluate_alpha_runs as alpha  # noqa: E402

KINDS, SHIPPED, DEV_TOLERANCE = alpha.KINDS, alpha.SHIPPED, alpha.DEV_TOLERANCE

#: Labels of part (a) of the rule and the [α/Fe] bin that holds every held-out spectrum.
HELD_OUT_LABELS = ("teff", "feh", "mgfe")
ALL_ALPHA = "-0.1..+0.6"


def grid_enhancement(ds) -> float:
    """``unsold_enhancement`` recorded in the grid's provenance (1 when absent: plain Unsöld)."""
    import ast
    params = ds.provenance.get("parameters", "{}")
    params = ast.literal_eval(params) if isinstance(params, str) else params
    return float(params.get("engine_options", {}).get("unsold_enhancement", 1.0))


def option_twins(engine_options: dict, T: int, names=("unsold", "enhanced")) -> list[dict]:
    """Per development star: the shipped runs' answers minus the literature for its halo-α twin made with the
    twins' engine options (key suffix ``names[0]``) and with ``engine_options`` on top (suffix ``names[1]``)."""
    from glocal import real_stars
    from glocal.real_star_study import LABELS, synthetic_twins
    lit = real_stars.load_literature().set_index("star")
    plain = synthetic_twins(T=T).xs("alpha", level="twin")
    changed = synthetic_twins(T=T, engine_options=engine_options).xs("alpha", level="twin")
    rows = []
    for star in plain.index:
        row = {"star": str(star), "flux_kind": str(plain.loc[star, "flux_kind"])}
        for lab in LABELS:
            ref = float(lit.loc[star, lab])
            if ref == ref:
                row[f"d{lab}_{names[0]}"] = float(plain.loc[star, lab]) - ref
                row[f"d{lab}_{names[1]}"] = float(changed.loc[star, lab]) - ref
        rows.append(row)
    return rows


def twins(enhancement: float, T: int) -> list[dict]:
    """:func:`option_twins` with Unsöld damping and with ``enhancement`` (keys ``d<label>_unsold`` / ``_enhanced``)."""
    return option_twins({"unsold_enhancement": enhancement}, T)


def shipping_rule(record: dict, held_bin: str = ALL_ALPHA) -> dict:
    """Each part of the rule per kind, with the numbers it compares and whether it holds; part (a) reads the
    held-out scores of the bin ``held_bin`` (the one that holds every held-out spectrum)."""
    out = {}
    for kind in KINDS:
        new = record["synthetic"][kind]["tuned"][held_bin]["labels"]
        old = record["synthetic"][kind]["shipped"][held_bin]["labels"]
        held = {lab: {"shipped": old[lab]["mae"], "tuned": new[lab]["mae"],
                      "holds": bool(new[lab]["mae"] <= old[lab]["mae"])} for lab in HELD_OUT_LABELS}
        stars = alpha._dev_stars(kind)
        d_new = alpha._dev_mae(record, "tuned, with UV", stars)
        d_old = alpha._dev_mae(record, "shipped, with UV", stars)
        dev = {lab: {"shipped": d_old[lab], "tuned": d_new[lab], "holds": bool(d_new[lab] <= d_old[lab] + tol)}
               for lab, tol in DEV_TOLERANCE.items()}
        ok = all(v["holds"] for v in held.values()) and all(v["holds"] for v in dev.values())
        out[kind] = {"parts": {"held_out": held, "dev_stars": {"stars": stars, **dev}}, "ship": bool(ok)}
    return {"tolerances": {"dev_mae": DEV_TOLERANCE}, "kinds": out}


def main(argv=None) -> int:
    from evaluate_observed import answer_stars, record_head

    from glocal.runs import load_run
    from glocal.validation.vdw_damping import enhancement_summary
    a, ds, tuned = alpha.parse_fine_tune_args(__doc__, "damping_runs.json",
                                              "the grid with widened damping the runs were tuned on", argv)
    enhancement = grid_enhancement(ds)
    record = record_head("Network runs fine-tuned on engine spectra with ABO-scaled van der Waals damping beside the "
                         "shipped runs; written by scripts/evaluate_damping_runs.py", a.grid, ds, a.mc_samples)
    record["grid"]["unsold_enhancement"] = enhancement
    try:
        record["enhancement"] = enhancement_summary()
    except FileNotFoundError:
        record["enhancement"] = None
    record["runs"] = alpha.fine_tuned_trainings(tuned)
    record["twins"] = twins(enhancement, a.mc_samples)
    print(json.dumps(record["twins"], indent=None)[:2000], flush=True)
    record["synthetic"] = {kind: alpha.held_out({"tuned": tuned[kind], "shipped": load_run(SHIPPED[kind])}, ds, a.seed,
                                          a.copies, a.mc_samples) for kind in KINDS}
    pairs = {"tuned": [str(a.runs / f"observed-{k}") for k in KINDS], "shipped": [SHIPPED[k] for k in KINDS]}
    answer_stars(record, pairs, a.mc_samples)
    return alpha.judge_and_write(record, shipping_rule, a.json)


if __name__ == "__main__":
    sys.exit(main())
