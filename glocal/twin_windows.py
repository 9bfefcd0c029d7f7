"""Which wavelengths carry a real star's offset: its residual against its synthetic twin, window by window.

The real-stars chapter splits a development star's ``predict`` error into the networks' error on the engine's
own spectrum (the star's "alpha" twin, :func:`glocal.real_star_study.synthetic_twins`) and the rest,
real − twin, which is what the engine does not reproduce of the real star.  This module locates that rest in
wavelength.  With x_t and x_r the model inputs of the twin and of the real star (the same preparation as
``glocal predict``: R = 200 CSST grid, and for a flux-calibrated star N = F / exp P(ln λ) with the star's own
mask, :mod:`glocal.observed.normalize`), and W_k the windows of a partition of the grid::

    x_k = x_t outside W_k,  x_r inside W_k          ("transplant" of the real residual into the twin)
    Δ_k = f(x_k) − f(x_t),   Δ = f(x_r) − f(x_t)      (f the shipped run of the star's flux kind)

Δ_k is how far the real star's departure in W_k alone moves each label.  Every x_k is a complete spectrum of
the kind the run was trained on (no pixel is removed, unlike occlusion, which puts interior gaps the runs
never saw), and Σ_k (x_k − x_t) = x_r − x_t exactly on the pixels both spectra have, so Σ_k Δ_k = Δ when f is
linear over that range; Σ_k Δ_k − Δ is reported as the measure of how far it is not (it also holds the effect
of the star's bad pixels, which keep the twin's value in every x_k but are missing in x_r).  Pixels the twin
lacks (outside the star's measured range) stay missing.

The MC-dropout masks are drawn once per call and shared by every input of a star (same seed), so the Δ_k
are differences of the same network realisations, not of independent dropout draws.
"""
from __future__ import annotations

import numpy as np

__all__ = ["OFFSET_WINDOW_EDGES", "transplant_inputs", "window_labels", "window_offsets"]

#: Window edges (Å, air) of the default partition of 2550–10000 Å, with the paper's UV/optical boundary at
#: 4000 Å: the UV proper with Mg II h&k, Mg I 2852 and the Fe I/Fe II blends (2550–3000); OH and the near-UV
#: blends (3000–3400); the Balmer jump (3400–3700); H8–Hε with Ca II H&K (3700–4000); Hδ, Hγ and the G band
#: (4000–4400); the blue Fe I/Ti II blends (4400–4700); Hβ (4700–5000); Mg b and the green Fe lines
#: (5000–5600); Na D (5600–6400); Hα (6400–7400); the near IR with the Ca II triplet (7400–8600, 8600–10000).
OFFSET_WINDOW_EDGES = (2550.0, 3000.0, 3400.0, 3700.0, 4000.0, 4400.0, 4700.0, 5000.0, 5600.0, 6400.0, 7400.0,
                       8600.0, 10000.0)


def window_labels(edges=OFFSET_WINDOW_EDGES) -> list[str]:
    """``"lo–hi"`` (Å) of each window of ``edges``."""
    return [f"{lo:.0f}–{hi:.0f}" for lo, hi in zip(edges[:-1], edges[1:])]


def _check_edges(edges, wave) -> np.ndarray:
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)):
        raise ValueError(f"edges must be a 1-D sequence of at least two finite wavelengths, got {edges!r}")
    if np.any(np.diff(edges) <= 0):
        raise ValueError(f"edges must increase strictly, got {edges.tolist()}")
    if edges[0] > wave[0] or edges[-1] < wave[-1]:
        raise ValueError(f"edges {edges[0]:.0f}–{edges[-1]:.0f} Å must cover the grid {wave[0]:.0f}–{wave[-1]:.0f} Å")
    return edges


def transplant_inputs(wave, x_twin, x_real, edges=OFFSET_WINDOW_EDGES) -> np.ndarray:
    """The model inputs of the module docstring, stacked: row 0 the twin x_t, row 1 the real star x_r (as
    ``predict`` reads it), then one row x_k per window of ``edges`` (W_k = [lo, hi), the last one closed), which
    takes x_r only where both spectra are measured.

    wave : (n,) Å, increasing.  x_twin, x_real : (n,) model inputs, NaN = missing.  Returns (2 + n_windows, n)
    float64.  ValueError for mismatched shapes, unsorted wavelengths or edges that do not cover ``wave``.
    """
    wave = np.asarray(wave, dtype=np.float64)
    x_twin, x_real = np.asarray(x_twin, dtype=np.float64), np.asarray(x_real, dtype=np.float64)
    if wave.ndim != 1 or x_twin.shape != wave.shape or x_real.shape != wave.shape:
        raise ValueError(f"wave, x_twin and x_real must be 1-D of one length, got {wave.shape}, {x_twin.shape}, "
                         f"{x_real.shape}")
    if np.any(np.diff(wave) <= 0):
        raise ValueError("wave must increase strictly")
    edges = _check_edges(edges, wave)
    swap = np.isfinite(x_twin) & np.isfinite(x_real)
    window = np.clip(np.searchsorted(edges, wave, side="right") - 1, 0, edges.size - 2)
    rows = [x_twin, x_real]
    for k in range(edges.size - 1):
        rows.append(np.where(swap & (window == k), x_real, x_twin))
    return np.stack(rows)


def window_offsets(stars=None, *, edges=OFFSET_WINDOW_EDGES, T: int = 10, seed: int = 0, engine_options=None):
    """Δ_k and Δ (module docstring) for every development star with literature Teff, log g, [Fe/H] and [Mg/Fe]
    (``stars``: keys of :mod:`glocal.real_stars`, default all), read by the shipped run of its flux kind with
    ``T`` MC-dropout passes.  The twin is the "alpha" twin of the real-stars chapter (same engine options,
    :data:`glocal.real_star_study.TWIN_ENGINE_OPTIONS`, updated by ``engine_options``).

    Returns a DataFrame indexed by (star, window) with the five labels' Δ_k in label units (K, dex); the window
    "real − twin" holds Δ and "sum − total" holds Σ_k Δ_k − Δ.  ValueError when the prepared twin or star
    is refused by the run's coverage rule (it names the rule's flag).
    """
    import pandas as pd

    from . import real_star_study as study
    from . import real_stars
    from .observed.predict import OBSERVED_RUNS, _observed_input
    from .observed.prepare import prepare
    from .runs import as_run

    options = study.TWIN_ENGINE_OPTIONS | dict(engine_options or {})
    lit = real_stars.load_literature().set_index("star")
    runs = {kind: as_run(spec) for kind, spec in OBSERVED_RUNS.items()}
    names = window_labels(edges)
    frames = []
    for star in (real_stars.stars() if stars is None else list(stars)):
        row = lit.loc[star]
        if not all(np.isfinite(float(row[k])) for k in ("teff", "logg", "feh", "mgfe")):
            continue
        kind = "calibrated" if study._is_calibrated(row) else "normalized"
        run = runs[kind]
        twin = study._twin_spectrum(star, {k: float(row[k]) for k in ("teff", "logg", "feh")},
                                    study._twin_xfe(row, study.ALPHA_ELEMENTS), kind, options)
        inputs = []
        for spec in (twin, real_stars.observed(star)[0]):
            _, flags, x = _observed_input(prepare(spec, band="full", flux_kind=kind), run)
            if x is None:
                raise ValueError(f"{star}: {spec.name} refused by {kind} run: {';'.join(flags)}")
            inputs.append(x)
        xs = transplant_inputs(run.wave, inputs[0], inputs[1], edges)
        pred = run.estimator.predict(xs.astype(np.float32), mc_samples=T, seed=seed)
        delta = pred[2:] - pred[0]
        total = pred[1] - pred[0]
        table = np.vstack([delta, total, delta.sum(axis=0) - total])
        index = pd.MultiIndex.from_product([[star], [*names, "real − twin", "sum − total"]], names=["star", "window"])
        frames.append(pd.DataFrame(table, index=index, columns=list(run.labels)))
    return pd.concat(frames)
