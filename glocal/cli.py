"""``glocal`` command line: grids, degradation, synthesis, training, evaluation, prediction.

Run ``glocal --help`` or ``glocal <command> --help``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz")

# ----------------------------------------------------------------------------- spectra I/O
def read_spectra(path: Path):
    """Read spectra to degrade or predict: a glocal HDF5 dataset, or a FITS table with WAVE/FLUX.

    A FITS table holds either one spectrum (scalar WAVE and FLUX columns, one row per pixel) or one
    spectrum per row (array columns). Returns ``(wave, flux[n, n_pix], labels or None, names)``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    name = path.name.lower()
    if name.endswith((".h5", ".hdf5")):
        from glocal.dataset import load_dataset
        ds = load_dataset(path, required_labels=())
        return ds.wave, ds.flux, ds.labels, None
    if name.endswith(FITS_SUFFIXES):
        return _read_fits_table(path)
    raise ValueError(f"{path}: unsupported format (use .h5/.hdf5 or {', '.join(FITS_SUFFIXES)})")


def _read_fits_table(path: Path):
    from astropy.table import Table
    tab = Table.read(path, format="fits")
    cols = {c.upper(): c for c in tab.colnames}
    if "WAVE" not in cols or "FLUX" not in cols:
        raise ValueError(f"{path}: FITS table needs WAVE and FLUX columns, found {tab.colnames}")
    wave = np.asarray(tab[cols["WAVE"]], dtype=float)
    flux = np.asarray(tab[cols["FLUX"]], dtype=float)
    stem = path.name[:-len(next(s for s in FITS_SUFFIXES if path.name.lower().endswith(s)))]
    if wave.ndim == 1:
        return wave, flux[None, :], None, [stem]
    if not np.allclose(wave, wave[0]):
        raise ValueError(f"{path}: spectra in one FITS table must share a wavelength grid")
    names = [str(x) for x in tab[cols["NAME"]]] if "NAME" in cols else [f"{stem}[{i}]" for i in range(len(tab))]
    return wave[0], flux, None, names


class _Choices:
    """Choices read from a registry on first use (``glocal --help`` does not import torch)."""

    def __init__(self, load):
        self._load, self._names = load, None

    def _get(self) -> tuple[str, ...]:
        if self._names is None:
            self._names = tuple(self._load())
        return self._names

    def __contains__(self, item) -> bool:
        return item in self._get()

    def __iter__(self):
        return iter(self._get())


def _estimator_names():
    from glocal.models import ESTIMATOR_NAMES
    return ESTIMATOR_NAMES


def _engine_names():
    from glocal.synthesis import available_engines
    return available_engines()


# ----------------------------------------------------------------------------- commands
def cmd_grid_info(args):
    from glocal import atmospheres, grid
    exclude = (lambda t, g, f: ~atmospheres.in_coverage(t, g, f)) if not args.no_coverage else None
    nodes = grid.paper_grid() if args.preset == "paper-full" else \
        grid.preset_grid(args.preset, seed=args.seed, exclude=exclude)
    summary = grid.grid_summary(nodes)
    if args.json:
        print(json.dumps(summary, indent=1, default=str))
    else:
        for k, v in summary.items():
            print(f"{k:22s} {v}")


def engine_option(text: str):
    """``KEY=VALUE`` of ``--engine-option``; VALUE is read as an int, a float, true/false/none, or kept as text."""
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    low = value.strip().lower()
    if low in ("true", "false"):
        return key, low == "true"
    if low == "none":
        return key, None
    for cast in (int, float):
        try:
            return key, cast(value)
        except ValueError:
            pass
    return key, value


def cmd_grid_build(args):
    from glocal.build import build_grid
    out = build_grid(args.preset, args.out, engine=args.engine, workers=args.workers,
                     scheduler=args.scheduler, seed=args.seed, progress=not args.quiet,
                     engine_options=dict(args.engine_option))
    print(f"wrote {out}")


def cmd_degrade(args):
    from glocal.dataset import write_dataset
    from glocal.degrade import degrade
    wave, flux, labels, names = read_spectra(args.input)
    grid, out = degrade(wave, flux, R=args.R, wmin=args.wmin, wmax=args.wmax, truncate=args.truncate)
    n = out.shape[0]
    if labels is None:
        labels = {"model_id": np.arange(n)}
    prov = {"engine": "input", "source": str(args.input), "degrade": {"R": args.R, "wmin": args.wmin,
            "wmax": args.wmax, "truncate": args.truncate}, "names": names}
    write_dataset(args.output, grid, out, labels, prov, overwrite=args.overwrite, required_labels=())
    print(f"degraded {n} spectra to {grid.size} pixels (R={args.R}) -> {args.output}")


def cmd_train(args):
    from glocal.runs import train_run
    kw = json.loads(args.train_options) if args.train_options else {}
    run = train_run(args.data, model=args.model, band=args.band, config=args.config, split=args.split,
                    out=args.out, seed=args.seed, **kw)
    print(f"run written to {run}")


def cmd_evaluate(args):
    from glocal.runs import evaluate_run, load_run
    snr = [float(s) for s in args.snr.split(",")] if args.snr else None
    metrics = evaluate_run(load_run(args.run), args.data, snr_list=snr, seed=args.seed)
    print(json.dumps(metrics, indent=1, default=float))


def cmd_predict(args):
    import pandas as pd

    from glocal.runs import load_run, predict
    wave, flux, labels, names = read_spectra(args.spectra)
    table = predict(load_run(args.run), wave, flux)
    df = pd.DataFrame(table)
    if names is not None and len(names) == len(df):
        df.insert(0, "name", names)
    elif labels is not None and "model_id" in labels:
        df.insert(0, "model_id", labels["model_id"])
    df.to_csv(args.output, index=False)
    print(f"{len(df)} predictions -> {args.output}")


def cmd_pretrained(args):
    from glocal.runs import load_run, pretrained_runs
    names = pretrained_runs()
    if not names:
        print("no shipped runs in this installation")
        return
    for name in names:
        run = load_run(f"pretrained:{name}")
        test = run.metrics.get("test", {})
        maes = ", ".join(f"{k} MAE {v['mae']:.3f}" for k, v in test.items() if isinstance(v, dict) and "mae" in v)
        print(f"pretrained:{name}  {run.name}, band {run.config.get('band')}, {run.wave.size} pixels"
              + (f"  ({maes})" if maes else ""))


# ----------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="glocal", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("grid", help="the paper grid (§2.1): info and building")
    gsub = g.add_subparsers(dest="grid_command", required=True)
    gi = gsub.add_parser("info", help="count models and spectra of a preset")
    gi.add_argument("--preset", default="paper", choices=["ci", "laptop", "paper", "paper-full"],
                    help="'paper-full' ignores atmosphere coverage")
    gi.add_argument("--seed", type=int, default=0)
    gi.add_argument("--no-coverage", action="store_true", help="do not drop nodes outside the atmosphere grid")
    gi.add_argument("--json", action="store_true")
    gi.set_defaults(func=cmd_grid_info)
    gb = gsub.add_parser("build", help="synthesize, degrade and store a grid (resumable)")
    gb.add_argument("--preset", default="ci", choices=["ci", "laptop", "paper"])
    gb.add_argument("--engine", default="builtin", choices=_Choices(_engine_names), metavar="ENGINE",
                    help="synthesis engine: %(choices)s (default: %(default)s)")
    gb.add_argument("--out", required=True, type=Path)
    gb.add_argument("--workers", type=int, default=2)
    gb.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    gb.add_argument("--seed", type=int, default=0)
    gb.add_argument("--engine-option", type=engine_option, action="append", default=[], metavar="KEY=VALUE",
                    help="engine keyword, repeatable: the book's grids use --engine-option resolution=40000 "
                         "--engine-option threshold=1e-3 (default: the engine's converged setting)")
    gb.add_argument("--quiet", action="store_true")
    gb.set_defaults(func=cmd_grid_build)

    d = sub.add_parser("degrade", help="degrade spectra to CSST R=200 (§2.2, Eqs 8-11)")
    d.add_argument("input", type=Path, help="HDF5 dataset or FITS table with WAVE/FLUX columns")
    d.add_argument("-o", "--output", required=True, type=Path, help="HDF5 output")
    d.add_argument("--R", type=float, default=200.0)
    d.add_argument("--wmin", type=float, default=2550.0)
    d.add_argument("--wmax", type=float, default=10000.0)
    d.add_argument("--truncate", type=float, default=5.0, help="kernel half-width in FWHM")
    d.add_argument("--overwrite", action="store_true")
    d.set_defaults(func=cmd_degrade)

    t = sub.add_parser("train", help="train a model on a dataset")
    t.add_argument("--data", required=True, type=Path)
    t.add_argument("--model", default="spt-glocal", choices=_Choices(_estimator_names), metavar="MODEL",
                   help="estimator: %(choices)s (default: %(default)s)")
    t.add_argument("--band", default="full", choices=["full", "optical", "uv"])
    t.add_argument("--config", default="cpu", help="cpu, paper, or a JSON dict")
    t.add_argument("--split", default="random", choices=["random", "grouped"])
    t.add_argument("--out", required=True, type=Path)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--train-options", default=None, help='JSON, e.g. \'{"max_epochs": 50}\'')
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="metrics of a run on a dataset's test split (§3.4)")
    e.add_argument("run", type=Path)
    e.add_argument("--data", required=True, type=Path)
    e.add_argument("--snr", default=None, help="comma-separated S/N values, e.g. 30,40,50")
    e.add_argument("--seed", type=int, default=0)
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="predict [O/Fe], [Mg/Fe] with uncertainties")
    pr.add_argument("spectra", type=Path, help="HDF5 dataset or FITS table(s) with WAVE/FLUX at any sampling")
    pr.add_argument("--run", default="pretrained:spt-glocal-full",
                    help="run directory, or pretrained:<name> for a shipped run (default: %(default)s; "
                         "see 'glocal pretrained')")
    pr.add_argument("-o", "--output", required=True, type=Path)
    pr.set_defaults(func=cmd_predict)

    pt = sub.add_parser("pretrained", help="list the runs shipped with glocal")
    pt.set_defaults(func=cmd_pretrained)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train" and args.config.strip().startswith("{"):
        args.config = json.loads(args.config)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError, TypeError, KeyError) as exc:
        print(f"glocal: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
