"""Put an observed spectrum on the CSST R=200 grid the models read: :func:`prepare`.

The same steps for every input (file or object), in this order:

1. **Air.**  Vacuum wavelengths are converted to air (:func:`glocal.observed.medium.vac_to_air`).
2. **Rest frame.**  λ_rest = λ_obs · √((1 − β)/(1 + β)), β = rv/c (relativistic radial Doppler; rv in
   km/s, positive = receding; c from :mod:`glocal.constants`).  No barycentric correction is applied:
   give the rv in the frame the wavelengths are in.
3. **Bad pixels** (masked, never fatal): the reader's mask (quality flags, NaN flux, ivar = 0), non-finite
   or non-positive σ, and — for flux-calibrated spectra only — flux ≤ 0 (a normalised spectrum may dip
   below 0 in a noisy line core; masking those would bias the line).  :func:`detect_flux_kind` decides.
4. **Resolution** (:func:`estimate_resolution`), first available: the ``resolution=`` argument; a
   header keyword (SPECRES, RESOLUTION, RESOLVPW …); the per-pixel FWHM column (R = median λ/FWHM);
   the sampling, R = median λ/(2Δλ) (Nyquist: at least two pixels per FWHM, so an upper bound on R).
   Input coarser than the target (R_in < 0.99·target_R) is refused with a ValueError: glocal cannot
   sharpen a spectrum.  Input already on the Eq. 8 grid of ``target_R`` (e.g. glocal's own degraded
   output) is taken as it is (R_in = target), linearly interpolated when an rv shifts it.
5. **Degradation** (Eq. 11, :mod:`glocal.degrade`) with a Gaussian of FWHM Λ/R_k,
   R_k = (1/R_target² − 1/R_in²)^(−1/2), so that the input's own (Gaussian) profile and the kernel add up
   to FWHM Λ/R_target; R_k = R_target for R_in = ∞, and R_k ≤ the input's Nyquist R (a kernel at least
   two pixels wide).  Masked pixels are handled by normalised convolution: F̃_j = Σ_i M_ji w_i F_i /
   Σ_i M_ji w_i with M the operator of :func:`glocal.degrade.get_operator` and w_i = 0 for bad pixels, 1
   otherwise — identical to :func:`glocal.degrade.degrade` when nothing is masked.  The per-pixel noise is
   propagated as σ̃_j² = Σ_i (M_ji w_i σ_i)² / (Σ_i M_ji w_i)² (independent input pixels; neighbouring
   output pixels are correlated, as the kernel spans several output pixels).
6. **Output mask.**  An output pixel is kept when the valid input pixels carry at least ``min_coverage``
   of the Gaussian kernel mass that a spectrum covering the synthetic range [2550, 10000] Å (the training
   input of :func:`glocal.degrade.degrade`) would give it: coverage_j = Σ_valid G_j(λ_i) δλ_i /
   ∫_{[2550, 10000] ∩ ±truncate·FWHM} G_j dλ, with δλ_i the pixel width (midpoint rule, see
   ``_pixel_widths``).  Input pixels outside [2550, 10000] Å (rest frame) count as invalid, so that the
   windows at the ends of the grid are one-sided exactly as for the synthetic training spectra.  Grid
   points outside the observed range, in gaps or next to masked stretches are masked.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.special import ndtr

from glocal import degrade as _degrade
from glocal._checks import finite_scalar, positive_scalar
from glocal.constants import C_KMS
from glocal.observed.spectrum import ObservedSpectrum

__all__ = ["PreparedSpectrum", "prepare", "estimate_resolution", "detect_flux_kind", "masked_degrade",
           "doppler_to_rest", "exclude_ranges", "parse_wave_range", "REFERENCE_RANGE"]

#: Wavelength range (Å, air) of the synthetic spectra the models were trained on (paper §2.2).
REFERENCE_RANGE = _degrade.BANDS["full"]
_GRID_RTOL = 1e-6


@dataclass(frozen=True)
class PreparedSpectrum:
    """A spectrum on the CSST grid, ready for a model.

    wave : the Eq. 8 grid points of ``band`` (Å, air, rest frame) — the same points for every input.
    flux, sigma : degraded flux (input unit) and its 1σ (None when the input had no error); NaN where masked.
    mask : True = no usable data at that grid point.
    coverage : fraction of the kernel mass carried by valid input pixels (rule 6 of the module docstring).
    band_used : (min, max) of the unmasked grid wavelengths, or None when every pixel is masked.
    resolution_in, resolution_source, kernel_R : the input's R, how it was found, the kernel's R_k.
    flux_kind : "normalized" or "calibrated" (with ``meta["flux_kind_reason"]``).
    """

    wave: np.ndarray
    flux: np.ndarray
    sigma: np.ndarray | None
    mask: np.ndarray
    coverage: np.ndarray
    band_used: tuple[float, float] | None
    resolution_in: float
    resolution_source: str
    kernel_R: float
    rv: float
    flux_kind: str
    name: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def n_good(self) -> int:
        return int((~self.mask).sum())


def doppler_to_rest(wave, rv: float) -> np.ndarray:
    """Rest-frame wavelengths λ_obs·√((1 − β)/(1 + β)), β = rv/c, rv in km/s (positive = receding)."""
    beta = finite_scalar(rv, "rv") / C_KMS
    if abs(beta) >= 1:
        raise ValueError(f"|rv| must be below c, got {rv} km/s")
    return np.asarray(wave, dtype=np.float64) * np.sqrt((1.0 - beta) / (1.0 + beta))


def parse_wave_range(text: str) -> tuple[float, float]:
    """``"LO-HI"`` (Å) → (LO, HI) with 0 <= LO < HI, finite; ValueError naming the text otherwise."""
    parts = str(text).strip().split("-")
    try:
        if len(parts) != 2:
            raise ValueError
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"wavelength range {text!r} is not LO-HI in Angstrom (e.g. 0-4000)") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 <= lo < hi):
        raise ValueError(f"wavelength range {text!r} needs 0 <= LO < HI")
    return lo, hi


def exclude_ranges(spec: ObservedSpectrum, ranges, rv: float = 0.0) -> ObservedSpectrum:
    """``spec`` with every pixel whose rest-frame air wavelength (Å; :func:`doppler_to_rest` with ``rv``
    km/s) lies in one of ``ranges`` ([(lo, hi), ...], inclusive) marked bad; the ranges are recorded in
    ``meta["excluded"]``.  Excluded pixels are missing to the models, exactly like the file's bad pixels."""
    ranges = [tuple(map(float, r)) for r in ranges]
    if not ranges:
        return spec
    for lo, hi in ranges:
        if not (np.isfinite(lo) and np.isfinite(hi) and 0 <= lo < hi):
            raise ValueError(f"excluded range ({lo}, {hi}) needs 0 <= lo < hi")
    rest = doppler_to_rest(spec.to_air().wave, rv)
    drop = np.zeros(rest.size, bool)
    for lo, hi in ranges:
        drop |= (rest >= lo) & (rest <= hi)
    meta = dict(spec.meta, excluded=list(spec.meta.get("excluded", [])) + ranges)
    return replace(spec, mask=spec.mask | drop, meta=meta)


_CALIBRATED_TYPES = ("spectral flux density", "spectral flux density wav", "power density/spectral flux density wav")


def detect_flux_kind(spec: ObservedSpectrum) -> tuple[str, str]:
    """("normalized" | "calibrated", reason) of a spectrum's flux.

    Calibrated when the flux unit is a physical flux density (F_λ or F_ν); otherwise normalised when the
    median of the good pixels lies in [0.5, 1.5] and their 99th percentile is ≤ 3 (a continuum-normalised
    spectrum sits at ≤ 1 apart from noise); otherwise calibrated (relative F_λ in arbitrary units).
    """
    import astropy.units as u
    unit = str(spec.meta.get("flux_unit", "") or "")
    if unit:
        try:
            ptype = str(u.Unit(unit).physical_type)
        except (ValueError, TypeError):
            ptype = ""
        if ptype in _CALIBRATED_TYPES or "spectral flux density" in ptype:
            return "calibrated", f"flux unit {unit}"
    good = spec.flux[~spec.mask & np.isfinite(spec.flux)]
    if good.size == 0:
        return "normalized", "no good pixels"
    med, p99 = float(np.median(good)), float(np.percentile(good, 99))
    if 0.5 <= med <= 1.5 and p99 <= 3.0:
        return "normalized", f"median flux {med:.3g}, 99th percentile {p99:.3g}"
    return "calibrated", f"median flux {med:.3g}, 99th percentile {p99:.3g}"


def _in_range(wave, valid, lo, hi):
    sel = valid & (wave >= lo) & (wave <= hi)
    return sel if sel.sum() >= 2 else valid


def estimate_resolution(spec: ObservedSpectrum, resolution=None, wave_range=None) -> tuple[float, str]:
    """(R, source) of a spectrum's resolving power by the rule of step 4 of the module docstring.

    ``wave_range`` (lo, hi) Å restricts the FWHM/sampling medians to the pixels that matter; ``resolution``
    (a positive number, ``inf`` for a noiseless synthetic spectrum) overrides everything.
    """
    if resolution is not None:
        r = float(resolution)
        if not r > 0:
            raise ValueError(f"resolution must be > 0 (or inf), got {resolution!r}")
        return r, "argument"
    if "resolution" in spec.meta:
        return float(spec.meta["resolution"]), f"header {spec.meta.get('resolution_keyword', 'keyword')}"
    lo, hi = wave_range if wave_range is not None else (0.0, np.inf)
    valid = ~spec.mask
    fwhm = spec.meta.get("fwhm")
    if fwhm is not None and np.shape(fwhm) == spec.wave.shape:
        fwhm = np.asarray(fwhm, dtype=np.float64)
        sel = _in_range(spec.wave, valid & np.isfinite(fwhm) & (fwhm > 0), lo, hi)
        if sel.sum() >= 2:
            return float(np.median(spec.wave[sel] / fwhm[sel])), "FWHM column"
    return _sampling_R(spec.wave, _in_range(spec.wave, valid, lo, hi)), "sampling (Nyquist)"


def _sampling_R(wave, sel) -> float:
    """Median λ/(2Δλ) over neighbouring pixel pairs that are both selected (Nyquist resolving power)."""
    pair = sel[1:] & sel[:-1]
    if not pair.any():
        pair = np.ones(wave.size - 1, bool)
    mid = 0.5 * (wave[1:] + wave[:-1])
    return float(np.median(mid[pair] / (2.0 * np.diff(wave)[pair])))


def _pixel_widths(wave) -> np.ndarray:
    """δλ_i = ½ min(d_L, 2 d_R) + ½ min(d_R, 2 d_L) (d_L, d_R the spacings to the neighbours, mirrored at
    the ends): the midpoint rule, except that a pixel next to a gap claims at most its other spacing."""
    d = np.diff(wave)
    left = np.concatenate(([d[0]], d))
    right = np.concatenate((d, [d[-1]]))
    return 0.5 * np.minimum(left, 2 * right) + 0.5 * np.minimum(right, 2 * left)


def _reference_mass(grid, sigma, half, ref):
    lo = np.maximum(ref[0], grid - half)
    hi = np.minimum(ref[1], grid + half)
    return sigma * np.sqrt(2.0 * np.pi) * np.clip(ndtr((hi - grid) / sigma) - ndtr((lo - grid) / sigma), 0, None)


def masked_degrade(wave, flux, valid, grid, *, R: float, sigma=None, truncate: float = 5.0,
                   reference=REFERENCE_RANGE):
    """Normalised-convolution Eq. 11 of a spectrum with bad pixels (steps 5–6 of the module docstring).

    ``wave`` strictly increasing (Å), ``flux``/``sigma`` (n,) with anything at invalid pixels, ``valid``
    (n,) bool, ``grid`` (m,) output wavelengths, ``R`` the kernel's resolving power.  Returns
    ``(flux_out, sigma_out or None, coverage)``, each (m,); grid points whose kernel window holds no input
    sample get NaN and coverage 0.  Coverage is clipped to [0, 1] (the quadrature can exceed 1 by a few
    per cent where the sampling changes).
    """
    wave = np.asarray(wave, dtype=np.float64)
    grid = np.asarray(grid, dtype=np.float64)
    valid = np.asarray(valid, bool)
    fwhm = grid / R
    half = truncate * fwhm
    lo = np.searchsorted(wave, grid - half, side="left")
    hi = np.searchsorted(wave, grid + half, side="right")
    use = (hi > lo) & (grid >= wave[0] - 0.5 * fwhm) & (grid <= wave[-1] + 0.5 * fwhm)
    out = np.full(grid.size, np.nan)
    out_sigma = None if sigma is None else np.full(grid.size, np.nan)
    coverage = np.zeros(grid.size)
    if not use.any() or not valid.any():
        return out, out_sigma, coverage
    M = _degrade.get_operator(wave, grid[use], R=R, truncate=truncate).matrix
    w = valid.astype(np.float64)
    f0 = np.where(valid, np.nan_to_num(np.asarray(flux, dtype=np.float64)), 0.0)
    den = M @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        out[use] = (M @ f0) / den
        if sigma is not None:
            s2 = np.where(valid, np.nan_to_num(np.asarray(sigma, dtype=np.float64)) ** 2, 0.0)
            out_sigma[use] = np.sqrt(M.multiply(M) @ s2) / den
    rows = np.repeat(np.arange(M.shape[0]), np.diff(M.indptr))
    g, sig = grid[use], fwhm[use] * _degrade.fwhm_to_sigma(1.0)
    G = np.exp(-0.5 * ((wave[M.indices] - g[rows]) / sig[rows]) ** 2)
    mass = np.bincount(rows, weights=G * (_pixel_widths(wave) * w)[M.indices], minlength=M.shape[0])
    ref = _reference_mass(g, sig, half[use], reference)
    with np.errstate(invalid="ignore", divide="ignore"):
        coverage[use] = np.clip(np.where(ref > 0, mass / ref, 0.0), 0.0, 1.0)
    return out, out_sigma, coverage


def _target_grid(band, target_R) -> np.ndarray:
    grid = _degrade.csst_grid(REFERENCE_RANGE[0], REFERENCE_RANGE[1], target_R)
    return grid[_degrade.band_mask(grid, band)]


def _on_grid(wave, target_R) -> bool:
    full = _degrade.csst_grid(REFERENCE_RANGE[0], REFERENCE_RANGE[1], target_R)
    i = np.searchsorted(full, wave[0] * (1 - _GRID_RTOL))
    j = i + wave.size
    return j <= full.size and np.allclose(full[i:j], wave, rtol=_GRID_RTOL, atol=0)


def _interp_on_grid(wave, flux, valid, sigma, grid):
    """Linear interpolation of an R=target spectrum shifted by an rv; a grid point is bad when either
    neighbour is."""
    idx = np.clip(np.searchsorted(wave, grid) - 1, 0, wave.size - 2)
    t = (grid - wave[idx]) / (wave[idx + 1] - wave[idx])
    inside = (grid >= wave[0]) & (grid <= wave[-1])
    ok = inside & (valid[idx] | (t == 1)) & (valid[idx + 1] | (t == 0))
    f = np.where(valid, flux, 0.0)
    out = np.where(ok, (1 - t) * f[idx] + t * f[idx + 1], np.nan)
    out_sigma = None
    if sigma is not None:
        s = np.where(valid, np.nan_to_num(sigma), 0.0)
        out_sigma = np.where(ok, np.sqrt(((1 - t) * s[idx]) ** 2 + (t * s[idx + 1]) ** 2), np.nan)
    return out, out_sigma, ok.astype(np.float64)


def _bad_pixels(spec: ObservedSpectrum, flux_kind: str) -> np.ndarray:
    bad = spec.mask | ~np.isfinite(spec.flux)
    if spec.sigma is not None:
        bad |= ~(np.isfinite(spec.sigma) & (spec.sigma > 0))
    if flux_kind == "calibrated":
        bad |= ~(spec.flux > 0)
    return bad


def _kernel_R(target_R: float, R_in: float, R_nyquist: float) -> float:
    if np.isinf(R_in):
        r_k = target_R
    else:
        gap = 1.0 / target_R**2 - 1.0 / R_in**2
        r_k = 1.0 / np.sqrt(gap) if gap > 0 else np.inf
    return float(min(r_k, max(R_nyquist, target_R)))


def prepare(spec: ObservedSpectrum, *, rv: float = 0.0, band="full", target_R: float = 200,
            resolution=None, flux_kind: str = "auto", min_coverage: float = 0.9,
            truncate: float = 5.0) -> PreparedSpectrum:
    """The spectrum ``spec`` on the Eq. 8 grid of ``target_R`` restricted to ``band`` (module docstring).

    rv : km/s, the star's radial velocity in the frame of the wavelengths (0 when already at rest).
    band : a :data:`glocal.degrade.BANDS`/``CSST_BANDS`` name or an explicit (lo, hi) Å pair.
    resolution : the input's resolving power when known better than the file says (``inf`` for a
        synthetic spectrum); None = estimate it (:func:`estimate_resolution`).
    flux_kind : "auto" (:func:`detect_flux_kind`), "normalized" or "calibrated".
    min_coverage : the kernel-mass fraction below which an output pixel is masked.

    ValueError when the input is coarser than ``target_R`` or does not overlap the band at all; an
    output with every pixel masked is returned (``band_used`` None) when the overlap holds no valid data.
    """
    if not isinstance(spec, ObservedSpectrum):
        raise TypeError(f"prepare() takes an ObservedSpectrum (see read_spectra), got {type(spec).__name__}")
    target_R = positive_scalar(target_R, "target_R")
    kind, kind_reason = _flux_kind(spec, flux_kind)
    air = spec.to_air()
    wave = doppler_to_rest(air.wave, rv)
    grid = _target_grid(band, target_R)
    if grid.size == 0:
        raise ValueError(f"band {band!r} holds no point of the R={target_R:g} grid")
    if wave[-1] < grid[0] or wave[0] > grid[-1]:
        raise ValueError(f"{spec.name}: the spectrum ({wave[0]:.1f}–{wave[-1]:.1f} Å, air, rest frame) does not "
                         f"overlap the band {grid[0]:.1f}–{grid[-1]:.1f} Å (is the wavelength unit right?)")
    valid = ~_bad_pixels(air, kind) & (wave >= REFERENCE_RANGE[0]) & (wave <= REFERENCE_RANGE[1])
    sigma = air.sigma
    if _on_grid(air.wave, target_R):
        R_in, source, r_k = target_R, "CSST grid", np.inf
        flux, sig_out, coverage = _interp_on_grid(wave, air.flux, valid, sigma, grid)
    else:
        R_in, source = estimate_resolution(air, resolution, (grid[0], grid[-1]))
        if R_in < 0.99 * target_R:
            raise ValueError(
                f"{spec.name}: resolving power R≈{R_in:.0f} ({source}) is coarser than the target "
                f"R={target_R:g}; glocal degrades spectra but cannot sharpen them")
        r_k = _kernel_R(target_R, R_in, _sampling_R(wave, valid))
        flux, sig_out, coverage = masked_degrade(wave, air.flux, valid, grid, R=r_k, sigma=sigma,
                                                 truncate=truncate)
    mask = ~(coverage >= min_coverage) | ~np.isfinite(flux)
    flux = np.where(mask, np.nan, flux)
    if sig_out is not None:
        sig_out = np.where(mask, np.nan, sig_out)
    good = grid[~mask]
    band_used = (float(good[0]), float(good[-1])) if good.size else None
    meta = dict(spec.meta, flux_kind_reason=kind_reason, medium_in=spec.medium, band=band,
                n_valid_input=int(valid.sum()))
    return PreparedSpectrum(wave=grid.copy(), flux=flux, sigma=sig_out, mask=mask, coverage=coverage,
                            band_used=band_used, resolution_in=float(R_in), resolution_source=source,
                            kernel_R=float(r_k), rv=float(rv), flux_kind=kind, name=spec.name, meta=meta)


def _flux_kind(spec, flux_kind):
    if flux_kind == "auto":
        return detect_flux_kind(spec)
    if flux_kind in ("normalized", "calibrated"):
        return flux_kind, "argument"
    raise ValueError(f"flux_kind must be 'auto', 'normalized' or 'calibrated', got {flux_kind!r}")
