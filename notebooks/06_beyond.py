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
# # Beyond the paper: leakage, noise-aware training, uncertainties, attribution, another element
#
# The paper closes (§5) by naming what it did not do: uncertainties on the predictions, application to new
# spectra, other elements. This chapter runs those studies on the same grid and models as the results
# chapter (shared through the artifact cache), plus two checks a referee would ask for: whether the
# random split leaks information, and whether training on noisy spectra beats the paper's
# train-clean/test-noisy protocol.
#
# Code that only draws or tabulates is collapsed; the calls that train and apply the models are shown. To
# re-execute this chapter with other values: `make chapter NB=06_beyond SCALE=ci PARAMS="-p other_element C"`
# (the values it ran with are in the collapsed parameters cell below; all of them live in
# `notebooks/scales.yml`).

# %% tags=["parameters"]
scale = "laptop"  # ci, laptop or paper: the values of notebooks/scales.yml
overrides = {}    # parameters of this chapter to change, e.g. {"other_element": "C"}

# %% tags=["hide-cell"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from glocal import book, experiments, plots
from glocal import grid as pgrid
from glocal.attribution import integrated_gradients
from glocal.book import glue
from glocal.degrade import band_mask
from glocal.runs import evaluate_ensemble, evaluate_run

p = book.chapter_parameters("06_beyond", scale, overrides)
glue("scale", p.scale, display=False)
glue("engine", p.engine, display=False)
print(p)
data, ds = book.chapter_grid(p)
training = dict(seed=p.seed, config=p.config, train=p.train)  # split seed, network size and training
records = []

# %% [markdown]
# ## 1. Leakage: random against grouped split
#
# The paper splits its 1.9 × 10⁵ spectra at random, so the test set shares model atmospheres with the
# training set: the sixteen spectra of one (Teff, log g, [Fe/H]) differ only in [O/Fe] or [Mg/Fe], and the
# network may learn the atmosphere from its siblings. The grouped split keeps each atmosphere in one part.

# %% tags=["hide-input"]
rows = []
for band in ("full", "optical"):
    for split in ("random", "grouped"):
        run = experiments.trained_run(data, "spt-glocal", band=band, split=split, **training)
        ev = evaluate_run(run, data, seed=p.seed, save=False)
        recs = experiments.metrics_records(run, ev, scale=p.scale, split=split,
                                           extra={"study": "leakage"} if split == "grouped" else None)
        if split == "grouped":
            records += recs
        rows += recs
leak = pd.DataFrame(rows).pivot_table(index=["band", "split"], columns="label", values=["mae", "sigma"])
leak.round(4)

# %% [markdown] caption="tab-leakage"
# MAE and σ of SPT-GloCal on the random split (the paper's) and on a split that keeps each atmosphere in one part,
# both bands (scale {glue:text}`scale`, {glue:text}`engine` engine).

# %% [markdown]
# ## 2. Noise-aware training
#
# The paper trains on noiseless spectra and tests at S/N 30–50. Here one SPT-GloCal is trained with Gaussian
# noise drawn per batch at a random S/N in `noise_range`, then tested with the same protocol.

# %%
clean = experiments.trained_run(data, "spt-glocal", band="full", **training)
aware = experiments.trained_run(data, "spt-glocal", band="full", seed=p.seed, config=p.config,
                                train={**p.train, "noise_snr": list(p.noise_range)})
cmp = []
for name, run in (("trained noiseless (paper)", clean), (f"trained with S/N {p.noise_range}", aware)):
    ev = evaluate_run(run, data, snr_list=p.snr_list, seed=p.seed, save=False)
    recs = experiments.metrics_records(run, ev, scale=p.scale, extra={"training": name})
    if run is aware:
        records += [dict(r, study="noise-aware") for r in recs]
    cmp += recs
noise_table = pd.DataFrame(cmp).assign(snr=lambda d: d["snr"].fillna(np.inf)).pivot_table(
    index=["label", "snr"], columns="training", values="mae")
noise_table.round(4)

# %% [markdown] caption="tab-noise-aware"
# Test MAE against S/N of SPT-GloCal trained on noiseless spectra (the paper's protocol) and trained with noise at
# S/N in `noise_range` (scale {glue:text}`scale`).

# %% tags=["hide-input"]
curves = {}
for label in ("ofe", "mgfe"):
    sub = noise_table.loc[label]
    x = [s if np.isfinite(s) else 80 for s in sub.index]
    curves[label] = {col: (x, sub[col].to_numpy()) for col in sub.columns}
plots.mae_vs_snr(curves, xlabel="test S/N (80 = noiseless)")
plt.show()

# %% [markdown] caption="fig-noise-aware"
# The table above as a figure: test MAE against S/N for the two trainings (80 stands for noiseless).

# %% [markdown]
# ## 3. Uncertainties: MC dropout and a deep ensemble
#
# Each method gives a predictive mean and standard deviation; a calibrated σ puts 68 % of the true values
# within ±1σ and 95 % within ±1.96σ. We measure this coverage on the test split, noiseless and at S/N 30.

# %%
mc = evaluate_run(clean, data, snr_list=[p.snr_list[0]], seed=p.seed, uncertainty="mc_dropout", save=False)
members = [clean] + [experiments.trained_run(data, "spt-glocal", band="full", init_seed=p.seed + k, **training)
                     for k in range(1, p.n_ensemble)]
ens = evaluate_ensemble(members, data, snr_list=[p.snr_list[0]], seed=p.seed)
cal_rows = []
for method, res in (("MC dropout", mc), (f"deep ensemble ({p.n_ensemble})", ens)):
    for key, entry in res.items():
        for label, cov in entry["calibration"].items():
            cal_rows.append({"method": method, "test": key, "label": label,
                             **{f"coverage {k}": v for k, v in cov.items() if not isinstance(v, dict)}})
    records += [dict(r, study=f"uncertainty: {method}", method="spt-glocal")
                for r in experiments.metrics_records(clean, res, scale=p.scale)]
calib = pd.DataFrame(cal_rows)
calib.round(3)

# %% [markdown] caption="tab-calibration"
# Coverage of the ±1σ and ±1.96σ intervals of MC dropout and of a deep ensemble on the test split, noiseless and
# at the lowest S/N (scale {glue:text}`scale`).

# %% tags=["hide-input"]
for (method, test), sub in calib.groupby(["method", "test"]):
    c68 = sub[[c for c in sub.columns if "68" in c]].to_numpy(float).mean()
    verdict = ("well calibrated" if abs(c68 - 0.68) < 0.1
               else "over-confident (intervals too narrow)" if c68 < 0.68 else "under-confident")
    print(f"{method:22s} {test:10s}: mean 68 % coverage {c68:.2f} -> {verdict}")

# %% [markdown]
# MC dropout only samples the dropout masks of one trained network, so its spread measures how much the
# prediction depends on which units are dropped, not how far the network is from the truth; with the
# small dropout rate of the `cpu` configuration it is typically far too narrow. Ensemble members start from
# different initialisations and disagree more where the data constrain them less, which is closer to, but
# still below, the error actually made.

# %% [markdown]
# ## 4. Attribution: which wavelengths carry [O/Fe] and [Mg/Fe]
#
# Integrated gradients (path from the line-free continuum F/Fc = 1 to the spectrum) of the full-band
# SPT-GloCal, averaged in absolute value over test spectra. The OH A–X bands (≈3050–3250 Å), Mg II h&k and
# Mg I 2852, Mg b and the O I 7774 triplet are marked.

# %% tags=["hide-input"]
test_rows = clean.split["test"][:p.n_attr]
mask = band_mask(ds.wave, "full")
x = ds.flux[test_rows][:, mask]
maps = {}
for j, label in enumerate(clean.labels):
    ig = integrated_gradients(clean.model, x, j, steps=24, scale=float(clean.scaler.std[j]))
    maps[label] = np.abs(ig).mean(axis=0)
windows = {"Mg II/Mg I": (2780, 2870), "OH": (3050, 3250), "Mg b": (5160, 5190), "O I": (7760, 7790)}
plots.attribution(ds.wave[mask], maps, spectrum=x.mean(axis=0), windows=windows,
                  title="mean |integrated gradient| over test spectra (full-band SPT-GloCal)")
plt.show()
share = {label: {name: float(m[(ds.wave[mask] >= lo - 20) & (ds.wave[mask] <= hi + 20)].sum() / m.sum())
                 for name, (lo, hi) in windows.items()} for label, m in maps.items()}
pd.DataFrame(share).round(3).rename_axis("share of total attribution")

# %% [markdown] caption=""
# Which wavelengths carry [O/Fe] and [Mg/Fe]: mean |integrated gradient| of the full-band SPT-GloCal over test
# spectra (figure) and the share of the attribution in each marked window (table; scale {glue:text}`scale`).

# %% [markdown]
# ## 5. Another element
#
# The chain is not specific to O and Mg. A second grid (the `other_preset` models) varies [O/Fe], [Mg/Fe] and
# [X/Fe] of `other_element` jointly (the same sixteen Latin-hypercube draws for every model, so the
# abundance combinations are shared between training and test and only the atmospheres differ), and one
# SPT-GloCal is trained to predict all three, with and without the UV.

# %%
span = (-0.2, 1.2)
var = pgrid.joint_variants(16, rng=p.seed, ranges={"O": span, "Mg": span, p.other_element: span})
xdata = experiments.grid_dataset(p.other_preset, engine=p.engine, seed=p.seed, engine_options=p.engine_options,
                                 variants=var, n_models=p.other_models)
xlabel = f"{p.other_element.lower()}fe"
xrows = []
for band in ("full", "optical"):
    run = experiments.trained_run(xdata, "spt-glocal", band=band, labels=("ofe", "mgfe", xlabel), **training)
    ev = evaluate_run(run, xdata, seed=p.seed, save=False)
    recs = experiments.metrics_records(run, ev, scale=p.scale, extra={"study": f"element-{p.other_element}"})
    records += recs
    xrows += recs
pd.DataFrame(xrows).pivot_table(index="label", columns="band", values=["mae", "sigma"]).round(4)

# %% [markdown] caption="tab-other-element"
# MAE and σ of SPT-GloCal predicting [O/Fe], [Mg/Fe] and [X/Fe] of `other_element` together, with and without the
# UV (scale {glue:text}`scale`, {glue:text}`engine` engine).

# %% [markdown]
# ## 6. Application to new spectra
#
# A trained run is meant to be applied to spectra it has never seen. We draw `n_new` stars at random
# *between* the grid nodes (Teff, log g, [Fe/H] continuous, inside the atmosphere coverage), synthesise them
# at high resolution, degrade them to R = 200, add noise at S/N 50 and pass them through
# `glocal.runs.predict` — the same path as `glocal predict` — with MC-dropout uncertainties. Each star gets
# two abundance sets: one drawn like the paper's grid (one of [O/Fe], [Mg/Fe] varied, the other solar-scaled),
# and a typical halo α-enhancement, [O/Fe] = [Mg/Fe] = +0.4, which the paper's grid never contains (its
# sixteen variants never raise both elements together): a direct look at how the paper's design generalises.

# %%
from glocal.atmospheres import in_coverage
from glocal.degrade import add_noise, degrade
from glocal.runs import predict
from glocal.synthesis import synthesize_variants

rng = np.random.default_rng(p.seed + 2025)
stars = []
while len(stars) < p.n_new:
    t, g, f = rng.uniform(pgrid.TEFF_NODES[0], 6500), rng.uniform(0.5, 4.75), rng.uniform(-3.8, -1.0)
    if in_coverage(t, g, f):
        stars.append((round(t), round(g, 2), round(f, 2)))
values = np.asarray(pgrid.VARIANT_VALUES, float)
new_rows = []
for i, (t, g, f) in enumerate(stars):
    el = "O" if i % 2 == 0 else "Mg"
    drawn = {"O": 0.0, "Mg": 0.0, el: float(rng.choice(values))}
    sets = {"paper-like": drawn, "alpha-enhanced": {"O": 0.4, "Mg": 0.4}}
    vs = synthesize_variants(t, g, f, list(sets.values()), engine=p.engine, **(p.engine_options or {}))
    w, r200 = degrade(vs.wave, vs.normalized)
    noisy = add_noise(r200, 50.0, rng=rng)
    pred = predict(clean, w, noisy, seed=p.seed)
    for k, (kind, ab) in enumerate(sets.items()):
        new_rows.append({"teff": t, "logg": g, "feh": f, "set": kind, "ofe_true": ab["O"], "mgfe_true": ab["Mg"],
                         "ofe_pred": pred["ofe"][k], "ofe_std": pred["ofe_std"][k],
                         "mgfe_pred": pred["mgfe"][k], "mgfe_std": pred["mgfe_std"][k]})
new_table = pd.DataFrame(new_rows)
new_table.round(3)

# %% [markdown] caption="tab-new-stars"
# Stars drawn between the grid nodes, synthesised by the {glue:text}`engine` engine, degraded to R = 200 with
# noise at S/N 50 and passed through `glocal.runs.predict` (MC-dropout ±1σ), with a paper-like and an α-enhanced
# abundance set each (scale {glue:text}`scale`).

# %% tags=["hide-input"]
plots.new_star_predictions(new_table, markers={"paper-like": "o", "alpha-enhanced": "s"},
                           title=f"{p.n_new} new stars between the grid nodes, S/N 50 "
                           "(full-band SPT-GloCal, ±1σ MC dropout)")
plt.show()
for kind, sub in new_table.groupby("set"):
    print(f"{kind:15s}: MAE [O/Fe] {np.mean(np.abs(sub.ofe_pred - sub.ofe_true)):.3f}, "
          f"[Mg/Fe] {np.mean(np.abs(sub.mgfe_pred - sub.mgfe_true)):.3f} dex over {len(sub)} stars")

# %% [markdown] caption="fig-new-stars"
# Predicted against true [O/Fe] and [Mg/Fe] for the new stars of the table above (circles: paper-like abundances,
# squares: α-enhanced).

# %% [markdown]
# The α-enhanced stars test something the paper's protocol cannot: its networks only ever see one of the two
# elements raised at a time, so the UV features of a star with both raised (OH and Mg bands deepened together,
# more free electrons from Mg changing the continuum) are a combination they were not trained on. Where those
# predictions are worse than the paper-like ones, a production grid should vary [O/Fe] and [Mg/Fe] jointly
# (as `glocal.grid.joint_variants` does for the other-element study above).

# %% [markdown]
# ## 7. When do the transformers win? Learning curves
#
# At every scale this book runs on CPUs the tree-boosting baselines beat the transformers, the reverse of the
# paper's ranking (Table 2). The paper trained on about 1.5 × 10⁵ spectra (80 % of 11 763 × 16), so the usual
# explanation is data starvation. A learning curve measures it: each method is trained on nested subsets of
# one training part (the first `n` rows of a fixed permutation per seed) and tested on the same fixed test
# spectra, and a power law MAE(n) = a·n^(−b) (+ c, an error floor, where the data constrain it;
# `glocal.learning_curves`) is fitted to each curve and extrapolated to the paper's size. The records of the
# `workstation` grid (≈ 31 000 spectra, `make learning-curves`) are read when committed
# (`results/<lc_records>/learning_curves.json`); otherwise — and always at the ci scale — the small end is
# recomputed here on this chapter's grid with the methods, sizes and seeds of `scales.yml` (`lc_*`).

# %%
from glocal import learning_curves as lc
from glocal._io import write_json
from glocal.cache import artifact

lc_file = lc.records_path(p.lc_records) if p.lc_records else None
# committed records are used once every random-split curve (method × band) holds the minimum of
# 6 training-set sizes (a run in progress holds fewer, and a power law through 2 sizes is unconstrained)
lc_short = None
if lc_file is not None and lc_file.exists():
    lc_sizes_of = {}
    for r in lc.load_records(lc_file):
        if r["split"] == "random":
            lc_sizes_of.setdefault(f"{r['method']}/{r['band']}", set()).add(r["n_train"])
    lc_short = sorted(k for k, v in lc_sizes_of.items() if len(v) < 6) or (["all"] if not lc_sizes_of else [])
lc_complete = lc_short == []
if lc_short:
    print(f"{lc_file}: a run in progress, curves with fewer than 6 sizes: {', '.join(lc_short)}; "
          "the small end is recomputed here")
if lc_complete:
    lc_records = lc.load_records(lc_file)
    lc_source = f"the committed records results/{p.lc_records}/learning_curves.json"
else:
    lc_params = {"grid": data.name, "methods": p.lc_methods, "sizes": p.lc_sizes, "seeds": p.lc_seeds,
                 "bands": p.lc_bands, "config": p.config, "train": p.train}
    lc_json = artifact("learning-curves", lc_params, lambda path: lc.run_learning_curves(
        data, methods=p.lc_methods, sizes=p.lc_sizes, seeds=p.lc_seeds, bands=p.lc_bands, configs=p.config,
        train_options=p.train, out_json=path, threads=1, progress=False), suffix=".json")  # small fits: 1 thread
    lc_records = lc.load_records(lc_json)
    write_json(lc.records_path(p.scale), lc_records)
    lc_source = f"this chapter's grid ({ds.n} spectra, recomputed here)"
lc_fits = lc.fit_power_law(lc_records)
lc_curves, lc_cross = lc.summary(lc_fits)
print(f"{len(lc_records)} records from {lc_source}; {len(lc_fits)} power laws")

# %% tags=["hide-input"]
from glocal.plots.learning import learning_curves as plot_learning_curves
from glocal.plots.learning import paper_mae

lc_bands = [b for b in ("full", "optical") if any(r["band"] == b for r in lc_records)]
plot_learning_curves(lc_records, lc_fits, bands=lc_bands, split="random")
plt.show()

# %% [markdown] caption="fig-learning-curves"
# Test MAE against the number of training spectra on the random split (scale {glue:text}`scale`): every seed
# (small points), their mean (line), the fitted power law (dashed, 68 % band shaded) extended to the paper's
# training-set size (dotted line), where the stars mark the paper's MAE (Tables 1–2).

# %% tags=["hide-input"]
if any(r["split"] == "grouped" for r in lc_records):
    plot_learning_curves(lc_records, lc_fits, bands=lc_bands, split="grouped")
    plt.show()
else:
    print("no grouped-split records at this scale (make learning-curves records them on the workstation grid)")

# %% [markdown] caption=""
# The same on the grouped split, which keeps each atmosphere in one part (section 1), where recorded.

# %% tags=["hide-input"]
lc_table = pd.DataFrame(lc_curves)
lc_table["largest n"] = [max(s) for s in lc_table["sizes"]]
lc_table["MAE at largest n"] = [m[-1] for m in lc_table["mae_mean"]]
lc_paper = paper_mae()
lc_table["paper MAE"] = [lc_paper.get((m, b, lab), np.nan) for m, b, lab in
                         zip(lc_table["method"], lc_table["band"], lc_table["label"])]
lc_table = lc_table.rename(columns={"mae_at_n": "MAE at paper n", "lo": "16 %", "hi": "84 %"})
lc_table.set_index(["split", "band", "label", "method", "config"])[
    ["b", "b_err", "c", "floor", "largest n", "MAE at largest n", "MAE at paper n", "16 %", "84 %",
     "paper MAE"]].sort_index().round(4)

# %% [markdown] caption="tab-learning-curves"
# Fitted power laws MAE(n) = a·n^(−b) + c (c = 0 where the floor is not constrained: column `floor`), the
# measured MAE at the largest size and the projection to the paper's 150 566 training spectra with its 68 %
# interval over the fit's parameter draws (scale {glue:text}`scale`).

# %% tags=["hide-input"]
lc_n_max = max(r["n_train"] for r in lc_records if r["split"] == "random")   # the main curves' largest size
glue("lc_source", lc_source, display=False)
glue("lc_n_max", f"{lc_n_max:,}".replace(",", " "), display=False)
glue("lc_factor", f"{lc.N_PAPER_TRAIN / lc_n_max:.0f}", display=False)
by_key = {(c["method"], c["config"], c["band"], c["split"], c["label"]): c for c in lc_curves}
lc_net_configs = sorted({r["config"] for r in lc_records if r["method"] in lc.NETWORKS})
lc_interval = lambda c: (f"[{c['lo']:.4f}, {c['hi']:.4f}]" if c["lo"] is not None and c["hi"] is not None  # noqa: E731
                         else "(interval unconstrained: too few sizes)")
lc_law = lambda c: "" if c["floor"] else " (pure power law: optimistic)"  # noqa: E731
lc_config = "cpu" if "cpu" in lc_net_configs or not lc_net_configs else lc_net_configs[0]  # of the main curves
for label in ("ofe", "mgfe"):
    sentences = []
    for c in (c for c in lc_cross if c["label"] == label and c["split"] == "random" and c["config"] == lc_config):
        trees = [v for k, v in by_key.items() if k[0] in lc.TREES and k[2:] == (c["band"], "random", label)]
        best = min(trees, key=lambda v: v["mae_at_n"])
        net = by_key[(c["method"], c["config"], c["band"], "random", label)]
        if c["n"] is None:
            where = "stays above the best tree's from the smallest measured size to 10⁷ spectra"
        elif c["status"] == "below":
            where = f"is below the trees' already at the smallest measured size (n = {c['n']:.0f})"
        else:
            span = f"{c['lo']:.0f}–{c['hi']:.0f}" if c["lo"] and c["hi"] else f"from {c['lo'] or 0:.0f}, open-ended"
            where = f"crosses {c['best_tree']}'s at n ≈ {c['n']:.0f} (68 %: {span}; {c['probability']:.0%} of draws)"
        sentences.append(f"the curve of {c['method']} ({c['band']} band) {where}; at the paper's size it projects to "
                         f"{net['mae_at_n']:.4f} dex {lc_interval(net)}{lc_law(net)} against {best['method']}'s "
                         f"{best['mae_at_n']:.4f} dex {lc_interval(best)}{lc_law(best)}")
    glue(f"lc_verdict_{label}", "; ".join(sentences) + "." if sentences else "no network curve.", display=False)
lc_fit_rows = pd.DataFrame(lc_records).drop_duplicates(["method", "config", "band", "split", "n_train", "seed"])
lc_hours = lc_fit_rows.groupby("method")["train_seconds"].sum() / 3600
lc_at_max = (lc_fit_rows[(lc_fit_rows["n_train"] == lc_n_max) & (lc_fit_rows["split"] == "random")]
             .groupby("method")["train_seconds"].max() / 60)
glue("lc_time", f"{lc_hours.sum():.1f} h of training over {len(lc_fit_rows)} fits ("
     + ", ".join(f"{m} {h:.2f} h" for m, h in lc_hours.items()) + "); one fit at the largest size: "
     + ", ".join(f"{m} {v:.1f} min" for m, v in lc_at_max.items()), display=False)
print(f"largest measured training set: {lc_n_max}; paper: {lc.N_PAPER_TRAIN}")

# %% [markdown]
# Measured on {glue:text}`lc_source`, up to {glue:text}`lc_n_max` training spectra, a factor
# {glue:text}`lc_factor` below the paper's training set. For [O/Fe], {glue:text}`lc_verdict_ofe` For [Mg/Fe],
# {glue:text}`lc_verdict_mgfe`
#
# A power law fitted over one or two decades and extrapolated over more is a statement about the trend, not a
# prediction: the 68 % intervals come from the fit's covariance (seed-to-seed scatter enters only through the
# residuals), the pure power law (no floor) falls without limit and is the optimistic extrapolation, and the
# networks here are the `cpu` configuration trained with this scale's epochs, not the `paper` configuration. At
# the ci scale the curve spans a few hundred spectra and the projection only exercises the machinery; the
# workstation records are the measurement.
#
# Cost: {glue:text}`lc_time` (the records' `train_seconds`, wall time on this scale's machine, 2 threads; the
# networks' include the per-epoch validation). The workstation grid itself took 75 min on 2 shared cores
# (`make workstation-grid`; results/benchmarks/scales.md).

# %% [markdown]
# ### Does the UV gain survive more training data?
#
# The paper's question (Tables 1–2) is asked at one training-set size. The same curves answer it at every size:
# the ratio of the optical-only MAE (4000–10000 Å) to the full-band MAE (2550–10000 Å) per method and size,
# from the measured points (seed means), not from the fitted laws. The laws' projections are not compared
# across bands: where a curve's floor is not constrained (table above, column `floor`), the pure power law
# fitted instead is the optimistic extrapolation, so a floorless curve in one band would flatter that band
# against a floored one in the other.

# %% tags=["hide-input"]
lc_main = pd.DataFrame([r for r in lc_records if r["split"] == "random" and r["config"] in (lc_config, "default")])
lc_uv = lc_main.groupby(["method", "label", "n_train", "band"])["mae"].mean().unstack("band")
if {"full", "optical"} <= set(lc_uv.columns):
    lc_uv = (lc_uv["optical"] / lc_uv["full"]).dropna().unstack("n_train")
    lc_uv_points = lc_uv.stack()
    lc_uv_note = (f"optical/full MAE ratio {lc_uv_points.min():.2f}–{lc_uv_points.max():.2f} over "
                  f"{len(lc_uv_points)} (method, label, size) points, above 1 (the UV helps) at "
                  f"{int((lc_uv_points > 1).sum())} of them, up to n = {max(lc_uv.columns)}; median ratio "
                  f"{lc_uv.iloc[:, 0].median():.2f} at n = {lc_uv.columns[0]} and {lc_uv.iloc[:, -1].median():.2f} "
                  f"at n = {lc_uv.columns[-1]}")
else:
    lc_uv, lc_uv_note = pd.DataFrame(), "only one band is recorded at this scale"
print(lc_uv_note)
glue("lc_uv_note", lc_uv_note, display=False)
lc_uv.round(2)

# %% [markdown] caption="tab-uv-gain-with-size"
# Optical-only over full-band test MAE per method, label and training-set size (random split; above 1: the UV
# lowers the error): {glue:text}`lc_uv_note`.

# %% [markdown]
# ### The network size as a second axis
#
# If the networks lose because they are too small rather than because they see too few spectra, a larger
# network should shift the curve down at a fixed size. `make learning-curves` also trains SPT-GloCal in the
# `cpu-large` configuration (wider and deeper, still trainable on 2 cores) at a few sizes on the full band;
# where those records exist they are set beside the `cpu` configuration here.

# %% tags=["hide-input"]
lc_other = [c for c in lc_net_configs if c != lc_config]
lc_size_rows = [r for r in lc_records if r["method"] in lc.NETWORKS and r["split"] == "random" and r["band"] == "full"]
lc_empty = {"method": "-", "label": "-", "config": "-", "n_train": 0, "mae": np.nan}   # no network curve at all
lc_size_table = (pd.DataFrame(lc_size_rows or [lc_empty])
                 .groupby(["method", "label", "config", "n_train"])["mae"].mean().unstack("n_train"))
lc_common = [n for n in lc_size_table.columns if lc_size_table[n].notna().all()]
lc_gain = []
for (method, label), block in lc_size_table.groupby(level=["method", "label"]):
    configs_here = block.index.get_level_values("config")
    if lc_other and lc_other[0] in configs_here and lc_config in configs_here:
        ratio = block.xs(lc_other[0], level="config")[lc_common] / block.xs(lc_config, level="config")[lc_common]
        lc_gain.append(f"{method} {label}: {', '.join(f'{v:.2f}' for v in ratio.to_numpy().ravel())}")
if lc_gain:
    lc_size_note = (f"MAE of {lc_other[0]} over {lc_config} at n = {', '.join(map(str, lc_common))}: "
                    + "; ".join(lc_gain) + " (below 1: the larger network is better)")
else:
    lc_size_note = f"only the {lc_config} configuration is recorded at this scale"
print(lc_size_note)
glue("lc_size_note", lc_size_note, display=False)
lc_size_table.round(4)

# %% [markdown] caption="tab-network-size"
# Mean test MAE (dex) of the networks per configuration and training-set size (full band, random split):
# {glue:text}`lc_size_note`.

# %% tags=["hide-input"]
if lc_other:
    plot_learning_curves(lc_records, lc_fits, bands=["full"], split="random", config=lc_other[0])
    plt.show()
else:
    print("no second network configuration recorded at this scale")

# %% [markdown] caption=""
# Learning curves of the second network configuration beside the trees (full band, random split), where recorded.

# %% tags=["hide-input"]
path = experiments.write_headline(records, p.scale)
print(f"{len(records)} records added to {path}")
