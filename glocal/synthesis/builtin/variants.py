"""Flux of every abundance variant of one model: formal solution of each n_e class representative, the
exact linear response for the other members of its class.

Per block of ``chunk`` wavelengths and n_e class: alpha = continuum (interpolated from the coarse grid)
+ class lines (``deposit.LineOpacity.class_alpha``) + hydrogen lines + the variant-specific species at
the representative's ratios; then the formal solution (``transfer.flux_weighted``, tau from the reference
weights of the representative's continuum at the block centre, Eq. T0') and its exact response
dF/dkappa. Every other variant v of the class differs by dkappa (its variant-specific species, continuum
and mass density):

    F_v = F_r + sum_d dF/dkappa_d dkappa_d                                                   (Eq. V1)

where that moves tau by less than ``lin_tol`` (relative; absolute ``lin_tol * tau_floor`` above
tau = ``tau_floor``; ignored below tau = ``tau_deep``), an exact formal solution elsewhere (e.g. OH
lines when O varies). ``tau_integration`` other than "reference" gives every variant its own formal
solution with ``transfer.optical_depth`` (validation path).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from .transfer import flux_from_tau, flux_weighted, optical_depth, planck_lambda, reference_weights


@numba.njit(cache=True, fastmath=True)
def _add_continuum(ac, j, w, h0, h_scale, i0, alpha, cont):
    """cont[i] = (1 - w_i) ac[j_i] + w_i ac[j_i + 1] (the continuum, interpolated from the coarse grid:
    R = 1500 with every edge bracketed, so linear and log-linear interpolation agree to ~1e-6) and
    alpha[i] += cont[i] + h0[i0 + i] h_scale (hydrogen lines; none if h0 has no rows)."""
    nd = alpha.shape[1]
    hyd = h0.shape[0] > 0
    for i in range(alpha.shape[0]):
        k = j[i]
        f = w[i]
        for d in range(nd):
            x = ac[k, d] * (1.0 - f) + ac[k + 1, d] * f
            cont[i, d] = x
            alpha[i, d] += x + (h0[i0 + i, d] * h_scale[d] if hyd else 0.0)


@numba.njit(cache=True)
def _linear_variant(F, R, kap, cont, dlac, j, w, cdiff, eps, inv_rho, D, cand, thr, w0, w1, w2, Fv, dk, big):
    """Flux of a variant from its class representative's (Eq. V1): its opacity difference
    dk = D / rho_v + kap eps + (continuum change cont (e^dl - 1) / rho_v, dl the log-continuum difference
    ``dlac`` interpolated from the coarse grid, if ``cdiff``; exact in dl, as a variant's continuum can
    differ by decades, e.g. the OH and CH photodissociation of a cool star when [C/Fe] moves the oxygen
    into CO), Fv = F + R . dk; ``big`` marks the candidate rows where dk moves tau
    (reference weights, Eq. T0') by more than ``thr`` somewhere, to be solved exactly with kap + dk."""
    n, nd = kap.shape
    for i in range(n):
        k = j[i]
        f = w[i]
        acc = 0.0
        for d in range(nd):
            x = D[i, d] * inv_rho[d] + kap[i, d] * eps[d]
            if cdiff:
                dl = dlac[k, d] * (1.0 - f) + dlac[k + 1, d] * f
                x += cont[i, d] * math.expm1(dl) * inv_rho[d]
            dk[i, d] = x
            acc += R[i, d] * x
        Fv[i] = F[i] + acc
        if cand[i]:
            t = w0 * dk[i, 0]
            if abs(t) > thr[i, 0]:
                big[i] = True
                continue
            for d in range(nd - 1):
                t += w1[d] * dk[i, d] + w2[d] * dk[i, d + 1]
                if abs(t) > thr[i, d + 1]:
                    big[i] = True
                    break


@dataclass
class _Problem:
    """Everything the blocks of ``variant_fluxes`` share (arrays in the transfer dtype where noted)."""
    grid: np.ndarray
    T: np.ndarray
    rhox: np.ndarray
    rho: np.ndarray  # (nv, nd) transfer dtype
    ac: np.ndarray  # (nv, nc, nd) continuum alpha, transfer dtype
    j: np.ndarray  # (nw,) coarse-grid interval of every grid point
    fw: np.ndarray  # (nw,) its interpolation weight, transfer dtype
    lop: object  # deposit.LineOpacity
    ratio: np.ndarray  # (ns, nv, nd)
    h0: np.ndarray
    h_scale: np.ndarray
    groups: list  # (n_e class, representative, the other variants of the class)
    n_mu: object
    dtype: np.dtype
    lin_tol: float
    tau_integration: str
    tau_floor: float
    tau_deep: float
    dlac: dict  # v -> log continuum difference to its representative (nc, nd)
    rel_c: dict  # v -> its largest size per coarse point (nc,)
    eps: dict  # v -> rho_r / rho_v - 1 (nd,)
    wref: dict  # r -> reference weights (w0 (nc,), w1 (nc, nd - 1), w2 (nc, nd - 1))
    vrows: dict  # v -> (nw,) bool: rows where its variant-specific line opacity differs from its representative's


def _problem(grid, cgrid, alpha_c, lop, ratio, hydrogen, chem, rhox, classes, reps, n_mu, lin_tol, dtype,
             tau_integration, tau_floor, tau_deep) -> _Problem:
    """Set up ``_Problem``: groups, continuum differences, mass-density factors, reference weights and the
    rows where each variant's variant-specific line opacity differs from its representative's."""
    nv, nc, nd = alpha_c.shape
    lac = np.log(np.maximum(alpha_c, 1e-300)).astype(dtype)
    j = np.clip(np.searchsorted(cgrid, grid) - 1, 0, nc - 2)
    fw = ((grid - cgrid[j]) / (cgrid[j + 1] - cgrid[j])).astype(dtype)
    exact = tau_integration != "reference"
    if exact:  # validation path: every variant gets its own formal solution
        groups = [(classes[v], v, []) for v in range(nv)]
    else:
        groups = [(c, r, [v for v in np.where(classes == c)[0] if v != r]) for c, r in enumerate(reps)]
    dlac, rel_c, eps, vrows = {}, {}, {}, {}
    for _, r, mem in groups:
        for v in mem:
            dlac[v] = lac[v] - lac[r]
            rel_c[v] = np.abs(dlac[v]).max(axis=1)
            eps[v] = (chem.rho[r] / chem.rho[v] - 1).astype(dtype)
            m = np.zeros(grid.size, bool)
            for b, s in enumerate(lop.species):
                if np.any(ratio[s, v] != ratio[s, r]):
                    m[lop.species_rows(b)] = True
            vrows[v] = m
    wref = {} if exact else {r: reference_weights(alpha_c[r] / chem.rho[r][None, :], rhox) for _, r, _ in groups}
    h0, h_scale = hydrogen
    return _Problem(grid=grid, T=chem.T, rhox=rhox, rho=chem.rho.astype(dtype), ac=alpha_c.astype(dtype), j=j,
                    fw=fw, lop=lop, ratio=ratio, h0=h0, h_scale=h_scale, groups=groups, n_mu=n_mu, dtype=dtype,
                    lin_tol=lin_tol, tau_integration=tau_integration, tau_floor=tau_floor, tau_deep=tau_deep,
                    dlac=dlac, rel_c=rel_c, eps=eps, wref=wref, vrows=vrows)


def variant_fluxes(grid, cgrid, alpha_c, lop, ratio, hydrogen, chem, rhox, classes, reps, n_mu, lin_tol, dtype,
                   tau_integration="reference", chunk=1024, tau_floor=0.01, tau_deep=20.0):
    """Line flux F (erg s^-1 cm^-2 A^-1) of every variant on ``grid``, (nv, nw), in blocks of ``chunk``
    wavelengths (module docstring; all temporaries stay in cache).

    ``alpha_c`` (nv, nc, nd): continuum alpha on the coarse grid ``cgrid``; ``lop``: the line opacity
    (``deposit.LineOpacity``) with the species ratios ``ratio`` (ns, nv, nd); ``hydrogen`` = (h0 (nw, nd)
    or no rows, h_scale (n_class, nd)): hydrogen lines of class c = h0 h_scale[c]; ``chem``: the
    ``Chemistry``; ``rhox`` (nd,) g cm^-2; ``classes`` (nv,) and ``reps`` (n_class,): n_e class of every
    variant and the representative of every class. Returns the flux and the number of exactly re-solved
    rows."""
    p = _problem(grid, cgrid, alpha_c, lop, ratio, hydrogen, chem, rhox, classes, reps, n_mu, lin_tol, dtype,
                 tau_integration, tau_floor, tau_deep)
    nw = grid.size
    flux = np.empty((alpha_c.shape[0], nw))
    n_exact = 0
    for i0 in range(0, nw, chunk):
        n_exact += _block(p, i0, min(nw, i0 + chunk), flux)
    return flux, n_exact


def _block(p: _Problem, i0: int, i1: int, flux) -> int:
    """Fill flux[:, i0:i1] (every group: its representative, then its members); returns the number of
    exactly re-solved member rows."""
    jj, ww = p.j[i0:i1], p.fw[i0:i1, None]
    S = planck_lambda(p.grid[i0:i1], p.T)
    jm = int(jj[jj.size // 2])
    n_exact = 0
    for c, r, mem in p.groups:
        alpha = p.lop.class_alpha(c, i0, i1)
        cont_r = np.empty_like(alpha)
        _add_continuum(p.ac[r], jj, ww[:, 0], p.h0, p.h_scale[c], i0, alpha, cont_r)
        p.lop.variant_specific(p.ratio[:, r, :], i0=i0, i1=i1, out=alpha)
        if p.tau_integration != "reference":
            tau = optical_depth((alpha / p.rho[r]).astype(np.float64), p.rhox, p.tau_integration)
            flux[r, i0:i1] = flux_from_tau(tau, S, p.n_mu)
            continue
        wts = tuple(x[jm] for x in p.wref[r])
        kap = alpha / p.rho[r]
        if not mem:
            flux[r, i0:i1] = flux_weighted(kap, wts, S, p.n_mu)
            continue
        F, tau, R = flux_weighted(kap, wts, S, p.n_mu, return_tau=True, return_response=True)
        flux[r, i0:i1] = F
        thr = np.maximum(tau, p.dtype.type(p.tau_floor)) * p.dtype.type(p.lin_tol)
        thr[tau >= p.tau_deep] = np.inf
        for v in mem:
            Fv, n = _member(p, v, r, i0, i1, F, R, kap, cont_r, thr, wts, S)
            flux[v, i0:i1] = Fv
            n_exact += n
    return n_exact


def _member(p: _Problem, v, r, i0, i1, F, R, kap, cont_r, thr, wts, S):
    """Flux of member ``v`` of representative ``r``'s class on rows [i0, i1) by Eq. V1, exact where
    needed: (flux (i1 - i0,), number of exactly re-solved rows)."""
    jj = p.j[i0:i1]
    jlo, jhi = int(jj.min()), int(jj.max()) + 2
    nd = kap.shape[1]
    # the continuum enters linearly (its relative change is far below lin_tol); every row
    # is a candidate for an exact solution where it changes by more than 0.3 lin_tol
    cdiff = p.rel_c[v][jlo:jhi].max() > 1e-6
    cand = p.vrows[v][i0:i1]
    if cdiff and p.rel_c[v][jlo:jhi].max() > 0.3 * p.lin_tol:
        cand = np.ones(i1 - i0, bool)
    D = np.zeros((i1 - i0, nd), p.dtype)
    if cand.any():
        p.lop.variant_specific(p.ratio[:, v, :], p.ratio[:, r, :], i0=i0, i1=i1, out=D)
    Fv = np.empty(i1 - i0)
    dk = np.empty((i1 - i0, nd), p.dtype)
    big = np.zeros(i1 - i0, bool)
    _linear_variant(F, R, kap, cont_r, p.dlac[v], jj, p.fw[i0:i1], cdiff, p.eps[v], 1.0 / p.rho[v], D, cand, thr,
                    *wts, Fv, dk, big)
    if not big.any():
        return Fv, 0
    rows = np.flatnonzero(big)
    Fv[rows] = flux_weighted(np.maximum(kap[rows] + dk[rows], 0), wts, S[rows], p.n_mu)  # rounding below 0
    return Fv, rows.size
