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
  answers as a :func:`predict_stars`-like table; :func:`load_carbon_record` — the same for the unshipped
  network runs trained on the ``realstars-carbon`` grid (``results/observed/carbon_runs.json``,
  ``scripts/evaluate_carbon_runs.py``); :func:`load_emp_record` — the normalized run trained on the
  ``realstars-emp`` grid ([Fe/H] −5…−1; ``results/observed/emp_runs.json``, ``scripts/evaluate_emp_runs.py``);
  :func:`load_alpha_record`, :func:`load_damping_record`, :func:`load_overshoot_record` — the runs fine-tuned on
  the halo-α grid, on spectra with ABO-scaled damping and on atmospheres without the grid's overshooting
  (``scripts/evaluate_alpha_runs.py``, ``evaluate_damping_runs.py``, ``evaluate_overshoot_runs.py``);
* :func:`fit_stars` — :func:`glocal.fitting.fit_spectrum` of the prepared R = 200 spectrum on the full
  band or the optical one (4000–10000 Å), labels free or Teff, log g, [Fe/H] held at the literature;
* :func:`literature_errors` — per label, the mean absolute difference, the mean difference (method −
  literature) and the number of stars with a literature value; literature values are JINAbase means
  (Abohalima & Frebel 2018; ~0.1 dex scatter between studies), and the CALSPEC BOSZ SED fit gives a
  further Teff / [M/H] reference (``sed_teff``, ``sed_logz``);
* :func:`residual_spectra` — observed R = 200 spectrum against the emulated synthetic one at given labels,
  after the fit's smooth nuisance (continuum / calibration polynomial), as relative residuals;
* :func:`synthetic_twins` — the built-in engine's spectrum of each star at its literature labels (its flux
  kind, its wavelength coverage, noiseless), predicted by the same run as the real star: with the grid's
  abundance pattern (only O and Mg offset from solar-scaled) and with the other α elements enhanced as in
  halo stars.  The real star's answer minus its twin's separates what the networks do on their own kind of
  spectrum from what the engine does not reproduce of the real one (the module's twin decomposition);
* :func:`carbon_twins` — alpha twins of the carbon-enhanced stars (:data:`LITERATURE_CFE`) at [C/Fe] = 0
  and at their literature [C/Fe], predicted by the same run: what carbon alone does to the answers;
* :func:`carbon_sensitivity` — the same question for typical halo stars (:data:`CARBON_PROBES`) over a range
  of [C/Fe], in both flux kinds: how far a run's answers move with carbon alone.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .grid import JOINT_GROUPS

__all__ = ["LABELS", "predict_stars", "fit_stars", "literature_errors", "residual_spectra", "UV_CUT",
           "TREE_RECORD", "load_tree_record", "CARBON_RECORD", "NARROW_CARBON_RECORD", "load_carbon_record",
           "EMP_RECORD", "load_emp_record", "ALPHA_RECORD", "load_alpha_record",
           "DAMPING_RECORD", "load_damping_record", "OVERSHOOT_RECORD", "load_overshoot_record", "tuned_rule_summary",
           "record_table", "stis_stars", "synthetic_twins", "twin_feature_ratios", "TWIN_WINDOWS", "ALPHA_ELEMENTS",
           "TWIN_OFE", "TWIN_ENGINE_OPTIONS", "carbon_twins", "LITERATURE_CFE", "carbon_sensitivity",
           "CARBON_PROBES", "PROBE_XFE"]

LABELS = ("teff", "logg", "feh", "ofe", "mgfe")
#: Blue edge (Å) of the "optical only" case, as the paper's optical band.
UV_CUT = 4000.0
#: The committed record of the tree runs (``scripts/evaluate_tree_runs.py``).
TREE_RECORD = Path(__file__).resolve().parents[1] / "results" / "observed" / "tree_runs.json"
#: The committed record of the network runs trained on the realstars-carbon grid (``scripts/evaluate_carbon_runs.py``).
CARBON_RECORD = TREE_RECORD.with_name("carbon_runs.json")
#: The same for runs trained with a narrower [C/Fe] prior (``scripts/narrow_carbon_grid.py``).
NARROW_CARBON_RECORD = TREE_RECORD.with_name("carbon_runs_narrow.json")
#: The committed record of the normalized run trained on the realstars-emp grid, [Fe/H] −5…−1
#: (``scripts/evaluate_emp_runs.py``).
EMP_RECORD = TREE_RECORD.with_name("emp_runs.json")
#: The committed record of the runs fine-tuned on the realstars-alpha grid (``scripts/evaluate_alpha_runs.py``).
ALPHA_RECORD = TREE_RECORD.with_name("alpha_runs.json")
#: The runs fine-tuned on spectra with ABO-scaled van der Waals damping (``scripts/evaluate_damping_runs.py``).
DAMPING_RECORD = TREE_RECORD.with_name("damping_runs.json")
#: The runs fine-tuned on atmospheres without the grid's overshooting (``scripts/evaluate_overshoot_runs.py``).
OVERSHOOT_RECORD = TREE_RECORD.with_name("overshoot_runs.json")
#: α elements other than O and Mg that the "alpha" twin enhances, each to the star's literature [Mg/Fe]
#: (halo stars: [Si/Fe], [Ca/Fe] ≈ [Mg/Fe] ≈ +0.3–0.4, e.g. BD+17 4708: Mg 0.40, Si 0.35, Ca 0.36,
#: Ramírez et al. 2006, A&A 459, 613).  The shipped runs' grid keeps them solar-scaled ([X/Fe] = 0); the
#: ``realstars-alpha`` grid draws them as one group (the same elements, :data:`glocal.grid.JOINT_GROUPS`).
ALPHA_ELEMENTS = JOINT_GROUPS["alpha"]
#: [O/Fe] of a twin whose star has no literature [O/Fe] (a typical halo dwarf value; an assumption).
TWIN_OFE = 0.5
#: Engine options of the twins: the training grids' (built-in engine, resolution 40 000, threshold 1e-3).
TWIN_ENGINE_OPTIONS = {"resolution": 40000.0, "threshold": 1e-3}
#: Literature [C/Fe] of the development stars that are carbon-enhanced (the shipped literature table has no
#: carbon): CS 22892-052, [C/Fe] ≈ +0.9 (Sneden et al. 2003, ApJ 591, 936).
LITERATURE_CFE = {"cs22892-52": 0.9}
#: Typical halo stars (Teff K, log g, [Fe/H]) for :func:`carbon_sensitivity`: giants, a subgiant, dwarfs.
CARBON_PROBES = {"giant 4600/1.1/-2.7": (4600.0, 1.1, -2.7), "giant 4800/1.6/-3.0": (4800.0, 1.6, -3.0),
                 "giant 5000/2.2/-2.0": (5000.0, 2.2, -2.0), "subgiant 5750/3.6/-2.5": (5750.0, 3.6, -2.5),
                 "dwarf 5800/4.3/-1.6": (5800.0, 4.3, -1.6), "dwarf 6300/4.2/-3.0": (6300.0, 4.2, -3.0)}
#: Their [X/Fe] (a halo α pattern; an assumption): [O/Fe] 0.6, [Mg/Fe], [Si/Fe], [Ca/Fe] 0.35, [Ti/Fe] 0.3.
PROBE_XFE = {"O": 0.6, "Mg": 0.35, "Si": 0.35, "Ca": 0.35, "Ti": 0.3}


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
    from .observed.prepare import exclude_ranges
    from .runs import load_run
    if runs is None:
        candidates = [(key, load_run(spec), spec) for key, spec in default_candidates("auto")]
    else:
        candidates = [(run_kind(run), run, str(spec)) for spec, run in ((s, load_run(s)) for s in runs)]
    spectra = []
    for star in _stars(stars):
        spec = real_stars.observed(star)[0]
        if not uv:
            spec = exclude_ranges(spec, [(0.0, uv_cut)])
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


def _load_record(path, default: Path, command: str) -> dict:
    """A committed JSON record (``default`` unless ``path``); FileNotFoundError naming ``command``, which writes it."""
    import json
    path = Path(path) if path is not None else default
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run {command}")
    return json.loads(path.read_text())


def load_tree_record(path=None) -> dict:
    """The committed tree-run record (module docstring); FileNotFoundError naming the command that writes it."""
    return _load_record(path, TREE_RECORD, "scripts/evaluate_tree_runs.py evaluate --grid <realstars grid> "
                                           "--json results/observed/tree_runs.json")


def load_carbon_record(path=None) -> dict:
    """The committed record of the carbon-grid runs; FileNotFoundError naming the command that writes it."""
    return _load_record(path, CARBON_RECORD, "scripts/evaluate_carbon_runs.py --grid <realstars-carbon grid> "
                                             "--runs <runs folder> --json results/observed/carbon_runs.json")


def load_emp_record(path=None) -> dict:
    """The committed record of the EMP-grid run; FileNotFoundError naming the command that writes it."""
    return _load_record(path, EMP_RECORD, "scripts/evaluate_emp_runs.py --grid <realstars-emp grid> "
                                          "--run <run folder> --json results/observed/emp_runs.json")


def load_alpha_record(path=None) -> dict:
    """The committed record of the realstars-alpha runs; FileNotFoundError naming the command that writes it."""
    return _load_record(path, ALPHA_RECORD, "scripts/evaluate_alpha_runs.py --grid <realstars-alpha grid> "
                                            "--runs <runs folder> --json results/observed/alpha_runs.json")


def load_damping_record(path=None) -> dict:
    """The committed record of the widened-damping runs; FileNotFoundError naming the command that writes it."""
    return _load_record(path, DAMPING_RECORD, "scripts/evaluate_damping_runs.py --grid <realstars-alpha-abo grid> "
                                              "--runs <runs folder> --json results/observed/damping_runs.json")


def load_overshoot_record(path=None) -> dict:
    """The committed record of the runs tuned without overshooting; FileNotFoundError naming the command."""
    return _load_record(path, OVERSHOOT_RECORD, "scripts/evaluate_overshoot_runs.py --grid <realstars-nover grid> "
                                                "--runs <runs folder> --json results/observed/overshoot_runs.json")


def tuned_rule_summary(record: dict, prefix: str, names: dict) -> tuple:
    """``(table, values)`` of a record of runs fine-tuned from the shipped pair (damping, overshoot): the rule's
    rows (kind, part, label) with the MAE before and after and whether it holds, and the numbers the chapter
    quotes, keyed ``<prefix>_<kind[:4]>_<held|dev>_<label>_<shipped|tuned>``, ``<prefix>_<kind[:4]>_ship`` ("ships"
    / "does not ship"), ``<prefix>_<kind[:4]>_failed`` (the failed parts, named with ``names[label]``) and
    ``<prefix>_<all|opt>_<label>_<shipped|tuned>`` (MAE over every star with and without the UV)."""
    import pandas as pd
    rule, rows, values = record["shipping_rule"]["kinds"], {}, {}
    for kind, verdict in rule.items():
        parts = verdict["parts"]
        for lab in ("teff", "feh", "mgfe"):
            for part, key, short in (("held-out", "held_out", "held"), ("development stars", "dev_stars", "dev")):
                v = parts[key][lab]
                rows[(kind, part, lab)] = {"before": v["shipped"], "fine-tuned": v["tuned"], "holds": v["holds"]}
                for run in ("shipped", "tuned"):
                    values[f"{prefix}_{kind[:4]}_{short}_{lab}_{run}"] = v[run]
        values[f"{prefix}_{kind[:4]}_ship"] = "ships" if verdict["ship"] else "does not ship"
        failed = [f"{part} {names[lab]}" for part, key in (("held-out", "held_out"), ("development-star", "dev_stars"))
                  for lab in ("teff", "feh", "mgfe") if not parts[key][lab]["holds"]]
        values[f"{prefix}_{kind[:4]}_failed"] = "; ".join(failed) if failed else "no part"
    for name in ("shipped", "tuned"):
        for case, key in (("with UV", "all"), ("optical only", "opt")):
            errs = record["literature_errors"][f"{name}, {case}"]["all"]
            for lab in ("teff", "feh", "mgfe"):
                values[f"{prefix}_{key}_{lab}_{name}"] = errs[lab]["mae"]
    return pd.DataFrame.from_dict(rows, orient="index"), values


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


def _is_calibrated(row) -> bool:
    """A literature row's star is flux-calibrated (STIS CALSPEC) rather than continuum-normalised (MIKE)."""
    return str(row["file"]).startswith("calspec/")


def _twin_xfe(row, alpha_elements=()) -> dict:
    """[X/Fe] of a star's twin: literature [O/Fe] (or :data:`TWIN_OFE`) and [Mg/Fe], and ``alpha_elements`` at
    the star's [Mg/Fe]."""
    ofe = float(row["ofe"]) if np.isfinite(float(row["ofe"])) else TWIN_OFE
    return {"O": ofe, "Mg": float(row["mgfe"])} | {el: float(row["mgfe"]) for el in alpha_elements}


def _twin_spectrum(star, labels: dict, xfe: dict, kind: str, options: dict):
    """The engine's spectrum of ``star`` at ``labels`` as an ObservedSpectrum of flux kind ``kind`` (physical
    F_λ for "calibrated", F/F_c for "normalized"), masked outside the star's own measured range (air)."""
    from . import real_stars
    from .observed.spectrum import ObservedSpectrum
    from .synthesis import synthesize
    obs = real_stars.observed(star)[0].to_air()
    good = obs.wave[~obs.mask]
    s = synthesize(labels["teff"], labels["logg"], labels["feh"], abundances=xfe, wave_range=(2500.0, 10100.0),
                   **options)
    flux = s.flux * 1e-13 if kind == "calibrated" else s.flux / s.continuum   # any scale: the run normalises
    meta = {"name": f"{star} twin", "resolution": float(options.get("resolution", 40000.0))}
    if kind == "calibrated":
        meta["flux_unit"] = "erg / (Angstrom s cm2)"
    return ObservedSpectrum(s.wave, flux, mask=(s.wave < good.min()) | (s.wave > good.max()), medium="air",
                            meta=meta)


def synthetic_twins(stars=None, *, alpha_elements=ALPHA_ELEMENTS, T: int = 10, seed: int = 0,
                    engine_options=None):
    """Twins of the stars with literature Teff, log g, [Fe/H] and [Mg/Fe] (module docstring), predicted with the
    shipped run of each star's flux kind.  [O/Fe] is the literature value or :data:`TWIN_OFE`; v_t from the
    grid's relation; ``engine_options`` update :data:`TWIN_ENGINE_OPTIONS`.
    Returns a DataFrame indexed by (star, twin), twin in ("grid", "alpha"): ``flux_kind``, ``band`` (the
    measured range used, Å), the five predicted labels, ``flag``.  Carbon, nitrogen and the neutron-capture
    elements stay solar-scaled in both twins."""
    import pandas as pd

    from . import real_stars
    from .observed.predict import default_candidates, predict_observed
    from .runs import load_run
    options = TWIN_ENGINE_OPTIONS | dict(engine_options or {})
    lit = real_stars.load_literature().set_index("star")
    candidates = [(key, load_run(spec), spec) for key, spec in default_candidates("auto")]
    frames = []
    for star in _stars(stars):
        row = lit.loc[star]
        if not all(np.isfinite(float(row[k])) for k in ("teff", "logg", "feh", "mgfe")):
            continue
        kind = "calibrated" if _is_calibrated(row) else "normalized"
        labels = {k: float(row[k]) for k in ("teff", "logg", "feh")}
        twins = {"grid": _twin_xfe(row), "alpha": _twin_xfe(row, alpha_elements)}
        specs = [_twin_spectrum(star, labels, xfe, kind, options) for xfe in twins.values()]
        df = predict_observed(specs, candidates, flux_kind=kind, T=T, seed=seed, fit_check=False)
        df.index = pd.MultiIndex.from_product([[star], list(twins)], names=["star", "twin"])
        frames.append(df[["flux_kind", "band", *LABELS, "flag"]])
    return pd.concat(frames)


#: Windows (Å, air) of :func:`twin_feature_ratios`: the Balmer lines, Ca II H&K, the Balmer jump and the near UV.
TWIN_WINDOWS = {"H-delta": (4060.0, 4140.0), "H-gamma": (4300.0, 4380.0), "H-beta": (4820.0, 4900.0),
                "H-alpha": (6500.0, 6630.0), "Ca II H&K": (3900.0, 3990.0), "Balmer jump": (3650.0, 3800.0),
                "near UV": (2900.0, 3300.0)}


def twin_feature_ratios(star: str, *, dteff: float = 200.0, windows=None, engine_options=None) -> dict:
    """Where the real R = 200 spectrum of ``star`` departs from its "alpha" twin (:func:`synthetic_twins`):
    per window of ``windows`` (default :data:`TWIN_WINDOWS`; those the star covers), the mean of
    real / twin − 1 and of twin(Teff + ``dteff``) / twin − 1 over the window's good pixels, both spectra
    normalised alike (:func:`glocal.observed.normalize.normalize_calibrated` with the star's bad pixels,
    degree 5 in ln λ; a normalised star is used as it is and the twin as F/F_c).  Their ratio × ``dteff``
    is the Teff change of the twin that would make that window alone agree: ``{window: {"real": ..,
    "per_dteff": .., "teff_equiv": .. (K; NaN where the window does not respond)}}``."""
    from . import real_stars
    from .degrade import degrade
    from .observed.normalize import normalize_calibrated
    from .synthesis import synthesize
    options = TWIN_ENGINE_OPTIONS | dict(engine_options or {})
    row = real_stars.load_literature().set_index("star").loc[star]
    prep = real_stars.load_prepared(star)
    wave, bad = prep.wave, ~np.isfinite(prep.flux)
    calibrated = _is_calibrated(row)
    xfe = _twin_xfe(row, ALPHA_ELEMENTS)

    def normed(flux):
        return normalize_calibrated(wave, flux, mask=bad)[0] if calibrated else flux

    def twin(teff):
        s = synthesize(teff, float(row["logg"]), float(row["feh"]), abundances=xfe, wave_range=(2500.0, 10100.0),
                       **options)
        return normed(degrade(s.wave, s.flux if calibrated else s.flux / s.continuum, R=200, grid=wave)[1])

    real, t0, t1 = normed(np.where(bad, np.nan, prep.flux)), twin(float(row["teff"])), twin(float(row["teff"]) + dteff)
    out = {}
    for name, (lo, hi) in (windows or TWIN_WINDOWS).items():
        use = (wave >= lo) & (wave <= hi) & ~bad
        if not use.any():
            continue
        d_real, d_t = float(np.mean(real[use] / t0[use] - 1.0)), float(np.mean(t1[use] / t0[use] - 1.0))
        out[name] = {"real": d_real, "per_dteff": d_t,
                     "teff_equiv": d_real / d_t * dteff if abs(d_t) > 2e-3 else float("nan")}
    return out


def carbon_twins(stars_cfe=None, *, T: int = 10, seed: int = 0, engine_options=None):
    """Alpha twins (:func:`synthetic_twins`) of the stars in ``stars_cfe`` ({star: literature [C/Fe]}; default
    :data:`LITERATURE_CFE`) at [C/Fe] = 0 and at that value, predicted with the shipped run of each star's
    flux kind.  Returns a DataFrame indexed by (star, cfe): the five predicted labels and ``flag``."""
    import pandas as pd

    from . import real_stars
    from .observed.predict import default_candidates, predict_observed
    from .runs import load_run
    options = TWIN_ENGINE_OPTIONS | dict(engine_options or {})
    lit = real_stars.load_literature().set_index("star")
    candidates = [(key, load_run(spec), spec) for key, spec in default_candidates("auto")]
    frames = []
    for star, cfe in (LITERATURE_CFE if stars_cfe is None else stars_cfe).items():
        row = lit.loc[star]
        kind = "calibrated" if _is_calibrated(row) else "normalized"
        labels = {k: float(row[k]) for k in ("teff", "logg", "feh")}
        values = [0.0, float(cfe)]
        specs = [_twin_spectrum(star, labels, _twin_xfe(row, ALPHA_ELEMENTS) | {"C": c}, kind, options)
                 for c in values]
        df = predict_observed(specs, candidates, flux_kind=kind, T=T, seed=seed, fit_check=False)
        df.index = pd.MultiIndex.from_product([[star], values], names=["star", "cfe"])
        frames.append(df[[*LABELS, "flag"]])
    return pd.concat(frames)


def _probe_spectrum(name, synth, kind, coverage, resolution):
    from .observed.spectrum import ObservedSpectrum
    meta = {"name": name, "resolution": float(resolution)}
    if kind == "calibrated":
        meta["flux_unit"] = "erg / (Angstrom s cm2)"
    flux = synth.flux * 1e-13 if kind == "calibrated" else synth.flux / synth.continuum
    return ObservedSpectrum(synth.wave, flux, mask=(synth.wave < coverage[0]) | (synth.wave > coverage[1]),
                            medium="air", meta=meta)


def carbon_sensitivity(probes=None, cfe=(-0.5, 0.0, 0.5, 0.9), *, runs=None, T: int = 10, seed: int = 0,
                       engine_options=None):
    """The shipped runs (or ``runs``: {kind: run spec}) on engine spectra of ``probes`` ({name: (Teff, log g,
    [Fe/H])}; default :data:`CARBON_PROBES`, [X/Fe] :data:`PROBE_XFE`) at each [C/Fe] of ``cfe``: noiseless,
    normalised over 3350–9400 Å (as the MIKE spectra) and flux-calibrated over 2550–10000 Å (as STIS).
    Returns a DataFrame indexed by (kind, star, cfe) with the predicted labels minus the probe's (``dteff``,
    ``dlogg``, ``dfeh``, ``dmgfe``) and ``flag``."""
    import pandas as pd

    from .observed.predict import default_candidates, predict_observed
    from .runs import load_run
    from .synthesis import synthesize
    options = TWIN_ENGINE_OPTIONS | dict(engine_options or {})
    probes = CARBON_PROBES if probes is None else probes
    keys = [(name, float(c)) for name in probes for c in cfe]
    synths = [synthesize(*probes[name], abundances=PROBE_XFE | {"C": c}, wave_range=(2500.0, 10100.0), **options)
              for name, c in keys]
    specs = dict(default_candidates("auto")) | dict(runs or {})
    coverage = {"normalized": (3350.0, 9400.0), "calibrated": (2550.0, 10000.0)}
    frames = []
    for kind in ("normalized", "calibrated"):
        run = load_run(specs[kind])
        spectra = [_probe_spectrum(name, sy, kind, coverage[kind], options["resolution"])
                   for (name, _), sy in zip(keys, synths)]
        df = predict_observed(spectra, [(kind, run, str(specs[kind]))], flux_kind=kind, T=T, seed=seed,
                              fit_check=False)
        truth = np.array([probes[name] + (PROBE_XFE["Mg"],) for name, _ in keys])
        out = pd.DataFrame({f"d{lab}": df[lab].to_numpy() - truth[:, j]
                            for j, lab in enumerate(("teff", "logg", "feh", "mgfe"))})
        out["flag"] = df["flag"].to_numpy()
        out.index = pd.MultiIndex.from_tuples([(kind, *k) for k in keys], names=["kind", "star", "cfe"])
        frames.append(out)
    return pd.concat(frames)


#: [Fe/H] of :func:`metallicity_floor_probes`: inside the training box (−3.5, −4.0) and below it.
FLOOR_FEH = (-3.5, -4.0, -4.25, -4.5, -5.0)
#: (Teff, log g) of the floor probes: an extremely metal-poor giant and a turn-off star.
FLOOR_STARS = {"giant": (4800.0, 1.5), "turn-off": (6300.0, 4.0)}


def metallicity_floor_probes(fehs=FLOOR_FEH, stars=None, *, runs=None, T: int = 10, seed: int = 0,
                             engine_options=None):
    """The shipped runs (or ``runs``: {kind: run spec}) on noiseless engine spectra of ``stars`` ({name: (Teff,
    log g)}, default :data:`FLOOR_STARS`) at each [Fe/H] of ``fehs`` ([X/Fe] :data:`PROBE_XFE`), normalised over
    3350–9400 Å as the MIKE spectra, with the default checks on (the forward-model fit flags ``grid_edge_fit``).
    Returns a DataFrame indexed by (star, feh) with the predicted Teff and [Fe/H], their errors ``dteff``,
    ``dfeh`` and ``flag``: how a star below the training box's [Fe/H] floor is answered."""
    import pandas as pd

    from .observed.predict import default_candidates, predict_observed
    from .runs import load_run
    from .synthesis import synthesize
    options = TWIN_ENGINE_OPTIONS | dict(engine_options or {})
    stars = FLOOR_STARS if stars is None else stars
    keys = [(name, float(f)) for name in stars for f in fehs]
    spec = (dict(default_candidates("auto")) | dict(runs or {}))["normalized"]
    spectra = [_probe_spectrum(f"{name} {feh:+.2f}",
                               synthesize(*stars[name], feh, abundances=PROBE_XFE, wave_range=(2500.0, 10100.0),
                                          **options), "normalized", (3350.0, 9400.0), options["resolution"])
               for name, feh in keys]
    df = predict_observed(spectra, [("normalized", load_run(spec), str(spec))], flux_kind="normalized", T=T,
                          seed=seed)
    truth = np.array([(stars[name][0], feh) for name, feh in keys])
    out = pd.DataFrame({"teff": df["teff"].to_numpy(), "feh": df["feh"].to_numpy(),
                        "dteff": df["teff"].to_numpy() - truth[:, 0], "dfeh": df["feh"].to_numpy() - truth[:, 1],
                        "flag": df["flag"].to_numpy()},
                       index=pd.MultiIndex.from_tuples(keys, names=["star", "feh_true"]))
    return out
