"""Real stars against the literature: ``predict`` and ``fit`` with and without the UV (the real-stars chapter).

The nine shipped development stars (:mod:`glocal.real_stars`: 7 HST/STIS CALSPEC flux-calibrated
UV–optical spectra, 2 Magellan/MIKE continuum-normalised optical spectra) go through the same code as a
user's file:

* :func:`predict_stars` — :func:`glocal.observed.predict.predict_observed` with the shipped five-label runs
  (by flux kind) or given ones (``runs``, e.g. the tree runs), on the whole spectrum or with every pixel
  blueward of ``uv_cut`` (Å, air) marked bad before preparation (the paper's "optical only" question asked
  of the same run, which reads any coverage that keeps 4000–9000 Å);
* :func:`load_tree_record`, :func:`record_table` — the committed record of the unshipped tree runs
  (``results/observed/tree_runs.json``, written by ``scripts/evaluate_tree_runs.py``) and its per-star
  answers as a :func:`predict_stars`-like table;
* :func:`fit_stars` — :func:`glocal.fitting.fit_spectrum` of the prepared R = 200 spectrum on the full
  band or the optical one (4000–10000 Å), labels free or Teff, log g, [Fe/H] held at the literature;
* :func:`literature_errors` — per label, the mean absolute difference, the mean difference (method −
  literature) and the number of stars with a literature value; literature values are JINAbase means
  (Abohalima & Frebel 2018; ~0.1 dex scatter between studies), and the CALSPEC BOSZ SED fit gives a
  further Teff / [M/H] reference (``sed_teff``, ``sed_logz``);
* :func:`residual_spectra` — observed R = 200 spectrum against the emulated synthetic one at given labels,
  after the fit's smooth nuisance (continuum / calibration polynomial), as relative residuals.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

__all__ = ["LABELS", "predict_stars", "fit_stars", "literature_errors", "residual_spectra", "UV_CUT",
           "TREE_RECORD", "load_tree_record", "record_table", "stis_stars"]

LABELS = ("teff", "logg", "feh", "ofe", "mgfe")
#: Blue edge (Å) of the "optical only" case, as the paper's optical band.
UV_CUT = 4000.0
#: The committed record of the tree runs (``scripts/evaluate_tree_runs.py``).
TREE_RECORD = Path(__file__).resolve().parents[1] / "results" / "observed" / "tree_runs.json"


def _stars(stars):
    from . import real_stars
    return list(real_stars.stars() if stars is None else stars)


def predict_stars(stars=None, *, uv: bool = True, uv_cut: float = UV_CUT, T: int = 30, seed: int = 0,
                  runs=None):
    """One ``glocal predict`` row per star (pandas DataFrame indexed by star), with the shipped runs or the
    observed runs ``runs`` (specs for :func:`glocal.runs.load_run`, one per flux kind); ``uv=False`` masks
    the input blueward of ``uv_cut`` Å first."""
    from . import real_stars
    from .observed.predict import default_candidates, predict_observed, run_kind
    from .runs import load_run
    if runs is None:
        candidates = [(key, load_run(spec), spec) for key, spec in default_candidates("auto")]
    else:
        candidates = [(run_kind(run), run, str(spec)) for spec, run in ((s, load_run(s)) for s in runs)]
    spectra = []
    for star in _stars(stars):
        spec = real_stars.observed(star)[0]
        if not uv:
            spec = replace(spec, mask=spec.mask | (spec.to_air().wave < uv_cut))
        spectra.append((spec, 0))
    df = predict_observed(spectra, candidates, T=T, seed=seed)
    df.index = _stars(stars)
    df.index.name = "star"
    return df


def fit_stars(stars=None, *, band: str = "full", hold_literature: bool = False, hold=("teff", "logg", "feh")):
    """``glocal fit`` of every star's prepared spectrum (DataFrame indexed by star: the five labels, their
    ``_std``, chi2_red, n_pixels, flag).  ``hold_literature``: the labels ``hold`` (default Teff, log g and
    [Fe/H]) held at the literature values (stars without them are fitted free and flagged
    ``no_literature_held``)."""
    import pandas as pd

    from . import real_stars
    from .fitting import fit_spectrum
    lit = real_stars.load_literature().set_index("star")
    rows = {}
    for star in _stars(stars):
        fixed = {}
        if hold_literature:
            fixed = {k: float(lit.loc[star, k]) for k in hold if np.isfinite(lit.loc[star, k])}
        res = fit_spectrum(real_stars.load_prepared(star), fixed=fixed or None, band=band)
        row = {k: res.labels[k] for k in LABELS} | {f"{k}_std": res.std[k] for k in LABELS}
        flags = list(res.flags) + (["no_literature_held"] if hold_literature and not fixed else [])
        rows[star] = row | {"chi2_red": res.chi2_red, "n_pixels": res.n_pixels, "flag": ";".join(flags)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "star"
    return out


def literature_errors(table, literature=None, labels=LABELS, *, sed: bool = False):
    """Per label: ``mae``, ``bias`` (table − literature) and ``n`` over the stars with both values.
    ``sed=True`` compares Teff and [Fe/H] with the CALSPEC SED fit (``sed_teff``, ``sed_logz``) instead."""
    import pandas as pd

    from . import real_stars
    lit = (real_stars.load_literature() if literature is None else literature).set_index("star")
    ref_col = {"teff": "sed_teff", "logg": "sed_logg", "feh": "sed_logz"} if sed else {k: k for k in labels}
    rows = {}
    for lab in labels:
        if lab not in ref_col:
            continue
        ref = lit[ref_col[lab]].reindex(table.index).astype(float)
        d = (table[lab].astype(float) - ref).dropna()
        rows[lab] = {"mae": float(d.abs().mean()) if len(d) else np.nan,
                     "bias": float(d.mean()) if len(d) else np.nan, "n": int(len(d))}
    return pd.DataFrame.from_dict(rows, orient="index")


def residual_spectra(star: str, labels: dict, *, band: str = "full") -> dict:
    """Observed / model − 1 on the fitted pixels for ``labels`` (all five held): {"wave", "residual",
    "used", "chi2_red"}; the model is the emulator's synthetic spectrum times the fitted smooth nuisance."""
    from . import real_stars
    from .fitting import model_at
    res = model_at(real_stars.load_prepared(star), {k: float(labels[k]) for k in LABELS}, band=band)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(res.used, res.data / res.model - 1.0, np.nan)
    return {"wave": res.wave, "residual": r, "used": res.used, "chi2_red": res.chi2_red}


def stis_stars(literature=None, label: str = "mgfe") -> list[str]:
    """The STIS (CALSPEC, UV–optical) stars with a literature value of ``label``."""
    from . import real_stars
    lit = real_stars.load_literature() if literature is None else literature
    ok = lit["file"].str.startswith("calspec/") & lit[label].notna()
    return [str(s) for s in lit.loc[ok, "star"]]


def load_tree_record(path=None) -> dict:
    """The committed tree-run record (module docstring); FileNotFoundError naming the command that writes it."""
    import json
    path = Path(path) if path is not None else TREE_RECORD
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run scripts/evaluate_tree_runs.py evaluate --grid <realstars "
                                "grid> --json results/observed/tree_runs.json")
    return json.loads(path.read_text())


def record_table(record: dict, case: str = "with UV"):
    """The record's answers for ``case`` ("with UV" or "optical only") as a DataFrame indexed by star:
    ``run``, ``band``, ``flux_kind``, the five labels, their ``_std`` (68 % half-width) and ``_err95``, ``flag``
    (null values in the record, i.e. refused answers, become NaN)."""
    import pandas as pd
    rows = {}
    for star, r in record["stars"][case].items():
        row = {k: r.get(k) for k in ("run", "band", "flux_kind")}
        for lab in LABELS:
            v = r["labels"][lab]
            row |= {lab: v["value"], f"{lab}_std": v["std"], f"{lab}_err95": v["err95"]}
        rows[star] = row | {"flag": r["flag"]}
    out = pd.DataFrame.from_dict(rows, orient="index")
    num = [c for c in out.columns if c not in ("run", "band", "flux_kind", "flag")]
    out[num] = out[num].astype(float)
    out.index.name = "star"
    return out
