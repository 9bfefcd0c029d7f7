"""Measure the shipped runs' real-star systematic terms and write ``glocal/data/pretrained/real_star_systematics.json``.

Every development star with literature values (:mod:`glocal.real_stars`; CALSPEC STIS and MIKE spectra) is
predicted by the default ``glocal predict`` (the shipped observed runs, MC dropout ``--mc-samples`` passes,
``--seed``); per label, σ_sys = √max(mean(Δ²) − mean(σ²), 0) over the stars with a literature value
(:func:`glocal.observed.systematics.systematic_sigma`).  The record keeps every star's Δ, stated 68 % and
95 % half-widths and run, so the chapter can recompute σ_sys and check the intervals with each star left out
of its own σ_sys; and the sha256 of the runs' weights, so ``predict`` applies the terms to those runs only.
The same is measured for ``glocal fit`` with its defaults (free labels, full band; ``fit``: its curvature
σ against the literature, tied to the emulator's sha256).

    python scripts/real_star_systematics.py            # writes the file (atomically)
"""
from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def _terms(table, lit, labels, *, err95: bool) -> tuple[dict, dict, list]:
    """(labels {label: sigma_sys, n, rms_delta, mean_sigma}, stars {star: labels {delta, std[, err95]}},
    labels without a term) of ``table`` (indexed by star, columns L and L_std) against ``lit``."""
    import numpy as np
    from evaluate_tree_runs import _num

    from glocal.observed.systematics import systematic_sigma
    terms, stars = {}, {}
    for lab in labels:
        ref = lit[lab].reindex(table.index).astype(float)
        ok = ref.notna() & table[lab].notna()
        d, s = (table[lab] - ref)[ok], table[f"{lab}_std"][ok]
        terms[lab] = {"sigma_sys": systematic_sigma(d.to_numpy(), s.to_numpy()), "n": int(ok.sum()),
                      "rms_delta": float(np.sqrt((d ** 2).mean())) if ok.any() else None,
                      "mean_sigma": float(s.mean()) if ok.any() else None}
        for star in d.index:
            entry = {"delta": float(d[star]), "std": float(s[star])}
            if err95:
                entry["err95"] = _num(table.loc[star, f"{lab}_err95"])
            stars.setdefault(star, {"labels": {}})["labels"][lab] = entry
    unusable = [lab for lab, v in terms.items() if v["sigma_sys"] != v["sigma_sys"]]
    for lab in unusable:      # fewer than two stars: no term, the _std_real columns stay NaN
        del terms[lab]
    return terms, stars, unusable


def measure(T: int, seed: int) -> dict:
    """The record of the module docstring (without provenance)."""
    from glocal import real_stars
    from glocal.observed.predict import OBSERVED_RUNS
    from glocal.observed.systematics import emulator_sha256, weights_sha256
    from glocal.real_star_study import LABELS, fit_stars, predict_stars
    from glocal.runs import load_run
    lit = real_stars.load_literature().set_index("star")
    pred = predict_stars(uv=True, T=T, seed=seed)
    labels, stars, unusable = _terms(pred, lit, LABELS, err95=True)
    for star, entry in stars.items():
        entry |= {"run": str(pred.loc[star, "run"]), "flux_kind": str(pred.loc[star, "flux_kind"])}
    fit_labels, fit_stars_, fit_unusable = _terms(fit_stars(), lit, LABELS, err95=False)
    return {"description": "Real-star systematic terms of the shipped observed runs and of glocal fit "
                           "(glocal.observed.systematics); written by scripts/real_star_systematics.py",
            "definition": "sigma_sys = sqrt(max(mean(delta^2) - mean(std^2), 0)); delta = predicted - literature, "
                          "std = the stated 68 % half-width",
            "labels": labels, "labels_without_term": unusable, "stars": stars,
            "runs": {spec.split(":")[-1]: weights_sha256(load_run(spec)) for spec in OBSERVED_RUNS.values()},
            "mc_samples": T, "seed": seed,
            "fit": {"labels": fit_labels, "labels_without_term": fit_unusable, "stars": fit_stars_,
                    "emulator_sha256": emulator_sha256(), "settings": "glocal fit defaults: free labels, full band"},
            "literature": "../shared/data/real_spectra/literature.csv via glocal.real_stars (JINAbase, "
                          "Abohalima & Frebel 2018, and the studies it lists per star)"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mc-samples", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="default: glocal/data/pretrained/real_star_systematics.json")
    a = ap.parse_args(argv)
    from evaluate_tree_runs import _git_commit

    from glocal._io import write_json
    from glocal.observed.systematics import SYSTEMATICS_FILE
    out = a.out or SYSTEMATICS_FILE
    record = measure(a.mc_samples, a.seed)
    record |= {"date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "git_commit": _git_commit(),
               "command": f"python scripts/real_star_systematics.py --mc-samples {a.mc_samples} --seed {a.seed}"}
    write_json(out, record)
    for who, terms in (("predict", record["labels"]), ("fit", record["fit"]["labels"])):
        for lab, v in terms.items():
            print(f"{who} {lab}: sigma_sys {v['sigma_sys']:.4g} (n={v['n']}, rms delta {v['rms_delta']:.4g}, "
                  f"mean stated sigma {v['mean_sigma']:.4g})")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
