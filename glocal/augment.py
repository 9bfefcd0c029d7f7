"""Training-time augmentation of CSST-grid spectra: what a real observation does to a synthetic one.

:func:`augment` takes a batch of R = 200 training spectra (``flux`` = F/F_c and, for the flux-calibrated
kind, the dataset's ``continuum`` C with F = flux · C, :class:`glocal.dataset.Dataset`) and returns
the spectra a model of either input kind is trained on, their masks and the parameters drawn, all
vectorised over the batch and reproducible from a ``numpy.random.Generator``.  In order:

1. **Radial velocity** v ~ U(−rv_max, rv_max) (default 500 km/s, halo stars): the spectrum is moved to
   λ(1 + v/c) (first order in v/c; the relativistic term is < 1e-6 of λ at 500 km/s).  On the CSST grid,
   uniform in ln λ with Δ = ln(1 + 1/R), this is a shift by s = ln(1 + v/c)/Δ pixels — 1/3 of a pixel
   and of a resolution element at 500 km/s and R = 200 — done by cubic-convolution interpolation
   (Keys, a = −0.5) in pixel space; it reproduces a shifted smooth function to O(h³) and damps the
   Nyquist frequency by at most 1/8 at a third of a pixel.  Pixels whose 4-point stencil leaves the grid
   (at most two per edge) are masked.  Applied to F/F_c (normalized kind) or F (calibrated kind).
2. **Reddening** (calibrated kind): F · 10^(−0.4 R_V E(B−V) k(λ)), k = A(λ)/A(V) of Gordon et al. (2023),
   ``dust_extinction`` G23, R_V = 3.1, E(B−V) ~ U(0, 0.5).
3. **Calibration error** (calibrated kind): F · s · (1 + a P(u)/max|P|), P = Σ_{k=1..3} c_k u^k with
   c_k ~ N(0, 1), u the affine map of λ onto [−1, 1], a ~ U(0, 0.1) (so the error is ≤ ±10 %), and an
   unknown unit scale s = 10^U(−17, −13).
4. **Noise**: S/N ~ log-uniform in [20, 150]; Gaussian per pixel, σ = y/SNR with y the noiseless
   spectrum of steps 1–3 (F/F_c for the normalized kind, F·S for the calibrated kind).
5. **Masks** (True = not measured): a coverage cut on each side with probability 0.5 — blue limit
   ~ U(λ_first, min_band[0]), red limit ~ U(min_band[1], λ_last), so every spectrum keeps at least
   ``min_band`` (default 4000–9000 Å, the UV-free part of 3500–9000 Å); bad pixels, a fraction
   ~ U(0, 0.02) of the pixels at random positions; the RV edge pixels; non-positive calibrated flux.
6. **Normalization of the kind**: normalized kind, the noisy F/F_c; calibrated kind,
   :func:`glocal.observed.normalize.normalize_synthetic` of the reddened, miscalibrated, noisy F with
   the mask (the observations' path; its invariance to steps 2–3 is measured there, rms ≤ 1.3e-2 over
   the full band at E(B−V) = 0.5 with G23).  Masked pixels are NaN.

Every range is a field of :class:`AugmentConfig`; a zero range switches the step off.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np

from ._checks import check_wave_grid
from .constants import C_KMS

__all__ = ["KINDS", "AugmentConfig", "augment", "draw_parameters", "shift_spectra", "reddening_factor",
           "calibration_factor"]

#: The two input kinds: "normalized" (F/F_c, the paper's) and "calibrated" (physical F_λ).
KINDS = ("normalized", "calibrated")


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the augmentation (module docstring).  snr: (lo, hi) of the log-uniform S/N, or None =
    no noise; ebv: (lo, hi) of the uniform E(B−V) (mag); r_v: R_V of G23; calibration: largest |error|
    (fraction); calibration_degree: degree of the calibration polynomial; rv_max: km/s; min_band: (lo, hi)
    Å always kept; cut_probability: probability of a coverage cut on each side; bad_fraction: (lo, hi)
    of the uniform fraction of bad pixels; scale: (lo, hi) of the log-uniform unit scale."""

    snr: tuple[float, float] | None = (20.0, 150.0)
    ebv: tuple[float, float] = (0.0, 0.5)
    r_v: float = 3.1
    calibration: float = 0.10
    calibration_degree: int = 3
    rv_max: float = 500.0
    min_band: tuple[float, float] = (4000.0, 9000.0)
    cut_probability: float = 0.5
    bad_fraction: tuple[float, float] = (0.0, 0.02)
    scale: tuple[float, float] = (1e-17, 1e-13)

    def __post_init__(self):
        def pair(name, lo_min=0.0, hi_max=np.inf, strict=False):
            v = getattr(self, name)
            try:
                lo, hi = (float(x) for x in v)
            except (TypeError, ValueError):
                raise TypeError(f"{name} must be a (lo, hi) pair, got {v!r}") from None
            if not (np.isfinite(lo) and np.isfinite(hi)) or lo < lo_min or hi > hi_max or hi < lo or \
                    (strict and lo <= lo_min):
                raise ValueError(f"{name} must satisfy {lo_min} {'<' if strict else '<='} lo <= hi <= {hi_max}, "
                                 f"got {v!r}")
        if self.snr is not None:
            pair("snr", strict=True)
        pair("ebv", hi_max=5.0)
        pair("min_band", strict=True)
        pair("bad_fraction", hi_max=0.5)
        pair("scale", strict=True)
        for name, hi in (("r_v", 10.0), ("calibration", 0.5), ("rv_max", 0.01 * C_KMS), ("cut_probability", 1.0)):
            v = getattr(self, name)
            if not isinstance(v, Real) or isinstance(v, bool) or not (0.0 <= v <= hi):
                raise ValueError(f"{name} must be a number in [0, {hi}], got {v!r}")
        d = self.calibration_degree
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 1 <= d <= 8:
            raise ValueError(f"calibration_degree must be an integer in [1, 8], got {d!r}")


def _check_batch(wave, flux, continuum, kind, rng, config):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not isinstance(config, AugmentConfig):
        raise TypeError(f"config must be an AugmentConfig, got {type(config).__name__}")
    wave = check_wave_grid(wave, "wave", min_size=8)
    flux = np.asarray(flux, dtype=np.float64)
    if flux.ndim != 2 or flux.shape[1] != wave.size or flux.shape[0] < 1:
        raise ValueError(f"flux must have shape (n, {wave.size}) with n >= 1, got {flux.shape}")
    if not np.isfinite(flux).all():
        raise ValueError("flux contains non-finite values")
    if kind == "calibrated":
        if continuum is None:
            raise ValueError("the calibrated kind needs the continuum (F = flux * continuum; Dataset.continuum)")
        continuum = np.asarray(continuum, dtype=np.float64)
        if continuum.shape != flux.shape:
            raise ValueError(f"continuum has shape {continuum.shape}, flux {flux.shape}; they must match")
        if not (np.isfinite(continuum).all() and (continuum > 0).all()):
            raise ValueError("continuum must be finite and > 0")
        if not (flux > 0).all():
            raise ValueError("flux must be > 0 for the calibrated kind (a physical flux)")
    lo, hi = config.min_band
    if lo < wave[0] or hi > wave[-1]:
        raise ValueError(f"min_band {config.min_band} Å is not inside the grid {wave[0]:.6g}–{wave[-1]:.6g} Å")
    return wave, flux, continuum


def draw_parameters(n: int, wave: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> dict:
    """Per-spectrum draws (module docstring) for a batch of ``n``: arrays snr (inf without noise), ebv,
    rv_kms, calibration_amplitude, calibration_coefficients (n, degree), scale, blue, red (Å),
    bad_fraction.  Always drawn in this order, whatever the kind, so one seed gives one batch."""
    u = rng.random((n, 7))
    out = {}
    if config.snr is None:
        out["snr"] = np.full(n, np.inf)
    else:
        lo, hi = np.log(config.snr[0]), np.log(config.snr[1])
        out["snr"] = np.exp(lo + (hi - lo) * u[:, 0])
    out["ebv"] = config.ebv[0] + (config.ebv[1] - config.ebv[0]) * u[:, 1]
    out["rv_kms"] = config.rv_max * (2.0 * u[:, 2] - 1.0)
    out["calibration_amplitude"] = config.calibration * u[:, 3]
    out["calibration_coefficients"] = rng.standard_normal((n, config.calibration_degree))
    ls = np.log10(config.scale)
    out["scale"] = 10.0 ** (ls[0] + (ls[1] - ls[0]) * u[:, 4])
    cut = rng.random((n, 2)) < config.cut_probability
    out["blue"] = np.where(cut[:, 0], wave[0] + (config.min_band[0] - wave[0]) * u[:, 5], wave[0])
    out["red"] = np.where(cut[:, 1], config.min_band[1] + (wave[-1] - config.min_band[1]) * u[:, 6], wave[-1])
    b = config.bad_fraction
    out["bad_fraction"] = b[0] + (b[1] - b[0]) * rng.random(n)
    return out


def _pixel_step(wave: np.ndarray) -> float:
    d = np.diff(np.log(wave))
    if np.max(np.abs(d / d.mean() - 1.0)) > 1e-6:
        raise ValueError("the grid must be uniform in ln λ (the CSST grid is) to shift by a radial velocity")
    return float(d.mean())


def shift_spectra(wave, flux, rv_kms) -> tuple[np.ndarray, np.ndarray]:
    """Spectra (n, n_pix) on a grid uniform in ln λ moved by radial velocities ``rv_kms`` (n,) km/s
    (positive = redshift): y(λ_i) = flux(λ_i / (1 + v/c)), by Keys cubic convolution in pixel space.
    Returns (shifted, edge_mask); edge_mask is True where the stencil leaves the grid (those values are
    from clipped indices and must not be used).  A zero velocity returns the input exactly."""
    wave = check_wave_grid(wave, "wave", min_size=4)
    flux = np.asarray(flux, dtype=np.float64)
    v = np.asarray(rv_kms, dtype=np.float64).reshape(-1)
    if flux.ndim != 2 or flux.shape[1] != wave.size or v.size != flux.shape[0]:
        raise ValueError(f"flux must be (n, {wave.size}) and rv_kms (n,); got {flux.shape} and {np.shape(rv_kms)}")
    if not np.isfinite(v).all() or np.any(np.abs(v) >= C_KMS):
        raise ValueError("rv_kms must be finite with |v| < c")
    s = np.log1p(v / C_KMS) / _pixel_step(wave)
    n_pix = wave.size
    pos = np.arange(n_pix)[None, :] - s[:, None]
    i0 = np.floor(pos).astype(np.int64)
    t = pos - i0
    w = (((-0.5 * t + 1.0) * t - 0.5) * t, (1.5 * t - 2.5) * t * t + 1.0,
         ((-1.5 * t + 2.0) * t + 0.5) * t, (0.5 * t - 0.5) * t * t)
    rows = np.arange(flux.shape[0])[:, None]
    out = np.zeros_like(flux)
    for k, wk in enumerate(w):
        out += wk * flux[rows, np.clip(i0 + k - 1, 0, n_pix - 1)]
    moving = t != 0.0
    edge = moving & ((i0 - 1 < 0) | (i0 + 2 > n_pix - 1))
    return out, edge


def reddening_factor(wave, ebv, r_v: float = 3.1) -> np.ndarray:
    """10^(−0.4 R_V E(B−V) k(λ)) (n, n_pix) for E(B−V) ``ebv`` (n,) mag; k = A(λ)/A(V) of
    ``dust_extinction`` G23 at R_V ``r_v`` (valid 912 Å–32 µm)."""
    import astropy.units as u
    from dust_extinction.parameter_averages import G23
    wave = check_wave_grid(wave, "wave")
    k = np.asarray(G23(Rv=r_v)(wave * u.AA), dtype=np.float64)
    ebv = np.atleast_1d(np.asarray(ebv, dtype=np.float64))
    return 10.0 ** (-0.4 * r_v * ebv[:, None] * k[None, :])


def calibration_factor(wave, amplitude, coefficients, scale) -> np.ndarray:
    """s · (1 + a P(u)/max|P|) (n, n_pix): P = Σ_{k≥1} c_k u^k with ``coefficients`` (n, degree),
    u ∈ [−1, 1] affine in λ over the grid, a = ``amplitude`` (n,), s = ``scale`` (n,)."""
    wave = np.asarray(wave, dtype=np.float64)
    u = 2.0 * (wave - wave[0]) / (wave[-1] - wave[0]) - 1.0
    c = np.asarray(coefficients, dtype=np.float64)
    powers = u[None, :] ** np.arange(1, c.shape[1] + 1)[:, None]  # (degree, n_pix)
    p = c @ powers
    peak = np.max(np.abs(p), axis=1, keepdims=True)
    p = np.divide(p, peak, out=np.zeros_like(p), where=peak > 0)
    return np.asarray(scale, float)[:, None] * (1.0 + np.asarray(amplitude, float)[:, None] * p)


def augment(wave, flux, continuum=None, *, kind: str = "normalized", rng: np.random.Generator,
            config: AugmentConfig | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """One augmented batch (steps and equations: module docstring).

    wave : (n_pix,) Å, the CSST grid (uniform in ln λ).  flux : (n, n_pix) F/F_c, finite.  continuum :
    (n, n_pix) C > 0 with F = flux · C, required for ``kind="calibrated"``.  kind : :data:`KINDS`.  rng :
    numpy Generator (the only source of randomness).  config : :class:`AugmentConfig` (default ranges).
    Returns (flux_normalized (n, n_pix) float32, NaN where masked; mask (n, n_pix) bool, True = not
    measured; params: the draws of :func:`draw_parameters` plus "kind", with ebv, calibration_amplitude
    and scale set to 0, 0, 1 for the normalized kind, where they are not applied).  ValueError/TypeError
    for bad input; no spectrum is ever fully masked (``min_band`` is kept apart from bad pixels).
    """
    config = AugmentConfig() if config is None else config
    wave, flux, continuum = _check_batch(wave, flux, continuum, kind, rng, config)
    n = flux.shape[0]
    par = draw_parameters(n, wave, rng, config)
    y = flux if kind == "normalized" else flux * continuum
    y, edge = shift_spectra(wave, y, par["rv_kms"])
    if kind == "calibrated":
        y = y * reddening_factor(wave, par["ebv"], config.r_v) * calibration_factor(
            wave, par["calibration_amplitude"], par["calibration_coefficients"], par["scale"])
    else:
        par["ebv"], par["calibration_amplitude"], par["scale"] = np.zeros(n), np.zeros(n), np.ones(n)
    if config.snr is not None:
        y = y + rng.standard_normal(y.shape) * (np.abs(y) / par["snr"][:, None])
    bad = rng.random(y.shape) < par["bad_fraction"][:, None]
    mask = edge | bad | (wave[None, :] < par["blue"][:, None]) | (wave[None, :] > par["red"][:, None])
    if kind == "calibrated":
        from .observed.normalize import normalize_synthetic
        mask |= ~(y > 0)
        out = normalize_synthetic(wave, np.where(mask, 1.0, y), mask)
    else:
        out = y
    out = np.where(mask, np.nan, out).astype(np.float32)
    par["kind"] = kind
    return out, mask, par
