"""Frozen reference: SPT / SPT-GloCal as implemented at commit b7eaceb, for benchmarks and tests only.

This module is a verbatim, self-contained copy of ``glocal/models/glocal_attention.py`` and
``glocal/models/backbone.py`` at commit b7eaceb (before the training speed-up of issue 24), joined
into one file with the intra-package import removed. ``benchmarks/train.py`` times it side by side
with the current implementation, and ``tests/test_model_speedpath.py`` checks that both give the
same outputs and gradients for the same weights (identical ``state_dict`` keys). Do not edit the
numerics here: it is the yardstick.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["enhanced_softmax", "competitive_filter", "hadamard_attention",
           "hadamard_attention_reference", "score_aware_flow", "GloCalAttention",
           "SpectrumTransformer", "CONFIGS", "MODEL_NAMES", "build", "count_parameters",
           "resolve_config"]


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


# ---- backbone (glocal/models/backbone.py at b7eaceb) ----------------------------------------


MODEL_NAMES = ("spt-glocal", "spt")

#: Named configurations. "paper": §3.3 (embedding 768, 12 blocks, 12 heads, ≈85.2 M parameters).
#: "cpu": a small model that trains in minutes on 2 CPU cores. The patch size, MLP ratio,
#: dropout and the GloCal window hyper-parameters are not given in the paper: our choices.
CONFIGS: dict[str, dict] = {
    "cpu": dict(dim=96, depth=4, heads=4, mlp_ratio=2.0, patch_size=8, pool="mean",
                dropout=0.1, window=8, n_window_layers=2, p=3, alpha=0.9,
                gamma=2, n_outputs=2),
    "paper": dict(dim=768, depth=12, heads=12, mlp_ratio=4.0, patch_size=8, pool="cls",
                  dropout=0.1, window=8, n_window_layers=2, p=3, alpha=0.9,
                  gamma=2, n_outputs=2),
}
_KEYS = set(CONFIGS["cpu"])


def resolve_config(config: str | dict = "cpu") -> dict:
    """Full hyper-parameter dict from a name or from a partial dict.

    A dict overrides the "cpu" defaults, or those of ``config["base"]`` ("cpu"|"paper").
    Unknown names or keys raise ``ValueError``.
    """
    if isinstance(config, str):
        if config not in CONFIGS:
            raise ValueError(f"unknown model config {config!r}; choose one of {sorted(CONFIGS)} "
                             "or pass a dict")
        return dict(CONFIGS[config])
    if not isinstance(config, dict):
        raise TypeError(f"config must be a name or a dict, got {type(config).__name__}")
    config = dict(config)
    base = config.pop("base", "cpu")
    unknown = set(config) - _KEYS
    if unknown:
        raise ValueError(f"unknown model config key(s) {sorted(unknown)}; valid keys: {sorted(_KEYS)}")
    out = resolve_config(base)
    out.update(config)
    if out["pool"] not in ("cls", "mean"):
        raise ValueError(f"pool must be 'cls' or 'mean', got {out['pool']!r}")
    for key in ("dim", "depth", "heads", "patch_size", "window", "n_window_layers", "n_outputs"):
        if int(out[key]) != out[key] or out[key] < 1:
            raise ValueError(f"config[{key!r}] must be a positive integer, got {out[key]!r}")
    if not 0.0 <= out["dropout"] < 1.0:
        raise ValueError(f"config['dropout'] must be in [0, 1), got {out['dropout']!r}")
    return out


class _MLP(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + Attn(LN(x))`` then ``x + MLP(LN(x))``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float, flow: bool, window: int,
                 n_window_layers: int, p: int, alpha: float, gamma: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = GloCalAttention(dim, heads, flow=flow, window=window,
                                    n_window_layers=n_window_layers, p=p, alpha=alpha,
                                    gamma=gamma, proj_dropout=dropout)
        self.mlp = _MLP(dim, int(round(dim * mlp_ratio)), dropout)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class SpectrumTransformer(nn.Module):
    """SPT / SPT-GloCal regressor: ``forward(flux (B, n_pixels)) -> (B, n_outputs)``."""

    def __init__(self, n_pixels: int, *, name: str = "spt-glocal", config: str | dict = "cpu"):
        super().__init__()
        if name not in MODEL_NAMES:
            raise ValueError(f"unknown model {name!r}; choose one of {MODEL_NAMES}")
        if int(n_pixels) != n_pixels or n_pixels < 1:
            raise ValueError(f"n_pixels must be a positive integer, got {n_pixels!r}")
        cfg = resolve_config(config)
        self.name, self.config, self.n_pixels = name, cfg, int(n_pixels)
        ps, dim = cfg["patch_size"], cfg["dim"]
        self.n_patches = math.ceil(self.n_pixels / ps)
        self.pad = self.n_patches * ps - self.n_pixels
        self.patch_embed = nn.Linear(ps, dim)
        n_tok = self.n_patches + (cfg["pool"] == "cls")
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if cfg["pool"] == "cls" else None
        self.pos_embed = nn.Parameter(torch.zeros(1, n_tok, dim))
        self.pos_drop = nn.Dropout(cfg["dropout"])
        self.blocks = nn.ModuleList(
            Block(dim, cfg["heads"], cfg["mlp_ratio"], cfg["dropout"], flow=(name == "spt-glocal"),
                  window=cfg["window"], n_window_layers=cfg["n_window_layers"], p=cfg["p"], alpha=cfg["alpha"],
                  gamma=cfg["gamma"]) for _ in range(cfg["depth"]))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, cfg["n_outputs"])
        # input normalisation (x − mean) / scale; identity until set from the training split
        self.register_buffer("input_mean", torch.zeros(self.n_pixels))
        self.register_buffer("input_scale", torch.ones(1))
        self.reset_parameters()

    def set_input_normalisation(self, mean, scale) -> None:
        """Set the input normalisation ``(flux − mean) / scale`` (``mean``: (n_pixels,), ``scale`` > 0).

        :func:`glocal.training.train_model` sets it from the training spectra: their mean spectrum
        and one global scale, the rms of the centred training flux. A single scale (rather than a
        per-pixel standard deviation) keeps white noise white: the paper's noisy test spectra
        (σ = 1/S/N in every pixel) are not amplified where the training spectra hardly vary.
        Without centring, the LayerNorms see tokens dominated by the continuum and the lines'
        signal is too weak to learn from (checked on toy spectra: no learning in 8 epochs).
        """
        mean = torch.as_tensor(mean, dtype=self.input_mean.dtype).reshape(-1)
        scale = torch.as_tensor(scale, dtype=self.input_scale.dtype).reshape(-1)
        if mean.shape != (self.n_pixels,) or scale.shape != (1,):
            raise ValueError(f"need mean of shape ({self.n_pixels},) and one scale, got "
                             f"{tuple(mean.shape)} and {tuple(scale.shape)}")
        if not torch.isfinite(mean).all() or not torch.isfinite(scale).all() or scale.item() <= 0:
            raise ValueError("input normalisation must be finite with scale > 0")
        with torch.no_grad():
            self.input_mean.copy_(mean)
            self.input_scale.copy_(scale)

    def reset_parameters(self) -> None:
        """Truncated-normal initialisation (σ = 0.02, ±2σ) of weights and embeddings (§3.3)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02, a=-0.04, b=0.04)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.pos_embed, std=0.02, a=-0.04, b=0.04)
        if self.cls_token is not None:
            nn.init.trunc_normal_(self.cls_token, std=0.02, a=-0.04, b=0.04)

    def _check(self, flux: torch.Tensor) -> None:
        if not isinstance(flux, torch.Tensor):
            raise TypeError(f"flux must be a torch.Tensor, got {type(flux).__name__}")
        if flux.ndim != 2 or flux.shape[1] != self.n_pixels:
            raise ValueError(f"flux must have shape (batch, {self.n_pixels}), got {tuple(flux.shape)}")
        if not torch.isfinite(flux).all():
            raise ValueError("flux contains NaN or infinite values")

    def forward(self, flux: torch.Tensor) -> torch.Tensor:
        self._check(flux)
        x = (flux.to(self.patch_embed.weight.dtype) - self.input_mean) / self.input_scale
        if self.pad:
            x = F.pad(x.unsqueeze(1), (0, self.pad), mode="replicate").squeeze(1)
        x = self.patch_embed(x.view(x.shape[0], self.n_patches, -1))
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.pos_drop(x + self.pos_embed)
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        x = x[:, 0] if self.cls_token is not None else x.mean(1)
        return self.head(x)

    def gates(self) -> torch.Tensor:
        """(depth, 2) tensor of ``(g_original, g_flow)`` per block (Eq. 17)."""
        return torch.stack([b.attn.gates().detach().cpu() for b in self.blocks])

    def winner_masks(self) -> list[torch.Tensor | None]:
        """Per block, the flow's winner mask of the last forward: bool (B, n, H, T, d*)."""
        return [b.attn.last_winners for b in self.blocks]

    def winner_fraction(self) -> torch.Tensor:
        """(depth, B, T) fraction of (window layer, head, channel) competitions a token won."""
        masks = self.winner_masks()
        if any(m is None for m in masks):
            raise ValueError("no winner masks: run a forward pass of an 'spt-glocal' model first")
        return torch.stack([m.float().mean(dim=(1, 2, 4)) for m in masks])


def build(name: str, config: str | dict = "cpu", n_pixels: int | None = None) -> SpectrumTransformer:
    """Build "spt-glocal" or "spt" for spectra of ``n_pixels`` pixels with a named/dict config."""
    if n_pixels is None:
        raise ValueError("n_pixels is required (length of the spectra the model reads)")
    return SpectrumTransformer(n_pixels, name=name, config=config)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))
