"""LTE radiative transfer in a plane-parallel atmosphere: source function = Planck function,
optical depths by trapezoidal integration on the column-mass scale, emergent flux by Gauss-Legendre
angle quadrature of the exact formal solution for a source function linear in tau.

For S piecewise linear in tau with slopes g_i on [tau_i, tau_{i+1}] (g_N = g_{N-1} below the bottom,
S = S_1 above the top point), the emergent intensity telescopes to

    I(mu) = S_1 + mu * sum_i g_i [e^{-tau_i/mu} - e^{-tau_{i+1}/mu}]          (e^{-tau_{N+1}/mu} = 0)   (Eq. T1)

and the astrophysical flux F = 2 pi int_0^1 I(mu) mu dmu                                                (Eq. T2)
is evaluated with ``n_mu`` Gauss-Legendre nodes on [0, 1] (Mihalas 1978, ch. 2). Summation by parts
turns Eq. T1 into S_1 + mu sum_i c_i e^{-tau_i/mu} with c the jumps of dS/dtau, so each angle costs a
single exponential per (wavelength, depth).
"""
from __future__ import annotations

import numpy as np

from .tables import C_CGS, H_CGS, K_CGS


def planck_lambda(wave, T):
    """B_lambda(T) in erg s^-1 cm^-2 A^-1 sr^-1, shape (nw, nd) (wave in Angstrom)."""
    wave = np.asarray(wave, float)
    T = np.asarray(T, float)
    lam = wave[:, None] * 1e-8
    x = H_CGS * C_CGS / (lam * K_CGS * T[None, :])
    return 2 * H_CGS * C_CGS**2 / lam**5 / np.expm1(x) * 1e-8


def optical_depth(kappa, rhox):
    """tau(lambda, depth) = int kappa d(rhox) by the trapezoid rule; kappa (..., nd) in cm^2 g^-1,
    rhox (nd,) column mass (g cm^-2), increasing inwards. The top point gets tau_1 = kappa_1 rhox_1."""
    rhox = np.asarray(rhox, float)
    if rhox.ndim != 1 or np.any(np.diff(rhox) <= 0) or rhox[0] <= 0:
        raise ValueError("rhox must be positive and strictly increasing inwards (surface first)")
    d = np.diff(rhox)
    inc = 0.5 * (kappa[..., 1:] + kappa[..., :-1]) * d
    tau = np.empty_like(kappa)
    tau[..., 0] = kappa[..., 0] * rhox[0]
    np.cumsum(inc, axis=-1, out=tau[..., 1:])
    tau[..., 1:] += tau[..., :1]
    return tau


def gauss_mu(n_mu: int):
    """Gauss-Legendre nodes/weights on [0, 1]."""
    if int(n_mu) < 1:
        raise ValueError("n_mu must be >= 1")
    x, w = np.polynomial.legendre.leggauss(int(n_mu))
    return 0.5 * (x + 1), 0.5 * w


def flux_from_tau(tau, S, n_mu: int = 4):
    """Emergent flux (Eq. T1-T2) from tau and S of shape (..., nd); returns (...) in the units of S
    times pi (S in per-steradian units gives the physical surface flux)."""
    tau = np.asarray(tau)
    S = np.asarray(S)
    if tau.shape[-1] != S.shape[-1]:
        raise ValueError("tau and S must share the depth axis")
    dt = np.diff(tau, axis=-1)
    if np.any(dt < 0):
        raise ValueError("optical depth must be non-decreasing with depth")
    dS = np.diff(S, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(dt > 0, dS / np.where(dt > 0, dt, 1), 0.0)
    # Eq. T1 rearranged: sum_i g_i (e_i - e_{i+1}) + g_{N-1} e_N = sum_i c_i e_i with
    # c_1 = g_1, c_i = g_i - g_{i-1}; the bottom term cancels c_N. One exponential per (mu, tau).
    c = np.empty_like(tau, dtype=np.result_type(tau, S, np.float32))
    c[..., 0] = g[..., 0]
    c[..., 1:-1] = np.diff(g, axis=-1)
    c[..., -1] = 0.0
    mus, ws = gauss_mu(n_mu)
    acc = np.zeros(tau.shape[:-1], dtype=c.dtype)
    for mu, w in zip(mus, ws):
        acc += (w * mu * mu) * np.einsum("...i,...i->...", c, np.exp(-tau / mu))
    return 2 * np.pi * (0.5 * S[..., 0] + acc)
