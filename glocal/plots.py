"""Figures of the book (paper Figs 1, 2, 3–5, 7, 8–9 and the extra studies).

Every function takes plain arrays, draws on a new or given matplotlib figure and returns it,
so the chapters stay thin and the figures regenerate from data.
"""
from __future__ import annotations

import numpy as np
import matplotlib.pyplot as plt
from matplotlib.colors import LogNorm

LABEL_TEX = {"ofe": "[O/Fe]", "mgfe": "[Mg/Fe]", "teff": r"$T_{\rm eff}$ (K)", "logg": r"$\log g$",
             "feh": "[Fe/H]", "cfe": "[C/Fe]", "cafe": "[Ca/Fe]"}
BAND_STYLE = {"full": dict(color="tab:red", ls="-", label="2550–10000 Å (with UV)"),
              "optical": dict(color="tab:blue", ls="--", label="4000–10000 Å (optical)"),
              "uv": dict(color="tab:purple", ls=":", label="2550–4000 Å (UV)")}


def grid_coverage(teff, logg, feh, counts=None, excluded=None, ax=None):
    """Fig. 1: models in the (Teff, log g) plane, coloured by the number of [Fe/H] values present."""
    teff, logg, feh = map(np.asarray, (teff, logg, feh))
    fig, ax = _fig_ax(ax, (7, 4.5))
    keys, inv = np.unique(np.c_[teff, logg], axis=0, return_inverse=True)
    n = np.bincount(inv.ravel()) if counts is None else np.asarray(counts)
    sc = ax.scatter(keys[:, 0], keys[:, 1], c=n, s=14, cmap="viridis", marker="s")
    fig.colorbar(sc, ax=ax, label="models per (Teff, log g)")
    if excluded is not None and len(excluded[0]):
        ax.scatter(excluded[0], excluded[1], s=10, marker="x", color="0.5", label="outside atmosphere grid")
        ax.legend(loc="lower left", fontsize=8)
    ax.set(xlabel=LABEL_TEX["teff"], ylabel=LABEL_TEX["logg"])
    ax.invert_xaxis()
    ax.invert_yaxis()
    return fig


def spectra(wave, fluxes, labels, ax=None, title=None, offset=0.0, lw=0.8):
    """Overlay normalized spectra (one per row of ``fluxes``) with a legend."""
    fig, ax = _fig_ax(ax, (9, 3.2))
    for k, (f, lab) in enumerate(zip(np.atleast_2d(fluxes), labels)):
        ax.plot(wave, f + k * offset, lw=lw, label=lab)
    ax.set(xlabel="wavelength (Å, air)", ylabel=r"$F/F_c$", title=title)
    ax.legend(fontsize=7, ncol=2)
    return fig


def predicted_vs_true(y_true, y_pred, label, ax=None, title=None, lims=(-0.4, 1.4)):
    """Fig. 7 panel: predicted vs true, coloured by local point density, 1:1 dashed."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    fig, ax = _fig_ax(ax, (4, 4))
    h = ax.hexbin(y_true, y_pred, gridsize=40, extent=(*lims, *lims), mincnt=1, norm=LogNorm(), cmap="viridis")
    ax.plot(lims, lims, "k--", lw=1)
    ax.set(xlim=lims, ylim=lims, xlabel=f"true {LABEL_TEX.get(label, label)}",
           ylabel=f"predicted {LABEL_TEX.get(label, label)}", title=title)
    fig.colorbar(h, ax=ax, label="spectra per cell")
    return fig


def binned_error_panels(curves: dict, label: str, variables=("teff", "logg", "feh", None)):
    """Figs 8–9: MSE (left) and σ (right) of the residuals binned in each variable, per band.

    ``curves[band][var] = (centres, mse, sigma)``; ``None`` in ``variables`` stands for the true ``label``.
    """
    fig, axes = plt.subplots(len(variables), 2, figsize=(8, 2.3 * len(variables)), squeeze=False)
    for row, var in enumerate(variables):
        key = var or label
        for band, per_var in curves.items():
            centres, mse, sigma = per_var[key]
            style = BAND_STYLE.get(band, {})
            axes[row, 0].plot(centres, mse, marker="o", ms=3, **style)
            axes[row, 1].plot(centres, sigma, marker="o", ms=3, **style)
        axes[row, 0].set(xlabel=LABEL_TEX.get(key, key), ylabel="MSE")
        axes[row, 1].set(xlabel=LABEL_TEX.get(key, key), ylabel=r"$\sigma$")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"{LABEL_TEX.get(label, label)} prediction error")
    fig.tight_layout()
    return fig


def attribution(wave, maps: dict, spectrum=None, ax=None, windows=None):
    """Attribution (|integrated gradient| or occlusion) against wavelength, per label."""
    fig, ax = _fig_ax(ax, (9, 3.5))
    for lab, m in maps.items():
        m = np.asarray(m, float)
        ax.plot(wave, m / (np.max(np.abs(m)) or 1.0), lw=1, label=LABEL_TEX.get(lab, lab))
    if spectrum is not None:
        ax.plot(wave, spectrum, color="0.6", lw=0.7, label="spectrum (F/Fc)")
    for name, (lo, hi) in (windows or {}).items():
        ax.axvspan(lo, hi, color="0.9", zorder=0)
        ax.text((lo + hi) / 2, 1.02, name, ha="center", fontsize=7, transform=ax.get_xaxis_transform())
    ax.set(xlabel="wavelength (Å, air)", ylabel="normalised attribution")
    ax.legend(fontsize=7)
    return fig


def _fig_ax(ax, size):
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
    else:
        fig = ax.figure
    return fig, ax
