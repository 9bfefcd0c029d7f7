"""Forward-model fit of an R=200 spectrum: Teff, log g, [Fe/H], [O/Fe], [Mg/Fe] (+ E(B−V), RV).

The classical route (as SME or Korg do it), with the emulator of :mod:`glocal.emulator` in place of a
synthesis.  On the CSST grid pixels j that are measured (mask False, finite flux and σ, inside ``band``,
away from the strong telluric bands for normalized input unless ``telluric=False``):

* **normalized** input d_j ≈ F/F_c(θ)_j · P(x_j), P = Σ_k c_k P_k(x) a Legendre series of degree
  ``degree`` (default 2) in x = ln λ mapped to [−1, 1] over the used pixels — a smooth multiplicative
  continuum correction;
* **calibrated** input, fitted in ln flux: ln d_j ≈ ln F/F_c(θ)_j + ln F_c(θ)_j − 0.4 ln10 · R_V · k(λ_j) ·
  E(B−V) + Σ_k c_k P_k(x_j) (default degree 4), k(λ) = A(λ)/A(V) of Gordon et al. (2023, G23, R_V = 3.1,
  ``dust_extinction``); the exponential of the series is the unknown scale (distance, radius) and the smooth
  flux-calibration error.  σ of ln d is σ_j/d_j.

The nuisance coefficients c are solved by weighted linear least squares at every step (variable projection:
the residual handed to the optimiser is the one left after the best c), and the nonlinear parameters by
``scipy.optimize.least_squares`` (trust-region reflective) inside the bounds of the emulator's training
grid.  Starts: the ``n_starts`` best of ``n_scan`` quasi-random draws inside the bounds (χ² of each draw
computed in one vectorised pass).  RV (km/s, positive = receding) shifts the model by λ(1 + v/c).

Noise: σ² = σ_obs² + σ_emu², with σ_emu the emulator's held-out per-pixel rms (relative: d·rms for
normalized input, rms in ln for calibrated), unless ``model_error=False``.  When the input has no σ,
σ_obs is taken uniform (normalized: in flux, calibrated: in ln flux) and set so that χ²_red = 1 (the
residual rms), flagged ``sigma_estimated``; ``chi2_red`` is then NaN.

Uncertainties (:attr:`FitResult.method`): the Gauss–Newton covariance (JᵀJ)⁻¹ of the nuisance-profiled
residuals, J by central differences at the optimum, multiplied by max(1, χ²_red) (by χ²_red when σ was
estimated).  For a linear nuisance this marginalises over c exactly; it ignores the model's own systematic
error beyond σ_emu.  Flags (``;``-joined in the CLI): ``at_bound(<label>)``, ``far_from_grid`` (the
(Teff, log g, [Fe/H]) is more than 1.5 units from the nearest grid atmosphere, see
:meth:`glocal.emulator.Emulator.hull_distance`), ``sigma_estimated``, ``not_converged``,
``fixed_outside_grid(<label>)``, ``too_few_pixels`` (no fit: NaN values).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from numpy.polynomial import legendre
from scipy.optimize import least_squares
from scipy.stats import qmc

from glocal.constants import C_KMS
from glocal.emulator import LABELS, load_emulator

__all__ = ["FitResult", "fit_spectrum", "model_at", "telluric_mask", "PARAMS", "DEFAULT_DEGREE", "R_V", "METHOD",
           "TELLURIC_BANDS"]

#: Every parameter the fit knows, in the order of the internal vector.
PARAMS = LABELS + ("ebv", "rv")
#: Legendre degree of the nuisance per input kind.
DEFAULT_DEGREE = {"normalized": 2, "calibrated": 4}
#: R_V of the G23 extinction curve.
R_V = 3.1
_EXTRA_BOUNDS = {"ebv": (0.0, 1.0), "rv": (-1000.0, 1000.0)}
#: How the uncertainties are computed (see the module docstring).
METHOD = "jacobian_covariance_x_max(1,chi2_red)"
_HULL_FLAG = 1.5
#: Strong telluric bands (Å, air): O₂ B, H₂O, O₂ A, H₂O, H₂O.  A grid pixel is dropped when its ±FWHM
#: (λ/200) window overlaps one (``telluric``; by default for normalized input, which is ground-based here).
TELLURIC_BANDS = ((6865.0, 6935.0), (7160.0, 7340.0), (7590.0, 7700.0), (8120.0, 8350.0), (8950.0, 9800.0))


@dataclass
class FitResult:
    """Outcome of :func:`fit_spectrum`.

    labels, std : parameter → best value and 1σ (NaN for a held parameter's σ); every name of
        :data:`PARAMS` is present (E(B−V) and RV at their held values unless fitted).
    chi2, chi2_red : Σ r² and Σ r² / (n_pixels − free parameters − nuisance terms) (NaN when σ was estimated).
    n_pixels, band_used : pixels fitted and the (min, max) Å they span.  free : fitted parameter names.
    flags : list of strings (module docstring).  method : how ``std`` was computed.
    wave, data, model, used : the grid (274,), the input, the best model (input units) and the pixels fitted.
    covariance : (n_free, n_free) in the units of the labels.  seconds : wall time of the fit.
    """

    labels: dict
    std: dict
    chi2: float
    chi2_red: float
    n_pixels: int
    band_used: tuple | None
    flux_kind: str
    degree: int
    free: tuple
    flags: list = field(default_factory=list)
    method: str = METHOD
    wave: np.ndarray | None = None
    data: np.ndarray | None = None
    model: np.ndarray | None = None
    used: np.ndarray | None = None
    covariance: np.ndarray | None = None
    seconds: float = 0.0


@dataclass
class _Problem:
    emu: object
    kind: str
    idx: np.ndarray          # used pixels, indices into the emulator grid
    y: np.ndarray            # data (normalized) or ln data (calibrated) at idx
    w: np.ndarray            # 1/σ of y at idx
    L: np.ndarray            # (n, degree+1) Legendre design at idx
    ext: np.ndarray          # −0.4 ln10 R_V k(λ) at idx
    free: list
    full0: np.ndarray        # the full parameter vector with held values
    lo: np.ndarray
    hi: np.ndarray
    Q: np.ndarray | None = None

    def __post_init__(self):
        if self.kind == "calibrated":
            self.Q = np.linalg.qr(self.L * self.w[:, None])[0]


def _bounds(emu):
    lo = np.concatenate([emu.lo, [_EXTRA_BOUNDS["ebv"][0], _EXTRA_BOUNDS["rv"][0]]])
    hi = np.concatenate([emu.hi, [_EXTRA_BOUNDS["ebv"][1], _EXTRA_BOUNDS["rv"][1]]])
    return lo, hi


def _extinction(wave) -> np.ndarray:
    """−0.4 ln10 · R_V · A(λ)/A(V) (G23): ln of the reddening factor per unit E(B−V)."""
    import astropy.units as u
    from dust_extinction.parameter_averages import G23
    return -0.4 * np.log(10.0) * R_V * np.asarray(G23(Rv=R_V)(np.asarray(wave) * u.AA), dtype=np.float64)


def _emulate(prob: _Problem, full: np.ndarray):
    """(ln F/F_c, ln F_c shape) on the used pixels for full parameter vectors (…, 7), RV applied."""
    lnf, lnc = prob.emu.predict(full[..., :5])
    rv = full[..., 6]
    if np.any(rv != 0):
        lnw = np.log(prob.emu.wave)
        shift = np.log1p(np.asarray(rv, dtype=np.float64) / C_KMS)
        lnf = np.atleast_2d(lnf)
        lnc = np.atleast_2d(lnc)
        sh = np.broadcast_to(shift, lnf.shape[:1])
        lnf = np.stack([np.interp(lnw - s, lnw, f) for s, f in zip(sh, lnf)]).reshape(np.shape(full)[:-1] + (-1,))
        lnc = np.stack([np.interp(lnw - s, lnw, f) for s, f in zip(sh, lnc)]).reshape(np.shape(full)[:-1] + (-1,))
    return lnf[..., prob.idx], lnc[..., prob.idx]


def _chi2_batch(prob: _Problem, full: np.ndarray):
    """Profiled χ² (N,), nuisance coefficients (N, K) for parameter vectors (N, 7)."""
    lnf, lnc = _emulate(prob, full)
    if prob.kind == "calibrated":
        rw = (prob.y - lnf - lnc - full[:, 5:6] * prob.ext) * prob.w
        proj = rw @ prob.Q
        r = rw - proj @ prob.Q.T
        coef = np.linalg.lstsq(prob.L * prob.w[:, None], (rw - r).T, rcond=None)[0].T
        return (r ** 2).sum(axis=1), coef
    m = np.exp(lnf) * prob.w
    L = prob.L
    ata = np.einsum("nj,jk,jl->nkl", m ** 2, L, L)
    atb = np.einsum("nj,jk->nk", m * (prob.y * prob.w), L)
    coef = np.linalg.solve(ata + 1e-12 * np.eye(L.shape[1]), atb[..., None])[..., 0]
    r = prob.y * prob.w - m * (coef @ L.T)
    return (r ** 2).sum(axis=1), coef


def _full(prob: _Problem, u: np.ndarray) -> np.ndarray:
    """Unit-scaled free parameters u (…, n_free) → full parameter vectors (…, 7)."""
    u = np.asarray(u, dtype=np.float64)
    full = np.broadcast_to(prob.full0, u.shape[:-1] + (len(PARAMS),)).copy()
    fi = [PARAMS.index(p) for p in prob.free]
    full[..., fi] = prob.lo[fi] + u * (prob.hi[fi] - prob.lo[fi])
    return full


def _residuals(u, prob: _Problem) -> np.ndarray:
    full = _full(prob, u)[None]
    lnf, lnc = _emulate(prob, full)
    lnf, lnc = lnf[0], lnc[0]
    if prob.kind == "calibrated":
        rw = (prob.y - lnf - lnc - full[0, 5] * prob.ext) * prob.w
        return rw - prob.Q @ (prob.Q.T @ rw)
    A = np.exp(lnf)[:, None] * prob.L * prob.w[:, None]
    yw = prob.y * prob.w
    coef = np.linalg.lstsq(A, yw, rcond=None)[0]
    return yw - A @ coef


def _jacobian(u, prob: _Problem, h: float = 1e-4) -> np.ndarray:
    """Central-difference Jacobian of the profiled residuals in unit-scaled parameters (one-sided at bounds)."""
    cols = []
    for k in range(u.size):
        up, dn = u.copy(), u.copy()
        up[k] = min(u[k] + h, 1.0)
        dn[k] = max(u[k] - h, 0.0)
        cols.append((_residuals(up, prob) - _residuals(dn, prob)) / (up[k] - dn[k]))
    return np.column_stack(cols)


def _starts(prob: _Problem, n_scan: int, n_starts: int, seed: int) -> np.ndarray:
    """The ``n_starts`` lowest-χ² points (unit-scaled) of a scrambled Sobol scan of ``n_scan`` draws."""
    k = len(prob.free)
    u = qmc.Sobol(k, scramble=True, seed=seed).random(n_scan)
    if "rv" in prob.free:
        u[:, prob.free.index("rv")] = 0.5
    chi2, _ = _chi2_batch(prob, _full(prob, u))
    order = np.argsort(np.where(np.isfinite(chi2), chi2, np.inf))
    return u[order[:n_starts]]


def _optimise(prob: _Problem, n_scan: int, n_starts: int, seed: int):
    """Best ``least_squares`` solution over the scan's starts: (u, cost, converged)."""
    best = None
    for u0 in _starts(prob, n_scan, n_starts, seed):
        sol = least_squares(_residuals, np.clip(u0, 1e-6, 1 - 1e-6), args=(prob,), bounds=(0.0, 1.0),
                            method="trf", x_scale=1.0, diff_step=1e-5, xtol=1e-10, ftol=1e-10, max_nfev=400)
        if best is None or sol.cost < best.cost:
            best = sol
    return best.x, 2.0 * best.cost, bool(best.status > 0)


def _prepared_arrays(spectrum, flux_kind):
    """(wave, flux, sigma, mask, kind, name) of a PreparedSpectrum or a (wave, flux, sigma, mask, kind) tuple."""
    from glocal.observed.prepare import PreparedSpectrum
    if isinstance(spectrum, PreparedSpectrum):
        return (spectrum.wave, spectrum.flux, spectrum.sigma, spectrum.mask, flux_kind or spectrum.flux_kind,
                spectrum.name)
    if not isinstance(spectrum, (tuple, list)) or len(spectrum) != 5:
        raise TypeError("fit_spectrum takes a PreparedSpectrum (glocal.observed.prepare) or a "
                        "(wave, flux, sigma, mask, flux_kind) tuple on the CSST R=200 grid")
    wave, flux, sigma, mask, kind = spectrum
    mask = np.zeros(np.shape(flux), bool) if mask is None else np.asarray(mask, bool)
    return (np.asarray(wave, float), np.asarray(flux, float), None if sigma is None else np.asarray(sigma, float),
            mask, flux_kind or kind, "")


def _grid_index(emu, wave) -> np.ndarray:
    idx = np.clip(np.searchsorted(emu.wave, wave * (1 - 1e-7)), 0, emu.wave.size - 1)
    if wave.size == 0 or not np.allclose(emu.wave[idx], wave, rtol=1e-6, atol=0):
        raise ValueError("the spectrum is not on the CSST R=200 grid of the emulator; put it there with "
                         "glocal.observed.prepare(spec, band='full', target_R=200)")
    return idx


def telluric_mask(wave, R: float = 200.0) -> np.ndarray:
    """True where [λ − λ/R, λ + λ/R] overlaps a band of :data:`TELLURIC_BANDS`."""
    wave = np.asarray(wave, dtype=np.float64)
    out = np.zeros(wave.size, bool)
    for a, b in TELLURIC_BANDS:
        out |= (wave + wave / R > a) & (wave - wave / R < b)
    return out


def _used_pixels(emu, wave, flux, sigma, mask, kind, band, telluric):
    from glocal.degrade import band_mask
    ok = ~mask & np.isfinite(flux) & band_mask(wave, band)
    if telluric is True or (telluric == "auto" and kind == "normalized"):
        ok &= ~telluric_mask(wave)
    if sigma is not None:
        ok &= np.isfinite(sigma) & (sigma > 0)
    if kind == "calibrated":
        ok &= flux > 0
    return ok


def _check_held(fixed, lo, hi):
    """Full parameter vector of held values (defaults: grid centre, E(B−V) = 0, RV = 0) and flags."""
    full0 = np.concatenate([0.5 * (lo[:5] + hi[:5]), [0.0, 0.0]])
    flags = []
    for name, value in (fixed or {}).items():
        if name not in PARAMS:
            raise ValueError(f"unknown parameter {name!r} to hold fixed; known: {', '.join(PARAMS)}")
        i = PARAMS.index(name)
        full0[i] = float(value)
        if not lo[i] <= full0[i] <= hi[i]:
            flags.append(f"fixed_outside_grid({name})")
    return full0, flags


def _build_problem(emu, wave, flux, sigma, used, kind, free, full0, degree, model_error):
    """The weighted, nuisance-projected problem on the used pixels (σ = 1 when ``sigma`` is None)."""
    idx = _grid_index(emu, wave)[used]
    lnw = np.log(emu.wave[idx])
    x = 2.0 * (lnw - lnw.min()) / max(lnw.max() - lnw.min(), 1e-12) - 1.0
    L = legendre.legvander(x, degree)
    d = flux[used]
    if kind == "calibrated":
        y = np.log(d)
        s_obs = np.ones(d.size) if sigma is None else sigma[used] / d
        s_emu = np.hypot(emu.rms_ln_norm[idx], emu.rms_ln_cont[idx])
    else:
        y = d
        s_obs = np.ones(d.size) if sigma is None else sigma[used]
        s_emu = np.abs(d) * emu.rms_ln_norm[idx]
    s2 = s_obs ** 2 + (s_emu ** 2 if model_error and sigma is not None else 0.0)
    lo, hi = _bounds(emu)
    return _Problem(emu=emu, kind=kind, idx=idx, y=y, w=1.0 / np.sqrt(s2), L=L, ext=_extinction(emu.wave[idx]),
                    free=list(free), full0=full0, lo=lo, hi=hi)


def _model_flux(prob: _Problem, full: np.ndarray) -> np.ndarray:
    """Best model (with its best nuisance) on the used pixels, in the input's units."""
    _, coef = _chi2_batch(prob, full[None])
    lnf, lnc = _emulate(prob, full[None])
    poly = prob.L @ coef[0]
    if prob.kind == "calibrated":
        return np.exp(lnf[0] + lnc[0] + full[5] * prob.ext + poly)
    return np.exp(lnf[0]) * poly


def _covariance(u, prob, chi2, dof, estimated):
    J = _jacobian(u, prob)
    cov_u = np.linalg.pinv(J.T @ J)
    fi = [PARAMS.index(p) for p in prob.free]
    span = prob.hi[fi] - prob.lo[fi]
    red = chi2 / dof if dof > 0 else np.nan
    factor = red if estimated else max(1.0, red)
    return cov_u * np.outer(span, span) * factor


def _flags(prob, u, full, converged, estimated, emu):
    flags = []
    for name, ui in zip(prob.free, u):
        if ui < 1e-4 or ui > 1 - 1e-4:
            flags.append(f"at_bound({name})")
    if emu.hull_distance(full[:5]) > _HULL_FLAG:
        flags.append("far_from_grid")
    if estimated:
        flags.append("sigma_estimated")
    if not converged:
        flags.append("not_converged")
    return flags


def _empty_result(wave, flux, used, kind, degree, free, full0, flags, t0):
    labels = dict(zip(PARAMS, [np.nan if p in free else float(v) for p, v in zip(PARAMS, full0)]))
    return FitResult(labels=labels, std={p: np.nan for p in PARAMS}, chi2=np.nan, chi2_red=np.nan,
                     n_pixels=int(used.sum()), band_used=None, flux_kind=kind, degree=degree, free=tuple(free),
                     flags=flags + ["too_few_pixels"], wave=wave, data=flux, used=used,
                     seconds=time.perf_counter() - t0)


def fit_spectrum(spectrum, *, fixed: dict | None = None, fit_ebv: bool = False, fit_rv: bool = False,
                 degree: int | None = None, band="full", flux_kind: str | None = None, emulator=None,
                 model_error: bool = True, telluric="auto", n_scan: int = 512, n_starts: int = 3,
                 seed: int = 0) -> FitResult:
    """Fit the labels of one R=200 spectrum by forward modelling (module docstring).

    spectrum : a :class:`glocal.observed.PreparedSpectrum` (from ``prepare(spec, band="full",
        target_R=200)``, as ``glocal predict`` uses) or a ``(wave, flux, sigma or None, mask or None,
        flux_kind)`` tuple on (a subset of) the emulator's 274-point grid.
    fixed : parameter → value held during the fit (labels of :data:`PARAMS`; "ebv" and "rv" give the
        held reddening (mag) and velocity (km/s) when they are not fitted).
    fit_ebv, fit_rv : fit E(B−V) ∈ [0, 1] (calibrated input only) and RV ∈ [−1000, 1000] km/s.
    degree : Legendre degree of the nuisance (default :data:`DEFAULT_DEGREE` per flux kind).
    band : "full", "optical" (4000–10000 Å), "uv" or (lo, hi) Å: pixels outside are not fitted.
    flux_kind : overrides the kind of the input ("normalized" or "calibrated").
    model_error : add the emulator's held-out rms to σ in quadrature.
    telluric : True drops the pixels of :func:`telluric_mask`, False keeps them, "auto" drops them for
        normalized input only (the normalized spectra glocal meets are ground-based echelle spectra with
        uncorrected O₂/H₂O bands; calibrated ones are CALSPEC/CSST, from space).
    n_scan, n_starts, seed : the start search (module docstring).
    """
    t0 = time.perf_counter()
    emu = emulator if emulator is not None else load_emulator()
    wave, flux, sigma, mask, kind, _ = _prepared_arrays(spectrum, flux_kind)
    if kind not in DEFAULT_DEGREE:
        raise ValueError(f"flux_kind must be 'normalized' or 'calibrated', got {kind!r}")
    if fit_ebv and kind != "calibrated":
        raise ValueError("E(B−V) can only be fitted to flux-calibrated spectra (a normalized one has no SED)")
    degree = DEFAULT_DEGREE[kind] if degree is None else int(degree)
    lo, hi = _bounds(emu)
    full0, flags = _check_held(fixed, lo, hi)
    free = [p for p in LABELS if p not in (fixed or {})] + (["ebv"] if fit_ebv else []) + (["rv"] if fit_rv else [])
    used = _used_pixels(emu, wave, flux, sigma, mask, kind, band, telluric)
    if used.sum() < len(free) + degree + 1 + 10 or not free:
        return _empty_result(wave, flux, used, kind, degree, free, full0, flags, t0)
    estimated = sigma is None
    prob = _build_problem(emu, wave, flux, sigma, used, kind, free, full0, degree, model_error)
    u, chi2, converged = _optimise(prob, n_scan, n_starts, seed)
    full = _full(prob, u)
    dof = int(used.sum()) - len(free) - (degree + 1)
    cov = _covariance(u, prob, chi2, dof, estimated)
    std = {p: np.nan for p in PARAMS}
    std.update({p: float(np.sqrt(max(cov[i, i], 0.0))) for i, p in enumerate(free)})
    model = np.full(wave.size, np.nan)
    model[used] = _model_flux(prob, full)
    good = wave[used]
    return FitResult(labels=dict(zip(PARAMS, map(float, full))), std=std, chi2=float(chi2),
                     chi2_red=np.nan if estimated else float(chi2 / dof), n_pixels=int(used.sum()),
                     band_used=(float(good[0]), float(good[-1])), flux_kind=kind, degree=degree, free=tuple(free),
                     flags=flags + _flags(prob, u, full, converged, estimated, emu), wave=wave, data=flux,
                     model=model, used=used, covariance=cov, seconds=time.perf_counter() - t0)


def model_at(spectrum, labels: dict, *, degree: int | None = None, band="full", flux_kind: str | None = None,
             emulator=None, model_error: bool = True, telluric="auto") -> FitResult:
    """The model at held ``labels`` (all five of :data:`LABELS`; "ebv" and "rv" optional) with its best
    smooth nuisance, against ``spectrum`` (as :func:`fit_spectrum`): no label is fitted, ``std`` is NaN;
    ``chi2_red`` = χ² / (pixels − nuisance terms) (NaN when the input has no σ).  For residual spectra at
    literature or predicted labels."""
    t0 = time.perf_counter()
    emu = emulator if emulator is not None else load_emulator()
    wave, flux, sigma, mask, kind, _ = _prepared_arrays(spectrum, flux_kind)
    missing = [p for p in LABELS if p not in labels]
    if missing:
        raise ValueError(f"model_at needs all of {LABELS}; missing {missing}")
    degree = DEFAULT_DEGREE[kind] if degree is None else int(degree)
    full0, flags = _check_held(labels, *_bounds(emu))
    used = _used_pixels(emu, wave, flux, sigma, mask, kind, band, telluric)
    if used.sum() < degree + 11:
        return _empty_result(wave, flux, used, kind, degree, [], full0, flags, t0)
    prob = _build_problem(emu, wave, flux, sigma, used, kind, [], full0, degree, model_error)
    chi2 = float(np.sum(_residuals(np.zeros(0), prob) ** 2))
    dof = int(used.sum()) - (degree + 1)
    model = np.full(wave.size, np.nan)
    model[used] = _model_flux(prob, full0)
    good = wave[used]
    return FitResult(labels=dict(zip(PARAMS, map(float, full0))), std={p: np.nan for p in PARAMS}, chi2=chi2,
                     chi2_red=np.nan if sigma is None else chi2 / dof, n_pixels=int(used.sum()),
                     band_used=(float(good[0]), float(good[-1])), flux_kind=kind, degree=degree, free=(),
                     flags=flags, method="none: every label held", wave=wave, data=flux, model=model, used=used,
                     seconds=time.perf_counter() - t0)
