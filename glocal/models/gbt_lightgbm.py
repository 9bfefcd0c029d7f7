"""LightGBM baseline (paper §4.3, Table 2): one ``lightgbm`` booster per label (leaf-wise trees, CPU).

Hyper-parameters and conventions: :mod:`glocal.models.trees`. Saved as LightGBM text model files.
"""
from __future__ import annotations

from .trees import TreeEstimator

__all__ = ["LightGBMEstimator"]


class LightGBMEstimator(TreeEstimator):
    """LightGBM regressors: ``n_estimators`` rounds of trees with at most ``num_leaves`` leaves at
    ``learning_rate``, row subsampling ``subsample`` (every round), column subsampling ``colsample``,
    ``n_jobs`` threads, ``seed``; ``label_names`` optional. ``predict(..., return_std=True)`` gives
    NaN standard deviations. The fitted boosters are kept as ``lightgbm.Booster`` (what a saved
    model reads back as), so a fitted and a reloaded estimator predict through the same call."""

    name = "lightgbm"
    extension = "txt"

    def __init__(self, *, n_estimators: int = 500, learning_rate: float = 0.05, num_leaves: int = 63,
                 subsample: float = 0.8, colsample: float = 0.5, n_jobs: int = 2, seed: int = 0,
                 label_names=None, missing: bool = False):
        self.n_estimators, self.learning_rate, self.num_leaves = n_estimators, learning_rate, num_leaves
        self.subsample, self.colsample, self.n_jobs, self.seed = subsample, colsample, n_jobs, seed
        self.label_names, self.missing = label_names, bool(missing)
        self._check_common()

    def _booster(self):
        import lightgbm as lgb
        return lgb.LGBMRegressor(n_estimators=int(self.n_estimators), learning_rate=self.learning_rate,
                                 num_leaves=int(self.num_leaves), subsample=self.subsample, subsample_freq=1,
                                 colsample_bytree=self.colsample, n_jobs=int(self.n_jobs),
                                 random_state=int(self.seed), verbose=-1)

    def _fitted(self, model):
        return model.booster_

    def _predict_one(self, booster, X):
        return booster.predict(X, num_threads=int(self.n_jobs))

    def _save_one(self, booster, path) -> None:
        booster.save_model(str(path))

    def _load_one(self, path):
        import lightgbm as lgb
        return lgb.Booster(model_file=str(path))
