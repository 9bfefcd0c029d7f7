"""Figures of the engine chapter: sampling cost and the built-in engine against SME."""
from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from ._base import WAVE_AIR


def sampling_residuals(wave, diff, title: str, ylabel: str = "book − default (F/Fc)"):
    """Differences of F/Fc between two samplings, one faint black line per spectrum.

    ``diff`` is (n_spectra, n_pixels) on ``wave`` (Å).
    """
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.plot(wave, np.atleast_2d(diff).T, lw=0.6, color="k", alpha=0.3)
    ax.set(xlabel="wavelength (Å)", ylabel=ylabel, title=title)
    return fig


def engine_agreement(table):
    """Built-in engine against SME per model: rms/max |difference| (left, %) and response ratios (right).

    ``table`` has columns (a pandas DataFrame or a mapping of equal-length sequences) ``teff``, ``logg``,
    ``feh``, ``rms`` and ``max`` (fractions of F/Fc at R = 200) and any ``resp*`` columns (ratio
    built-in/SME of an abundance response). Dotted lines at 1 % and 3 %; the grey band is 0.9–1.1.
    """
    teff, logg, feh = (np.asarray(table[k], float) for k in ("teff", "logg", "feh"))
    x = np.arange(teff.size)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].bar(x, np.asarray(table["rms"], float) * 100, label="rms")
    axes[0].bar(x, np.asarray(table["max"], float) * 100, alpha=0.4, label="max")
    axes[0].axhline(1, color="k", ls=":", lw=0.8)
    axes[0].axhline(3, color="r", ls=":", lw=0.8)
    axes[0].set(xticks=x, ylabel="|built-in − SME| (%, R = 200)")
    axes[0].set_xticklabels([f"{t:.0f}/{g:.1f}/{f:.1f}" for t, g, f in zip(teff, logg, feh)], rotation=60, fontsize=7)
    axes[0].legend(fontsize=8)
    for c in [c for c in table if str(c).startswith("resp")]:
        axes[1].plot(x, np.asarray(table[c], float), marker="o", label=c)
    axes[1].axhspan(0.9, 1.1, color="0.9")
    axes[1].set(xticks=x, ylabel="response ratio built-in / SME")
    axes[1].set_xticklabels([f"{t:.0f}/{g:.1f}" for t, g in zip(teff, logg)], rotation=60, fontsize=7)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def validation_residuals(curves: Mapping[str, tuple], bands=(3.0, 1.0)):
    """Built-in − SME in % of F/Fc at R = 200 against wavelength, one line per model.

    ``curves[name] = (wave in Å, difference as a fraction of F/Fc)``; grey bands at ±``bands`` %.
    """
    fig, ax = plt.subplots(figsize=(10, 3.8))
    for name, (wave, diff) in curves.items():
        ax.plot(wave, 100 * np.asarray(diff), lw=0.8, label=name)
    for k, half in enumerate(bands):
        ax.axhspan(-half, half, color=("0.93", "0.85")[k % 2], zorder=0)
    ax.set(xlabel=WAVE_AIR, ylabel="built-in − SME (%, F/Fc at R = 200)")
    ax.legend(fontsize=6, ncol=5)
    fig.tight_layout()
    return fig


def oh_damping_responses(record: Mapping):
    """OH band response to [O/Fe] −0.2 → +0.8 per model (``scripts/oh_damping.py`` record): SPECTRUM against the
    built-in engine with each molecular damping convention, for the whole line list and the OH lines alone."""
    models = record["models"]
    conventions = ["radiative_only", "unsold_default", "unsold_x2.5", "spectrum_equivalent"]
    labels = {"radiative_only": "built-in, radiative only", "unsold_default": "built-in, Unsöld (default)",
              "unsold_x2.5": "built-in, 2.5 × Unsöld", "spectrum_equivalent": "built-in, SPECTRUM's γ₆"}
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=False)
    width = 0.16
    for ax, lines in zip(axes, ("all", "oh")):
        x = np.arange(len(models))
        for k, name in enumerate(["spectrum"] + conventions):
            vals = [next(r["response"] for r in m["rows"] if r["lines"] == lines and r["loggf_shift"] == 0.0
                         and r["convention"] == name) for m in models]
            ax.bar(x + (k - 2) * width, vals, width, label="SPECTRUM" if name == "spectrum" else labels[name],
                   color="k" if name == "spectrum" else None)
        ax.set_xticks(x, [f"{m['teff']:.0f}/{m['logg']:.1f}/{m['feh']:.1f}" for m in models], fontsize=8)
        ax.set_title("whole line list" if lines == "all" else "OH lines alone")
        ax.set_ylabel("ΔD (3050–3250 Å, R = 200)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def real_star_residuals(record: Mapping, hk_window=(2760.0, 2830.0)):
    """Observed / engine − 1 at R = 200 for every star of a ``scripts/real_residuals.py`` record (offset
    vertically), UV and optical side by side, the Mg II h&k window shaded."""
    stars = record["stars"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.55 * len(stars) + 2.2), sharey=True,
                             gridspec_kw={"width_ratios": [1.3, 1]})
    step = 0.25
    for k, s in enumerate(stars):
        w = np.asarray(s["wave"], float)
        r = np.array([np.nan if v is None else v for v in s["residual"]], float)
        for ax, (lo, hi) in zip(axes, ((2550.0, 4000.0), (4000.0, 10000.0))):
            m = (w >= lo) & (w <= hi)
            ax.plot(w[m], r[m] - k * step, lw=1)
            ax.axhline(-k * step, color="0.7", lw=0.5)
        axes[1].text(10050, -k * step, f"{s['star']} ({s['label_source']})", fontsize=7, va="center")
    axes[0].axvspan(*hk_window, color="0.9", zorder=0)
    axes[0].set_ylabel(f"observed / engine − 1 (offset by {step} per star)")
    for ax in axes:
        ax.set_xlabel(WAVE_AIR)
    fig.tight_layout()
    return fig
