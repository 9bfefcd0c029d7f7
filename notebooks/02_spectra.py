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
# line lists {cite:p}`placco2021` and an established synthesis code, SME {cite:p}`valenti1996,wehrhahn2023`
# (through `pysme`), with a driver for SPECTRUM {cite:p}`gray1994` for those who have it and a fast built-in
# engine (next chapter). This chapter shows the ingredients, the degradation to CSST resolution (Fig. 2), how the
# UV features respond to the stellar parameters and to [O/Fe] and [Mg/Fe] (Figs 3–5, the claims of §2.3),
# and how the engines compare.
#
# Code that only draws or tabulates is collapsed; the calls that make the spectra are shown. To re-execute
# this chapter with other values: `make chapter NB=02_spectra SCALE=ci PARAMS="-p n_sweep 5"` (the values it
# ran with are in the collapsed parameters cell below; all of them live in `notebooks/scales.yml`).

# %% tags=["parameters"]
scale = "laptop"  # ci, laptop or paper: the values of notebooks/scales.yml
overrides = {}    # parameters of this chapter to change, e.g. {"n_sweep": 5}

# %% tags=["hide-cell"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from glocal import atmospheres, book, linelists, plots, synthesis, validation
from glocal.book import glue
from glocal.degrade import degrade

p = book.chapter_parameters("02_spectra", scale, overrides)
glue("scale", p.scale, display=False)
glue("engine", p.engine, display=False)
p

# %% [markdown]
# ## Model atmospheres
#
# The shipped grid holds every Kurucz (1993) model with [M/H] from −5.0 to −0.5 plus the solar one. The
# paper grid's finer steps (100 K, 0.25 dex, 0.2 dex) are reached by interpolation on the Rosseland
# optical-depth scale. To measure the interpolation error we remove a node, rebuild it from neighbours
# twice as far away as in normal use (so the test is pessimistic), and compare T and log P over
# −3 ≤ log τ ≤ 0.5.

# %% tags=["hide-input"]
loo = atmospheres.leave_one_out(n_nodes=p.loo_nodes, seed=p.seed)
pd.Series({k: v for k, v in loo.items() if np.ndim(v) == 0}, name="leave-one-out").to_frame()

# %% tags=["hide-input"]
structures = {}
for teff, logg, feh in ((4500, 1.0, -2.0), (6000, 4.5, -2.0), (3750, 0.5, -1.0)):
    atm = atmospheres.grid_atmosphere(teff, logg, feh)
    structures[f"{teff} K, log g {logg}, [Fe/H] {feh}"] = (atm.tau_ross, atm.T, atm.P)
plots.atmosphere_structures(structures, title="Interpolated Kurucz (1993) structures")
plt.show()

# %% [markdown] caption="fig-atmospheres"
# Temperature and pressure against Rosseland optical depth of three Kurucz (1993) models interpolated to paper-
# grid nodes (`atmospheres.grid_atmosphere`); the same at every scale.

# %% [markdown]
# ## Line list
#
# The shipped list covers 2500–10050 Å (air) from the linemake lists, with exact duplicate rows removed,
# molecular isotopologues weighted by their solar fractions, and lines too weak to move any R = 200 pixel
# pruned. TiO is the exception: its millions of weak lines matter together in the coolest O-rich stars, so
# they are merged into optically thin groups (species code 822.0) instead of dropped (the criteria and their
# verification with SME are in `glocal/data/PROVENANCE.md`).

# %% tags=["hide-input"]
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
                                   wave_range=(2550, 10000), engine=p.engine, **p.engine_options)
g, low = degrade(ex.wave, ex.normalized)
plots.resolution_pair(ex.wave, ex.normalized, g, low, [f"4700 K, log g 5.0, [Fe/H] −2.0, {t}" for t in
                                                        ("[O/Fe] = 0.4, [Mg/Fe] = 0.0", "[O/Fe] = 0.0, [Mg/Fe] = 0.4")])
plt.show()

# %% [markdown] caption="fig-resolution"
# Regenerates the paper's **Fig. 2**: 4700 K, log g 5.0, [Fe/H] −2.0 with [O/Fe] = 0.4 or [Mg/Fe] = 0.4,
# synthesised by the {glue:text}`engine` engine at the book's sampling (grey) and degraded to R = 200 by Eqs 8–11
# (red); the same at every scale.

# %% [markdown]
# (sec-uv-sweeps)=
# ## Figs 3–5 — the UV at R = 200 across parameter space
#
# For each sweep (Teff at log g 3, [Fe/H] −1; log g at 4500 K, [Fe/H] −1; [Fe/H] at 4500 K, log g 3) we
# compute four [O/Fe] and four [Mg/Fe] variants on one atmosphere per node and degrade them to R = 200.

# %%
sweeps = book.uv_sweeps(p.n_sweep, engine=p.engine, engine_options=p.engine_options)
for title, sweep in sweeps["sweeps"].items():
    plots.uv_sweep(sweeps["wave"], sweep["rows"], sweep["values"], sweeps["variants"], sweep["var"], title)
    plt.show()

# %% [markdown] caption=""
# Regenerate the paper's **Figs 3, 4 and 5** (in that order: the Teff, log g and [Fe/H] sweeps): R = 200 spectra
# of 2550–4000 Å for four [O/Fe] and four [Mg/Fe] values per node, {glue:text}`engine` engine, `n_sweep` nodes per
# sweep at scale {glue:text}`scale`.

# %% [markdown]
# ## The claims of §2.3, tested
#
# `glocal.validation.physics_checks` measures the mean depth of the OH band (3050–3250 Å), Mg I 2852,
# Mg II 2796/2803 and O I 7774 on R = 200 spectra, and their response to +0.6 dex of [O/Fe] or [Mg/Fe], along
# a Teff sweep and a log g sweep, then tests each statement of §2.3. Nothing is tuned to agree; a failed
# verdict is reported as such and discussed below.

# %%
if p.run_checks:
    checks = validation.physics_checks(engine=p.engine, feh=-1.0, **p.engine_options)
    verdicts = pd.DataFrame(checks["verdicts"])
    display(verdicts)
    plots.feature_depths(checks)
    plt.show()

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
data, ds = book.chapter_grid(p)
prov = ds.provenance
pd.Series({"file": data.name, "spectra": ds.n, "pixels": ds.wave.size,
           "models": np.unique(ds.labels["model_id"]).size, "engine": prov.get("engine"),
           "engine version": prov.get("engine_version"), "created (UTC)": prov.get("created_utc")}).to_frame("dataset")

# %% tags=["hide-input"]
rng = np.random.default_rng(p.seed)
pick = rng.choice(ds.n, size=min(6, ds.n), replace=False)
lab = ds.labels
names = [f"{lab['teff'][i]:.0f}/{lab['logg'][i]:.2f}/{lab['feh'][i]:.1f} O{lab['ofe'][i]:+.1f} Mg{lab['mgfe'][i]:+.1f}"
         for i in pick]
plots.spectra(ds.wave, ds.flux[pick], names, offset=0.6,
              title="random spectra of the grid (Teff/log g/[Fe/H], [O/Fe], [Mg/Fe]), offset for clarity")
plt.show()

# %% [markdown] caption="fig-grid-spectra"
# Six random R = 200 spectra of the grid this build trains on (scale {glue:text}`scale`, {glue:text}`engine`
# engine), offset for clarity.
