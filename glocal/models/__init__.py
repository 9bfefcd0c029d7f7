"""Models of paper §3: SPT-GloCal, SPT and the tree-boosting baselines.

``build(name, config="cpu", n_pixels=...)`` returns a :class:`SpectrumTransformer` for
``name`` in {"spt-glocal", "spt"}; :class:`TreeRegressor` wraps XGBoost/LightGBM/CatBoost.
"""
from .backbone import CONFIGS, MODEL_NAMES, SpectrumTransformer, build, count_parameters, resolve_config
from .glocal_attention import (GloCalAttention, competitive_filter, enhanced_softmax,
                               hadamard_attention, score_aware_flow)
from .spt import mc_dropout, mc_dropout_predict
from .trees import TREE_DEFAULTS, TREE_KINDS, TreeRegressor

__all__ = ["CONFIGS", "MODEL_NAMES", "SpectrumTransformer", "build", "count_parameters",
           "resolve_config", "GloCalAttention", "competitive_filter", "enhanced_softmax",
           "hadamard_attention", "score_aware_flow", "mc_dropout", "mc_dropout_predict",
           "TREE_DEFAULTS", "TREE_KINDS", "TreeRegressor"]
