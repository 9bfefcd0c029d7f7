"""SPT (Zhang et al. 2024, A&A 683, A163) as used for the comparison of paper §4.3.

SPT is the same backbone as SPT-GloCal with multi-head Hadamard self-attention only (no
score-aware flow, no gates): ``build("spt", ...)``. SPT quantifies prediction uncertainty with
Monte-Carlo dropout (Gal & Ghahramani 2016): the dropout layers stay active at inference and the
spread of ``T`` stochastic forward passes is the uncertainty. The helpers below apply to both
models (both carry the same dropout layers).
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

__all__ = ["mc_dropout", "mc_dropout_predict"]


@contextlib.contextmanager
def mc_dropout(model: nn.Module):
    """Context: model in eval mode except its ``nn.Dropout`` layers (restored afterwards)."""
    was_training = model.training
    model.eval()
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    for m in drops:
        m.train()
    try:
        yield model
    finally:
        model.train(was_training)


def mc_dropout_predict(model: nn.Module, flux, *, T: int = 30, batch_size: int = 256,
                       seed: int = 0, device: str | torch.device | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (ddof=1) of ``T`` MC-dropout passes, in model output units.

    ``flux``: array (n, n_pixels). Returns two (n, n_outputs) float64 arrays. ``T`` >= 2.
    """
    if int(T) != T or T < 2:
        raise ValueError(f"T must be an integer >= 2 for a spread, got {T!r}")
    x = torch.as_tensor(np.asarray(flux, dtype=np.float32))
    if x.ndim != 2:
        raise ValueError(f"flux must be 2-D (n, n_pixels), got shape {tuple(x.shape)}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    gen_state = torch.get_rng_state()
    torch.manual_seed(seed)
    s1 = s2 = None
    try:
        with mc_dropout(model), torch.no_grad():
            for t in range(int(T)):
                preds = torch.cat([model(x[i:i + batch_size].to(device)).double().cpu()
                                   for i in range(0, len(x), batch_size)])
                s1 = preds if s1 is None else s1 + preds
                s2 = preds ** 2 if s2 is None else s2 + preds ** 2
    finally:
        torch.set_rng_state(gen_state)
    mean = s1 / T
    var = (s2 - T * mean ** 2) / (T - 1)
    return mean.numpy(), var.clamp_min(0).sqrt().numpy()
