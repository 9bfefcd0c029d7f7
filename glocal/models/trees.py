"""Gradient-boosted tree baselines of paper §4.3 (Table 2): the shared estimator of XGBoost, LightGBM,
CatBoost (``gbt_xgboost.py``, ``gbt_lightgbm.py``, ``gbt_catboost.py``).

One booster per label column (none of the three libraries is natively multi-output for regression
in all versions), fitted to the standardised labels; every pixel of the spectrum is a feature. The
paper does not list the trees' settings; ours (shared by the three libraries where they have an
equivalent) are

* ``n_estimators=500`` boosting rounds, ``learning_rate=0.05``,
* depth 6 (XGBoost ``max_depth``, CatBoost ``depth``; LightGBM ``num_leaves=63`` leaf-wise),
* row subsampling 0.8 and column subsampling 0.5 (XGBoost, LightGBM),
* ``n_jobs=2`` threads (CatBoost ``thread_count``), CPU only, fixed ``seed``.

The boosters have no predictive distribution: ``predict(X, return_std=True)`` returns NaN
standard deviations (``uncertainty == "none"``). ``X_val``/``y_val`` are checked but not used
(a fixed number of rounds, no early stopping).  ``missing=True``: NaN pixels are missing values, which
each library routes down a learned default branch (XGBoost, LightGBM) or treats as below every split
value (CatBoost's ``nan_mode="Min"``). Persistence uses each library's own format, never
pickle: XGBoost JSON, LightGBM text model, CatBoost ``.cbm``, as ``tree_<name>_<j>.<ext>``.
"""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from .._io import read_json
from .protocol import Estimator

__all__ = ["TreeEstimator", "TREE_KINDS"]

TREE_KINDS = ("xgboost", "lightgbm", "catboost")


class TreeEstimator(Estimator):
    """Base of the three tree estimators: one booster per label, NaN ``std``; see module docstring.

    Subclasses set ``name`` and ``extension`` and implement ``_booster`` (an unfitted library
    model from the hyper-parameters), ``_predict_one``, ``_save_one`` and ``_load_one``.
    """

    uncertainty = "none"
    extension: ClassVar[str] = ""

    def _check_common(self) -> None:
        for key in ("n_estimators", "n_jobs", "max_depth", "num_leaves"):
            val = getattr(self, key, 1)
            if isinstance(val, bool) or int(val) != val or val < 1:
                raise ValueError(f"{key} must be an integer >= 1, got {val!r}")
        if not (np.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        for key in ("subsample", "colsample"):
            val = getattr(self, key, 1.0)
            if not 0.0 < val <= 1.0:
                raise ValueError(f"{key} must be in (0, 1], got {val!r}")
        if isinstance(self.seed, bool) or int(self.seed) != self.seed:
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        self.boosters_: list = []

    @classmethod
    def from_run_config(cls, config, n_labels: int, **hyperparameters):
        """``(estimator, hyper-parameters from config)`` for :func:`glocal.runs.train_run`: ``config``
        "cpu" or "paper" (the networks' scale names; the paper gives no tree settings, so both are the
        defaults above), None or "default" keep the defaults; a dict sets hyper-parameters."""
        if config is None or (isinstance(config, str) and config in ("cpu", "paper", "default")):
            model_config = {}
        elif isinstance(config, dict):
            model_config = dict(config)
        else:
            raise ValueError(f"{cls.name} config must be 'cpu' (the defaults) or a dict of "
                             f"hyper-parameters, got {config!r}")
        cls.check_params({**hyperparameters, **model_config})
        return cls(**{**hyperparameters, **model_config}), model_config

    def _fit(self, X, y, X_val, y_val, scaler):
        z = scaler.transform(y)
        self.boosters_ = [self._booster().fit(X, z[:, j]) for j in range(z.shape[1])]
        self.boosters_ = [self._fitted(b) for b in self.boosters_]
        return scaler

    def _fitted(self, model):
        """What is kept of a fitted library model (the model itself by default)."""
        return model

    def _predict(self, X, return_std, *, mc_samples, seed, batch_size):
        z = np.stack([self._predict_one(b, X) for b in self.boosters_], axis=1).astype(np.float64)
        return z, (np.full_like(z, np.nan) if return_std else None)

    def _file(self, d: Path, j: int) -> Path:
        return d / f"tree_{self.name}_{j}.{self.extension}"

    def _save_files(self, d: Path) -> list[str]:
        paths = [self._file(d, j) for j in range(len(self.boosters_))]
        for booster, path in zip(self.boosters_, paths):
            self._save_one(booster, path)
        return [p.name for p in paths]

    def _load_files(self, d: Path, meta: dict, n_features: int, n_labels: int) -> None:
        files = meta.get("files")
        if not isinstance(files, list) or len(files) != n_labels:
            raise ValueError(f"corrupt {d / 'estimator.json'}: expected {n_labels} tree files, got {files!r}")
        self.boosters_ = self._read_boosters([d / f for f in files])

    def _read_boosters(self, paths: list[Path]) -> list:
        for path in paths:
            if not path.is_file():
                raise FileNotFoundError(f"missing tree model file {path}")
        try:
            return [self._load_one(path) for path in paths]
        except Exception as exc:  # library-specific parse errors
            raise ValueError(f"could not read {self.name} model files {[p.name for p in paths]}: {exc}") from None

    @classmethod
    def _from_legacy_run(cls, d: Path, cfg: dict):
        """A tree run of format version 1: ``trees/trees.json`` (kind, params, files) and the model files."""
        meta = read_json(d / "trees" / "trees.json", "tree metadata")
        try:
            params = dict(meta["params"])
            params["seed"] = params.pop("random_state", 0)
            names = set(cls.param_names())
            obj = cls(label_names=list(cfg["labels"]), **{k: v for k, v in params.items() if k in names})
            files = [d / "trees" / f for f in meta["files"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"corrupt tree metadata {d / 'trees' / 'trees.json'}: {exc}") from None
        if meta.get("kind") != cls.name or len(files) != len(cfg["labels"]):
            raise ValueError(f"{d}: trees.json describes {meta.get('kind')!r} with {len(files)} files, "
                             f"config.json {cls.name!r} with {len(cfg['labels'])} labels")
        obj.boosters_ = obj._read_boosters(files)
        return obj
