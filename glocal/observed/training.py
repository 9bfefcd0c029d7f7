"""Runs for observed spectra: five labels, either input kind, any coverage that keeps the minimum band.

:func:`train_observed_run` trains one estimator for one input kind (:data:`glocal.augment.KINDS`) on
a grid built for real stars (``glocal grid build --preset realstars``: continuous atmospheres, joint
[O/Fe]–[Mg/Fe] variants, the continuum stored with F/F_c) and writes a run directory that
:func:`glocal.runs.load_run` reads and ``glocal predict`` uses.  The recipe:

1. **Split by atmosphere.**  The atmospheres (``model_id``; 20 abundance variants each) are
   shuffled with ``seed`` and cut into train / val / calibration / test parts (``fractions``), so
   that no atmosphere seen in training is used to stop, calibrate or test.
2. **Augmentation** (:func:`glocal.augment.augment`, reproducible from ``seed``): every training
   spectrum in ``copies`` independent draws of radial velocity (±500 km/s), noise (S/N 20–150),
   reddening (E(B−V) 0–0.5, G23) and calibration error (calibrated kind), coverage cuts that keep
   ``min_band`` and 0–2 % bad pixels; masked pixels are NaN.  Validation and calibration spectra:
   the same distribution, 1 and ``calibration_copies`` draws.  Test spectra: S/N 30–100
   (:data:`TEST_AUGMENT`), ``test_copies`` draws.
3. **Estimator**: any of :data:`glocal.models.ESTIMATOR_NAMES` with ``missing=True`` (NaN = not
   measured: the networks' mask embedding, the trees' native missing values), fitted on the five
   labels :data:`OBSERVED_LABELS` with early stopping on the validation part.
4. **Uncertainty**: the model's spread (MC dropout, ``mc_samples`` passes) is calibrated on the
   calibration part by normalised split conformal regression (:mod:`glocal.conformal`) at 68 % and
   95 %; ``uncertainty.json`` holds the factors.  Trees (no spread) get σ = 1 for every spectrum,
   so their intervals are constant-width conformal intervals.  :func:`recalibrate_observed_run` refits
   them on calibration spectra augmented like the test spectra (the shipped calibrated run).
5. **Domain model** (:mod:`glocal.observed.domain`, ``domain.npz``): the principal components of the
   noiseless training spectra of the kind and the 99th percentile of the calibration spectra's misfit,
   by which ``glocal predict`` flags inputs unlike the training spectra.
6. **Test metrics** (``metrics.json`` → ``observed_test``): MAE, bias and scatter per label,
   coverage of the 68 % and 95 % intervals, and — calibrated kind — the mean |Δ| of every label
   between each test spectrum at E(B−V) = 0 and 0.5 with all other draws equal.

The run also records the training labels' ranges (``config.json`` → ``observed.label_ranges``), by
which ``glocal predict`` flags answers outside the training domain.
"""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .._io import read_json, write_json
from ..augment import KINDS, AugmentConfig, augment
from ..conformal import ConformalScale, fit_conformal, interval_coverage
from .domain import DOMAIN_FILE, fit_domain

__all__ = ["OBSERVED_LABELS", "TEST_AUGMENT", "ObservedTraining", "split_by_atmosphere", "augmented_set",
           "train_observed_run", "attach_domain", "observed_test_metrics", "UNCERTAINTY_FILE"]

#: The labels of an observed-spectra run, in this order.
OBSERVED_LABELS = ("teff", "logg", "feh", "ofe", "mgfe")
#: Augmentation of the held-out test spectra: the issue's S/N 30–100, otherwise the defaults.
TEST_AUGMENT = AugmentConfig(snr=(30.0, 100.0))
#: The conformal calibration of a run directory.
UNCERTAINTY_FILE = "uncertainty.json"


@dataclass(frozen=True)
class ObservedTraining:
    """Settings of :func:`train_observed_run` (module docstring).  ``network``: architecture
    overrides of the "cpu" config for the networks; ``fractions``: train, val, calibration, test
    parts of the atmospheres; the training options are those of :class:`glocal.training.TrainOptions`;
    ``init_from``: a network run whose weights start the training (fine-tuning, e.g. a shipped run on a grid
    with the same atmospheres; :class:`glocal.models.network.NetworkEstimator`), None for a random start."""

    model: str = "spt-glocal"
    network: tuple = ()
    copies: int = 6
    calibration_copies: int = 2
    test_copies: int = 2
    fractions: tuple = (0.80, 0.05, 0.075, 0.075)
    max_epochs: int = 8
    batch_size: int = 128
    lr: float = 5e-4
    lr_step: int = 2
    lr_gamma: float = 0.6
    patience: int = 3
    average_last: int = 2
    mc_samples: int = 30
    seed: int = 0
    augment: AugmentConfig = AugmentConfig()
    init_from: str | None = None

    def __post_init__(self):
        f = np.asarray(self.fractions, dtype=float)
        if f.shape != (4,) or (f <= 0).any() or abs(f.sum() - 1.0) > 1e-9:
            raise ValueError(f"fractions must be 4 positive numbers summing to 1, got {self.fractions!r}")
        for key in ("copies", "calibration_copies", "test_copies", "max_epochs", "mc_samples"):
            v = getattr(self, key)
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ValueError(f"{key} must be a positive integer, got {v!r}")

    def record(self) -> dict:
        out = asdict(self)
        out["augment"] = asdict(self.augment)
        out["network"] = dict(self.network)
        if out["init_from"] is None:                  # runs written before the option existed stay resumable
            del out["init_from"]
        return out


def split_by_atmosphere(model_ids, fractions, seed: int) -> dict[str, np.ndarray]:
    """Row indices {"train", "val", "cal", "test"} with whole atmospheres (``model_ids``) per part."""
    ids = np.asarray(model_ids)
    atm = np.random.default_rng(seed).permutation(np.unique(ids))
    edges = np.round(np.cumsum(fractions)[:-1] * atm.size).astype(int)
    parts = dict(zip(("train", "val", "cal", "test"), np.split(atm, edges)))
    if any(p.size == 0 for p in parts.values()):
        raise ValueError(f"{atm.size} atmospheres are too few for the split fractions {fractions}")
    return {k: np.flatnonzero(np.isin(ids, v)) for k, v in parts.items()}


def augmented_set(ds, rows, kind: str, copies: int, seed: int, config: AugmentConfig, *, batch: int = 4096,
                  progress: bool = False, desc: str = "augment") -> tuple[np.ndarray, np.ndarray, dict]:
    """``copies`` augmented draws of the dataset rows ``rows`` for ``kind``: (X (n·copies, n_pix)
    float32 with NaN = masked, y (n·copies, 5), the draws' parameters concatenated).  Batch b of
    copy c uses the generator ``default_rng([seed, c, b])``, so a set is reproducible piece by piece."""
    from tqdm.auto import tqdm

    rows = np.asarray(rows)
    y_rows = ds.label_matrix(list(OBSERVED_LABELS))[rows]
    xs, pars = [], []
    steps = [(c, b) for c in range(copies) for b in range(0, rows.size, batch)]
    for c, b in tqdm(steps, desc=desc, disable=not progress, unit="batch"):
        r = rows[b:b + batch]
        cont = ds.continuum[r] if kind == "calibrated" else None
        x, _, par = augment(ds.wave, ds.flux[r], cont, kind=kind, rng=np.random.default_rng([seed, c, b]),
                            config=config)
        xs.append(x)
        pars.append({k: v for k, v in par.items() if k != "kind"})
    params = {k: np.concatenate([p[k] for p in pars]) for k in pars[0]}
    return np.concatenate(xs), np.tile(y_rows, (copies, 1)), params


def _estimator(opts: ObservedTraining, out: Path | None, progress: bool):
    from ..models import MODEL_NAMES, estimator_class
    cls = estimator_class(opts.model)
    if opts.model in MODEL_NAMES:
        config = {**dict(opts.network), "missing": True, "n_outputs": len(OBSERVED_LABELS)}
        return cls(config=config, max_epochs=opts.max_epochs, batch_size=opts.batch_size, lr=opts.lr,
                   lr_step=opts.lr_step, lr_gamma=opts.lr_gamma, patience=opts.patience,
                   average_last=opts.average_last, mc_samples=opts.mc_samples, seed=opts.seed,
                   label_names=list(OBSERVED_LABELS), progress=progress, init_from=opts.init_from,
                   checkpoint_dir=out / "checkpoints" if out is not None else None)
    if opts.init_from is not None:
        raise ValueError(f"init_from fine-tunes a network; {opts.model!r} cannot start from {opts.init_from}")
    return cls(seed=opts.seed, label_names=list(OBSERVED_LABELS), missing=True)


def _predict_with_spread(est, X, opts: ObservedTraining, seed: int) -> tuple[np.ndarray, np.ndarray]:
    pred, spread = est.predict(X, return_std=True, mc_samples=opts.mc_samples, seed=seed)
    if np.isnan(spread).all():                       # trees: no spread, constant-width intervals
        spread = np.ones_like(pred)
    return pred, spread


def observed_test_metrics(y, pred, spread, scale: ConformalScale) -> dict:
    """MAE, bias, scatter and interval coverage per label of a test set (label units)."""
    err = pred - y
    cov68 = interval_coverage(y, pred, scale.half_width(spread, 0.68))
    cov95 = interval_coverage(y, pred, scale.half_width(spread, 0.95))
    std = scale.std(spread)
    return {name: {"mae": float(np.mean(np.abs(err[:, j]))), "bias": float(np.mean(err[:, j])),
                   "scatter": float(np.std(err[:, j])), "median_std": float(np.median(std[:, j])),
                   "coverage68": float(cov68[j]), "coverage95": float(cov95[j])}
            for j, name in enumerate(OBSERVED_LABELS)} | {"n": int(len(y))}


def _reddening_shift(est, ds, rows, opts: ObservedTraining) -> dict:
    """Mean |Δ label| between the test spectra at E(B−V) = 0 and 0.5 (same draws otherwise)."""
    preds = []
    for ebv in (0.0, 0.5):
        cfg = replace(TEST_AUGMENT, ebv=(ebv, ebv))
        X, _, _ = augmented_set(ds, rows, "calibrated", 1, opts.seed + 3, cfg)
        preds.append(est.predict(X))
    d = np.abs(preds[1] - preds[0])
    return {name: float(d[:, j].mean()) for j, name in enumerate(OBSERVED_LABELS)} | {"n": int(len(d))}


def _clean_domain(ds, rows, kind: str, reference):
    """The domain model (step 5) from the noiseless training spectra of ``kind`` and the calibration set."""
    from .normalize import normalize_synthetic
    clean = ds.flux[rows].astype(np.float64)
    if kind == "calibrated":
        clean = normalize_synthetic(ds.wave, clean * ds.continuum[rows])
    return fit_domain(ds.wave, clean, reference)


def attach_domain(run_dir, grid) -> Path:
    """(Re)write the domain model (step 5) of the observed run in ``run_dir`` from its grid file: the same
    split and calibration draws as :func:`train_observed_run` (for runs trained before the domain model
    existed, or to refit it).  Returns the file written."""
    from ..dataset import load_dataset
    from ..runs import load_run
    run = load_run(run_dir)
    obs = run.config["observed"]
    opts = obs["options"]
    ds = load_dataset(grid)
    idx = split_by_atmosphere(ds.labels["model_id"], tuple(opts["fractions"]), int(run.config["seed"]))
    config = AugmentConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in opts["augment"].items()})
    cal = augmented_set(ds, idx["cal"], obs["kind"], int(opts["calibration_copies"]), int(run.config["seed"]) + 2,
                        config)
    path = Path(run_dir) / DOMAIN_FILE
    _clean_domain(ds, idx["train"], obs["kind"], cal[0]).save(path)
    return path


def _label_ranges(y) -> dict:
    return {name: [float(y[:, j].min()), float(y[:, j].max())] for j, name in enumerate(OBSERVED_LABELS)}


def _comparable(cfg: dict) -> dict:
    """A run's config without what may change on resuming: the creation time and ``max_epochs`` (a run
    can be continued for more epochs, as :func:`glocal.training.train_model` allows)."""
    cfg = json.loads(json.dumps(cfg))                  # tuples in memory, lists once written
    out = {k: v for k, v in cfg.items() if k != "created_utc"}
    obs = dict(out.get("observed", {}))
    obs["options"] = {k: v for k, v in obs.get("options", {}).items() if k != "max_epochs"}
    return {**out, "observed": obs}


def _differences(a, b, prefix: str = "") -> list[str]:
    """Dotted names of the entries where two nested config dicts differ."""
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return [] if a == b else [prefix or "config"]
    out = []
    for key in sorted(set(a) | set(b)):
        out += _differences(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else str(key))
    return out


def _write_config(out: Path, kind: str, opts: ObservedTraining, ds, grid, y_train) -> dict:
    cfg = {"format_version": 2, "model": opts.model, "band": "observed", "labels": list(OBSERVED_LABELS),
           "n_pixels": int(ds.wave.size), "seed": int(opts.seed),
           "observed": {"kind": kind, "min_band": [float(b) for b in opts.augment.min_band],
                        "label_ranges": _label_ranges(y_train), "options": opts.record(), "grid": str(grid)}}
    old = out / "config.json"
    if old.is_file():
        prev = read_json(old, "run")
        if _comparable(prev) != _comparable(cfg):
            raise ValueError(f"{out} already holds an observed run with other settings "
                             f"({', '.join(_differences(_comparable(prev), _comparable(cfg)))}); "
                             "choose another directory")
    write_json(out / "config.json", {**cfg, "created_utc": _dt.datetime.now(_dt.UTC).isoformat()})
    np.save(out / "wave.npy", ds.wave)
    return cfg


def train_observed_run(grid, kind: str, out, options: ObservedTraining | None = None, *,
                       progress: bool = True):
    """Train, calibrate and test one observed-spectra run (module docstring) on the grid file
    ``grid`` for ``kind``; write it to ``out`` (resumed from its checkpoints when it exists with the
    same settings).  Returns the :class:`glocal.runs.Run`."""
    from .._io import sha256_file
    from ..dataset import load_dataset
    from ..runs import load_run

    opts = options or ObservedTraining()
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    ds = load_dataset(grid)
    if kind == "calibrated" and ds.continuum is None:
        raise ValueError(f"{grid} has no /continuum; rebuild it with this glocal (glocal grid build)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    idx = split_by_atmosphere(ds.labels["model_id"], opts.fractions, opts.seed)
    sets = {part: augmented_set(ds, idx[part], kind, n, opts.seed + k, cfg, progress=progress, desc=part)
            for k, (part, n, cfg) in enumerate((("train", opts.copies, opts.augment), ("val", 1, opts.augment),
                                                ("cal", opts.calibration_copies, opts.augment),
                                                ("test", opts.test_copies, TEST_AUGMENT)))}
    _write_config(out, kind, opts, ds, grid, sets["train"][1])
    np.savez(out / "split.npz", **idx)
    est = _estimator(opts, out, progress)
    est.fit(sets["train"][0], sets["train"][1], X_val=sets["val"][0], y_val=sets["val"][1])
    est.save(out)
    scale = fit_conformal(sets["cal"][1], *_predict_with_spread(est, sets["cal"][0], opts, 1), OBSERVED_LABELS)
    write_json(out / UNCERTAINTY_FILE, scale.to_dict())
    _clean_domain(ds, idx["train"], kind, sets["cal"][0]).save(out / DOMAIN_FILE)
    metrics = dict(est.training_report())
    metrics["observed_test"] = observed_test_metrics(sets["test"][1],
                                                     *_predict_with_spread(est, sets["test"][0], opts, 2), scale)
    if kind == "calibrated":
        metrics["reddening_shift_ebv0_to_0.5"] = _reddening_shift(est, ds, idx["test"], opts)
    write_json(out / "metrics.json", metrics)
    write_json(out / "provenance.json", {"dataset": str(grid), "dataset_sha256": sha256_file(grid),
                                         "dataset_provenance": ds.provenance,
                                         "n_rows": {k: int(len(v)) for k, v in idx.items()},
                                         "n_augmented": {k: int(len(v[0])) for k, v in sets.items()}})
    return load_run(out)


def recalibrate_observed_run(run_dir, grid, *, progress: bool = True) -> dict:
    """Refit the conformal calibration of a trained run (``uncertainty.json``) on its calibration atmospheres
    augmented like its test spectra (:data:`TEST_AUGMENT`: S/N 30–100) instead of like its training spectra (S/N
    20–150), so that calibration and test spectra are exchangeable, as split conformal assumes; the test metrics
    (``metrics.json`` → ``observed_test``) are recomputed with the new factors on the same test spectra.  Needed
    when the MC-dropout spread does not follow the noise, so that the S/N 20–30 calibration spectra inflate the
    factors (measured on the calibrated run fine-tuned without overshooting: test coverage of the 68 % interval
    0.73–0.74 for Teff and [Fe/H] with the training-like calibration, 0.70–0.72 with this one).  Returns the
    new ``observed_test``."""
    from ..dataset import load_dataset
    from ..runs import load_run

    run_dir = Path(run_dir)
    run = load_run(run_dir)
    obs = run.config["observed"]
    opts = obs["options"]
    ds = load_dataset(grid)
    idx = dict(np.load(run_dir / "split.npz"))
    seed, kind = int(opts["seed"]), obs["kind"]
    spread_opts = replace(ObservedTraining(), mc_samples=int(opts["mc_samples"]))
    cal = augmented_set(ds, idx["cal"], kind, int(opts["calibration_copies"]), seed + 2, TEST_AUGMENT,
                        progress=progress, desc="cal")
    test = augmented_set(ds, idx["test"], kind, int(opts["test_copies"]), seed + 3, TEST_AUGMENT,
                         progress=progress, desc="test")
    scale = fit_conformal(cal[1], *_predict_with_spread(run.estimator, cal[0], spread_opts, 1), OBSERVED_LABELS)
    write_json(run_dir / UNCERTAINTY_FILE, scale.to_dict() | {"calibration_augment": "test"})
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["observed_test"] = observed_test_metrics(test[1], *_predict_with_spread(run.estimator, test[0],
                                                                                    spread_opts, 2), scale)
    write_json(run_dir / "metrics.json", metrics)
    return metrics["observed_test"]
