"""Normalisation of flux-calibrated spectra that removes any smooth multiplicative factor.

A flux-calibrated observation on the CSST grid is F_obs(λ) = F(λ) · S(λ): the star's physical flux F
times a smooth, unknown factor S = 10^(−0.4 A(λ)) · C(λ) — interstellar extinction A(λ) = E(B−V) · R_V ·
k(λ) and a calibration error C(λ) (slope, curvature, an unknown scale).  Its continuum F_c is unknown,
so the models cannot be given F/F_c.  :func:`normalize_calibrated` instead returns

    N(λ) = F_obs(λ) / exp P(v),   v = ln λ,   P(v) = Σ_{k=0..degree} c_k L_k(u(v)),

with L_k the Legendre polynomials, u the affine map of the unmasked ln λ range onto [−1, 1], and c_k
the unweighted least-squares fit of ln F_obs over the unmasked pixels outside :data:`FEATURE_WINDOWS`
(``method="poly"``, the default).  The same code, :func:`normalize_synthetic`, is applied to the
engines' physical flux F (not F/F_c) of the training spectra, so a model trained on N(F) reads N(F·S).

Accuracy and the choices, measured with ``benchmarks/normalization.py``: built-in engine (resolution
40 000, threshold 1e-3), 2550–10000 Å, CSST R = 200 grid, atmospheres 4500/2.0/−2.0, 5500/4.0/−1.5,
6000/4.0/−3.0, 4000/1.0/−1.0; S = dust_extinction F99 or G23 (R_V = 3.1) × a random cubic in λ of
±5–10 % × a random scale 1e-16…1e-12; 20 calibrations per atmosphere.  Deviation |N(F·S)/N(F) − 1|,
max / rms over unmasked pixels (unnormalised F·S/F, median-scaled, differs by up to 0.13, 0.42, 1.05,
2.15 at E(B−V) = 0, 0.1, 0.3, 0.5):

    E(B−V)               0              0.1            0.3            0.5
    full   F99      2.5e-3/2.8e-4  6.8e-3/1.5e-3  1.5e-2/4.5e-3  2.2e-2/7.5e-3
    full   G23      2.5e-3/2.8e-4  9.3e-3/2.6e-3  2.5e-2/7.6e-3  4.1e-2/1.3e-2
    4000–10000 F99  7.0e-4/4.7e-5  1.7e-3/5.7e-4  4.2e-3/1.7e-3  6.4e-3/2.9e-3
    4000–10000 G23  7.0e-4/4.7e-5  2.8e-3/1.3e-3  8.2e-3/4.0e-3  1.4e-2/6.7e-3

With 3600–3900 and 6800–7300 Å masked the full-band numbers change by < 10 %.  The residual at
E(B−V) > 0 is the laws' own structure, not the fit: G23 has intermediate-scale features (4370, 4870,
6300 Å) and F99 a spline in the optical, which even a degree-9 polynomial leaves at 1.7e-2 (G23) and
7e-3 (F99) of ln S at E(B−V) = 0.5.  It reaches the models as a small spurious feature, to be learnt
away by training with reddened spectra.

* **Projection.**  The fit is linear with fixed weights, so N(F·S) = N(F) exactly (to rounding) when
  ln S lies in the span of the basis, whatever F is.  An iterative upper-envelope fit
  (``method="envelope"``) loses that property — the kept pixels move with S — and was measured 2–7×
  less invariant (max 0.16 / 0.14 for F99 / G23 at E(B−V) = 0.5, full band, degree 5; 0.11 from the
  calibration error alone).
* **v = ln λ** (the CSST grid is uniform in it).  A ±10 % cubic in λ is fitted by a degree-5
  polynomial to 4e-3 in ln λ but only to 3e-2 in 1/λ; the extinction laws are fitted equally well in both.
* **Degree 5.**  Degree 4 leaves 7e-2 (F99, E(B−V) = 0.5, full band); degree 6 gains little
  invariance (1.9e-2 F99, 5.0e-2 G23) but absorbs up to half of the OH signal.
* **FEATURE_WINDOWS** (2770–3400 and 5120–5220 Å) are normalised but not fitted (unless a window reaches
  an end of the unmasked range: then it is fitted, as P must not be extrapolated), so that a change
  of the Mg II/Mg I, OH and Mg b features does not move P.  Signal survival, Σ_window Δ ln N /
  Σ_window Δ ln(F/F_c) for [Mg/Fe] 0 → 0.4 and [O/Fe] 0 → 0.4 over the four atmospheres: Mg II/Mg I
  (2800–2860 Å) 0.89–1.13, Mg b (5150–5200 Å) 0.95–1.15 (0.91–1.01 on 4000–10000 Å), OH (3050–3250 Å)
  0.76–0.96.  Fitting every pixel instead gives 0.76–0.89, 1.03–1.22 and 0.32–0.60: the polynomial
  then absorbs most of the broad OH band.

Masks and bands.  The fit uses only unmasked pixels, and N is NaN on masked ones.  N depends on which
pixels are unmasked (P is fitted to another stretch of the spectrum), so training spectra must be
normalised with the observation's mask, or with the random coverage cuts the model is trained with:
:func:`normalize_synthetic` takes the same ``mask``.

σ is not used as a weight (so that noiseless training spectra follow the identical path); it is only
propagated, σ_N = σ / exp P, which neglects the fit's own noise (relative ≈ √((degree+1)/n_fit)·σ/F).
"""
from __future__ import annotations

import numpy as np
from numpy.polynomial import legendre as _leg

from glocal._checks import check_wave_grid

__all__ = ["normalize_calibrated", "normalize_synthetic", "DEFAULT_DEGREE", "FEATURE_WINDOWS", "METHODS",
           "MIN_PIXELS_PER_TERM"]

#: Legendre degree of P(ln λ) (module docstring: measured choice).
DEFAULT_DEGREE = 5
#: Wavelength windows (Å, air) left out of the fit of P (their pixels are normalised, not fitted): Mg II h&k,
#: Mg I 2852 and the OH A-X band with its wings (2770–3400 Å), Mg b (5120–5220 Å).
FEATURE_WINDOWS = ((2770.0, 3400.0), (5120.0, 5220.0))
#: "poly": unweighted least squares (exactly invariant to factors in the basis' span);
#: "envelope": iterative upper-envelope fit (pixels more than ``clip`` robust σ below the fit are dropped).
METHODS = ("poly", "envelope")
#: At least this many unmasked pixels per fitted coefficient.
MIN_PIXELS_PER_TERM = 4
_MAX_ITER = 10


def _check_inputs(wave, flux, mask, sigma):
    wave = check_wave_grid(wave, "wave", min_size=2)
    flux = np.asarray(flux, dtype=float)
    if flux.shape != wave.shape:
        raise ValueError(f"flux has shape {flux.shape}, wave has shape {wave.shape}; they must match (1-D)")
    if mask is None:
        mask = np.zeros(wave.shape, dtype=bool)
    else:
        mask = np.asarray(mask)
        if mask.shape != wave.shape or mask.dtype != bool:
            raise ValueError(f"mask must be a boolean array of shape {wave.shape}, got {mask.dtype} {mask.shape}")
    good = ~mask
    bad = good & ~np.isfinite(flux)
    if bad.any():
        raise ValueError(f"flux is not finite at {bad.sum()} unmasked pixel(s) (first at index "
                         f"{np.flatnonzero(bad)[0]}, λ = {wave[bad][0]:.6g} Å); mask them")
    bad = good & (flux <= 0)
    if bad.any():
        raise ValueError(f"flux is ≤ 0 at {bad.sum()} unmasked pixel(s) (first at index {np.flatnonzero(bad)[0]}, "
                         f"λ = {wave[bad][0]:.6g} Å): a calibrated flux must be positive; mask those pixels")
    if sigma is not None:
        sigma = np.asarray(sigma, dtype=float)
        if sigma.shape != wave.shape:
            raise ValueError(f"sigma has shape {sigma.shape}, wave has shape {wave.shape}; they must match")
    return wave, flux, mask, sigma


def _design(v, lo, hi, degree):
    u = (2.0 * v - (lo + hi)) / (hi - lo)
    return _leg.legvander(u, degree)


def _fit(v, y, degree, method, clip, lo, hi):
    """Coefficients of P on the fitted pixels ``v, y`` (Legendre domain [lo, hi]) and the boolean of the
    pixels used in the last fit."""
    A = _design(v, lo, hi, degree)
    use = np.ones(v.size, dtype=bool)
    for _ in range(_MAX_ITER if method == "envelope" else 1):
        if use.sum() < MIN_PIXELS_PER_TERM * (degree + 1):
            raise ValueError(f"only {use.sum()} pixels left in the fit; need ≥ "
                             f"{MIN_PIXELS_PER_TERM * (degree + 1)} for degree {degree}")
        coef = np.linalg.lstsq(A[use], y[use], rcond=None)[0]
        if method != "envelope":
            break
        resid = y - A @ coef
        scale = 1.4826 * np.median(np.abs(resid[use] - np.median(resid[use])))
        new = resid > -clip * scale
        if np.array_equal(new, use) or scale == 0.0:
            break
        use = new
    return coef, use


def _fit_pixels(wave, good, exclude, degree):
    """Unmasked pixels outside the excluded windows.  A window is excluded only when at least degree + 1
    unmasked pixels lie beyond it on each side; a window at an end of the unmasked range is fitted, so that
    P is never extrapolated across it (a spectrum that starts inside 2770–3400 Å)."""
    fit = good.copy()
    w_good = wave[good]
    for window in exclude:
        lo, hi = (float(b) for b in window)
        if (w_good < lo).sum() > degree and (w_good > hi).sum() > degree:
            fit &= ~((wave >= lo) & (wave <= hi))
    return fit


def _check_options(method, degree, clip, exclude):
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 0:
        raise ValueError(f"degree must be an integer ≥ 0, got {degree!r}")
    if not np.isfinite(clip) or clip <= 0:
        raise ValueError(f"clip must be a finite number > 0, got {clip!r}")
    ex = np.asarray(exclude, dtype=float).reshape(-1, 2) if len(exclude) else np.empty((0, 2))
    if not np.isfinite(ex).all() or (ex[:, 1] <= ex[:, 0]).any():
        raise ValueError(f"exclude must be (lo, hi) pairs with lo < hi (Å), got {exclude!r}")
    return int(degree), ex


def normalize_calibrated(wave, flux, mask=None, sigma=None, *, method: str = "poly",
                         degree: int = DEFAULT_DEGREE, exclude=FEATURE_WINDOWS, clip: float = 2.0):
    """Normalise a flux-calibrated spectrum: N = F / exp P(ln λ) (equation and accuracy: module docstring).

    wave : (n,) Å, strictly increasing (the CSST grid in practice).  flux : (n,) F_λ in any unit, > 0 and
    finite on unmasked pixels (ValueError otherwise).  mask : (n,) bool, True = not used (default none).
    sigma : (n,) 1σ of flux in its unit, or None; propagated, never used as a weight.
    method : "poly" (default) or "envelope" (:data:`METHODS`).  degree : Legendre degree of P (default
    :data:`DEFAULT_DEGREE`).  exclude : (lo, hi) windows (Å) not fitted (default :data:`FEATURE_WINDOWS`).
    clip : for "envelope" only, pixels below the fit by more than clip × 1.4826·MAD of the residuals are
    dropped and the fit repeated (at most 10 iterations).

    Returns ``(normalized_flux, normalized_sigma, details)``: N and σ_N (None without sigma), NaN on
    masked pixels; details = {"method", "degree", "coefficients", "domain" (ln λ range of the Legendre
    domain = the unmasked range), "n_fit" (pixels in the final fit), "continuum" (exp P, flux units, NaN
    where masked)}.  ValueError for a bad grid, shape mismatch, non-finite or non-positive unmasked flux,
    bad options, or fewer than :data:`MIN_PIXELS_PER_TERM` × (degree + 1) pixels to fit.
    """
    degree, ex = _check_options(method, degree, clip, exclude)
    wave, flux, mask, sigma = _check_inputs(wave, flux, mask, sigma)
    good = ~mask
    fit = _fit_pixels(wave, good, ex, degree)
    need = MIN_PIXELS_PER_TERM * (degree + 1)
    if fit.sum() < need:
        raise ValueError(f"{fit.sum()} unmasked pixels outside the excluded windows; the degree-{degree} "
                         f"fit needs at least {need}")
    v = np.log(wave)
    lo, hi = float(v[good].min()), float(v[good].max())
    coef, used = _fit(v[fit], np.log(flux[fit]), degree, method, float(clip), lo, hi)
    cont = np.full(wave.shape, np.nan)
    cont[good] = np.exp(_design(v[good], lo, hi, degree) @ coef)
    norm = np.where(good, flux / cont, np.nan)
    nsig = None if sigma is None else np.where(good, sigma / cont, np.nan)
    details = {"method": method, "degree": degree, "coefficients": coef, "domain": (lo, hi),
               "n_fit": int(used.sum()), "continuum": cont}
    return norm, nsig, details


def normalize_synthetic(wave, flux, mask=None, *, method: str = "poly", degree: int = DEFAULT_DEGREE,
                        exclude=FEATURE_WINDOWS, clip: float = 2.0):
    """The training-set side of :func:`normalize_calibrated`: the identical code path on an engine's
    physical flux F (degraded to the CSST grid; not F/F_c).  ``flux`` may be (n,) or (n_spectra, n);
    ``mask`` (n,) or the same shape as flux.  Returns N with the shape of ``flux`` (NaN where masked)."""
    flux = np.asarray(flux, dtype=float)
    if flux.ndim == 1:
        return normalize_calibrated(wave, flux, mask, method=method, degree=degree, exclude=exclude, clip=clip)[0]
    if flux.ndim != 2:
        raise ValueError(f"flux must be 1-D or 2-D, got shape {flux.shape}")
    masks = np.broadcast_to(np.zeros(flux.shape[-1], bool) if mask is None else np.asarray(mask), flux.shape)
    return np.stack([normalize_calibrated(wave, f, m, method=method, degree=degree, exclude=exclude, clip=clip)[0]
                     for f, m in zip(flux, masks)])
