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
# # Reproducibility
#
# Everything in this book was executed by `scripts/execute_book.py` (papermill) at one named scale, then
# built into HTML with execution switched off. This page lists what was run: the parameters of every
# chapter, the data each artifact came from, and the software versions.
#
# To rebuild: `make setup && make book SCALE=<scale>`. To re-run one chapter with other parameters:
# `make chapter NB=05_results SCALE=ci PARAMS="-p seed 1"`. The code of this page only reads records and
# tabulates them: it is collapsed.
#
# How long each step took on the machines this project ran on (setup, tests, each chapter at each scale, the
# grid builds, the engines) is recorded in `results/benchmarks/scales.md`, shown at the end of this page.

# %% tags=["parameters"]
scale = "laptop"  # ci, laptop or paper: the values of notebooks/scales.yml
overrides = {}    # this chapter reads only the scale; it accepts the common parameters and ignores them

# %% tags=["hide-input"]
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import h5py
import pandas as pd

import glocal
from glocal import book
from glocal.cache import cache_dir

p = book.chapter_parameters("07_reproducibility", scale, overrides)
root = Path(glocal.__file__).resolve().parents[1]
record = root / "results" / p.scale / "execution.json"
executed = json.loads(record.read_text()) if record.exists() else {}
pd.DataFrame({ch: {"seconds": v["seconds"], **v["parameters"]} for ch, v in executed.items()}).T

# %% [markdown] caption="tab-execution"
# What this build ran: every chapter's resolved parameters and its execution time in seconds, read from
# `results/<scale>/execution.json` (written by `scripts/execute_book.py`).

# %% [markdown]
# ## Shipped data and its provenance
#
# The runtime data in `glocal/data/` were built by `scripts/build_data.py` and `scripts/build_physics_data.py`
# from the published sources mirrored in `../shared/data`; each file carries its sources, checksums and
# citations as HDF5 attributes.

# %% tags=["hide-input"]
rows = []
for path in sorted((root / "glocal" / "data").glob("*.h5")):
    with h5py.File(path, "r") as h5:
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in h5.attrs.items()}
    rows.append({"file": path.name, "size (kB)": round(path.stat().st_size / 1024),
                 "citation": str(attrs.get("citation", attrs.get("citations", "")))[:160],
                 "built": str(attrs.get("created", attrs.get("creation_time", "")))})
pd.DataFrame(rows).set_index("file")

# %% [markdown] caption="tab-shipped-data"
# The shipped runtime data: size, citation and build date of each HDF5 file in `glocal/data/`.

# %% [markdown]
# The shipped pretrained runs (`glocal/data/pretrained/`, exported by `scripts/export_pretrained.py` from the
# laptop-scale runs of chapter 05) and what they were trained on:

# %% tags=["hide-input"]
from glocal.runs import load_run, pretrained_runs

rows = []
for name in pretrained_runs():
    run = load_run(f"pretrained:{name}")
    exp = run.provenance.get("export", {})
    test = run.metrics.get("test", {})
    rows.append({"run": f"pretrained:{name}", "band": run.config.get("band"), "pixels": run.wave.size,
                 "[O/Fe] test MAE": test.get("ofe", {}).get("mae"), "[Mg/Fe] test MAE": test.get("mgfe", {}).get("mae"),
                 "weights": exp.get("weights_dtype"), "trained on": exp.get("note", "")[:160]})
pd.DataFrame(rows) if rows else print("no pretrained runs shipped in this checkout")

# %% [markdown]
# ## Cached artifacts used by this build
#
# Grids and trained runs live in the cache directory, named by a hash of the parameters that made them.

# %% tags=["hide-input"]
rows = []
for side in sorted(cache_dir().glob("*.params.json")):
    meta = json.loads(side.read_text())
    rows.append({"artifact": side.name.removesuffix(".params.json"), "kind": meta["kind"],
                 "parameters": json.dumps(meta["params"])[:200]})
pd.DataFrame(rows)

# %% [markdown]
# ## Software

# %% tags=["hide-input"]
try:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                            text=True, check=True).stdout.strip()
except (OSError, subprocess.CalledProcessError):
    commit = "unknown"
packages = ["glocal", "numpy", "scipy", "torch", "h5py", "astropy", "pysme-astro", "xgboost", "lightgbm",
            "catboost", "dask", "matplotlib", "papermill", "jupyter-book"]
versions = {"python": platform.python_version(), "platform": platform.platform(), "git commit": commit}
for package in packages:
    try:
        versions[package] = metadata.version(package)
    except metadata.PackageNotFoundError:
        versions[package] = "not installed"
pd.Series(versions, name="version").to_frame()

# %% [markdown] caption="tab-software"
# The software this build ran with: Python, platform, git commit and the versions of the main packages.

# %% [markdown]
# ## Measured cost of each scale
#
# The record of `results/benchmarks/scales.md` (the hosts behind this project's 2-core allocation differ by
# about a factor of two in speed, so each measurement names its date, commit and host where known).

# %% tags=["remove-input"]
from IPython.display import Markdown

scales_record = root / "results" / "benchmarks" / "scales.md"
Markdown(scales_record.read_text().split("\n", 1)[1]) if scales_record.exists() else print(f"{scales_record} missing")
