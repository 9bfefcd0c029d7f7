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
# # glocal: does the near-UV sharpen [O/Fe] and [Mg/Fe] of metal-poor stars?
#
# The Chinese Space Station Telescope (CSST) will take slitless spectra at R ≈ 200 from 2550 to 10000 Å,
# for many more metal-poor stars than any high-resolution survey can reach. {cite:t}`zhang2025glocal`
# ("SPT-GloCal") asked how much the near-UV part of those spectra, 2550–4000 Å, where the OH A–X bands and
# the Mg II 2796/2803 and Mg I 2852 lines sit, improves the oxygen and magnesium abundances that a neural
# network can recover, and proposed a transformer with "GloCal" attention to recover them.
#
# This book re-does the whole chain from published ingredients and rebuilds every figure from data:
# model atmospheres and line lists → synthetic spectra (§2) → CSST degradation (§2.2) → the SPT-GloCal
# transformer, its predecessor SPT and three tree-boosting baselines (§3) → the paper's tables and figures
# (§4), and the studies the paper leaves for future work. Looking for one of the paper's figures or tables?
# [The paper ↔ book index](../paper_map.md) links each to its numbered counterpart here.
#
# **The answer, as measured by this build**, is the table below: the mean absolute error of each method
# with and without the UV, read from `results/<scale>/headline.json`, which the results chapter writes.
# The code of each page is collapsed where it only draws or tabulates (click "Show code cell source").

# %% tags=["parameters"]
scale = "laptop"  # ci, laptop or paper: the values of notebooks/scales.yml
overrides = {}    # this chapter reads only the scale; it accepts the common parameters and ignores them

# %% tags=["hide-input"]
import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

import glocal
from glocal import book, plots
from glocal.book import glue

p = book.chapter_parameters("00_intro", scale, overrides)
glue("scale", p.scale, display=False)
root = Path(glocal.__file__).resolve().parents[1]
headline_path = root / "results" / p.scale / "headline.json"
records = json.loads(headline_path.read_text()) if headline_path.exists() else []
df = pd.DataFrame(records)
if df.empty:
    print(f"No results yet at scale {p.scale!r}: run `make book SCALE={p.scale}`.")
else:
    study = df["study"] if "study" in df else pd.Series("paper", index=df.index)
    clean = df[(df["split"] == "random") & df["snr"].isna() & (study.fillna("paper") == "paper")]
    table = clean.pivot_table(index="method", columns=["label", "band"], values="mae")
    display(table.round(4))

# %% [markdown] caption="tab-headline"
# The answer of this build (scale {glue:text}`scale`): mean absolute error (dex) of each method on the clean test
# spectra, reading the whole 2550–10000 Å (`full`) or only 4000–10000 Å (`optical`); regenerates the MAE columns
# of the paper's Tables 1 and 2 (details in the Results chapter).

# %% tags=["hide-input"]
if not df.empty:
    g = clean[clean["method"] == "spt-glocal"].set_index(["label", "band"])["mae"]
    for label, name in (("ofe", "[O/Fe]"), ("mgfe", "[Mg/Fe]")):
        if (label, "full") in g and (label, "optical") in g:
            print(f"{name}: MAE with UV {g[(label, 'full')]:.4f}, optical only {g[(label, 'optical')]:.4f} "
                  f"-> the UV divides the error by {g[(label, 'optical')] / g[(label, 'full')]:.2f} "
                  f"(paper, Table 1: {dict(ofe=0.0785/0.0367, mgfe=0.0010/0.0007)[label]:.2f})")
    n_test = int(clean["n_test"].max())
    print(f"scale {p.scale!r}: {n_test} test spectra")
    if n_test < 100:
        print("With so few spectra the transformers are data-starved and the numbers are a smoke test of the "
              "chain, not an answer to the question: build the book at the laptop or paper scale for that.")
    elif n_test < 5000:
        print("The direction of the UV effect is measured at this scale, but the networks see ~100x fewer spectra "
              "than the paper's, so their absolute errors are several times larger and the ranking of the "
              "methods on clean spectra can differ from the paper's (see the results chapter).")
    plots.mae_by_band(clean.to_dict("records"), title=f"Mean absolute error on the test split (scale {p.scale!r})")
    plt.show()

# %% [markdown] caption="fig-headline"
# The headline figure: MAE with and without the UV per method and label (scale {glue:text}`scale`, built-in
# synthesis engine, test split of the random 80/10/10 split).

# %% [markdown]
# ## How to read this book
#
# * **The data (§2)** — the grid of stellar parameters, the shipped atmospheres and line lists, the synthesis
#   engines, the CSST degradation, and what the spectra show about O and Mg.
# * **The models (§3)** — the GloCal attention mechanism and its parameters.
# * **Results (§4)** — Tables 1–3 and Figs 7–9 regenerated next to the paper's numbers; then what the paper
#   lists as future work: a leakage-free split, noise-aware training, calibrated uncertainties, which
#   wavelengths the network uses, and another element.
# * **Reproducibility** — parameters, data provenance, versions.
# * **Reference** — [the paper's figures and tables in this book](../paper_map.md) (each paper figure and table
#   and its numbered counterpart here), and the [references](../references.md).
#
# Every chapter is a notebook executed by papermill at a named scale (`ci`, `laptop`, `paper`); its
# parameters come from `notebooks/scales.yml` (its first code cell lists them) and can be changed for one run:
# `make chapter NB=05_results PARAMS="-p seed 1"`. The parameters a page ran with are in its collapsed first
# code cell; each page can be downloaded as the executed notebook (the download button at its top).
