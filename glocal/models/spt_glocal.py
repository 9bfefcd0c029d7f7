"""SPT-GloCal (paper §3): the spectrum transformer whose attention adds the score-aware flow.

``estimator("spt-glocal", ...)`` trains and predicts with it (:class:`SPTGloCalEstimator`); the
architecture is :func:`glocal.models.build` ``("spt-glocal", ...)`` and the attention
:mod:`glocal.models.glocal_attention`.
"""
from __future__ import annotations

from .network import NetworkEstimator

__all__ = ["SPTGloCalEstimator"]


class SPTGloCalEstimator(NetworkEstimator):
    """SPT-GloCal: Hadamard self-attention and the gated score-aware flow in every block (see
    :class:`NetworkEstimator` for the hyper-parameters, ``fit``, ``predict`` with MC-dropout ``std``,
    ``save``)."""

    name = "spt-glocal"
