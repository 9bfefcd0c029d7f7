"""The synthesis engine against real flux-calibrated stars: R = 200 residuals after a smooth nuisance.

For a CALSPEC (HST/STIS) star of :mod:`glocal.real_stars` and given labels (Teff, log g, [Fe/H], [Mg/Fe],
[O/Fe]), :func:`engine_spectrum` synthesises the physical flux F with an engine (default the built-in one)
on the labels' interpolated Kurucz atmosphere and degrades it to the CSST R = 200 grid; :func:`smooth_residual`
fits, on the measured pixels, in ln flux

    ln d_j = ln F_j + Σ_{k≤degree} c_k P_k(x_j) − 0.4 ln10 · R_V · k(λ_j) · E(B−V)

(P_k Legendre polynomials in x = 1/λ mapped to [−1, 1]; k(λ) = A(λ)/A(V) of Gordon et al. 2023, R_V = 3.1;
c and E(B−V) by weighted linear least squares with weights d/σ) and returns d / model − 1.  The smooth terms
take the distance, radius, reddening and a smooth flux-calibration error; what is left is the engine's
spectral structure against the star's.  :func:`residual_stats` gives its rms over the UV (2550–4000 Å) and
the optical (4000–10000 Å).
"""
from __future__ import annotations

import numpy as np

__all__ = ["UV", "OPTICAL", "R_V", "engine_spectrum", "smooth_residual", "residual_stats"]

UV = (2550.0, 4000.0)
OPTICAL = (4000.0, 10000.0)
R_V = 3.1


def engine_spectrum(teff, logg, feh, mgfe, ofe, wave, *, engine: str = "builtin", options=None,
                    line_list=None) -> tuple[np.ndarray, np.ndarray]:
    """(D[F], D[F/F_c]) on the R = 200 grid ``wave`` (air Å): F in the engine's flux unit (erg s⁻¹ cm⁻² Å⁻¹
    at the stellar surface), D the Eq. 8–11 degradation of :func:`glocal.degrade.degrade`."""
    from ..degrade import degrade
    from ..synthesis import synthesize
    s = synthesize(float(teff), float(logg), float(feh), abundances={"Mg": float(mgfe), "O": float(ofe)},
                   engine=engine, options=options, line_list=line_list)
    return (np.asarray(degrade(s.wave, s.flux, R=200.0, grid=wave)[1], float),
            np.asarray(degrade(s.wave, s.normalized, R=200.0, grid=wave)[1], float))


def _design(wave: np.ndarray, degree: int, ebv: bool) -> np.ndarray:
    from numpy.polynomial import legendre
    inv = 1.0 / wave
    x = 2.0 * (inv - inv.min()) / (inv.max() - inv.min()) - 1.0
    cols = [legendre.legval(x, np.eye(degree + 1)[k]) for k in range(degree + 1)]
    if ebv:
        import astropy.units as u
        from dust_extinction.parameter_averages import G23
        k = np.asarray(G23(Rv=R_V)(wave * u.AA), float)
        cols.append(-0.4 * np.log(10.0) * R_V * k)
    return np.stack(cols, axis=1)


def smooth_residual(wave, data, sigma, model, used, *, degree: int = 4, ebv: bool = True) -> dict:
    """d / (model · exp(smooth)) − 1 on the ``used`` pixels (NaN elsewhere) and the fitted E(B−V).

    ``data``, ``sigma`` (None: uniform weights) and ``model`` are fluxes on ``wave``; ``used`` the boolean
    pixels to fit.  Raises ValueError when fewer than 3 × (degree + 2) pixels are usable.
    """
    wave, data, model = (np.asarray(a, float) for a in (wave, data, model))
    ok = np.asarray(used, bool) & np.isfinite(data) & (data > 0) & np.isfinite(model) & (model > 0)
    if sigma is not None:
        sig = np.asarray(sigma, float)
        ok &= np.isfinite(sig) & (sig > 0)
    if ok.sum() < 3 * (degree + 2):
        raise ValueError(f"only {int(ok.sum())} usable pixels for a degree-{degree} smooth fit")
    w = data[ok] / sig[ok] if sigma is not None else np.ones(int(ok.sum()))
    A = _design(wave[ok], degree, ebv)
    y = np.log(data[ok]) - np.log(model[ok])
    coef = np.linalg.lstsq(A * w[:, None], y * w, rcond=None)[0]
    resid = np.full(wave.shape, np.nan)
    resid[ok] = np.exp(y - A @ coef) - 1.0
    return {"residual": resid, "ebv": float(coef[-1]) if ebv else float("nan"), "used": ok}


def residual_stats(wave, residual) -> dict:
    """rms of ``residual`` (NaN ignored) over :data:`UV` and :data:`OPTICAL`, and its pixel counts."""
    out = {}
    for name, (lo, hi) in (("uv", UV), ("optical", OPTICAL)):
        r = residual[(wave >= lo) & (wave < hi) & np.isfinite(residual)]
        out[f"rms_{name}"] = float(np.sqrt(np.mean(r**2))) if r.size else float("nan")
        out[f"n_{name}"] = int(r.size)
    return out
