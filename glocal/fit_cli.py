"""``glocal fit``: forward-model fits of observed spectra, one CSV row per spectrum.

Every spectrum goes through the same preparation as ``glocal predict``
(:func:`glocal.observed.prepare` on the full CSST R=200 grid, rv removed, masks kept) and is fitted by
:func:`glocal.fitting.fit_spectrum` on the pixels of ``--band`` (labels free unless held with ``--fix``;
uncertainties from the Jacobian covariance scaled by the reduced χ²; the emulator of the realstars grid,
``glocal/data/emulator``).

Columns: source, index, object, name, band, flux_kind, then for teff, logg, feh, ofe, mgfe, ebv, rv the
value and its 1σ ``_std`` (NaN when held), then ``_std_real`` for the five labels (``_std`` with the fit's
real-star systematic term added in quadrature, :mod:`glocal.observed.systematics`; NaN when held or with
another emulator), chi2_red, n_pixels_used, flag (``;``-joined, "" when nothing
is wrong; ``not_prepared(<reason>)`` when the preparation refused the spectrum; ``flux_out_of_range(...)`` or
``flux_not_normalized(...)`` when a spectrum taken as normalised is not, the rule of ``glocal predict``,
:func:`glocal.observed.predict.normalized_flux_problem`: nothing is fitted then).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

__all__ = ["add_fit_parser", "cmd_fit", "fit_observed", "parse_fixed", "COLUMNS"]

_ID = ("source", "index", "object", "name", "band", "flux_kind")
_VALUES = ("teff", "logg", "feh", "ofe", "mgfe", "ebv", "rv")
#: Labels with a real-star systematic term (``L_std_real``, :mod:`glocal.observed.systematics`).
_REAL = ("teff", "logg", "feh", "ofe", "mgfe")
#: Column order of the table.
COLUMNS = (_ID + tuple(c for p in _VALUES for c in (p, f"{p}_std")) + tuple(f"{p}_std_real" for p in _REAL)
           + ("chi2_red", "n_pixels_used", "flag"))


def parse_fixed(items) -> dict:
    """``["teff=5600", "logg=3.5"]`` → ``{"teff": 5600.0, "logg": 3.5}`` (ValueError on a bad item)."""
    out = {}
    for item in items or []:
        name, sep, value = str(item).partition("=")
        if not sep:
            raise ValueError(f"--fix expects NAME=VALUE, got {item!r}")
        try:
            out[name.strip().lower()] = float(value)
        except ValueError:
            raise ValueError(f"--fix {item!r}: {value!r} is not a number") from None
    return out


def _row(meta, index, name, band, kind) -> dict:
    band = band if isinstance(band, str) else f"{band[0]:g}-{band[1]:g}"
    excluded = meta.get("excluded") or []
    if excluded:   # --exclude: say which pixels the fit did not see
        band += " without " + ",".join(f"{lo:g}-{hi:g}" for lo, hi in excluded)
    row = {"source": str(meta.get("source", "")), "index": int(index), "object": str(meta.get("object", "") or ""),
           "name": name, "band": band, "flux_kind": kind}
    row.update({c: np.nan for c in COLUMNS if c not in row})
    row.update(n_pixels_used=0, flag="")
    return row


def _fit_terms(emulator, emulator_dir) -> dict | None:
    """The fit's real-star terms when the emulator is the one they were measured with (else None)."""
    from glocal.emulator import DEFAULT_DIR, WEIGHTS_FILE, load_emulator
    from glocal.observed.systematics import fit_systematics
    if emulator is not None and emulator_dir is None and emulator is not load_emulator():
        return None                      # an emulator object of unknown origin
    folder = Path(emulator_dir) if emulator_dir is not None else DEFAULT_DIR
    return fit_systematics(emulator_path=folder / WEIGHTS_FILE)


def fit_observed(spectra, *, rv: float = 0.0, flux_kind: str = "auto", band="full", fixed=None,
                 fit_ebv: bool = False, fit_rv: bool = False, degree=None, telluric="auto", emulator=None,
                 emulator_dir=None, results=None):
    """Prepare and fit every spectrum (items: ObservedSpectrum or (ObservedSpectrum, index in its file));
    a ``pandas.DataFrame`` with :data:`COLUMNS`.  ``emulator``: an Emulator (default: the shipped one) or
    ``emulator_dir``, the folder it was loaded from (the ``_std_real`` terms apply only to the emulator they
    were measured with).  ``results``, a list, receives each FitResult (or None)."""
    import pandas as pd

    from glocal.fitting import fit_spectrum
    from glocal.observed.predict import normalized_flux_problem
    from glocal.observed.prepare import prepare
    rows = []
    for pos, item in enumerate(spectra):
        spec, index = item if isinstance(item, tuple) else (item, pos)
        row = _row(spec.meta, index, spec.name, band, "")
        try:
            prep = prepare(spec, rv=rv, band="full", target_R=200, flux_kind=flux_kind)
        except ValueError as exc:
            row["flag"] = f"not_prepared({' '.join(str(exc).split())[:200]})"
            rows.append(row)
            if results is not None:
                results.append(None)
            continue
        kind = prep.flux_kind
        bad = normalized_flux_problem(prep.flux[~prep.mask]) if kind == "normalized" else None
        if bad:
            row.update(flux_kind=kind, flag=bad)
            rows.append(row)
            if results is not None:
                results.append(None)
            continue
        ebv_fit = fit_ebv and kind == "calibrated"
        res = fit_spectrum(prep, fixed=fixed, fit_ebv=ebv_fit, fit_rv=fit_rv, degree=degree, band=band,
                           telluric=telluric, emulator=emulator)
        row.update(flux_kind=kind, chi2_red=res.chi2_red, n_pixels_used=res.n_pixels,
                   flag=";".join(res.flags + (["ebv_not_fitted_normalized"] if fit_ebv and not ebv_fit else [])))
        for p in _VALUES:
            row[p], row[f"{p}_std"] = res.labels[p], res.std[p]
        rows.append(row)
        if results is not None:
            results.append(res)
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    for p, sys in (_fit_terms(emulator, emulator_dir) or {}).items():
        if p in _REAL:
            df[f"{p}_std_real"] = np.sqrt(df[f"{p}_std"].astype(float) ** 2 + sys ** 2)
    return df


def cmd_fit(args):
    from glocal.emulator import load_emulator
    from glocal.observed.combine import collect_spectra
    from glocal.report import deliver
    spectra = collect_spectra(args.spectra, medium=args.medium, combine=args.combine, exclude=args.exclude,
                              rv=args.rv)
    emu = load_emulator(args.emulator)
    df = fit_observed(spectra, rv=args.rv, flux_kind=args.flux, band=args.band, fixed=parse_fixed(args.fix),
                      fit_ebv=args.fit_ebv, fit_rv=args.fit_rv, degree=args.degree,
                      telluric={"auto": "auto", "mask": True, "keep": False}[args.telluric], emulator=emu,
                      emulator_dir=args.emulator)
    failed = int(df["n_pixels_used"].eq(0).sum() + df["flag"].str.contains("too_few_pixels").sum())
    deliver(df, args.output, done=f"{len(df) - failed} fitted, {failed} not")


def add_fit_parser(sub) -> argparse.ArgumentParser:
    """Add the ``fit`` subcommand to an argparse subparsers object; returns its parser."""
    from glocal import fitting
    from glocal.observed.combine import add_exclude_option
    f = sub.add_parser("fit", help="forward-model fit (emulator) of observed spectra, one CSV row per spectrum",
                       description=__doc__ + "\n" + fitting.__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("spectra", type=Path, nargs="+", metavar="FILE",
                   help="FITS image or table, .gz, CSV/ASCII or HDF5 (as glocal predict reads)")
    f.add_argument("-o", "--output", type=Path,
                   help="CSV output with every column (written atomically); default: a table on the terminal")
    f.add_argument("--fix", action="append", default=[], metavar="NAME=VALUE",
                   help="hold a parameter (teff, logg, feh, ofe, mgfe, ebv, rv); repeat for several")
    f.add_argument("--fit-ebv", action="store_true", help="fit E(B-V) (G23, R_V=3.1; calibrated input only)")
    f.add_argument("--fit-rv", action="store_true", help="fit a residual RV (km/s; weakly constrained at R=200)")
    f.add_argument("--rv", type=float, default=0.0, metavar="KM/S",
                   help="radial velocity to remove before the fit, km/s, positive = receding (default: %(default)s)")
    f.add_argument("--flux", default="auto", choices=["auto", "normalized", "calibrated"],
                   help="kind of the input flux (default: %(default)s = detected as glocal predict does)")
    f.add_argument("--band", default="full", choices=["full", "optical", "uv"],
                   help="pixels fitted: full 2550-10000, optical 4000-10000, uv 2550-4000 Å (default: %(default)s)")
    f.add_argument("--degree", type=int, default=None,
                   help="Legendre degree of the nuisance (default: 2 normalized, 4 calibrated)")
    f.add_argument("--telluric", default="auto", choices=["auto", "mask", "keep"],
                   help="drop pixels near the strong O2/H2O bands: auto = for normalized (ground-based) input only "
                        "(default: %(default)s)")
    f.add_argument("--emulator", type=Path, default=None, help="emulator folder (default: the shipped one)")
    med = f.add_mutually_exclusive_group()
    med.add_argument("--vacuum", dest="medium", action="store_const", const="vacuum",
                     help="wavelengths are in vacuum (default: from the file's header, else air)")
    med.add_argument("--air", dest="medium", action="store_const", const="air", help="wavelengths are in air")
    add_exclude_option(f)
    f.add_argument("--combine", choices=["file", "all"], default=None,
                   help="fit the spectra of each FILE (echelle orders, arms) or of all FILEs as one star's spectrum, "
                        "combined by glocal.observed.combine (pieces must share a flux scale: normalized or "
                        "calibrated; default: every spectrum on its own)")
    f.set_defaults(func=cmd_fit, medium=None)
    return f
