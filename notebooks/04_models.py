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
# * **SPT** {cite:p}`zhang2024spt` replaces dot-product attention with *Hadamard self-attention*: the
#   normalised query and key interact element by element and an "enhanced softmax" Ψ sharpens the scores.
# * **SPT-GloCal** (§3.2) keeps that branch (O_original) and adds a *score-aware information flow*
#   (O_flow): inside sliding windows, competitive layers keep only the tokens whose cumulative score
#   reaches α (Eqs 13–15), until fewer than γ candidates remain; the flow output is Score∘V on those
#   winners (Eq. 16). Learned gates g ∈ [0, 1] mix the two branches (Eq. 17).
#
# What the papers leave open (patch size, Ψ's exact form, window length, α, γ, the pooling) is chosen in
# `glocal.models` and documented in its docstrings, summarised at the end of this chapter.
#
# Code that only draws or tabulates is collapsed; the calls that build and train the networks are shown. To
# re-execute this chapter with other values: `make chapter NB=04_models SCALE=ci PARAMS="-p seed 1"` (the
# values it ran with are in the collapsed parameters cell below; all of them live in `notebooks/scales.yml`).

# %% tags=["parameters"]
scale = "laptop"  # ci, laptop or paper: the values of notebooks/scales.yml
overrides = {}    # parameters of this chapter to change, e.g. {"seed": 1}

# %% tags=["hide-cell"]
import matplotlib.pyplot as plt
import pandas as pd
import torch

from glocal import book, experiments, models, plots
from glocal.book import glue
from glocal.degrade import band_mask, csst_grid
from glocal.models import glocal_attention

p = book.chapter_parameters("04_models", scale, overrides)
glue("scale", p.scale, display=False)
p

# %% [markdown]
# ## Architecture

# %% tags=["hide-input"]
plots.architecture()
plt.show()

# %% [markdown] caption="fig-architecture"
# The SPT-GloCal block as implemented in `glocal.models`, the counterpart of the paper's architecture figure
# (**Fig. 6**, §3.2); SPT is the same block without the score-aware flow O_flow. A diagram: the same at every
# scale.

# %% [markdown]
# ## Parameter counts
#
# The paper's configuration (embedding 768, 12 blocks, 12 heads) is quoted at ≈ 85.2 M trainable
# parameters (§3.3). The `cpu` configuration is the one this book trains on two CPU cores.

# %% tags=["hide-input"]
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

# %% [markdown] caption="tab-parameter-counts"
# Trainable parameters of SPT and SPT-GloCal in the `cpu` and `paper` configurations for both bands, against the ≈
# 85.2 M the paper quotes (§3.3).

# %% tags=["hide-input"]
pd.DataFrame({c: models.resolve_config(c) for c in ("cpu", "paper")})

# %% [markdown]
# ## The competitive filter on hand-made scores
#
# Eqs 14–15 rank the scores of a window, keep the smallest set whose cumulative score reaches α and
# repeat on the survivors. Below, one window of eight scores goes through the filter for several α.

# %% tags=["hide-input"]
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
data, ds = book.chapter_grid(p)
run = experiments.trained_run(data, "spt-glocal", band="full", seed=p.seed, config=p.config, train=p.train)
net = run.model.eval()
gates = net.gates().numpy()
pd.DataFrame(gates, columns=["g_original", "g_flow"], index=[f"block {i}" for i in range(len(gates))]).round(3)

# %% tags=["hide-input"]
i = int(run.split["test"][0])
mask = band_mask(ds.wave, "full")
x = torch.as_tensor(ds.flux[i:i + 1, mask], dtype=torch.float32)
with torch.no_grad():
    net(x)
frac = net.winner_fraction()[:, 0].numpy()          # (depth, tokens)
w = ds.wave[mask]
lab = ds.labels
plots.token_winners(w, ds.flux[i, mask], frac,
                    title=f"test spectrum: Teff={lab['teff'][i]:.0f} K, log g={lab['logg'][i]:.2f}, [Fe/H]="
                    f"{lab['feh'][i]:.1f}, [O/Fe]={lab['ofe'][i]:.1f}, [Mg/Fe]={lab['mgfe'][i]:.1f}")
plt.show()

# %% [markdown] caption="fig-token-winners"
# One test spectrum through the trained full-band SPT-GloCal (scale {glue:text}`scale`): the fraction of
# competitions each token won in the flow branch, per block.

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

# %% tags=["hide-input"]
print(glocal_attention.__doc__)
