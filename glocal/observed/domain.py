"""Is an input spectrum like the training spectra?  A linear-subspace check for observed-spectra runs.

A network answers every input with numbers, also a spectrum unlike anything it was trained on (a hot
star, a solar-metallicity giant, a badly normalised or mis-identified spectrum).  :class:`SpectrumDomain`
measures how far an input lies from the span of the training spectra:

    x ≈ μ + Σ_k c_k v_k + Σ_{d=0..D} a_d μ(λ) L_d(u),

with μ the mean noiseless training spectrum of the run's kind, v_k its first ``n_components`` principal
components (SVD of the centred noiseless spectra), and L_d the Legendre polynomials in u, the affine map
of ln λ over the grid onto [−1, 1], times μ (a smooth multiplicative error of the continuum placement or
of the calibrated normalisation, to first order).  The coefficients are the least-squares fit over the
measured pixels (NaN = missing); the **misfit** is the rms of the residual over those pixels (flux
units of the normalised spectrum).  The threshold is the ``quantile`` (default 0.99) of the misfits of
the run's calibration spectra — noisy (S/N 20–150), masked, reddened and miscalibrated as in training —
so ~1 % of in-domain spectra exceed it, and a spectrum above it is flagged
``unlike_training_spectra(misfit=…>…)`` by ``glocal predict`` (values kept, the flag warns).

Limits: the misfit is not divided by the input's noise, so the threshold is set by the noisiest
calibration spectra (S/N ≈ 20); an out-of-domain spectrum whose difference from the training set is
smaller than that noise passes (the edge flag on the labels, :data:`glocal.observed.predict.EDGE_FRACTION`,
is the second line of defence).  Real spectra differ from synthetic ones by the engine's own errors
(line data, 1-D LTE); their misfits measure that too.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SpectrumDomain", "fit_domain", "DOMAIN_FILE"]

#: File of a run directory holding the domain model (numpy .npz, read without pickle).
DOMAIN_FILE = "domain.npz"


def _smooth_basis(wave: np.ndarray, mean: np.ndarray, degree: int) -> np.ndarray:
    v = np.log(wave)
    u = 2.0 * (v - v[0]) / (v[-1] - v[0]) - 1.0
    return np.polynomial.legendre.legvander(u, degree) * np.nan_to_num(mean)[:, None]     # (p, degree + 1)


@dataclass(frozen=True)
class SpectrumDomain:
    """Mean ``mean`` (p,), components ``components`` (k, p), smooth-term degree ``degree``, grid
    ``wave`` (p,) Å and misfit ``threshold`` (see the module docstring)."""

    wave: np.ndarray
    mean: np.ndarray
    components: np.ndarray
    degree: int
    threshold: float

    def _basis(self) -> np.ndarray:
        return np.concatenate([self.components.T, _smooth_basis(self.wave, self.mean, self.degree)], axis=1)

    def misfit(self, x) -> np.ndarray:
        """rms residual (n,) of spectra ``x`` (n, p) with NaN = missing; NaN for a spectrum with fewer
        measured pixels than basis vectors + 10."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.shape[1] != self.wave.size:
            raise ValueError(f"spectra have {x.shape[1]} pixels, the domain model {self.wave.size}")
        basis = self._basis()
        out = np.full(len(x), np.nan)
        for i, row in enumerate(x):
            good = np.isfinite(row) & np.isfinite(self.mean)
            if good.sum() < basis.shape[1] + 10:
                continue
            r = row[good] - self.mean[good]
            coef = np.linalg.lstsq(basis[good], r, rcond=None)[0]
            out[i] = float(np.sqrt(np.mean((r - basis[good] @ coef) ** 2)))
        return out

    def save(self, path) -> None:
        np.savez(path, wave=self.wave, mean=self.mean.astype(np.float32), components=self.components.astype(np.float32),
                 degree=np.int64(self.degree), threshold=np.float64(self.threshold))

    @classmethod
    def load(cls, path) -> SpectrumDomain:
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                return cls(z["wave"], z["mean"].astype(np.float64), z["components"].astype(np.float64),
                           int(z["degree"]), float(z["threshold"]))
        except (KeyError, ValueError, OSError) as exc:
            raise ValueError(f"corrupt domain model {path}: {exc}") from None


def fit_domain(wave, clean, reference, *, n_components: int = 40, degree: int = 3,
               quantile: float = 0.99) -> SpectrumDomain:
    """Fit the domain model: principal components of the noiseless training spectra ``clean``
    (n, p; no NaN) and the threshold from the misfits of ``reference`` spectra (the calibration
    set: noisy, NaN = masked) at ``quantile``."""
    wave = np.asarray(wave, dtype=np.float64)
    clean = np.asarray(clean, dtype=np.float64)
    if clean.ndim != 2 or clean.shape[1] != wave.size or not np.isfinite(clean).all():
        raise ValueError(f"clean spectra must be finite (n, {wave.size}), got {clean.shape}")
    if not 0.5 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0.5, 1), got {quantile}")
    mean = clean.mean(axis=0)
    _, _, vt = np.linalg.svd(clean - mean, full_matrices=False)
    provisional = SpectrumDomain(wave, mean, vt[:n_components], int(degree), np.inf)
    fits = provisional.misfit(reference)
    fits = fits[np.isfinite(fits)]
    if fits.size < 20:
        raise ValueError(f"{fits.size} usable reference spectra; need at least 20 for the threshold")
    return SpectrumDomain(wave, mean, vt[:n_components], int(degree), float(np.quantile(fits, quantile)))
