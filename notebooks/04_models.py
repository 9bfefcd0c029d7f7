# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The models: SPT and GloCal attention (paper §3)
#
# Both networks read an R = 200 spectrum (274 pixels from 2550 to 10000 Å, 183 for the optical band),
# cut it into patches of a few pixels, embed each patch as a token, add a learned position embedding and
# pass the tokens through a stack of transformer blocks; a linear head regresses [O/Fe] and [Mg/Fe].
#
# * **SPT** (Zhang et al. 2024) replaces dot-product attention with *Hadamard self-attention*: the
#   normalised query and key interact element by element and an "enhanced softmax" Ψ sharpens the scores.
# * **SPT-GloCal** (§3.2) keeps that branch (O_original) and adds a *score-aware information flow*
#   (O_flow): inside sliding windows, competitive layers keep only the tokens whose cumulative score
#   reaches α (Eqs 13–15), until fewer than γ candidates remain; the flow output is Score∘V on those
#   winners (Eq. 16). Learned gates g ∈ [0, 1] mix the two branches (Eq. 17).
#
# What the papers leave open (patch size, Ψ's exact form, window length, α, γ, the pooling) is chosen in
# `glocal.models` and documented in its docstrings, summarised at the end of this chapter.

# %% tags=["parameters"]
scale = "laptop"
preset = "laptop"
seed = 0
engine = "builtin"
engine_options = {"resolution": 40000, "threshold": 0.001}
config = "cpu"
train = {"max_epochs": 60, "lr": 1e-3, "batch_size": 64}

# %%
import matplotlib.pyplot as plt
import matplotlib.patches as mpatches
import numpy as np
import pandas as pd
import torch

from glocal import models, experiments
from glocal.degrade import csst_grid, band_mask
from glocal.models import glocal_attention

# %% [markdown]
# ## Architecture

# %%
def box(ax, x, y, w, h, text, color):
    ax.add_patch(mpatches.FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=color, ec="k", lw=0.8))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8)

def arrow(ax, x0, y0, x1, y1):
    ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="->", lw=0.8))

fig, ax = plt.subplots(figsize=(11, 4.2))
ax.set_xlim(0, 11); ax.set_ylim(0, 4.2); ax.axis("off")
box(ax, 0.1, 1.7, 1.2, 0.8, "R=200 spectrum\n274 px", "#e8f1fb")
box(ax, 1.6, 1.7, 1.2, 0.8, "patches\n+ linear embed\n+ position", "#e8f1fb")
box(ax, 3.1, 0.3, 4.6, 3.6, "", "#fdf6e3")
ax.text(5.4, 3.7, "transformer block × depth (pre-norm)", ha="center", fontsize=8)
box(ax, 3.3, 2.5, 2.0, 0.8, "O_original:\nmulti-head HSA\nΨ(Q̂∘K̂), Eq. 12/13", "#dbead5")
box(ax, 3.3, 0.6, 2.0, 1.5, "O_flow: sliding windows\nΨ(ReLU(Q)∘ReLU(K)d*)\ncompetitive layers keep\ncumulative score ≥ α\n(γ, p)  → Score∘V", "#f6dcd2")
box(ax, 5.7, 1.7, 0.9, 0.8, "Σ g_c O_c\ng ∈ [0,1]\nEq. 17", "#ece2f4")
box(ax, 6.8, 1.7, 0.8, 0.8, "MLP", "#fdf6e3")
box(ax, 8.0, 1.7, 1.2, 0.8, "norm + pool", "#e8f1fb")
box(ax, 9.5, 1.7, 1.3, 0.8, "head:\n[O/Fe], [Mg/Fe]", "#e8f1fb")
for (x0, y0, x1, y1) in [(1.3, 2.1, 1.6, 2.1), (2.8, 2.1, 3.3, 2.9), (2.8, 2.1, 3.3, 1.35), (5.3, 2.9, 5.7, 2.2),
                         (5.3, 1.35, 5.7, 2.0), (6.6, 2.1, 6.8, 2.1), (7.7, 2.1, 8.0, 2.1), (9.2, 2.1, 9.5, 2.1)]:
    arrow(ax, x0, y0, x1, y1)
ax.text(5.4, 0.35, "SPT: the same block without O_flow (gate fixed to the original branch)", ha="center", fontsize=7)
ax.set_title("SPT-GloCal as implemented in glocal.models")
plt.show()

# %% [markdown]
# ## Parameter counts
#
# The paper's configuration (embedding 768, 12 blocks, 12 heads) is quoted at ≈ 85.2 M trainable
# parameters (§3.3). The `cpu` configuration is the one this book trains on two CPU cores.

# %%
n_full = csst_grid().size
n_opt = int(band_mask(csst_grid(), "optical").sum())
rows = []
for name in models.MODEL_NAMES:
    for cfg in ("cpu", "paper"):
        for band, npix in (("full", n_full), ("optical", n_opt)):
            m = models.build(name, cfg, n_pixels=npix)
            rows.append({"model": name, "config": cfg, "band": band, "pixels": npix,
                         "parameters": models.count_parameters(m)})
counts = pd.DataFrame(rows).set_index(["model", "config", "band"])
counts["vs paper 85.2 M"] = (counts["parameters"] / 85.2e6).map(lambda r: f"{r:.3f}")
counts

# %%
pd.DataFrame({c: models.resolve_config(c) for c in ("cpu", "paper")})

# %% [markdown]
# ## The competitive filter on hand-made scores
#
# Eqs 14–15 rank the scores of a window, keep the smallest set whose cumulative score reaches α and
# repeat on the survivors. Below, one window of eight scores goes through the filter for several α.

# %%
scores = torch.tensor([[0.40, 0.05, 0.25, 0.02, 0.15, 0.08, 0.03, 0.02]])
rows = {}
for alpha in (0.5, 0.7, 0.9):
    keep = glocal_attention.competitive_filter(scores, alpha=alpha, gamma=1, p=1)
    rows[f"α={alpha}"] = keep[0].int().tolist()
pd.DataFrame(rows, index=[f"{s:.2f}" for s in scores[0].tolist()]).T

# %% [markdown]
# ## What a trained SPT-GloCal does with one spectrum
#
# The model below is the full-band SPT-GloCal of the results chapter (same grid, same parameters, shared
# through the artifact cache). We show its gates per block (how much of each block's attention output
# comes from the score-aware flow) and, for one test spectrum, the fraction of competitions each token
# (patch of pixels) won in the flow branch.

# %%
data = experiments.grid_dataset(preset, engine=engine, seed=seed, engine_options=engine_options)
run = experiments.trained_run(data, "spt-glocal", band="full", seed=seed, config=config, train=train)
net = run.model.eval()
gates = net.gates().numpy()
pd.DataFrame(gates, columns=["g_original", "g_flow"], index=[f"block {i}" for i in range(len(gates))]).round(3)

# %%
from glocal.dataset import load_dataset
ds = load_dataset(data)
i = int(run.split["test"][0])
mask = band_mask(ds.wave, "full")
x = torch.as_tensor(ds.flux[i:i + 1, mask], dtype=torch.float32)
with torch.no_grad():
    net(x)
frac = net.winner_fraction()[:, 0].numpy()          # (depth, tokens)
ps = net.config["patch_size"]
w = ds.wave[mask]
centres = np.array([w[min(k * ps + ps // 2, w.size - 1)] for k in range(frac.shape[1])])
fig, (a0, a1) = plt.subplots(2, 1, figsize=(10, 5), sharex=True, gridspec_kw={"height_ratios": [1, 1.3]})
a0.plot(w, ds.flux[i, mask], lw=1)
a0.set(ylabel="F/Fc", title=f"test spectrum: Teff={ds.labels['teff'][i]:.0f} K, log g={ds.labels['logg'][i]:.2f}, "
       f"[Fe/H]={ds.labels['feh'][i]:.1f}, [O/Fe]={ds.labels['ofe'][i]:.1f}, [Mg/Fe]={ds.labels['mgfe'][i]:.1f}")
im = a1.imshow(frac, aspect="auto", cmap="viridis", extent=(w[0], w[-1], frac.shape[0] - 0.5, -0.5), vmin=0, vmax=1)
a1.set(xlabel="wavelength (Å)", ylabel="block")
fig.colorbar(im, ax=[a0, a1], label="fraction of competitions won")
plt.show()

# %% [markdown]
# With the `cpu` configuration (windows of 8 tokens, α = 0.9, γ = 2) most tokens survive the competition in
# most channels, so the flow branch is close to a windowed attention; a sharper selection needs a smaller α or
# longer windows, which the config exposes. Gates near 0.5 mean the two branches contribute about equally
# after this short training.

# %% [markdown]
# ## Choices where the papers are silent
#
# The docstring of `glocal.models.glocal_attention` records each decision; it is reproduced here so the
# book and the code cannot drift apart.

# %%
print(glocal_attention.__doc__)
