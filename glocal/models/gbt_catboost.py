"""CatBoost baseline (paper §4.3, Table 2): one ``catboost.CatBoostRegressor`` per label (symmetric
trees, CPU).

Hyper-parameters and conventions: :mod:`glocal.models.trees`. Saved as CatBoost ``.cbm`` files.
"""
from __future__ import annotations

from .trees import TreeEstimator

__all__ = ["CatBoostEstimator"]


class CatBoostEstimator(TreeEstimator):
    """CatBoost regressors: ``n_estimators`` iterations of depth-``max_depth`` symmetric trees at
    ``learning_rate``, ``n_jobs`` threads (``thread_count``), ``seed`` (``random_seed``);
    ``label_names`` optional. ``predict(..., return_std=True)`` gives NaN standard deviations."""

    name = "catboost"
    extension = "cbm"

    def __init__(self, *, n_estimators: int = 500, learning_rate: float = 0.05, max_depth: int = 6,
                 n_jobs: int = 2, seed: int = 0, label_names=None, missing: bool = False):
        self.n_estimators, self.learning_rate, self.max_depth = n_estimators, learning_rate, max_depth
        self.n_jobs, self.seed, self.label_names, self.missing = n_jobs, seed, label_names, bool(missing)
        self._check_common()

    def _booster(self):
        import catboost as cb
        return cb.CatBoostRegressor(iterations=int(self.n_estimators), learning_rate=self.learning_rate,
                                    depth=int(self.max_depth), thread_count=int(self.n_jobs),
                                    random_seed=int(self.seed), verbose=False, allow_writing_files=False,
                                    task_type="CPU", nan_mode="Min")

    def _predict_one(self, booster, X):
        return booster.predict(X)

    def _save_one(self, booster, path) -> None:
        booster.save_model(str(path))

    def _load_one(self, path):
        import catboost as cb
        return cb.CatBoostRegressor().load_model(str(path))
