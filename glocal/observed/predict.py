"""Labels of observed spectra: prepared spectra + runs → one table row per spectrum.

:func:`predict_observed` prepares each :class:`~glocal.observed.ObservedSpectrum` with
:func:`glocal.observed.prepare` on the full CSST R=200 grid (2550–10000 Å, Eq. 8) and hands it to
:func:`predict_prepared`.  Two families of runs answer:

* **Observed-spectra runs** (``config.json`` → ``observed``; :mod:`glocal.observed.training`; the
  default :data:`OBSERVED_RUNS`): five labels, one run per input kind, NaN = missing pixel.
* **Band runs** of the paper's protocol (:func:`glocal.runs.train_run`; :data:`DEFAULT_RUNS` with
  ``--band paper``): the labels they were trained on, normalised flux of one band, no missing pixels.

Rules, in this order, for every spectrum:

1. **Flux kind** (detected by :func:`glocal.observed.detect_flux_kind` or stated).  Observed runs: the
   run of that kind answers (``no_run_for_<kind>_flux`` when none is given); a calibrated spectrum is
   normalised by :func:`glocal.observed.normalize.normalize_calibrated` on its measured pixels, as its
   training spectra were.  Band runs read normalised flux only: a calibrated spectrum gets NaN and the
   flag ``flux_calibrated_unsupported``.
2. **Out-of-domain flux.**  ``negative_flux`` when the median of the input's good pixels is ≤ 0;
   for a normalised spectrum, ``flux_out_of_range`` when a measured pixel of the used grid lies outside
   :data:`FLUX_RANGE` = [0, 1.5] after degradation to R=200 (a normalised spectrum sits at ≤ 1 apart
   from noise), and ``flux_not_normalized(p95=…)`` when the 95th percentile of those pixels is below
   :data:`MIN_NORMALIZED_P95` (0.5) — a physical flux (1e-13 erg/s/cm²/Å) given as normalised, which the
   other checks cannot see (over the emulator's label ranges, noiseless normalised spectra at R = 200
   have p95 ≥ 0.93 over 4000–9000 Å, the band every observed run needs).  All give NaN values.
3. **Coverage.**  Observed runs: at least :data:`MIN_BAND_FRACTION` (90 %) of the grid pixels inside
   the run's minimum band (4000–9000 Å) measured and no interior run of masked pixels over
   :data:`MAX_INTERIOR_GAP` (10) pixels, else ``insufficient_coverage(4000-9000A=0.62,longest_gap=14px)``;
   the ``band`` column gives the measured range used ("3352-9951", Å).  Band runs: candidates in
   order, a band usable when 90 % of its pixels are measured and no interior gap exceeds 10 pixels,
   else ``insufficient_coverage(full=0.72)``.
4. **Masked pixels.**  Observed runs read them as missing (NaN).  Band runs take no mask: interior gaps
   are filled by linear interpolation, gaps at the band's ends with the nearest measured value
   (``n_pixels_interpolated``, informational flag ``interpolated_pixels=N``).
5. **Prediction**: mean of ``T`` MC-dropout passes (seed ``seed``).  ``L_std``: observed runs with a
   conformal calibration (:mod:`glocal.conformal`) give the calibrated 68 % half-width and ``L_err95``
   the 95 % one; band runs give the raw MC-dropout standard deviation (``L_err95`` NaN).
6. **Domain** (observed runs, values kept): ``unlike_training_spectra(misfit=…>…)`` when the input lies
   farther from the training spectra than 99 % of the calibration spectra
   (:mod:`glocal.observed.domain`); ``near_training_edge(label=value;range=…)`` when a predicted label is
   within :data:`EDGE_FRACTION` (2 %) of its training range of an edge, or beyond it;
   ``grid_edge_fit(teff,…)`` when a forward-model fit of the spectrum over the same grid puts Teff, log g
   or [Fe/H] on a bound (``fit_check``; the network itself regresses towards the middle of its labels, so
   a star beyond the grid can get a prediction just inside it).

Refusing flags (NaN values): ``flux_calibrated_unsupported``, ``no_run_for_<kind>_flux``,
``negative_flux``, ``flux_out_of_range(...)``, ``flux_not_normalized(...)``, ``insufficient_coverage(...)``,
``not_prepared(<reason>)``
(:func:`prepare` raised, e.g. the input is coarser than R=200 or outside 2550–10000 Å).  Warning flags
(values kept): ``unlike_training_spectra(...)``, ``near_training_edge(...)``, ``grid_edge_fit(...)``,
``interpolated_pixels=N``.

The table (a ``pandas.DataFrame``) has the columns :data:`ID_COLUMNS`, then ``L``, ``L_std`` and
``L_err95`` for every L of :data:`LABEL_COLUMNS` (NaN for labels the run does not predict) and for any
further label of a run, then ``L_std_real`` and ``L_err95_real`` for every L of :data:`LABEL_COLUMNS`
(the half-widths with the real-star systematic term of :mod:`glocal.observed.systematics` added in
quadrature; NaN for runs it was not measured on), then ``flag`` ("" when nothing is wrong, else
``;``-separated reasons).
"""
from __future__ import annotations

import numpy as np

from glocal.observed.prepare import PreparedSpectrum, prepare
from glocal.observed.spectrum import ObservedSpectrum
from glocal.observed.systematics import real_half_widths, systematics_for

__all__ = ["predict_observed", "predict_prepared", "normalized_flux_problem", "fill_masked", "default_candidates",
           "run_kind", "LABEL_COLUMNS", "REAL_SUFFIXES",
           "ID_COLUMNS", "MIN_BAND_FRACTION", "MAX_INTERIOR_GAP", "FLUX_RANGE", "MIN_NORMALIZED_P95",
           "DEFAULT_RUNS", "OBSERVED_RUNS",
           "TARGET_R", "EDGE_FRACTION"]

#: The five labels every table carries (NaN where the run does not predict one).
LABEL_COLUMNS = ("teff", "logg", "feh", "ofe", "mgfe")
#: Suffixes of the half-widths with the real-star systematic term (:mod:`glocal.observed.systematics`).
REAL_SUFFIXES = ("_std_real", "_err95_real")
#: Columns before the labels.
ID_COLUMNS = ("source", "index", "object", "name", "run", "band", "flux_kind", "n_pixels_used",
              "n_pixels_interpolated")
#: Least fraction of a band's grid pixels that must be measured (rule 3).
MIN_BAND_FRACTION = 0.90
#: Longest interior stretch of masked pixels that is interpolated (rule 3), in R=200 grid pixels.
MAX_INTERIOR_GAP = 10
#: Range of degraded normalised flux accepted (rule 2).
FLUX_RANGE = (0.0, 1.5)
#: A normalised spectrum's measured pixels (R = 200) have a 95th percentile at least this high (rule 2).
MIN_NORMALIZED_P95 = 0.5
#: A prediction within this fraction of a label's training range of (or beyond) its edge is flagged.
EDGE_FRACTION = 0.02
#: The shipped two-label run of the paper's protocol (``--band paper``): SPT-GloCal, full band.  (Its
#: optical-band sibling is not shipped, for the data budget; ``glocal train --band optical`` makes one.)
DEFAULT_RUNS = {"full": "pretrained:spt-glocal-full"}
#: The shipped five-label runs for observed spectra, one per input kind (``--band auto``, the default).
OBSERVED_RUNS = {"normalized": "pretrained:observed-normalized", "calibrated": "pretrained:observed-calibrated"}
#: Resolving power of the grid the runs read.
TARGET_R = 200.0


def default_candidates(band: str = "auto") -> list[tuple[str, str]]:
    """``[(key, run spec)]`` of the shipped runs: for ``band`` "auto" the observed-spectra runs keyed by
    the input kind they read (chosen per spectrum by its detected kind); for "paper" or "full" the paper's
    two-label full-band run (rules 3–4)."""
    if band == "auto":
        return list(OBSERVED_RUNS.items())
    if band in ("paper", "full"):
        return list(DEFAULT_RUNS.items())
    raise ValueError(f"band must be 'auto', 'paper' or 'full', got {band!r}")


def run_kind(run) -> str | None:
    """The input kind an observed-spectra run reads ("normalized"/"calibrated"), None for a band run."""
    return (run.config.get("observed") or {}).get("kind")


def fill_masked(flux, mask, max_gap: int = MAX_INTERIOR_GAP) -> tuple[np.ndarray | None, int]:
    """``(filled flux, number of filled pixels)`` by rule 4 of the module docstring.

    ``flux`` (n,) with anything at masked pixels, ``mask`` (n,) bool (True = missing).  Returns
    ``(None, n_masked)`` when nothing is measured or an interior gap is longer than ``max_gap`` pixels.
    """
    flux = np.asarray(flux, dtype=np.float64)
    mask = np.asarray(mask, bool)
    good = np.flatnonzero(~mask)
    n_bad = int(mask.sum())
    if good.size == 0:
        return None, n_bad
    inner = mask[good[0]:good[-1] + 1]
    if inner.any():
        edges = np.diff(np.concatenate(([0], inner.astype(np.int8), [0])))
        longest = int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())
        if longest > max_gap:
            return None, n_bad
    x = np.arange(flux.size)
    return np.interp(x, good, flux[good]), n_bad     # np.interp holds the end values beyond the ends


def _grid_index(grid: np.ndarray, wave: np.ndarray) -> np.ndarray:
    """Indices of the run's wavelengths ``wave`` in the prepared ``grid`` (ValueError if not a subset)."""
    pos = np.clip(np.searchsorted(grid, wave), 0, grid.size - 1)
    left = np.clip(pos - 1, 0, grid.size - 1)
    pos = np.where(np.abs(grid[left] - wave) < np.abs(grid[pos] - wave), left, pos)
    if not np.allclose(grid[pos], wave, rtol=1e-6, atol=0):
        raise ValueError(f"the run's {wave.size}-pixel grid ({wave[0]:.1f}–{wave[-1]:.1f} Å) is not part of "
                         f"the CSST R={TARGET_R:g} grid that observed spectra are prepared on")
    return pos


def _clean(text: str) -> str:
    return " ".join(str(text).replace(";", ",").replace("\n", " ").split())


def _choose_band(prep: PreparedSpectrum, candidates):
    """``(i, filled flux, n_measured, n_filled, [])`` of the first usable candidate, or
    ``(None, None, 0, 0, [flag])``."""
    fractions = []
    for band, run, _ in candidates:
        idx = _grid_index(prep.wave, run.wave)
        mask = prep.mask[idx]
        frac = float((~mask).mean())
        fractions.append(f"{band}={frac:.2f}")
        if frac < MIN_BAND_FRACTION:
            continue
        filled, n_filled = fill_masked(prep.flux[idx], mask)
        if filled is not None:
            return len(fractions) - 1, filled, int((~mask).sum()), n_filled, []
        fractions[-1] += f",gap>{MAX_INTERIOR_GAP}px"
    return None, None, 0, 0, [f"insufficient_coverage({','.join(fractions)})"]


def _domain_flags(prep: PreparedSpectrum, raw_median: float | None, legacy: bool) -> list[str]:
    flags = []
    if legacy and prep.flux_kind == "calibrated":
        flags.append("flux_calibrated_unsupported")
    if raw_median is not None and not raw_median > 0:
        flags.append("negative_flux")
    return flags


def _base_row(spec_meta: dict, index: int, name: str) -> dict:
    return {"source": str(spec_meta.get("source", "")), "index": int(index),
            "object": str(spec_meta.get("object", "") or ""), "name": name, "run": "", "band": "",
            "flux_kind": "", "n_pixels_used": 0, "n_pixels_interpolated": 0}


def _raw_median(spec: ObservedSpectrum | None) -> float | None:
    if spec is None:
        return None
    good = spec.flux[~spec.mask & np.isfinite(spec.flux)]
    return float(np.median(good)) if good.size else None


def normalized_flux_problem(values: np.ndarray) -> str | None:
    """Rule 2 for normalised flux ``values`` (measured R = 200 pixels): ``flux_out_of_range(lo..hi)``,
    ``flux_not_normalized(p95=…)`` or None when they look like a normalised spectrum."""
    values = np.asarray(values, dtype=np.float64)
    lo, hi = FLUX_RANGE
    if values.size and (values.min() < lo or values.max() > hi):
        return f"flux_out_of_range({values.min():.2f}..{values.max():.2f})"
    if values.size and (p95 := float(np.percentile(values, 95))) < MIN_NORMALIZED_P95:
        return f"flux_not_normalized(p95={p95:.3g})"
    return None


def _plan_legacy(prep, candidates):
    """Rules 3–4 for the paper's band runs: ``(fields, flags, candidate index or None, input or None)``."""
    i, filled, n_used, n_filled, flags = _choose_band(prep, candidates)
    if i is None:
        return {}, flags, None, None
    fields = dict(band=candidates[i][0], n_pixels_used=n_used, n_pixels_interpolated=n_filled, run=candidates[i][2])
    measured = filled[~prep.mask[_grid_index(prep.wave, candidates[i][1].wave)]]
    bad = normalized_flux_problem(measured) if prep.flux_kind == "normalized" else None
    if bad:
        return fields, [bad], None, None
    return fields, ([f"interpolated_pixels={n_filled}"] if n_filled else []), i, filled


def _longest_interior_gap(mask: np.ndarray) -> int:
    good = np.flatnonzero(~mask)
    inner = mask[good[0]:good[-1] + 1].astype(np.int8) if good.size else np.zeros(0, np.int8)
    if not inner.any():
        return 0
    edges = np.diff(np.concatenate(([0], inner, [0])))
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())


def _observed_input(prep: PreparedSpectrum, run):
    """Rules 3o–4o: ``(fields, flags, model input with NaN = missing, or None)`` for an observed run."""
    from glocal.observed.normalize import normalize_calibrated
    idx = _grid_index(prep.wave, run.wave)
    flux, mask = prep.flux[idx].astype(np.float64), prep.mask[idx].copy()
    lo, hi = run.config["observed"]["min_band"]
    inside = (run.wave >= lo) & (run.wave <= hi)
    frac, gap = float((~mask[inside]).mean()), _longest_interior_gap(mask)
    fields = {"n_pixels_used": int((~mask).sum())}
    if frac < MIN_BAND_FRACTION or gap > MAX_INTERIOR_GAP:
        return fields, [f"insufficient_coverage({lo:.0f}-{hi:.0f}A={frac:.2f},longest_gap={gap}px)"], None
    good = run.wave[~mask]
    fields["band"] = f"{good[0]:.0f}-{good[-1]:.0f}"
    if run_kind(run) == "calibrated":
        mask |= ~(flux > 0)
        flux = normalize_calibrated(run.wave, np.where(mask, 1.0, flux), mask)[0]
    else:
        bad = normalized_flux_problem(flux[~mask])
        if bad:
            return fields, [bad], None
    return fields, [], np.where(mask, np.nan, flux)


def _plan_row(prep, candidates, raw_median):
    """``(row fields, flags, candidate index or None, model input or None)`` of one prepared spectrum."""
    fields = {"flux_kind": prep.flux_kind}
    kinds = [run_kind(run) for _, run, _ in candidates]
    legacy = all(k is None for k in kinds)
    flags = _domain_flags(prep, raw_median, legacy)
    if flags:
        return fields, flags, None, None
    if legacy:
        more, flags, i, x = _plan_legacy(prep, candidates)
        return {**fields, **more}, flags, i, x
    if prep.flux_kind not in kinds:
        return fields, [f"no_run_for_{prep.flux_kind}_flux"], None, None
    i = kinds.index(prep.flux_kind)
    more, flags, x = _observed_input(prep, candidates[i][1])
    fields.update(more, run=candidates[i][2])
    return fields, flags, (i if x is not None else None), x


def _edge_flags(run, pred: np.ndarray) -> list[str]:
    """``near_training_edge(label=value,...)`` for predictions within :data:`EDGE_FRACTION` of the
    training range of an edge, or beyond it (observed runs record the ranges)."""
    ranges = (run.config.get("observed") or {}).get("label_ranges")
    if not ranges:
        return []
    out = []
    for j, lab in enumerate(run.labels):
        lo, hi = ranges[lab]
        margin = EDGE_FRACTION * (hi - lo)
        if not lo + margin <= pred[j] <= hi - margin:
            out.append(f"{lab}={pred[j]:.4g}")
    return [f"near_training_edge({','.join(out)};range={_range_text(ranges, out)})"] if out else []


def _range_text(ranges, hits) -> str:
    return ",".join(f"{h.split('=')[0]}:{ranges[h.split('=')[0]][0]:.4g}..{ranges[h.split('=')[0]][1]:.4g}"
                    for h in hits)


def _domain_flags_after(run, x: np.ndarray) -> list[list[str]]:
    """Per spectrum, ``unlike_training_spectra(misfit=…>threshold)`` when the run has a domain model
    (:mod:`glocal.observed.domain`) and the input's misfit exceeds its threshold."""
    from glocal.observed.domain import DOMAIN_FILE, SpectrumDomain
    path = run.path / DOMAIN_FILE if run.path is not None else None
    if path is None or not path.is_file():
        return [[] for _ in x]
    dom = SpectrumDomain.load(path)
    return [[f"unlike_training_spectra(misfit={m:.3g}>{dom.threshold:.3g})"] if m > dom.threshold else []
            for m in dom.misfit(x)]


def _fit_edge_flags(prep: PreparedSpectrum) -> list[str]:
    """``grid_edge_fit(teff,feh)`` when the forward-model fit (:func:`glocal.fitting.fit_spectrum`, the
    emulator of the same synthetic grid, labels free) puts Teff, log g or [Fe/H] on a bound of the grid:
    no spectrum inside the grid explains the input better than one at its edge (a hotter or more
    metal-rich star, say).  Abundance bounds are not used ([O/Fe] is weakly constrained at R = 200)."""
    from glocal.fitting import fit_spectrum
    try:
        res = fit_spectrum(prep)
    except ValueError as exc:
        return [f"fit_check_failed({_clean(exc)})"]
    hits = [f.split("(")[1].rstrip(")") for f in res.flags if f.startswith("at_bound(")]
    hits = [h for h in hits if h in ("teff", "logg", "feh")]
    return [f"grid_edge_fit({','.join(hits)})"] if hits else []


def _run_predictions(run, x, *, T: int, seed: int):
    """``(pred, std, err95)`` (n, n_labels): MC-dropout mean; std = calibrated 68 % half-width when
    the run carries a conformal calibration (else the raw spread), err95 = the 95 % half-width (NaN
    without a calibration)."""
    from glocal.conformal import ConformalScale
    from glocal.runs import predict_arrays
    if run_kind(run) is None:
        pred, std = predict_arrays(run, run.wave, x, T=T, seed=seed)
        return pred, std, np.full_like(pred, np.nan)
    pred, spread = run.estimator.predict(np.asarray(x, np.float32), return_std=True, mc_samples=T, seed=seed)
    if np.isnan(spread).all():
        spread = np.ones_like(pred)
    if run.uncertainty is None:
        return pred, spread, np.full_like(pred, np.nan)
    scale = ConformalScale.from_dict(run.uncertainty)
    order = [scale.labels.index(lab) for lab in run.labels]
    spread_s = np.empty_like(spread)
    spread_s[:, order] = spread
    std, err95 = scale.std(spread_s)[:, order], scale.half_width(spread_s, 0.95)[:, order]
    return pred, std, err95


def predict_prepared(items, candidates, *, T: int = 30, seed: int = 0, raw=None, fit_check: bool = True):
    """The table of the module docstring for ``items``.

    items : list of ``(PreparedSpectrum or an error message, meta dict, index in its file)``.
    candidates : list of ``(key, Run, run label)``: observed-spectra runs (one per input kind, chosen by
        the spectrum's kind) or band runs tried in order (rule 3); every run must read a subset of the
        CSST R=200 grid.
    raw : optional list (same length) of the ObservedSpectrum behind each item (for rule 2's median).
    fit_check : for observed runs, also fit the spectrum (rule 6, ``grid_edge_fit``; one emulator fit each).
    """
    import pandas as pd

    cand = [(key, run, label) for key, run, label in candidates]
    rows, todo = [], {}
    for k, (prep, meta, index) in enumerate(items):
        row = _base_row(meta, index, getattr(prep, "name", "") or str(meta.get("name", "")))
        if not isinstance(prep, PreparedSpectrum):
            fields, flags, i, x = {}, [f"not_prepared({_clean(prep)})"], None, None
        else:
            fields, flags, i, x = _plan_row(prep, cand, _raw_median(raw[k] if raw else None))
        row.update(fields, flag=flags)
        rows.append(row)
        if i is not None:
            todo.setdefault(i, []).append((k, x))
    labels = list(LABEL_COLUMNS) + [lab for _, run, _ in cand for lab in run.labels if lab not in LABEL_COLUMNS]
    cols = {f"{lab}{suffix}": np.full(len(rows), np.nan) for lab in labels for suffix in ("", "_std", "_err95")}
    cols |= {f"{lab}{suffix}": np.full(len(rows), np.nan) for lab in LABEL_COLUMNS for suffix in REAL_SUFFIXES}
    for i, members in todo.items():
        run = cand[i][1]
        ks = [k for k, _ in members]
        pred, std, err95 = _run_predictions(run, np.stack([x for _, x in members]), T=T, seed=seed)
        for j, lab in enumerate(run.labels):
            cols[lab][ks], cols[f"{lab}_std"][ks], cols[f"{lab}_err95"][ks] = pred[:, j], std[:, j], err95[:, j]
        for lab, sys in (systematics_for(run) or {}).items():
            if lab in run.labels and lab in LABEL_COLUMNS:
                j = run.labels.index(lab)
                cols[f"{lab}_std_real"][ks], cols[f"{lab}_err95_real"][ks] = real_half_widths(std[:, j], err95[:, j],
                                                                                              sys)
        xs = np.stack([x for _, x in members])
        for row_k, p, dom in zip(ks, pred, _domain_flags_after(run, xs)):
            fit = _fit_edge_flags(items[row_k][0]) if fit_check and run_kind(run) is not None else []
            rows[row_k]["flag"] = rows[row_k]["flag"] + dom + _edge_flags(run, p) + fit
    for row in rows:
        row["flag"] = ";".join(row["flag"])
    df = pd.DataFrame(rows, columns=list(ID_COLUMNS) + ["flag"])
    for name, values in cols.items():
        df[name] = values
    return df[list(ID_COLUMNS) + list(cols) + ["flag"]]


def predict_observed(spectra, candidates, *, rv: float = 0.0, flux_kind: str = "auto", T: int = 30,
                     seed: int = 0, fit_check: bool = True):
    """Prepare every ObservedSpectrum of ``spectra`` (full CSST R=200 grid; ``rv`` km/s, ``flux_kind``
    "auto"/"normalized"/"calibrated", see :func:`glocal.observed.prepare`) and predict it with
    :func:`predict_prepared`.  A spectrum that :func:`prepare` refuses (ValueError) becomes a
    ``not_prepared(...)`` row.  ``spectra`` items may be ``(ObservedSpectrum, index in its file)``
    pairs or bare spectra (index = position in the list)."""
    items, raw = [], []
    for pos, item in enumerate(spectra):
        spec, index = item if isinstance(item, tuple) else (item, pos)
        try:
            prep = prepare(spec, rv=rv, band="full", target_R=TARGET_R, flux_kind=flux_kind)
        except ValueError as exc:
            prep = str(exc)
        items.append((prep, spec.meta, index))
        raw.append(spec)
    return predict_prepared(items, candidates, T=T, seed=seed, raw=raw, fit_check=fit_check)
