"""Competitive layers of the score-aware flow (Zhang et al. 2025, §3.2, Eqs 14–15).

Scores are ranked in decreasing order and the winners are the smallest top set whose cumulative
score reaches α: candidate ``j`` survives iff the summed score of the candidates ranked strictly
above it is ``< α`` (ties keep index order, so the top-ranked candidate always survives). The
next layer renormalises the survivors' scores to unit sum and competes again; a competition
stops when fewer than ``γ`` candidates are left, or after ``p`` layers.

:func:`competitive_filter` (any shape, last axis = candidates) and :func:`compete` (the flow's
(B, W, n_w, C) layout) run a compiled kernel on the CPU for float32/float64 scores, which follows
the sorting definition (:func:`_competitive_filter_sorted`, used on other devices) operation by
operation, and give the same masks.
"""
from __future__ import annotations

import numba
import numpy as np
import torch

__all__ = ["check_competition", "competitive_filter", "compete"]

_CHUNK = 128           # competitions processed together by the kernel (SIMD lanes)


def check_competition(alpha, gamma, p) -> None:
    """Validate the competition hyper-parameters: α ∈ (0, 1], γ ≥ 1 and p ≥ 0 integers."""
    if not 0.0 < float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    if int(gamma) != gamma or gamma < 1:
        raise ValueError(f"gamma must be a positive integer, got {gamma}")
    if int(p) != p or p < 0:
        raise ValueError(f"p must be a non-negative integer, got {p}")


@numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
def _compete_kernel(P, valid, alpha, tiny, gamma, p, out):
    """Competitive layers (Eqs 14–15) for the competitions ``P[g, w, :, c]`` (axis 2 = candidates).

    ``P`` (G, W, n, C) float32/float64, C-contiguous; ``valid`` bool, C-contiguous, shaped
    (G or 1, W or 1, n, C or 1) (broadcast along the axes of size 1);
    ``alpha``, ``tiny`` scalars of ``P``'s dtype; ``out`` (G, W, n, C) bool receives the winners.
    Follows :func:`_competitive_filter_sorted` operation by operation: each layer renormalises
    the surviving scores by their sum (taken in index order), ranks them by a stable descending
    sort (``P_k`` before ``P_j`` iff ``P_k > P_j``, or ``P_k == P_j`` and ``k < j``), takes the
    cumulative sum in rank order in float64, rounds it to ``P``'s dtype and keeps j iff that sum
    minus ``P_j`` is below ``alpha``. The rank is computed once: later layers only rescale the
    survivors, which are a prefix of that order. ``_CHUNK`` competitions along ``c`` are processed
    together so that the inner loops vectorise.
    """
    # not split: splitting this kernel into functions would cost speed (scratch rows stay in L1)
    G, W, n, C = P.shape
    Gv, Wv, _, Cv = valid.shape                 # each 1 (broadcast) or the size of P's axis
    mk, ks = np.empty((n, _CHUNK), P.dtype), np.empty((n, _CHUNK), P.dtype)  # masks: index / rank
    pm, sp = np.empty((n, _CHUNK), P.dtype), np.empty((n, _CHUNK), P.dtype)  # scores: index / rank
    srt, rank = np.empty((n, _CHUNK), P.dtype), np.empty((n, _CHUNK), np.int64)
    s, cnt, acc = np.empty(_CHUNK, P.dtype), np.empty(_CHUNK, np.int64), np.empty(_CHUNK, np.float64)
    for gw in range(G * W):
        g, w = gw // W, gw % W
        for c0 in range(0, C, _CHUNK):
            m = min(_CHUNK, C - c0)
            gv, wv = (g if Gv > 1 else 0), (w if Wv > 1 else 0)
            for j in range(n):
                if Cv == 1:
                    mk[j, :m] = valid[gv, wv, j, 0]
                else:
                    for c in range(m):
                        mk[j, c] = valid[gv, wv, j, c0 + c]
            synced = True                       # mk holds the winners so far (else: ks by rank)
            for layer in range(p):
                s[:] = 0
                cnt[:] = 0
                for j in range(n):
                    pr, mr, rr = P[g, w, j, c0:c0 + m], mk[j], rank[j]
                    if not synced:
                        for c in range(m):
                            mr[c] = ks[rr[c], c]
                    for c in range(m):
                        s[c] += pr[c] * mr[c]
                        cnt[c] += mr[c] > 0
                synced = True
                n_active = 0
                for c in range(m):
                    s[c] = max(s[c], tiny)
                    n_active += cnt[c] >= gamma
                if n_active == 0:       # no competition left in this chunk: the masks are final
                    break
                if layer == 0:
                    for j in range(n):
                        pr, mr, qr = P[g, w, j, c0:c0 + m], mk[j], pm[j]
                        for c in range(m):
                            qr[c] = pr[c] * mr[c] / s[c]
                    for j in range(n):
                        rr, qj = rank[j], pm[j]
                        rr[:] = 0
                        for k in range(n):
                            qk = pm[k]
                            if k < j:
                                for c in range(m):
                                    rr[c] += qk[c] >= qj[c]
                            elif k > j:
                                for c in range(m):
                                    rr[c] += qk[c] > qj[c]
                    for j in range(n):
                        pr = P[g, w, j, c0:c0 + m]
                        for c in range(m):
                            r = rank[j, c]
                            sp[r, c], ks[r, c] = pr[c] * mk[j, c], mk[j, c]
                for r in range(n):              # the layer's renormalised scores, in rank order
                    sr, pr, kr = srt[r], sp[r], ks[r]
                    for c in range(m):
                        sr[c] = pr[c] * kr[c] / s[c]
                acc[:] = 0.0
                for r in range(n):
                    sr, kr = srt[r], ks[r]
                    for c in range(m):
                        acc[c] += sr[c]
                        above = P.dtype.type(acc[c]) - sr[c]
                        kr[c] = kr[c] * ((above < alpha) | (cnt[c] < gamma))
                synced = False
            if not synced:
                for j in range(n):
                    mr, rr = mk[j], rank[j]
                    for c in range(m):
                        mr[c] = ks[rr[c], c]
            for j in range(n):
                orow, mr = out[g, w, j, c0:c0 + m], mk[j]
                for c in range(m):
                    orow[c] = mr[c] > 0
    return out


@torch.compiler.disable  # a numba kernel cannot be traced: torch.compile runs this function eagerly
def _compete(probs: torch.Tensor, valid: torch.Tensor, alpha: float, gamma: int, p: int) -> torch.Tensor:
    """Winner mask of :func:`_compete_kernel` for CPU ``probs`` (G, W, n, C) and ``valid``
    broadcastable to it (bool); returns a bool tensor shaped like ``probs``."""
    probs = probs.detach().contiguous()
    valid = valid.reshape((1,) * (4 - valid.ndim) + tuple(valid.shape))
    valid = valid.expand(*(1 if v == 1 else s for v, s in zip(valid.shape, probs.shape[:2])),
                         probs.shape[2], 1 if valid.shape[3] == 1 else probs.shape[3]).contiguous()
    out = torch.empty(probs.shape, dtype=torch.bool)
    if probs.numel():
        dt = probs.numpy().dtype.type
        _compete_kernel(probs.numpy(), valid.numpy(), dt(alpha), dt(torch.finfo(probs.dtype).tiny),
                        int(gamma), int(p), out.numpy())
    return out


def _competitive_filter_sorted(probs, mask, alpha, gamma, p):
    """Same selection by sorting (any device): the definition :func:`_compete_kernel` follows."""
    for _ in range(int(p)):
        active = mask.sum(-1, keepdim=True) >= gamma
        if not bool(active.any()):
            break
        pm = torch.where(mask, probs, torch.zeros_like(probs))
        pm = pm / pm.sum(-1, keepdim=True).clamp_min(torch.finfo(pm.dtype).tiny)
        ordered, order = torch.sort(pm, dim=-1, descending=True, stable=True)
        above = torch.cumsum(ordered, dim=-1) - ordered
        keep_sorted = (above < alpha) & torch.gather(mask, -1, order)
        keep = torch.zeros_like(mask).scatter(-1, order, keep_sorted)
        mask = torch.where(active, keep, mask)
    return mask


def competitive_filter(probs: torch.Tensor, valid: torch.Tensor | None = None, *,
                       alpha: float, gamma: int, p: int) -> torch.Tensor:
    """Winner mask of the competitive layers (Eqs 14–15) along the last axis.

    ``probs`` are non-negative scores (one competition per leading index); ``valid`` marks the
    initial candidates (default: all). At each of at most ``p`` layers the candidates' scores are
    renormalised to unit sum, sorted in decreasing order (ties keep index order), and candidate
    ``j`` survives iff the summed score of the candidates ranked strictly above it is ``< alpha``.
    A competition stops as soon as it has fewer than ``gamma`` candidates. Returns a bool tensor
    shaped like ``probs``. Not differentiable (selection only); runs without gradient. CPU
    float32/float64 input goes through a compiled kernel, anything else through sorting.
    """
    check_competition(alpha, gamma, p)
    with torch.no_grad():
        probs = probs.detach()
        mask = (torch.ones_like(probs, dtype=torch.bool) if valid is None
                else valid.expand_as(probs).clone())
        if probs.device.type != "cpu" or probs.dtype not in (torch.float32, torch.float64):
            return _competitive_filter_sorted(probs, mask, alpha, gamma, p)
        n = probs.shape[-1]
        cm = lambda x: x.reshape(-1, n).T.view(1, 1, n, -1)  # noqa: E731  (1, 1, n, rows)
        win = _compete(cm(probs), cm(mask), alpha, gamma, p)
        return win.view(n, -1).T.reshape(probs.shape)


def compete(probs: torch.Tensor, valid: torch.Tensor, alpha, gamma, p) -> torch.Tensor:
    """Winner mask of the competitions ``probs[g, w, :, c]`` (candidates on axis 2, 4-D input);
    ``valid`` broadcasts to ``probs``. Compiled kernel on the CPU, sorting elsewhere."""
    if probs.device.type == "cpu" and probs.dtype in (torch.float32, torch.float64):
        return _compete(probs, valid, alpha, gamma, p)
    last = lambda x: x.movedim(2, -1)  # noqa: E731
    mask = last(valid.expand(probs.shape)).clone()
    return _competitive_filter_sorted(last(probs), mask, alpha, gamma, p).movedim(-1, 2)
