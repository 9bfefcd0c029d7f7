"""Which wavelengths drive a prediction: integrated gradients and occlusion (a future-work study of §5).

Both methods return, for each input pixel, how much it moves the predicted label (in label units,
i.e. dex for [X/Fe]); averaged over test spectra they should pick out the OH bands and the Mg lines
when the network has learnt the physics.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["integrated_gradients", "occlusion"]


def _check(model, flux):
    flux = np.asarray(flux, dtype=np.float32)
    if flux.ndim != 2:
        raise ValueError(f"flux must be (n_spectra, n_pixels), got shape {flux.shape}")
    if not np.isfinite(flux).all():
        raise ValueError("flux contains NaN or infinite values")
    n_pix = getattr(model, "n_pixels", flux.shape[1])
    if flux.shape[1] != n_pix:
        raise ValueError(f"model reads {n_pix} pixels, flux has {flux.shape[1]}")
    return flux


def integrated_gradients(model: torch.nn.Module, flux, output: int, *, baseline=None, steps: int = 32,
                         scale: float = 1.0) -> np.ndarray:
    """Integrated gradients (Sundararajan et al. 2017) of output ``output`` for each spectrum.

    Path from ``baseline`` (default: the continuum, F/Fc = 1, i.e. "no lines") to the spectrum,
    ``steps`` Riemann midpoints. Returns (n_spectra, n_pixels); each row sums to
    f(x) − f(baseline) up to the quadrature error (the completeness property, tested).
    ``scale`` converts the network's standardised output to label units (the label std).
    """
    x = torch.as_tensor(_check(model, flux))
    base = torch.ones_like(x) if baseline is None else torch.as_tensor(np.broadcast_to(
        np.asarray(baseline, np.float32), x.shape).copy())
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    was_training = model.training
    model.eval()
    total = torch.zeros_like(x)
    try:
        for k in range(steps):
            a = (k + 0.5) / steps
            xi = (base + a * (x - base)).requires_grad_(True)
            out = model(xi)[:, output].sum()
            (g,) = torch.autograd.grad(out, xi)
            total += g
    finally:
        model.train(was_training)
    return ((x - base) * total / steps).detach().numpy() * scale


def occlusion(model: torch.nn.Module, flux, output: int, *, width: int = 3, fill: float = 1.0,
              scale: float = 1.0) -> np.ndarray:
    """Change of output ``output`` when a sliding block of ``width`` pixels is set to ``fill``.

    Returns (n_spectra, n_pixels): for each pixel, the mean change over the blocks covering it.
    """
    x = torch.as_tensor(_check(model, flux))
    n, p = x.shape
    if not 1 <= width <= p:
        raise ValueError(f"width must be in [1, {p}], got {width}")
    was_training = model.training
    model.eval()
    effect = torch.zeros_like(x)
    cover = torch.zeros(p)
    try:
        with torch.no_grad():
            ref = model(x)[:, output]
            for start in range(0, p - width + 1):
                xo = x.clone()
                xo[:, start:start + width] = fill
                delta = (ref - model(xo)[:, output])[:, None]
                effect[:, start:start + width] += delta
                cover[start:start + width] += 1
    finally:
        model.train(was_training)
    return (effect / cover).numpy() * scale
