"""Gradient-boosted tree baselines of paper §4.3 (Table 2): XGBoost, LightGBM, CatBoost.

:class:`TreeRegressor` follows scikit-learn conventions (``fit(X, Y)``, ``predict(X)``) and fits
one booster per label column (none of the three libraries is natively multi-output for
regression in all versions). Every pixel of the spectrum is a feature. The paper does not list
the trees' settings; ours (shared by the three libraries where they have an equivalent) are

* ``n_estimators=500`` boosting rounds, ``learning_rate=0.05``,
* depth 6 (XGBoost ``max_depth``, CatBoost ``depth``; LightGBM ``num_leaves=63`` leaf-wise),
* row subsampling 0.8 and column subsampling 0.5 (XGBoost, LightGBM),
* ``n_jobs=2`` threads (CatBoost ``thread_count``), CPU only, fixed ``random_state``.

Persistence uses each library's own format, never pickle: XGBoost JSON, LightGBM text model,
CatBoost ``.cbm``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["TreeRegressor", "TREE_KINDS", "TREE_DEFAULTS"]

TREE_KINDS = ("xgboost", "lightgbm", "catboost")
TREE_DEFAULTS = dict(n_estimators=500, learning_rate=0.05, max_depth=6, num_leaves=63,
                     subsample=0.8, colsample=0.5, n_jobs=2, random_state=0)
_EXT = {"xgboost": "json", "lightgbm": "txt", "catboost": "cbm"}


def _check_X(X, n_features=None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinite values")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, the model was fitted on {n_features}")
    return X


class TreeRegressor:
    """One gradient-boosted regressor per label: ``kind`` in ``TREE_KINDS``; see module doc."""

    def __init__(self, kind: str = "xgboost", **params):
        if kind not in TREE_KINDS:
            raise ValueError(f"unknown tree model {kind!r}; choose one of {TREE_KINDS}")
        unknown = set(params) - set(TREE_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown tree parameter(s) {sorted(unknown)}; valid: {sorted(TREE_DEFAULTS)}")
        self.kind = kind
        self.params = {**TREE_DEFAULTS, **params}
        self.models_: list = []
        self.n_features_in_: int | None = None

    def _make(self):
        p = self.params
        if self.kind == "xgboost":
            import xgboost as xgb
            return xgb.XGBRegressor(n_estimators=p["n_estimators"], learning_rate=p["learning_rate"],
                                    max_depth=p["max_depth"], subsample=p["subsample"],
                                    colsample_bytree=p["colsample"], n_jobs=p["n_jobs"],
                                    random_state=p["random_state"], tree_method="hist",
                                    device="cpu")
        if self.kind == "lightgbm":
            import lightgbm as lgb
            return lgb.LGBMRegressor(n_estimators=p["n_estimators"], learning_rate=p["learning_rate"],
                                     num_leaves=p["num_leaves"], subsample=p["subsample"],
                                     subsample_freq=1, colsample_bytree=p["colsample"],
                                     n_jobs=p["n_jobs"], random_state=p["random_state"],
                                     verbose=-1)
        import catboost as cb
        return cb.CatBoostRegressor(iterations=p["n_estimators"], learning_rate=p["learning_rate"],
                                    depth=p["max_depth"], thread_count=p["n_jobs"],
                                    random_seed=p["random_state"], verbose=False,
                                    allow_writing_files=False, task_type="CPU")

    def fit(self, X, Y) -> "TreeRegressor":
        """Fit one booster per column of ``Y`` (n_samples,) or (n_samples, n_labels)."""
        X = _check_X(X)
        Y = np.asarray(Y, dtype=np.float64)
        Y = Y[:, None] if Y.ndim == 1 else Y
        if Y.ndim != 2 or len(Y) != len(X):
            raise ValueError(f"Y must be (n_samples[, n_labels]) with n_samples={len(X)}, got {Y.shape}")
        if not np.isfinite(Y).all():
            raise ValueError("Y contains NaN or infinite values")
        self.n_features_in_ = X.shape[1]
        self.models_ = [self._make().fit(X, Y[:, j]) for j in range(Y.shape[1])]
        return self

    def predict(self, X) -> np.ndarray:
        """(n_samples, n_labels) predictions."""
        if not self.models_:
            raise ValueError("TreeRegressor is not fitted")
        X = _check_X(X, self.n_features_in_)
        cols = []
        for m in self.models_:
            if self.kind == "lightgbm" and type(m).__name__ == "Booster":  # loaded from text
                cols.append(m.predict(X, num_threads=self.params["n_jobs"]))
            else:
                cols.append(m.predict(X))
        return np.stack(cols, axis=1).astype(np.float64)

    def save(self, directory) -> list[Path]:
        """Write ``tree_<kind>_<j>.<ext>`` native model files and ``trees.json`` metadata."""
        if not self.models_:
            raise ValueError("TreeRegressor is not fitted")
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        paths = []
        for j, m in enumerate(self.models_):
            path = d / f"tree_{self.kind}_{j}.{_EXT[self.kind]}"
            if self.kind == "lightgbm":
                booster = m.booster_ if hasattr(m, "booster_") else m
                booster.save_model(str(path))
            else:
                m.save_model(str(path))
            paths.append(path)
        meta = dict(kind=self.kind, params=self.params, n_labels=len(self.models_),
                    n_features=self.n_features_in_, files=[p.name for p in paths])
        (d / "trees.json").write_text(json.dumps(meta, indent=1))
        return paths

    @classmethod
    def load(cls, directory) -> "TreeRegressor":
        """Inverse of :meth:`save`."""
        d = Path(directory)
        meta_path = d / "trees.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"no trees.json in {d}")
        try:
            meta = json.loads(meta_path.read_text())
            obj = cls(meta["kind"], **meta["params"])
            files = [d / f for f in meta["files"]]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"corrupt tree metadata {meta_path}: {exc}") from exc
        for f in files:
            if not f.is_file():
                raise FileNotFoundError(f"missing tree model file {f}")
        try:
            if obj.kind == "xgboost":
                import xgboost as xgb
                models = []
                for f in files:
                    m = xgb.XGBRegressor()
                    m.load_model(str(f))
                    models.append(m)
            elif obj.kind == "lightgbm":
                import lightgbm as lgb
                models = [lgb.Booster(model_file=str(f)) for f in files]
            else:
                import catboost as cb
                models = [cb.CatBoostRegressor().load_model(str(f)) for f in files]
        except Exception as exc:  # library-specific parse errors
            raise ValueError(f"could not read {obj.kind} model files in {d}: {exc}") from exc
        obj.models_ = models
        obj.n_features_in_ = meta["n_features"]
        return obj
