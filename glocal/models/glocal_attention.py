r"""GloCal attention (Zhang et al. 2025, §3.2, Eqs 12–17) and SPT's Hadamard self-attention.

Two information flows share one Q/K/V projection (which is why the paper's 768/12/12
configuration stays at ≈85.2 M parameters, the size of a plain ViT-Base trunk):

``O_original`` — multi-head Hadamard self-attention (HSA) of SPT (Zhang et al. 2024, A&A 683,
A163). The GloCal paper describes HSA as attention scores built from the *Hadamard* (element-wise)
product of *normalised* queries and keys, passed through an "enhanced softmax" Ψ. Neither paper
text available to us gives the formulas, so the following is our reading, per head of width
``d*``::

    q̂_i = q_i / ‖q_i‖,  k̂_j = k_j / ‖k_j‖                       (normalised Q and K)
    L_ijf = d* · q̂_if k̂_jf                                       (Hadamard score, scaled)
    A_ijf = Ψ_j(L_ijf)                                            (one attention map per channel f)
    O_if  = Σ_j A_ijf v_jf

i.e. every feature channel has its own token-to-token attention map, built from the element-wise
product of query and key rather than their dot product. The factor ``d*`` (the "Scale" box of SPT
Fig. 2, and the literal ``·d*`` of Eq. 13) brings the products of unit-vector components
(≈1/d* each) back to order unity.

``Ψ`` — the enhanced softmax. Our choice: a softmax with a learnable inverse temperature per head,
``Ψ(x)_j = exp(β x_j) / Σ_k exp(β x_k)`` with ``β = 1 + softplus(θ) > 1``, so Ψ is always at
least as sharp as the plain softmax ("a sharper and more focused attention distribution").

``O_flow`` — the score-aware information flow (Eqs 13–16), computed in windows of ``n_w`` tokens:

* Eq. 13: ``Score = Ψ(ReLU(q̂) ∘ ReLU(k̂) · d*)`` — an ``n_w × d*`` matrix per window; Ψ normalises
  over the tokens of the window, separately for each channel, so tokens compete channel by channel.
* Eqs 14–15 (competitive layers): scores are ranked in decreasing order and the winners are the
  smallest top set whose cumulative score reaches α — token ``j`` survives iff the summed score of
  the tokens ranked strictly above it is ``< α`` (the top-ranked token always survives). The next
  layer renormalises Ψ over the survivors (equivalent to dividing the surviving scores by their
  sum) and competes again. A competition stops when fewer than ``γ`` candidates are left, or after
  ``p`` layers (:mod:`glocal.models.competition`).
* Eq. 16: final normalisation over the winners, then ``Score ∘ V`` summed over the window: every
  token of a window receives the score-weighted mean of the winners' values (a literal per-token
  product would give losing tokens a zero output and no local mixing at all).
* Sliding windows: ``n`` window layers are ``n`` tilings of the sequence shifted by
  ``k·n_w // n`` tokens (k = 0 … n−1); the flow output is their mean. ``n = 1`` gives plain
  non-overlapping windows. Padding positions never compete. With CLS pooling the CLS token is
  token 0 of the sequence and takes part in the first window like any other token.
* Selection is a hard (non-differentiable) mask; gradients flow through the Ψ scores of the
  winners and through V, as in top-p sampling.

Eq. 17: ``O = g_original · O_original + g_flow · O_flow`` with ``g_c = sigmoid(φ_c) ∈ [0, 1]``
(one learnable scalar per component and per block, φ initialised at 0, i.e. g = 0.5).

Permutation behaviour (tested): without position embeddings HSA is permutation-equivariant over
tokens; the flow is equivariant only to permutations *within* a window (with ``n = 1``), because
windows are defined by token order. The full model adds learned position embeddings and is
therefore deliberately not permutation-invariant.

Implementation (same equations, arranged for speed): exponentials are taken in base 2,
``exp(x) = 2^(x log₂e)``, with ``log₂e`` folded into the scale; HSA (``_HSAFunction``) and the
flow (``_FlowFunction``) have hand-written backwards; the flow gathers the windows of all
tilings into one tensor and ranks each competition once (:mod:`glocal.models.competition`).
Outputs agree with the direct formulas to float32 rounding (``tests/test_model_speedpath.py``).
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .competition import check_competition, compete, competitive_filter

__all__ = ["enhanced_softmax", "competitive_filter", "hadamard_attention",
           "hadamard_attention_reference", "score_aware_flow",
           "GloCalAttention", "Dropout"]

#: Size of the blocks of (…, T, T) exponentials that the HSA builds and consumes at once (bytes):
#: small enough to stay in a core's cache, large enough that per-block overhead is negligible.
HSA_BLOCK_BYTES = 1 << 21
_LOG2E = 1.4426950408889634   # exp(x) = 2^(x·log2 e): exp2 is the cheaper vectorised kernel
_EXP_SAFE = 64.0               # |base-2 exponent| below which HSA skips the max subtraction


def enhanced_softmax(x: torch.Tensor, beta: torch.Tensor | float, dim: int = -1,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
    """Enhanced softmax Ψ (our reading of SPT's operator): ``softmax(β x)`` along ``dim``.

    ``beta`` broadcasts against ``x``; entries where ``mask`` is False get probability 0.
    """
    z = x * beta
    if mask is not None:
        z = z.masked_fill(~mask, float("-inf"))
    out = torch.softmax(z, dim=dim)
    if mask is not None:  # rows that are entirely masked would be NaN
        out = torch.nan_to_num(out, nan=0.0)
    return out


class _NormaliseFunction(torch.autograd.Function):
    """``n = x / r`` with ``r = max(‖x‖₂, 1e-6)`` along the last axis; backward
    ``∂x = (g − c n (g·n)) / r`` with ``c = 1`` where ``‖x‖₂ ≥ 1e-6``, else 0 (``r`` constant)."""

    @staticmethod
    def forward(ctx, x):
        norm = torch.linalg.vecdot(x, x).unsqueeze_(-1).sqrt_()
        r = norm.clamp_min(1e-6)
        n = x / r
        ctx.save_for_backward(n, r, norm >= 1e-6)
        return n

    @staticmethod
    def backward(ctx, g):
        n, r, free = ctx.saved_tensors
        gn = torch.linalg.vecdot(g, n).unsqueeze_(-1).mul_(free)
        return torch.addcmul(g, n, gn, value=-1.0).div_(r)


def _normalise(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``x / max(‖x‖₂, 1e-6)`` along ``dim`` (as ``F.normalize``, with a plain sum of squares)."""
    if dim in (-1, x.ndim - 1):
        return _NormaliseFunction.apply(x)
    return x / (x * x).sum(dim, keepdim=True).sqrt().clamp_min(1e-6)


def _abs_max(x: torch.Tensor) -> float:
    lo, hi = torch.aminmax(x)
    return max(-float(lo), float(hi))


class _HSAFunction(torch.autograd.Function):
    """Channel-wise Hadamard attention with a hand-written backward, computed in row blocks.

    Inputs are channel-major, (…, d*, T): ``a = q̂``, ``b = k̂``, ``v``, and ``s = β·d*``
    broadcast per head. With ``E_ijf = exp(s a_if b_jf − m_if)``:

        O_if = Σ_j E_ijf v_jf / Σ_j E_ijf                     (= Σ_j Ψ_j(s a_if b_jf) v_jf)

    ``m_if`` is the row maximum ``max(s a_if max_j b_jf, s a_if min_j b_jf)`` when some exponent
    could exceed ``_EXP_SAFE`` bits in magnitude, else 0 (the ratio does not depend on it; with
    |exponent| ≤ ``_EXP_SAFE`` nothing can overflow or underflow). The forward takes
    ``[v; 1; v∘b; b] · Eᵀ`` in one batched product: the two sums of ``O`` and the two sums
    ``Σ_j E_ij (v_j b_j, b_j)`` that the gradient in ``a`` needs. The backward uses
    ``∂z_ijf = P_ijf g_if (v_jf − O_if)`` (``P = E / Σ_j E``), i.e. one more product
    ``[g, g a, g a O, 0]/Σ E · E`` with a recomputed ``E``. ``E`` is built ``HSA_BLOCK_BYTES`` at a
    time in one reused buffer that stays in cache: nothing of size T² per row outlives a block.
    """

    @staticmethod
    def _scaled(a, b, s):
        """``s a / ln 2`` and the shift ``m / ln 2`` (or None), flattened to (rows, T)."""
        T = a.shape[-1]
        sa = ((s * _LOG2E) * a).reshape(-1, T)
        b = b.reshape(-1, T)
        if _abs_max(sa) * _abs_max(b) <= _EXP_SAFE:
            return sa, None
        return sa, torch.maximum(sa * b.amax(-1, keepdim=True), sa * b.amin(-1, keepdim=True))

    @staticmethod
    def _blocks(sa, m, b):
        """Yield ``(rows, E[rows])`` with ``E = 2^(sa_i b_j − m_i)``, built in one reused buffer."""
        n, T = sa.shape
        step = max(1, HSA_BLOCK_BYTES // (T * T * sa.element_size()))
        buf = sa.new_empty(min(step, n), T, T)
        for r0 in range(0, n, step):
            rows = slice(r0, min(n, r0 + step))
            e = torch.mul(sa[rows, :, None], b[rows, None, :], out=buf[:rows.stop - r0])
            if m is not None:
                e.sub_(m[rows, :, None])
            yield rows, e.exp2_()

    @staticmethod
    def forward(ctx, a, b, v, s):
        sa, m = _HSAFunction._scaled(a, b, s)
        n, T = sa.shape
        fb = b.reshape(n, T)
        rhs = sa.new_empty(n, 4, T)                                       # [v; 1; v∘b; b]
        rhs[:, 0] = v.reshape(n, T)
        rhs[:, 1] = 1.0
        torch.mul(rhs[:, 0], fb, out=rhs[:, 2])
        rhs[:, 3] = fb
        sums = torch.empty_like(rhs)
        for rows, e in _HSAFunction._blocks(sa, m, fb):
            torch.bmm(rhs[rows], e.transpose(1, 2), out=sums[rows])
        den = sums[:, 1]
        out = (sums[:, 0] / den).view(a.shape)
        ctx.save_for_backward(a, b, v, s, out, den, sums[:, 2:], sa, m)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, v, s, out, den, right, sa, m = ctx.saved_tensors
        n, T = sa.shape
        flat = lambda x: x.reshape(n, T)  # noqa: E731
        # (rows, 4, Tq) = [g/ΣE, g a/ΣE, g a O/ΣE, 0]: the zero row because batched products of
        # 4 rows run faster than of 3
        lhs = sa.new_empty(n, 4, T)
        gd = torch.div(g, den.view(a.shape), out=lhs[:, 0].view(a.shape)).view(n, T)
        ga = torch.mul(gd, flat(a), out=lhs[:, 1])
        torch.mul(ga, flat(out), out=lhs[:, 2])
        lhs[:, 3] = 0.0
        left = torch.empty_like(lhs)
        for rows, e in _HSAFunction._blocks(sa, m, flat(b)):
            torch.bmm(lhs[rows], e, out=left[rows])                        # Σ_i (…)_i E_ij
        da_over_s = (gd * (right[:, 0] - flat(out) * right[:, 1])).view(a.shape)
        db = s * (v * left[:, 1].view(a.shape) - left[:, 2].view(a.shape))
        ds = (a * da_over_s).sum(dim=(0, 2, 3), keepdim=True).view_as(s) if s.requires_grad else None
        return s * da_over_s, db, left[:, 0].view(a.shape), ds


def _hsa_cm(qn, kn, v, beta):
    """HSA on channel-major (B, H, d*, T) *normalised* ``qn``, ``kn``; returns (B, H, d*, T)."""
    s = (beta * qn.shape[-2]).view(1, -1, 1, 1).to(qn.dtype)
    return _HSAFunction.apply(qn.contiguous(), kn.contiguous(), v.contiguous(), s)


def hadamard_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                       beta: torch.Tensor) -> torch.Tensor:
    """Multi-head HSA (``O_original``): channel-wise attention maps from ``q̂ ∘ k̂ · d*`` and Ψ.

    ``q, k, v``: (B, H, T, d*); ``beta``: (H,) Ψ inverse temperatures. Returns (B, H, T, d*).
    Cost O(B·H·T²·d*) time, same order as standard attention's T×T maps times d*; the T×T
    exponentials are built block by block and never held all at once (see ``_HSAFunction``).
    """
    t = lambda x: x.transpose(-1, -2)  # noqa: E731
    return t(_hsa_cm(_normalise(t(q), -2), _normalise(t(k), -2), t(v), beta))


def hadamard_attention_reference(q, k, v, beta):
    """Direct (unfused, autograd) implementation of the same equations, for tests."""
    d = q.shape[-1]
    qn, kn = _normalise(q), _normalise(k)
    logits = d * qn.unsqueeze(3) * kn.unsqueeze(2)                      # (B, H, Tq, Tk, d)
    attn = enhanced_softmax(logits, beta.view(1, -1, 1, 1, 1), dim=3)
    return (attn * v.unsqueeze(2)).sum(3)


class _Tiling(NamedTuple):
    shift: int             # tokens of padding before token 0
    start: int             # first window of this tiling along the window axis
    n_win: int             # number of windows


@functools.lru_cache(maxsize=64)
def _tilings(T: int, window: int, n_layers: int, device: torch.device):
    """The ``n_layers`` tilings of T tokens (tiling l shifted by l·n_w // n) and the (1, W, n_w, 1)
    mask of real (non-padding) window positions."""
    if window < 1:
        raise ValueError(f"window length must be >= 1, got {window}")
    if n_layers < 1:
        raise ValueError(f"n_window_layers must be >= 1, got {n_layers}")
    tilings, start, valid = [], 0, []
    for layer in range(n_layers):
        shift = (layer * window) // n_layers
        n_win = math.ceil((T + shift) / window)
        tilings.append(_Tiling(shift, start, n_win))
        pos = torch.arange(n_win * window) - shift
        valid.append(((pos >= 0) & (pos < T)).view(n_win, window))
        start += n_win
    return tuple(tilings), torch.cat(valid)[None, :, :, None].to(device)


def _to_windows(x: torch.Tensor, tilings, window: int, pad: float) -> torch.Tensor:
    """(B, T, C) → (B, W, n_w, C): every tiling's windows, padded with ``pad``."""
    B, T, C = x.shape
    out = x.new_full((B, sum(t.n_win for t in tilings), window, C), pad)
    for t in tilings:
        out[:, t.start:t.start + t.n_win].view(B, -1, C)[:, t.shift:t.shift + T] = x
    return out


def _from_windows(xw: torch.Tensor, tilings, T: int) -> torch.Tensor:
    """Adjoint of :func:`_to_windows`: (B, W, n_w, C) → (B, T, C), summed over tilings."""
    B, _, window, C = xw.shape
    out = None
    for t in tilings:
        part = xw[:, t.start:t.start + t.n_win].reshape(B, -1, C)[:, t.shift:t.shift + T]
        out = part if out is None else out + part
    return out


class _FlowFunction(torch.autograd.Function):
    """Score-aware flow (Eqs 13–16) with a hand-written backward, token-major.

    Inputs: ``rq = ReLU(q̂)``, ``rk = ReLU(k̂)``, ``v`` (B, T, H, d*) and ``s2 = β·d*/ln 2`` (H,).
    Windows of all tilings are stacked as (B, W, n_w, H·d*) (candidates on axis 2; padding at
    score −∞ and value 0). With ``z = s2·rq·rk`` (base-2 logits) and ``E = 2^(z − max z)``:
    Eq. 13 scores ``E / Σ E`` → winners (Eqs 14–15, no gradient) → ``E_w = E·winners`` →
    ``pooled = Σ E_w v / Σ E_w`` (Eq. 16) → every token gets the mean over tilings of its
    windows' ``pooled``. Returns ``(out (B, T, H·d*), winners (B, W, n_w, H·d*) bool)``.
    Backward: ``∂z = ln 2 · E_w (v − pooled) g_pooled / Σ E_w``, ``∂v = E_w g_pooled / Σ E_w``.
    """

    @staticmethod
    def forward(ctx, rq, rk, v, s2, window, n_layers, alpha, gamma, p):
        B, T, H, d = rq.shape
        tilings, valid = _tilings(T, window, n_layers, rq.device)
        z = (rq * rk * s2.view(-1, 1)).reshape(B, T, H * d)
        zw = _to_windows(z, tilings, window, float("-inf"))
        vw = _to_windows(v.reshape(B, T, H * d), tilings, window, 0.0)
        e = zw.sub_(zw.amax(2, keepdim=True)).exp2_()                      # Ψ numerators, Eq. 13
        win = compete(e / e.sum(2, keepdim=True), valid, alpha, gamma, p)  # Eqs 14–15
        e.mul_(win.view(torch.uint8))                                       # E_w
        den = e.sum(2)
        pooled = (e * vw).sum(2).div_(den)                                  # Eq. 16, (B, W, C)
        rep = pooled.unsqueeze(2).expand(-1, -1, window, -1)
        out = _from_windows(rep, tilings, T).div_(len(tilings))
        ctx.save_for_backward(rq, rk, s2, e, vw, pooled, den)
        ctx.tilings, ctx.window = tilings, window
        ctx.mark_non_differentiable(win)
        return out, win

    @staticmethod
    def backward(ctx, g, _g_win):
        rq, rk, s2, e, vw, pooled, den = ctx.saved_tensors
        B, T, H, d = rq.shape
        tilings, window = ctx.tilings, ctx.window
        gw = _to_windows(g.reshape(B, T, H * d), tilings, window, 0.0)      # (B, W, n_w, C)
        gn = gw.sum(2).div_(den * len(tilings)).unsqueeze(2)               # g_pooled / Σ E_w
        g_vw = e * gn
        g_zw = (vw - pooled.unsqueeze(2)).mul_(g_vw)                       # ∂z / ln 2
        g_z = _from_windows(g_zw, tilings, T).reshape(B, T, H, d)
        g_zr = g_z * rk                                                    # ∂(rq)/(s2 ln 2)
        g_rq = g_zr * (s2 * math.log(2.0)).view(-1, 1) if ctx.needs_input_grad[0] else None
        g_rk = g_z * rq * (s2 * math.log(2.0)).view(-1, 1) if ctx.needs_input_grad[1] else None
        g_s2 = (g_zr * rq).sum((0, 1, 3)) * math.log(2.0) if ctx.needs_input_grad[3] else None
        g_v = _from_windows(g_vw, tilings, T).reshape(B, T, H, d)
        return g_rq, g_rk, g_v, g_s2, None, None, None, None, None


def _flow_tokens(qn, kn, v, beta, *, window, n_window_layers, alpha, gamma, p):
    """Score-aware flow on token-major (B, T, H, d*) normalised ``qn``, ``kn`` and ``v``.

    Returns ``(out (B, T, H·d*), winners (B, W, n_w, H·d*) bool, tilings)`` (see _FlowFunction).
    """
    check_competition(alpha, gamma, p)
    s2 = beta * (qn.shape[-1] * _LOG2E)
    out, win = _FlowFunction.apply(F.relu(qn), F.relu(kn), v, s2, int(window),
                                   int(n_window_layers), float(alpha), int(gamma), int(p))
    return out, win, _tilings(qn.shape[1], int(window), int(n_window_layers), qn.device)[0]


def _winner_tokens(win: torch.Tensor, tilings, shape) -> torch.Tensor:
    """Raw winners (B, W, n_w, H·d*) → per-token mask (B, n, H, T, d*) for ``shape`` (B, T, H, d*)."""
    B, T, H, d = shape
    tok = [win[:, t.start:t.start + t.n_win].reshape(B, -1, H * d)[:, t.shift:t.shift + T] for t in tilings]
    return torch.stack(tok, 1).view(B, -1, T, H, d).transpose(2, 3)


def score_aware_flow(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, beta: torch.Tensor, *,
                     window: int, n_window_layers: int, alpha: float, gamma: int, p: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Score-aware information flow ``O_flow`` (Eqs 13–16) over sliding windows.

    ``q, k, v``: (B, H, T, d*). Returns ``(out, winners)`` with ``out`` (B, H, T, d*) and the
    winner mask ``winners`` (B, n_window_layers, H, T, d*) of the final competitive layer.
    """
    B, H, T, d = q.shape
    t = lambda x: x.transpose(1, 2)  # noqa: E731  (B, T, H, d)
    out, win, tilings = _flow_tokens(_normalise(t(q)), _normalise(t(k)), t(v), beta,
                                     window=window, n_window_layers=n_window_layers,
                                     alpha=alpha, gamma=gamma, p=p)
    return out.view(B, T, H, d).transpose(1, 2), _winner_tokens(win, tilings, (B, T, H, d))


class Dropout(nn.Dropout):
    """``nn.Dropout`` whose mask is drawn from 16 random bits per entry.

    Each entry is kept iff a uniform integer ``r ∈ [0, 2¹⁶)`` (16 bits, four per 64-bit word of
    torch's generator) satisfies ``r < round((1 − p)·2¹⁶)``: the keep probability is
    ``round((1 − p)·2¹⁶)/2¹⁶``, within ``2⁻¹⁷`` of ``1 − p``. Kept entries are scaled by
    ``1/(1 − p)``, as in ``nn.Dropout``. The masks are reproducible under ``torch.manual_seed``
    but are not the ones ``nn.Dropout`` would draw. Other devices, and ``inplace=True``, use
    ``nn.Dropout`` itself.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0 or x.device.type != "cpu" or self.inplace:
            return super().forward(x)
        n, t = x.numel(), _keep_threshold(self.p)
        if t > 32767:                      # p ≤ 2⁻¹⁷: every entry kept
            return x / (1.0 - self.p)
        bits = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-(1 << 63), None)
        keep = bits.view(torch.int16)[:n].view(x.shape) < t
        return x * keep.to(x.dtype).div_(1.0 - self.p)


def _keep_threshold(p: float) -> int:
    """Signed 16-bit threshold ``t``: ``P(r < t) = round((1 − p)·2¹⁶)/2¹⁶`` for uniform int16 ``r``."""
    return round((1.0 - p) * 65536) - 32768


class GloCalAttention(nn.Module):
    """Multi-head GloCal attention block (Eq. 17), or plain multi-head HSA when ``flow=False``.

    Parameters: ``dim`` embedding width, ``heads`` (``dim % heads == 0``), ``flow`` (add the
    score-aware flow and the gates), ``window`` (n_w), ``n_window_layers`` (n), ``p``,
    ``alpha``, ``gamma``, ``proj_dropout`` (after the output projection).
    ``forward(x (B, T, dim)) -> (B, T, dim)``. After each forward, ``last_winners`` holds the
    flow's winner mask (bool, (B, n, H, T, d*), built on first access) and :meth:`gates` returns
    ``(g_original, g_flow)``.
    """

    def __init__(self, dim: int, heads: int, *, flow: bool = True, window: int = 8,
                 n_window_layers: int = 2, p: int = 3, alpha: float = 0.9, gamma: int = 2,
                 proj_dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"embedding dim {dim} is not divisible by heads {heads}")
        check_competition(alpha, gamma, p)
        if window < 1 or n_window_layers < 1:
            raise ValueError("window and n_window_layers must be >= 1")
        self.dim, self.heads, self.flow = dim, heads, bool(flow)
        self.window, self.n_window_layers = int(window), int(n_window_layers)
        self.p, self.alpha, self.gamma = int(p), float(alpha), int(gamma)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.psi_theta = nn.Parameter(torch.zeros(heads))
        self.proj_drop = Dropout(proj_dropout)
        if self.flow:
            self.gate_logits = nn.Parameter(torch.zeros(2))
        self._winner_state = None

    @property
    def last_winners(self) -> torch.Tensor | None:
        """Winner mask of the last forward's flow, bool (B, n, H, T, d*); None before (or for HSA)."""
        state = self._winner_state
        if state is not None and not isinstance(state, torch.Tensor):
            state = self._winner_state = _winner_tokens(*state)
        return state

    def beta(self) -> torch.Tensor:
        """Ψ inverse temperatures per head, ``1 + softplus(θ)``."""
        return 1.0 + F.softplus(self.psi_theta)

    def gates(self) -> torch.Tensor:
        """``(g_original, g_flow)`` in [0, 1] (Eq. 17); ``(1, 0)`` for plain HSA."""
        if not self.flow:
            return torch.tensor([1.0, 0.0])
        return torch.sigmoid(self.gate_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        H = self.heads
        q, k, v = self.qkv(x).view(B, T, 3, H, D // H).unbind(2)          # (B, T, H, d*) each
        qn, kn = _normalise(q), _normalise(k)
        beta = self.beta()
        # HSA runs channel-major (B, H, d*, T): attention rows along the last axis
        cm = lambda t: t.permute(0, 2, 3, 1)  # noqa: E731
        out = _hsa_cm(cm(qn), cm(kn), cm(v), beta).permute(0, 3, 1, 2)
        if self.flow:
            o_flow, win, tilings = _flow_tokens(
                qn, kn, v, beta, window=self.window,
                n_window_layers=self.n_window_layers, alpha=self.alpha, gamma=self.gamma, p=self.p)
            g = torch.sigmoid(self.gate_logits)
            out = g[0] * out + g[1] * o_flow.view(B, T, H, -1)                 # Eq. 17
            self._winner_state = (win, tilings, (B, T, H, D // H))
        return self.proj_drop(self.proj(out.reshape(B, T, D)))
