"""Windows for the H I lines of the SME driver: how far from its centre each H I line must be computed.

SMElib's own contribution range of an H I line (where its opacity exceeds ``accrt`` times the
continuum) reaches hundreds of Å, and H I profiles are the most expensive per point (Stark profiles
at every depth).  :func:`h_windows` synthesises each H I line alone at :data:`H_OFFSETS` from its
centre and ends its window where its depression 1 − F/F_c falls below a per-line threshold chosen so
that all the cut-off wings together stay below ``depth_min`` on a 20 km/s grid over the range.
"""
from __future__ import annotations

import time

import numpy as np

from .inputs import wave_grid

__all__ = ["H_OFFSETS", "h_windows"]

#: Offsets (Å) from an H I line centre at which its single-line depression is sampled to size its window
H_OFFSETS = np.array([0.0, 0.1, 0.3, 0.6, 1.0, 1.6, 2.5, 4.0, 6.0, 9.0, 13.0, 19.0, 27.0, 38.0, 55.0, 80.0,
                      115.0, 165.0, 240.0, 350.0, 500.0, 720.0, 1000.0, 1400.0, 2000.0])


def _interp_loglog(x, xp, fp):
    """Interpolate fp(xp) (xp increasing, > 0) at x in log-log; zeros stay zeros (log-linear fallback)."""
    x = np.asarray(x, float)
    lx, lxp = np.log(np.maximum(x, 1e-6)), np.log(np.maximum(xp, 1e-6))
    pos = fp > 0
    if pos.sum() < 2:
        return np.interp(lx, lxp, fp, left=fp[0], right=0.0)
    lf = np.interp(lx, lxp, np.log(np.where(pos, fp, 1e-300)), left=np.log(max(fp[0], 1e-300)), right=-np.inf)
    out = np.exp(lf)
    out[out < 1e-250] = 0.0
    return out


def _side_window(off, dep, eps):
    """Distance from the centre beyond which the sampled depression ``dep(off)`` stays below ``eps``.

    ``off`` increasing ≥ 0 on one side (the last entry is the edge of what can matter: the end of
    SMElib's own range or of the synthesis range).  Log-log interpolation between the last sample
    ≥ eps and the next one, plus 20 % margin; inf (no cut) if the last sample is still ≥ eps."""
    above = np.flatnonzero(dep >= eps)
    if above.size == 0:
        return 0.0
    k = above[-1]
    if k == off.size - 1:
        return np.inf
    x0, x1, d0, d1 = off[k], off[k + 1], dep[k], dep[k + 1]
    if d1 <= 0 or x0 <= 0:
        x = x1
    else:
        slope = (np.log(d1) - np.log(d0)) / (np.log(x1) - np.log(x0))
        x = x1 if slope >= 0 else np.exp(np.log(x0) + (np.log(eps) - np.log(d0)) / slope)
    x = max(x0, 1.2 * x)
    return np.inf if x >= off[-1] else float(x)


def _single_line_depressions(dll, mu, wmu, centres, rs, re, idx_h, lo, hi, accrt, accwi):
    """(points, 1 − F/F_c ≥ 0) of each H I line synthesised alone around its centre."""
    tabs = []
    for i in idx_h:
        c = centres[i]
        a, b = max(lo, rs[i]), min(hi, re[i])
        pts = np.unique(np.r_[c - H_OFFSETS, c + H_OFFSETS, a, b])
        pts = pts[(pts >= a) & (pts <= b)]
        if pts.size == 0 or b <= a:
            tabs.append((pts, np.zeros(0)))
            continue
        mask = np.zeros(rs.size, np.uint8)
        mask[i] = 1
        dll.InputLinePrecomputedInfo(rs, re, mask)
        _, _, sint, cint = dll.Transf(mu, wave=pts, accrt=accrt, accwi=accwi)
        dep = 1.0 - ((wmu * mu) @ sint) / ((wmu * mu) @ cint)
        tabs.append((pts, np.maximum(dep, 0.0)))
    return tabs


def _windows_at(eps, tabs, centres, idx_h, coarse):
    """Left/right windows of every H I line at threshold ``eps`` and the largest summed cut-off wing."""
    left = np.zeros(len(idx_h))
    right = np.zeros(len(idx_h))
    tail = np.zeros(coarse.size)
    for j, i in enumerate(idx_h):
        pts, dep = tabs[j]
        if dep.size == 0:
            continue
        c = centres[i]
        r_side, l_side = pts >= c, pts <= c
        ro, rd = pts[r_side] - c, dep[r_side]
        lo_, ld = (c - pts[l_side])[::-1], dep[l_side][::-1]
        right[j] = _side_window(ro, rd, eps) if ro.size else 0.0
        left[j] = _side_window(lo_, ld, eps) if lo_.size else 0.0
        # what is cut off (all of it for a line with two empty windows) counts as tail
        d = coarse - c
        m_r = (d > right[j]) & (d <= (ro[-1] if ro.size else 0.0))
        m_l = (-d > left[j]) & (-d <= (lo_[-1] if lo_.size else 0.0))
        if ro.size and m_r.any():
            tail[m_r] += _interp_loglog(d[m_r], ro, rd)
        if lo_.size and m_l.any():
            tail[m_l] += _interp_loglog(-d[m_l], lo_, ld)
    return left, right, (float(tail.max()) if tail.size else 0.0)


def h_windows(dll, mu, wmu, centres, rs, re, idx_h, lo, hi, depth_min, accrt, accwi):
    """Per-H-I-line windows [left, right] (Å) outside which its wings move F/F_c by < depth_min in sum.

    Each H I line is synthesised alone (precomputed-line mask with that line only) at ``H_OFFSETS``
    from its centre, clipped to its SMElib range and to [lo, hi]; the window on each side ends where
    the single-line depression 1 − F/F_c falls below a per-line threshold.  The threshold starts at
    ``depth_min`` and is halved (at most 8 times) until the summed depression of all truncated wings,
    evaluated on a 20 km/s grid over [lo, hi], is below ``depth_min``.  Lines whose depression never
    reaches the threshold inside [lo, hi] get an empty window (they are left out).
    Returns (left, right, cpu_seconds).
    """
    t0 = time.process_time()
    tabs = _single_line_depressions(dll, mu, wmu, centres, rs, re, idx_h, lo, hi, accrt, accwi)
    coarse = wave_grid((lo, hi), 20.0) if hi > lo else np.array([lo])
    eps = float(depth_min)
    for _ in range(8):
        left, right, worst = _windows_at(eps, tabs, centres, idx_h, coarse)
        if worst <= depth_min:
            break
        eps *= 0.5
    return left, right, time.process_time() - t0
