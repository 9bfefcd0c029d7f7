"""Figures of the models chapter: the SPT-GloCal block diagram and the flow branch's winners."""
from __future__ import annotations

import matplotlib.patches as mpatches
import matplotlib.pyplot as plt
import numpy as np

# (x, y, width, height, text, colour) of the diagram's boxes, in axes units of an 11 × 4.2 canvas
_BOXES = [
    (0.1, 1.7, 1.2, 0.8, "R=200 spectrum\n274 px", "#e8f1fb"),
    (1.6, 1.7, 1.2, 0.8, "patches\n+ linear embed\n+ position", "#e8f1fb"),
    (3.1, 0.3, 4.6, 3.6, "", "#fdf6e3"),
    (3.3, 2.5, 2.0, 0.8, "O_original:\nmulti-head HSA\nΨ(Q̂∘K̂), Eq. 12/13", "#dbead5"),
    (3.3, 0.6, 2.0, 1.5, "O_flow: sliding windows\nΨ(ReLU(Q)∘ReLU(K)d*)\ncompetitive layers keep\n"
                         "cumulative score ≥ α\n(γ, p)  → Score∘V", "#f6dcd2"),
    (5.7, 1.7, 0.9, 0.8, "Σ g_c O_c\ng ∈ [0,1]\nEq. 17", "#ece2f4"),
    (6.8, 1.7, 0.8, 0.8, "MLP", "#fdf6e3"),
    (8.0, 1.7, 1.2, 0.8, "norm + pool", "#e8f1fb"),
    (9.5, 1.7, 1.3, 0.8, "head:\n[O/Fe], [Mg/Fe]", "#e8f1fb"),
]
_ARROWS = [(1.3, 2.1, 1.6, 2.1), (2.8, 2.1, 3.3, 2.9), (2.8, 2.1, 3.3, 1.35), (5.3, 2.9, 5.7, 2.2),
           (5.3, 1.35, 5.7, 2.0), (6.6, 2.1, 6.8, 2.1), (7.7, 2.1, 8.0, 2.1), (9.2, 2.1, 9.5, 2.1)]


def architecture():
    """Block diagram of SPT-GloCal as implemented in :mod:`glocal.models` (SPT is the block without O_flow)."""
    fig, ax = plt.subplots(figsize=(11, 4.2))
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 4.2)
    ax.axis("off")
    for x, y, w, h, text, color in _BOXES:
        ax.add_patch(mpatches.FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=color, ec="k", lw=0.8))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8)
    for x0, y0, x1, y1 in _ARROWS:
        ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="->", lw=0.8))
    ax.text(5.4, 3.7, "transformer block × depth (pre-norm)", ha="center", fontsize=8)
    ax.text(5.4, 0.35, "SPT: the same block without O_flow (gate fixed to the original branch)", ha="center",
            fontsize=7)
    ax.set_title("SPT-GloCal as implemented in glocal.models")
    return fig


def token_winners(wave, flux, fraction, title: str | None = None):
    """A spectrum (top) and, per block, the fraction of flow-branch competitions each token won (bottom).

    ``flux`` (F/Fc) on ``wave`` (Å); ``fraction`` is (depth, n_tokens) in [0, 1], the tokens spread
    evenly over ``wave[0]``–``wave[-1]``.
    """
    wave, fraction = np.asarray(wave), np.asarray(fraction)
    fig, (a0, a1) = plt.subplots(2, 1, figsize=(10, 5), sharex=True, gridspec_kw={"height_ratios": [1, 1.3]})
    a0.plot(wave, flux, lw=1)
    a0.set(ylabel="F/Fc", title=title)
    im = a1.imshow(fraction, aspect="auto", cmap="viridis", vmin=0, vmax=1,
                   extent=(wave[0], wave[-1], fraction.shape[0] - 0.5, -0.5))
    a1.set(xlabel="wavelength (Å)", ylabel="block")
    fig.colorbar(im, ax=[a0, a1], label="fraction of competitions won")
    return fig
