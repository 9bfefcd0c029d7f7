"""Figures of the results chapters: Figs 7–9, error charts, attribution and predictions for new stars."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from ._base import BAND_STYLE, LABEL_TEX, WAVE_AIR, fig_ax, label_tex

BAND_SHORT = {"full": "with UV", "optical": "optical only", "uv": "UV only"}


def predicted_vs_true(y_true, y_pred, label, ax=None, title=None, lims=(-0.4, 1.4)):
    """Fig. 7 panel: predicted vs true ``label`` (dex), hexbins coloured by density (log), 1:1 dashed."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    fig, ax = fig_ax(ax, (4, 4))
    h = ax.hexbin(y_true, y_pred, gridsize=40, extent=(*lims, *lims), mincnt=1, norm=LogNorm(), cmap="viridis")
    ax.plot(lims, lims, "k--", lw=1)
    ax.set(xlim=lims, ylim=lims, xlabel=f"true {label_tex(label)}", ylabel=f"predicted {label_tex(label)}",
           title=title)
    fig.colorbar(h, ax=ax, label="spectra per cell")
    return fig


def predicted_vs_true_grid(panels: Mapping[str, Mapping[str, tuple]]):
    """Fig. 7: one row per band, one column per label of :func:`predicted_vs_true` panels.

    ``panels[band][label] = (y_true, y_pred)``; every band must hold the same labels. A row is titled by
    the band's :data:`BAND_STYLE` label.
    """
    bands = list(panels)
    labels = list(panels[bands[0]])
    fig, axes = plt.subplots(len(bands), len(labels), figsize=(4.5 * len(labels), 4.25 * len(bands)), squeeze=False)
    for row, band in enumerate(bands):
        for col, label in enumerate(labels):
            y_true, y_pred = panels[band][label]
            predicted_vs_true(y_true, y_pred, label, ax=axes[row, col], title=BAND_STYLE.get(band, {}).get("label"))
    fig.tight_layout()
    return fig


def binned_error_panels(curves: dict, label: str, variables=("teff", "logg", "feh", None), title=None):
    """Figs 8–9: MSE (left) and σ (right) of the residuals binned in each variable, per band.

    ``curves[band][var] = (centres, mse, sigma)``; ``None`` in ``variables`` stands for the true ``label``.
    ``title`` defaults to "<label> prediction error".
    """
    fig, axes = plt.subplots(len(variables), 2, figsize=(8, 2.3 * len(variables)), squeeze=False)
    for row, var in enumerate(variables):
        key = var or label
        for band, per_var in curves.items():
            centres, mse, sigma = per_var[key]
            style = BAND_STYLE.get(band, {})
            axes[row, 0].plot(centres, mse, marker="o", ms=3, **style)
            axes[row, 1].plot(centres, sigma, marker="o", ms=3, **style)
        axes[row, 0].set(xlabel=label_tex(key), ylabel="MSE")
        axes[row, 1].set(xlabel=label_tex(key), ylabel=r"$\sigma$")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title or f"{label_tex(label)} prediction error")
    fig.tight_layout()
    return fig


def mae_vs_snr(curves: Mapping[str, Mapping[str, tuple]], xlabel: str = "S/N per pixel", sharex: bool = False):
    """MAE (dex, log scale) against S/N, one panel per label, one line per series (method or training).

    ``curves[label][series] = (snr, mae)``, equal-length sequences; the legend is on the first panel.
    """
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.7), sharex=sharex, squeeze=False)
    for ax, (label, series) in zip(axes[0], curves.items()):
        for name, (snr, mae) in series.items():
            ax.plot(snr, mae, marker="o", label=name)
        ax.set(xlabel=xlabel, ylabel="MAE (dex)", title=label_tex(label), yscale="log")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def mae_by_band(records: Iterable[Mapping], labels=("ofe", "mgfe"), bands=("full", "optical"), title=None):
    """Bar chart of the MAE of each method with and without the UV, one panel per label.

    ``records`` are metric records (dicts with ``method``, ``label``, ``band``, ``mae``); records of the same
    (method, label, band) are averaged. Methods are in alphabetical order; a band with no record is left out.
    """
    records = list(records)
    fig, axes = plt.subplots(1, len(labels), figsize=(5 * len(labels), 3.6), squeeze=False)
    for ax, label in zip(axes[0], labels):
        rows = [r for r in records if r["label"] == label]
        methods = sorted({r["method"] for r in rows})
        x = np.arange(len(methods))
        present = [b for b in bands if any(r["band"] == b for r in rows)]
        for k, band in enumerate(present):
            mae = [np.mean([r["mae"] for r in rows if r["method"] == m and r["band"] == band] or [np.nan])
                   for m in methods]
            ax.bar(x + 0.4 * k - 0.2, mae, width=0.4, label=BAND_SHORT.get(band, band))
        ax.set_xticks(x, methods, rotation=20)
        ax.set(ylabel="MAE (dex)", title=label_tex(label))
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def attribution(wave, maps: dict, spectrum=None, ax=None, windows=None, title=None):
    """Attribution (|integrated gradient| or occlusion) against wavelength, per label, each scaled to max 1.

    ``maps[label]`` is on ``wave`` (Å); ``spectrum`` (F/Fc) is drawn in grey; ``windows[name] = (lo, hi)``
    shades and names wavelength windows; ``title`` titles the axes.
    """
    fig, ax = fig_ax(ax, (9, 3.5))
    for lab, m in maps.items():
        m = np.asarray(m, float)
        ax.plot(wave, m / (np.max(np.abs(m)) or 1.0), lw=1, label=label_tex(lab))
    if spectrum is not None:
        ax.plot(wave, spectrum, color="0.6", lw=0.7, label="spectrum (F/Fc)")
    for name, (lo, hi) in (windows or {}).items():
        ax.axvspan(lo, hi, color="0.9", zorder=0)
        ax.text((lo + hi) / 2, 1.02, name, ha="center", fontsize=7, transform=ax.get_xaxis_transform())
    ax.set(xlabel=WAVE_AIR, ylabel="normalised attribution", title=title)
    ax.legend(fontsize=7)
    return fig


def new_star_predictions(table, labels=("ofe", "mgfe"), markers=None, lims=(-0.5, 1.5), title=None):
    """Predicted against true abundance ratios of new stars with ±1σ error bars, one panel per label.

    ``table`` has columns (a pandas DataFrame or a mapping of equal-length sequences) ``set`` (the
    abundance set of the row) and ``<label>_true``, ``<label>_pred``, ``<label>_std`` (dex) per label;
    ``markers[set]`` the marker of each set (default: circles, squares, triangles in order of appearance).
    """
    sets = np.asarray(table["set"])
    names = list(dict.fromkeys(sets.tolist()))
    markers = markers or dict(zip(names, "os^vD"))
    fig, axes = plt.subplots(1, len(labels), figsize=(5 * len(labels), 4), squeeze=False)
    for ax, label in zip(axes[0], labels):
        for name in names:
            sel = sets == name
            ax.errorbar(np.asarray(table[f"{label}_true"])[sel], np.asarray(table[f"{label}_pred"])[sel],
                        yerr=np.asarray(table[f"{label}_std"])[sel], fmt=markers[name], ms=5, capsize=2, label=name)
        ax.plot(lims, lims, "k:", lw=0.8)
        ax.set(xlim=lims, ylim=lims, xlabel=f"true {LABEL_TEX.get(label, label)}",
               ylabel=f"predicted {LABEL_TEX.get(label, label)}")
    axes[0, 0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
