"""The observed spectrum as the readers return it: arrays in the file's own medium and frame.

:class:`ObservedSpectrum` is deliberately thin: wavelengths as recorded (Å, in ``medium``, observed
frame unless the file says otherwise), flux in the file's unit, a 1σ error where the file gives one,
and a bad-pixel mask.  :func:`glocal.observed.prepare` turns it into what the models read.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from glocal.observed.medium import check_medium, vac_to_air

__all__ = ["ObservedSpectrum", "tidy_arrays"]


@dataclass(frozen=True)
class ObservedSpectrum:
    """One observed spectrum.

    wave : float64 (n,), Å, strictly increasing, in ``medium`` ("air" or "vacuum").
    flux : float64 (n,), the file's unit (``meta["flux_unit"]``; ``""`` when unknown/normalised).
        May hold NaN: such pixels are bad, and ``mask`` already marks them.
    sigma : float64 (n,) or None, 1σ error in the unit of ``flux`` (from an error column, or
        1/√ivar, or √variance); NaN where unknown.  None when the file gives no error.
    mask : bool (n,), True = bad pixel (quality flags, NaN or infinite flux, ivar = 0).
    medium : "air" or "vacuum"; ``meta["medium_reason"]`` says what decided it.
    meta : dict with at least ``name`` and ``source``; readers add what they find of ``object``,
        ``ra``, ``dec`` (degrees or the header's string), ``bunit``, ``flux_unit``, ``resolution``
        (a header resolving power), ``fwhm`` (per-pixel FWHM array in Å), ``hdu``, ``header_keys``.
    """

    wave: np.ndarray
    flux: np.ndarray
    sigma: np.ndarray | None = None
    mask: np.ndarray | None = None
    medium: str = "air"
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        wave = np.asarray(self.wave, dtype=np.float64)
        flux = np.asarray(self.flux, dtype=np.float64)
        if wave.ndim != 1 or flux.shape != wave.shape:
            raise ValueError(f"wave and flux must be 1-D of equal length, got {wave.shape} and {flux.shape}")
        if wave.size < 2:
            raise ValueError(f"a spectrum needs at least 2 pixels, got {wave.size}")
        if not np.all(np.isfinite(wave)) or wave[0] <= 0 or np.any(np.diff(wave) <= 0):
            raise ValueError("wave must be finite, positive and strictly increasing (use tidy_arrays)")
        sigma = None if self.sigma is None else np.asarray(self.sigma, dtype=np.float64)
        if sigma is not None and sigma.shape != wave.shape:
            raise ValueError(f"sigma has shape {sigma.shape}, wave {wave.shape}")
        mask = np.zeros(wave.shape, bool) if self.mask is None else np.asarray(self.mask, dtype=bool)
        if mask.shape != wave.shape:
            raise ValueError(f"mask has shape {mask.shape}, wave {wave.shape}")
        mask = mask | ~np.isfinite(flux)
        object.__setattr__(self, "wave", wave)
        object.__setattr__(self, "flux", flux)
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "medium", check_medium(self.medium))
        object.__setattr__(self, "meta", dict(self.meta))

    @property
    def name(self) -> str:
        return str(self.meta.get("name", ""))

    @property
    def n_pix(self) -> int:
        return int(self.wave.size)

    def to_air(self) -> ObservedSpectrum:
        """This spectrum with air wavelengths (itself when already air); see :mod:`glocal.observed.medium`."""
        if self.medium == "air":
            return self
        meta = dict(self.meta, medium_converted_from="vacuum")
        return replace(self, wave=vac_to_air(self.wave), medium="air", meta=meta)

    def __repr__(self) -> str:
        good = ~self.mask
        rng = f"{self.wave[0]:.1f}–{self.wave[-1]:.1f} Å"
        return (f"ObservedSpectrum(name={self.name!r}, n_pix={self.n_pix}, {rng}, medium={self.medium!r}, "
                f"good={int(good.sum())}, sigma={'yes' if self.sigma is not None else 'no'})")


def tidy_arrays(wave, flux, sigma=None, mask=None, extra=None):
    """Sort by wavelength, drop pixels with a non-finite or non-positive wavelength and exact duplicate
    wavelengths (the first is kept).  Returns ``(wave, flux, sigma, mask, extra, n_dropped)``;
    ``extra`` is an optional dict of further per-pixel arrays reordered the same way.
    """
    wave = np.asarray(wave, dtype=np.float64).ravel()
    flux = np.asarray(flux, dtype=np.float64).ravel()
    keep = np.isfinite(wave) & (wave > 0)
    order = np.flatnonzero(keep)[np.argsort(wave[keep], kind="stable")]
    w = wave[order]
    uniq = np.ones(w.size, bool)
    uniq[1:] = np.diff(w) > 0
    order = order[uniq]
    n_dropped = int(wave.size - order.size)

    def pick(a, dtype):
        return None if a is None else np.asarray(a, dtype=dtype).ravel()[order]

    extra = {k: pick(v, np.float64) for k, v in (extra or {}).items()}
    return wave[order], flux[order], pick(sigma, np.float64), pick(mask, bool), extra, n_dropped
