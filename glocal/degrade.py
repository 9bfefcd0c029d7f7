"""CSST R≈200 degradation of high-resolution synthetic spectra (paper §2.2, Eqs 8–11).

The paper builds a constant-resolution output grid by the recursion of Eq. 8 and evaluates,
at every output point Λ_j, a Gaussian of FWHM Λ_j/R (Eqs 9–10) truncated at ±5 FWHM, replacing
the integrals of Eq. 11 by "discrete summation over the clipped original wavelength grid …
normalized by dividing by the total kernel weight".  That is a linear map from the input pixels
to the output pixels, so it is built once per input grid as a ``scipy.sparse`` CSR matrix
(:class:`DegradeOperator`) and applied to any number of spectra with one sparse product.

Weighting of the discrete sum (``weighting=``):

``"paper"`` (default)
    F̃_j = Σ_i F_i G_j(λ_i) / Σ_i G_j(λ_i) over |λ_i − Λ_j| ≤ truncate·FWHM_j — literally the
    paper's recipe.  On a uniform input grid it is the rectangle-rule quadrature of Eq. 11 (the
    constant Δλ cancels).  On a non-uniform grid it over-weights densely sampled regions.
``"trapezoid"``
    Trapezoid-rule quadrature of both integrals of Eq. 11 over the clipped window (samples at the
    window edges get half their inner interval).  Better for non-uniform grids; on a uniform grid
    it differs from ``"paper"`` only through the two edge samples, whose Gaussian weight at
    5 FWHM is e^-69 — i.e. not at all in float64.

Windows near the ends of the input are one-sided (the first Eq. 8 point is λ_min itself), as in
the paper; grid points more than half a FWHM outside the input coverage raise ValueError.

The constant 1/(σ_j √(2π)) of Eq. 10 cancels between numerator and denominator of Eq. 11 and is
therefore not applied.

Band conventions (paper §1, §4): ``"uv"`` = [2550, 4000) Å, ``"optical"`` = [4000, 10000] Å,
``"full"`` = [2550, 10000] Å, so that ``uv`` and ``optical`` partition ``full``; a pixel at
exactly 4000 Å belongs to the optical band (the paper's optical-only inputs are "4000–10 000 Å";
its §1 loosely calls the UV "≤ 4000 Å").  No Eq. 8 point at R = 200 falls on 4000 Å, so the choice
does not change the paper's experiments.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp

from ._checks import check_wave_grid, positive_scalar

__all__ = [
    "BANDS",
    "CSST_BANDS",
    "DegradeOperator",
    "add_noise",
    "band_mask",
    "csst_grid",
    "degrade",
    "fwhm_to_sigma",
    "get_operator",
    "clear_operator_cache",
]

#: Wavelength bands used by the experiments (Å, air).  ``uv`` is half-open at 4000 Å.
BANDS: dict[str, tuple[float, float]] = {
    "full": (2550.0, 10000.0),
    "optical": (4000.0, 10000.0),
    "uv": (2550.0, 4000.0),
}

#: Nominal CSST slitless-spectroscopy (grism) bands in Å.  Values as quoted by Zhang et al. (2025,
#: §1: GU 255–420 nm, GV 400–650 nm, GI 620–1000 nm), consistent with the CSST survey descriptions
#: of Zhan (2011, Sci. Sin. Phys. Mech. Astron. 41, 1441; 2021, Chin. Sci. Bull. 66, 1290) and
#: CSST Collaboration (2025, arXiv:2507.04618).  They are nominal design ranges, not measured
#: throughput edges; the bands overlap and both edges are treated as inclusive.
CSST_BANDS: dict[str, dict] = {
    "GU": {"range": (2550.0, 4200.0), "nominal": True, "R": 200},
    "GV": {"range": (4000.0, 6500.0), "nominal": True, "R": 200},
    "GI": {"range": (6200.0, 10000.0), "nominal": True, "R": 200},
}

_FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
#: Refuse operators with more non-zeros than this (≈ 12 bytes each in CSR).
MAX_NNZ = 200_000_000
_BLOCK = 2_000_000  # candidate entries per build block
_WEIGHTINGS = ("paper", "trapezoid")


def fwhm_to_sigma(fwhm):
    """σ = FWHM / (2√(2 ln 2)) (paper, after Eq. 10)."""
    return np.asarray(fwhm, dtype=float) * _FWHM_TO_SIGMA


def _single_thread_blas():
    """Limit BLAS to one thread: many tiny GEMVs on a shared machine are much slower threaded."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        from contextlib import nullcontext
        return nullcontext()
    return threadpool_limits(1, user_api="blas")


# ----------------------------------------------------------------------------- validation
def _positive_finite(value, name: str) -> float:
    """``value`` as a finite float > 0 (:func:`glocal._checks.positive_scalar`); TypeError unless it
    is a real Python or numpy number (no strings, arrays or bools)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return positive_scalar(value, name)


def _as_flux(flux, n_pix: int) -> np.ndarray:
    try:
        arr = np.asarray(flux)
    except (TypeError, ValueError) as exc:  # pragma: no cover - exotic inputs
        raise TypeError(f"flux must be a numeric array: {exc}") from None
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"flux must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise ValueError(f"flux must be 1-D (n_pix,) or 2-D (n_spectra, n_pix), got shape {arr.shape}")
    if arr.shape[-1] != n_pix:
        raise ValueError(f"flux has {arr.shape[-1]} pixels but the wavelength grid has {n_pix}")
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))
        raise ValueError(f"flux contains {len(bad)} non-finite value(s) (first at index {tuple(bad[0])})")
    return arr


# ----------------------------------------------------------------------------- Eq. 8 grid
def csst_grid(wmin: float = 2550.0, wmax: float = 10000.0, R: float = 200) -> np.ndarray:
    """Constant-resolution output grid of Eq. 8: Λ_0 = wmin, Λ_{j+1} = Λ_j + Λ_j/R, last Λ ≤ wmax.

    Evaluated as the literal recursion (not wmin·(1+1/R)^j) so that it reproduces the paper's
    construction bit for bit.  The defaults give 274 points (2550 … 9951.2 Å).
    """
    wmin = _positive_finite(wmin, "wmin")
    wmax = _positive_finite(wmax, "wmax")
    R = _positive_finite(R, "R")
    if wmax <= wmin:
        raise ValueError(f"wmax ({wmax}) must be larger than wmin ({wmin})")
    n_max = int(np.ceil(np.log(wmax / wmin) / np.log1p(1.0 / R))) + 2
    out = np.empty(n_max + 1)
    lam = wmin
    n = 0
    while lam <= wmax:
        out[n] = lam
        n += 1
        lam = lam + lam / R
    return out[:n].copy()


# ----------------------------------------------------------------------------- operator
class DegradeOperator:
    """Sparse linear operator of Eq. 11 mapping spectra on ``wave_in`` to ``grid``.

    ``matrix`` is a CSR matrix of shape (len(grid), len(wave_in)) whose rows sum to 1; row j holds
    the (normalised) Gaussian weights G_j(λ_i) of Eq. 10 for |λ_i − Λ_j| ≤ truncate·Λ_j/R
    (optionally multiplied by trapezoid quadrature weights, see module docstring).

    Raises ValueError when a grid point lies further than half a FWHM outside the input coverage,
    or when its kernel window holds no input sample (too few for ``"trapezoid"``).
    """

    def __init__(self, wave_in, grid, R: float = 200, truncate: float = 5.0, weighting: str = "paper"):
        self.wave_in = check_wave_grid(wave_in, "wave_in", min_size=2)
        self.grid = check_wave_grid(grid, "grid", min_size=1)
        self.R = _positive_finite(R, "R")
        self.truncate = _positive_finite(truncate, "truncate")
        if weighting not in _WEIGHTINGS:
            raise ValueError(f"unknown weighting {weighting!r}; choose one of {_WEIGHTINGS}")
        self.weighting = weighting
        self.matrix = self._build()

    @property
    def shape(self) -> tuple[int, int]:
        """(len(grid), len(wave_in)): output pixels × input pixels."""
        return self.matrix.shape

    @property
    def fwhm(self) -> np.ndarray:
        """FWHM(Λ_j) = Λ_j / R (Eq. 9)."""
        return self.grid / self.R

    def _build(self) -> sp.csr_matrix:
        lam, grid = self.wave_in, self.grid
        fwhm = grid / self.R
        sigma = fwhm * _FWHM_TO_SIGMA
        half = self.truncate * fwhm
        # Coverage: the input must reach each grid point (half a FWHM tolerance for edge pixels).
        outside = (grid < lam[0] - 0.5 * fwhm) | (grid > lam[-1] + 0.5 * fwhm)
        if outside.any():
            j = np.flatnonzero(outside)
            raise ValueError(
                f"{j.size} output grid point(s) lie outside the input wavelength coverage "
                f"[{lam[0]:.6g}, {lam[-1]:.6g}] Å (e.g. Λ={grid[j[0]]:.6g} Å); "
                "the input spectrum does not cover [wmin, wmax]"
            )
        # Candidate index ranges with a small margin, then the exact |λ-Λ| <= h test.
        margin = 1e-9 * grid
        lo = np.searchsorted(lam, grid - half - margin, side="left")
        hi = np.searchsorted(lam, grid + half + margin, side="right")
        counts = (hi - lo).astype(np.int64)
        n_out = grid.size
        total = int(counts.sum())
        if total > MAX_NNZ:
            raise ValueError(
                f"operator would hold ~{total:.3g} non-zeros (> MAX_NNZ={MAX_NNZ:.3g}); "
                "use a coarser input/output grid or a smaller truncate"
            )
        need = 2 if self.weighting == "trapezoid" else 1
        index_dtype = np.int32 if lam.size < 2**31 - 1 else np.int64
        data_parts, col_parts, nnz_rows = [], [], np.zeros(n_out, dtype=np.int64)
        cum = np.concatenate(([0], np.cumsum(counts)))
        j0 = 0
        while j0 < n_out:  # blocks of output rows bound the temporaries to ~_BLOCK candidates
            j1 = max(j0 + 1, int(np.searchsorted(cum, cum[j0] + _BLOCK, side="right")) - 1)
            j1 = min(j1, n_out)
            c = counts[j0:j1]
            nb = int(c.sum())
            rows = np.repeat(np.arange(j0, j1, dtype=np.int64), c)
            cols = np.arange(nb, dtype=np.int64) - np.repeat(cum[j0:j1] - cum[j0] - lo[j0:j1], c)
            d = lam[cols] - grid[rows]
            keep = np.abs(d) <= half[rows]
            if not keep.all():
                rows, cols, d = rows[keep], cols[keep], d[keep]
            n_in_window = np.bincount(rows - j0, minlength=j1 - j0)
            empty = n_in_window < need
            if empty.any():
                j = j0 + int(np.flatnonzero(empty)[0])
                raise ValueError(
                    f"{int(empty.sum())} output grid point(s) have fewer than {need} input sample(s) in "
                    f"their ±{self.truncate:g}·FWHM kernel window (e.g. Λ={grid[j]:.6g} Å, window "
                    f"[{grid[j] - half[j]:.6g}, {grid[j] + half[j]:.6g}] Å); "
                    "the input does not cover [wmin, wmax] or is too coarsely sampled"
                )
            z = d / sigma[rows]
            w = np.exp(-0.5 * z * z)
            if self.weighting == "trapezoid":
                w *= self._trapezoid_weights(rows, cols)
            norm = np.bincount(rows - j0, weights=w, minlength=j1 - j0)
            if np.any(norm <= 0):
                j = j0 + int(np.flatnonzero(norm <= 0)[0])
                raise ValueError(f"kernel weight underflows to 0 at Λ={grid[j]:.6g} Å")
            data_parts.append(w / norm[rows - j0])
            col_parts.append(cols.astype(index_dtype))
            nnz_rows[j0:j1] = n_in_window
            j0 = j1
        indptr = np.concatenate(([0], np.cumsum(nnz_rows))).astype(index_dtype)
        mat = sp.csr_matrix(
            (np.concatenate(data_parts), np.concatenate(col_parts), indptr), shape=(n_out, lam.size)
        )
        mat.has_sorted_indices = True
        # Each row's window is one contiguous run of input pixels (sorted input) — used by "banded".
        self._row_start = mat.indices[mat.indptr[:-1]].astype(np.int64)
        if not np.all(mat.indices[mat.indptr[1:] - 1] - self._row_start == nnz_rows - 1):
            raise RuntimeError("internal error: kernel windows are not contiguous")
        return mat

    def _trapezoid_weights(self, rows, cols) -> np.ndarray:
        """Trapezoid weights of each sample inside its (clipped) window: half of the inner intervals."""
        lam = self.wave_in
        first = np.ones(rows.size, dtype=bool)
        first[1:] = rows[1:] != rows[:-1]
        last = np.ones(rows.size, dtype=bool)
        last[:-1] = rows[1:] != rows[:-1]
        left = np.where(first, 0.0, lam[cols] - lam[np.maximum(cols - 1, 0)])
        right = np.where(last, 0.0, lam[np.minimum(cols + 1, lam.size - 1)] - lam[cols])
        return 0.5 * (left + right)

    def apply(self, flux, method: str = "auto") -> np.ndarray:
        """Degrade ``flux`` (n_pix,) or (n_spectra, n_pix) → (n_grid,) or (n_spectra, n_grid), float64.

        ``method``: ``"sparse"`` (scipy CSR product), ``"banded"`` (each row's window is a contiguous
        pixel range, so a batch is reduced with one single-threaded BLAS GEMV per output pixel), or
        ``"auto"`` (banded for ≥ 4 spectra; the two speeds are compared by ``benchmarks/degrade.py``,
        results in ``results/benchmarks/notes_core.md``).  Both give the same numbers to rounding
        (~1e-14 relative).
        """
        if method not in ("auto", "sparse", "banded"):
            raise ValueError(f"unknown method {method!r}; choose 'auto', 'sparse' or 'banded'")
        arr = _as_flux(flux, self.wave_in.size).astype(np.float64, copy=False)
        if method == "auto":
            method = "banded" if arr.ndim == 2 and arr.shape[0] >= 4 else "sparse"
        if method == "sparse":
            if arr.ndim == 1:
                return self.matrix @ arr
            # F M^T: scipy evaluates it on the CSC view of M^T without copying F.
            return np.ascontiguousarray(np.asarray(arr @ self.matrix.T))
        batch = np.atleast_2d(arr)
        out_t = np.empty((self.grid.size, batch.shape[0]))
        indptr, start, data = self.matrix.indptr, self._row_start, self.matrix.data
        with _single_thread_blas():
            for j in range(self.grid.size):
                p, q = indptr[j], indptr[j + 1]
                s = start[j]
                np.dot(batch[:, s:s + (q - p)], data[p:q], out=out_t[j])
        return out_t[:, 0].copy() if arr.ndim == 1 else np.ascontiguousarray(out_t.T)

    __call__ = apply

    def __repr__(self) -> str:
        return (
            f"DegradeOperator(n_in={self.wave_in.size}, n_out={self.grid.size}, R={self.R:g}, "
            f"truncate={self.truncate:g}, weighting={self.weighting!r}, nnz={self.matrix.nnz})"
        )


_CACHE: OrderedDict[tuple, DegradeOperator] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 8


def _digest(arr: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(arr).tobytes(), digest_size=16).hexdigest()


def get_operator(wave_in, grid, R: float = 200, truncate: float = 5.0, weighting: str = "paper") -> DegradeOperator:
    """Return a cached :class:`DegradeOperator` (keyed by a hash of the input and output grids)."""
    w = check_wave_grid(wave_in, "wave_in", min_size=2)
    g = check_wave_grid(grid, "grid", min_size=1)
    key = (_digest(w), w.size, _digest(g), g.size, float(R), float(truncate), weighting)
    with _CACHE_LOCK:
        op = _CACHE.get(key)
        if op is not None:
            _CACHE.move_to_end(key)
            return op
    op = DegradeOperator(w, g, R=R, truncate=truncate, weighting=weighting)
    with _CACHE_LOCK:
        _CACHE[key] = op
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return op


def clear_operator_cache() -> None:
    """Drop all cached operators."""
    with _CACHE_LOCK:
        _CACHE.clear()


def degrade(wave, flux, R: float = 200, wmin: float = 2550.0, wmax: float = 10000.0,
            truncate: float = 5.0, grid=None, weighting: str = "paper"):
    """Degrade spectra to resolving power R on the Eq. 8 grid (Eqs 8–11); returns ``(grid, degraded)``.

    ``flux`` is (n_pix,) or (n_spectra, n_pix) on the (possibly non-uniform, strictly increasing)
    ``wave`` grid in Å.  ``grid`` overrides the Eq. 8 grid built from ``wmin``, ``wmax``, ``R``.
    The sparse operator is cached per (wave, grid, R, truncate, weighting).
    """
    if grid is None:
        grid = csst_grid(wmin, wmax, R)
    op = get_operator(wave, grid, R=R, truncate=truncate, weighting=weighting)
    return op.grid.copy(), op.apply(flux)


# ----------------------------------------------------------------------------- noise
def _as_rng(rng) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng seed must be >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be None, an int seed or numpy.random.Generator, got {type(rng).__name__}")


def add_noise(flux, snr, rng=None, continuum=1.0) -> np.ndarray:
    """Add Gaussian noise of σ = continuum / S/N per pixel (paper §4, "average S/N per pixel").

    For continuum-normalised spectra (continuum = 1) the noise is white with σ = 1/S/N, i.e. S/N is
    defined at the continuum level and is the same in lines (a background/read-noise-like model,
    not photon noise).  ``snr`` and ``continuum`` broadcast against ``flux`` (scalar, per-pixel
    (n_pix,), or per-spectrum (n, 1)).  ``rng``: Generator or int seed (reproducible).
    Returns a new float64 array.
    """
    arr = np.asarray(flux)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"flux must be a real numeric array, got dtype {arr.dtype}")
    if not np.isfinite(arr).all():
        raise ValueError("flux contains non-finite values")
    snr_a = np.asarray(snr, dtype=np.float64)
    cont = np.asarray(continuum, dtype=np.float64)
    if not np.all(np.isfinite(snr_a)) or np.any(snr_a <= 0):
        raise ValueError("snr must be finite and > 0 everywhere")
    if not np.all(np.isfinite(cont)) or np.any(cont < 0):
        raise ValueError("continuum must be finite and >= 0 everywhere")
    try:
        sigma = np.broadcast_to(cont / snr_a, arr.shape)
    except ValueError:
        raise ValueError(
            f"snr {snr_a.shape} / continuum {cont.shape} cannot be broadcast to flux shape {arr.shape}"
        ) from None
    gen = _as_rng(rng)
    return arr.astype(np.float64) + sigma * gen.standard_normal(arr.shape)


# ----------------------------------------------------------------------------- bands
def band_mask(wave, band) -> np.ndarray:
    """Boolean mask of ``wave`` in ``band``.

    ``band`` is a key of :data:`BANDS` (``uv`` = [2550, 4000), ``optical`` = [4000, 10000],
    ``full`` = [2550, 10000]), a key of :data:`CSST_BANDS` (both edges inclusive), or an explicit
    ``(lo, hi)`` pair (inclusive).
    """
    arr = np.asarray(wave, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"wave must be 1-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("wave contains non-finite values")
    if isinstance(band, str):
        if band in BANDS:
            lo, hi = BANDS[band]
            if band == "uv":
                return (arr >= lo) & (arr < hi)
            return (arr >= lo) & (arr <= hi)
        if band in CSST_BANDS:
            lo, hi = CSST_BANDS[band]["range"]
            return (arr >= lo) & (arr <= hi)
        raise ValueError(f"unknown band {band!r}; known: {sorted(BANDS) + sorted(CSST_BANDS)}")
    try:
        lo, hi = (float(v) for v in band)
    except (TypeError, ValueError):
        raise TypeError(f"band must be a band name or a (lo, hi) pair, got {band!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        raise ValueError(f"band limits must be finite with hi > lo, got ({lo}, {hi})")
    return (arr >= lo) & (arr <= hi)
