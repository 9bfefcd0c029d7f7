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
# # The synthetic grid (paper §2.1, Fig. 1)
#
# The paper's training set is a three-dimensional grid of model atmospheres in effective temperature,
# surface gravity and metallicity, each synthesised sixteen times with [O/Fe] or [Mg/Fe] changed.
# This chapter builds that grid, counts it, shows which part of it the shipped Kurucz (1993)
# ATLAS9 atmospheres {cite:p}`kurucz1993` can support, draws the subsampled presets used by the smaller
# builds of this book, and plots the microturbulence law of Eqs 4–7 that every spectrum is computed with.
#
# The code that draws figures and tables is collapsed (click to show it). To re-execute this chapter with
# other values: `make chapter NB=01_grid SCALE=ci PARAMS="-p max_extrapolation 1.0"`; the values it ran with
# are in the collapsed parameters cell below and in `notebooks/scales.yml`.

# %% tags=["parameters"]
scale = "laptop"  # ci, laptop or paper: the values of notebooks/scales.yml
overrides = {}    # parameters of this chapter to change, e.g. {"max_extrapolation": 1.0}

# %% tags=["hide-cell"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from glocal import atmospheres, book, grid, plots
from glocal.book import glue

p = book.chapter_parameters("01_grid", scale, overrides)
glue("scale", p.scale, display=False)
p

# %% tags=["hide-input"]
full = grid.paper_grid()
summary = grid.grid_summary(full)
pd.Series({k: v for k, v in summary.items() if k != "note"}, name="paper grid (§2.1)").to_frame()

# %% [markdown] caption="tab-grid-summary"
# The paper's grid (§2.1), counted by `grid.grid_summary`: the axes, the number of models and spectra.

# %% [markdown]
# The axes of §2.1 give 34 temperatures × 21 gravities × 16 metallicities. The paper quotes
# 11 763 models; the note below, computed by `grid.grid_summary`, says how our count relates to it.

# %% tags=["remove-input"]
print(summary["note"])

# %% [markdown]
# ## Coverage of the atmosphere grid
#
# The paper interpolated {cite:t}`castelli2003` models; glocal ships the Kurucz (1993) ATLAS9 grid
# (250 K × 0.5 dex × 0.5 dex, with holes where the models did not converge: the coolest metal-poor
# dwarfs and the hottest low-gravity giants). Nodes that would need more than `max_extrapolation` dex
# of extrapolation in log g beyond the last existing model are excluded, and counted here.

# %% tags=["hide-input"]
cov = atmospheres.coverage_report(max_extrapolation=p.max_extrapolation)
pd.Series({k: v for k, v in cov.items() if k not in ("excluded_nodes", "excluded_by_feh")},
          name="coverage").to_frame()

# %% tags=["hide-input"]
pd.Series(cov["excluded_by_feh"], name="excluded nodes per [Fe/H]").to_frame().T

# %% tags=["hide-input"]
ok = atmospheres.in_coverage(full["teff"], full["logg"], full["feh"], max_extrapolation=p.max_extrapolation)
usable = full[ok]
ex = cov["excluded_nodes"]
plots.grid_coverage(usable["teff"], usable["logg"], usable["feh"], excluded=(ex[:, 0], ex[:, 1]),
                    title=f"Fig. 1 — {usable.size} usable models of {full.size}; crosses: no atmosphere")
plt.show()

# %% [markdown] caption="fig-grid-coverage"
# Regenerates the paper's **Fig. 1**: the (Teff, log g, [Fe/H]) grid of §2.1; crosses mark the nodes without a
# Kurucz (1993) atmosphere within `max_extrapolation` (no synthesis involved, the same at every scale).

# %% [markdown]
# ## Presets
#
# Building all ~1.8 × 10⁵ spectra is a cluster job, so the book runs at a named scale. Each preset is a
# deterministic, stratified subsample of the usable nodes (both ends of every axis included), times the
# sixteen abundance variants of §2.1.

# %% tags=["hide-input"]
def exclude(t, g, f):
    return ~atmospheres.in_coverage(t, g, f, max_extrapolation=p.max_extrapolation)


rows = []
for name in grid.PRESETS:
    s = grid.preset_summary(name, seed=p.seed, exclude=exclude)
    rows.append({"preset": name, "sampling": s["sampling"], "models": s["n_models"], "variants": s["variants"],
                 "spectra": s["n_spectra"], "Teff values": s["n_teff"], "log g values": s["n_logg"],
                 "[Fe/H] values": s["n_feh"]})
pd.DataFrame(rows).set_index("preset")

# %% tags=["hide-input"]
chosen = grid.preset_grid(p.preset, seed=p.seed, exclude=exclude)
plots.preset_nodes(usable, chosen, p.preset)
plt.show()

# %% [markdown] caption="fig-grid-preset"
# The models of this build's preset (scale {glue:text}`scale`) among the usable nodes of the paper grid.

# %% [markdown]
# ## The abundance variants
#
# Per model, eight spectra vary [O/Fe] over −0.2…1.2 dex with [Mg/Fe] = 0, and eight vary [Mg/Fe] with
# [O/Fe] = 0. The solar-scaled pair ([O/Fe], [Mg/Fe]) = (0, 0) therefore appears twice, exactly as in the
# paper; a label-based split may put the two copies in different parts.

# %% tags=["hide-input"]
pd.DataFrame(grid.paper_variants()).rename(columns={"O": "[O/Fe]", "Mg": "[Mg/Fe]"}).T

# %% [markdown]
# ## Microturbulence (Eqs 4–7)
#
# The paper assigns v_t from the APOGEE relations of {cite:t}`garciaperez2016` and {cite:t}`holtzman2018`: a
# quadratic in Teff for hot dwarfs, 1 km/s for cool dwarfs, and for giants a polynomial in
# log g (metal-rich) or a linear law (metal-poor, which is every giant of this grid).

# %% tags=["hide-input"]
tt, gg = np.meshgrid(np.linspace(3500, 8000, 181), np.linspace(0, 5, 101))
plots.microturbulence_maps(tt, gg, {feh: grid.microturbulence(tt, gg, feh) for feh in (-2.0, -1.0)})
plt.show()

# %% [markdown] caption="fig-microturbulence"
# Microturbulence of Eqs 4–7 {cite:p}`garciaperez2016,holtzman2018` over Teff and log g, at [Fe/H] = −2
# and −1.

# %% [markdown]
# The left panel is the law every spectrum of this book uses ([Fe/H] ≤ −1.2). At [Fe/H] = −1 exactly the
# giants switch to Eq. 6, as the paper's inequality (Eq. 6 for [Fe/H] ≥ −1) states; the discontinuity at
# log g = 3.5 between giants and dwarfs is in the published relations too.
