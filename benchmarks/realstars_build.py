"""Build cost of the ``realstars`` preset: the first N atmospheres through ``glocal.build.build_grid``.

Equivalent of ``glocal grid build --preset realstars --workers W --limit N [--engine-option ...]``:
one Dask worker process (``--workers 1``) or in-process (``--workers 0``).  Prints a JSON record: CPU
seconds of the model tasks (process CPU time inside the worker), wall seconds, file size, rows, and
the projection to the full preset on ``--cores`` cores.  Results are recorded in
results/benchmarks/realstars_build.md.

    python benchmarks/realstars_build.py --limit 8 --out /tmp/rs_book.h5 \
        --engine-option resolution=40000 --engine-option threshold=1e-3
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main() -> None:
    from glocal.build import build_grid
    from glocal.cli import engine_option
    from glocal.dataset import load_dataset
    from glocal.grid import PRESETS, preset_summary
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=8)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cores", type=int, default=2, help="cores of the projection")
    p.add_argument("--engine-option", type=engine_option, action="append", default=[])
    a = p.parse_args()
    t0 = time.perf_counter()
    r = build_grid("realstars", a.out, workers=a.workers, limit=a.limit, progress=False,
                   engine_options=dict(a.engine_option), overwrite=True)
    wall = time.perf_counter() - t0
    ds = load_dataset(a.out)
    size = os.path.getsize(a.out)
    summ = preset_summary("realstars")
    cpu_per_model = r["cpu_seconds"] / max(r["n_built"], 1)
    n_models = PRESETS["realstars"]["n_models"]
    rec = {"engine_options": dict(a.engine_option), "workers": a.workers, "n_built": r["n_built"],
           "n_failed": r["n_failed"], "failed": r["failed"], "rows": ds.n, "n_pix": int(ds.wave.size),
           "has_continuum": ds.continuum is not None, "cpu_seconds": r["cpu_seconds"],
           "cpu_seconds_per_atmosphere": cpu_per_model, "wall_seconds": wall,
           "file_bytes": size, "bytes_per_spectrum": size / max(ds.n, 1),
           "full_preset": {"n_models": n_models, "n_spectra": summ["n_spectra"],
                           f"hours_on_{a.cores}_cores": cpu_per_model * n_models / a.cores / 3600.0,
                           "projected_mb": size / max(ds.n, 1) * summ["n_spectra"] / 1e6},
           "models": [int(m) for m in sorted(set(ds.labels["model_id"].tolist()))]}
    print(json.dumps(rec, indent=1))


if __name__ == "__main__":
    main()
