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
  ``p`` layers.
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
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["enhanced_softmax", "competitive_filter", "hadamard_attention",
           "hadamard_attention_reference", "score_aware_flow",
           "GloCalAttention"]


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


def _check_competition(alpha, gamma, p) -> None:
    if not 0.0 < float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    if int(gamma) != gamma or gamma < 1:
        raise ValueError(f"gamma must be a positive integer, got {gamma}")
    if int(p) != p or p < 0:
        raise ValueError(f"p must be a non-negative integer, got {p}")


def competitive_filter(probs: torch.Tensor, valid: torch.Tensor | None = None, *,
                       alpha: float, gamma: int, p: int) -> torch.Tensor:
    """Winner mask of the competitive layers (Eqs 14–15) along the last axis.

    ``probs`` are non-negative scores (one competition per leading index); ``valid`` marks the
    initial candidates (default: all). At each of at most ``p`` layers the candidates' scores are
    renormalised to unit sum, sorted in decreasing order (ties keep index order), and candidate
    ``j`` survives iff the summed score of the candidates ranked strictly above it is ``< alpha``.
    A competition stops as soon as it has fewer than ``gamma`` candidates. Returns a bool tensor
    shaped like ``probs``. Not differentiable (selection only); runs without gradient.
    """
    _check_competition(alpha, gamma, p)
    with torch.no_grad():
        probs = probs.detach()
        if valid is None:
            mask = torch.ones_like(probs, dtype=torch.bool)
        else:
            mask = valid.expand_as(probs).clone()
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


def _normalise(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return F.normalize(x, p=2.0, dim=dim, eps=1e-6)


class _HSAFunction(torch.autograd.Function):
    """Fused channel-wise Hadamard attention with a hand-written backward.

    Forward: ``P_ijf = softmax_j(s a_if b_jf)``, ``O_if = Σ_j P_ijf v_jf`` (s = β·d*), computed
    with one (…, d*, T, T) temporary; nothing of size T² is kept for the backward, which
    recomputes P and uses ``∂z_ijf = P_ijf g_if (v_jf − O_if)``, so every gradient is a batched
    matrix product with P. Inputs are channel-major, (B, H, d*, T).
    """

    @staticmethod
    def _probs(a, b, s):
        sa = s * a                                                      # (B, H, d, Tq)
        bmax = b.amax(-1, keepdim=True)
        bmin = b.amin(-1, keepdim=True)
        m = torch.where(sa >= 0, sa * bmax, sa * bmin)                  # row max of s a_i b_j
        e = sa.unsqueeze(-1) * b.unsqueeze(-2)
        e.sub_(m.unsqueeze(-1)).exp_()
        e.div_(e.sum(-1, keepdim=True))
        return e                                                        # (B, H, d, Tq, Tk)

    @staticmethod
    def forward(ctx, a, b, v, s):
        p = _HSAFunction._probs(a, b, s)
        out = (p @ v.unsqueeze(-1)).squeeze(-1)
        ctx.save_for_backward(a, b, v, s, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, v, s, out = ctx.saved_tensors
        g = g.contiguous()
        p = _HSAFunction._probs(a, b, s)
        right = p @ torch.stack([v * b, b], dim=-1)                     # (B, H, d, Tq, 2)
        da_over_s = g * (right[..., 0] - out * right[..., 1])
        left = torch.stack([g, g * a, g * a * out], dim=-2) @ p         # (B, H, d, 3, Tk)
        dv = left[..., 0, :]
        db = s * (v * left[..., 1, :] - left[..., 2, :])
        ds = (a * da_over_s).sum(dim=(0, 2, 3), keepdim=True).view_as(s) if s.requires_grad else None
        return s * da_over_s, db, dv, ds


def _hsa_cm(q, k, v, beta):
    """HSA on channel-major (B, H, d*, T) tensors; returns (B, H, d*, T)."""
    d = q.shape[-2]
    s = (beta * d).view(1, -1, 1, 1).to(q.dtype)
    return _HSAFunction.apply(_normalise(q, -2).contiguous(), _normalise(k, -2).contiguous(),
                              v.contiguous(), s)


def hadamard_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                       beta: torch.Tensor) -> torch.Tensor:
    """Multi-head HSA (``O_original``): channel-wise attention maps from ``q̂ ∘ k̂ · d*`` and Ψ.

    ``q, k, v``: (B, H, T, d*); ``beta``: (H,) Ψ inverse temperatures. Returns (B, H, T, d*).
    Cost O(B·H·T²·d*) time, same order as standard attention's T×T maps times d*; memory is
    one such temporary (fused forward/backward, see ``_HSAFunction``).
    """
    t = lambda x: x.transpose(-1, -2)  # noqa: E731
    return t(_hsa_cm(t(q), t(k), t(v), beta))


def hadamard_attention_reference(q, k, v, beta):
    """Direct (unfused, autograd) implementation of the same equations, for tests."""
    d = q.shape[-1]
    qn, kn = _normalise(q), _normalise(k)
    logits = d * qn.unsqueeze(3) * kn.unsqueeze(2)                      # (B, H, Tq, Tk, d)
    attn = enhanced_softmax(logits, beta.view(1, -1, 1, 1, 1), dim=3)
    return (attn * v.unsqueeze(2)).sum(3)


def _flow_cm(q, k, v, beta, *, window, n_window_layers, alpha, gamma, p):
    """Score-aware flow on channel-major (B, H, d*, T) tensors.

    Returns ``(out (B, H, d*, T), winners (B, n, H, d*, T))``.
    """
    B, H, d, T = q.shape
    if window < 1:
        raise ValueError(f"window length must be >= 1, got {window}")
    if n_window_layers < 1:
        raise ValueError(f"n_window_layers must be >= 1, got {n_window_layers}")
    logits = d * F.relu(_normalise(q, -2)) * F.relu(_normalise(k, -2))  # Eq. 13 argument
    b = beta.view(1, -1, 1, 1, 1)
    outs, wins = [], []
    for layer in range(n_window_layers):
        shift = (layer * window) // n_window_layers
        n_win = math.ceil((T + shift) / window)
        right = n_win * window - T - shift
        valid = torch.zeros(n_win * window, dtype=torch.bool, device=q.device)
        valid[shift:shift + T] = True
        valid = valid.view(n_win, window)                               # (W, n_w)
        lg = F.pad(logits, (shift, right)).view(B, H, d, n_win, window)
        vv = F.pad(v, (shift, right)).view(B, H, d, n_win, window)
        probs = enhanced_softmax(lg, b, dim=-1, mask=valid)             # Eq. 13
        winners = competitive_filter(probs, valid, alpha=alpha, gamma=gamma, p=p)  # Eqs 14–15
        score = enhanced_softmax(lg, b, dim=-1, mask=winners)           # final normalisation
        pooled = (score * vv).sum(-1, keepdim=True)                     # Eq. 16, (B, H, d, W, 1)
        out = pooled.expand(B, H, d, n_win, window).reshape(B, H, d, n_win * window)
        outs.append(out[..., shift:shift + T])
        wins.append(winners.reshape(B, H, d, n_win * window)[..., shift:shift + T])
    out = outs[0] if len(outs) == 1 else torch.stack(outs, 0).mean(0)
    return out, torch.stack(wins, 1)


def score_aware_flow(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, beta: torch.Tensor, *,
                     window: int, n_window_layers: int, alpha: float, gamma: int, p: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Score-aware information flow ``O_flow`` (Eqs 13–16) over sliding windows.

    ``q, k, v``: (B, H, T, d*). Returns ``(out, winners)`` with ``out`` (B, H, T, d*) and the
    winner mask ``winners`` (B, n_window_layers, H, T, d*) of the final competitive layer.
    """
    t = lambda x: x.transpose(-1, -2)  # noqa: E731
    out, win = _flow_cm(t(q), t(k), t(v), beta, window=window, n_window_layers=n_window_layers,
                        alpha=alpha, gamma=gamma, p=p)
    return t(out), t(win)


class GloCalAttention(nn.Module):
    """Multi-head GloCal attention block (Eq. 17), or plain multi-head HSA when ``flow=False``.

    Parameters: ``dim`` embedding width, ``heads`` (``dim % heads == 0``), ``flow`` (add the
    score-aware flow and the gates), ``window`` (n_w), ``n_window_layers`` (n), ``p``,
    ``alpha``, ``gamma``, ``proj_dropout`` (after the output projection).
    After each forward, ``last_winners`` holds the flow's winner mask (bool,
    (B, n, H, T, d*)) and :meth:`gates` returns ``(g_original, g_flow)``.
    """

    def __init__(self, dim: int, heads: int, *, flow: bool = True, window: int = 8,
                 n_window_layers: int = 2, p: int = 3, alpha: float = 0.9, gamma: int = 2,
                 proj_dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"embedding dim {dim} is not divisible by heads {heads}")
        _check_competition(alpha, gamma, p)
        if window < 1 or n_window_layers < 1:
            raise ValueError("window and n_window_layers must be >= 1")
        self.dim, self.heads, self.flow = dim, heads, bool(flow)
        self.window, self.n_window_layers = int(window), int(n_window_layers)
        self.p, self.alpha, self.gamma = int(p), float(alpha), int(gamma)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.psi_theta = nn.Parameter(torch.zeros(heads))
        self.proj_drop = nn.Dropout(proj_dropout)
        if self.flow:
            self.gate_logits = nn.Parameter(torch.zeros(2))
        self.last_winners: torch.Tensor | None = None

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
        # channel-major (3, B, H, d*, T): windows and attention rows run along the last axis
        qkv = self.qkv(x).view(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 4, 1)
        q, k, v = qkv.contiguous().unbind(0)
        beta = self.beta()
        out = _hsa_cm(q, k, v, beta)
        if self.flow:
            o_flow, winners = _flow_cm(
                q, k, v, beta, window=self.window, n_window_layers=self.n_window_layers,
                alpha=self.alpha, gamma=self.gamma, p=self.p)
            g = torch.sigmoid(self.gate_logits)
            out = g[0] * out + g[1] * o_flow                            # Eq. 17
            self.last_winners = winners.detach().transpose(-1, -2)      # (B, n, H, T, d*)
        out = out.permute(0, 3, 1, 2).reshape(B, T, D)
        return self.proj_drop(self.proj(out))
