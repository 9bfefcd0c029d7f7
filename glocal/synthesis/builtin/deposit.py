"""Line deposit: the selected lines (``selection.PreparedLines``) accumulated onto the wavelength x depth
grid, shared by all abundance variants of a model.

* weak lines (r < ``weak_ratio``, linear in the flux) put their integrated opacity on the two grid points
  around the centre (linear "cloud-in-cell" weights divided by the trapezoid weight of the point), so
  their contribution to any trapezoid integral over wavelength (the R = 200 degradation) is exact at any
  sampling;
* the others get H(a, v) (``profiles``) per depth within ``core_doppler`` Doppler widths and the separable
  Lorentz-wing expansion a / (sqrt(pi) v^2) [1 + (3/2 - a^2) / v^2] beyond;
* class-shared species (ratio a function of the n_e class only) are summed on a low-rank basis of their
  class ratios (``_low_rank_ratios``): class k has alpha = sum_q acc[:, q, :] basis[q, k, :]; the
  variant-specific species (e.g. OH when [O/Fe] varies) are kept per species on the rows their windows
  touch, for per-variant summation (``LineOpacity``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from glocal._checks import check_wave_grid

from .profiles import SQRT_PI, _voigt1
from .selection import PreparedLines


@dataclass
class LineOpacity:
    """Line opacity on the wavelength grid, stored compactly:

    * ``acc`` (nw, rank, nd) float32: the class-shared species summed on the low-rank basis of their
      n_e-class ratios; class k has alpha = sum_q acc[:, q, :] basis[q, k, :] (``class_alpha``);
    * the variant-specific species (e.g. OH when [O/Fe] varies), one block b per species
      ``species[b]``: the sorted rows where it has opacity, ``rows[ptr[b]:ptr[b + 1]]``, and alpha_s at
      n_max there, ``vals[ptr[b]:ptr[b + 1]]`` (float32); variant v adds sum_s ratio[s, v] alpha_s
      (``variant_specific``)."""

    acc: np.ndarray
    basis: np.ndarray
    species: np.ndarray  # (nb,) species index of each block
    ptr: np.ndarray  # (nb + 1,)
    rows: np.ndarray  # (m,)
    vals: np.ndarray  # (m, nd)
    nw: int
    nd: int

    def species_rows(self, b: int) -> np.ndarray:
        """Grid rows of block ``b`` (species ``species[b]``)."""
        return self.rows[self.ptr[b]:self.ptr[b + 1]]

    def class_alpha(self, k: int, i0: int = 0, i1: int | None = None) -> np.ndarray:
        """alpha of the class-shared species for n_e class ``k`` on rows [i0, i1), (rows, nd) float32."""
        i1 = self.nw if i1 is None else i1
        out = np.empty((i1 - i0, self.nd), np.float32)
        _class_rows(self.acc, self.basis[:, k, :].astype(np.float32), i0, out)
        return out

    @property
    def alpha_class(self) -> np.ndarray:
        """(n_class, nw, nd) dense class alphas (for inspection and tests; the engine uses class_alpha)."""
        return np.stack([self.class_alpha(k) for k in range(self.basis.shape[1])])

    def variant_specific(self, ratio_v: np.ndarray, ratio_ref: np.ndarray | None = None, i0: int = 0,
                         i1: int | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """sum_s (ratio_v[s] - ratio_ref[s]) alpha_s on rows [i0, i1) as a dense (rows, nd) array
        (ratio_ref = 0 if None); added to ``out`` if given."""
        i1 = self.nw if i1 is None else i1
        if out is None:
            out = np.zeros((i1 - i0, self.nd), np.float32)
        w = ratio_v[self.species] if ratio_ref is None else ratio_v[self.species] - ratio_ref[self.species]
        _add_block_rows(self.ptr, self.rows, self.vals, w.astype(np.float32), i0, i1, out)
        return out


@numba.njit(cache=True)
def _class_rows(acc, basis_k, i0, out):
    """out[i] = max(sum_q acc[i0 + i, q] basis_k[q], 0) (``LineOpacity.class_alpha``).  The basis terms
    have both signs; where a class holds a tiny fraction of a strong species' density their float32 sum
    can round below zero, by ~1e-7 of the largest term, and a negative opacity would make the optical
    depth decrease (in the thin top layers, where rho ~ 1e-10 g cm^-3, it exceeds the continuum)."""
    nq, nd = basis_k.shape
    for i in range(out.shape[0]):
        for d in range(nd):
            out[i, d] = acc[i0 + i, 0, d] * basis_k[0, d]
        for q in range(1, nq):
            for d in range(nd):
                out[i, d] += acc[i0 + i, q, d] * basis_k[q, d]
        for d in range(nd):
            if out[i, d] < 0.0:
                out[i, d] = 0.0


@numba.njit(cache=True)
def _add_block_rows(ptr, rows, vals, w, i0, i1, out):
    """out[rows - i0] += vals w[b] over the rows in [i0, i1) of every block b with a nonzero w[b]."""
    nd = vals.shape[1]
    for b in range(ptr.size - 1):
        if not np.any(w[b] != 0):
            continue
        seg = rows[ptr[b]:ptr[b + 1]]
        j0 = ptr[b] + np.searchsorted(seg, i0)
        j1 = ptr[b] + np.searchsorted(seg, i1)
        for j in range(j0, j1):
            for d in range(nd):
                out[rows[j] - i0, d] += vals[j, d] * w[b, d]


def _low_rank_ratios(cls_ratio: np.ndarray, shared: np.ndarray, tol: float):
    """Factor the class ratios of the class-shared species, depth by depth, as
    ratio[s, k, d] ~ sum_r weight[s, r, d] basis[r, k, d] (truncated SVD) with the smallest rank whose
    largest error is <= ``tol`` (ratios are <= 1, so this is relative to each species' densest class).

    The classes differ only through n_e, which moves the ionisation balance of all species in a few
    coherent ways, so a rank of 2-4 replaces one accumulation per class (9 at [Fe/H] = -2)."""
    ns, ncls, nd = cls_ratio.shape
    R = np.where(shared[:, None, None], cls_ratio, 0.0).transpose(2, 0, 1)  # (nd, ns, ncls)
    U, S, Vt = np.linalg.svd(R, full_matrices=False)  # (nd, ns, m), (nd, m), (nd, m, ncls)
    for rank in range(1, S.shape[1] + 1):
        approx = np.einsum("dsr,dr,drk->dsk", U[:, :, :rank], S[:, :rank], Vt[:, :rank])
        if np.max(np.abs(approx - R)) <= tol:
            break
    weight = (U[:, :, :rank] * S[:, None, :rank]).transpose(1, 2, 0)  # (ns, rank, nd)
    basis = Vt[:, :rank].transpose(1, 2, 0)  # (rank, ncls, nd)
    return weight, basis


#: A class-shared species whose low-rank class ratios are off by more than this fraction of its own ratio
#: (plus :data:`FACTOR_FLOOR`) in any class and layer is summed per species instead (``line_opacity``).
FACTOR_REL_TOL = 0.05
FACTOR_FLOOR = 1e-6


def _poorly_factored(weight, basis, cls_ratio, shared) -> np.ndarray:
    """(ns,) bool: shared species whose rank-truncated class ratios (``_low_rank_ratios``) miss their own
    by more than FACTOR_REL_TOL of it in some class and layer.  The truncation bounds the error relative to
    a species' densest class; a molecule whose density spans decades across the classes (TiO, C2, CN
    when [C/Fe] varies and CO takes up the oxygen) can then get a negative opacity in its sparse classes."""
    approx = np.einsum("srd,rkd->skd", weight, basis)
    err = np.abs(approx - cls_ratio) > FACTOR_REL_TOL * cls_ratio + FACTOR_FLOOR
    return shared & err.any(axis=(1, 2))


def _trapezoid_widths(grid):
    """Quadrature weight of each grid point for the trapezoid rule (half the two adjacent intervals)."""
    wt = np.empty(grid.size)
    wt[1:-1] = 0.5 * (grid[2:] - grid[:-2])
    wt[0] = 0.5 * (grid[1] - grid[0])
    wt[-1] = 0.5 * (grid[-1] - grid[-2])
    return wt


def line_opacity(grid: np.ndarray, lines: PreparedLines, tol: float = 1e-3,
                 core_doppler: float | None = 6.0) -> LineOpacity:
    """Accumulate the selected lines onto ``grid`` (Angstrom, sorted), one compiled pass over the lines of
    each species (``_deposit_lines``).

    Lines flagged ``weak`` (linear in the flux) are deposited with their integrated opacity on the two
    grid points bracketing the line centre (linear "cloud-in-cell" weights divided by the trapezoid
    weight of the point), which keeps every weak line's contribution to the trapezoid integral of the
    opacity exact at any sampling; the others get their Voigt profile (``_voigt1``) at each window point
    and depth within max(``core_doppler``, 4 a) Doppler widths (the largest over depth) of the centre,
    and beyond that the first two terms of the asymptotic expansion
    H(a, v) = a / (sqrt(pi) v^2) [1 + (3/2 - a^2) / v^2 + O((1 + a^4) / v^4)] (relative error < 2e-3 at
    v >= 6 for a << 1, < 4e-3 at v = 4 a); ``core_doppler=None`` evaluates the Voigt function over the
    whole window. Class-shared species are summed on a low-rank basis of their n_e-class ratios
    (``tol``, see ``_low_rank_ratios``): a species whose lines put many profile points on each row
    they touch (Fe I, MgH, Cr I, Ni I in a cool dwarf) is deposited once and then folded onto the basis,
    one pass of rank x depth per row instead of one per profile point (the sums differ only in float32
    rounding, < 1e-6 in F/Fc); the variant-specific ones (e.g. OH when [O/Fe] varies) are kept per
    species, on the rows their windows touch, for per-variant summation."""
    grid = check_wave_grid(grid, "grid", min_size=2)
    ncls = int(lines.classes.max()) + 1
    reps = np.array([np.where(lines.classes == c)[0][0] for c in range(ncls)])
    nd = lines.ratio.shape[2]
    nw = grid.size
    shared = lines.shared.copy()
    weight, basis = _low_rank_ratios(lines.ratio[:, reps, :], shared, tol)
    poor = _poorly_factored(weight, basis, lines.ratio[:, reps, :], shared)
    if poor.any():  # sum those species per species, exactly, and factor the others again
        shared &= ~poor
        weight, basis = _low_rank_ratios(lines.ratio[:, reps, :], shared, tol)
    acc = np.zeros((nw, weight.shape[1], nd), np.float32)
    weight = weight.astype(np.float32)
    blocks = []
    nl = lines.wave.size
    if nl:
        inside = (lines.wave > grid[0]) & (lines.wave < grid[-1])
        weak = inside & (lines.weak if lines.weak is not None else False)
        gauss = lines.doppler_only if lines.doppler_only is not None else np.zeros(nl, bool)
        half = np.asarray(lines.halfwidth, float)
        core = half
        if core_doppler is not None:
            amax = lines.a.max(axis=1).astype(np.float64)
            core = np.minimum(half, np.maximum(core_doppler, 4.0 * amax) * lines.dlam_D.max(axis=1))
        trap = _trapezoid_widths(grid)
        sp = np.asarray(lines.sp_index, np.int64)
        identity = np.arange(nw)
        # species in ascending order (so the blocks are too), line order kept within a species; a shared
        # species goes onto the basis directly when that costs less than depositing it and folding it
        nq = weight.shape[1]
        ones = np.ones((shared.size, 1, nd), np.float32)
        order = np.argsort(sp, kind="stable")
        cuts = np.flatnonzero(np.diff(sp[order])) + 1
        for k in np.split(order, cuts):
            s = int(sp[k[0]])
            # rows touched: the two points of weak lines, the whole window of the others
            j = np.clip(np.searchsorted(grid, lines.wave[k]) - 1, 0, nw - 2)
            lo = np.where(weak[k], j, np.searchsorted(grid, lines.wave[k] - half[k]))
            hi = np.where(weak[k], j + 2, np.searchsorted(grid, lines.wave[k] + half[k], side="right"))
            cover = np.cumsum(np.bincount(lo, minlength=nw + 1) - np.bincount(hi, minlength=nw + 1))[:nw]
            rows = np.flatnonzero(cover > 0)
            if shared[s] and (hi - lo).sum() * (nq - 1) <= rows.size * nq:
                _deposit_lines(grid, trap, k, lines.wave, sp, lines.strength, lines.dlam_D, lines.a, half, core,
                               weak, gauss, weight, identity, acc)
                continue
            rowmap = np.full(nw, -1, np.int64)
            rowmap[rows] = np.arange(rows.size)
            out = np.zeros((rows.size, 1, nd), np.float32)
            _deposit_lines(grid, trap, k, lines.wave, sp, lines.strength, lines.dlam_D, lines.a, half, core, weak,
                           gauss, ones, rowmap, out)
            if shared[s]:
                _fold_rows(acc, rows, out[:, 0, :], weight[s])
            else:
                blocks.append((s, rows, out[:, 0, :]))
    ptr = np.cumsum([0] + [b[1].size for b in blocks])
    rows = np.concatenate([b[1] for b in blocks]) if blocks else np.zeros(0, np.int64)
    vals = np.concatenate([b[2] for b in blocks]) if blocks else np.zeros((0, nd), np.float32)
    return LineOpacity(acc=acc, basis=basis, species=np.array([b[0] for b in blocks], np.int64), ptr=ptr,
                       rows=rows, vals=vals, nw=nw, nd=nd)


@numba.njit(cache=True)
def _fold_rows(acc, rows, vals, w):
    """acc[rows[i], q] += vals[i] w[q]: one species' opacity onto the low-rank class basis."""
    nq, nd = w.shape
    for i in range(rows.size):
        r = rows[i]
        for q in range(nq):
            for d in range(nd):
                acc[r, q, d] += vals[i, d] * w[q, d]


@numba.njit(cache=True)
def _deposit_lines(grid, trap, idx, wave0, sp, strength, dlam_D, a, half, core, weak, gauss, weight, rowmap, out):
    """out[rowmap[i], q, d] += alpha_l(grid_i, d) weight[sp_l, q, d] for every line l in idx (see
    ``line_opacity``): weak lines on their two bracketing points, the others with H(a, v) (or e^{-v^2}
    where ``gauss``) for |lambda - lambda_0| <= core and the Lorentz-wing expansion out to ``half``."""
    nw = grid.size
    nd = strength.shape[1]
    nq = weight.shape[1]
    val = np.empty(nd, np.float32)
    inv = np.empty(nd)
    norm = np.empty(nd)
    p1 = np.empty((nq, nd), np.float32)
    p2 = np.empty((nq, nd), np.float32)
    for l in idx:
        w0 = wave0[l]
        s = sp[l]
        if weak[l]:
            j = min(max(np.searchsorted(grid, w0) - 1, 0), nw - 2)
            f = (w0 - grid[j]) / (grid[j + 1] - grid[j])
            for i, fac in ((j, (1.0 - f) / trap[j]), (j + 1, f / trap[j + 1])):
                r = rowmap[i]
                for q in range(nq):
                    for d in range(nd):
                        out[r, q, d] += strength[l, d] * fac * weight[s, q, d]
            continue
        for d in range(nd):
            inv[d] = 1.0 / dlam_D[l, d]
            norm[d] = strength[l, d] * inv[d] / SQRT_PI
        i0 = np.searchsorted(grid, w0 - core[l])
        i1 = np.searchsorted(grid, w0 + core[l], side="right")
        for i in range(i0, i1):
            x = grid[i] - w0
            for d in range(nd):
                v = x * inv[d]
                h = math.exp(-v * v) if gauss[l] else _voigt1(a[l, d], v)
                val[d] = h * norm[d]
            r = rowmap[i]
            for q in range(nq):
                for d in range(nd):
                    out[r, q, d] += val[d] * weight[s, q, d]
        if half[l] <= core[l]:
            continue
        for q in range(nq):  # alpha = p1 / x^2 + p2 / x^4 (x = lambda - lambda_0), times the weights
            for d in range(nd):
                t1 = strength[l, d] * a[l, d] * dlam_D[l, d] / np.pi * weight[s, q, d]
                p1[q, d] = t1
                p2[q, d] = t1 * (1.5 - a[l, d] * a[l, d]) * dlam_D[l, d] * dlam_D[l, d]
        for j0, j1 in ((np.searchsorted(grid, w0 - half[l]), np.searchsorted(grid, w0 - core[l])),
                       (i1, np.searchsorted(grid, w0 + half[l]))):  # the two wings; i1: end of the core
            for i in range(j0, j1):
                x2 = np.float32(1.0 / (grid[i] - w0) ** 2)  # float32 throughout: twice the vector width
                r = rowmap[i]
                for q in range(nq):
                    for d in range(nd):
                        out[r, q, d] += (p1[q, d] + p2[q, d] * x2) * x2
