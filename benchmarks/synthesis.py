"""Benchmark of the SME engine (paper §2.1): CPU seconds per spectrum and per 16-variant model over
2550–10 000 Å on one core, peak memory, the convergence held by the chosen settings, and the
CPU-hour projections for the ci / laptop / paper presets.

CPU time (``time.process_time``) is reported next to wall time because the machine may be shared:
CPU seconds are what a dedicated core would need.  Prints ratios against the 5 s/spectrum target.

    python benchmarks/synthesis.py                 # one model, 4 variants, full range
    python benchmarks/synthesis.py --variants 16   # a full paper model
    python benchmarks/synthesis.py --convergence   # also the R=200 convergence table

Per-phase CPU seconds come from the engine's ``details["timing"]`` (``line_selection_cpu``, once per
model; ``synthesis_cpu``, per distinct abundance set); a 16-variant model is projected as
selection + 15 distinct syntheses (the paper's list holds {O: 0, Mg: 0} twice).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

TARGET_S_PER_SPECTRUM = 5.0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teff", type=float, default=4500.0)
    p.add_argument("--logg", type=float, default=2.0)
    p.add_argument("--feh", type=float, default=-2.0)
    p.add_argument("--variants", type=int, default=4, help="number of paper variants to run (1-16)")
    p.add_argument("--wmin", type=float, default=2550.0)
    p.add_argument("--wmax", type=float, default=10000.0)
    p.add_argument("--convergence", action="store_true")
    p.add_argument("--json", default=None, help="write the numbers to this JSON file")
    a = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    warnings.filterwarnings("ignore")
    from glocal.grid import PRESETS, paper_variants, preset_grid, preset_variants
    from glocal.linelists import builtin_linelist
    from glocal.synthesis import synthesize_variants
    from glocal.synthesis.sme import SMEOptions
    from glocal.validation import convergence_table

    all16 = paper_variants()
    variants = all16[: max(1, min(16, a.variants))]
    lines = builtin_linelist((a.wmin - 25, a.wmax + 25))
    w0, c0 = time.perf_counter(), time.process_time()
    vs = synthesize_variants(a.teff, a.logg, a.feh, variants, wave_range=(a.wmin, a.wmax), line_list=lines,
                             engine="sme")
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    det = vs.details
    tim = det["timing"]
    cpu_ratio = cpu / wall if wall > 0 else 1.0
    # identical abundance sets are synthesised once ({O: 0, Mg: 0} is twice among the paper's 16)
    n_syn = int(det.get("n_unique_variants", len(variants)))
    n_syn16 = len({tuple(sorted(v.items())) for v in all16}) if "n_unique_variants" in det else 16
    if "synthesis_cpu" in tim:          # the engine reports CPU seconds of its two phases
        sel = tim["line_selection_cpu"]
        per_var = tim["synthesis_cpu"] / n_syn
    else:                                # older engines: wall time scaled by the call's CPU/wall ratio
        sel = tim["line_selection"] * cpu_ratio
        per_var = tim["synthesis"] / n_syn * cpu_ratio
    per_model_16 = sel + n_syn16 * per_var
    per_spec = per_model_16 / 16
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res = dict(model=(a.teff, a.logg, a.feh), wave_range=(a.wmin, a.wmax), n_variants=len(variants),
               n_wave=det["n_wave"], n_lines_in=det["n_lines_in"], n_lines_used=det["n_lines_used"],
               n_chunks=det.get("n_chunks", 1), h_lines_used=det.get("h_lines_used"),
               wall_s=wall, cpu_s=cpu, line_selection_cpu_s=sel, cpu_s_per_variant=per_var,
               cpu_s_per_16_variant_model=per_model_16, cpu_s_per_spectrum=per_spec,
               ratio_to_target=per_spec / TARGET_S_PER_SPECTRUM, peak_rss_mb=rss_mb, settings=SMEOptions().as_dict())
    print(f"model Teff={a.teff:.0f} logg={a.logg} [Fe/H]={a.feh}  {a.wmin:.0f}-{a.wmax:.0f} A, "
          f"{det['n_wave']} points in {det.get('n_chunks', 1)} chunks, lines {det['n_lines_used']}/{det['n_lines_in']} "
          f"after selection" + (f", H I lines {det['h_lines_used']}/{det['h_lines']}" if "h_lines" in det else ""))
    print(f"wall {wall:.1f} s, CPU {cpu:.1f} s for {len(variants)} variants ({n_syn} distinct; "
          f"CPU/wall {cpu_ratio:.2f})")
    print(f"line selection {sel:.1f} CPU s (once per model), synthesis {per_var:.1f} CPU s per variant")
    print(f"=> {per_spec:.2f} CPU s per spectrum, {per_model_16:.1f} CPU s per 16-variant model "
          f"({n_syn16} distinct); ratio to the {TARGET_S_PER_SPECTRUM:.0f} s target: "
          f"{per_spec / TARGET_S_PER_SPECTRUM:.2f}")
    print(f"peak RSS {rss_mb:.0f} MB")
    proj = {}
    for name in PRESETS:
        if preset_variants(name) != "paper":  # the projection is per 16-variant model
            continue
        n = preset_grid(name).size
        proj[name] = dict(n_models=int(n), cpu_hours=n * per_model_16 / 3600.0)
        print(f"preset {name:7s}: {n:6d} models -> {proj[name]['cpu_hours']:9.1f} CPU-hours "
              f"({proj[name]['cpu_hours'] / 2:.1f} h on 2 cores)")
    res["projections"] = proj
    if a.convergence:
        rows = convergence_table(models=((4500.0, 2.0, -2.0), (6000.0, 4.0, -1.0)), wave_range=(3000.0, 3400.0),
                                 line_list=builtin_linelist((2975.0, 3425.0)))
        for r in rows:
            print(f"convergence {r['teff']:.0f}/{r['logg']}/{r['feh']}: max {100 * r['max_rel']:.3f} %, "
                  f"rms {100 * r['rms_rel']:.3f} % over {r['n_pixels']} R=200 pixels "
                  f"(ratio to 0.2 % limit {r['max_rel'] / 2e-3:.2f})")
        res["convergence"] = rows
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2, default=float)
    return res


if __name__ == "__main__":
    main()
