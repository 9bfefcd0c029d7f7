"""Export trained observed-spectra runs as glocal's shipped ``observed-normalized`` / ``observed-calibrated``.

The runs come from ``glocal train-observed`` (one per flux kind) on a ``realstars`` grid.  Each is
written by :func:`glocal.pretrained.export_run` (float16 weights) together with its conformal
calibration and domain model; the exported run's predictions on 256 of the run's augmented test spectra
(gaps included) must agree with the float32 run's within 2e-2 of each label's training standard
deviation (~25 K in Teff, ~8e-3 dex in [O/Fe]; well below the runs' test MAEs), and
``glocal/data/pretrained/observed-runs.md`` records the grid, the training, the held-out metrics and checksums.

    python scripts/export_observed.py --runs /root/glocal-runs --grid realstars.h5

``--kinds normalized`` exports one run and keeps the other's shipped files and its section of
``observed-runs.md`` as they are (each section names its own grid).
"""
from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KINDS = ("normalized", "calibrated")


def _check_flux(run, ds) -> np.ndarray:
    from glocal.observed.training import TEST_AUGMENT, augmented_set
    rows = run.split["test"][:128]
    return augmented_set(ds, rows, run.config["observed"]["kind"], 2, 7, TEST_AUGMENT)[0]


def _table(run) -> list[str]:
    test = run.metrics["observed_test"]
    shift = run.metrics.get("reddening_shift_ebv0_to_0.5", {})
    lines = ["| label | MAE | bias | scatter | median σ (68 %) | coverage 68 % | coverage 95 % | |Δ| E(B−V) 0→0.5 |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for lab in run.labels:
        m = test[lab]
        lines.append(f"| {lab} | {m['mae']:.4g} | {m['bias']:.3g} | {m['scatter']:.4g} | {m['median_std']:.4g} "
                     f"| {m['coverage68']:.3f} | {m['coverage95']:.3f} | "
                     f"{shift[lab]:.4f} |" if lab in shift else
                     f"| {lab} | {m['mae']:.4g} | {m['bias']:.3g} | {m['scatter']:.4g} | {m['median_std']:.4g} "
                     f"| {m['coverage68']:.3f} | {m['coverage95']:.3f} | — |")
    return lines


def _engine_options(ds) -> str:
    """The grid's engine options that differ from the built-in engine's defaults, as ``key=value, ...``."""
    import ast
    params = ds.provenance.get("parameters", "{}")
    params = ast.literal_eval(params) if isinstance(params, str) else params
    from glocal.synthesis.builtin.options import BuiltinOptions
    default = BuiltinOptions().as_dict()
    def same(k, v):
        d = default.get(k, object())
        return d == v or (isinstance(v, list) and isinstance(d, (list, tuple)) and tuple(d) == tuple(v))
    opts = {k: v for k, v in params.get("engine_options", {}).items() if not same(k, v)}
    return "engine options " + ", ".join(f"{k}={v}" for k, v in sorted(opts.items())) if opts else "engine defaults"


def _sections(path: Path) -> dict:
    """The ``## `observed-<kind>` `` sections of an existing observed-runs.md, by kind (lines, header first)."""
    out, kind = {}, None
    for line in (path.read_text().splitlines() if path.is_file() else []):
        if line.startswith("## `observed-"):
            kind = line.split("`observed-")[1].rstrip("`")
            out[kind] = []
        if kind is not None:
            out[kind].append(line)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", required=True, type=Path,
                    help="folder holding observed-normalized/ and observed-calibrated/")
    ap.add_argument("--grid", required=True, type=Path)
    ap.add_argument("--out", type=Path, default=ROOT / "glocal" / "data" / "pretrained")
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="runs to export (default: both)")
    a = ap.parse_args(argv)
    from glocal._io import sha256_file
    from glocal.dataset import load_dataset
    from glocal.pretrained import export_run
    from glocal.runs import load_run

    ds = load_dataset(a.grid)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    doc = ["# Shipped runs for observed spectra", "",
           f"Made by `scripts/export_observed.py` (do not edit by hand) on {dt.date.today().isoformat()} from glocal "
           f"commit `{commit}`.", ""]
    kept = _sections(a.out / "observed-runs.md")
    for kind in KINDS:
        if kind not in a.kinds:
            if kind not in kept:
                raise SystemExit(f"observed-runs.md has no section for observed-{kind} to keep; export it too")
            doc += kept[kind]
            continue
        run = load_run(a.runs / f"observed-{kind}")
        dest = a.out / f"observed-{kind}"
        if dest.exists():
            shutil.rmtree(dest)
        opts = run.config["observed"]["options"]
        hist = run.metrics["training"]["history"]
        note = (f"glocal train-observed --kind {kind} on {a.grid.name} ({ds.n} spectra, "
                f"{len(np.unique(ds.labels['model_id']))} atmospheres), glocal commit {commit}")
        x = _check_flux(run, ds)
        export_run(run, dest, note=note, check_flux=x, tolerance=np.inf)
        change = np.abs(load_run(dest).estimator.predict(x) - run.estimator.predict(x)).max(axis=0)
        rel = change / np.asarray(run.scaler.std)
        if rel.max() > 2e-2:
            shutil.rmtree(dest)
            raise RuntimeError(f"float16 export changes {kind} predictions by {dict(zip(run.labels, change))}")
        print(f"observed-{kind}: float16 weights change predictions by {dict(zip(run.labels, change.round(5)))}")
        size = sum(p.stat().st_size for p in dest.iterdir())
        tuned = (f" Fine-tuned from the earlier shipped `{Path(opts['init_from']).name}` (`--init-from`)."
                 if opts.get("init_from") else "")
        engine = _engine_options(ds)
        doc += [f"## `observed-{kind}`", "",
                f"{run.name} with a mask embedding, five labels, input kind **{kind}**; grid `{a.grid.name}` "
                f"({engine}) "
                f"(sha256 `{run.provenance['dataset_sha256'][:16]}…`), split by atmosphere "
                f"{run.provenance['n_rows']}, {opts['copies']} augmented copies per training spectrum "
                f"({run.provenance['n_augmented']['train']} rows), {len(hist)} epochs "
                f"({sum(h['seconds'] for h in hist) / 60:.0f} min), lr {opts['lr']} × {opts['lr_gamma']} every "
                f"{opts['lr_step']} epochs, batch {opts['batch_size']}.{tuned} Uncertainties: MC dropout "
                f"({opts['mc_samples']} passes) scaled by split-conformal factors from "
                f"{run.uncertainty['n_calibration']} calibration spectra. Held-out test spectra "
                f"({run.metrics['observed_test']['n']}; S/N 30–100, E(B−V) 0–0.5 for the calibrated kind, RV ±500 "
                "km/s, random coverage ≥ 4000–9000 Å, 0–2 % bad pixels):", "",
                *_table(run), "",
                f"Files: {size / 1e6:.2f} MB; weights sha256 `{sha256_file(dest / 'model.safetensors')}`.", ""]
        print(f"{dest}: {size / 1e6:.2f} MB")
    (a.out / "observed-runs.md").write_text("\n".join(doc) + "\n")
    print(f"wrote {a.out / 'observed-runs.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
