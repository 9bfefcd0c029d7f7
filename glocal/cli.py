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
    """Read spectra for ``glocal degrade``: a glocal HDF5 dataset, or a FITS table with WAVE/FLUX.

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


PREDICT_RULES = """\
Predict labels for every spectrum in FILE(s): each is read (glocal.observed.read_spectra), converted to
air, shifted to rest by --rv, degraded to R=200 on the CSST grid 2550-10000 A with bad pixels masked
(glocal.observed.prepare), then given to a run.  One CSV row per spectrum: source, index (position in its
file), object, name, run, band (the measured range used, A), flux_kind, n_pixels_used,
n_pixels_interpolated, then teff, logg, feh, ofe, mgfe with _std (calibrated 68 % half-width) and _err95
(95 % half-width), then _std_real and _err95_real of each (below), then flag.

rules (glocal.observed.predict):
  flux kind   --flux auto: calibrated when the flux unit is a physical flux density, else normalized
              when the median of the good pixels is in [0.5, 1.5] and their 99th percentile <= 3, else
              calibrated.  The default runs (pretrained:observed-normalized / observed-calibrated)
              are picked by that kind; a calibrated spectrum is normalised by N = F / exp P(ln lambda)
              (glocal.observed.normalize), exactly as its training spectra were.
  coverage    a run reads any coverage that keeps >= 90 % of the R=200 pixels of 4000-9000 A measured
              with no interior gap over 10 pixels; missing pixels are given to the model as missing
              (it was trained with random coverage cuts and bad pixels).  Otherwise NaN and the flag
              insufficient_coverage(4000-9000A=F,longest_gap=Npx).
  uncertainty _std and _err95 are split-conformal intervals calibrated on held-out synthetic spectra
              (68 % and 95 % coverage there; glocal.conformal).  They leave out how far real stars
              depart from the synthetic spectra; _std_real and _err95_real add, in quadrature, the
              systematic term measured for the shipped runs on the development stars with literature
              values (glocal.observed.systematics; NaN for other runs):
              {systematics}.
              Quote those for a real star (book chapter 08, "Are the stated uncertainties honest on
              real stars?").  The runs were trained with solar-scaled carbon: a carbon-enhanced star
              ([C/Fe] ~ +0.9) reads too cool, by up to ~600 K on engine spectra (chapter 08, "A
              carbon-rich giant").  The real-star term was measured with each star's full coverage;
              with --exclude it is carried over unchanged, not re-measured.
  domain      NaN and a flag for negative_flux (median of the input <= 0), flux_out_of_range
              (normalized flux outside [0, 1.5] after degradation), flux_not_normalized (95th
              percentile of the normalized flux below 0.5: a physical flux given as normalized),
              not_prepared(reason) (input
              coarser than R=200, or outside 2550-10000 A); the flag near_training_edge(...) (values
              kept) when a label is within 2 % of its training range of an edge, or beyond it;
              grid_edge_fit(teff,...) when a forward-model fit over the same grid (glocal fit) puts
              Teff, log g or [Fe/H] on a grid bound (--no-fit-check skips it);
              unlike_training_spectra(misfit=...) for a spectrum farther from the training spectra than
              99 % of the calibration spectra.
  --band paper uses the paper's two-label full-band run instead ([O/Fe], [Mg/Fe]; normalized flux only,
              flag flux_calibrated_unsupported otherwise; >= 90 % of its pixels measured, masked pixels
              interpolated, flag interpolated_pixels=N; --run DIR takes a run of any band).
The flag is empty when nothing is wrong, else ;-separated reasons.
"""


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


def _preset_names() -> list[str]:
    from glocal.grid import PRESETS
    return list(PRESETS)


def _engine_names():
    from glocal.synthesis import available_engines
    return available_engines()


# ----------------------------------------------------------------------------- commands
def cmd_grid_info(args):
    from glocal import atmospheres, grid
    exclude = (lambda t, g, f: ~atmospheres.in_coverage(t, g, f)) if not args.no_coverage else None
    if args.preset == "paper-full":
        summary = grid.grid_summary(grid.paper_grid())
    else:
        summary = grid.preset_summary(args.preset, seed=args.seed, exclude=exclude)
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
                     engine_options=dict(args.engine_option), limit=args.limit)
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


def compile_flag(text: str):
    """``--compile`` value: true/on/yes → True, false/off/no → False, else "auto" or a backend name."""
    low = text.strip().lower()
    if low in ("true", "on", "yes"):
        return True
    if low in ("false", "off", "no"):
        return False
    if not low:
        raise argparse.ArgumentTypeError("expected true, false, auto or a torch.compile backend name")
    return text.strip()


def _accelerator_options(args, kw: dict) -> dict:
    """``precision``/``compile`` of ``glocal train``: the flags when given (a conflicting value in
    --train-options is an error), else "auto" for both with the paper configuration of a network."""
    from glocal.models import TREE_KINDS
    base = args.config.get("base", "cpu") if isinstance(args.config, dict) else args.config
    out = {}
    for key, flag in (("precision", args.precision), ("compile", args.compile)):
        if flag is not None:
            if args.model in TREE_KINDS:
                raise ValueError(f"--{key} applies to the networks only, not to {args.model}")
            if key in kw and kw[key] != flag:
                raise ValueError(f"--{key} {flag} conflicts with --train-options {key}={kw[key]!r}")
            out[key] = flag
        elif base == "paper" and key not in kw and args.model not in TREE_KINDS:
            out[key] = "auto"
    return out


def cmd_train(args):
    from glocal.runs import train_run
    kw = json.loads(args.train_options) if args.train_options else {}
    kw.update(_accelerator_options(args, kw))
    run = train_run(args.data, model=args.model, band=args.band, config=args.config, split=args.split,
                    out=args.out, seed=args.seed, **kw)
    print(f"run written to {run}")


def cmd_train_observed(args):
    from glocal.observed.training import ObservedTraining, train_observed_run
    extra = {k: v for k, v in (("lr", args.lr), ("lr_step", args.lr_step)) if v is not None}
    opts = ObservedTraining(model=args.model, copies=args.copies, max_epochs=args.max_epochs, seed=args.seed,
                            init_from=None if args.init_from is None else str(args.init_from), **extra)
    run = train_observed_run(args.grid, args.kind, args.out, opts, progress=not args.quiet)
    test = run.metrics["observed_test"]
    for lab in run.labels:
        m = test[lab]
        print(f"{lab:5s} MAE {m['mae']:.4g}  coverage 68% {m['coverage68']:.3f}  95% {m['coverage95']:.3f}")
    print(f"run written to {args.out}")


def cmd_evaluate(args):
    from glocal.runs import evaluate_run, load_run
    snr = [float(s) for s in args.snr.split(",")] if args.snr else None
    metrics = evaluate_run(load_run(args.run), args.data, snr_list=snr, seed=args.seed)
    print(json.dumps(metrics, indent=1, default=float))


def _predict_candidates(run_spec, band):
    """``[(key, Run, run label)]`` that ``glocal predict`` uses (see PREDICT_RULES)."""
    from glocal.observed.predict import default_candidates, run_kind
    from glocal.runs import load_run
    if run_spec is None:
        return [(key, load_run(spec), spec) for key, spec in default_candidates(band)]
    run = load_run(run_spec)
    if run_kind(run) is not None:
        return [(run_kind(run), run, str(run_spec))]
    run_band = run.config.get("band")
    label = run_band if isinstance(run_band, str) else f"{run.wave[0]:.0f}-{run.wave[-1]:.0f}"
    if band != "auto" and band != run_band:
        raise ValueError(f"--band {band} conflicts with the band of --run {run_spec} ({label}); "
                         "leave --band at auto when giving --run")
    return [(label, run, str(run_spec))]


def cmd_predict(args):
    from glocal.observed.combine import collect_spectra
    from glocal.observed.predict import predict_observed
    from glocal.report import deliver
    spectra = collect_spectra(args.spectra, medium=args.medium, combine=args.combine, exclude=args.exclude,
                              rv=args.rv)
    candidates = _predict_candidates(args.run, args.band)
    df = predict_observed(spectra, candidates, rv=args.rv, flux_kind=args.flux, T=args.mc_samples,
                          seed=args.seed, fit_check=not args.no_fit_check)
    refused = int(df["ofe"].isna().sum()) if "ofe" in df else 0
    deliver(df, args.output, done=f"{len(df) - refused} predicted, {refused} refused")


def cmd_pretrained(args):
    from glocal.runs import load_run, pretrained_runs
    names = pretrained_runs()
    if not names:
        print("no shipped runs in this installation")
        return
    for name in names:
        run = load_run(f"pretrained:{name}")
        test = run.metrics.get("test") or run.metrics.get("observed_test", {})
        maes = ", ".join(f"{k} MAE {v['mae']:.4g}" for k, v in test.items() if isinstance(v, dict) and "mae" in v)
        print(f"pretrained:{name}  {run.name}, band {run.config.get('band')}, {run.wave.size} pixels"
              + (f"  ({maes})" if maes else ""))


# ----------------------------------------------------------------------------- parser
def _systematics_summary() -> str:
    """The shipped runs' real-star terms in words, from the committed record."""
    from glocal.observed.systematics import load_systematics
    try:
        record = load_systematics()
    except ValueError as exc:
        return f"record unreadable: {exc}"
    if record is None:
        return "no record shipped"
    units = {"teff": ("Teff", "{:.0f} K"), "logg": ("log g", "{:.2f}"), "feh": ("[Fe/H]", "{:.2f}"),
             "ofe": ("[O/Fe]", "{:.2f}"), "mgfe": ("[Mg/Fe]", "{:.2f}")}
    return ", ".join(f"{units[lab][0]} {units[lab][1].format(v['sigma_sys'])} (n={v['n']})"
                     for lab, v in record["labels"].items() if lab in units)


def _add_predict_parser(sub) -> None:
    """The ``glocal predict`` subcommand (options and PREDICT_RULES as its description)."""
    from glocal.observed.combine import add_exclude_option
    pr = sub.add_parser("predict", help="labels of observed or synthetic spectra, one CSV row per spectrum",
                        description=PREDICT_RULES.replace("{systematics}", _systematics_summary()),
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    pr.add_argument("spectra", type=Path, nargs="+", metavar="FILE",
                    help="FITS image (linear/log-linear WCS) or table, .gz, CSV/ASCII, or HDF5; several spectra "
                         "per file where the format has them")
    pr.add_argument("-o", "--output", type=Path,
                    help="CSV output with every column (written atomically); default: a table on the terminal")
    pr.add_argument("--run", default=None,
                    help="run directory or pretrained:<name> (see 'glocal pretrained'); default: the shipped "
                         "observed-normalized / observed-calibrated runs chosen by the flux kind")
    pr.add_argument("--band", default="auto", choices=["auto", "paper", "full"],
                    help="auto: the five-label runs for observed spectra, by flux kind; paper (= full): the "
                         "paper's two-label full-band run (default: %(default)s)")
    pr.add_argument("--flux", default="auto", choices=["auto", "normalized", "calibrated"],
                    help="kind of the input flux (default: %(default)s = detected, rule below)")
    pr.add_argument("--rv", type=float, default=0.0, metavar="KM/S",
                    help="radial velocity to remove, km/s, positive = receding (default: %(default)s)")
    med = pr.add_mutually_exclusive_group()
    med.add_argument("--vacuum", dest="medium", action="store_const", const="vacuum",
                     help="wavelengths are in vacuum (default: from the file's header, else air)")
    med.add_argument("--air", dest="medium", action="store_const", const="air", help="wavelengths are in air")
    pr.add_argument("--mc-samples", type=int, default=30, metavar="T",
                    help="MC-dropout passes for the _std columns (default: %(default)s)")
    pr.add_argument("--seed", type=int, default=0, help="seed of the dropout masks (default: %(default)s)")
    pr.add_argument("--combine", choices=["file", "all"], default=None,
                    help="read the spectra of each FILE (echelle orders, arms) or of all FILEs as one star's "
                         "spectrum, combined by glocal.observed.combine (pieces must share a flux scale: "
                         "normalized or calibrated; default: every spectrum on its own)")
    add_exclude_option(pr)
    pr.add_argument("--no-fit-check", action="store_true",
                    help="skip the forward-model fit that flags stars beyond the grid (grid_edge_fit)")
    pr.set_defaults(func=cmd_predict, medium=None)


def _add_train_parser(sub) -> None:
    """The ``glocal train`` subcommand."""
    t = sub.add_parser("train", help="train a model on a dataset")
    t.add_argument("--data", required=True, type=Path)
    t.add_argument("--model", default="spt-glocal", choices=_Choices(_estimator_names), metavar="MODEL",
                   help="estimator: %(choices)s (default: %(default)s)")
    t.add_argument("--band", default="full", choices=["full", "optical", "uv"])
    t.add_argument("--config", default="cpu", help="cpu, cpu-large, paper, or a JSON dict")
    t.add_argument("--split", default="random", choices=["random", "grouped"])
    t.add_argument("--out", required=True, type=Path)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--train-options", default=None, help='JSON, e.g. \'{"max_epochs": 50}\'')
    t.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16", "fp16"],
                   help="networks: autocast precision of the training, validation and prediction passes; auto = "
                        "bf16 on a CUDA GPU that supports it, else fp32; fp16 on CUDA adds dynamic loss scaling "
                        "(default: auto with --config paper, else fp32)")
    t.add_argument("--compile", default=None, type=compile_flag, nargs="?", const=True, metavar="BACKEND",
                   help="networks: torch.compile the training passes; bare --compile or 'true' = inductor, "
                        "'auto' = inductor on CUDA and none on the CPU, 'false' = none, or a backend name "
                        "such as eager (default: auto with --config paper, else false)")
    t.set_defaults(func=cmd_train)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="glocal", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("grid", help="the paper grid (§2.1): info and building")
    gsub = g.add_subparsers(dest="grid_command", required=True)
    gi = gsub.add_parser("info", help="count models and spectra of a preset")
    gi.add_argument("--preset", default="paper", choices=[*_preset_names(), "paper-full"],
                    help="'paper-full' ignores atmosphere coverage")
    gi.add_argument("--seed", type=int, default=0)
    gi.add_argument("--no-coverage", action="store_true", help="do not drop nodes outside the atmosphere grid")
    gi.add_argument("--json", action="store_true")
    gi.set_defaults(func=cmd_grid_info)
    gb = gsub.add_parser("build", help="synthesize, degrade and store a grid (resumable)")
    gb.add_argument("--preset", default="ci", choices=_preset_names(),
                    help="grid preset: %(choices)s (glocal grid info --preset NAME describes one)")
    gb.add_argument("--limit", type=int, default=None, metavar="N",
                    help="build only the first N in-coverage models; rerun without it to finish the grid")
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

    _add_train_parser(sub)

    to = sub.add_parser("train-observed", help="train a five-label run for observed spectra of one flux kind "
                        "(augmented, masked, conformal uncertainties; glocal.observed.training)")
    to.add_argument("--grid", required=True, type=Path, help="grid file built with --preset realstars")
    to.add_argument("--kind", required=True, choices=["normalized", "calibrated"])
    to.add_argument("--out", required=True, type=Path, help="run directory (resumed when it exists)")
    to.add_argument("--model", default="spt-glocal", choices=_Choices(_estimator_names), metavar="MODEL",
                    help="estimator: %(choices)s (default: %(default)s)")
    to.add_argument("--copies", type=int, default=6, help="augmented draws per training spectrum")
    to.add_argument("--max-epochs", type=int, default=8)
    to.add_argument("--seed", type=int, default=0)
    to.add_argument("--init-from", type=Path, default=None, metavar="RUN",
                    help="start from this network run's weights (fine-tuning) instead of a random initialisation")
    to.add_argument("--lr", type=float, default=None, help="initial learning rate (default 5e-4)")
    to.add_argument("--lr-step", type=int, default=None, help="epochs between learning-rate decays (default 2)")
    to.add_argument("--quiet", action="store_true")
    to.set_defaults(func=cmd_train_observed)

    e = sub.add_parser("evaluate", help="metrics of a run on a dataset's test split (§3.4)")
    e.add_argument("run", type=Path)
    e.add_argument("--data", required=True, type=Path)
    e.add_argument("--snr", default=None, help="comma-separated S/N values, e.g. 30,40,50")
    e.add_argument("--seed", type=int, default=0)
    e.set_defaults(func=cmd_evaluate)

    _add_predict_parser(sub)
    from glocal.fit_cli import add_fit_parser
    add_fit_parser(sub)

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
