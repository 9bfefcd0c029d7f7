"""Labels of observed spectra: prepared spectra + runs → one table row per spectrum.

:func:`predict_observed` prepares each :class:`~glocal.observed.ObservedSpectrum` with
:func:`glocal.observed.prepare` on the full CSST R=200 grid (2550–10000 Å, Eq. 8) and hands it to
:func:`predict_prepared`, which applies these rules, in this order, to every spectrum:

1. **Flux kind.**  The shipped runs were trained on continuum-normalised F/F_c.  A spectrum whose
   kind (detected by :func:`glocal.observed.detect_flux_kind` or stated) is "calibrated" gets no
   numbers: NaN values and the flag ``flux_calibrated_unsupported``.
2. **Out-of-domain flux.**  ``negative_flux`` when the median of the input's good pixels is ≤ 0;
   for a normalised spectrum, ``flux_out_of_range`` when any measured pixel of the chosen band lies
   outside :data:`FLUX_RANGE` = [0, 1.5] after degradation to R=200 (a normalised spectrum sits at
   ≤ 1 apart from noise; values beyond say the normalisation is wrong).  Both give NaN values.
3. **Band.**  Candidates are tried in order (default: the shipped full-band run, then the optical
   one).  A band is usable when at least :data:`MIN_BAND_FRACTION` (90 %) of the run's grid pixels
   are measured (unmasked after preparation) and no interior run of masked pixels is longer than
   :data:`MAX_INTERIOR_GAP` (10) pixels.  No usable band: NaN values and the flag
   ``insufficient_coverage(full=0.72,optical=0.45)`` (the measured fractions).
4. **Masked pixels** of the chosen band are filled, since the shipped runs take no mask: interior gaps
   by linear interpolation between the neighbouring measured pixels, gaps at the band's ends with
   the nearest measured value.  The count is reported in ``n_pixels_interpolated`` and, when > 0,
   in the informational flag ``interpolated_pixels=N`` (the numbers are still given).
5. **Prediction** with the chosen run (:func:`glocal.runs.predict_arrays`; networks: mean and
   standard deviation of ``T`` MC-dropout passes, seed ``seed``).

Refusing flags (NaN values): ``flux_calibrated_unsupported``, ``negative_flux``, ``flux_out_of_range``,
``insufficient_coverage(...)``, ``not_prepared(<reason>)`` (:func:`prepare` raised, e.g. the input is
coarser than R=200 or outside 2550–10000 Å).  Informational flag: ``interpolated_pixels=N``.

The table (a ``pandas.DataFrame``) has the columns :data:`ID_COLUMNS`, then ``L`` and ``L_std`` for
every L of :data:`LABEL_COLUMNS` (NaN for labels the run does not predict) and for any further label
of a run, then ``flag`` ("" when nothing is wrong, else ``;``-separated reasons).
"""
from __future__ import annotations

import numpy as np

from glocal.observed.prepare import PreparedSpectrum, prepare
from glocal.observed.spectrum import ObservedSpectrum

__all__ = ["predict_observed", "predict_prepared", "fill_masked", "default_candidates", "LABEL_COLUMNS",
           "ID_COLUMNS", "MIN_BAND_FRACTION", "MAX_INTERIOR_GAP", "FLUX_RANGE", "DEFAULT_RUNS", "TARGET_R"]

#: The five labels every table carries (NaN where the run does not predict one).
LABEL_COLUMNS = ("teff", "logg", "feh", "ofe", "mgfe")
#: Columns before the labels.
ID_COLUMNS = ("source", "index", "object", "name", "run", "band", "flux_kind", "n_pixels_used",
              "n_pixels_interpolated")
#: Least fraction of a band's grid pixels that must be measured (rule 3).
MIN_BAND_FRACTION = 0.90
#: Longest interior stretch of masked pixels that is interpolated (rule 3), in R=200 grid pixels.
MAX_INTERIOR_GAP = 10
#: Range of degraded normalised flux accepted (rule 2).
FLUX_RANGE = (0.0, 1.5)
#: The shipped runs ``--band auto`` tries, in this order.
DEFAULT_RUNS = {"full": "pretrained:spt-glocal-full", "optical": "pretrained:spt-glocal-optical"}
#: Resolving power of the grid the runs read.
TARGET_R = 200.0


def default_candidates(band: str = "auto") -> list[tuple[str, str]]:
    """``[(band, run spec)]`` of the shipped runs for ``band`` "auto" (full, then optical), "full" or
    "optical"."""
    if band == "auto":
        return list(DEFAULT_RUNS.items())
    if band in DEFAULT_RUNS:
        return [(band, DEFAULT_RUNS[band])]
    raise ValueError(f"band must be 'auto', 'full' or 'optical', got {band!r}")


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


def _domain_flags(prep: PreparedSpectrum, raw_median: float | None) -> list[str]:
    flags = []
    if prep.flux_kind == "calibrated":
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


def _plan_row(prep, candidates, raw_median):
    """``(row fields, flags, candidate index or None, filled flux or None)`` of one prepared spectrum."""
    fields = {"flux_kind": prep.flux_kind}
    flags = _domain_flags(prep, raw_median)
    if flags:
        return fields, flags, None, None
    i, filled, n_used, n_filled, flags = _choose_band(prep, candidates)
    if i is None:
        return fields, flags, None, None
    fields.update(band=candidates[i][0], n_pixels_used=n_used, n_pixels_interpolated=n_filled,
                  run=candidates[i][2])
    lo, hi = FLUX_RANGE
    measured = filled[~prep.mask[_grid_index(prep.wave, candidates[i][1].wave)]]
    if prep.flux_kind == "normalized" and (measured.min() < lo or measured.max() > hi):
        return fields, [f"flux_out_of_range({measured.min():.2f}..{measured.max():.2f})"], None, None
    if n_filled:
        flags.append(f"interpolated_pixels={n_filled}")
    return fields, flags, i, filled


def predict_prepared(items, candidates, *, T: int = 30, seed: int = 0, raw=None):
    """The table of the module docstring for ``items``.

    items : list of ``(PreparedSpectrum or an error message, meta dict, index in its file)``.
    candidates : list of ``(band label, Run, run label)`` tried in order (rule 3); every run must read a
        subset of the CSST R=200 grid and predict from normalised flux.
    raw : optional list (same length) of the ObservedSpectrum behind each item (for rule 2's median).
    """
    import pandas as pd

    from glocal.runs import predict_arrays
    cand = [(band, run, label) for band, run, label in candidates]
    rows, todo = [], {}
    for k, (prep, meta, index) in enumerate(items):
        row = _base_row(meta, index, getattr(prep, "name", "") or str(meta.get("name", "")))
        if not isinstance(prep, PreparedSpectrum):
            fields, flags, i, filled = {}, [f"not_prepared({_clean(prep)})"], None, None
        else:
            fields, flags, i, filled = _plan_row(prep, cand, _raw_median(raw[k] if raw else None))
        row.update(fields, flag=";".join(flags))
        rows.append(row)
        if i is not None:
            todo.setdefault(i, []).append((k, filled))
    labels = list(LABEL_COLUMNS) + [lab for _, run, _ in cand for lab in run.labels if lab not in LABEL_COLUMNS]
    values = {lab: np.full(len(rows), np.nan) for lab in labels}
    stds = {lab: np.full(len(rows), np.nan) for lab in labels}
    for i, members in todo.items():
        run = cand[i][1]
        ks = [k for k, _ in members]
        pred, std = predict_arrays(run, run.wave, np.stack([f for _, f in members]), T=T, seed=seed)
        for j, lab in enumerate(run.labels):
            values[lab][ks], stds[lab][ks] = pred[:, j], std[:, j]
    df = pd.DataFrame(rows, columns=list(ID_COLUMNS) + ["flag"])
    for lab in labels:
        df[lab], df[f"{lab}_std"] = values[lab], stds[lab]
    return df[list(ID_COLUMNS) + [c for lab in labels for c in (lab, f"{lab}_std")] + ["flag"]]


def predict_observed(spectra, candidates, *, rv: float = 0.0, flux_kind: str = "auto", T: int = 30,
                     seed: int = 0):
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
    return predict_prepared(items, candidates, T=T, seed=seed, raw=raw)
