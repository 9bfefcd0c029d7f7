"""XGBoost baseline (paper §4.3, Table 2): one ``xgboost.XGBRegressor`` per label (``hist`` trees, CPU).

Hyper-parameters and conventions: :mod:`glocal.models.trees`. Saved as XGBoost JSON model files.
"""
from __future__ import annotations

from .trees import TreeEstimator

__all__ = ["XGBoostEstimator"]


class XGBoostEstimator(TreeEstimator):
    """XGBoost regressors: ``n_estimators`` rounds of depth-``max_depth`` trees at ``learning_rate``,
    row subsampling ``subsample``, column subsampling per tree ``colsample``, ``n_jobs`` threads,
    ``seed`` (XGBoost ``random_state``); ``label_names`` optional. ``predict(..., return_std=True)``
    gives NaN standard deviations."""

    name = "xgboost"
    extension = "json"

    def __init__(self, *, n_estimators: int = 500, learning_rate: float = 0.05, max_depth: int = 6,
                 subsample: float = 0.8, colsample: float = 0.5, n_jobs: int = 2, seed: int = 0,
                 label_names=None, missing: bool = False):
        self.n_estimators, self.learning_rate, self.max_depth = n_estimators, learning_rate, max_depth
        self.subsample, self.colsample, self.n_jobs, self.seed = subsample, colsample, n_jobs, seed
        self.label_names, self.missing = label_names, bool(missing)
        self._check_common()

    def _booster(self):
        import xgboost as xgb
        return xgb.XGBRegressor(n_estimators=int(self.n_estimators), learning_rate=self.learning_rate,
                                max_depth=int(self.max_depth), subsample=self.subsample,
                                colsample_bytree=self.colsample, n_jobs=int(self.n_jobs),
                                random_state=int(self.seed), tree_method="hist", device="cpu")

    def _predict_one(self, booster, X):
        return booster.predict(X)

    def _save_one(self, booster, path) -> None:
        booster.save_model(str(path))

    def _load_one(self, path):
        import xgboost as xgb
        model = xgb.XGBRegressor()
        model.load_model(str(path))
        return model
