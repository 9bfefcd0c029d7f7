"""Figures of the real-stars chapter: residuals against synthetic spectra, labels against the literature,
and the effect of the UV on real stars."""
from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from ._base import label_tex


def real_residuals(residuals: Mapping[str, Mapping[str, dict]], uv_edge: float = 4000.0):
    """One panel per star: observed/model − 1 (%) against λ for each case of ``residuals[star][case]``
    (dicts of :func:`glocal.real_star_study.residual_spectra`), the UV shaded, rms per band in the legend."""
    stars = list(residuals)
    fig, axes = plt.subplots(len(stars), 1, figsize=(10, 1.9 * len(stars)), sharex=True, squeeze=False)
    for ax, star in zip(axes[:, 0], stars):
        for case, r in residuals[star].items():
            w, y = np.asarray(r["wave"]), 100 * np.asarray(r["residual"])
            uv, opt = np.isfinite(y) & (w < uv_edge), np.isfinite(y) & (w >= uv_edge)
            rms = [np.sqrt(np.mean(y[s] ** 2)) if s.any() else np.nan for s in (uv, opt)]
            ax.plot(w, y, lw=1, label=f"{case}: rms UV {rms[0]:.1f} %, optical {rms[1]:.1f} %")
        ax.axvspan(2550, uv_edge, color="0.92", zorder=0)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel(f"{star}\nobs/model − 1 (%)", fontsize=8)
        ax.legend(fontsize=7, loc="lower right")
    axes[-1, 0].set_xlabel("λ (Å, air)")
    fig.tight_layout()
    return fig


def labels_vs_literature(tables: Mapping[str, object], literature, labels=("teff", "logg", "feh", "mgfe", "ofe"),
                         dodge: float = 0.012):
    """Method value against the literature, one panel per label, one marker per method (``tables[method]``
    indexed by star with ``label`` and ``label_std`` columns); 1:1 line; stars without a value skipped.
    The methods' markers are shifted sideways by ``dodge`` × the panel's literature range each, so that the
    answers for one star stay apart (the 1:1 line is drawn at the unshifted literature value)."""
    lit = literature.set_index("star")
    fig, axes = plt.subplots(1, len(labels), figsize=(3.4 * len(labels), 3.4), squeeze=False)
    markers = "osD^v<>"
    n = len(tables)
    for ax, lab in zip(axes[0], labels):
        ref = lit[lab].astype(float)
        span = float(np.nanmax(ref) - np.nanmin(ref)) if np.isfinite(ref).sum() > 1 else 0.0
        lo, hi = np.inf, -np.inf
        for k, ((name, t), m) in enumerate(zip(tables.items(), markers)):
            x = ref.reindex(t.index)
            y, e = t[lab].astype(float), t.get(f"{lab}_std")
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.any():
                shift = (k - (n - 1) / 2) * dodge * span
                ax.errorbar(x[ok] + shift, y[ok], yerr=None if e is None else np.asarray(e, float)[ok.to_numpy()],
                            fmt=m, ms=5, capsize=2, label=name)
                lo, hi = min(lo, x[ok].min(), y[ok].min()), max(hi, x[ok].max(), y[ok].max())
        if np.isfinite(lo):
            pad = 0.1 * (hi - lo + 1e-9)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8)
        ax.set(xlabel=f"literature {label_tex(lab)}", ylabel=f"glocal {label_tex(lab)}")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def uv_effect(maes: Mapping[str, Mapping[str, float]], label: str = "mgfe"):
    """Bars of ``label`` MAE against the literature with and without the UV: ``maes[method][case]``."""
    methods = list(maes)
    cases = list(next(iter(maes.values())))
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(methods), 3.2))
    x = np.arange(len(methods))
    width = 0.8 / len(cases)
    for j, case in enumerate(cases):
        vals = [maes[m].get(case, np.nan) for m in methods]
        ax.bar(x + (j - (len(cases) - 1) / 2) * width, vals, width, label=case)
    ax.set_xticks(x, methods, fontsize=8)
    ax.set_ylabel(f"{label_tex(label)} MAE vs literature (dex)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def twin_window_offsets(offsets, labels=("teff", "feh"), uv_edge: float = 4000.0):
    """One panel per label: the real-star offset carried by each wavelength window (the Δ_k of
    :func:`glocal.twin_windows.window_offsets`, its DataFrame) as grouped bars per star, windows on the x axis,
    the UV windows shaded; the legend gives each star's whole real − twin offset."""
    stars = list(dict.fromkeys(offsets.index.get_level_values("star")))
    windows = [w for w in dict.fromkeys(offsets.index.get_level_values("window")) if w[0].isdigit()]
    x = np.arange(len(windows))
    width = 0.8 / len(stars)
    fig, axes = plt.subplots(len(labels), 1, figsize=(10, 2.6 * len(labels)), sharex=True, squeeze=False)
    for ax, lab in zip(axes[:, 0], labels):
        for i, star in enumerate(stars):
            rows = offsets.loc[star]
            ax.bar(x - 0.4 + (i + 0.5) * width, rows.loc[windows, lab], width,
                   label=f"{star} (real − twin {rows.loc['real − twin', lab]:+.{0 if lab == 'teff' else 2}f})")
        n_uv = sum(float(w.split("–")[1]) <= uv_edge for w in windows)
        ax.axvspan(-0.5, n_uv - 0.5, color="0.92", zorder=0)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel(f"Δ {label_tex(lab)}")
        ax.legend(fontsize=7, ncol=2)
    axes[-1, 0].set_xticks(x, windows, rotation=45, ha="right")
    axes[-1, 0].set_xlabel("window whose real residual is put into the twin (Å, air)")
    fig.tight_layout()
    return fig
