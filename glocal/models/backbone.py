"""ViT-style 1-D transformer backbone for R≈200 CSST spectra (paper §3.3).

A spectrum of ``n_pixels`` fluxes is normalised (``(flux − mean) / scale``, buffers set from the
training split, see :meth:`SpectrumTransformer.set_input_normalisation`), padded at the red end
(edge value repeated) to a multiple of ``patch_size`` and cut into non-overlapping patches; a
linear patch embedding maps each patch to a ``dim``-wide token, a learnable position embedding is
added, an optional CLS token is prepended, and ``depth`` pre-norm transformer blocks (attention +
GELU MLP, residual connections) follow.

With ``missing=True`` in the config the model reads spectra with gaps: NaN marks a pixel that was not
measured.  Such pixels enter the patch embedding as 0 (the training mean, after normalisation) and a
second linear embedding of the patch's 0/1 missing-pixel indicator is added to the token, so that a
masked pixel is told apart from a measured one at the mean (padding pixels count as missing).  A
spectrum with no measured pixel is refused.
The pooled token (CLS or the mean over tokens) goes through a final LayerNorm and a linear
regression head with ``n_outputs`` outputs ([O/Fe], [Mg/Fe] by default; more labels such as Teff,
log g, [Fe/H] simply widen the head).

The attention of every block is :class:`~glocal.models.glocal_attention.GloCalAttention`: with the
score-aware flow for "spt-glocal", Hadamard self-attention only for "spt" (Zhang et al. 2024).
All Linear weights, the position embedding and the CLS token are drawn from a truncated normal
(σ = 0.02, cut at ±2σ, §3.3 "weight initialization"); biases are zero, LayerNorms start at (1, 0).
Dropout (on tokens after the position embedding, after the attention projection and inside
the MLP) is what Monte-Carlo dropout samples at inference (SPT); the layers are
:class:`~glocal.models.glocal_attention.Dropout` (``nn.Dropout`` with the mask drawn from 16 random
bits per entry: keep probability within 2⁻¹⁷ of ``1 − dropout``, see there).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .glocal_attention import Dropout, GloCalAttention

__all__ = ["SpectrumTransformer", "CONFIGS", "MODEL_NAMES", "build", "count_parameters",
           "resolve_config"]

MODEL_NAMES = ("spt-glocal", "spt")

#: Named configurations. "paper": §3.3 (embedding 768, 12 blocks, 12 heads, ≈85.2 M parameters).
#: "cpu": a small model that trains in minutes on 2 CPU cores; "cpu-large": twice its width and 1.5x its depth
#: (about 6x the parameters), the second size of the learning curves. The patch size, MLP ratio,
#: dropout and the GloCal window hyper-parameters are not given in the paper: our choices.
CONFIGS: dict[str, dict] = {
    "cpu": dict(dim=96, depth=4, heads=4, mlp_ratio=2.0, patch_size=8, pool="mean",
                dropout=0.1, window=8, n_window_layers=2, p=3, alpha=0.9,
                gamma=2, n_outputs=2, missing=False),
    "cpu-large": dict(dim=192, depth=6, heads=6, mlp_ratio=2.0, patch_size=8, pool="mean",
                      dropout=0.1, window=8, n_window_layers=2, p=3, alpha=0.9,
                      gamma=2, n_outputs=2, missing=False),
    "paper": dict(dim=768, depth=12, heads=12, mlp_ratio=4.0, patch_size=8, pool="cls",
                  dropout=0.1, window=8, n_window_layers=2, p=3, alpha=0.9,
                  gamma=2, n_outputs=2, missing=False),
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
    if not isinstance(out["missing"], bool):
        raise ValueError(f"config['missing'] must be True or False, got {out['missing']!r}")
    if not 0.0 <= out["dropout"] < 1.0:
        raise ValueError(f"config['dropout'] must be in [0, 1), got {out['dropout']!r}")
    return out


class _MLP(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.drop = Dropout(dropout)

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
        self.missing = bool(cfg["missing"])
        self.mask_embed = nn.Linear(ps, dim) if self.missing else None
        n_tok = self.n_patches + (cfg["pool"] == "cls")
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if cfg["pool"] == "cls" else None
        self.pos_embed = nn.Parameter(torch.zeros(1, n_tok, dim))
        self.pos_drop = Dropout(cfg["dropout"])
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
        bad_mean = torch.isinf(mean).any() or torch.isnan(mean).all() if self.missing else \
            not torch.isfinite(mean).all()
        if bad_mean or not torch.isfinite(scale).all() or scale.item() <= 0:
            raise ValueError("input normalisation must be finite with scale > 0 (a model with missing=True "
                             "may have NaN means: pixels never measured in training, always read as missing)")
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
        if not self.missing:
            if not torch.isfinite(flux).all():
                raise ValueError("flux contains NaN or infinite values")
            return
        if torch.isinf(flux).any():
            raise ValueError("flux contains infinite values (NaN marks a missing pixel; inf is not allowed)")
        if torch.isnan(flux).all(dim=1).any():
            raise ValueError("a spectrum has no measured pixel (all NaN)")

    def _tokens(self, flux: torch.Tensor) -> torch.Tensor:
        x = (flux.to(self.patch_embed.weight.dtype) - self.input_mean) / self.input_scale
        if not self.missing:
            if self.pad:
                x = F.pad(x.unsqueeze(1), (0, self.pad), mode="replicate").squeeze(1)
            return self.patch_embed(x.view(x.shape[0], self.n_patches, -1))
        gone = torch.isnan(x)
        x = torch.where(gone, torch.zeros_like(x), x)
        m = gone.to(x.dtype)
        if self.pad:
            x = F.pad(x, (0, self.pad), value=0.0)
            m = F.pad(m, (0, self.pad), value=1.0)
        shape = (x.shape[0], self.n_patches, -1)
        return self.patch_embed(x.view(shape)) + self.mask_embed(m.view(shape))

    def forward(self, flux: torch.Tensor) -> torch.Tensor:
        self._check(flux)
        x = self._tokens(flux)
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
