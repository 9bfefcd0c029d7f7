"""Models of paper §3–§4.3: SPT-GloCal, SPT and the tree-boosting baselines, behind one estimator protocol.

``estimator(name, **hyperparameters)`` for ``name`` in :data:`ESTIMATOR_NAMES` ("spt-glocal", "spt",
"xgboost", "lightgbm", "catboost") returns an unfitted estimator with ``fit(X, y, *, X_val, y_val)``,
``predict(X[, return_std=True])`` and ``save(directory)``; :func:`load` restores any of them (see
:mod:`glocal.models.protocol`). ``build(name, config="cpu", n_pixels=...)`` returns the bare
:class:`SpectrumTransformer` of "spt-glocal" or "spt".
"""
from .backbone import CONFIGS, MODEL_NAMES, SpectrumTransformer, build, count_parameters, resolve_config
from .gbt_catboost import CatBoostEstimator
from .gbt_lightgbm import LightGBMEstimator
from .gbt_xgboost import XGBoostEstimator
from .glocal_attention import (
    GloCalAttention,
    competitive_filter,
    enhanced_softmax,
    hadamard_attention,
    score_aware_flow,
)
from .network import NetworkEstimator, mc_dropout, mc_dropout_predict
from .protocol import ESTIMATOR_NAMES, Estimator, NotFittedError, estimator, estimator_class, load
from .spt import SPTEstimator
from .spt_glocal import SPTGloCalEstimator
from .trees import TREE_KINDS, TreeEstimator

__all__ = ["CONFIGS", "MODEL_NAMES", "SpectrumTransformer", "build", "count_parameters",
           "resolve_config", "GloCalAttention", "competitive_filter", "enhanced_softmax",
           "hadamard_attention", "score_aware_flow", "mc_dropout", "mc_dropout_predict",
           "TREE_KINDS", "ESTIMATOR_NAMES", "Estimator", "NotFittedError", "estimator", "estimator_class",
           "load", "NetworkEstimator", "SPTEstimator", "SPTGloCalEstimator", "TreeEstimator",
           "XGBoostEstimator", "LightGBMEstimator", "CatBoostEstimator"]
