"""Export the book's SPT-GloCal runs (full band; optical on request) as glocal's shipped pretrained runs.

The runs are the ones chapter 05 trains at the chosen scale (same grid, split, seed and training
parameters, read from notebooks/scales.yml), taken from the book's artifact cache; if they are not
there yet they are trained here with the same code. Each is written by ``glocal.pretrained.export_run``
(float16 weights, no checkpoints; checked to predict within 2e-3 dex of the source run) into
``glocal/data/pretrained/spt-glocal-<band>/``, and ``glocal/data/pretrained/README.md`` records what
they were trained on, their test metrics and checksums.

    python scripts/export_pretrained.py                 # laptop scale, book cache, replace existing
    python scripts/export_pretrained.py --scale ci --out /tmp/pretrained
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="laptop")
    ap.add_argument("--cache", default=os.environ.get("GLOCAL_CACHE", str(ROOT / ".cache" / "glocal")))
    ap.add_argument("--out", default=str(ROOT / "glocal" / "data" / "pretrained"))
    ap.add_argument("--bands", default="full", help="comma-separated; the optical run is not shipped (data budget)")
    a = ap.parse_args(argv)
    os.environ["GLOCAL_CACHE"] = str(Path(a.cache).resolve())

    from execute_book import load_scales, parameters_for

    from glocal import experiments
    from glocal._io import sha256_file
    from glocal.dataset import load_dataset
    from glocal.degrade import band_mask
    from glocal.pretrained import export_run

    p = parameters_for(load_scales(), a.scale, "05_results", {})
    data = experiments.grid_dataset(p["preset"], engine=p["engine"], seed=p["seed"],
                                    engine_options=p.get("engine_options"))
    ds = load_dataset(data)
    out_root = Path(a.out)
    out_root.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    rows = []
    for band in a.bands.split(","):
        run = experiments.trained_run(data, "spt-glocal", band=band, seed=p["seed"], config=p.get("config", "cpu"),
                                      train=p.get("train"))
        dest = out_root / f"spt-glocal-{band}"
        if dest.exists():
            shutil.rmtree(dest)
        note = (f"book scale {a.scale!r}, chapter 05_results, grid {data.name} ({ds.n} spectra, "
                f"engine {ds.provenance.get('engine')}), glocal commit {commit}")
        flux = ds.flux[run.split["test"]][:, band_mask(ds.wave, band)]
        export_run(run, dest, note=note, check_flux=flux)
        print(f"{dest.name}: float16 weights change the test predictions by at most "
              f"{json.loads((dest / 'provenance.json').read_text())['export']['max_prediction_change_dex']:.1e} dex")
        metrics = run.metrics.get("test", {})
        rows.append((dest.name, band, run.wave.size, metrics.get("ofe", {}), metrics.get("mgfe", {}),
                     sha256_file(dest / "model.safetensors"), (dest / "model.safetensors").stat().st_size))
        print(f"{dest}: [O/Fe] MAE {metrics.get('ofe', {}).get('mae', float('nan')):.3f}, "
              f"[Mg/Fe] MAE {metrics.get('mgfe', {}).get('mae', float('nan')):.3f}")

    lines = [
        "# Shipped pretrained runs",
        "",
        "Made by `scripts/export_pretrained.py` (do not edit by hand) on "
        f"{dt.date.today().isoformat()} from glocal commit `{commit}`.",
        "",
        f"SPT-GloCal (`{p.get('config', 'cpu')}` configuration) trained by chapter 05 of the book at the "
        f"`{a.scale}` scale: grid preset `{p['preset']}` ({ds.n} spectra, "
        f"{len(set(ds.labels['model_id'].tolist()))} model atmospheres x 16 [O/Fe], [Mg/Fe] variants), "
        f"engine `{ds.provenance.get('engine')}` with options {p.get('engine_options')}, random split seed "
        f"{p['seed']}, training {p.get('train')}. Weights are stored as float16 safetensors (cast to float32 on "
        "loading; predictions within 2e-3 dex of the float32 run). Test metrics are on the held-out 10% of that "
        "grid, noiseless spectra — synthetic spectra from the same engine, so they are an optimistic bound for "
        "real CSST spectra.",
        "",
        "Use: `glocal predict SPECTRA.h5 --band paper -o out.csv` (`--run pretrained:spt-glocal-full`), or "
        "`glocal.runs.load_run(\"pretrained:spt-glocal-full\")`. The default of `glocal predict` is the five-label "
        "runs for observed spectra, `observed-normalized` and `observed-calibrated`: see `observed-runs.md` "
        "(written by `scripts/export_observed.py`). The optical-band run of chapter 05 is no longer shipped, "
        "to keep the data within 12 MB.",
        "",
        "| run | band | pixels | [O/Fe] MAE | [O/Fe] σ | [Mg/Fe] MAE | [Mg/Fe] σ | weights | sha256 |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, band, npx, o, m, sha, size in rows:
        lines.append(f"| `{name}` | {band} | {npx} | {o.get('mae', float('nan')):.3f} "
                     f"| {o.get('sigma', float('nan')):.3f} | {m.get('mae', float('nan')):.3f} "
                     f"| {m.get('sigma', float('nan')):.3f} | {size / 1e6:.2f} MB "
                     f"| `{sha}` |")
    (out_root / "README.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out_root / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
