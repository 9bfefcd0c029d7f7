"""Reproducible training runs: one directory per trained model (paper §3.3–§4).

Layout of a run directory::

    config.json        model name and full hyper-parameters, band, split, seed, training
                       parameters, label names, number of pixels
    model.safetensors  network weights (SPT / SPT-GloCal; average of the last epochs)
    trees/             tree models in their native formats (XGBoost JSON, LightGBM text,
                       CatBoost .cbm) + trees.json
    scaler.json        label standardisation (training-split mean and std)
    metrics.json       training history and summary, validation/test metrics (Eqs 18–19),
                       and every later :func:`evaluate_run` result
    provenance.json    dataset path, its sha256 (file) or content digest (in-memory dataset),
                       the dataset's own provenance, the wavelength grid summary
    wave.npy           the model's input wavelength grid (Å)
    split.npz          the train/val/test row indices into the dataset
    checkpoints/       per-epoch checkpoints (resume) of a network run

Nothing is pickled: JSON, ``.npy``/``.npz`` without object arrays, safetensors, native tree files.
Paper protocol (§4.4): models are trained on noiseless spectra and evaluated on test spectra with
Gaussian noise at S/N 30, 40, 50 (``evaluate_run(run, snr_list=[30, 40, 50])``).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from . import degrade as _degrade
from ._io import sha256_file
from .dataset import Dataset, load_dataset, split_indices
from .evaluation import calibration, ensemble_stats, regression_metrics
from .models import MODEL_NAMES, TREE_KINDS, TreeRegressor, build, count_parameters, resolve_config
from .models.spt import mc_dropout_predict
from .training import LabelScaler, predict_array, train_model

__all__ = ["Run", "train_run", "load_run", "evaluate_run", "predict", "predict_arrays",
           "predict_ensemble", "evaluate_ensemble",
           "train_ensemble", "DEFAULT_LABELS", "ALL_MODELS"]

DEFAULT_LABELS = ("ofe", "mgfe")
ALL_MODELS = tuple(MODEL_NAMES) + tuple(TREE_KINDS)
FORMAT_VERSION = 1


# ----------------------------------------------------------------------------- helpers
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


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=_json_default))
    os.replace(tmp, path)


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"missing run file {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"corrupt run file {path}: {exc}") from None


def _grid_R(wave: np.ndarray) -> float:
    """Resolving power of an Eq. 8 grid (Λ_{j+1} = Λ_j (1 + 1/R)), median over the grid."""
    return float(np.median(wave[:-1] / np.diff(wave)))


def _check_wave(wave) -> np.ndarray:
    w = np.asarray(wave, dtype=np.float64)
    if w.ndim != 1 or w.size < 2:
        raise ValueError(f"wave must be 1-D with at least 2 points, got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("wave contains NaN or infinite values")
    if np.any(np.diff(w) <= 0):
        raise ValueError("wave must be strictly increasing (sort the spectrum first)")
    return w


# ----------------------------------------------------------------------------- Run
@dataclass
class Run:
    """A trained model with everything needed to use and audit it (see module docstring)."""

    path: Path
    config: dict
    model: object
    scaler: LabelScaler
    wave: np.ndarray
    metrics: dict
    provenance: dict
    split: dict

    @property
    def name(self) -> str:
        return self.config["model"]

    @property
    def labels(self) -> list[str]:
        return list(self.config["labels"])

    @property
    def is_neural(self) -> bool:
        return self.name in MODEL_NAMES

    def predict(self, wave, flux, **kw) -> dict:
        return predict(self, wave, flux, **kw)

    def __repr__(self) -> str:
        return (f"Run({str(self.path)!r}, model={self.name!r}, band={self.config.get('band')!r}, "
                f"labels={self.labels})")


def train_run(data, model: str = "spt-glocal", band: str = "full", config="cpu",
              split: str = "random", out=None, *, labels=DEFAULT_LABELS, seed: int = 0,
              init_seed: int | None = None, fractions=(0.8, 0.1, 0.1), device: str = "auto",
              progress: bool = True, **train_kw) -> Run:
    """Train ``model`` on ``band`` of ``data`` and write a run directory ``out``.

    ``model``: "spt-glocal", "spt" (``config``: "cpu", "paper" or a dict, see
    :func:`glocal.models.resolve_config`) or "xgboost", "lightgbm", "catboost" (``config``: "cpu"
    for the defaults of :mod:`glocal.models.trees` or a dict of tree parameters).
    ``band``: "full" (2550–10000 Å), "optical" (4000–10000), "uv" (2550–4000) or a (lo, hi) pair.
    ``split``: "random" (paper) or "grouped" (whole atmospheric models per part), with
    ``fractions`` and ``seed``; ``init_seed`` (default ``seed``) seeds the network
    initialisation and training stream (deep-ensemble members differ only there).
    ``train_kw`` go to :func:`glocal.training.train_model` (max_epochs, batch_size, lr,
    noise_snr, …). A network run resumes from its checkpoints when ``out`` already holds a run
    with the same configuration. Returns the :class:`Run` (its ``metrics`` hold the training
    summary and the noiseless validation/test metrics).
    """
    if model not in ALL_MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {ALL_MODELS}")
    if out is None:
        raise ValueError("out (the run directory) is required")
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
    neural = model in MODEL_NAMES
    if neural:
        cfg = resolve_config(dict(config, n_outputs=len(labels)) if isinstance(config, dict)
                             else {"base": config, "n_outputs": len(labels)})
    else:
        if config in ("cpu", None, "default"):
            cfg = {}
        elif isinstance(config, dict):
            cfg = dict(config)
        else:
            raise ValueError(f"tree config must be 'cpu' (defaults) or a dict, got {config!r}")
        TreeRegressor(model, **cfg)                      # validates the keys
    run_config = {
        "format_version": FORMAT_VERSION, "model": model, "model_config": cfg,
        "band": band if isinstance(band, str) else [float(b) for b in band],
        "split": {"kind": split, "fractions": [float(f) for f in fractions], "seed": int(seed)},
        "seed": int(seed), "init_seed": int(seed if init_seed is None else init_seed),
        "labels": labels, "n_pixels": int(mask.sum()),
        "training": {k: (list(v) if isinstance(v, tuple) else v) for k, v in train_kw.items()},
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "config.json"
    if cfg_path.exists():
        old = _read_json(cfg_path)
        old.pop("created_utc", None)
        if json.loads(json.dumps(old, default=_json_default)) != \
                json.loads(json.dumps(run_config, default=_json_default)):
            raise ValueError(f"{out} already holds a run with a different configuration; "
                             "choose another directory")
    _write_json(cfg_path, {**run_config, "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat()})
    np.save(out / "wave.npy", wave)
    np.savez(out / "split.npz", **idx)

    x = ds.flux[:, mask].astype(np.float32)
    tr, va, te = idx["train"], idx["val"], idx["test"]
    scaler = LabelScaler.fit(y[tr], labels)
    metrics: dict = {}
    if neural:
        init = int(seed if init_seed is None else init_seed)
        torch.manual_seed(init)
        net = build(model, cfg, n_pixels=int(mask.sum()))
        res = train_model(net, x[tr], y[tr], x[va], y[va], label_names=labels, seed=init,
                          device=device, run_dir=out / "checkpoints", progress=progress,
                          scaler=scaler, **train_kw)
        save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()},
                  str(out / "model.safetensors"),
                  metadata={"model": model, "n_pixels": str(int(mask.sum()))})
        metrics["training"] = res.to_dict()
        metrics["n_parameters"] = count_parameters(net)
        fitted = net
    else:
        if train_kw:
            raise ValueError(f"training options {sorted(train_kw)} do not apply to tree models")
        tree_cfg = {"random_state": int(seed if init_seed is None else init_seed), **cfg}
        fitted = TreeRegressor(model, **tree_cfg).fit(x[tr], scaler.transform(y[tr]))
        fitted.save(out / "trees")
    _write_json(out / "scaler.json", scaler.to_dict())
    prov_out = {**prov, "dataset_provenance": ds.provenance,
                "wave": {"n": int(wave.size), "min": float(wave[0]), "max": float(wave[-1]),
                         "R": _grid_R(wave) if wave.size > 1 else None},
                "n_rows": {k: int(len(v)) for k, v in idx.items()}}
    _write_json(out / "provenance.json", prov_out)
    run = Run(out, {**run_config}, fitted, scaler, wave, metrics, prov_out, idx)
    for part, rows in (("val", va), ("test", te)):
        if len(rows) >= 2:
            pred = _predict_array(run, x[rows])
            metrics[part] = regression_metrics(y[rows], pred, labels)
    _write_json(out / "metrics.json", metrics)
    return run


def load_run(path) -> Run:
    """Read a run directory written by :func:`train_run` or :func:`export_run` (clear errors on
    missing/corrupt files); ``"pretrained:<name>"`` loads one of the runs shipped with glocal."""
    path = resolve_run_path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"run directory not found: {path}")
    cfg = _read_json(path / "config.json")
    try:
        name, labels, n_pix = cfg["model"], cfg["labels"], int(cfg["n_pixels"])
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
    scaler = LabelScaler.from_dict(_read_json(path / "scaler.json"))
    if scaler.names != list(labels):
        raise ValueError(f"{path}: scaler labels {scaler.names} differ from config labels {labels}")
    if name in MODEL_NAMES:
        wpath = path / "model.safetensors"
        if not wpath.is_file():
            raise FileNotFoundError(f"missing run file {wpath}")
        model = build(name, cfg["model_config"], n_pixels=n_pix)
        try:
            state = load_file(str(wpath))
            model.load_state_dict(state)
        except Exception as exc:
            raise ValueError(f"cannot load weights {wpath}: {exc}") from None
        model.eval()
    else:
        model = TreeRegressor.load(path / "trees")
    split = {}
    if (path / "split.npz").is_file():
        with np.load(path / "split.npz", allow_pickle=False) as z:
            split = {k: z[k] for k in z.files}
    metrics = _read_json(path / "metrics.json") if (path / "metrics.json").exists() else {}
    prov = _read_json(path / "provenance.json")
    return Run(path, cfg, model, scaler, wave, metrics, prov, split)


def _as_run(run) -> Run:
    return run if isinstance(run, Run) else load_run(run)


# ----------------------------------------------------------------------------- shipped runs
#: Runs shipped with glocal (made by ``scripts/export_pretrained.py``; provenance in each
#: directory's ``provenance.json`` and ``glocal/data/pretrained/README.md``).
PRETRAINED_DIR = Path(__file__).parent / "data" / "pretrained"


def pretrained_runs() -> list[str]:
    """Names of the shipped runs, for ``load_run("pretrained:<name>")``."""
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / "config.json").is_file())


def resolve_run_path(spec) -> Path:
    """A run directory from a path or from ``"pretrained:<name>"`` (e.g. ``pretrained:spt-glocal-full``)."""
    if isinstance(spec, str) and spec.startswith("pretrained:"):
        name = spec.split(":", 1)[1]
        if name not in pretrained_runs():
            raise ValueError(f"no shipped run {name!r}; available: {', '.join(pretrained_runs()) or 'none'}")
        return PRETRAINED_DIR / name
    return Path(spec)


def export_run(run, out, *, half: bool = True, note: str = "", check_flux=None, tolerance: float = 2e-3) -> Path:
    """Write a compact, inference-only copy of a network run to ``out`` (a new directory).

    Keeps config, scaler, wavelength grid, metrics and provenance; drops checkpoints and the
    split indices; stores the parameters as float16 safetensors when ``half`` (cast back to float32
    on loading; buffers such as the input normalisation stay float32). The exported run's predictions on ``check_flux`` (spectra on the run's
    grid, e.g. its test split; default: 16 random spectra) must agree with the source run's within
    ``tolerance`` dex. The directory appears atomically (written under a temporary name, then renamed).
    """
    import shutil
    src = _as_run(run)
    if not src.is_neural:
        raise ValueError(f"export_run handles network runs, not {src.name!r}")
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists; remove it first")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ("config.json", "scaler.json", "wave.npy", "metrics.json"):
        if (src.path / name).is_file():
            shutil.copy2(src.path / name, tmp / name)
    # parameters in float16; buffers (the input normalisation: mean spectrum and scale, whose rounding
    # the 1/rms scaling would amplify ~30x) stay float32
    buffers = {k for k, _ in src.model.named_buffers()}
    state = {k: v.detach().to(torch.float16 if half and v.is_floating_point() and k not in buffers
                              else v.dtype).contiguous()
             for k, v in src.model.state_dict().items()}
    save_file(state, str(tmp / "model.safetensors"),
              metadata={"glocal_format": str(FORMAT_VERSION), "dtype": "float16" if half else "float32"})
    prov = dict(src.provenance)
    prov["export"] = {"source_run": str(src.path), "weights_dtype": "float16" if half else "float32",
                      "exported_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(), "note": note}
    _write_json(tmp / "provenance.json", prov)
    exported = load_run(tmp)
    if check_flux is None:
        x = 1.0 - 0.3 * np.random.default_rng(0).random((16, src.wave.size))
    else:
        x = np.atleast_2d(np.asarray(check_flux, np.float32))
    diff = np.abs(_predict_array(exported, x) - _predict_array(src, x)).max()
    if diff > tolerance:
        shutil.rmtree(tmp)
        raise RuntimeError(f"exported weights change predictions by {diff:.2e} dex (> {tolerance:g})")
    prov["export"]["max_prediction_change_dex"] = float(diff)
    _write_json(tmp / "provenance.json", prov)
    os.replace(tmp, out)
    return out


# ----------------------------------------------------------------------------- prediction
def _to_run_grid(run: Run, wave, flux) -> np.ndarray:
    """Flux on the run's grid: as is, picked (sub-grid), or degraded from a high-res spectrum."""
    w = _check_wave(wave)
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


def _predict_array(run: Run, x: np.ndarray) -> np.ndarray:
    if run.is_neural:
        return run.scaler.inverse(predict_array(run.model, x))
    return run.scaler.inverse(run.model.predict(x))


def predict_arrays(run, wave, flux, *, uncertainty: str = "mc_dropout", T: int = 30,
                   seed: int = 0, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``(pred, std)`` arrays (n, n_labels) in label units; see :func:`predict`."""
    run = _as_run(run)
    if uncertainty not in ("mc_dropout", "none"):
        raise ValueError(f"unknown uncertainty method {uncertainty!r}; use 'mc_dropout' or 'none'")
    x = _to_run_grid(run, wave, flux).astype(np.float32)
    if run.is_neural and uncertainty == "mc_dropout":
        mean, std = mc_dropout_predict(run.model, x, T=T, seed=seed, batch_size=batch_size)
        return run.scaler.inverse(mean), run.scaler.inverse_std(std)
    pred = _predict_array(run, x)
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
    run = _as_run(run)
    pred, std = predict_arrays(run, wave, flux, uncertainty=uncertainty, T=T, seed=seed,
                               batch_size=batch_size)
    table = {}
    for j, name in enumerate(run.labels):
        table[name] = pred[:, j]
        table[f"{name}_std"] = std[:, j]
    return table


def train_ensemble(data, model: str = "spt-glocal", seeds=(0, 1, 2, 3, 4), out=None, *,
                   split_seed: int = 0, **kw) -> list[Run]:
    """Deep ensemble (Lakshminarayanan et al. 2017): one run per network seed, same split.

    Members live in ``out/seed_<s>``. The data split is fixed by ``split_seed`` so all members
    see the same training rows; only the initialisation, shuffling and dropout differ.
    """
    if out is None:
        raise ValueError("out is required")
    if len(seeds) < 2:
        raise ValueError("an ensemble needs at least 2 seeds")
    runs = []
    for s in seeds:
        runs.append(train_run(data, model, out=Path(out) / f"seed_{s}", seed=split_seed,
                              init_seed=int(s), **kw))
    return runs


def predict_ensemble(runs, wave, flux) -> dict:
    """Mean and spread (ddof=1) of the members' deterministic predictions, as :func:`predict`."""
    runs = [_as_run(r) for r in runs]
    if len(runs) < 2:
        raise ValueError("need at least 2 runs for an ensemble")
    if len({tuple(r.labels) for r in runs}) != 1:
        raise ValueError("ensemble members predict different labels")
    preds = np.stack([predict_arrays(r, wave, flux, uncertainty="none")[0] for r in runs])
    mean, std = ensemble_stats(preds)
    table = {}
    for j, name in enumerate(runs[0].labels):
        table[name] = mean[:, j]
        table[f"{name}_std"] = std[:, j]
    return table


# ----------------------------------------------------------------------------- evaluation
def evaluate_run(run, dataset=None, snr_list=None, seed: int = 0, *, split: str = "test",
                 uncertainty: str = "none", T: int = 20, save: bool = True,
                 return_predictions: bool = False) -> dict:
    """Metrics of ``run`` on its ``split`` rows of ``dataset`` (default: the training dataset).

    Paper protocol (§4.4): noiseless test spectra, then the same spectra with Gaussian noise at
    each S/N of ``snr_list`` (σ = 1/S/N per pixel, :func:`glocal.degrade.add_noise`, seeded by
    ``(seed, S/N)``). The dataset must be the one the run was trained on (checked by content
    digest) because the split indices refer to its rows. ``uncertainty="mc_dropout"`` adds the
    68 %/95 % coverage of the MC-dropout intervals. Returns ``{"noiseless": …, "snr_30": …}``,
    each ``{"metrics": {label: {mae, sigma, bias, rmse, n}}, "calibration"?: …}`` (JSON-ready);
    with ``return_predictions`` each also holds the arrays ``y_true``, ``y_pred``, ``std`` and
    the dataset ``rows`` (for Figs 7–9). The metrics are recorded in ``metrics.json`` when
    ``save``.
    """
    run = _as_run(run)
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
    y = ds.label_matrix(run.labels)[rows]
    flux = ds.flux[rows]
    results = {}
    for snr in [None] + list(snr_list or []):
        if snr is None:
            key, f = "noiseless", flux
        else:
            if not np.isfinite(snr) or snr <= 0:
                raise ValueError(f"S/N values must be positive, got {snr!r}")
            key = f"snr_{snr:g}"
            f = _degrade.add_noise(flux, float(snr), np.random.default_rng([int(seed), int(round(snr * 1000))]))
        pred, std = predict_arrays(run, ds.wave, f, T=T, seed=seed,
                                   uncertainty=uncertainty if run.is_neural else "none")
        entry = {"metrics": regression_metrics(y, pred, run.labels)}
        if uncertainty != "none" and run.is_neural:
            entry["calibration"] = calibration(y, pred, std, run.labels)
        if return_predictions:
            entry.update(y_true=y, y_pred=pred, std=std, rows=rows)
        results[key] = entry
    if save:
        metrics = _read_json(run.path / "metrics.json") if (run.path / "metrics.json").exists() else {}
        ev = metrics.setdefault("evaluation", {})
        for key, e in results.items():
            ev[f"{split}/{key}"] = {k: e[k] for k in ("metrics", "calibration") if k in e}
            ev[f"{split}/{key}"]["seed"] = int(seed)
        _write_json(run.path / "metrics.json", metrics)
        run.metrics = metrics
    return results


def evaluate_ensemble(runs, dataset=None, snr_list=None, seed: int = 0, *, split: str = "test",
                      return_predictions: bool = False) -> dict:
    """Deep-ensemble metrics and 68 %/95 % coverage on the members' common ``split`` rows.

    Same protocol as :func:`evaluate_run` (noiseless, then each S/N with the same seeded noise
    for every member); the ensemble prediction is the members' mean and its uncertainty their
    standard deviation (ddof=1). Members must share the dataset and the split.
    """
    runs = [_as_run(r) for r in runs]
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
