"""Learning curves (:mod:`glocal.learning_curves`): test MAE against the number of training spectra."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import matplotlib.pyplot as plt
import numpy as np

from ..learning_curves import N_PAPER_TRAIN, NETWORKS, TREE_CONFIG, mean_curve
from ._base import BAND_STYLE, label_tex

__all__ = ["METHOD_COLOR", "paper_mae", "learning_curves"]

METHOD_COLOR = {"spt-glocal": "tab:red", "spt": "tab:orange", "xgboost": "tab:blue", "lightgbm": "tab:green",
                "catboost": "tab:purple"}


def paper_mae() -> dict:
    """``{(method, band, label): MAE}`` of the paper: Table 2 (full band, five methods) and Table 1
    (SPT-GloCal, optical band)."""
    from ..experiments import PAPER_TABLE1, PAPER_TABLE2
    out = {(m, "full", lab): v[1] for (m, lab), v in PAPER_TABLE2.items()}
    out.update({("spt-glocal", band, lab): v[1] for (band, lab), v in PAPER_TABLE1.items() if band == "optical"})
    return out


def _network_config(records: list, config):
    if config is not None:
        return config
    names = sorted({r["config"] for r in records if r["method"] in NETWORKS})
    return "cpu" if "cpu" in names else (names[0] if names else None)


def learning_curves(records: Iterable[Mapping], fits: Mapping | None = None, *, labels=("ofe", "mgfe"),
                    bands=("full", "optical"), split: str = "random", config: str | None = None,
                    paper: Mapping | None = None, n_paper: float | None = N_PAPER_TRAIN, title: str | None = None):
    """MAE against training-set size (log–log), one panel per label (rows) × band (columns).

    ``records``: learning-curve records (:func:`glocal.learning_curves.run_learning_curves`), of which those
    of ``split`` are drawn, the networks' of architecture ``config`` (default "cpu" or the first there is).
    Each method in its colour: every seed as a small point, the seed mean as a line with markers, and its
    fitted power law (``fits``, :func:`glocal.learning_curves.fit_power_law`) dashed out to ``n_paper`` with
    the central 68 % of its parameter draws shaded,
    the paper's training-set size (dotted vertical line), where the paper's MAE (``paper``, default
    :func:`paper_mae`; ``{}`` for none) is a star. Returns the figure.
    """
    records = [r for r in records if r["split"] == split]
    config = _network_config(records, config)
    keep = lambda m, c: c == (config if m in NETWORKS else TREE_CONFIG)  # noqa: E731
    curves = {k: v for k, v in mean_curve(records).items() if keep(k[0], k[1])}
    paper = paper_mae() if paper is None else paper
    methods = [m for m in METHOD_COLOR if any(k[0] == m for k in curves)]
    fig, axes = plt.subplots(len(labels), len(bands), figsize=(4.6 * len(bands), 3.6 * len(labels)),
                             squeeze=False, sharex=True)
    for i, label in enumerate(labels):
        for j, band in enumerate(bands):
            ax = axes[i, j]
            for m in methods:
                key = next((k for k in curves if k[0] == m and k[2] == band and k[4] == label), None)
                if key is None:
                    continue
                color = METHOD_COLOR[m]
                n, mean, pts = curves[key]
                ax.scatter(pts[:, 0], pts[:, 1], s=9, color=color, alpha=0.4, lw=0)
                ax.plot(n, mean, "o-", color=color, ms=4, lw=1.2, label=m)
                fit = (fits or {}).get(key)
                if fit is not None:
                    grid = np.geomspace(n.min(), max(n.max(), n_paper or 0), 200)
                    ax.plot(grid, fit(grid), "--", color=color, lw=1)
                    draws = fit.sample_curves(grid)
                    if np.isfinite(draws).all():
                        ax.fill_between(grid, *np.quantile(draws, [0.16, 0.84], axis=0), color=color, alpha=0.12,
                                        lw=0)
                if n_paper and (m, band, label) in paper:
                    ax.plot([n_paper], [paper[(m, band, label)]], "*", color=color, ms=11, mec="k", mew=0.5)
            if n_paper:
                ax.axvline(n_paper, color="0.5", ls=":", lw=1)
            short = BAND_STYLE.get(band, {}).get("label", band)
            ax.set(xscale="log", yscale="log", title=f"{label_tex(label)}, {short}")
            if i == len(labels) - 1:
                ax.set_xlabel("training spectra n")
            if j == 0:
                ax.set_ylabel("test MAE (dex)")
    axes[0, 0].legend(fontsize=7, title=f"{split} split; ★ paper, ⋯ its size", title_fontsize=7)
    fig.suptitle(title or f"{split} split, networks in the {config} configuration\n"
                 "dashed: fitted power law (band: 68 %)", fontsize=9)
    fig.tight_layout()
    return fig
