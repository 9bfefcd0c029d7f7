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
# # Synthetic spectra and what they show (paper §2)
#
# The paper computed its spectra with SPECTRUM v2.77 on interpolated Castelli & Kurucz (2003) ATLAS9
# models. glocal rebuilds the chain from parts it can ship: the Kurucz (1993) ATLAS9 grid, the linemake
# line lists (Placco et al. 2021) and an established synthesis code, SME (Valenti & Piskunov 1996; Wehrhahn
# et al. 2023, through `pysme`), with a driver for SPECTRUM for those who have it and a fast built-in engine
# (next chapter). This chapter shows the ingredients, the degradation to CSST resolution (Fig. 2), how the
# UV features respond to the stellar parameters and to [O/Fe] and [Mg/Fe] (Figs 3–5, the claims of §2.3),
# and how the engines compare.

# %% tags=["parameters"]
scale = "laptop"
preset = "laptop"
seed = 0
engine = "builtin"
engine_options = {"resolution": 40000, "threshold": 0.001}
config = "cpu"
n_sweep = 7
loo_nodes = 40
run_checks = True

# %%
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from glocal import atmospheres, linelists, plots, synthesis, experiments
from glocal.degrade import degrade, csst_grid
from glocal.dataset import load_dataset

# %% [markdown]
# ## Model atmospheres
#
# The shipped grid holds every Kurucz (1993) model with [M/H] from −5.0 to −0.5 plus the solar one. The
# paper grid's finer steps (100 K, 0.25 dex, 0.2 dex) are reached by interpolation on the Rosseland
# optical-depth scale. To measure the interpolation error we remove a node, rebuild it from neighbours
# twice as far away as in normal use (so the test is pessimistic), and compare T and log P over
# −3 ≤ log τ ≤ 0.5.

# %%
loo = atmospheres.leave_one_out(n_nodes=loo_nodes, seed=seed)
pd.Series({k: v for k, v in loo.items() if np.ndim(v) == 0}, name="leave-one-out").to_frame()

# %%
grid = atmospheres.load_grid()
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for teff, logg, feh in ((4500, 1.0, -2.0), (6000, 4.5, -2.0), (3750, 0.5, -1.0)):
    atm = atmospheres.grid_atmosphere(teff, logg, feh)
    lt = np.log10(atm.tau_ross)
    axes[0].plot(lt, atm.T, label=f"{teff} K, log g {logg}, [Fe/H] {feh}")
    axes[1].plot(lt, np.log10(atm.P))
axes[0].set(xlabel=r"$\log\tau_{\rm Ross}$", ylabel="T (K)"); axes[0].legend(fontsize=7)
axes[1].set(xlabel=r"$\log\tau_{\rm Ross}$", ylabel=r"$\log P_{\rm gas}$ (dyn cm$^{-2}$)")
fig.suptitle("Interpolated Kurucz (1993) structures")
fig.tight_layout(); plt.show()

# %% [markdown]
# ## Line list
#
# The shipped list covers 2500–10050 Å (air) from the linemake lists, with exact duplicate rows removed,
# molecular isotopologues weighted by their solar fractions, and lines too weak to move any R = 200 pixel
# pruned. TiO is the exception: its millions of weak lines matter together in the coolest O-rich stars, so
# they are merged into optically thin groups (species code 822.0) instead of dropped (the criteria and their
# verification with SME are in `glocal/data/PROVENANCE.md`).

# %%
ll = linelists.builtin_linelist()
species, counts = np.unique(ll.data["species"], return_counts=True)
top = pd.Series(counts, index=species, name="lines").sort_values(ascending=False)
print(f"{len(ll)} lines, medium: {ll.medium}; source: {ll.source}")
print(ll.citation)
top.head(30).to_frame().T

# %% [markdown]
# ## Fig. 2 — high resolution against CSST resolution
#
# The paper's two example stars: Teff = 4700 K, log g = 5.0, [Fe/H] = −2.0, one with [O/Fe] = 0.4 and one
# with [Mg/Fe] = 0.4. The red curve is the R = 200 spectrum of Eqs 8–11 on the constant-R grid.

# %%
ex = synthesis.synthesize_variants(4700, 5.0, -2.0, [{"O": 0.4, "Mg": 0.0}, {"O": 0.0, "Mg": 0.4}],
                                   wave_range=(2550, 10000), engine=engine, **engine_options)
g, low = degrade(ex.wave, ex.normalized)
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), sharey=True)
for ax, k, title in zip(axes, (0, 1), ("[O/Fe] = 0.4, [Mg/Fe] = 0.0", "[O/Fe] = 0.0, [Mg/Fe] = 0.4")):
    ax.plot(ex.wave, ex.normalized[k], color="tab:blue", lw=0.3, label="synthetic (high resolution)")
    ax.plot(g, low[k], color="tab:red", lw=1.2, label="R = 200")
    ax.set(xlabel="wavelength (Å, air)", title=f"4700 K, log g 5.0, [Fe/H] −2.0, {title}")
axes[0].set_ylabel("F/Fc"); axes[0].legend(fontsize=8)
fig.tight_layout(); plt.show()

# %% [markdown]
# ## Figs 3–5 — the UV at R = 200 across parameter space
#
# For each sweep (Teff at log g 3, [Fe/H] −1; log g at 4500 K, [Fe/H] −1; [Fe/H] at 4500 K, log g 3) we
# compute four [O/Fe] and four [Mg/Fe] variants on one atmosphere per node and degrade them to R = 200.

# %%
uv_grid = csst_grid(2550, 4000)
o_vals, mg_vals = (-0.2, 0.2, 0.6, 0.8), (-0.2, 0.2, 0.6, 0.8)
variants = [{"O": v, "Mg": 0.0} for v in o_vals] + [{"O": 0.0, "Mg": v} for v in mg_vals]
sweeps = {
    "Fig. 3 — Teff (log g 3.0, [Fe/H] −1.0)": ("teff", np.linspace(3500, 8000, n_sweep), lambda x: (x, 3.0, -1.0)),
    "Fig. 4 — log g (4500 K, [Fe/H] −1.0)": ("logg", np.linspace(0.5, 5.0, n_sweep), lambda x: (4500.0, x, -1.0)),
    "Fig. 5 — [Fe/H] (4500 K, log g 3.0)": ("feh", np.round(np.linspace(-4.0, -1.0, n_sweep) * 5) / 5, lambda x: (4500.0, 3.0, x)),
}
sweep_spectra = {}
for title, (var, values, point) in sweeps.items():
    rows = []
    for x in values:
        t, lg, fe = point(float(x))
        if not atmospheres.in_coverage(t, lg, fe):
            continue
        vs = synthesis.synthesize_variants(t, lg, fe, variants, wave_range=(2450, 4100), engine=engine, **engine_options)
        rows.append((x, degrade(vs.wave, vs.normalized, grid=uv_grid)[1]))
    sweep_spectra[title] = (var, rows)
    fig, axes = plt.subplots(2, 4, figsize=(13, 5.5), sharex=True, sharey=True)
    cmap = plt.get_cmap("viridis")
    for x, spec in rows:
        c = cmap((x - values.min()) / (np.ptp(values) or 1))
        for j in range(8):
            axes[j // 4, j % 4].plot(uv_grid, spec[j], color=c, lw=1)
    for j, v in enumerate(variants):
        name = "[O/Fe]" if j < 4 else "[Mg/Fe]"
        axes[j // 4, j % 4].set_title(f"{name} = {v['O'] if j < 4 else v['Mg']:+.1f}", fontsize=9)
    for ax in axes[1]:
        ax.set_xlabel("wavelength (Å)")
    for ax in axes[:, 0]:
        ax.set_ylabel("F/Fc (R = 200)")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(values.min(), values.max()))
    fig.colorbar(sm, ax=axes, label=plots.LABEL_TEX[var])
    fig.suptitle(title)
    plt.show()

# %% [markdown]
# ## The claims of §2.3, tested
#
# `glocal.synthesis.physics_checks` measures the mean depth of the OH band (3050–3250 Å), Mg I 2852,
# Mg II 2796/2803 and O I 7774 on R = 200 spectra, and their response to +0.6 dex of [O/Fe] or [Mg/Fe], along
# a Teff sweep and a log g sweep, then tests each statement of §2.3. Nothing is tuned to agree; a failed
# verdict is reported as such and discussed below.

# %%
if run_checks:
    checks = synthesis.physics_checks(engine=engine, feh=-1.0, **engine_options)
    verdicts = pd.DataFrame(checks["verdicts"])
    display(verdicts)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for feat in ("OH", "MgI_2852", "MgII_2800", "OI_7774"):
        axes[0].plot(checks["teff"], checks[f"depth_{feat}_vs_teff"], marker="o", label=feat)
        axes[1].plot(checks["logg"], checks[f"depth_{feat}_vs_logg"], marker="o", label=feat)
    axes[0].set(xlabel="Teff (K)", ylabel="mean depth 1 − F/Fc (R = 200)", title="log g 3.0, [Fe/H] −1.0")
    axes[1].set(xlabel="log g", title="4500 K, [Fe/H] −1.0"); axes[0].legend(fontsize=8)
    fig.tight_layout(); plt.show()

# %% [markdown]
# **Where our spectra disagree with §2.3, and why we think so.** The first three statements below fail in every
# build we ran (built-in engine at the ci and laptop scales, and SME in the test suite); the fourth sits at the
# edge of our 20 % cross-talk criterion (checked at the ci scale):
#
# * *The OH response to [O/Fe] peaks at 4000–5000 K.* Ours is largest at the coolest model. The paper's
#   explanation — at 3500 K the UV flux is weak so the lines are inconspicuous — is about absolute flux;
#   on normalised spectra F/Fc the faintness of the UV continuum cancels, and OH only gets more abundant
#   as the temperature drops. The band *depth* itself does rise and fall, peaking near 4000 K.
# * *Mg II 2796/2803 strengthens with Teff, weakens with log g.* At R = 200 one resolution element around
#   2800 Å is 14 Å wide and the window is a blend of the Mg II doublet with many Fe I/Fe II and Mn lines that
#   weaken as the temperature rises; its mean depth therefore falls with Teff, although its *response to
#   [Mg/Fe]* rises with Teff (the `resp_Mg_MgII_2800_vs_teff` array). With gravity, the pressure-broadened
#   wings of the doublet widen and outweigh the shift of the ionisation balance towards Mg I.
# * *[Mg/Fe] leaves OH alone.* At these metallicities magnesium is one of the main electron donors: raising
#   [Mg/Fe] raises the electron density, hence the H⁻ continuous opacity, and adds Mg I bound-free opacity
#   below 3750 Å; both change the normalised depth of every UV feature, OH included. The table quantifies
#   this cross-talk as the ratio of the responses; we did not tune anything to remove it.
# * *[O/Fe] leaves Mg I 2852 alone.* Nearly, not quite: at 4500–5000 K the O response in that R = 200 window is
#   about a fifth of the Mg response (0.21 in the ci build, just above the 20 % we set). It comes from OH: the
#   A–X (1,0) and (2,1) bands (heads at 2811 and 2875 Å) put OH lines inside the 14 Å resolution element.
#   Without the OH lines, the built-in engine's O response there drops from 0.030 to −0.0002
#   (5000/3.0/−1.0, +0.6 dex), and the Mg response stays at 0.16–0.18.
#
# These are properties of LTE synthesis on normalised spectra, not of one engine: SME and the built-in
# engine agree on them (next chapter).

# %% [markdown]
# ## The grid used by the rest of the book
#
# `glocal grid build --preset <scale>` synthesises the 16 variants of every model of the preset, degrades
# them and stores them with their labels and provenance (engine, versions, data checksums). The results
# chapters read this file.

# %%
data = experiments.grid_dataset(preset, engine=engine, seed=seed, engine_options=engine_options)
ds = load_dataset(data)
prov = ds.provenance
pd.Series({"file": data.name, "spectra": ds.n, "pixels": ds.wave.size,
           "models": np.unique(ds.labels["model_id"]).size, "engine": prov.get("engine"),
           "engine version": prov.get("engine_version"), "created (UTC)": prov.get("created_utc")}).to_frame("dataset")

# %%
rng = np.random.default_rng(seed)
pick = rng.choice(ds.n, size=min(6, ds.n), replace=False)
fig = plots.spectra(ds.wave, ds.flux[pick], [f"{ds.labels['teff'][i]:.0f}/{ds.labels['logg'][i]:.2f}/{ds.labels['feh'][i]:.1f} "
                                            f"O{ds.labels['ofe'][i]:+.1f} Mg{ds.labels['mgfe'][i]:+.1f}" for i in pick], offset=0.6)
fig.axes[0].set_title("random spectra of the grid (Teff/log g/[Fe/H], [O/Fe], [Mg/Fe]), offset for clarity")
plt.show()
