"""Reproducible training runs (paper §3.3–§4): an estimator plus what a run adds on top of it.

A run is a fitted :mod:`glocal.models` estimator together with the dataset it was trained on (path,
sha256, content digest, the dataset's own provenance), the band and its wavelength grid, the
train/val/test split, and the metrics. :func:`train_run` needs no output folder; given one (``out``)
it writes the run directory::

    config.json        model name, architecture / tree settings (``model_config``), band, split,
                       seeds, training options, label names, number of pixels
    estimator.json     the estimator (hyper-parameters, label scaler; :func:`glocal.models.load`)
    model.safetensors  network weights (SPT / SPT-GloCal; average of the last epochs), or
    tree_<name>_<j>.*  tree models in their native formats (XGBoost JSON, LightGBM text, CatBoost .cbm)
    metrics.json       training history and summary, validation/test metrics (Eqs 18–19),
                       and every later :func:`evaluate_run` result
    provenance.json    dataset path, its sha256 (file) or content digest (in-memory dataset),
                       the dataset's own provenance, the wavelength grid summary
    wave.npy           the model's input wavelength grid (Å)
    split.npz          the train/val/test row indices into the dataset
    checkpoints/       per-epoch checkpoints (resume) of a network run

Run directories of format version 1 (``scaler.json`` and ``trees/`` instead of ``estimator.json``;
the shipped pretrained runs) are read as well. Nothing is pickled. Paper protocol (§4.4): models are
trained on noiseless spectra and evaluated on test spectra with Gaussian noise at S/N 30, 40, 50
(``evaluate_run(run, snr_list=[30, 40, 50])``).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import degrade as _degrade
from ._checks import check_wave_grid
from ._io import read_json, sha256_file, to_jsonable, write_json
from .dataset import Dataset, load_dataset, split_indices
from .evaluation import calibration, ensemble_stats, regression_metrics
from .models import ESTIMATOR_NAMES, MODEL_NAMES, Estimator, estimator_class
from .models import load as load_estimator
from .pretrained import PRETRAINED_DIR, export_run, pretrained_runs, resolve_run_path

__all__ = ["Run", "train_run", "load_run", "as_run", "evaluate_run", "predict", "predict_arrays",
           "predict_ensemble", "evaluate_ensemble", "train_ensemble", "export_run", "pretrained_runs",
           "resolve_run_path", "PRETRAINED_DIR", "DEFAULT_LABELS", "ALL_MODELS"]

DEFAULT_LABELS = ("ofe", "mgfe")
ALL_MODELS = ESTIMATOR_NAMES
FORMAT_VERSION = 2


# ----------------------------------------------------------------------------- datasets
def _content_digest(ds: Dataset) -> str:
    """sha256 of the wave, flux and label arrays (for datasets that are not files)."""
    h = hashlib.sha256()
    for arr in [ds.wave, ds.flux] + [ds.labels[k] for k in sorted(ds.labels)]:
        a = np.ascontiguousarray(arr)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _open_data(data) -> tuple[Dataset, dict]:
    if isinstance(data, Dataset):
        return data, {"dataset_path": getattr(data, "path", None), "dataset_sha256": None,
                      "dataset_content_sha256": _content_digest(data)}
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if not path.is_file():
            raise FileNotFoundError(f"dataset file not found: {path}")
        ds = load_dataset(path)
        return ds, {"dataset_path": str(path.resolve()), "dataset_sha256": sha256_file(path),
                    "dataset_content_sha256": _content_digest(ds)}
    raise TypeError(f"data must be a dataset path or a glocal.dataset.Dataset, got {type(data).__name__}")


def _grid_R(wave: np.ndarray) -> float:
    """Resolving power of an Eq. 8 grid (Λ_{j+1} = Λ_j (1 + 1/R)), median over the grid."""
    return float(np.median(wave[:-1] / np.diff(wave)))


# ----------------------------------------------------------------------------- Run
@dataclass
class Run:
    """A fitted estimator with everything needed to use and audit it (see module docstring).

    ``path`` is ``None`` for a run trained without an output folder. ``model`` is the network
    (a ``torch.nn.Module``) of SPT / SPT-GloCal runs and the estimator itself for the trees;
    ``scaler`` the label standardisation.
    """

    path: Path | None
    config: dict
    estimator: Estimator
    wave: np.ndarray
    metrics: dict
    provenance: dict
    split: dict
    uncertainty: dict | None = None

    @property
    def name(self) -> str:
        return self.config["model"]

    @property
    def labels(self) -> list[str]:
        return list(self.config["labels"])

    @property
    def is_neural(self) -> bool:
        return self.name in MODEL_NAMES

    @property
    def model(self):
        network = getattr(self.estimator, "network_", None)
        return network if network is not None else self.estimator

    @property
    def scaler(self):
        return self.estimator.scaler_

    def predict(self, wave, flux, **kw) -> dict:
        return predict(self, wave, flux, **kw)

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else "in memory"
        return f"Run({where!r}, model={self.name!r}, band={self.config.get('band')!r}, labels={self.labels})"


def train_run(data, model: str = "spt-glocal", band: str = "full", config="cpu", split: str = "random",
              out=None, *, labels=DEFAULT_LABELS, seed: int = 0, init_seed: int | None = None,
              fractions=(0.8, 0.1, 0.1), device: str = "auto", progress: bool = True, **train_kw) -> Run:
    """Train ``model`` on ``band`` of ``data``; write the run directory ``out`` when given.

    ``model``: a name of :data:`glocal.models.ESTIMATOR_NAMES`; ``config``: for "spt-glocal" and
    "spt" the architecture ("cpu", "paper" or a dict, :func:`glocal.models.resolve_config`), for the
    trees "cpu"/"paper" (their defaults) or a dict of tree hyper-parameters. ``band``: "full"
    (2550–10000 Å), "optical" (4000–10000), "uv" (2550–4000) or a (lo, hi) pair. ``split``: "random"
    (paper) or "grouped" (whole atmospheric models per part), with ``fractions`` and ``seed``;
    ``init_seed`` (default ``seed``) is the estimator's ``seed`` (network initialisation and training
    streams, tree randomness: deep-ensemble members differ only there). ``train_kw``: further
    hyper-parameters of the estimator (networks: max_epochs, batch_size, lr, noise_snr, …; an unknown
    one is a TypeError). ``device``/``progress`` steer a network's fit. A network run resumes from its
    checkpoints when ``out`` already holds a run with the same configuration. Returns the
    :class:`Run` (its ``metrics`` hold the training summary and the noiseless validation/test metrics).
    """
    if model not in ALL_MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {ALL_MODELS}")
    labels = [labels] if isinstance(labels, str) else list(labels)
    ds, prov = _open_data(data)
    y = ds.label_matrix(labels)
    mask = _degrade.band_mask(ds.wave, band)
    if mask.sum() < 2:
        raise ValueError(f"band {band!r} keeps {int(mask.sum())} pixels of the dataset grid "
                         f"({ds.wave[0]:.1f}–{ds.wave[-1]:.1f} Å)")
    wave = ds.wave[mask]
    idx = split_indices(ds, kind=split, fractions=fractions, seed=seed)
    if len(idx["train"]) < 2 or len(idx["val"]) < 1:
        raise ValueError(f"split leaves {len(idx['train'])} training and {len(idx['val'])} "
                         "validation rows; need at least 2 and 1")
    out = Path(out) if out is not None else None
    init = int(seed if init_seed is None else init_seed)
    est, model_config = _make_estimator(model, config, labels, init, train_kw, device=device,
                                        progress=progress, checkpoint_dir=out / "checkpoints" if out else None)
    run_config = {
        "format_version": FORMAT_VERSION, "model": model, "model_config": model_config,
        "band": band if isinstance(band, str) else [float(b) for b in band],
        "split": {"kind": split, "fractions": [float(f) for f in fractions], "seed": int(seed)},
        "seed": int(seed), "init_seed": init, "labels": labels, "n_pixels": int(mask.sum()),
        "training": {k: (list(v) if isinstance(v, tuple) else v) for k, v in train_kw.items()},
    }
    if out is not None:
        _start_run_dir(out, run_config, wave, idx)
    x = ds.flux[:, mask].astype(np.float32)
    tr, va, te = idx["train"], idx["val"], idx["test"]
    est.fit(x[tr], y[tr], X_val=x[va], y_val=y[va])
    metrics = dict(est.training_report())
    for part, rows in (("val", va), ("test", te)):
        if len(rows) >= 2:
            metrics[part] = regression_metrics(y[rows], est.predict(x[rows]), labels)
    prov_out = {**prov, "dataset_provenance": ds.provenance,
                "wave": {"n": int(wave.size), "min": float(wave[0]), "max": float(wave[-1]),
                         "R": _grid_R(wave) if wave.size > 1 else None},
                "n_rows": {k: int(len(v)) for k, v in idx.items()}}
    if out is not None:
        est.save(out)
        write_json(out / "provenance.json", prov_out)
        write_json(out / "metrics.json", metrics)
    return Run(out, run_config, est, wave, metrics, prov_out, idx)


def _make_estimator(model: str, config, labels: list[str], seed: int, train_kw: dict, **runtime):
    """The unfitted estimator of a run and its ``model_config``; ``runtime`` options it does not take
    (the trees have no device, progress bar or checkpoints) are left out."""
    cls = estimator_class(model)
    accepted = cls.param_names()
    hyper = {**train_kw, "seed": seed, "label_names": labels,
             **{k: v for k, v in runtime.items() if k in accepted}}
    return cls.from_run_config(config, len(labels), **hyper)


def _start_run_dir(out: Path, run_config: dict, wave: np.ndarray, idx: dict) -> None:
    """Create ``out`` with config.json, wave.npy and split.npz; refuse a different earlier run."""
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "config.json"
    if cfg_path.exists():
        ignore = ("created_utc", "format_version")
        old = {k: v for k, v in read_json(cfg_path, "run").items() if k not in ignore}
        if old != {k: v for k, v in to_jsonable(run_config).items() if k not in ignore}:
            raise ValueError(f"{out} already holds a run with a different configuration; "
                             "choose another directory")
    write_json(cfg_path, {**run_config, "created_utc": _dt.datetime.now(_dt.UTC).isoformat()})
    np.save(out / "wave.npy", wave)
    np.savez(out / "split.npz", **idx)


def load_run(path) -> Run:
    """Read a run directory written by :func:`train_run` or :func:`export_run` (clear errors on
    missing/corrupt files); ``"pretrained:<name>"`` loads one of the runs shipped with glocal."""
    path = resolve_run_path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"run directory not found: {path}")
    cfg = read_json(path / "config.json", "run")
    try:
        name, labels, n_pix = cfg["model"], list(cfg["labels"]), int(cfg["n_pixels"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"corrupt {path / 'config.json'}: {exc}") from None
    if name not in ALL_MODELS:
        raise ValueError(f"{path}: unknown model {name!r} in config.json")
    wave_path = path / "wave.npy"
    if not wave_path.is_file():
        raise FileNotFoundError(f"missing run file {wave_path}")
    try:
        wave = np.load(wave_path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ValueError(f"corrupt {wave_path}: {exc}") from None
    if wave.shape != (n_pix,):
        raise ValueError(f"{wave_path} has {wave.shape} points, config.json says {n_pix}")
    est = load_estimator(path)
    if est.name != name or est.label_names_ != labels or est.n_features_in_ != n_pix:
        raise ValueError(f"{path}: the estimator ({est.name}, labels {est.label_names_}, "
                         f"{est.n_features_in_} features) does not match config.json ({name}, {labels}, {n_pix})")
    split = {}
    if (path / "split.npz").is_file():
        with np.load(path / "split.npz", allow_pickle=False) as z:
            split = {k: z[k] for k in z.files}
    metrics = read_json(path / "metrics.json", "run") if (path / "metrics.json").exists() else {}
    prov = read_json(path / "provenance.json", "run")
    unc = read_json(path / "uncertainty.json", "run") if (path / "uncertainty.json").is_file() else None
    return Run(path, cfg, est, wave, metrics, prov, split, unc)


def as_run(run) -> Run:
    """``run`` itself, or the run loaded from a path / ``"pretrained:<name>"``."""
    return run if isinstance(run, Run) else load_run(run)


# ----------------------------------------------------------------------------- prediction
def _to_run_grid(run: Run, wave, flux) -> np.ndarray:
    """Flux on the run's grid: as is, picked (sub-grid), or degraded from a high-res spectrum."""
    w = check_wave_grid(wave, "wave", min_size=2)
    f = np.asarray(flux, dtype=np.float64)
    f = f[None, :] if f.ndim == 1 else f
    if f.ndim != 2 or f.shape[1] != w.size:
        raise ValueError(f"flux must be (n_pix,) or (n, n_pix) with n_pix = len(wave) = {w.size}, "
                         f"got shape {np.shape(flux)}")
    if not np.isfinite(f).all():
        raise ValueError("flux contains NaN or infinite values")
    rw = run.wave
    if w.size == rw.size and np.allclose(w, rw, rtol=1e-7, atol=0):
        return f
    pos = np.clip(np.searchsorted(w, rw), 1, w.size - 1)
    pos = np.where(np.abs(w[pos - 1] - rw) < np.abs(w[pos] - rw), pos - 1, pos)
    if np.allclose(w[pos], rw, rtol=1e-7, atol=0):           # run grid is a subset (e.g. band)
        return f[:, pos]
    r_in, r_run = _grid_R(w), _grid_R(rw)
    # same coverage as the grids were built with (§2.2: kernels truncated at the data edges, Eq. 11
    # normalised by the summed weight), so a 2550–10000 Å synthetic spectrum is accepted
    covers = w[0] <= rw[0] and w[-1] >= rw[-1]
    if r_in >= 2 * r_run and covers:
        R = round(r_run, 6)          # the Eq. 8 grid has Λ/ΔΛ = R exactly
        _, g = _degrade.degrade(w, f, R=R, grid=rw)
        return np.asarray(g, dtype=np.float64).reshape(len(f), rw.size)
    raise ValueError(
        f"wavelength grid mismatch: the run expects {rw.size} pixels on {rw[0]:.2f}–{rw[-1]:.2f} Å "
        f"(R≈{r_run:.0f}); got {w.size} pixels on {w[0]:.2f}–{w[-1]:.2f} Å (R≈{r_in:.0f}). Give the "
        "run's grid, a grid containing it, or a higher-resolution spectrum covering its range")


def predict_arrays(run, wave, flux, *, uncertainty: str = "mc_dropout", T: int = 30,
                   seed: int = 0, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``(pred, std)`` arrays (n, n_labels) in label units; see :func:`predict`."""
    run = as_run(run)
    if uncertainty not in ("mc_dropout", "none"):
        raise ValueError(f"unknown uncertainty method {uncertainty!r}; use 'mc_dropout' or 'none'")
    x = _to_run_grid(run, wave, flux).astype(np.float32)
    if uncertainty == "mc_dropout":
        return run.estimator.predict(x, return_std=True, mc_samples=T, seed=seed, batch_size=batch_size)
    pred = run.estimator.predict(x)
    return pred, np.full_like(pred, np.nan)


def predict(run, wave, flux, *, uncertainty: str = "mc_dropout", T: int = 30, seed: int = 0,
            batch_size: int = 256) -> dict:
    """Predict the run's labels for spectra ``flux`` sampled on ``wave``.

    The input is used as is on the run's grid, sub-sampled if it contains the run's grid, or
    degraded with :func:`glocal.degrade.degrade` if it is a higher-resolution spectrum covering
    it; any other grid raises ``ValueError``. ``uncertainty``: "mc_dropout" (networks: mean and
    standard deviation of ``T`` dropout passes, as SPT) or "none". Returns a table as a dict of
    1-D columns, ``{label: (n,), label + "_std": (n,)}`` (``pandas.DataFrame``-ready); the
    ``_std`` columns are NaN for trees or ``uncertainty="none"``.
    """
    run = as_run(run)
    pred, std = predict_arrays(run, wave, flux, uncertainty=uncertainty, T=T, seed=seed,
                               batch_size=batch_size)
    return _table(run.labels, pred, std)


def _table(labels, pred, std) -> dict:
    table = {}
    for j, name in enumerate(labels):
        table[name] = pred[:, j]
        table[f"{name}_std"] = std[:, j]
    return table


def train_ensemble(data, model: str = "spt-glocal", seeds=(0, 1, 2, 3, 4), out=None, *,
                   split_seed: int = 0, **kw) -> list[Run]:
    """Deep ensemble (Lakshminarayanan et al. 2017): one run per network seed, same split.

    Members live in ``out/seed_<s>`` (in memory when ``out`` is None). The data split is fixed by
    ``split_seed`` so all members see the same training rows; only the initialisation, shuffling and
    dropout differ.
    """
    if len(seeds) < 2:
        raise ValueError("an ensemble needs at least 2 seeds")
    return [train_run(data, model, out=None if out is None else Path(out) / f"seed_{s}", seed=split_seed,
                      init_seed=int(s), **kw) for s in seeds]


def predict_ensemble(runs, wave, flux) -> dict:
    """Mean and spread (ddof=1) of the members' deterministic predictions, as :func:`predict`."""
    runs = [as_run(r) for r in runs]
    if len(runs) < 2:
        raise ValueError("need at least 2 runs for an ensemble")
    if len({tuple(r.labels) for r in runs}) != 1:
        raise ValueError("ensemble members predict different labels")
    preds = np.stack([predict_arrays(r, wave, flux, uncertainty="none")[0] for r in runs])
    mean, std = ensemble_stats(preds)
    return _table(runs[0].labels, mean, std)


# ----------------------------------------------------------------------------- evaluation
def evaluate_run(run, dataset=None, snr_list=None, seed: int = 0, *, split: str = "test",
                 uncertainty: str = "none", T: int = 20, save: bool = True,
                 return_predictions: bool = False) -> dict:
    """Metrics of ``run`` on its ``split`` rows of ``dataset`` (default: the training dataset).

    Paper protocol (§4.4): noiseless test spectra, then the same spectra with Gaussian noise at
    each S/N of ``snr_list`` (σ = 1/S/N per pixel, :func:`glocal.degrade.add_noise`, seeded by
    ``(seed, S/N)``). The dataset must be the one the run was trained on (checked by content
    digest) because the split indices refer to its rows. ``uncertainty="mc_dropout"`` adds the
    68 %/95 % coverage of the MC-dropout intervals (networks). Returns ``{"noiseless": …, "snr_30": …}``,
    each ``{"metrics": {label: {mae, sigma, bias, rmse, n}}, "calibration"?: …}`` (JSON-ready);
    with ``return_predictions`` each also holds the arrays ``y_true``, ``y_pred``, ``std`` and
    the dataset ``rows`` (for Figs 7–9). The metrics are recorded in the run's ``metrics.json``
    when ``save`` (and the run has a directory) and in ``run.metrics``.
    """
    run = as_run(run)
    ds, rows = _evaluation_rows(run, dataset, split)
    y = ds.label_matrix(run.labels)[rows]
    flux = ds.flux[rows]
    with_std = uncertainty != "none" and run.estimator.uncertainty != "none"
    results = {}
    for snr in [None] + list(snr_list or []):
        if snr is None:
            key, f = "noiseless", flux
        else:
            if not np.isfinite(snr) or snr <= 0:
                raise ValueError(f"S/N values must be positive, got {snr!r}")
            key = f"snr_{snr:g}"
            f = _degrade.add_noise(flux, float(snr), np.random.default_rng([int(seed), int(round(snr * 1000))]))
        pred, std = predict_arrays(run, ds.wave, f, T=T, seed=seed, uncertainty=uncertainty if with_std else "none")
        entry = {"metrics": regression_metrics(y, pred, run.labels)}
        if with_std:
            entry["calibration"] = calibration(y, pred, std, run.labels)
        if return_predictions:
            entry.update(y_true=y, y_pred=pred, std=std, rows=rows)
        results[key] = entry
    if save:
        _record_evaluation(run, results, split, seed)
    return results


def _evaluation_rows(run: Run, dataset, split: str) -> tuple[Dataset, np.ndarray]:
    if dataset is None:
        dataset = run.provenance.get("dataset_path")
        if not dataset:
            raise ValueError("this run was trained on an in-memory dataset: pass it as `dataset`")
    ds, prov = _open_data(dataset)
    if prov["dataset_content_sha256"] != run.provenance.get("dataset_content_sha256"):
        raise ValueError("dataset differs from the one this run was trained on (content sha256 "
                         "mismatch); the stored split indices would not apply")
    if split not in run.split:
        raise ValueError(f"unknown split {split!r}; run has {sorted(run.split)}")
    rows = run.split[split]
    if len(rows) < 2:
        raise ValueError(f"split {split!r} has {len(rows)} rows; need at least 2")
    return ds, rows


def _record_evaluation(run: Run, results: dict, split: str, seed: int) -> None:
    path = run.path / "metrics.json" if run.path is not None else None
    metrics = read_json(path, "run") if path is not None and path.exists() else dict(run.metrics)
    ev = metrics.setdefault("evaluation", {})
    for key, e in results.items():
        ev[f"{split}/{key}"] = {k: e[k] for k in ("metrics", "calibration") if k in e}
        ev[f"{split}/{key}"]["seed"] = int(seed)
    if path is not None:
        write_json(path, metrics)
    run.metrics = metrics


def evaluate_ensemble(runs, dataset=None, snr_list=None, seed: int = 0, *, split: str = "test",
                      return_predictions: bool = False) -> dict:
    """Deep-ensemble metrics and 68 %/95 % coverage on the members' common ``split`` rows.

    Same protocol as :func:`evaluate_run` (noiseless, then each S/N with the same seeded noise
    for every member); the ensemble prediction is the members' mean and its uncertainty their
    standard deviation (ddof=1). Members must share the dataset and the split.
    """
    runs = [as_run(r) for r in runs]
    if len(runs) < 2:
        raise ValueError("need at least 2 runs for an ensemble")
    first = runs[0]
    for r in runs[1:]:
        if r.labels != first.labels:
            raise ValueError("ensemble members predict different labels")
        if split not in r.split or not np.array_equal(r.split[split], first.split.get(split)):
            raise ValueError(f"ensemble members do not share the {split!r} rows")
        if r.provenance.get("dataset_content_sha256") != first.provenance.get("dataset_content_sha256"):
            raise ValueError("ensemble members were trained on different datasets")
    per = [evaluate_run(r, dataset, snr_list, seed, split=split, save=False,
                        return_predictions=True) for r in runs]
    out = {}
    for key in per[0]:
        y = per[0][key]["y_true"]
        mean, std = ensemble_stats(np.stack([p[key]["y_pred"] for p in per]))
        entry = {"metrics": regression_metrics(y, mean, first.labels),
                 "calibration": calibration(y, mean, std, first.labels)}
        if return_predictions:
            entry.update(y_true=y, y_pred=mean, std=std, rows=per[0][key]["rows"])
        out[key] = entry
    return out
