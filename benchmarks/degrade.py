"""Benchmark: sparse Eq. 11 operator vs a direct per-pixel loop (paper §2.2).

Input: 100 spectra sampled at 0.02 Å over 2550–10000 Å (372 501 px, float64), as in §2.1;
output: the 274-point Eq. 8 grid at R = 200.  The direct loop (Eq. 11 evaluated pixel by pixel,
as the paper describes: clip the window, weight by the Gaussian, divide by the summed weight) is
timed on a few spectra and extrapolated linearly to 100 (it has no per-grid set-up to amortise).
A second, stronger loop baseline slices windows with searchsorted instead of boolean masks.

    .venv/bin/python benchmarks/degrade.py [--n-spectra 100] [--n-direct 3]
"""
from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np
from threadpoolctl import threadpool_limits

from glocal.degrade import DegradeOperator, csst_grid, fwhm_to_sigma


def direct_mask_loop(wave, flux, grid, R, truncate=5.0):
    """Eq. 11 per output pixel with boolean-mask clipping of the full input grid."""
    out = np.empty(grid.size)
    for j, lam0 in enumerate(grid):
        fwhm = lam0 / R
        sel = np.abs(wave - lam0) <= truncate * fwhm
        sig = fwhm_to_sigma(fwhm)
        g = np.exp(-0.5 * ((wave[sel] - lam0) / sig) ** 2)
        out[j] = np.dot(flux[sel], g) / g.sum()
    return out


def direct_slice_loop(wave, flux, grid, R, truncate=5.0):
    """Eq. 11 per output pixel, windows found by binary search (contiguous slices)."""
    out = np.empty(grid.size)
    for j, lam0 in enumerate(grid):
        h = truncate * lam0 / R
        lo = np.searchsorted(wave, lam0 - h, side="left")
        hi = np.searchsorted(wave, lam0 + h, side="right")
        x = wave[lo:hi] - lam0
        g = np.exp(-0.5 * (x / fwhm_to_sigma(lam0 / R)) ** 2)
        out[j] = np.dot(flux[lo:hi], g) / g.sum()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-spectra", type=int, default=100)
    ap.add_argument("--n-direct", type=int, default=3, help="spectra timed with the direct loops")
    ap.add_argument("--repeat", type=int, default=3, help="repeats of the sparse apply (best is reported)")
    args = ap.parse_args()

    R = 200
    wave = 2550.0 + 0.02 * np.arange(372_501)
    grid = csst_grid(2550.0, 10000.0, R)
    rng = np.random.default_rng(0)
    flux = 1.0 - 0.3 * rng.random((args.n_spectra, wave.size))  # float64
    print(f"input: {args.n_spectra} spectra x {wave.size} px (float64, {flux.nbytes / 2**20:.0f} MiB); "
          f"output grid: {grid.size} px")

    # direct loops on a few spectra; BLAS pinned to 1 thread (threaded tiny dot products are
    # 10-100x slower on a shared machine, which would inflate the ratios)
    with threadpool_limits(1, user_api="blas"):
        t = time.perf_counter()
        ref = np.array([direct_mask_loop(wave, flux[i], grid, R) for i in range(args.n_direct)])
        t_mask = (time.perf_counter() - t) / args.n_direct
        t = time.perf_counter()
        ref2 = np.array([direct_slice_loop(wave, flux[i], grid, R) for i in range(args.n_direct)])
        t_slice = (time.perf_counter() - t) / args.n_direct

    # sparse operator: build once, apply to the whole batch (timed without tracemalloc)
    t = time.perf_counter()
    op = DegradeOperator(wave, grid, R=R)
    t_build = time.perf_counter() - t
    times, times_sparse = [], []
    for _ in range(args.repeat):  # interleaved so both paths see the same machine load
        t = time.perf_counter()
        out = op.apply(flux)  # "auto" -> banded BLAS path for a batch
        times.append(time.perf_counter() - t)
        t = time.perf_counter()
        out_sparse = op.apply(flux, method="sparse")
        times_sparse.append(time.perf_counter() - t)
    t_apply, t_sparse = min(times), min(times_sparse)

    # peak memory of build and apply, measured in a separate pass
    tracemalloc.start()
    DegradeOperator(wave, grid, R=R)
    _, peak_build = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tracemalloc.start()
    op.apply(flux)
    _, peak_apply = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    err = max(np.max(np.abs(out[: args.n_direct] - ref) / np.abs(ref)),
              np.max(np.abs(out_sparse[: args.n_direct] - ref) / np.abs(ref)))
    err2 = np.max(np.abs(ref2 - ref) / np.abs(ref))
    n = args.n_spectra
    direct_total = t_mask * n
    sparse_total = t_build + t_apply
    print(f"direct loop (mask)  : {t_mask:.3f} s/spectrum (timed on {args.n_direct}, extrapolated) "
          f"-> {direct_total:.1f} s for {n}")
    print(f"direct loop (slice) : {t_slice:.3f} s/spectrum -> {t_slice * n:.1f} s for {n}")
    print(f"sparse operator     : build {t_build:.3f} s (nnz={op.matrix.nnz}, "
          f"{(op.matrix.data.nbytes + op.matrix.indices.nbytes + op.matrix.indptr.nbytes) / 2**20:.1f} MiB), "
          f"apply {t_apply:.3f} s for {n} (banded, best of {args.repeat}; "
          f"all: {', '.join(f'{x:.3f}' for x in times)}); "
          f"scipy CSR product {t_sparse:.3f} s")
    print(f"speed ratio (mask loop / (build+apply))  : {direct_total / sparse_total:.0f}x")
    print(f"speed ratio (slice loop / (build+apply)) : {t_slice * n / sparse_total:.0f}x")
    print(f"speed ratio per spectrum, apply only     : {t_mask / (t_apply / n):.0f}x")
    print(f"max relative difference sparse vs direct: {err:.2e} (slice vs mask loop {err2:.2e})")
    print(f"tracemalloc peak: build {peak_build / 2**20:.0f} MiB (incl. the operator), apply "
          f"{peak_apply / 2**20:.1f} MiB (excluding the {flux.nbytes / 2**20:.0f} MiB input)")
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
