"""Interpolation of the built-in Kurucz (1993) grid to any (Teff, log g, [Fe/H]) (paper §2.1), its
coverage of the paper's grid, and a leave-one-out estimate of its accuracy.

Trilinear interpolation in (Teff, log g, [M/H]) of log rhox, T, log P, log xne and log κ_R as
functions of log τ_Ross (:func:`grid_atmosphere`); log g may be extrapolated linearly by at most
:data:`DEFAULT_MAX_EXTRAPOLATION` dex beyond the last existing model of a (Teff, [M/H]) column.
"""
from __future__ import annotations

import numpy as np

from ..grid import FEH_NODES, TEFF_NODES
from ..grid import paper_grid as _paper_grid
from .kurucz_grid import AtmosphereGrid, load_grid
from .model import Atmosphere

__all__ = ["grid_atmosphere", "in_coverage", "coverage_report", "leave_one_out",
           "DEFAULT_MAX_EXTRAPOLATION"]

#: Largest distance (dex) in log g that :func:`grid_atmosphere` extrapolates beyond the last
#: existing Kurucz model of a (Teff, [M/H]) column (one Kurucz log g step).
DEFAULT_MAX_EXTRAPOLATION = 0.5


def _bracket(axis: np.ndarray, x: np.ndarray):
    """Lower index and fraction for linear interpolation; NaN fraction when outside the axis."""
    i = np.clip(np.searchsorted(axis, x, side="right") - 1, 0, axis.size - 2)
    frac = (x - axis[i]) / (axis[i + 1] - axis[i])
    tol = 1e-9
    frac = np.where(np.abs(frac) < tol, 0.0, np.where(np.abs(frac - 1) < tol, 1.0, frac))
    frac = np.where((frac < 0) | (frac > 1) | ~np.isfinite(x), np.nan, frac)
    return i, frac


def _column_weights(grid: AtmosphereGrid, i: int, k: int, logg: float, max_extra: float):
    """(logg indices, weights) that give column (teff i, feh k) at ``logg``; None if impossible.

    Linear interpolation between the two bracketing existing models (bridging internal
    holes), or linear extrapolation from the last two models when ``logg`` lies at most
    ``max_extra`` dex beyond the column's existing range.
    """
    gmin, gmax = grid.gmin[i, k], grid.gmax[i, k]
    if not np.isfinite(gmin):
        return None
    tol = 1e-9
    if logg < gmin - max_extra - tol or logg > gmax + max_extra + tol:
        return None
    have = np.flatnonzero(grid.present[i, :, k])
    g_have = grid.logg[have]
    if logg <= g_have[0]:
        a = 0
    elif logg >= g_have[-1]:
        a = have.size - 2
    else:
        a = int(np.searchsorted(g_have, logg, side="right") - 1)
    j0, j1 = int(have[a]), int(have[a + 1])
    u = (logg - grid.logg[j0]) / (grid.logg[j1] - grid.logg[j0])
    if abs(u) < tol:
        return [j0], [1.0]
    if abs(u - 1) < tol:
        return [j1], [1.0]
    return [j0, j1], [1.0 - u, u]


def _corners(grid: AtmosphereGrid, teff: float, logg: float, feh: float, max_extra: float):
    """List of ((i, j, k), weight) whose weighted sum gives the model at (teff, logg, feh)."""
    it, ft = _bracket(grid.teff, np.array([teff], float))
    ik, fk = _bracket(grid.feh, np.array([feh], float))
    if not (np.isfinite(ft[0]) and np.isfinite(fk[0])):
        return None
    out = []
    for di, wt in ((0, 1 - ft[0]), (1, ft[0])):
        if wt == 0:
            continue
        for dk, wf in ((0, 1 - fk[0]), (1, fk[0])):
            if wf == 0:
                continue
            col = _column_weights(grid, int(it[0]) + di, int(ik[0]) + dk, float(logg), max_extra)
            if col is None:
                return None
            for j, wg in zip(*col):
                out.append(((int(it[0]) + di, j, int(ik[0]) + dk), wt * wf * wg))
    return out


def _interp_extrap(x_new: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Piecewise-linear y(x_new) with linear extrapolation from the end segments (x increasing)."""
    idx = np.clip(np.searchsorted(x, x_new) - 1, 0, x.size - 2)
    x0, x1 = x[idx], x[idx + 1]
    t = (x_new - x0) / (x1 - x0)
    return y[idx] + t[:, None] * (y[idx + 1] - y[idx])


def _combine(grid: AtmosphereGrid, corners, teff, logg, feh, source) -> Atmosphere:
    """Weighted combination on a common log τ_Ross scale (exact when one weight is 1)."""
    w = np.array([c[1] for c in corners])
    idx = tuple(np.array([c[0][a] for c in corners]) for a in range(3))
    logtau = grid.logtau[idx]  # (m, nd)
    logq = grid.logq[idx]  # (m, nd, 5)
    # target τ scale: convex combination (negative extrapolation weights clipped), hence strictly
    # increasing; equal to the node's own scale when one weight is 1
    wpos = np.clip(w, 0.0, None)
    target = np.einsum("m,md->d", wpos / wpos.sum(), logtau)
    if np.any(np.diff(target) <= 0):
        raise ValueError(f"interpolated τ scale not monotonic at Teff={teff}, logg={logg}, [Fe/H]={feh}")
    if w.size == 1:
        res = logq[0]
        rhox = 10.0 ** res[:, 0]
    else:
        res = np.zeros((target.size, 5))
        for m in range(w.size):
            res = res + w[m] * _interp_extrap(target, logtau[m], logq[m])
        # rhox rebuilt from the interpolated κ_R on the target τ scale (inverse of the trapezoid
        # rule of Atmosphere.tau_ross): monotonic and self-consistent, τ_Ross(rhox) = target
        tau, kap = 10.0 ** target, 10.0 ** res[:, 4]
        rhox0 = tau[0] / kap[0]
        rhox = np.concatenate([[rhox0], rhox0 + np.cumsum(np.diff(tau) / (0.5 * (kap[1:] + kap[:-1])))])
    ab = np.einsum("m,me->e", w, grid.abundances[idx[2]])
    return Atmosphere(teff, logg, feh, grid.vturb, ab, rhox, res[:, 1], 10.0 ** res[:, 2],
                      10.0 ** res[:, 3], 10.0 ** res[:, 4], source=source, geometry="plane-parallel")


def grid_atmosphere(teff: float, logg: float, feh: float, *,
                    max_extrapolation: float = DEFAULT_MAX_EXTRAPOLATION,
                    grid: AtmosphereGrid | None = None) -> Atmosphere:
    """Kurucz (1993) model interpolated to (Teff [K], log g [cgs], [Fe/H] [dex]) (paper §2.1 grid).

    Trilinear in (Teff, log g, [M/H]) of log rhox, T, log P, log xne and log κ_R as functions
    of log τ_Ross; the target τ scale is the weighted mean of the corners' τ scales (positive
    weights only), so the result is exact at grid nodes; between nodes rhox is rebuilt from
    the interpolated κ_R so that τ_Ross(rhox) equals that scale (monotonic, self-consistent).
    Beyond the last existing model of a (Teff, [M/H]) column log g is linearly extrapolated by
    at most ``max_extrapolation`` dex.  vturb is that of the grid (2 km/s); the synthesis
    replaces it with Eqs. (4)–(7).  Accuracy: :func:`leave_one_out`.  ValueError for
    non-finite input or a point outside the coverage (:func:`in_coverage`).
    """
    for name, v in (("teff", teff), ("logg", logg), ("feh", feh)):
        if not np.isscalar(v) or not np.isfinite(float(v)):
            raise ValueError(f"{name} must be a finite scalar, got {v!r}")
    grid = grid or load_grid()
    corners = _corners(grid, float(teff), float(logg), float(feh), max_extrapolation)
    if corners is None:
        raise ValueError(
            f"(Teff={teff}, logg={logg}, [Fe/H]={feh}) is outside the coverage of the Kurucz (1993) grid "
            f"(Teff {grid.teff[0]:.0f}-{grid.teff[-1]:.0f} K, [M/H] {grid.feh[0]}-{grid.feh[-1]}, log g holes; "
            f"max_extrapolation={max_extrapolation} dex); see coverage_report()")
    return _combine(grid, corners, float(teff), float(logg), float(feh),
                    source="Kurucz (1993) ATLAS9 grid, interpolated on log tau_Ross")


def in_coverage(teff, logg, feh, max_extrapolation: float = DEFAULT_MAX_EXTRAPOLATION,
                grid: AtmosphereGrid | None = None) -> np.ndarray:
    """Vectorised: can :func:`grid_atmosphere` build a model at each (Teff, log g, [Fe/H])?"""
    grid = grid or load_grid()
    t, g, f = np.broadcast_arrays(np.asarray(teff, float), np.asarray(logg, float), np.asarray(feh, float))
    shape = t.shape
    t, g, f = t.ravel(), g.ravel(), f.ravel()
    it, ft = _bracket(grid.teff, t)
    ik, fk = _bracket(grid.feh, f)
    ok = np.isfinite(ft) & np.isfinite(fk) & np.isfinite(g)
    tol = 1e-9
    for di, wt in ((0, 1 - ft), (1, ft)):
        for dk, wf in ((0, 1 - fk), (1, fk)):
            i = np.clip(it + di, 0, grid.teff.size - 1)
            k = np.clip(ik + dk, 0, grid.feh.size - 1)
            lo = grid.gmin[i, k] - max_extrapolation - tol
            hi = grid.gmax[i, k] + max_extrapolation + tol
            col_ok = np.isfinite(lo) & (g >= lo) & (g <= hi)
            needed = np.nan_to_num(wt) * np.nan_to_num(wf) > 0
            ok &= col_ok | ~needed
    return ok.reshape(shape)


def coverage_report(max_extrapolation: float = DEFAULT_MAX_EXTRAPOLATION,
                    grid: AtmosphereGrid | None = None) -> dict:
    """Counts of paper-grid (§2.1, :func:`glocal.grid.paper_grid`) nodes covered by interpolation,
    by extrapolation, or excluded."""
    grid = grid or load_grid()
    nodes = _paper_grid()
    t, g, f = nodes["teff"], nodes["logg"], nodes["feh"]
    strict = in_coverage(t, g, f, 0.0, grid)
    loose = in_coverage(t, g, f, max_extrapolation, grid)
    excluded = ~loose
    by_feh = {float(v): int(np.sum(excluded & np.isclose(f, v))) for v in FEH_NODES}
    sel = (grid.teff <= TEFF_NODES.max() + 500) & (grid.teff >= TEFF_NODES.min())
    selk = (grid.feh >= FEH_NODES.min() - 0.5) & (grid.feh <= FEH_NODES.max() + 0.5)
    holes = int(np.sum(~grid.present[sel][:, :, selk]))
    return {
        "n_paper_nodes": int(t.size),
        "n_interpolated": int(strict.sum()),
        "n_extrapolated": int(np.sum(loose & ~strict)),
        "n_excluded": int(excluded.sum()),
        "max_extrapolation_dex": float(max_extrapolation),
        "excluded_by_feh": by_feh,
        "excluded_nodes": np.stack([t[excluded], g[excluded], f[excluded]], axis=1),
        "n_kurucz_models": grid.n_models,
        "n_kurucz_holes_in_range": holes,
        "internal_holes": list(grid.internal_holes),
    }


def leave_one_out(n_nodes: int = 20, seed: int = 0, grid: AtmosphereGrid | None = None,
                  logtau_range: tuple[float, float] = (-3.0, 0.5)) -> dict:
    """Leave-one-out accuracy of the interpolation.

    For ``n_nodes`` random interior Kurucz nodes whose 8 next-but-one neighbours
    (Teff ± 250 K, log g ± 0.5, [M/H] ± 0.5) exist, the node is rebuilt trilinearly from
    those neighbours, i.e. with twice the real grid step in all three dimensions (a
    pessimistic bound for the real interpolation), and compared on the node's own
    log τ_Ross over ``logtau_range``.  Returns per-node max |ΔT| (K) and max |Δlog P| (dex),
    their medians over nodes, and the medians over all (node, depth) samples.
    """
    if n_nodes < 1:
        raise ValueError("n_nodes must be >= 1")
    grid = grid or load_grid()
    p = grid.present
    interior = np.zeros_like(p)
    interior[1:-1, 1:-1, 1:-1] = True
    for di in (-1, 1):
        for dj in (-1, 1):
            for dk in (-1, 1):
                interior[1:-1, 1:-1, 1:-1] &= p[1 + di:p.shape[0] - 1 + di, 1 + dj:p.shape[1] - 1 + dj,
                                                1 + dk:p.shape[2] - 1 + dk]
    interior &= p
    # restrict to the paper's range of parameters
    interior &= (grid.teff[:, None, None] <= 8000) & (grid.feh[None, None, :] <= -0.5)
    cand = np.argwhere(interior)
    if cand.size == 0:
        raise ValueError("no interior node has all 8 next-but-one neighbours")
    rng = np.random.default_rng(seed)
    pick = cand[rng.choice(len(cand), size=min(n_nodes, len(cand)), replace=False)]
    dT, dP, nodes, allT, allP = [], [], [], [], []
    for i, j, k in pick:
        corners = [((i + di, j + dj, k + dk), 0.125) for di in (-1, 1) for dj in (-1, 1) for dk in (-1, 1)]
        est = _combine(grid, corners, grid.teff[i], grid.logg[j], grid.feh[k], "LOO")
        ref_tau, ref = grid.logtau[i, j, k], grid.logq[i, j, k]
        est_ltau = np.log10(est.tau_ross)
        sel = (ref_tau >= logtau_range[0]) & (ref_tau <= logtau_range[1])
        t_est = np.interp(ref_tau[sel], est_ltau, est.T)
        p_est = np.interp(ref_tau[sel], est_ltau, np.log10(est.P))
        allT.append(np.abs(t_est - ref[sel, 1]))
        allP.append(np.abs(p_est - ref[sel, 2]))
        dT.append(allT[-1].max())
        dP.append(allP[-1].max())
        nodes.append((grid.teff[i], grid.logg[j], grid.feh[k]))
    dT, dP = np.array(dT), np.array(dP)
    return {"nodes": np.array(nodes), "max_abs_dT": dT, "max_abs_dlogP": dP,
            "median_max_abs_dT": float(np.median(dT)), "median_max_abs_dlogP": float(np.median(dP)),
            "median_abs_dT": float(np.median(np.concatenate(allT))),
            "median_abs_dlogP": float(np.median(np.concatenate(allP))),
            "step_factor": 2, "logtau_range": logtau_range}
