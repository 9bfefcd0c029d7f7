"""Observed runs fine-tuned on spectra synthesised without the grid's approximate overshooting, judged beside
the shipped.

The shipped runs were trained on spectra of the Kurucz (1993) grid, whose models carry Kurucz's approximate
convective overshooting: at the Sun the grid's model is 126 K hotter at τ_Ross = 1 than the ODFNEW model
without overshooting, which the Kurucz and MARCS solar models without it follow to 16 K
(:mod:`glocal.atmospheres.overshoot`).  Engine twins of the development stars synthesised with that
structure removed (``structure_correction="nover-solar"``, Eq. O1) read hotter and richer to the shipped runs
(``twins`` below), the sense in which the STIS dwarfs depart from their literature labels.  ``make
overshoot-runs`` fine-tunes each shipped run on the first 800 ``realstars`` atmospheres and draws synthesised
with the correction (``make realstars-overshoot-grid``); this script writes the record that decides, kind by
kind, whether a fine-tuned run replaces the shipped one (``results/observed/overshoot_runs.json``):

* ``solar_models``: T at five Rosseland depths of the grid's solar model and of the three solar models without
  overshooting (needs ``../shared/data``; null without it);
* ``solar_readings``: the shipped runs on a [Fe/H] = −1.5 spectrum synthesised on each of those structures and on
  the grid's with Eq. O1 (how much of the structures' effect on the answers the correction carries);
* ``twins``: halo-α twins at the literature labels on the grid's structure and on the corrected one, read by the
  shipped runs (:func:`evaluate_damping_runs.option_twins`);
* ``synthetic``: the fine-tuned runs' held-out test atmospheres with fresh augmentation draws shared by both runs,
  MAE and bias per label in bins of Teff (:data:`TEFF_BINS`; the last holds every spectrum);
* ``stars``, ``literature_errors``: every development star with the fine-tuned pair and the shipped pair, with and
  without the UV;
* ``shipping_rule``: the rule of the damping runs, fixed before these runs were trained
  (:func:`evaluate_damping_runs.shipping_rule`): per kind, (a) held-out Teff, [Fe/H] and [Mg/Fe] MAE over all
  spectra no higher than the shipped run's; (b) the kind's development stars (normalized: MIKE, calibrated: STIS;
  with UV) no worse than the shipped run's by more than 10 K, 0.02 dex, 0.02 dex.

    python scripts/evaluate_overshoot_runs.py --grid /root/glocal-grids/realstars-nover-r40000.h5 \\
        --runs /root/glocal-runs/overshoot --json results/observed/overshoot_runs.json
"""
from __future__ import annotations

import ast
import json
import sys
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import evaluate_alpha_runs as alpha  # noqa: E402
import evaluate_damping_runs as damping  # noqa: E402

KINDS, SHIPPED = alpha.KINDS, alpha.SHIPPED
#: Teff bins (K, lower edge inclusive) of the held-out scores; the last holds every spectrum (rule part a).
TEFF_BINS = ((3500.0, 5000.0), (5000.0, 6000.0), (6000.0, 8000.0), (3500.0, 8000.0))
ALL_TEFF = "3500..8000"
#: Rosseland depths (log τ) at which the solar models are compared.
SOLAR_DEPTHS = (-2.0, -1.0, 0.0, 0.5, 1.0)


def grid_correction(ds) -> str | None:
    """``structure_correction`` recorded in the grid's provenance (None when absent)."""
    params = ds.provenance.get("parameters", "{}")
    params = ast.literal_eval(params) if isinstance(params, str) else params
    return params.get("engine_options", {}).get("structure_correction")


def solar_models(shared: Path) -> dict | None:
    """T (K) at :data:`SOLAR_DEPTHS` of the grid's solar model and of the solar models without overshooting in
    ``shared``/reference_atmospheres; None when they are absent."""
    from build_overshoot_table import NOVER, OTHERS, SUN

    from glocal.atmospheres import grid_atmosphere, read_atmosphere
    paths = {"ODFNEW (Castelli & Kurucz 2003)": shared / NOVER} | {k: shared / v for k, v in OTHERS.items()}
    if not all(p.is_file() for p in paths.values()):
        return None
    models = {"Kurucz 1993 grid (glocal)": grid_atmosphere(*SUN)} | {k: read_atmosphere(p) for k, p in paths.items()}
    return {"log_tau_ross": list(SOLAR_DEPTHS),
            "T": {k: [float(t) for t in np.interp(SOLAR_DEPTHS, np.log10(m.tau_ross), m.T)] for k, m in models.items()}}


def solar_readings(shared: Path, T: int, feh: float = -1.5) -> list[dict] | None:
    """The shipped runs' answers on a spectrum of ``feh`` (halo [O/Fe] 0.4, [Mg/Fe] 0.3, v_t 1.1 km/s) synthesised on
    each solar structure: the grid's, the grid's with Eq. O1, and the three without overshooting (their
    differences are what the structure alone does to the answers); None without ``shared``."""
    import dataclasses

    from build_overshoot_table import NOVER, OTHERS, SUN

    from glocal.atmospheres import grid_atmosphere, read_atmosphere
    from glocal.atmospheres.overshoot import remove_overshoot
    from glocal.observed.predict import OBSERVED_RUNS, predict_observed
    from glocal.observed.spectrum import ObservedSpectrum
    from glocal.real_star_study import TWIN_ENGINE_OPTIONS
    from glocal.runs import load_run
    from glocal.synthesis import synthesize
    paths = {"ODFNEW": shared / NOVER} | {k.split(" (")[0]: shared / v for k, v in OTHERS.items()}
    if not all(p.is_file() for p in paths.values()):
        return None
    grid = grid_atmosphere(*SUN)
    models = {"grid": grid, "grid + Eq. O1": dataclasses.replace(grid, T=remove_overshoot(grid.T, grid.tau_ross))}
    models |= {k: read_atmosphere(p) for k, p in paths.items()}
    cands = [(k, load_run(v), v) for k, v in OBSERVED_RUNS.items()]
    rows = []
    for kind in KINDS:
        specs = []
        for name, atm in models.items():
            s = synthesize(SUN[0], SUN[1], feh, atmosphere=atm, vturb=1.1, abundances={"O": 0.4, "Mg": 0.3},
                           wave_range=(2500.0, 10100.0), **TWIN_ENGINE_OPTIONS)
            meta = {"name": name, "resolution": TWIN_ENGINE_OPTIONS["resolution"]}
            if kind == "calibrated":
                meta["flux_unit"] = "erg / (Angstrom s cm2)"
            flux = s.flux * 1e-13 if kind == "calibrated" else s.flux / s.continuum
            specs.append(ObservedSpectrum(s.wave, flux, mask=np.zeros(s.wave.size, bool), medium="air", meta=meta))
        df = predict_observed(specs, cands, flux_kind=kind, T=T, seed=0, fit_check=False)
        for name, (_, r) in zip(models, df.iterrows()):
            rows.append({"kind": kind, "structure": name} | {lab: float(r[lab]) for lab in ("teff", "logg", "feh",
                                                                                             "mgfe")})
    return rows


def main(argv=None) -> int:
    from evaluate_observed import answer_stars, binned_errors, record_head

    from glocal.runs import load_run
    a, ds, tuned = alpha.parse_fine_tune_args(__doc__, "overshoot_runs.json",
                                              "the grid without overshooting the runs were tuned on", argv)
    correction = grid_correction(ds)
    if correction is None:
        raise SystemExit(f"{a.grid} was not built with structure_correction")
    record = record_head("Network runs fine-tuned on engine spectra synthesised without the Kurucz 1993 grid's "
                         "approximate overshooting beside the shipped runs; written by "
                         "scripts/evaluate_overshoot_runs.py", a.grid, ds, a.mc_samples)
    record["grid"]["structure_correction"] = correction
    record["solar_models"] = solar_models(ROOT.parent / "shared" / "data")
    record["solar_readings"] = solar_readings(ROOT.parent / "shared" / "data", a.mc_samples)
    print(json.dumps(record["solar_readings"])[:1500], flush=True)
    record["runs"] = alpha.fine_tuned_trainings(tuned)
    record["twins"] = damping.option_twins({"structure_correction": correction}, a.mc_samples, names=("grid", "nover"))
    print(json.dumps(record["twins"], indent=None)[:2000], flush=True)
    record["synthetic"] = {kind: binned_errors({"tuned": tuned[kind], "shipped": load_run(SHIPPED[kind])}, ds, "teff",
                                               TEFF_BINS, a.seed, a.copies, a.mc_samples, fmt=".0f") for kind in KINDS}
    for kind, runs in record["synthetic"].items():
        print(kind, {name: {lab: round(v["mae"], 4) for lab, v in bins[ALL_TEFF]["labels"].items()}
                     for name, bins in runs.items()}, flush=True)
    pairs = {"tuned": [str(a.runs / f"observed-{k}") for k in KINDS], "shipped": [SHIPPED[k] for k in KINDS]}
    answer_stars(record, pairs, a.mc_samples)
    return alpha.judge_and_write(record, partial(damping.shipping_rule, held_bin=ALL_TEFF), a.json)


if __name__ == "__main__":
    sys.exit(main())
