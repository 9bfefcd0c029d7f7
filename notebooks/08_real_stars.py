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
# # Real stars: does the UV help on real metal-poor stars?
#
# Everything so far rests on synthetic spectra, as the paper does. Real UV–optical spectra of metal-poor
# stars exist: HST/STIS CALSPEC spectra {cite:p}`bohlin2014,bohlin2020` cover
# 1700–10100 Å at R ≈ 500–1000, so they can be degraded to CSST's R = 200 over the whole 2550–10000 Å, and
# two Magellan/MIKE echelle spectra ({cite:t}`bernstein2003`; from the `smhr` repository) cover the optical.
# Literature Teff, log g, [Fe/H], [Mg/Fe] and [O/Fe] are JINAbase means ({cite:t}`abohalima2018`, with the
# original studies; {cite:t}`asplund2009` solar scale). The nine stars ship with glocal
# (`glocal/data/real_stars`, built by `scripts/build_real_stars.py`), so this chapter needs no outside data.
#
# Two routes give labels: `glocal predict` (five-label runs, one per flux kind, trained on augmented synthetic
# spectra: the shipped SPT-GloCal networks, and gradient-boosted trees trained with the same recipe) and
# `glocal fit` (forward modelling with an emulator of the same synthetic grid and a smooth
# continuum/calibration nuisance). All are run on the whole spectrum and without the UV (below 4000 Å
# removed), which is the paper's question asked of real stars.
#
# Code that only draws or tabulates is collapsed; the calls that predict and fit are shown. To re-execute this
# chapter with other values: `make chapter NB=08_real_stars SCALE=ci PARAMS="-p mc_samples 50"` (the values it
# ran with are in the collapsed parameters cell below; all of them live in `notebooks/scales.yml`).

# %% tags=["parameters"]
scale = "laptop"  # ci, laptop or paper: the values of notebooks/scales.yml
overrides = {}    # parameters of this chapter to change, e.g. {"mc_samples": 50}

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from glocal import book, plots, real_stars
from glocal import real_star_study as study
from glocal.book import glue
from glocal.runs import load_run

p = book.chapter_parameters("08_real_stars", scale, overrides)
glue("scale", p.scale, display=False)
print(p)
lit = real_stars.load_literature()
lit[["star", "teff", "logg", "feh", "mgfe", "ofe", "n_feh", "n_mgfe", "n_ofe", "sed_teff", "sed_logz", "sed_ebv"]]

# %% [markdown] caption="tab-real-literature"
# The nine real stars and their literature labels: JINAbase means {cite:p}`abohalima2018` on the
# {cite:t}`asplund2009` scale, the number of studies behind each, and the CALSPEC SED fit.

# %% [markdown]
# Four STIS stars have literature abundances (one study each, {cite:t}`fulbright2000`), three have only the CALSPEC
# SED fit, and the two MIKE stars have many studies (HD 140283: 20 for [Fe/H], 10 for [Mg/Fe]). No STIS star
# has a literature [O/Fe].
#
# ## 1. Real spectra against synthetic ones
#
# The observed R = 200 spectrum against the emulated synthetic spectrum at the literature labels ([O/Fe]
# = 0.5 where unknown), after the smooth nuisance of the fit (a Legendre series in ln λ: the calibration and
# reddening for STIS, the continuum placement for MIKE). The grey band is the UV.

# %% tags=["hide-input"]
with_lit = lit.dropna(subset=["teff", "logg", "feh", "mgfe"])["star"].tolist()
residuals = {}
for star in with_lit:
    row = lit.set_index("star").loc[star]
    labels = {k: row[k] for k in ("teff", "logg", "feh", "mgfe")} | {"ofe": 0.5 if pd.isna(row["ofe"]) else row["ofe"]}
    residuals[star] = {"literature labels": study.residual_spectra(star, labels)}
fit_free = study.fit_stars()
for star in with_lit:
    residuals[star]["fitted labels"] = study.residual_spectra(star, fit_free.loc[star].to_dict())
fig = plots.real_residuals(residuals)

# %% [markdown] caption="fig-real-residuals"
# Observed R = 200 spectra against the emulated synthetic spectra at the literature and at the fitted labels,
# after the smooth nuisance of the fit; grey: the UV.

# %% [markdown]
# The synthetic spectra (built-in engine, 1-D LTE, linemake lines) match the real optical spectra to about
# 1–1.5 % rms at R = 200, but the UV only to several per cent: the UV is where the model is worst, and also
# where [Mg/Fe] moves the flux most (the Mg II and Mg I features near 2800 and 2852 Å). Letting the labels
# free lowers the residuals: part of the mismatch is absorbed by labels that differ from the literature.
#
# ## 2. Labels from `predict` and `fit` against the literature

# %%
pred = study.predict_stars(T=p.mc_samples, seed=p.seed)
fit_lit = study.fit_stars(hold_literature=True)
fit_tg = study.fit_stars(hold_literature=True, hold=("teff", "logg"))
pred[["band", "flux_kind", "teff", "teff_std", "logg", "feh", "ofe", "mgfe", "mgfe_std", "flag"]].round(3)

# %% [markdown] caption="tab-real-predict"
# `glocal predict` on the real stars with the shipped five-label network runs (MC dropout; scale
# {glue:text}`scale`).

# %% [markdown]
# The tree runs (one booster per label, one run per flux kind, the networks' split, augmentation and conformal
# calibration, but {glue:text}`tree_copies` augmented draws per training spectrum against the networks'
# {glue:text}`net_copies`) are not shipped: the data budget is full. Their answers on these stars come from the
# committed record `results/observed/tree_runs.json`, written from the runs by
# `python scripts/evaluate_tree_runs.py evaluate --grid realstars.h5 --json results/observed/tree_runs.json`
# (after `scripts/evaluate_tree_runs.py train` for each kind); the training command, library version, date and
# commit are in the record. With the runs at hand, `glocal predict --run RUN_DIR FILE` predicts a file with one of
# them (one run, so one flux kind, per call).

# %% tags=["hide-input"]
tree_record = study.load_tree_record()
tree = tree_record["tree"]
pred_trees = study.record_table(tree_record, "with UV")
tables = {"predict (networks)": pred, f"predict ({tree})": pred_trees, "fit (free)": fit_free,
          "fit (Teff, log g, [Fe/H] held)": fit_lit, "fit (Teff, log g held)": fit_tg}
tree_training = next(iter(tree_record["runs"].values()))["training"]
glue("tree_lib", f"{tree} {tree_training['version']}", display=False)
glue("tree_copies", tree_training["copies"], display=False)
glue("net_copies", load_run("pretrained:observed-normalized").config["observed"]["options"]["copies"], display=False)
pred_trees[["run", "band", "teff", "teff_std", "logg", "feh", "ofe", "mgfe", "mgfe_std", "flag"]].round(3)

# %% [markdown] caption="tab-real-predict-trees"
# `glocal predict` on the real stars with the tree runs ({glue:text}`tree_lib`), from the committed record;
# the 68 % half-widths are the runs' conformal intervals (constant per label).

# %% tags=["hide-input"]
errors = pd.concat({name: study.literature_errors(t) for name, t in tables.items()}, names=["method", "label"])
errors = pd.concat([errors, pd.concat({f"{name} vs SED fit": study.literature_errors(t, sed=True)
                                       for name, t in list(tables.items())[:3]}, names=["method", "label"])])
for name, key in (("predict (networks)", "net"), (f"predict ({tree})", "tree"), ("fit (free)", "fitfree")):
    for lab in ("teff", "feh", "mgfe"):
        glue(f"{key}_{lab}_mae", errors.loc[(name, lab), "mae"], display=False)
glue("n_lit_feh", int(errors.loc[("predict (networks)", "feh"), "n"]), display=False)
glue("fittg_feh_mae", errors.loc[("fit (Teff, log g held)", "feh"), "mae"], display=False)
stis_lit = [s for s in fit_tg.index if lit.set_index("star").loc[s, "file"].startswith("calspec/")]
glue("fittg_feh_mae_stis", study.literature_errors(fit_tg.loc[stis_lit], labels=("feh",)).loc["feh", "mae"],
     display=False)
glue("net_feh_mae_stis", study.literature_errors(pred.loc[stis_lit], labels=("feh",)).loc["feh", "mae"],
     display=False)
dteff = (pred["teff"] - lit.set_index("star")["teff"]).dropna()
dfeh = (pred["feh"] - lit.set_index("star")["feh"]).reindex(dteff.index)
glue("net_teff_feh_corr", f"{dteff.corr(dfeh):.2f}", display=False)
errors.round(3)

# %% [markdown] caption="tab-real-errors"
# Differences from the literature (and from the SED fit) of `predict` (networks and trees) and `fit`, per label.

# %% tags=["hide-input"]
fig = plots.labels_vs_literature({k: v for k, v in tables.items() if not k.endswith("held)")}, lit)

# %% [markdown] caption="fig-real-labels"
# Labels from `predict` (networks and trees) and from the free `fit` against the literature values.

# %% [markdown]
# Against the literature on the {glue:text}`n_lit_feh` stars with a literature [Fe/H], the networks' `predict`
# has a Teff MAE of {glue:text}`net_teff_mae:.0f` K, an [Fe/H] MAE of {glue:text}`net_feh_mae:.2f` dex and an
# [Mg/Fe] MAE of {glue:text}`net_mgfe_mae:.2f` dex; the trees' {glue:text}`tree_teff_mae:.0f` K,
# {glue:text}`tree_feh_mae:.2f` dex and {glue:text}`tree_mgfe_mae:.2f` dex; the free fit
# {glue:text}`fitfree_teff_mae:.0f` K, {glue:text}`fitfree_feh_mae:.2f` dex and {glue:text}`fitfree_mgfe_mae:.2f`
# dex. Six stars, one to twenty studies each: differences of a few hundredths of a dex between methods are
# within the literature's own scatter.
#
# The Teff and [Fe/H] errors are one error. The networks' Teff and [Fe/H] offsets from the literature correlate
# (r = {glue:text}`net_teff_feh_corr` over these stars): at R = 200 a hotter, more metal-rich dwarf looks much
# like a cooler, more metal-poor one, and glocal lands on the hotter side for the four dwarfs whose literature
# comes from one study (Fulbright 2000), as do the free fit and the CALSPEC SED fits (the table's "vs SED fit"
# rows). With Teff and log g held at the literature, the fit's [Fe/H] on the STIS stars is within
# {glue:text}`fittg_feh_mae_stis:.2f` dex of the literature (MAE; the networks' `predict`:
# {glue:text}`net_feh_mae_stis:.2f` dex): there the spectra agree with the literature [Fe/H] once the Teff scale
# is the literature's. Over all six stars that MAE is {glue:text}`fittg_feh_mae:.2f` dex, most of it from
# CS 22892-052, a carbon-enhanced r-process giant {cite:p}`sneden2003` whose CH and CN bands the fit's emulator,
# built with solar-scaled carbon, cannot make (nor can the networks' training grid; see below). Which Teff
# scale is right for the dwarfs is not settled here; the next section shows where the offset comes from.

# %% [markdown]
# ### Where the dwarfs' Teff offset comes from: synthetic twins
#
# To tell the networks from the engine, every star with literature labels gets a *twin*: the built-in engine's
# spectrum at the literature Teff, log g, [Fe/H] and [Mg/Fe] (and [O/Fe], or +0.5 where the literature has
# none), in the star's flux kind and wavelength coverage, noiseless, predicted by the same run as the star
# (`study.synthetic_twins`). The *grid* twin has the training grids' abundance pattern, where only O and Mg
# depart from solar-scaled; the *alpha* twin also enhances Ne, Si, S, Ar, Ca and Ti to the star's [Mg/Fe], as
# they are in halo stars (for BD+17 4708 {cite:t}`ramirez2006` measure [Mg/Fe] = 0.40, [Si/Fe] = 0.35 and
# [Ca/Fe] = 0.36). The real star's answer minus the literature then splits into three terms: the networks'
# error on their own kind of spectrum (grid twin − literature), the effect of the α pattern the grids lack
# (alpha twin − grid twin), and what the engine does not reproduce of the real star (real − alpha twin).

# %% tags=["hide-input"]
twins = study.synthetic_twins(T=p.mc_samples, seed=p.seed)
lit_by_star = lit.set_index("star")
terms = {}
for star in twins.index.get_level_values("star").unique():
    grid_twin, alpha_twin = twins.loc[(star, "grid")], twins.loc[(star, "alpha")]
    for lab in ("teff", "feh", "mgfe"):
        ref = float(lit_by_star.loc[star, lab])
        terms.setdefault(star, {}).update({
            (lab, "literature"): ref, (lab, "grid twin − lit."): grid_twin[lab] - ref,
            (lab, "alpha − grid twin"): alpha_twin[lab] - grid_twin[lab],
            (lab, "real − alpha twin"): pred.loc[star, lab] - alpha_twin[lab]})
decomp = pd.DataFrame.from_dict(terms, orient="index")
decomp.columns = pd.MultiIndex.from_tuples(decomp.columns)
stis_twins = [s for s in decomp.index if s in stis_lit]
gap = decomp.loc[stis_twins, ("teff", "real − alpha twin")]
glue("twin_gap_lo", float(gap.min()), display=False)
glue("twin_gap_hi", float(gap.max()), display=False)
glue("twin_own_teff", float(decomp[("teff", "grid twin − lit.")].abs().max()), display=False)
glue("twin_own_feh", float(decomp[("feh", "grid twin − lit.")].abs().max()), display=False)
glue("twin_alpha_teff", float(decomp[("teff", "alpha − grid twin")].mean()), display=False)
glue("twin_alpha_teff_abs", abs(float(decomp[("teff", "alpha − grid twin")].mean())), display=False)
glue("twin_alpha_feh", float(decomp[("feh", "alpha − grid twin")].mean()), display=False)
glue("twin_alpha_mgfe", float(decomp[("mgfe", "alpha − grid twin")].mean()), display=False)
mike_lit = [s for s in decomp.index if s not in stis_twins]
glue("twin_gap_mike", ", ".join(f"{s}: {decomp.loc[s, ('teff', 'real − alpha twin')]:+.0f} K" for s in mike_lit),
     display=False)
decomp.round({c: (0 if c[0] == "teff" else 3) for c in decomp.columns})

# %% [markdown] caption="tab-real-twins"
# The networks' `predict` on each star minus the literature, split into three terms that add up to it: the
# networks on the grid twin, the α pattern (alpha twin − grid twin), and real star − alpha twin.

# %% tags=["hide-input"]
features = {star: study.twin_feature_ratios(star) for star in decomp.index}
feature_table = pd.DataFrame({star: {w: (f"{100 * v['real']:+.1f} % ({v['teff_equiv']:+.0f} K)"
                                         if np.isfinite(v["teff_equiv"]) else f"{100 * v['real']:+.1f} %")
                                     for w, v in f.items()} for star, f in features.items()}).T
hbeta = [features[s]["H-beta"]["teff_equiv"] for s in stis_twins]
jump = [features[s]["Balmer jump"]["teff_equiv"] for s in stis_twins]
glue("hbeta_lo", min(hbeta), display=False)
glue("hbeta_hi", max(hbeta), display=False)
glue("hbeta_real_lo", -100 * max(features[s]["H-beta"]["real"] for s in stis_twins), display=False)
glue("hbeta_real_hi", -100 * min(features[s]["H-beta"]["real"] for s in stis_twins), display=False)
glue("jump_hi", float(np.nanmax(jump)), display=False)
cahk = [features[s]["Ca II H&K"]["teff_equiv"] for s in stis_twins]
glue("cahk_lo", float(np.nanmin(cahk)), display=False)
glue("cahk_hi", float(np.nanmax(cahk)), display=False)
glue("hbeta_mike", f"{100 * features['hd140283']['H-beta']['real']:+.1f} %", display=False)
feature_table

# %% [markdown] caption="tab-real-twin-features"
# Real / alpha twin − 1 in feature windows of the R = 200 spectra (both normalised alike), and in brackets the
# Teff change of the twin that would make that window alone agree (omitted where the window hardly responds
# to Teff).

# %% [markdown]
# On their own kind of spectrum the networks are close: the grid twins come back within
# {glue:text}`twin_own_teff:.0f` K and {glue:text}`twin_own_feh:.2f` dex of the literature. The α pattern
# matters but points the other way: enhancing the other α elements moves the answers by
# {glue:text}`twin_alpha_teff:+.0f` K, {glue:text}`twin_alpha_feh:+.2f` dex in [Fe/H] and
# {glue:text}`twin_alpha_mgfe:+.2f` dex in [Mg/Fe] on average (the networks read part of the extra Si, Ca
# and Ti absorption as lower [Mg/Fe] and Teff), so a training grid with halo α patterns would make the
# dwarfs' Teff offset larger, not smaller, and raise the real stars' [Mg/Fe]. Nearly all of the offset is the
# third term: on the four STIS stars the real spectrum reads {glue:text}`twin_gap_lo:+.0f` to
# {glue:text}`twin_gap_hi:+.0f` K hotter than its alpha twin (the MIKE stars: {glue:text}`twin_gap_mike`).
#
# The feature windows say where. In each of them the H-beta window is {glue:text}`hbeta_real_lo:.1f` to
# {glue:text}`hbeta_real_hi:.1f` % deeper than the twin's, what the twin itself does when
# {glue:text}`hbeta_lo:+.0f` to {glue:text}`hbeta_hi:+.0f` K hotter, and the Balmer jump (up to
# {glue:text}`jump_hi:+.0f` K) and the near UV point the same way. Not every window agrees: H-delta and
# H-gamma (with the G band) move little with Teff and disagree in sign, and Ca II H&K, which moves most, asks
# for only {glue:text}`cahk_lo:+.0f` to {glue:text}`cahk_hi:+.0f` K. No single Teff of the engine makes
# these stars' spectra; the networks' hotter answers follow the windows that depart most, and the twins show
# that the departure is between the engine and the stars, not in the networks.
# Whether the engine (1D LTE, the Kurucz 1993 grid with its approximate overshooting, solar-scaled
# atmospheres) or the single-study literature is off cannot be decided from four stars: for BD+17 4708
# {cite:t}`ramirez2006` find Teff = 6141 ± 50 K from its spectral energy distribution, 116 K above the value
# used here, and report that spectroscopic Teffs of this star fall near 5950 K;
# HD 140283, whose literature is a mean over twenty studies, shows no such H-beta depression
# ({glue:text}`hbeta_mike`) and no Teff offset. No correction is applied: calibrating the Teff scale on four
# development stars would be fitting the answer, and the issue asks to fix the training set, not the star.

# %% [markdown]
# ### Which wavelengths carry the offset: the real residual put into the twin window by window
#
# The feature windows compare depths; what matters is what the network makes of them. So each star's real
# R = 200 input is put into its alpha twin's one window at a time (`glocal.twin_windows`): the twin with the
# real star's pixels in one window and its own everywhere else is a complete spectrum of the kind the run
# was trained on (removing a window instead, as occlusion does, leaves an interior gap the runs never saw),
# and the change of the answer from the twin's is the part of the real star's offset that the window
# carries. The windows partition 2550–10000 Å with the paper's boundary at 4000 Å, so their parts add up to
# the whole real − twin offset when the network is linear over that range; the last row of the table says
# how far they do not.

# %% tags=["hide-input"]
from glocal.twin_windows import window_labels, window_offsets

offsets = window_offsets(T=p.mc_samples, seed=p.seed)
windows = window_labels()
tw_teff = offsets["teff"].unstack(0)
tw_feh = offsets["feh"].unstack(0)
stis_tw = [s for s in tw_teff.columns if s in stis_lit]
uv_proper, near_uv = windows[0], windows[1:4]
blue = [w for w in windows if w in ("3700–4000", "4000–4400")]
red = [w for w in windows if float(w.split("–")[0]) >= 5000]
glue("tw_uv_teff_lo", float(tw_teff.loc[uv_proper, stis_tw].min()), display=False)
glue("tw_uv_teff_hi", float(tw_teff.loc[uv_proper, stis_tw].max()), display=False)
glue("tw_uv_feh_lo", float(tw_feh.loc[uv_proper, stis_tw].min()), display=False)
glue("tw_uv_feh_hi", float(tw_feh.loc[uv_proper, stis_tw].max()), display=False)
glue("tw_blue_teff_lo", float(tw_teff.loc[blue, stis_tw].sum().min()), display=False)
glue("tw_blue_teff_hi", float(tw_teff.loc[blue, stis_tw].sum().max()), display=False)
glue("tw_blue_feh_lo", float(tw_feh.loc[blue, stis_tw].sum().min()), display=False)
glue("tw_blue_feh_hi", float(tw_feh.loc[blue, stis_tw].sum().max()), display=False)
glue("tw_nuv_teff_lo", float(tw_teff.loc[near_uv, stis_tw].sum().min()), display=False)
glue("tw_nuv_teff_hi", float(tw_teff.loc[near_uv, stis_tw].sum().max()), display=False)
glue("tw_red_teff_max", float(tw_teff.loc[red, stis_tw].abs().max().max()), display=False)
glue("tw_total_lo", float(tw_teff.loc["real − twin", stis_tw].min()), display=False)
glue("tw_total_hi", float(tw_teff.loc["real − twin", stis_tw].max()), display=False)
glue("tw_nonlin_teff", float(tw_teff.loc["sum − total", stis_tw].abs().max()), display=False)
glue("tw_cs_gband", float(tw_teff.loc["4000–4400", "cs22892-52"]), display=False)
tw_table = pd.concat({"Teff (K)": tw_teff.round(0), "[Fe/H]": tw_feh.round(2)}, axis=1)
tw_table

# %% [markdown] caption="tab-real-twin-windows"
# The change of `predict` (shipped run of the star's flux kind) when the real star's input replaces its alpha
# twin's in one window (rows), in Teff and [Fe/H]; "real − twin" is the whole real star against its twin and
# "sum − total" the windows' sum minus it.

# %% tags=["hide-input"]
fig = plots.twin_window_offsets(offsets)

# %% [markdown] caption="fig-real-twin-windows"
# The same as bars: the part of each star's real − twin offset that one window carries (UV windows shaded).

# %% [markdown]
# On the four STIS dwarfs, whose whole offset from their twins is {glue:text}`tw_total_lo:+.0f` to
# {glue:text}`tw_total_hi:+.0f` K (the windows add up to it within {glue:text}`tw_nonlin_teff:.0f` K), the
# hot answer comes from the blue: 3700–4400 Å (H8 to Hγ with Ca II H&K and the G band) carries
# {glue:text}`tw_blue_teff_lo:+.0f` to {glue:text}`tw_blue_teff_hi:+.0f` K and
# {glue:text}`tw_blue_feh_lo:+.2f` to {glue:text}`tw_blue_feh_hi:+.2f` dex in [Fe/H], the near UV 3000–4000 Å
# {glue:text}`tw_nuv_teff_lo:+.0f` to {glue:text}`tw_nuv_teff_hi:+.0f` K, and no window redward of 5000 Å
# more than {glue:text}`tw_red_teff_max:.0f` K (H-alpha included). The UV proper, 2550–3000 Å with Mg II h&k,
# pulls the other way, towards the literature: {glue:text}`tw_uv_teff_lo:+.0f` to
# {glue:text}`tw_uv_teff_hi:+.0f` K and {glue:text}`tw_uv_feh_lo:+.2f` to {glue:text}`tw_uv_feh_hi:+.2f` dex.
# So the part of the spectrum the engine gets wrong for these stars, as far as Teff and [Fe/H] go, is the
# crowded blue between the Balmer jump and H-beta, not the CSST UV that the paper adds; removing everything
# below 4000 Å (section 3) takes away both the UV's pull towards the literature and the near UV's push away
# from it. For the carbon-rich
# CS 22892-052 the same table isolates its CH G band: 4000–4400 Å alone carries
# {glue:text}`tw_cs_gband:+.0f` K. A next training-set fix has a target: the blue Balmer lines and the
# blanketing around Ca II H&K and the G band of metal-poor dwarfs (the atmospheres' convection treatment, the
# CH list and [C/Fe] of dwarfs), which the shipped runs cannot be corrected for from four stars.

# %% [markdown]
# ### A carbon-rich giant: CS 22892-052
#
# CS 22892-052 is carbon-enhanced ([C/Fe] ≈ +0.9, {cite:t}`sneden2003`), as are a quarter or more of the stars
# below [Fe/H] = −2.5 {cite:p}`placco2014`; at R = 200 its CH G band (4300 Å) and CN bands (3883, 4215 Å) are
# much stronger than a carbon-normal giant's, and the training grids keep carbon solar-scaled. Its alpha twin at
# [C/Fe] = 0 and at +0.9, predicted by the shipped run (`study.carbon_twins`):

# %% tags=["hide-input"]
carbon = study.carbon_twins(T=p.mc_samples, seed=p.seed)
normal, rich = carbon.loc[("cs22892-52", 0.0)], carbon.loc[("cs22892-52", study.LITERATURE_CFE["cs22892-52"])]
glue("carbon_dteff", float(rich["teff"] - normal["teff"]), display=False)
glue("carbon_dfeh", float(rich["feh"] - normal["feh"]), display=False)
glue("carbon_dmgfe", float(rich["mgfe"] - normal["mgfe"]), display=False)
glue("carbon_real_teff", float(pred.loc["cs22892-52", "teff"] - lit_by_star.loc["cs22892-52", "teff"]), display=False)
glue("carbon_rich_teff", float(rich["teff"] - lit_by_star.loc["cs22892-52", "teff"]), display=False)
carbon[list(study.LABELS)].round(3)

# %% [markdown] caption="tab-real-carbon"
# The shipped normalized run on CS 22892-052's alpha twin with solar-scaled carbon and with its literature
# [C/Fe].

# %% [markdown]
# Carbon alone moves the networks' answer by {glue:text}`carbon_dteff:+.0f` K in Teff,
# {glue:text}`carbon_dfeh:+.2f` dex in [Fe/H] and {glue:text}`carbon_dmgfe:+.2f` dex in [Mg/Fe]: the
# carbon-rich twin reads {glue:text}`carbon_rich_teff:+.0f` K from the literature Teff, the real star
# {glue:text}`carbon_real_teff:+.0f` K. On the twins carbon alone accounts for CS 22892-052's Teff miss, and the
# training set does not vary carbon. It is not this star's problem alone: engine spectra of typical halo stars
# (the α pattern of `study.PROBE_XFE`) at [C/Fe] from −0.5, as in mixed giants, to +0.9, read by the shipped
# runs in both flux kinds (`study.carbon_sensitivity`; normalized over 3350–9400 Å as MIKE, calibrated over
# 2550–10000 Å as STIS):

# %% tags=["hide-input"]
sens = study.carbon_sensitivity(T=p.mc_samples, seed=p.seed)
sens_spread = sens["dteff"].groupby(level=["kind", "star"]).agg(lambda x: x.max() - x.min())
glue("sens_spread_norm", float(sens_spread.loc["normalized"].mean()), display=False)
glue("sens_spread_cal", float(sens_spread.loc["calibrated"].mean()), display=False)
glue("sens_rich_worst", float(sens.xs(0.9, level="cfe")["dteff"].min()), display=False)
sens["dteff"].unstack("cfe").round(0)

# %% [markdown] caption="tab-real-carbon-sensitivity"
# Predicted minus true Teff (K) of the shipped runs on noiseless engine spectra of typical halo stars at four
# [C/Fe] (columns).

# %% [markdown]
# Over that range the shipped runs' Teff moves by {glue:text}`sens_spread_norm:.0f` K (normalized) and
# {glue:text}`sens_spread_cal:.0f` K (calibrated) on average over the six stars, and a star with
# [C/Fe] = +0.9 can read up to {glue:text}`sens_rich_worst:.0f` K off: CEMP stars, a quarter or more of the
# stars below [Fe/H] = −2.5, are read too cool by the shipped runs.
#
# The fix on the training side is the `realstars-carbon` grid preset: the `realstars` atmospheres and O/Mg
# draws with [C/Fe] drawn from −0.5 to +1.2 per variant, a nuisance the networks must see through. Building it
# needed two repairs in how the engine shares work between abundance variants, which [C/Fe] strains as O and
# Mg did not (when carbon takes the oxygen into CO, the OH and CH photodissociation continua and the TiO, OH,
# CN and C₂ densities change by decades between the variants of one atmosphere;
# `tests/test_builtin_carbon_variants.py`). A pair of runs trained on it exactly as the shipped pair (six
# augmented copies, eight epochs) is judged beside the shipped pair in a committed record, since only one
# pair fits the data budget (`python scripts/evaluate_carbon_runs.py --grid realstars-carbon-r40000.h5 --runs
# <runs> --json results/observed/carbon_runs.json`):

# %% tags=["hide-input"]
carbon_record = study.load_carbon_record()
narrow_record = study.load_carbon_record(study.NARROW_CARBON_RECORD)
carbon_pred = study.record_table(carbon_record, "with UV")
carbon_pred_opt = study.record_table(carbon_record, "optical only")
narrow_pred = study.record_table(narrow_record, "with UV")
stis_teff = [s for s in study.stis_stars(label="teff")]
mike_teff = [s for s in lit_by_star.index if s not in stis_teff and np.isfinite(lit_by_star.loc[s, "teff"])]
cmp_rows = {}
for name, table, record, pair in (("shipped", pred, carbon_record, "shipped"),
                                  ("carbon-trained", carbon_pred, carbon_record, "carbon"),
                                  ("narrow prior", narrow_pred, narrow_record, "carbon")):
    errs = study.literature_errors(table)
    sens_rows = pd.DataFrame(record["carbon_sensitivity"][pair])
    row = {("carbon probes", "mean |ΔTeff| K"): float(sens_rows["dteff"].abs().mean()),
           ("carbon probes", "Teff spread over [C/Fe] K"):
               float(sens_rows.groupby(["kind", "star"])["dteff"].agg(lambda x: x.max() - x.min()).mean())}
    for kind in ("normalized", "calibrated"):
        syn = record["synthetic"][f"observed-{kind}" + (" (shipped)" if pair == "shipped" else "-carbon")]
        row[("held-out, [C/Fe] varied", f"{kind} Teff MAE K")] = syn["labels"]["teff"]["mae"]
    row |= {("development stars", f"{lab} MAE"): float(errs.loc[lab, "mae"]) for lab in ("teff", "feh", "mgfe")}
    d_teff = table["teff"] - lit_by_star["teff"].reindex(table.index)
    row |= {("development stars", f"ΔTeff {s}"): float(d_teff[s]) for s in ("hd140283", "cs22892-52")}
    row[("development stars", "Δ[Fe/H] hd140283")] = float(table.loc["hd140283", "feh"]
                                                           - lit_by_star.loc["hd140283", "feh"])
    row[("development stars", "Σ|ΔTeff| MIKE (normalized) K")] = float(d_teff[mike_teff].abs().sum())
    row[("development stars", "Σ|ΔTeff| STIS (calibrated) K")] = float(d_teff[stis_teff].abs().sum())
    cmp_rows[name] = row
for kind in ("normalized", "calibrated"):
    glue(f"ship_syn_{kind[:4]}", load_run(f"pretrained:observed-{kind}").metrics["observed_test"]["teff"]["mae"],
         display=False)
carbon_cmp = pd.DataFrame(cmp_rows)
carbon_cmp.index = pd.MultiIndex.from_tuples(carbon_cmp.index)
dev, held = "development stars", "held-out, [C/Fe] varied"
for key, col in (("cr_teff", (dev, "teff MAE")), ("cr_feh", (dev, "feh MAE")), ("cr_mgfe", (dev, "mgfe MAE")),
                 ("cr_hd140283", (dev, "ΔTeff hd140283")), ("cr_cs22892", (dev, "ΔTeff cs22892-52")),
                 ("cr_hd140283_feh", (dev, "Δ[Fe/H] hd140283")),
                 ("cr_sum_mike", (dev, "Σ|ΔTeff| MIKE (normalized) K")),
                 ("cr_sum_stis", (dev, "Σ|ΔTeff| STIS (calibrated) K")),
                 ("cr_spread", ("carbon probes", "Teff spread over [C/Fe] K")),
                 ("cr_probe", ("carbon probes", "mean |ΔTeff| K")),
                 ("cr_syn_norm", (held, "normalized Teff MAE K")), ("cr_syn_cali", (held, "calibrated Teff MAE K"))):
    for suffix, column in (("", "carbon-trained"), ("_ship", "shipped"), ("_nar", "narrow prior")):
        glue(key + suffix, float(carbon_cmp.loc[col, column]), display=False)
stis_mg = study.stis_stars()
for key, table in (("cr_stis_uv", carbon_pred), ("cr_stis_opt", carbon_pred_opt)):
    glue(key, float((table.loc[stis_mg, "mgfe"] - lit_by_star.loc[stis_mg, "mgfe"]).abs().mean()), display=False)
glue("cr_epochs", int(carbon_record["runs"]["observed-normalized-carbon"]["training"]["epochs"]), display=False)
glue("nar_tail", float(100 * narrow_record["training_grid"]["n_spectra"] / narrow_record["grid"]["n_spectra"]),
     display=False)
carbon_cmp.round(3)

# %% [markdown] caption="tab-real-carbon-runs"
# The shipped runs against the carbon-trained runs (uniform [C/Fe] prior) and the runs trained with a narrower
# prior: on the carbon probes above (their mean over both kinds), on the held-out synthetic atmospheres with
# [C/Fe] varied (`scripts/evaluate_observed.py`'s evaluation on the full carbon grid), and on the development
# stars (the shipped runs as in the tables above; the others from their records, {glue:text}`cr_epochs` epochs,
# MC dropout), with the summed |ΔTeff| of the stars each kind reads.

# %% [markdown]
# The carbon-trained runs do what they were trained for: on the carbon probes their Teff moves by
# {glue:text}`cr_spread:.0f` K over [C/Fe] (shipped: {glue:text}`cr_spread_ship:.0f` K); on held-out synthetic
# spectra with [C/Fe] varied their Teff MAE is {glue:text}`cr_syn_norm:.0f` K (normalized) and
# {glue:text}`cr_syn_cali:.0f` K (calibrated), the shipped runs' {glue:text}`cr_syn_norm_ship:.0f` and
# {glue:text}`cr_syn_cali_ship:.0f` K (on carbon-normal spectra the shipped runs reach
# {glue:text}`ship_syn_norm:.0f` and {glue:text}`ship_syn_cali:.0f` K, `glocal/data/pretrained/observed-runs.md`);
# and CS 22892-052 comes
# closer ({glue:text}`cr_cs22892:+.0f` K against {glue:text}`cr_cs22892_ship:+.0f` K). But on the real stars
# as a whole they are worse where the shipped runs already miss: Teff MAE {glue:text}`cr_teff:.0f` K against
# {glue:text}`cr_teff_ship:.0f` K, [Fe/H] {glue:text}`cr_feh:.2f` against {glue:text}`cr_feh_ship:.2f` dex,
# and HD 140283, whose literature is a mean of twenty studies and which the shipped run reads
# {glue:text}`cr_hd140283_ship:+.0f` K from it, is read {glue:text}`cr_hd140283:+.0f` K off. Their [Mg/Fe] is better
# ({glue:text}`cr_mgfe:.3f` against {glue:text}`cr_mgfe_ship:.3f` dex), and on the STIS stars the UV helps
# it ({glue:text}`cr_stis_uv:.3f` dex with the UV, {glue:text}`cr_stis_opt:.3f` dex without). A likely reason,
# not tested here: a network that must see through carbon cannot take Teff from the CH G band (4300 Å), so it
# leans harder on the windows where the twins above show the engine departing from real stars (H-beta, the
# Balmer jump, the near UV). Teff and [Fe/H] are the labels whose targets (MAE ≤ 250 K and ≤ 0.3 dex) the
# shipped runs miss already, so the shipped runs stay; carbon-enhanced stars should be
# read with the probe table in mind. The engine–star departures, not the carbon, are what limit the runs on
# real stars.
#
# A narrower prior tests that reason: every carbon-grid spectrum with [C/Fe] ≤ +0.5 and a quarter of those
# above, so most training stars sit near solar carbon and CEMP stars form a tail
# (`scripts/narrow_carbon_grid.py`: {glue:text}`nar_tail:.0f` % of the grid; the same atmospheres, split and
# training). It lands between the two: held-out Teff MAE {glue:text}`cr_syn_norm_nar:.0f` and
# {glue:text}`cr_syn_cali_nar:.0f` K, probe spread {glue:text}`cr_spread_nar:.0f` K. On the real stars it
# reads CS 22892-052 {glue:text}`cr_cs22892_nar:+.0f` K from the literature, and the two MIKE stars together
# {glue:text}`cr_sum_mike_nar:.0f` K off in Teff (shipped {glue:text}`cr_sum_mike_ship:.0f` K), but HD 140283
# {glue:text}`cr_hd140283_nar:+.0f` K and {glue:text}`cr_hd140283_feh_nar:+.2f` dex in [Fe/H] (shipped
# {glue:text}`cr_hd140283_feh_ship:+.2f`), and the STIS stars {glue:text}`cr_sum_stis_nar:.0f` K in sum
# (shipped {glue:text}`cr_sum_stis_ship:.0f` K). Over all six stars: Teff {glue:text}`cr_teff_nar:.0f` K,
# [Fe/H] {glue:text}`cr_feh_nar:.2f` dex, [Mg/Fe] {glue:text}`cr_mgfe_nar:.3f` dex. With two MIKE stars the
# gain on the carbon-rich giant and the loss on the carbon-normal subgiant cannot be told from chance, and the
# [Fe/H] target moves further away. The rule set before these runs (ship a kind only if the summed |ΔTeff| of
# its stars does not grow) would pass the normalized run on Teff alone; it was not applied alone, because
# [Fe/H], the other missed target, grows on the same two stars. The shipped pair stays.

# %% [markdown]
# ### Are the stated uncertainties honest on real stars?
#
# `predict`'s `_std` and `_err95` are split-conformal half-widths calibrated on held-out synthetic spectra,
# where they cover 68 % and 95 % of the errors. They know nothing of the engine–star departures measured
# above. The table counts, per label, the stars whose literature value lies inside them, and compares the
# rms difference from the literature with the median stated 1σ; `σ_sys` = √max(mean(Δ²) − mean(σ²), 0) is the
# term that would have to be added in quadrature for the six stars' scatter to match.

# %% tags=["hide-input"]
from glocal.observed.systematics import systematic_sigma

honesty = {}
for lab in ("teff", "logg", "feh", "mgfe"):
    ref = lit_by_star[lab].reindex(pred.index).astype(float)
    ok = ref.notna()
    d, s68, s95 = (pred[lab] - ref)[ok], pred[f"{lab}_std"][ok], pred[f"{lab}_err95"][ok]
    honesty[lab] = {"n stars": int(ok.sum()), "inside 68 %": int((d.abs() <= s68).sum()),
                    "inside 95 %": int((d.abs() <= s95).sum()), "rms Δ": float(np.sqrt((d ** 2).mean())),
                    "median σ": float(s68.median()),
                    "σ_sys": systematic_sigma(d.to_numpy(), s68.to_numpy())}
honesty = pd.DataFrame(honesty).T
honesty[["n stars", "inside 68 %", "inside 95 %"]] = honesty[["n stars", "inside 68 %", "inside 95 %"]].astype(int)
for lab in ("teff", "feh", "mgfe"):
    glue(f"hon_{lab}_in95", int(honesty.loc[lab, "inside 95 %"]), display=False)
    glue(f"hon_{lab}_sys", float(honesty.loc[lab, "σ_sys"]), display=False)
    glue(f"hon_{lab}_sig", float(honesty.loc[lab, "median σ"]), display=False)
glue("hon_n", int(honesty.loc["teff", "n stars"]), display=False)
honesty.round(3)

# %% [markdown] caption="tab-real-honesty"
# The networks' stated intervals against the literature on the stars that have it: how many stars fall inside,
# the rms difference, the median stated 68 % half-width, and the systematic term missing from it.

# %% [markdown]
# On these {glue:text}`hon_n` stars the 95 % intervals hold the literature Teff for
# {glue:text}`hon_teff_in95` of them, [Fe/H] for {glue:text}`hon_feh_in95` and [Mg/Fe] for
# {glue:text}`hon_mgfe_in95`. For [Mg/Fe] the stated σ ({glue:text}`hon_mgfe_sig:.2f` dex) already spans the
# scatter (σ_sys = {glue:text}`hon_mgfe_sys:.2f` dex); for Teff and [Fe/H] it does not: a reader of a real
# star should add about {glue:text}`hon_teff_sys:.0f` K and {glue:text}`hon_feh_sys:.2f` dex in quadrature
# to the stated 1σ ({glue:text}`hon_teff_sig:.0f` K, {glue:text}`hon_feh_sig:.2f` dex). Six stars, most with
# one literature study, pin these numbers down to within a factor of ~1.5 at best, and they include the
# literature's own errors.
#
# `glocal predict` therefore reports both: `_std` and `_err95` (synthetic calibration) and `_std_real` and
# `_err95_real`, the same with the shipped runs' σ_sys added in quadrature (`glocal.observed.systematics`;
# measured once by `scripts/real_star_systematics.py` with the default `predict`, 30 MC-dropout passes, and
# tied to the runs' weights). Whether those intervals would hold for a star that was not used to measure them
# is checked by leaving each star out of its own σ_sys:

# %% tags=["hide-input"]
from glocal.observed.systematics import leave_one_out_coverage, load_systematics

systematics = load_systematics()
loo = leave_one_out_coverage(systematics)
loo_fit = leave_one_out_coverage(systematics["fit"])
for lab in ("teff", "feh"):
    glue(f"loo_fit_{lab}_68", int(loo_fit.loc[lab, "inside 68 % (real, LOO)"]), display=False)
    glue(f"loo_fit_{lab}_sys", float(loo_fit.loc[lab, "σ_sys (all stars)"]), display=False)
    glue(f"loo_fit_{lab}_syn", int(loo_fit.loc[lab, "inside 68 % (synthetic)"]), display=False)
    glue(f"loo_{lab}_68", int(loo.loc[lab, "inside 68 % (real, LOO)"]), display=False)
    glue(f"loo_{lab}_95", int(loo.loc[lab, "inside 95 % (real, LOO)"]), display=False)
    glue(f"loo_{lab}_lo", float(loo.loc[lab, "σ_sys LOO min"]), display=False)
    glue(f"loo_{lab}_hi", float(loo.loc[lab, "σ_sys LOO max"]), display=False)
glue("loo_logg_95", int(loo.loc["logg", "inside 95 % (real, LOO)"]), display=False)
glue("loo_n", int(loo.loc["teff", "n stars"]), display=False)
pd.concat({"predict": loo, "fit": loo_fit.drop(columns=["inside 95 % (synthetic)", "inside 95 % (real, LOO)"])},
          names=["route", "label"]).round(3)

# %% [markdown] caption="tab-real-honesty-loo"
# The shipped runs' (`predict`) and the fit's intervals on the development stars, from the committed record
# (`glocal/data/pretrained/real_star_systematics.json`): stars inside the synthetic-calibrated 68 % and 95 %
# intervals (the fit: its Jacobian 1σ), and inside the real-star intervals when σ_sys is measured on the other
# stars only; σ_sys from all stars and its range over the left-out stars.

# %% [markdown]
# With the star left out, the real-star 95 % intervals hold the literature Teff for
# {glue:text}`loo_teff_95` of {glue:text}`loo_n` stars and [Fe/H] for {glue:text}`loo_feh_95` (log g:
# {glue:text}`loo_logg_95`), and the 68 % intervals for {glue:text}`loo_teff_68` and {glue:text}`loo_feh_68`:
# about what 68 % and 95 % intervals should do on six stars. σ_sys moves between {glue:text}`loo_teff_lo:.0f`
# and {glue:text}`loo_teff_hi:.0f` K (Teff) and {glue:text}`loo_feh_lo:.2f`–{glue:text}`loo_feh_hi:.2f` dex
# ([Fe/H]) as single stars are dropped. `glocal fit` needs the term more: its Jacobian 1σ holds the
# literature Teff for {glue:text}`loo_fit_teff_syn` of the six stars and [Fe/H] for
# {glue:text}`loo_fit_feh_syn`; its `_std_real` adds {glue:text}`loo_fit_teff_sys:.0f` K and
# {glue:text}`loo_fit_feh_sys:.2f` dex (left out: {glue:text}`loo_fit_teff_68` and {glue:text}`loo_fit_feh_68`
# stars inside 68 %). A star unlike these six (a cool dwarf, a hot horizontal-branch star, a CEMP star, see the
# carbon section) may depart further; the terms are the best measure the development set gives, not a
# guarantee.

# %% [markdown]
# ## Below the training box's [Fe/H] floor
#
# The shipped runs were trained on the paper's box, [Fe/H] −4 … −1, but the stars that metal-poor work cares
# most about include extremely and ultra metal-poor ones (CD−38 245 and HE 1327−2326 lie below −4). Engine
# spectra of an extremely metal-poor giant and a turn-off star, normalised over 3350–9400 Å as the MIKE spectra
# and predicted with the default checks (`study.metallicity_floor_probes`), show what such a star gets.

# %%
floor = study.metallicity_floor_probes(T=p.mc_samples, seed=p.seed)
below = floor[floor.index.get_level_values("feh_true") < -4.0]
glue("floor_flagged", int(below["flag"].str.len().gt(0).sum()), display=False)
glue("floor_n", len(below), display=False)
glue("floor_feh_min", below["feh"].min(), display=False)
glue("floor_feh_max", below["feh"].max(), display=False)
glue("floor_dfeh_edge", floor.xs(-4.0, level="feh_true")["dfeh"].max(), display=False)
floor.round({"teff": 0, "feh": 2, "dteff": 0, "dfeh": 2})

# %% [markdown] caption="tab-real-feh-floor"
# Engine spectra below and at the training box's [Fe/H] floor: predicted Teff and [Fe/H], their errors, and the
# flag (noiseless, [X/Fe] of the carbon probes, solar-scaled carbon).

# %% [markdown]
# Below −4 the networks answer between [Fe/H] = {glue:text}`floor_feh_min:.2f` and {glue:text}`floor_feh_max:.2f`
# whatever the truth (−4.25 to −5), and
# {glue:text}`floor_flagged` of the {glue:text}`floor_n` such probes carry a flag (`grid_edge_fit`, from the
# forward-model fit over the same grid, or `near_training_edge`); even at −4.0 the answer is up to
# {glue:text}`floor_dfeh_edge:+.2f` dex high, the pull toward the middle that any regression shows at the edge of
# its training labels. So a star below −4 gets a flagged upper limit, not a measurement. The fix is in the
# training set: the Kurucz grid reaches [Fe/H] = −5, and `make realstars-emp-grid emp-runs` builds a grid with the
# box extended to −5 at the same density (preset `realstars-emp`, 40 000 spectra), trains a normalized run on it
# and judges it beside the shipped one (`python scripts/evaluate_emp_runs.py --grid realstars-emp-r40000.h5 --run
# <run> --json results/observed/emp_runs.json`, the committed record read here).

# %%
emp = study.load_emp_record()
bins = pd.DataFrame({(run, lab): {b: v["labels"][lab]["mae"] for b, v in emp["synthetic"][run].items()}
                     for run in ("shipped", "emp") for lab in ("teff", "logg", "feh", "mgfe")})
bins.insert(0, "n", {b: v["n"] for b, v in emp["synthetic"]["emp"].items()})
emp_probes = pd.DataFrame(emp["floor_probes"]["emp"]).set_index(["star", "feh_true"])
emp_below = emp_probes[emp_probes.index.get_level_values("feh_true") < -4.0]
rule = emp["shipping_rule"]
glue("emp_ship", "ships" if rule["ship"] else "does not ship", display=False)
glue("emp_feh_mae_below_emp", bins.loc["-5..-4", ("emp", "feh")], display=False)
glue("emp_feh_mae_below_shipped", bins.loc["-5..-4", ("shipped", "feh")], display=False)
glue("emp_feh_mae_box_emp", bins.loc["-4..-1", ("emp", "feh")], display=False)
glue("emp_feh_mae_box_shipped", bins.loc["-4..-1", ("shipped", "feh")], display=False)
glue("emp_teff_mae_box_emp", bins.loc["-4..-1", ("emp", "teff")], display=False)
glue("emp_feh_bias_box", emp["synthetic"]["emp"]["-4..-1"]["labels"]["feh"]["bias"], display=False)
glue("emp_epochs", emp["run"]["training"]["epochs"], display=False)
glue("emp_teff_mae_box_shipped", bins.loc["-4..-1", ("shipped", "teff")], display=False)
glue("emp_probe_worst", rule["parts"]["floor_probes"]["worst_abs_dfeh"], display=False)
glue("emp_probe_flagged", int((emp_below["flag"].str.len() > 0).sum()), display=False)
glue("emp_probe_n", len(emp_below), display=False)
dev = rule["parts"]["dev_stars"]
names = {"teff": "Teff", "logg": "log g", "feh": "[Fe/H]", "ofe": "[O/Fe]", "mgfe": "[Mg/Fe]"}
failed = ([f"the development stars' {names[lab]}" for lab, v in dev.items() if not v["holds"]]
          + [f"the held-out {names[lab]} inside the box" for lab, v in rule["parts"]["held_out_feh_ge_-4"].items()
             if not v["holds"]]
          + ([f"the worst probe ({rule['parts']['floor_probes']['worst_abs_dfeh']:.2f} dex)"]
             if not rule["parts"]["floor_probes"]["holds"] else []))
glue("emp_rule_failed", "; ".join(failed) if failed else "no part", display=False)
for lab in ("teff", "feh", "mgfe"):
    glue(f"emp_dev_{lab}_emp", dev[lab]["emp"], display=False)
    glue(f"emp_dev_{lab}_shipped", dev[lab]["shipped"], display=False)
bins.round(3)

# %% [markdown] caption="tab-real-emp-bins"
# Held-out synthetic spectra of the EMP grid (test atmospheres of the EMP run's split, one fresh augmentation draw
# each, the same spectra for both runs): MAE per [Fe/H] bin of the shipped normalized run (trained on −4 … −1) and
# of the run trained on −5 … −1 (Teff in K, the rest in dex).

# %%
emp_probes.round({"teff": 0, "feh": 2, "dteff": 0, "dfeh": 2})

# %% [markdown] caption="tab-real-emp-probes"
# The floor probes of {numref}`tab-real-feh-floor` answered by the run trained down to [Fe/H] = −5.

# %% [markdown]
# Below −4 the run trained down to −5 measures [Fe/H] where the shipped run cannot: held-out MAE
# {glue:text}`emp_feh_mae_below_emp:.2f` dex against {glue:text}`emp_feh_mae_below_shipped:.2f`, and every probe at
# −4.25 … −5 is answered within {glue:text}`emp_probe_worst:.2f` dex (the shipped run answers
# {glue:text}`floor_feh_min:.2f` … {glue:text}`floor_feh_max:.2f` whatever the truth). So the floor is the training
# set's, not the spectra's: an R = 200 normalised spectrum still carries [Fe/H] down to −5. The price is paid inside
# the paper's box: over −4 … −1 its [Fe/H] MAE is {glue:text}`emp_feh_mae_box_emp:.3f` dex against
# {glue:text}`emp_feh_mae_box_shipped:.3f` (a mean offset of {glue:text}`emp_feh_bias_box:+.3f` dex), Teff
# {glue:text}`emp_teff_mae_box_emp:.0f` K against {glue:text}`emp_teff_mae_box_shipped:.0f` K, after the same
# {glue:text}`emp_epochs` epochs over a box a third wider. On the six development stars (the shipped calibrated
# run still reads the STIS spectra; this run reads the two MIKE ones) it gives Teff {glue:text}`emp_dev_teff_emp:.0f`
# K (shipped {glue:text}`emp_dev_teff_shipped:.0f`), [Fe/H] {glue:text}`emp_dev_feh_emp:.3f`
# ({glue:text}`emp_dev_feh_shipped:.3f`) and [Mg/Fe] {glue:text}`emp_dev_mgfe_emp:.3f`
# ({glue:text}`emp_dev_mgfe_shipped:.3f`) dex.
#
# The rule fixed before this run was trained — the development stars no worse by more than 10 K, 0.02 and
# 0.02 dex in Teff, [Fe/H] and [Mg/Fe]; the held-out MAE over −4 … −1 within 10 % of the shipped run's for every
# label; every probe at or below −4.25 within 0.3 dex — fails on {glue:text}`emp_rule_failed`, so the run
# {glue:text}`emp_ship`. While the shipped run stays, an answer near −4 carrying `near_training_edge` or
# `grid_edge_fit` reads as "[Fe/H] ≲ −4", not as a measurement. The forward-model check cannot confirm answers
# below −4 either ({glue:text}`emp_probe_flagged` of the {glue:text}`emp_probe_n` probes below −4 carry
# `grid_edge_fit` even from this run), because the fit's emulator
# grid stops at the same floor.

# %% [markdown]
# ## A training set with the halo α pattern
#
# The alpha twins above and the carbon probes (which carry the halo pattern of `study.PROBE_XFE`) point at a
# flaw of the training set itself: its spectra keep Ne, Si, S, Ar, Ca and Ti solar-scaled, while halo stars
# have [Si/Fe], [Ca/Fe] and [Ti/Fe] near +0.3 {cite:p}`cayrel2004`. Read by the shipped runs, an engine spectrum
# with that pattern comes out richer in [Fe/H] (the twins: {glue:text}`twin_alpha_feh:+.2f` dex on average) and,
# for dwarfs, cooler. The fix on the training side is the `realstars-alpha` grid preset: the `realstars`
# atmospheres and O/Mg draws with those six elements drawn together per spectrum over −0.1 … +0.6 dex, a
# nuisance the networks must see through (`make realstars-alpha-grid`, 32 000 spectra). `make alpha-runs`
# fine-tunes each shipped run on it (`glocal train-observed --init-from`, which keeps the run's label scaling and
# input normalisation; three epochs at a reduced learning rate) and judges the pair beside the shipped one
# (`python scripts/evaluate_alpha_runs.py --grid realstars-alpha-r40000.h5 --runs <runs> --json
# results/observed/alpha_runs.json`, the committed record read here) by a rule fixed before the runs were trained.

# %% tags=["hide-input"]
alpha_rec = study.load_alpha_record()
kinds = ("normalized", "calibrated")
alpha_bins = pd.DataFrame({(kind, run, lab): {b: v["labels"][lab]["mae"]
                                              for b, v in alpha_rec["synthetic"][kind][run].items()}
                           for kind in kinds for run in ("shipped", "alpha") for lab in ("teff", "feh", "mgfe")})
alpha_bins.insert(0, "n", {b: v["n"] for b, v in alpha_rec["synthetic"]["normalized"]["alpha"].items()})
alpha_bins.index.name = "[α/Fe]"
for kind in kinds:
    for run in ("shipped", "alpha"):
        for b, key in (("+0.2..+0.4", "halo"), ("-0.1..+0.1", "solar")):
            glue(f"al_{kind[:4]}_{run}_{key}_feh", alpha_bins.loc[b, (kind, run, "feh")], display=False)
alpha_bins.round(3)

# %% [markdown] caption="tab-real-alpha-bins"
# Held-out synthetic spectra of the `realstars-alpha` grid (the shipped runs' own held-out atmospheres, one fresh
# augmentation draw each, the same spectra for both runs of a kind): MAE per bin of the drawn [α/Fe] for the
# shipped runs and the runs fine-tuned on the α grid (Teff in K, the rest in dex).

# %% tags=["hide-input"]
probe_rows = []
for run in ("shipped", "alpha"):
    for r in alpha_rec["probes"][run]:
        probe_rows.append({"run": run, **r})
alpha_probes = pd.DataFrame(probe_rows)
alpha_probes = alpha_probes[alpha_probes["cfe"] == 0.0].pivot_table(index=["kind", "star"], columns="run",
                                                                    values=["dteff", "dfeh", "dmgfe"])
alpha_probes = alpha_probes[[(v, r) for v in ("dteff", "dfeh", "dmgfe") for r in ("shipped", "alpha")]]
giants = [s for s in study.CARBON_PROBES if s.startswith("giant")]
for run in ("shipped", "alpha"):
    glue(f"al_giant_feh_{run}", float(alpha_probes.loc[("normalized", giants), ("dfeh", run)].mean()), display=False)
    glue(f"al_probe_absfeh_{run}", float(alpha_probes[("dfeh", run)].abs().mean()), display=False)
    glue(f"al_probe_absteff_{run}", float(alpha_probes[("dteff", run)].abs().mean()), display=False)
alpha_probes.round({c: (0 if c[0] == "dteff" else 2) for c in alpha_probes.columns})

# %% [markdown] caption="tab-real-alpha-probes"
# Predicted minus true labels of the halo-pattern probes (noiseless engine spectra, [C/Fe] = 0) read by the
# shipped runs and by the runs fine-tuned on the α grid (Teff in K, the rest in dex).

# %% tags=["hide-input"]
alpha_rule = alpha_rec["shipping_rule"]["kinds"]
dev_rows = {}
for kind in kinds:
    dev = alpha_rule[kind]["parts"]["dev_stars"]
    for lab in ("teff", "feh", "mgfe"):
        dev_rows[(kind, lab)] = {"shipped": dev[lab]["shipped"], "alpha": dev[lab]["alpha"], "holds": dev[lab]["holds"]}
    glue(f"al_{kind[:4]}_stars", ", ".join(dev["stars"]), display=False)
    glue(f"al_{kind[:4]}_ship", "ships" if alpha_rule[kind]["ship"] else "does not ship", display=False)
    for lab in ("teff", "feh", "mgfe"):
        for run in ("shipped", "alpha"):
            glue(f"al_{kind[:4]}_dev_{lab}_{run}", dev[lab][run], display=False)
    failed = ([f"{names[lab]} of its development stars" for lab in ("teff", "feh", "mgfe") if not dev[lab]["holds"]]
              + [f"held-out [Fe/H] at [α/Fe] {b}" for b, v in alpha_rule[kind]["parts"]["halo_feh"].items()
                 if not v["holds"]]
              + [f"held-out {names[lab]} at solar-scaled α" for lab, v in
                 alpha_rule[kind]["parts"]["solar_scaled"].items() if not v["holds"]])
    glue(f"al_{kind[:4]}_failed", "; ".join(failed) if failed else "no part", display=False)
all_errs = {name: alpha_rec["literature_errors"][f"{name}, with UV"]["all"] for name in ("shipped", "alpha")}
for name, errs in all_errs.items():
    for lab in ("teff", "feh", "mgfe"):
        glue(f"al_all_{lab}_{name}", errs[lab]["mae"], display=False)
pd.DataFrame.from_dict(dev_rows, orient="index").round(3)

# %% [markdown] caption="tab-real-alpha-dev"
# The development stars of each kind (normalized: the MIKE stars; calibrated: the STIS stars with literature
# labels), MAE against the literature of the shipped and the fine-tuned run, and whether the rule's tolerance
# (10 K, 0.02 dex, 0.02 dex) holds.

# %% [markdown]
# On synthetic spectra the α grid does what it was built for: at [α/Fe] = +0.2 … +0.4, the pattern of halo stars,
# the normalized run's held-out [Fe/H] MAE goes from {glue:text}`al_norm_shipped_halo_feh:.3f` to
# {glue:text}`al_norm_alpha_halo_feh:.3f` dex and the calibrated run's from {glue:text}`al_cali_shipped_halo_feh:.3f`
# to {glue:text}`al_cali_alpha_halo_feh:.3f`, and the halo-pattern giants, which the shipped normalized run reads
# {glue:text}`al_giant_feh_shipped:+.2f` dex rich on average, come out at {glue:text}`al_giant_feh_alpha:+.2f`
# (all probes: mean |Δ[Fe/H]| {glue:text}`al_probe_absfeh_shipped:.2f` → {glue:text}`al_probe_absfeh_alpha:.2f` dex,
# |ΔTeff| {glue:text}`al_probe_absteff_shipped:.0f` → {glue:text}`al_probe_absteff_alpha:.0f` K).
#
# On the development stars the two labels part ways, as the twins predicted. Over all six stars (each read by
# its kind's run) the [Fe/H] MAE goes from {glue:text}`al_all_feh_shipped:.3f` to {glue:text}`al_all_feh_alpha:.3f`
# dex and [Mg/Fe] from {glue:text}`al_all_mgfe_shipped:.3f` to {glue:text}`al_all_mgfe_alpha:.3f`, while Teff goes
# from {glue:text}`al_all_teff_shipped:.0f` to {glue:text}`al_all_teff_alpha:.0f` K: the four STIS dwarfs, already
# read hotter than their single-study literature Teff, move further that way once the networks stop taking the
# extra Si, Ca and Ti absorption for a cooler, more metal-rich star (calibrated run on the STIS stars: Teff MAE
# {glue:text}`al_cali_dev_teff_shipped:.0f` → {glue:text}`al_cali_dev_teff_alpha:.0f` K, [Fe/H]
# {glue:text}`al_cali_dev_feh_shipped:.3f` → {glue:text}`al_cali_dev_feh_alpha:.3f` dex; normalized run on the MIKE
# stars: Teff {glue:text}`al_norm_dev_teff_shipped:.0f` → {glue:text}`al_norm_dev_teff_alpha:.0f` K, [Mg/Fe]
# {glue:text}`al_norm_dev_mgfe_shipped:.3f` → {glue:text}`al_norm_dev_mgfe_alpha:.3f` dex). The fine-tuned runs also
# had three more epochs than the shipped ones; no run fine-tuned for three epochs on the solar-scaled grid was made
# to separate that from the α pattern, but their held-out scores at solar-scaled α barely move. The rule fixed
# before training (per kind:
# held-out [Fe/H] better at halo α; held-out MAE within 10 % at solar-scaled α; the kind's development stars no
# worse by more than 10 K, 0.02 and 0.02 dex) fails for the normalized run on {glue:text}`al_norm_failed` and
# for the calibrated run on {glue:text}`al_cali_failed`: the normalized run {glue:text}`al_norm_ship`, the
# calibrated run {glue:text}`al_cali_ship`. For halo giants with [α/Fe] ≈ +0.3 the probes say the
# shipped runs' [Fe/H] is ~0.2 dex high for that reason alone; on these six
# stars the gain in [Fe/H] comes with a loss in Teff that the literature scale of the four STIS dwarfs cannot
# arbitrate, so the shipped runs stay and the record keeps the measurement.

# %% [markdown]
# ## Van der Waals damping: Unsöld against ABO theory
#
# The twins above separate the networks from the engine but do not say what in the engine departs. One candidate is
# collisional broadening by hydrogen. The built-in line list gives a van der Waals value for only 4 580 of its
# 83 650 atomic lines; the engine gives the others Unsöld's hydrogenic width, which is known to be too narrow.
# The GALAH DR3 line list {cite:p}`buder2021` carries Anstee–Barklem–O'Mara (ABO) cross-sections for 1 239
# atomic lines; evaluated with the engine's own functions, ABO over Unsöld is (`glocal.validation.vdw_damping`,
# recorded in `results/observed/damping_runs.json`):

# %% tags=["hide-input"]
damp_rec = study.load_damping_record()
enh = damp_rec["enhancement"]
glue("damp_factor", damp_rec["grid"]["unsold_enhancement"], display=False)
if enh is not None:
    glue("damp_hk", enh["ca_ii_hk"], display=False)
    pd.DataFrame({part: {"lines": enh[part]["n"], "median ABO / Unsöld": enh[part]["median"],
                         "16 % (×)": 10 ** enh[part]["log16"], "84 % (×)": 10 ** enh[part]["log84"]}
                  for part in ("neutral", "ion", "all")}).T.round(2)

# %% [markdown] caption="tab-real-damping-ratio"
# γ₆(ABO) / γ₆(Unsöld) per hydrogen atom over the GALAH DR3 atomic lines with ABO data, averaged in log over
# 5000 and 6000 K: median and 16/84 % points.

# %% tags=["hide-input"]
damp_twins = pd.DataFrame(damp_rec["twins"]).set_index("star")
for lab in ("teff", "feh", "mgfe"):
    damp_twins[f"d{lab} shift"] = damp_twins[f"d{lab}_enhanced"] - damp_twins[f"d{lab}_unsold"]
stis_damp = [s for s in damp_twins.index if damp_twins.loc[s, "flux_kind"] == "calibrated"]
glue("damp_twin_teff_lo", float(damp_twins.loc[stis_damp, "dteff shift"].min()), display=False)
glue("damp_twin_teff_hi", float(damp_twins.loc[stis_damp, "dteff shift"].max()), display=False)
glue("damp_twin_feh_lo", float(damp_twins.loc[stis_damp, "dfeh shift"].min()), display=False)
glue("damp_twin_feh_hi", float(damp_twins.loc[stis_damp, "dfeh shift"].max()), display=False)
damp_twins[["flux_kind", "dteff_unsold", "dteff_enhanced", "dfeh_unsold", "dfeh_enhanced", "dmgfe_unsold",
            "dmgfe_enhanced"]].round({"dteff_unsold": 0, "dteff_enhanced": 0, "dfeh_unsold": 3, "dfeh_enhanced": 3,
                                      "dmgfe_unsold": 3, "dmgfe_enhanced": 3})

# %% [markdown] caption="tab-real-damping-twins"
# Alpha twins of the stars with literature labels synthesised with Unsöld damping and with Unsöld × the median
# above, read by the runs shipped with Unsöld spectra: answer minus literature (Teff in K, the rest in dex).

# %% tags=["hide-input"]
damp_table, damp_values = study.tuned_rule_summary(damp_rec, "dp", names)
for key, value in damp_values.items():
    glue(key, value, display=False)
damp_table.round(3)

# %% [markdown] caption="tab-real-damping-dev"
# The rule for the runs fine-tuned on the widened-damping grid, per kind: MAE on the held-out spectra of that grid
# (all [α/Fe]) and on the kind's development stars (with UV), before (the runs trained on Unsöld spectra) and after.

# %% [markdown]
# The median ABO width is {glue:text}`damp_factor:.2f` times Unsöld's (Ca II H&K, {cite:t}`barklem1998`:
# {glue:text}`damp_hk:.2f`). Twins made with that wider damping read {glue:text}`damp_twin_teff_lo:+.0f` to
# {glue:text}`damp_twin_teff_hi:+.0f` K hotter and {glue:text}`damp_twin_feh_lo:+.2f` to
# {glue:text}`damp_twin_feh_hi:+.2f` dex richer on the STIS dwarfs than with Unsöld (the table): networks that
# learned Unsöld-width lines take the broader wings of real lines for more metal, and the same sense as the real
# stars' departure. The training-side fix is a grid synthesised with `unsold_enhancement` = {glue:text}`damp_factor:.2f`
# (`make realstars-damping-grid`: the first 800 `realstars-alpha` atmospheres, with the halo α pattern drawn as a
# nuisance, 16 000 spectra) and both runs fine-tuned on it as in the previous section (`make damping-runs`,
# `scripts/evaluate_damping_runs.py`), judged by a rule fixed before training: per kind, held-out Teff, [Fe/H] and
# [Mg/Fe] MAE on that grid no higher than before, and the kind's development stars no worse by more than 10 K,
# 0.02 and 0.02 dex. Over all six stars the fine-tuned pair scores Teff {glue:text}`dp_all_teff_shipped:.0f` →
# {glue:text}`dp_all_teff_tuned:.0f` K, [Fe/H] {glue:text}`dp_all_feh_shipped:.3f` → {glue:text}`dp_all_feh_tuned:.3f`
# dex and [Mg/Fe] {glue:text}`dp_all_mgfe_shipped:.3f` → {glue:text}`dp_all_mgfe_tuned:.3f` dex. The rule fails for
# the normalized run on {glue:text}`dp_norm_failed` and for the calibrated run on {glue:text}`dp_cali_failed`: the
# normalized run {glue:text}`dp_norm_ship`, the calibrated run {glue:text}`dp_cali_ship`. The held-out test
# atmospheres of the fine-tuned runs were among the training atmospheres of the runs before them (with other
# draws of the α elements and narrower damping), which favours the runs before, not the fine-tuned ones.
#
# The two physical corrections of the training set, the halo α pattern and the wider damping, act alike on the
# development stars: each brings [Fe/H] closer to the literature and Teff further from it. On the four STIS dwarfs
# the calibrated run's [Fe/H] MAE falls from {glue:text}`dp_cali_dev_feh_shipped:.3f` to
# {glue:text}`dp_cali_dev_feh_tuned:.3f` dex while its Teff MAE rises from {glue:text}`dp_cali_dev_teff_shipped:.0f`
# to {glue:text}`dp_cali_dev_teff_tuned:.0f` K; on the two MIKE stars the normalized run's Teff MAE goes from
# {glue:text}`dp_norm_dev_teff_shipped:.0f` to {glue:text}`dp_norm_dev_teff_tuned:.0f` K, most of it CS 22892-052,
# whose carbon bands no run here was trained on. Without the UV the fine-tuned pair scores
# {glue:text}`dp_opt_teff_tuned:.0f` K, {glue:text}`dp_opt_feh_tuned:.3f` dex and {glue:text}`dp_opt_mgfe_tuned:.3f`
# dex on the six stars (the runs before: {glue:text}`dp_opt_teff_shipped:.0f` K, {glue:text}`dp_opt_feh_shipped:.3f`
# and {glue:text}`dp_opt_mgfe_shipped:.3f`). A Teff scale on which the STIS dwarfs are 200–500 K hotter than the
# single study behind their literature values, with [Fe/H] then close to it, is what the more complete engine
# physics keeps pointing to; with four such stars it cannot be told apart from an engine that is still too cool in
# the Balmer lines and the near UV, so the rule, fixed before the runs were trained, decides and the shipped runs
# stay.

# %% [markdown]
# ## Convective overshooting in the training atmospheres
#
# The built-in atmospheres are Kurucz's 1993 grid, computed with his approximate convective overshooting, which
# {cite:t}`castelli1997` found to heat the layers around τ_Ross ≈ 1 and cool those below, against models without
# it. At the Sun the difference is measurable with the reference models in `../shared/data`: the grid's model
# (interpolated to 5777 K, log g 4.44) against the ODFNEW model without overshooting {cite:p}`castelli2003`, the
# Kurucz solar model without it and the MARCS 2008 solar model {cite:p}`gustafsson2008`
# (`glocal.atmospheres.overshoot`, recorded in `results/observed/overshoot_runs.json`):

# %% tags=["hide-input"]
ov_rec = study.load_overshoot_record()
ov_models = ov_rec["solar_models"]
if ov_models is not None:
    ov_T = pd.DataFrame(ov_models["T"], index=[f"log τ = {x:+.1f}" for x in ov_models["log_tau_ross"]]).T
    grid_name = next(k for k in ov_T.index if k.startswith("Kurucz 1993"))
    others = [k for k in ov_T.index if k != grid_name]
    glue("ov_hot_tau1", float(ov_T.loc[grid_name, "log τ = +0.0"] - ov_T.loc[others, "log τ = +0.0"].mean()),
         display=False)
    glue("ov_spread_tau1", float(np.ptp(ov_T.loc[others, "log τ = +0.0"])), display=False)
    glue("ov_cool_deep", float(ov_T.loc[others, "log τ = +0.5"].mean() - ov_T.loc[grid_name, "log τ = +0.5"]),
         display=False)
    ov_read = pd.DataFrame(ov_rec["solar_readings"]).set_index(["kind", "structure"])
    for kind in kinds:
        r = ov_read.loc[kind]
        for lab in ("teff", "feh"):
            full, part = r.loc["ODFNEW", lab] - r.loc["grid", lab], r.loc["grid + Eq. O1", lab] - r.loc["grid", lab]
            glue(f"ov_sun_{kind[:4]}_{lab}_full", float(full), display=False)
            glue(f"ov_sun_{kind[:4]}_{lab}_part", float(part), display=False)
    display(ov_T.round(0))
    display(ov_read[["teff", "logg", "feh", "mgfe"]].round({"teff": 0, "logg": 2, "feh": 3, "mgfe": 3}))

# %% [markdown] caption="tab-real-overshoot-sun"
# Above: temperature (K) of four solar models at five Rosseland depths. Below: the shipped runs' answers for a
# [Fe/H] = −1.5 spectrum synthesised on each solar structure, and on the grid's with the solar-differential
# correction (Eq. O1 of `glocal.atmospheres.overshoot`): what the structure alone does to the answers.

# %% tags=["hide-input"]
ov_twins = pd.DataFrame(ov_rec["twins"]).set_index("star")
for lab in ("teff", "feh", "mgfe"):
    ov_twins[f"d{lab} shift"] = ov_twins[f"d{lab}_nover"] - ov_twins[f"d{lab}_grid"]
stis_ov = [s for s in ov_twins.index if ov_twins.loc[s, "flux_kind"] == "calibrated"]
glue("ov_twin_teff_lo", float(ov_twins.loc[stis_ov, "dteff shift"].min()), display=False)
glue("ov_twin_teff_hi", float(ov_twins.loc[stis_ov, "dteff shift"].max()), display=False)
glue("ov_twin_feh_lo", float(ov_twins.loc[stis_ov, "dfeh shift"].min()), display=False)
glue("ov_twin_feh_hi", float(ov_twins.loc[stis_ov, "dfeh shift"].max()), display=False)
mike_ov = [s for s in ov_twins.index if s not in stis_ov]
glue("ov_twin_mike", ", ".join(f"{s} {ov_twins.loc[s, 'dteff shift']:+.0f} K" for s in mike_ov), display=False)
ov_twins[["flux_kind", "dteff_grid", "dteff_nover", "dfeh_grid", "dfeh_nover", "dmgfe_grid", "dmgfe_nover"]].round(
    {"dteff_grid": 0, "dteff_nover": 0, "dfeh_grid": 3, "dfeh_nover": 3, "dmgfe_grid": 3, "dmgfe_nover": 3})

# %% [markdown] caption="tab-real-overshoot-twins"
# Alpha twins of the stars with literature labels on the grid's atmospheres and on the same atmospheres with the
# overshooting removed (Eq. O1), read by the shipped runs: answer minus literature (Teff in K, the rest in dex).

# %% tags=["hide-input"]
ov_table, ov_values = study.tuned_rule_summary(ov_rec, "ov", names)
for key, value in ov_values.items():
    glue(key, value, display=False)
sed = lit.set_index("star")["sed_teff"].dropna()
for name in ("shipped", "tuned"):
    answers = study.record_table(ov_rec, f"{name}, with UV")["teff"]
    glue(f"ov_sed_{name}", float((answers.reindex(sed.index) - sed).abs().mean()), display=False)
glue("ov_n_sed", len(sed), display=False)
ov_table.round(3)

# %% [markdown] caption="tab-real-overshoot-dev"
# The rule for the runs fine-tuned on spectra without overshooting, per kind: MAE on the held-out spectra of that
# grid (all Teff) and on the kind's development stars (with UV), before and after.

# %% [markdown]
# At τ_Ross = 1 the grid's solar model is {glue:text}`ov_hot_tau1:.0f` K hotter than the mean of the three models
# without overshooting, which agree with each other within {glue:text}`ov_spread_tau1:.0f` K, and
# {glue:text}`ov_cool_deep:.0f` K cooler at log τ = +0.5. The same [Fe/H] = −1.5 spectrum synthesised on the
# ODFNEW structure instead of the grid's reads {glue:text}`ov_sun_cali_teff_full:+.0f` K and
# {glue:text}`ov_sun_cali_feh_full:+.2f` dex to the calibrated run ({glue:text}`ov_sun_norm_teff_full:+.0f` K,
# {glue:text}`ov_sun_norm_feh_full:+.2f` dex to the normalized one): hotter and richer, the sense of the STIS
# dwarfs' departure. No metal-poor model without overshooting is available here, so the training-side fix removes
# the overshooting with the Sun's own difference: T'(τ) = T(τ) · T_ODFNEW,⊙(τ) / T_grid,⊙(τ) on the Rosseland
# scale over log τ = −2…+2 (`glocal.atmospheres.overshoot`, engine option `structure_correction`), with the
# assumption that the metal-poor models carry the same signature. It is partial, because pressure and column mass
# stay the grid's: on the Sun it moves the calibrated run's answer by {glue:text}`ov_sun_cali_teff_part:+.0f` K of
# the {glue:text}`ov_sun_cali_teff_full:+.0f` K and by {glue:text}`ov_sun_cali_feh_part:+.2f` of the
# {glue:text}`ov_sun_cali_feh_full:+.2f` dex that the ODFNEW structure gives. Twins of the STIS stars on
# corrected atmospheres read {glue:text}`ov_twin_teff_lo:+.0f` to {glue:text}`ov_twin_teff_hi:+.0f` K hotter and
# {glue:text}`ov_twin_feh_lo:+.2f` to {glue:text}`ov_twin_feh_hi:+.2f` dex richer than on the grid's (the MIKE
# stars: {glue:text}`ov_twin_mike`).
#
# The grid (`make realstars-overshoot-grid`: the first 800 `realstars` atmospheres, the shipped runs' own
# abundance draws, 16 000 spectra) and both runs fine-tuned on it for three epochs (`make overshoot-runs`,
# `scripts/evaluate_overshoot_runs.py`) were judged by the damping runs' rule, fixed before training. The
# calibrated run passes: held-out Teff MAE {glue:text}`ov_cali_held_teff_shipped:.0f` →
# {glue:text}`ov_cali_held_teff_tuned:.0f` K, and on the four STIS dwarfs Teff {glue:text}`ov_cali_dev_teff_shipped:.0f`
# → {glue:text}`ov_cali_dev_teff_tuned:.0f` K, [Fe/H] {glue:text}`ov_cali_dev_feh_shipped:.3f` →
# {glue:text}`ov_cali_dev_feh_tuned:.3f` dex, [Mg/Fe] {glue:text}`ov_cali_dev_mgfe_shipped:.3f` →
# {glue:text}`ov_cali_dev_mgfe_tuned:.3f` dex; it {glue:text}`ov_cali_ship` and is the calibrated run that `glocal
# predict` uses from this release on (every calibrated `predict` result in sections 1–3 of this chapter is its). The
# normalized run fails on {glue:text}`ov_norm_failed` and {glue:text}`ov_norm_ship`: a network trained on the
# corrected structure reads every star cooler, and the two MIKE stars already read cool (HD 140283 and the
# carbon-rich CS 22892-052). The α, damping, carbon and EMP sections above compare against the runs shipped
# before this one. Against the CALSPEC SED fits of the {glue:text}`ov_n_sed` STIS stars that have one, the new
# calibrated run is not closer (Teff MAE {glue:text}`ov_sed_tuned:.0f` K against {glue:text}`ov_sed_shipped:.0f`
# K): what it gains is on the literature scale of the four FUL00 dwarfs, with the same caveats as before (one
# solar correction for all atmospheres, 800 atmospheres, held-out atmospheres that were training atmospheres of
# the run before it).

# %% [markdown]
# ## 3. The paper's question on real stars: with and without the UV
#
# The same shipped run reads any coverage that keeps 4000–9000 Å, so the optical-only case is the same
# spectrum with its UV pixels removed; `fit` is restricted to 4000–10000 Å. The comparison is on the STIS
# stars with a literature [Mg/Fe] (the MIKE stars have no UV to remove).

# %%
stis = [s for s in with_lit if lit.set_index("star").loc[s, "file"].startswith("calspec/")]
pred_opt = study.predict_stars(stis, uv=False, T=p.mc_samples, seed=p.seed)
fit_opt = study.fit_stars(stis, band="optical")
fit_lit_opt = study.fit_stars(stis, band="optical", hold_literature=True)
trees_opt = study.record_table(tree_record, "optical only")
cases = {"predict (networks)": (pred.loc[stis], pred_opt),
         f"predict ({tree})": (pred_trees.loc[stis], trees_opt.loc[stis]),
         "fit (free)": (fit_free.loc[stis], fit_opt), "fit (held)": (fit_lit.loc[stis], fit_lit_opt)}
maes = {m: {"with UV": study.literature_errors(a, labels=("mgfe",)).loc["mgfe", "mae"],
            "optical only": study.literature_errors(b, labels=("mgfe",)).loc["mgfe", "mae"]}
        for m, (a, b) in cases.items()}
uv_table = pd.DataFrame(maes).T
for m, (a, b) in cases.items():   # how much the answers differ from star to star, and the stated 1σ
    uv_table.loc[m, ["spread with UV", "spread optical"]] = [a["mgfe"].std(), b["mgfe"].std()]
    uv_table.loc[m, ["σ with UV", "σ optical"]] = [a["mgfe_std"].median(), b["mgfe_std"].median()]
uv_table["n stars"] = len(stis)
glue("pred_uv", maes["predict (networks)"]["with UV"], display=False)
glue("pred_opt", maes["predict (networks)"]["optical only"], display=False)
glue("tree_uv", maes[f"predict ({tree})"]["with UV"], display=False)
glue("tree_opt", maes[f"predict ({tree})"]["optical only"], display=False)
glue("tree_opt_spread", uv_table.loc[f"predict ({tree})", "spread optical"], display=False)
glue("tree_uv_spread", uv_table.loc[f"predict ({tree})", "spread with UV"], display=False)
glue("tree_uv_verdict", "lower" if maes[f"predict ({tree})"]["with UV"] < maes[f"predict ({tree})"]["optical only"]
     else "not lower", display=False)
glue("fit_uv", maes["fit (free)"]["with UV"], display=False)
glue("fit_opt", maes["fit (free)"]["optical only"], display=False)
glue("pred_opt_spread", uv_table.loc["predict (networks)", "spread optical"], display=False)
lit_mgfe = lit.set_index("star").loc[stis, "mgfe"]
glue("lit_range", f"{lit_mgfe.min():.2f}–{lit_mgfe.max():.2f}", display=False)
uv_table.round(3)

# %% [markdown] caption="tab-real-uv"
# The paper's question on real stars: MAE of [Mg/Fe] against the literature with and without the UV, STIS stars
# with a literature [Mg/Fe]; "spread" is the standard deviation of the answers across the stars and "σ" the
# median stated 1σ.

# %% tags=["hide-input"]
fig = plots.uv_effect(maes)
plt.show()

# %% [markdown] caption="fig-real-uv"
# The table above as a figure.

# %% [markdown]
# ## The same question on held-out synthetic spectra
#
# The shipped runs were evaluated on their held-out atmospheres with fresh noise and calibration draws
# (`python scripts/evaluate_observed.py --grid <its training grid> --uv --json results/observed/evaluation.json`:
# the normalized run on the `realstars` grid, the calibrated run on the grid without overshooting it was
# fine-tuned on; the grids are not shipped, so the book reads the committed record): full coverage against the UV
# removed. The tree runs were evaluated the same way (their record, above).

# %% tags=["hide-input"]
record = book.observed_evaluation()
synthetic = pd.DataFrame({(run.split(":")[-1], case): maes_ for run, r in record["results"].items()
                          for case, maes_ in r.get("uv_comparison", {}).items()}).T
glue("syn_uv", synthetic.xs("with UV", level=1)["mgfe"].mean(), display=False)
glue("syn_opt", synthetic.xs("optical only", level=1)["mgfe"].mean(), display=False)
synthetic_trees = pd.DataFrame({(run, case): maes_ for run, r in tree_record["synthetic"].items()
                                for case, maes_ in r["uv_comparison"].items()}).T
glue("syn_tree_uv", synthetic_trees.xs("with UV", level=1)["mgfe"].mean(), display=False)
glue("syn_tree_opt", synthetic_trees.xs("optical only", level=1)["mgfe"].mean(), display=False)
synthetic = pd.concat([synthetic, synthetic_trees])
synthetic.round(3)

# %% [markdown] caption="tab-real-synthetic-uv"
# MAE per label of the shipped network runs and of the tree runs on held-out synthetic spectra (S/N 30–100),
# with the full 2550–10000 Å and with everything blueward of 4000 Å removed.

# %% [markdown]
# ## The UV and the stellar parameters on real stars
#
# The same comparison for Teff, log g and [Fe/H], on every star with literature values (the MIKE stars lose
# 3350–4000 Å): the networks with the UV removed (`glocal predict --exclude 0-4000 FILE`), the trees' record,
# and `glocal fit --band optical`. The networks are also given partial cuts, to see which part of the UV moves
# the answers.

# %%
params = ["teff", "logg", "feh"]
pred_opt_all = study.predict_stars(with_lit, uv=False, T=p.mc_samples, seed=p.seed)
param_cases = {"predict (networks)": (pred.loc[with_lit], pred_opt_all),
               f"predict ({tree})": (pred_trees.loc[with_lit], study.record_table(tree_record, "optical only")
                                    .loc[with_lit]),
               "fit (free)": (fit_free.loc[with_lit], study.fit_stars(with_lit, band="optical"))}
param_rows = {}
for m, (a, b) in param_cases.items():
    ea, eb = study.literature_errors(a, labels=params), study.literature_errors(b, labels=params)
    param_rows[m] = {(lab, case): e.loc[lab, "mae"] for lab in params
                     for case, e in (("with UV", ea), ("optical only", eb))}
for cut in (3000.0, 3500.0, 3700.0):
    e = study.literature_errors(study.predict_stars(with_lit, uv=False, uv_cut=cut, T=p.mc_samples, seed=p.seed),
                                labels=params)
    param_rows[f"predict (networks), cut at {cut:.0f} Å"] = {(lab, "optical only"): e.loc[lab, "mae"]
                                                           for lab in params}
param_table = pd.DataFrame(param_rows).T
param_table.columns = pd.MultiIndex.from_tuples(param_table.columns)
for lab in ("teff", "logg", "feh"):
    for m, key in (("predict (networks)", "net"), (f"predict ({tree})", "tree"), ("fit (free)", "fit")):
        for case, tag in (("with UV", "uv"), ("optical only", "opt")):
            glue(f"par_{key}_{lab}_{tag}", param_table.loc[m, (lab, case)], display=False)
    for case, tag in (("with UV", "uv"), ("optical only", "opt")):
        net_rows = synthetic.xs(case, level=1).loc[["observed-normalized", "observed-calibrated"]]
        glue(f"par_syn_{lab}_{tag}", net_rows[lab].mean(), display=False)
glue("par_n", len(with_lit), display=False)
param_table.round(3)

# %% [markdown] caption="tab-real-uv-parameters"
# MAE of Teff (K), log g and [Fe/H] (dex) against the literature, all stars with literature values, with the
# full coverage and with the UV removed (blueward of 4000 Å unless a row names another cut).

# %% [markdown]
# On these {glue:text}`par_n` stars the UV does not help Teff and [Fe/H], by any of the three methods:
# the networks' Teff MAE is {glue:text}`par_net_teff_uv:.0f` K with the UV and {glue:text}`par_net_teff_opt:.0f` K
# without it ([Fe/H] {glue:text}`par_net_feh_uv:.2f` and {glue:text}`par_net_feh_opt:.2f` dex), the trees'
# {glue:text}`par_tree_teff_uv:.0f` and {glue:text}`par_tree_teff_opt:.0f` K ({glue:text}`par_tree_feh_uv:.2f` and
# {glue:text}`par_tree_feh_opt:.2f` dex), the fit's {glue:text}`par_fit_teff_uv:.0f` and
# {glue:text}`par_fit_teff_opt:.0f` K ({glue:text}`par_fit_feh_uv:.2f` and {glue:text}`par_fit_feh_opt:.2f` dex).
# It does help log g: {glue:text}`par_net_logg_uv:.2f` dex with the UV and {glue:text}`par_net_logg_opt:.2f` without
# it for the networks, {glue:text}`par_fit_logg_uv:.2f` and {glue:text}`par_fit_logg_opt:.2f` for the fit (the
# trees {glue:text}`par_tree_logg_uv:.2f` and {glue:text}`par_tree_logg_opt:.2f`).
# On held-out synthetic spectra the same removal costs the networks a factor of two or more (Teff
# {glue:text}`par_syn_teff_uv:.0f` → {glue:text}`par_syn_teff_opt:.0f` K, [Fe/H] {glue:text}`par_syn_feh_uv:.2f` →
# {glue:text}`par_syn_feh_opt:.2f` dex). So on real stars the information the UV adds is cancelled by how far the
# engine's UV is from them; the partial cuts show it is not one region (a cut at 3700 Å is not the same as one
# at 4000 Å, and removing only 2550–3000 Å moves [Fe/H] up). The default keeps the UV: it helps log g on these
# stars, the Teff and [Fe/H] gains without it rest on six stars with one to twenty studies each, and the
# synthetic loss is measured on thousands of spectra. `glocal predict --exclude 0-4000` gives the optical-only
# answer to anyone who prefers it for stars like these; its real-star uncertainty has not been measured
# separately (the `_real` columns carry the full-coverage term).

# %% [markdown]
# ## What holds and what does not
#
# * **On synthetic spectra the UV matters for the networks and the trees**: on held-out synthetic spectra the
#   shipped runs' [Mg/Fe] MAE is {glue:text}`syn_uv:.3f` dex with the UV and {glue:text}`syn_opt:.3f` dex without
#   it (mean of the two kinds), the tree runs' {glue:text}`syn_tree_uv:.3f` and {glue:text}`syn_tree_opt:.3f` dex;
#   the forward-model fit loses even more ([Mg/Fe] is nearly unconstrained at R = 200 in the optical,
#   `glocal/data/emulator/README.md`).
# * **On the four STIS stars the fit reproduces that**: its [Mg/Fe] MAE against the literature is
#   {glue:text}`fit_uv:.3f` dex with the UV and {glue:text}`fit_opt:.3f` dex without it.
# * **The network does not show it on these stars, and cannot**: `predict` scores {glue:text}`pred_uv:.3f` dex
#   with the UV and {glue:text}`pred_opt:.3f` dex without it, but without the UV its answers barely differ from
#   star to star (spread {glue:text}`pred_opt_spread:.3f` dex): it returns values near the middle of its
#   training labels, and the four literature values ({glue:text}`lit_range`) happen to sit there too. An
#   uninformative answer scores well on this sample; the with-UV answers vary from star to star and are as
#   close. Four stars with one literature study each (~0.1 dex between studies) cannot separate the two.
# * **The trees answer the same way**: their [Mg/Fe] MAE on the STIS stars is {glue:text}`tree_uv:.3f` dex with
#   the UV and {glue:text}`tree_opt:.3f` dex without it ({glue:text}`tree_uv_verdict` with the UV); their answers
#   spread across the stars by {glue:text}`tree_uv_spread:.3f` dex with the UV and {glue:text}`tree_opt_spread:.3f`
#   dex without it, the same pattern as the networks'. A tree has no spread of its own, so its conformal interval
#   has one width for every spectrum: the stated σ is the same with and without the UV although the synthetic
#   test error is not.
# * **The UV is where the synthetic spectra are least faithful**: the residuals of §1 are several per cent in
#   the UV against ~1 % in the optical. A real-star gain from the UV depends on the engine's UV fidelity as much
#   as on the UV itself (the engine-fidelity work compares the engine with SPECTRUM and with these spectra).
# * **The Teff and [Fe/H] misses lie between the engine and these stars, not in the networks**: on the
#   synthetic twins the networks recover the literature labels (within {glue:text}`twin_own_teff:.0f` K and
#   {glue:text}`twin_own_feh:.2f` dex), while the real STIS stars read {glue:text}`twin_gap_lo:+.0f` to
#   {glue:text}`twin_gap_hi:+.0f` K hotter than their twins, driven by H-beta, the Balmer jump and the near UV
#   (or their single-study literature Teff is low). Giving the training grids the halo α pattern is right for
#   real stars but does not help Teff: the current networks read the α-enhanced twins
#   {glue:text}`twin_alpha_teff_abs:.0f` K cooler on average, and runs fine-tuned on that pattern (the α section)
#   read the six stars with a Teff MAE of {glue:text}`al_all_teff_alpha:.0f` K instead of
#   {glue:text}`al_all_teff_shipped:.0f` K while lowering their [Fe/H] MAE from {glue:text}`al_all_feh_shipped:.3f`
#   to {glue:text}`al_all_feh_alpha:.3f` dex.
#   Widening the van der Waals damping of the lines without list data to the ABO median on top of that pattern
#   (the damping section) goes further the same way: [Fe/H] MAE {glue:text}`dp_all_feh_tuned:.3f` dex, Teff
#   {glue:text}`dp_all_teff_tuned:.0f` K; with the UV removed as well, {glue:text}`dp_opt_feh_tuned:.3f` dex and
#   {glue:text}`dp_opt_teff_tuned:.0f` K. Neither run was adopted (rules fixed before training).
# * **The offset sits in the blue, not in the CSST UV**: put into the twins window by window, the real spectra's
#   departure that makes the STIS dwarfs hot lies between the Balmer jump and H-beta (3700–4400 Å carries
#   {glue:text}`tw_blue_teff_lo:+.0f` to {glue:text}`tw_blue_teff_hi:+.0f` K), while 2550–3000 Å pulls Teff
#   towards the literature ({glue:text}`tw_uv_teff_lo:+.0f` to {glue:text}`tw_uv_teff_hi:+.0f` K).
# * **Removing the grid's overshooting is the first training-set fix that helps both Teff and [Fe/H]**: the
#   calibrated run fine-tuned on atmospheres with the solar-differential correction (the overshooting section)
#   passed the rule fixed before training and is shipped; with it the default `predict` scores, on the six stars
#   with literature values, Teff MAE {glue:text}`net_teff_mae:.0f` K, [Fe/H] {glue:text}`net_feh_mae:.2f` dex and
#   [Mg/Fe] {glue:text}`net_mgfe_mae:.2f` dex (section 2). The four STIS dwarfs' Teff MAE is still
#   {glue:text}`ov_cali_dev_teff_tuned:.0f` K, every one of them hotter than its single-study literature Teff, and the
#   correction is the Sun's applied to metal-poor atmospheres: a grid of metal-poor models without overshooting
#   (ODFNEW, MARCS) in place of the Kurucz 1993 grid is the real fix, and would also serve the normalized run.
