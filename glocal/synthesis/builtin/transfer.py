"""LTE radiative transfer in a plane-parallel atmosphere: source function = Planck function, optical
depths on the column-mass scale, emergent flux by angle quadrature of the exact formal solution for a
source function linear in tau.

For S piecewise linear in tau with slopes g_i on [tau_i, tau_{i+1}] (g_N = g_{N-1} below the bottom,
S = S_1 above the top point), the emergent intensity telescopes to

    I(mu) = S_1 + mu * sum_i g_i [e^{-tau_i/mu} - e^{-tau_{i+1}/mu}]          (e^{-tau_{N+1}/mu} = 0)   (Eq. T1)

and the astrophysical flux F = 2 pi int_0^1 I(mu) mu dmu                                                (Eq. T2)
is evaluated with an angle quadrature on [0, 1] (Mihalas 1978, ch. 2): ``n_mu`` Gauss-Legendre nodes, or
"exp7" (``EXP7_POWERS``), whose seven 1/mu are multiples 0.55 p of one rate so that e^{-tau/mu} = u^p
needs one exponential per point. Summation by parts turns Eq. T1 into S_1 + mu sum_i c_i e^{-tau_i/mu}
with c the jumps of dS/dtau; ``flux_weighted`` sums c_i (e^{-tau_i/mu} - 1) plus the telescoped sum c_i
(one slope), which avoids cancellation where the top layers have tiny dtau and large c_i.

Optical depths: trapezoid in column mass, "log" (Simpson in ln rhox with log-Hermite midpoints, exact for
power laws; Eq. T0), or (engine default) the ratio to a smooth reference opacity linear in ln tau_ref
(``reference_weights``, Eq. T0': two multiply-adds per point with weights fixed per wavelength block).
``flux_weighted`` also returns the exact derivative dF/dkappa of the discrete
solution (reverse accumulation) for the engine's linear treatment of small opacity differences.
"""
from __future__ import annotations

import functools
import math

import numba
import numpy as np

from glocal.constants import C_CGS, H_CGS
from glocal.constants import K_BOLTZMANN as K_CGS


def planck_lambda(wave, T):
    """B_lambda(T) in erg s^-1 cm^-2 A^-1 sr^-1, shape (nw, nd) (wave in Angstrom)."""
    wave = np.asarray(wave, float)
    T = np.asarray(T, float)
    lam = wave[:, None] * 1e-8
    x = H_CGS * C_CGS / (lam * K_CGS * T[None, :])
    return 2 * H_CGS * C_CGS**2 / lam**5 / np.expm1(x) * 1e-8


def reference_weights(kappa_ref, rhox):
    """Quadrature weights (w0, w1, w2) for ``flux_weighted`` / ``optical_depth(kappa, rhox, weights)``.

    With tau_ref the optical depth of a smooth reference opacity kappa_ref(depth) (for the engine: the
    continuum near the wavelengths concerned; "log" integration) and the ratio r = kappa / kappa_ref
    linear in x = ln tau_ref on each interval, the increments are exact integrals (Eq. T0'):

        dtau_i = tau_ref,i [r_i (e^h - 1 - I/h) + r_{i+1} I/h],  I = e^h (h - 1) + 1,  h = x_{i+1} - x_i,

    i.e. two multiply-adds per point (w1_i kappa_i + w2_i kappa_{i+1}); tau_1 = w0 kappa_1. Where kappa
    is close to kappa_ref (continuum-dominated) this is as accurate as the reference integration.
    ``kappa_ref`` (..., nd) gives weights of shape (...,), (..., nd - 1), (..., nd - 1)."""
    kappa_ref = np.asarray(kappa_ref, float)
    tau_ref = optical_depth(kappa_ref, rhox, "log")
    h = np.maximum(np.diff(np.log(tau_ref), axis=-1), 1e-8)
    eh = np.expm1(h)
    I = (eh + 1) * (h - 1) + 1
    w2 = tau_ref[..., :-1] * I / h / kappa_ref[..., 1:]
    w1 = tau_ref[..., :-1] * (eh - I / h) / kappa_ref[..., :-1]
    w0 = tau_ref[..., 0] / kappa_ref[..., 0]
    return w0, w1, w2


def optical_depth(kappa, rhox, method="trapezoid"):
    """tau(lambda, depth) = int kappa d(rhox); kappa (..., nd) in cm^2 g^-1, rhox (nd,) column mass
    (g cm^-2), increasing inwards. The top point gets tau_1 = kappa_1 rhox_1.

    ``method``: "trapezoid" in rhox; "loglinear": y = kappa rhox exponential in ln rhox on each interval
    (exact for power laws kappa ~ rhox^p); "log" (Eq. T0): the same on both half intervals, with the
    mid-interval ln y from the cubic Hermite interpolant of ln y (3-point slopes), converged in depth
    (the R = 200 spectra of a 72-point Kurucz model change by < 4e-5 on a 143-point model). A tuple
    (w0, w1, w2) from ``reference_weights`` uses Eq. T0'."""
    rhox = np.asarray(rhox, float)
    if rhox.ndim != 1 or np.any(np.diff(rhox) <= 0) or rhox[0] <= 0:
        raise ValueError("rhox must be positive and strictly increasing inwards (surface first)")
    kappa = np.asarray(kappa)
    tau = np.empty_like(kappa)
    if isinstance(method, tuple):
        w0, w1, w2 = (np.asarray(w, kappa.dtype) for w in method)
        inc = kappa[..., :-1] * w1
        inc += kappa[..., 1:] * w2
        np.cumsum(inc, axis=-1, out=tau[..., 1:])
        tau[..., 0] = kappa[..., 0] * w0
        tau[..., 1:] += tau[..., :1]
        return tau
    if method == "trapezoid":
        d = np.diff(rhox)
        inc = 0.5 * (kappa[..., 1:] + kappa[..., :-1]) * d
    elif method == "loglinear":
        h = np.diff(np.log(rhox)).astype(kappa.dtype)
        y = np.maximum(kappa * rhox.astype(kappa.dtype), np.finfo(kappa.dtype).tiny)
        z = np.log(y)
        inc = _log_mean(y[..., :-1], y[..., 1:], z[..., :-1], z[..., 1:])
        inc *= h
    elif method == "log":
        if kappa.shape[-1] < 3:
            raise ValueError("method 'log' needs at least 3 depth points")
        h = np.diff(np.log(rhox)).astype(kappa.dtype)
        y = np.maximum(kappa * rhox.astype(kappa.dtype), np.finfo(kappa.dtype).tiny)
        z = np.log(y)
        dz = np.diff(z, axis=-1) / h
        hl, hr = h[:-1], h[1:]
        D = np.empty_like(z)
        D[..., 1:-1] = (hr * dz[..., :-1] + hl * dz[..., 1:]) / (hl + hr)
        D[..., 0] = dz[..., 0]
        D[..., -1] = dz[..., -1]
        # ln y at mid-interval: mean + h (D_i - D_{i+1}) / 8, limited to a factor 1.4 (sharp features)
        zm = (0.125 * h) * (D[..., :-1] - D[..., 1:])
        np.clip(zm, -0.35, 0.35, out=zm)
        zm += 0.5 * (z[..., 1:] + z[..., :-1])
        ym = np.exp(zm)
        # y exponential in ln rhox on each half interval: integral = (h/2) (y_b - y_a) / (z_b - z_a)
        inc = _log_mean(y[..., :-1], ym, z[..., :-1], zm)
        inc += _log_mean(ym, y[..., 1:], zm, z[..., 1:])
        inc *= 0.5 * h
    else:
        raise ValueError(f"unknown optical-depth method {method!r}")
    tau[..., 0] = kappa[..., 0] * rhox[0]
    np.cumsum(inc, axis=-1, out=tau[..., 1:])
    tau[..., 1:] += tau[..., :1]
    return tau


def _log_mean(a, b, za, zb):
    """(b - a) / (ln b - ln a), the exact mean of an exponential between a and b ((a + b)/2 if a ~ b)."""
    d = zb - za
    small = np.abs(d) < 1e-4
    out = (b - a) / np.where(small, 1.0, d)
    return np.where(small, 0.5 * (a + b), out)


#: Angle quadrature "exp7" (default of ``glocal.synthesis.builtin.run``): 7 nodes with 1/mu = 0.55 p,
#: p = 2, 3, 4, 6, 8, 16, 32, so that every e^{-tau/mu} is a power of u = e^{-0.55 tau} (one exponential
#: per point instead of one per angle), and positive weights a_p = w mu^2 (the flux kernel
#: E4(tau) = int_0^1 mu^2 e^{-tau/mu} dmu ~ sum_p a_p u^p) fitted to the relative flux error of the
#: engine's formal solution on rows of three models (lines and continuum, 2600-9050 A). On rows not used
#: in the fit it keeps the flux within 7e-5 of a 14-point Gauss-Legendre quadrature (4-point Gauss-Legendre:
#: 3.4e-4, 5-point: 1.2e-4).
EXP7_BASE = 0.55
EXP7_POWERS = (2, 3, 4, 6, 8, 16, 32)
EXP7_WEIGHTS = (0.1837863, 0.1242988, 0.0033934, 0.0157937, 0.0051381, 0.0006893, 0.0002499)


def gauss_mu(n_mu):
    """Angle nodes/weights on [0, 1] for the flux integral: Gauss-Legendre for an integer ``n_mu``,
    the fixed 7-node "exp7" quadrature (see ``EXP7_POWERS``) for ``n_mu="exp7"``."""
    if isinstance(n_mu, str):
        if n_mu != "exp7":
            raise ValueError(f"unknown angle quadrature {n_mu!r} (an integer or 'exp7')")
        mu = 1.0 / (EXP7_BASE * np.array(EXP7_POWERS, float))
        return mu, np.array(EXP7_WEIGHTS) / mu**2
    if int(n_mu) < 1:
        raise ValueError("n_mu must be >= 1")
    return _gauss_mu(int(n_mu))


@functools.lru_cache(maxsize=16)
def _gauss_mu(n_mu: int):
    x, w = np.polynomial.legendre.leggauss(n_mu)
    return 0.5 * (x + 1), 0.5 * w


def flux_from_tau(tau, S, n_mu=4):
    """Emergent flux (Eq. T1-T2) from tau and S of shape (..., nd); returns (...) in the units of S
    times pi (S in per-steradian units gives the physical surface flux). ``n_mu``: see ``gauss_mu``."""
    tau = np.asarray(tau)
    S = np.asarray(S)
    if tau.shape[-1] != S.shape[-1]:
        raise ValueError("tau and S must share the depth axis")
    dt = np.diff(tau, axis=-1)
    if np.any(dt < 0):
        raise ValueError("optical depth must be non-decreasing with depth")
    mus, ws = gauss_mu(n_mu)
    dS = np.diff(S, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(dt > 0, dS / np.where(dt > 0, dt, 1), 0.0)
    # Eq. T1 rearranged: sum_i g_i (e_i - e_{i+1}) + g_{N-1} e_N = sum_i c_i e_i with
    # c_1 = g_1, c_i = g_i - g_{i-1}; the bottom term cancels c_N. One exponential per (mu, tau).
    c = np.empty_like(tau, dtype=np.result_type(tau, S, np.float32))
    c[..., 0] = g[..., 0]
    c[..., 1:-1] = np.diff(g, axis=-1)
    c[..., -1] = 0.0
    acc = np.zeros(tau.shape[:-1], dtype=c.dtype)
    for mu, w in zip(mus, ws):
        acc += (w * mu * mu) * np.einsum("...i,...i->...", c, np.exp(-tau / mu))
    return 2 * np.pi * (0.5 * S[..., 0] + acc)


def flux_weighted(kappa, weights, S, n_mu="exp7", return_tau: bool = False, return_response: bool = False):
    """Emergent flux (Eqs. T1-T2) for kappa (n, nd) with tau from the quadrature ``weights`` (w0, w1, w2)
    of ``reference_weights`` (Eq. T0') and S (n, nd); one compiled pass per row (``_formal_rows``), in
    float64 whatever the input dtype.

    With K(tau) = sum_k a_k e^{-tau/mu_k}, F = 2 pi (S_1/2 + sum_i c_i K_i) is evaluated as
    2 pi (S_1/2 + g_last sum_k a_k + sum_i c_i (K_i - sum_k a_k)), the second sum telescoped to the bottom
    slope: no cancellation between the large c_i of the top layers. "exp7" takes every e^{-tau/mu_k} - 1
    from one expm1 by exact power recurrences ((1 + E)^2 - 1 = E (2 + E), ...).

    Returns F (n,), plus tau (n, nd) with ``return_tau`` and the response dF/dkappa (n, nd) (exact
    derivative of this discrete formal solution, by reverse accumulation) with ``return_response``."""
    kappa = np.asarray(kappa)
    S = np.asarray(S)
    if kappa.ndim != 2 or S.shape != kappa.shape:
        raise ValueError(f"kappa and S must be (n, nd) arrays of one shape, got {kappa.shape} and {S.shape}")
    n, nd = kappa.shape
    w0, w1, w2 = (np.asarray(w, float) for w in weights)
    if w0.ndim != 0 or w1.shape != (nd - 1,) or w2.shape != (nd - 1,):
        raise ValueError("weights must be (w0, w1, w2) of shapes (), (nd - 1,), (nd - 1,)")
    mus, ws = gauss_mu(n_mu)
    F = np.empty(n)
    tau = np.empty((n, nd), kappa.dtype) if return_tau else np.empty((0, nd), kappa.dtype)
    R = np.empty((n, nd), kappa.dtype) if return_response else np.empty((0, nd), kappa.dtype)
    _formal_rows(kappa, float(w0), w1, w2, S, ws * mus * mus, 1.0 / mus, isinstance(n_mu, str), F, tau, R)
    out = (F,) + ((tau,) if return_tau else ()) + ((R,) if return_response else ())
    return out if len(out) > 1 else F


@numba.njit(cache=True, fastmath=True)
def _exp7_terms(tau, c, n, amp, rate, tcut, Kt, Kd):
    """Kt_i = sum_k a_k (e^{-tau_i/mu_k} - 1), Kd_i = sum_k a_k/mu_k e^{-tau_i/mu_k} (i < n) for the "exp7" rates
    0.55 p, p = 2, 3, 4, 6, 8, 16, 32 (in that order in ``amp``/``rate``); returns sum_i c_i Kt_i.
    Branch-free so that the compiler vectorises it: e^{-0.55 tau} - 1 = expm1(y) with y = -0.55 tau / 32
    (|y| <= 0.63) from its Taylor series to y^15 (error < 1e-15, relative at any small y), then five exact
    doublings (1 + E)^2 - 1 = E (E + 2); the other powers by the same recurrences."""
    a2, a3, a4, a6, a8, a16, a32 = amp[0], amp[1], amp[2], amp[3], amp[4], amp[5], amp[6]
    b2, b3, b4, b6 = a2 * rate[0], a3 * rate[1], a4 * rate[2], a6 * rate[3]
    b8, b16, b32 = a8 * rate[4], a16 * rate[5], a32 * rate[6]
    bsum = b2 + b3 + b4 + b6 + b8 + b16 + b32
    total = 0.0
    for i in range(n):
        y = -0.55 / 32.0 * min(tau[i], tcut)
        p = 1.0
        for n in range(15, 1, -1):  # expm1(y) = y (1 + y/2 (1 + y/3 (1 + ... (1 + y/15))))
            p = 1.0 + y * p * (1.0 / n)
        e = y * p
        for _ in range(5):
            e = e * (e + 2.0)
        e2 = e * (e + 2.0)
        e3 = e2 + e * (1.0 + e2)
        e4 = e2 * (e2 + 2.0)
        e6 = e3 * (e3 + 2.0)
        e8 = e4 * (e4 + 2.0)
        e16 = e8 * (e8 + 2.0)
        e32 = e16 * (e16 + 2.0)
        kt = a2 * e2 + a3 * e3 + a4 * e4 + a6 * e6 + a8 * e8 + a16 * e16 + a32 * e32
        Kt[i] = kt
        Kd[i] = bsum + (b2 * e2 + b3 * e3 + b4 * e4 + b6 * e6 + b8 * e8 + b16 * e16 + b32 * e32)
        total += c[i] * kt
    return total


@numba.njit(cache=True, fastmath=True)
def _angle_terms(tau, c, n, amp, rate, tcut, Kt, Kd, acc):
    """Kt_i and Kd_i of ``_exp7_terms`` for any angle quadrature (amp = w mu^2, rate = 1/mu; one expm1 per
    angle and point, i < n); returns acc + sum_i c_i Kt_i."""
    for i in range(n):
        t = min(tau[i], tcut)
        kt = 0.0
        kd = 0.0
        for k in range(amp.size):
            e = math.expm1(-rate[k] * t)
            kt += amp[k] * e
            kd += amp[k] * rate[k] * (1.0 + e)
        Kt[i] = kt
        Kd[i] = kd
        acc += c[i] * kt
    return acc


@numba.njit(cache=True, fastmath=True)
def _formal_rows(kappa, w0, w1, w2, S, amp, rate, exp7, F, tau_out, R):
    """Row-by-row kernel of ``flux_weighted`` (amp = w mu^2 and rate = 1/mu of the angle quadrature; with
    ``exp7`` the rates are 0.55 x (2, 3, 4, 6, 8, 16, 32)); fills F and, when they have rows, tau_out and
    the response R. Layers below the first with tau > 40/min(rate) (every e^{-tau/mu} <= e^{-40}) are
    left out."""
    n, nd = kappa.shape
    atot = amp.sum()
    tcut = 40.0 / rate.min()
    tau = np.empty(nd)
    inc = np.empty(nd)
    g = np.empty(nd)
    c = np.empty(nd)
    Kt = np.empty(nd)
    Kd = np.empty(nd)
    G = np.empty(nd)
    dt = np.empty(nd)
    tiny = 1e-300
    for r in range(n):
        t = w0 * kappa[r, 0]
        tau[0] = t
        for i in range(nd - 1):
            t += w1[i] * kappa[r, i] + w2[i] * kappa[r, i + 1]
            tau[i + 1] = t
        m = nd - 1  # the last layer used: the first below tau = tcut, where every e^{-tau/mu} <= e^{-40}
        for i in range(1, nd):
            if tau[i] > tcut:
                m = i
                break
        for i in range(m):
            inc[i] = max(tau[i + 1] - tau[i], tiny)
            g[i] = (np.float64(S[r, i + 1]) - np.float64(S[r, i])) / inc[i]
        c[0] = g[0]
        for i in range(1, m):
            c[i] = g[i] - g[i - 1]
        c[m] = 0.0  # K_m ~ 0: the sum telescopes to the slope g_{m-1}
        acc = 0.5 * np.float64(S[r, 0]) + atot * g[m - 1]
        if exp7:
            acc += _exp7_terms(tau, c, m + 1, amp, rate, tcut, Kt, Kd)
        else:
            acc = _angle_terms(tau, c, m + 1, amp, rate, tcut, Kt, Kd, acc)
        F[r] = 2.0 * np.pi * acc
        if tau_out.shape[0]:
            for i in range(nd):
                tau_out[r, i] = tau[i]
        if R.shape[0] == 0:
            continue
        # reverse accumulation: dF/dg_i = K_i - K_{i+1} (the last: K_{m-1}), G_i = dF/dg_i g_i / dtau_i,
        # dF/dtau_j = -c_j Kd_j + G_j - G_{j-1}; dF/dkappa from the suffix sums U of dF/dtau (Eq. T0');
        # zero below layer m
        for i in range(m - 1):
            G[i] = (Kt[i] - Kt[i + 1]) * g[i] / inc[i]
        G[m - 1] = (Kt[m - 1] + atot) * g[m - 1] / inc[m - 1]
        for j in range(m + 1):
            v = -c[j] * Kd[j]
            if j < m:
                v += G[j]
            if j > 0:
                v -= G[j - 1]
            dt[j] = 2.0 * np.pi * v
        for k in range(m + 1, nd):
            R[r, k] = 0.0
        u_next = 0.0  # U_{k+1}
        for k in range(m, -1, -1):
            u = dt[k] + u_next
            if k == 0:
                R[r, 0] = w0 * u + w1[0] * u_next
            elif k == nd - 1:
                R[r, k] = w2[k - 1] * u
            else:
                R[r, k] = w2[k - 1] * u + w1[k] * u_next
            u_next = u
