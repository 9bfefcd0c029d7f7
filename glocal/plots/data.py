"""Figures of the data chapters: the grid (Fig. 1), atmospheres, spectra (Fig. 2) and the UV sweeps (Figs 3–5)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ._base import LABEL_TEX, WAVE_AIR, fig_ax, label_tex


def grid_coverage(teff, logg, feh, counts=None, excluded=None, ax=None, title=None):
    """Fig. 1: models in the (Teff, log g) plane, coloured by the number of [Fe/H] values present.

    ``teff`` (K), ``logg`` and ``feh`` are one entry per model; ``counts`` overrides the per-node count;
    ``excluded = (teff, logg)`` of nodes without an atmosphere, drawn as grey crosses. Both axes are
    inverted (HR-diagram orientation); ``title`` titles the axes.
    """
    teff, logg, feh = map(np.asarray, (teff, logg, feh))
    fig, ax = fig_ax(ax, (7, 4.5))
    keys, inv = np.unique(np.c_[teff, logg], axis=0, return_inverse=True)
    n = np.bincount(inv.ravel()) if counts is None else np.asarray(counts)
    sc = ax.scatter(keys[:, 0], keys[:, 1], c=n, s=14, cmap="viridis", marker="s")
    fig.colorbar(sc, ax=ax, label="models per (Teff, log g)")
    if excluded is not None and len(excluded[0]):
        ax.scatter(excluded[0], excluded[1], s=10, marker="x", color="0.5", label="outside atmosphere grid")
        ax.legend(loc="lower left", fontsize=8)
    ax.set(xlabel=LABEL_TEX["teff"], ylabel=LABEL_TEX["logg"], title=title)
    ax.invert_xaxis()
    ax.invert_yaxis()
    return fig


def preset_nodes(nodes, chosen, name: str, feh_bins=None):
    """The models of a preset: its (Teff, log g) nodes circled on the grid (left), its [Fe/H] histogram (right).

    ``nodes`` and ``chosen`` are record arrays (or mappings) with ``teff``, ``logg``, ``feh`` fields: the
    usable grid and the preset's subset. ``feh_bins`` defaults to 0.2 dex bins from −4.1 to −0.9.
    """
    feh_bins = np.arange(-4.1, -0.8, 0.2) if feh_bins is None else feh_bins
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    grid_coverage(nodes["teff"], nodes["logg"], nodes["feh"], ax=axes[0])
    axes[0].scatter(chosen["teff"], chosen["logg"], s=18, facecolor="none", edgecolor="r", label=f"preset {name!r}")
    axes[0].legend(fontsize=8)
    axes[1].hist(chosen["feh"], bins=feh_bins, color="tab:red", alpha=0.7)
    axes[1].set(xlabel="[Fe/H]", ylabel="models", title=f"preset {name!r}: {len(chosen['feh'])} models")
    fig.tight_layout()
    return fig


def microturbulence_maps(teff, logg, maps: Mapping[float, np.ndarray], levels=(1.0, 1.5, 2.0)):
    """Microturbulence v_t (km/s) over a (Teff, log g) mesh, one panel per [Fe/H].

    ``teff`` and ``logg`` are 2-D meshes (K, dex); ``maps[feh]`` is v_t on that mesh. White contours at
    ``levels``; both axes inverted.
    """
    fig, axes = plt.subplots(1, len(maps), figsize=(5 * len(maps), 3.8), squeeze=False)
    for ax, (feh, vt) in zip(axes[0], maps.items()):
        im = ax.pcolormesh(teff, logg, vt, shading="auto", cmap="magma")
        ax.contour(teff, logg, vt, levels=list(levels), colors="w", linewidths=0.7)
        fig.colorbar(im, ax=ax, label=r"$v_t$ (km s$^{-1}$)")
        ax.set(xlabel=LABEL_TEX["teff"], ylabel=LABEL_TEX["logg"], title=f"[Fe/H] = {feh}")
        ax.invert_yaxis()
        ax.invert_xaxis()
    fig.tight_layout()
    return fig


def atmosphere_structures(structures: Mapping[str, tuple], title: str | None = None):
    """Temperature (left) and log gas pressure (right) against log τ_Ross, one line per atmosphere.

    ``structures[name] = (tau_ross, T in K, P_gas in dyn cm⁻²)``, each 1-D over the depth points.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, (tau, temperature, pressure) in structures.items():
        lt = np.log10(tau)
        axes[0].plot(lt, temperature, label=name)
        axes[1].plot(lt, np.log10(pressure))
    axes[0].set(xlabel=r"$\log\tau_{\rm Ross}$", ylabel="T (K)")
    axes[0].legend(fontsize=7)
    axes[1].set(xlabel=r"$\log\tau_{\rm Ross}$", ylabel=r"$\log P_{\rm gas}$ (dyn cm$^{-2}$)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def spectra(wave, fluxes, labels, ax=None, title=None, offset=0.0, lw=0.8):
    """Overlay normalized spectra (one per row of ``fluxes``, F/Fc on ``wave`` in Å), row k shifted by k·offset."""
    fig, ax = fig_ax(ax, (9, 3.2))
    for k, (f, lab) in enumerate(zip(np.atleast_2d(fluxes), labels)):
        ax.plot(wave, f + k * offset, lw=lw, label=lab)
    ax.set(xlabel=WAVE_AIR, ylabel=r"$F/F_c$", title=title)
    ax.legend(fontsize=7, ncol=2)
    return fig


def resolution_pair(wave, flux, wave_low, flux_low, titles: Sequence[str]):
    """Fig. 2: high-resolution spectra (blue) with their R = 200 versions (red), one panel per spectrum.

    ``flux`` (n, n_wave) on ``wave`` and ``flux_low`` (n, n_low) on ``wave_low`` are F/Fc; ``titles`` one
    per spectrum. Panels share the y axis.
    """
    flux, flux_low = np.atleast_2d(flux), np.atleast_2d(flux_low)
    fig, axes = plt.subplots(1, len(titles), figsize=(6 * len(titles), 3.6), sharey=True, squeeze=False)
    for ax, hi, low, title in zip(axes[0], flux, flux_low, titles):
        ax.plot(wave, hi, color="tab:blue", lw=0.3, label="synthetic (high resolution)")
        ax.plot(wave_low, low, color="tab:red", lw=1.2, label="R = 200")
        ax.set(xlabel=WAVE_AIR, title=title)
    axes[0, 0].set_ylabel("F/Fc")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def uv_sweep(wave, rows, values, variants: Sequence[Mapping[str, float]], var: str, title: str):
    """Figs 3–5: R = 200 UV spectra along one parameter sweep, one panel per abundance variant.

    ``rows = [(x, spectra), ...]``: the swept value ``x`` of ``var`` (teff, logg or feh) and the spectra
    (n_variants, n_pixels) on ``wave`` (Å); ``values`` the planned sweep (sets the colour scale);
    ``variants`` the abundance dicts (a panel is titled by the element that differs most from 0).
    Panels are laid out in two rows.
    """
    values = np.asarray(values, float)
    ncol = -(-len(variants) // 2)
    fig, axes = plt.subplots(2, ncol, figsize=(3.25 * ncol, 5.5), sharex=True, sharey=True, squeeze=False)
    panels = axes.ravel()
    cmap = plt.get_cmap("viridis")
    for x, spec in rows:
        c = cmap((x - values.min()) / (np.ptp(values) or 1))
        for j in range(len(variants)):
            panels[j].plot(wave, spec[j], color=c, lw=1)
    for j, v in enumerate(variants):
        element = max(v, key=lambda el: abs(v[el]))
        panels[j].set_title(f"[{element}/Fe] = {v[element]:+.1f}", fontsize=9)
    for ax in axes[1]:
        ax.set_xlabel("wavelength (Å)")
    for ax in axes[:, 0]:
        ax.set_ylabel("F/Fc (R = 200)")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(values.min(), values.max()))
    fig.colorbar(sm, ax=axes, label=label_tex(var))
    fig.suptitle(title)
    return fig


def feature_depths(checks: Mapping, features=("OH", "MgI_2852", "MgII_2800", "OI_7774"),
                   titles=("log g 3.0, [Fe/H] −1.0", "4500 K, [Fe/H] −1.0")):
    """Mean depth 1 − F/Fc of UV/optical features along a Teff sweep (left) and a log g sweep (right).

    ``checks`` is :func:`glocal.validation.physics_checks`' result: ``teff``, ``logg`` and
    ``depth_<feature>_vs_teff`` / ``depth_<feature>_vs_logg`` arrays; ``titles`` name the fixed
    parameters of the two sweeps.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for feat in features:
        axes[0].plot(checks["teff"], checks[f"depth_{feat}_vs_teff"], marker="o", label=feat)
        axes[1].plot(checks["logg"], checks[f"depth_{feat}_vs_logg"], marker="o", label=feat)
    axes[0].set(xlabel="Teff (K)", ylabel="mean depth 1 − F/Fc (R = 200)", title=titles[0])
    axes[1].set(xlabel="log g", title=titles[1])
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig
