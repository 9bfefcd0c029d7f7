"""SPT (Zhang et al. 2024, A&A 683, A163) as used for the comparison of paper §4.3.

SPT is the same backbone as SPT-GloCal with multi-head Hadamard self-attention only (no
score-aware flow, no gates): ``build("spt", ...)``, or ``estimator("spt", ...)`` for the trained
estimator. SPT quantifies prediction uncertainty with Monte-Carlo dropout (Gal & Ghahramani 2016):
the dropout layers stay active at inference and the spread of ``T`` stochastic forward passes is
the uncertainty (:func:`mc_dropout_predict`; both networks carry the same dropout layers).
"""
from __future__ import annotations

from .network import NetworkEstimator, mc_dropout, mc_dropout_predict

__all__ = ["SPTEstimator", "mc_dropout", "mc_dropout_predict"]


class SPTEstimator(NetworkEstimator):
    """SPT: the spectrum transformer with Hadamard self-attention only (see :class:`NetworkEstimator`
    for the hyper-parameters, ``fit``, ``predict`` with MC-dropout ``std``, ``save``)."""

    name = "spt"
