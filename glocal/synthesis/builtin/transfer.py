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
(one slope), which keeps float32 exact where the top layers have tiny dtau and large c_i.

Optical depths: trapezoid in column mass, "log" (Simpson in ln rhox with log-Hermite midpoints, exact for
power laws; Eq. T0), or (engine default) the ratio to a smooth reference opacity linear in ln tau_ref
(``reference_weights``, Eq. T0'), which is a fixed (nd, nd) matrix per wavelength block
(``tau_matrix``). ``flux_weighted`` also returns the exact derivative dF/dkappa of the discrete
solution (reverse accumulation) for the engine's linear treatment of small opacity differences.
"""
from __future__ import annotations

import functools

import numpy as np

from .tables import C_CGS, H_CGS, K_CGS


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


def tau_matrix(weights, dtype=np.float32):
    """(nd, nd) matrix M with tau = kappa @ M for the quadrature ``weights`` (w0, w1, w2) of
    ``reference_weights`` (one small matrix product instead of a cumulative sum)."""
    w0, w1, w2 = (np.asarray(w, float) for w in weights)
    nd = w1.size + 1
    col = np.empty(nd)  # weight of kappa_k in every tau_j with j > k
    col[0] = w0 + w1[0]
    col[1:-1] = w1[1:] + w2[:-1]
    col[-1] = 0.0
    M = np.triu(np.repeat(col[:, None], nd, axis=1), k=1)
    M[0, 0] = w0
    M[np.arange(1, nd), np.arange(1, nd)] = w2
    return M.astype(dtype)


def _expm1_small(y):
    """e^y - 1 for y <= 0 without cancellation (4-term Taylor series for |y| < 0.03, else exp - 1)."""
    e = np.exp(y)
    e -= 1
    small = y > -0.03
    ys = y[small]
    e[small] = ys * (1 + ys * (0.5 + ys * (1.0 / 6 + ys * (1.0 / 24))))
    return e


def _kernel_terms(tau, n_mu, nd_mu, dt):
    """Yield (m, a_k, 1/mu_k, E) with E = e^{-tau[:, :m]/mu_k} - 1 free of cancellation at small tau
    (the flux sums c_i E_i, whose c_i reach ~S/dtau at the top); each E is only valid until the next
    one is produced (the exp7 powers are built in place: (1 + E)^2 - 1 = E (2 + E), etc.)."""
    if isinstance(n_mu, str):  # e^{-tau/mu_k} = u^p_k, u = e^{-0.55 tau}
        n1 = max(nd_mu)
        e1 = _expm1_small(tau[:, :n1] * dt.type(-EXP7_BASE))
        e2 = e1 * (2 + e1)
        p_have, e = 1, e1.copy()
        for p, m, a in sorted(zip(EXP7_POWERS, nd_mu, EXP7_WEIGHTS)):
            e = e[:, :m]
            if p == 2 * p_have:
                e *= e + 2
            elif p == p_have + 1:
                e += e1[:, :m] * (1 + e)
            elif p == p_have + 2:
                e += e2[:, :m] * (1 + e)
            else:
                e = (1 + e1[:, :m]) ** p - 1
            p_have = p
            yield m, a, EXP7_BASE * p, e
    else:
        mus, ws = gauss_mu(n_mu)
        for mu, w, m in zip(mus, ws, nd_mu):
            yield m, w * mu * mu, 1.0 / mu, _expm1_small(tau[:, :m] * dt.type(-1.0 / mu))


def flux_weighted(kappa, M, S, dS=None, n_mu="exp7", return_tau: bool = False, return_response: bool = False):
    """Emergent flux (Eqs. T1-T2) for kappa (n, nd) with tau = kappa @ M (``tau_matrix``), S (n, nd) and
    dS = diff(S, axis=1); works in the dtype of ``kappa`` (float32 changes the flux by < 1e-6).
    Depths where every row has tau > 40 mu are skipped for that angle.

    With K(tau) = sum_k a_k e^{-tau/mu_k}, F = 2 pi (S_1/2 + sum_i c_i K_i) is evaluated as
    2 pi (S_1/2 + sum_k a_k [sum_{i<m_k} c_i + sum_{i<m_k} c_i (e^{-tau_i/mu_k} - 1)]) where the first
    inner sum telescopes to a single slope g: no cancellation between the large c_i of the top layers.

    Returns F (n,), plus tau (n, nd) with ``return_tau`` and the response dF/dkappa (n, nd) (exact
    derivative of this discrete formal solution, by reverse accumulation) with ``return_response``."""
    dt = kappa.dtype
    n, nd = kappa.shape
    tau = kappa @ M
    extra = ([tau] if return_tau else []) + ([np.zeros((n, nd), dt)] if return_response else [])
    if n == 0:
        F = np.zeros(0, dt)
        return (F, *extra) if extra else F
    if dS is None:
        dS = np.diff(S, axis=1)
    colmin = tau.min(axis=0)  # tau increases with depth in every row
    mus, _ = gauss_mu(n_mu)
    nd_mu = [min(nd, int(np.searchsorted(colmin, 40.0 * mu)) + 1) for mu in mus]
    n1 = max(nd_mu)
    ng = min(n1, nd - 1)
    inc = np.diff(tau[:, :ng + 1], axis=1)
    np.maximum(inc, np.finfo(dt).tiny * 1e6, out=inc)
    g = dS[:, :ng] / inc
    c = np.empty((n, n1), dt)
    c[:, 0] = g[:, 0]
    np.subtract(g[:, 1:], g[:, :-1], out=c[:, 1:ng])
    c[:, ng:] = 0.0  # c_N = 0: the bottom slope continues below the last point
    acc = 0.5 * S[:, 0].astype(dt)
    if not return_response:
        for m, a, _, E in _kernel_terms(tau, n_mu, nd_mu, dt):
            acc += dt.type(a) * (g[:, min(m, ng) - 1] + np.einsum("ij,ij->i", c[:, :m], E))
        return (2 * np.pi * acc, *extra) if extra else 2 * np.pi * acc
    dK = np.zeros((n, n1), dt)  # K - sum_k a_k over the depths each term keeps (accurate differences)
    Kd = np.zeros((n, n1), dt)  # -dK/dtau
    K0 = np.zeros(n1, dt)
    for m, a, b, E in _kernel_terms(tau, n_mu, nd_mu, dt):
        acc += dt.type(a) * (g[:, min(m, ng) - 1] + np.einsum("ij,ij->i", c[:, :m], E))
        dK[:, :m] += dt.type(a) * E
        Kd[:, :m] += dt.type(a * b) * (1 + E)
        K0[:m] += a
    F = 2 * np.pi * acc
    # reverse accumulation: dF/dg_i = 2 pi (K_i - K_{i+1}) (K_{i+1} only where c_{i+1} = g_{i+1} - g_i),
    # dF/d(dtau_i) = -dF/dg_i g_i / dtau_i, dF/dtau_j = -2 pi c_j Kd_j + G_{j-1} - G_j, dF/dkappa = dF/dtau M^T
    dFdg = dK[:, :ng] + K0[:ng]
    dFdg[:, :ng - 1] -= dK[:, 1:ng] + K0[1:ng]
    G = dFdg * g / inc
    dFdt = np.zeros((n, ng + 1 if ng + 1 > n1 else n1), dt)
    dFdt[:, :n1] -= c * Kd
    dFdt[:, :ng] += G
    dFdt[:, 1:ng + 1] -= G
    dFdt *= dt.type(2 * np.pi)
    R = extra[-1]
    R[:] = dFdt @ M[:, :dFdt.shape[1]].T
    return (F, *extra)
