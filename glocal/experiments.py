"""The book's experiments (paper §4): cached grids and runs, the tables, the headline record.

Chapters call these so that they stay thin and share artifacts: a grid or a trained run is
identified by the parameters that made it (:mod:`glocal.cache`), so the results chapter, the
"beyond the paper" chapter and a re-execution with one changed parameter reuse what they can.

Paper numbers quoted next to ours come from Zhang et al. (2025), Tables 1–3.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ._io import read_json, to_jsonable, write_json
from .cache import artifact

__all__ = ["PAPER_TABLE1", "PAPER_TABLE2", "PAPER_TABLE3", "grid_dataset", "trained_run",
           "metrics_records", "write_headline", "compare_with_paper"]

# Zhang et al. (2025), Table 1: SPT-GloCal, (sigma, MAE) per band and label.
PAPER_TABLE1 = {("full", "ofe"): (0.0629, 0.0367), ("full", "mgfe"): (0.0068, 0.0007),
                ("optical", "ofe"): (0.1346, 0.0785), ("optical", "mgfe"): (0.0541, 0.0010)}
# Table 2: full band, (sigma, MAE) per method and label.
PAPER_TABLE2 = {("xgboost", "ofe"): (0.1262, 0.0615), ("xgboost", "mgfe"): (0.0401, 0.0071),
                ("lightgbm", "ofe"): (0.1358, 0.0640), ("lightgbm", "mgfe"): (0.0521, 0.0096),
                ("catboost", "ofe"): (0.1269, 0.0617), ("catboost", "mgfe"): (0.0401, 0.0073),
                ("spt", "ofe"): (0.0736, 0.0453), ("spt", "mgfe"): (0.0079, 0.0007),
                ("spt-glocal", "ofe"): (0.0629, 0.0367), ("spt-glocal", "mgfe"): (0.0068, 0.0006)}
# Table 3: (sigma, MAE) per label, S/N and method.
_T3 = {"ofe": {30: [(0.6826, 0.8314), (0.6951, 0.8412), (0.6862, 0.8438), (0.3676, 0.1375), (0.3526, 0.1314)],
               40: [(0.3674, 0.1793), (0.3779, 0.1808), (0.3817, 0.1728), (0.3221, 0.1327), (0.3131, 0.1221)],
               50: [(0.3258, 0.1229), (0.3081, 0.1326), (0.3271, 0.1340), (0.2271, 0.0907), (0.2215, 0.0776)]},
       "mgfe": {30: [(0.2923, 0.0942), (0.2806, 0.0934), (0.2905, 0.0891), (0.1415, 0.0600), (0.1357, 0.0543)],
                40: [(0.1860, 0.0590), (0.2031, 0.0633), (0.1957, 0.0717), (0.0923, 0.0515), (0.0921, 0.0497)],
                50: [(0.1654, 0.0476), (0.1533, 0.0406), (0.1323, 0.0391), (0.0568, 0.0313), (0.0487, 0.0223)]}}
METHODS = ("xgboost", "lightgbm", "catboost", "spt", "spt-glocal")
PAPER_TABLE3 = {(m, lab, snr): v for lab, rows in _T3.items() for snr, vals in rows.items()
                for m, v in zip(METHODS, vals)}


def grid_dataset(preset: str, *, engine: str = "builtin", seed: int = 0, variants="paper",
                 workers: int = 2, engine_options: dict | None = None, progress: bool = True,
                 n_models: int | None = None) -> Path:
    """Path of the R=200 dataset of ``preset`` (built with :func:`glocal.build.build_grid` once, cached).

    ``engine``: a name of :func:`glocal.synthesis.available_engines` (default: the built-in engine);
    ``engine_options`` its options.
    ``variants`` is "paper" (16 per model, §2.1), "joint", or a list of abundance dicts (e.g. with
    "C" or "Ca" for the other-element study). ``n_models`` keeps that many of the preset's models,
    evenly spaced in model id (a smaller grid for side studies). A killed build resumes on the next call.
    """
    from .atmospheres import in_coverage
    from .build import build_grid
    from .grid import preset_grid

    params = {"preset": preset, "engine": engine, "seed": seed, "variants": variants,
              "engine_options": engine_options or {}}
    nodes = preset
    if n_models is not None:
        params["n_models"] = int(n_models)
        allowed = preset_grid(preset, seed=seed, exclude=lambda t, g, f: ~in_coverage(t, g, f))
        if not 1 <= n_models <= allowed.size:
            raise ValueError(f"n_models must be in [1, {allowed.size}] for preset {preset!r}, got {n_models}")
        nodes = allowed[np.unique(np.linspace(0, allowed.size - 1, int(n_models)).round().astype(int))]

    def build(path: Path):
        summary = build_grid(nodes, path, engine=engine, workers=workers, variants=variants, seed=seed,
                             engine_options=engine_options, progress=progress)
        if summary.get("n_failed"):
            print(f"warning: {summary['n_failed']} model(s) failed and are recorded in {path}: "
                  f"{summary.get('failed')}")

    return artifact("grid", params, build, suffix=".h5")


def trained_run(data: Path, model: str, *, band: str = "full", split: str = "random", config="cpu",
                seed: int = 0, init_seed: int | None = None, labels=("ofe", "mgfe"), train: dict | None = None,
                progress: bool = False):
    """A trained :class:`glocal.runs.Run`, trained once per parameter set (and resumed if interrupted).

    ``seed`` fixes the data split; ``init_seed`` (default ``seed``) the network initialisation, so
    deep-ensemble members share a split and differ only there.
    """
    from .models import TREE_KINDS
    from .runs import load_run, train_run

    data = Path(data)
    params = {"data": data.name, "model": model, "band": band, "split": split, "config": config,
              "seed": seed, "labels": list(labels), "train": train or {}}
    if init_seed is not None and init_seed != seed:
        params["init_seed"] = init_seed
    # ``train`` holds the networks' training options; the trees' settings come through ``config``
    kw = {} if model in TREE_KINDS else dict(train or {})

    def build(path: Path):
        train_run(data, model=model, band=band, config=config, split=split, out=path, seed=seed,
                  init_seed=init_seed, labels=list(labels), progress=progress, **kw)

    return load_run(artifact("run", params, build))


def metrics_records(run, results: dict, *, scale: str, split: str | None = None,
                    extra: dict | None = None) -> list[dict]:
    """Flatten :func:`glocal.runs.evaluate_run` output into headline records (one per label and S/N)."""
    out = []
    run_split = run.config.get("split")
    run_split = run_split.get("kind") if isinstance(run_split, dict) else run_split
    for key, entry in results.items():
        snr = None if key == "noiseless" else float(key.split("_", 1)[1])
        for label, m in entry["metrics"].items():
            rec = {"method": run.name, "band": run.config.get("band"), "split": split or run_split,
                   "snr": snr, "label": label, "mae": m["mae"], "sigma": m["sigma"], "bias": m["bias"],
                   "n_test": m["n"], "scale": scale, "study": "paper"}
            if "calibration" in entry and label in entry["calibration"]:
                rec["coverage"] = entry["calibration"][label]
            rec.update(extra or {})
            out.append(rec)
    return out


def write_headline(records: Iterable[dict], scale: str, root: Path | None = None, *,
                   replace: dict | None = None) -> Path:
    """Merge ``records`` into ``results/<scale>/headline.json``.

    A record replaces an earlier one with the same (method, band, split, snr, label, study), so
    chapters can each contribute their part and re-executions overwrite stale numbers.
    """
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1] / "results"
    path = root / scale / "headline.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    old = read_json(path, "headline") if path.exists() else []

    def key(r):
        return r["method"], r["band"], r["split"], r["snr"], r["label"], r.get("study", "paper")

    merged = {key(r): r for r in old}
    for r in records:
        merged[key(r)] = to_jsonable(r)
    write_json(path, sorted(merged.values(), key=lambda r: tuple(str(x) for x in key(r))))
    return path


def compare_with_paper(records: list[dict], paper: dict, key_fields: tuple[str, ...]):
    """A pandas table of our (σ, MAE) next to the paper's for the keys of ``paper``."""
    import pandas as pd
    rows = []
    for key, (p_sigma, p_mae) in paper.items():
        sel = [r for r in records if tuple(r[f] for f in key_fields) == key]
        ours = sel[0] if sel else {}
        rows.append({**dict(zip(key_fields, key)), "σ (ours)": ours.get("sigma", np.nan),
                     "σ (paper)": p_sigma, "MAE (ours)": ours.get("mae", np.nan), "MAE (paper)": p_mae,
                     "n_test": ours.get("n_test", np.nan)})
    return pd.DataFrame(rows).set_index(list(key_fields))
