#!/usr/bin/env python
"""Why ``glocal.build`` sets glibc malloc thresholds for its Dask workers.

Runs the built-in engine on one paper model (16 variants, 2550-10000 A, the book's sampling) in a
fresh process under three environments and prints wall, user and system CPU seconds:

* ``default``   -- this shell's environment;
* ``dask``      -- what a Dask nanny gives its workers by default (MALLOC_TRIM_THRESHOLD_=65536);
* ``glocal``    -- ``glocal.build.WORKER_ENVIRON`` (large trim/mmap thresholds).

The engine allocates and frees arrays of 1-100 MB; with a small trim threshold every freed block goes
back to the kernel and each new one costs page faults (system time). Ratios are against ``default``.

    python benchmarks/worker_malloc.py [--teff 4500 --logg 2.0 --feh -2.0]
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = """
import warnings; warnings.filterwarnings("ignore")
from glocal.grid import paper_variants
from glocal.synthesis import synthesize_variants
synthesize_variants({teff}, {logg}, {feh}, paper_variants(), engine="builtin", resolution=40000, threshold=1e-3)
"""


def timed(code: str, env: dict) -> tuple[float, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teff", type=float, default=4500.0)
    ap.add_argument("--logg", type=float, default=2.0)
    ap.add_argument("--feh", type=float, default=-2.0)
    a = ap.parse_args(argv)
    from glocal.build import WORKER_ENVIRON
    base = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    base.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    envs = {"default": base, "dask": {**base, "MALLOC_TRIM_THRESHOLD_": "65536"},
            "glocal": {**base, **{k: str(v) for k, v in WORKER_ENVIRON.items()}}}
    code = CHILD.format(teff=a.teff, logg=a.logg, feh=a.feh)
    res = {}
    for name, env in envs.items():
        res[name] = timed(code, env)
        w, u, s = res[name]
        print(f"{name:8s} wall {w:6.1f} s  user {u:6.1f} s  sys {s:6.1f} s  "
              f"(wall ratio to default {w / res['default'][0]:.2f})", flush=True)
    print(f"glocal workers vs Dask's default environment: {res['dask'][0] / res['glocal'][0]:.2f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
