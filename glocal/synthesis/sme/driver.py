"""The SME engine's ``run`` (contract: ``glocal.synthesis.contract``; physics: ``glocal.synthesis.sme``)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ...constants import WING_MARGIN
from ..contract import EngineOptions, EngineResult
from .hydrogen_windows import h_windows
from .inputs import (
    check_sme_range,
    chunk_slices,
    mu_quadrature,
    prepare_lines,
    sme_abundances,
    sme_atmosphere,
    wave_grid,
)
from .library import LOCK
from .library import dll as _dll
from .library import lib as _lib

__all__ = ["SMEOptions", "run", "ACCRT", "ACCWI", "CONTINUUM_GRID", "VDW_SCALE"]

#: SMElib's line-contribution criterion: a line counts where its opacity exceeds ACCRT × the continuum
#: (``ALMAXRange`` and ``Transf``).
ACCRT = 1e-4
#: SMElib's accuracy of the adaptive wavelength integration inside ``Transf`` (its ``accwi``).
ACCWI = 3e-3
#: Spacing (Å) of SMElib's edge-aware continuous-opacity grid (``SetContinuumOpacityGrid``).
CONTINUUM_GRID = 1.0
#: Scale factor on SMElib's van der Waals damping (``SetVWscale``): 1, no empirical enhancement.
VDW_SCALE = 1.0


@dataclass(frozen=True)
class SMEOptions(EngineOptions):
    """Options of the SME driver (``engine="sme"``).  The defaults are the converged setting: R = 200
    F/F_c within 0.2 % per pixel of the fine reference of ``glocal.validation.convergence_table``.

    step_kms : float, km s⁻¹, default 2.0, in (0, 100]
        Step of the output grid, uniform in ln λ (0.017 Å at 2550 Å, 0.067 Å at 10 000 Å), when no
        ``wave`` grid is given.  Larger steps coarsen the sampling of the Doppler cores.
    n_mu : int, default 3, in 1..20
        Gauss–Legendre μ points of the disc integral F = 2π Σ w μ I(μ), applied alike to I and I_c.
    almax_min : float ≥ 0 or None, default 1e-3
        Lines whose peak line/continuum opacity ratio over depth (SMElib's ALMAX, evaluated with the
        largest abundance of every element over the variants) is below this are dropped before the
        transfer; H I lines are always kept.  None keeps every line (slower, for references).
    h_depth_min : float in (0, 0.1) or None, default 1e-4
        H I line wings are cut where their summed depression of F/F_c stays below this
        (``glocal.synthesis.sme.hydrogen_windows``).  None: SMElib's own ranges (hundreds of Å).
    chunk_width : float ≥ 1 (Å) or None, default 100
        The grid is synthesised in pieces of about this width, each with only the lines whose
        contribution range overlaps it; the output is one grid and does not depend on it (to 1e-5).
        None: one piece.
    eos_warm_start : bool, default True
        Start SMElib's EOS iteration for each variant from the previous variant's solution; the
        converged result is unchanged (to 1e-5 in F/F_c), the iteration shorter.
    h2broad : bool, default True
        SMElib's van der Waals broadening by H₂ in addition to H I; off, strong lines of cool dwarfs
        (Na D, Mg b) get narrower wings.
    """
    step_kms: float = 2.0
    n_mu: int = 3
    almax_min: float | None = 1e-3
    h_depth_min: float | None = 1e-4
    chunk_width: float | None = 100.0
    eos_warm_start: bool = True
    h2broad: bool = True

    def __post_init__(self):
        wave_grid((5000.0, 5001.0), self.step_kms)            # ValueError for a bad step
        mu_quadrature(self.n_mu)                               # ValueError for a bad n_mu
        if self.almax_min is not None and not (np.isfinite(self.almax_min) and self.almax_min >= 0):
            raise ValueError(f"almax_min must be >= 0 or None, got {self.almax_min!r}")
        if self.h_depth_min is not None and not (np.isfinite(self.h_depth_min) and 0 < self.h_depth_min < 0.1):
            raise ValueError(f"h_depth_min must be in (0, 0.1) or None, got {self.h_depth_min!r}")
        chunk_slices(np.array([5000.0, 5001.0]), self.chunk_width)  # ValueError below 1 Å
        for name in ("eos_warm_start", "h2broad"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")


def _unique_rows(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``A`` in order of first appearance and, per row of ``A``, its index among them
    (the paper's 16 variants hold {O: 0, Mg: 0} twice: synthesised once)."""
    _, first, inverse = np.unique(A, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return A[np.sort(first)], rank[np.asarray(inverse).ravel()]


@dataclass
class _Model:
    """What SMElib gets for every variant besides the abundances."""
    atmo: dict
    teff: float
    logg: float
    vturb: float
    lo: float
    hi: float
    h2broad: bool

    def prepare(self, dll, lib, abund) -> None:
        """Model, abundances, EOS and continuous opacities of one variant."""
        dll.InputModel(self.teff, self.logg, self.vturb, self.atmo)
        lib.InputAbund(sme_abundances(abund))
        dll.Ionization(4)  # gas density from SMElib's own EOS (see the package docstring)
        dll.SetVWscale(VDW_SCALE)
        if self.h2broad:
            dll.SetH2broad(True)
        else:
            dll.ClearH2broad()
        dll.InputWaveRange(self.lo - 2.0, self.hi + 2.0)
        dll.Opacity()


def _select_lines(dll, lib, model: _Model, lines, abund_max, almax_min):
    """SMElib's screening (``ALMAXRange``) with the largest abundances: the kept lines (H I always),
    their contribution ranges and an H I flag; SMElib then uses these ranges (``SetLineInfoMode(2)``)."""
    dll.SetLineInfoMode(0)
    lib.InputLineList(lines.species, lines.atomic)
    model.prepare(dll, lib, abund_max)
    almax, ranges = dll.ALMAXRange(accrt=ACCRT)
    almax = np.asarray(almax, float)
    ranges = np.asarray(ranges, float).reshape(-1, 2)
    is_h = np.char.strip(lines.species) == b"H 1"
    keep = np.ones(lines.species.size, bool) if almax_min is None else (almax >= float(almax_min))
    keep |= is_h                         # H I: broad wings, few lines
    species, atomic = lines.species[keep], np.ascontiguousarray(lines.atomic[:, keep])
    lib.InputLineList(species, atomic)
    dll.SetLineInfoMode(2)
    return atomic, ranges[keep, 0].copy(), ranges[keep, 1].copy(), is_h[keep]


def _cut_h_wings(dll, mu, wmu, atomic, rs, re_, is_h, active, model, h_depth_min) -> dict:
    """Narrow the H I lines' ranges to their :func:`h_windows` (in place; lines with empty windows are
    switched off in ``active``); returns the H I diagnostics."""
    idx_h = np.flatnonzero(is_h)
    left, right, h_cpu = h_windows(dll, mu, wmu, atomic[2], rs, re_, idx_h, model.lo, model.hi,
                                   float(h_depth_min), ACCRT, ACCWI)
    cen = atomic[2, idx_h]
    rs[idx_h] = np.maximum(rs[idx_h], cen - left)
    re_[idx_h] = np.minimum(re_[idx_h], cen + right)
    empty = (left <= 0) & (right <= 0)
    active[idx_h[empty]] = False
    wmax = np.maximum(left, right)
    return dict(h_lines=int(idx_h.size), h_lines_used=int((~empty).sum()), h_lines_uncut=int(np.isinf(wmax).sum()),
                h_window_max=float(np.max(wmax[np.isfinite(wmax)], initial=0.0)), h_window_cpu=h_cpu)


def _transfer_chunks(dll, grid, chunks, rs, re_, active, mu, wmu, flux, cont, chunk_cpu, n_chunk_lines):
    """One variant: ``Transf`` on every chunk with the lines whose range overlaps it; fills the
    ``flux`` / ``cont`` rows, adds CPU seconds to ``chunk_cpu``, appends line counts to a list."""
    for k, sl in enumerate(chunks):
        c_chunk = time.process_time()
        g = grid[sl]
        # SMElib adds a line at λ only for range_s < λ < range_e
        m = active & (re_ > g[0]) & (rs < g[-1])
        if n_chunk_lines is not None:
            n_chunk_lines.append(int(m.sum()))
        dll.InputLinePrecomputedInfo(rs, re_, m.astype(np.uint8))
        _, w_out, sint, cint = dll.Transf(mu, wave=g, accrt=ACCRT, accwi=ACCWI)
        if w_out.size != g.size:
            raise RuntimeError(f"SMElib returned {w_out.size} points for a {g.size}-point grid")
        flux[sl] = 2.0 * np.pi * (wmu * mu) @ sint
        cont[sl] = 2.0 * np.pi * (wmu * mu) @ cint
        chunk_cpu[k] += time.process_time() - c_chunk


def _synthesize(model: _Model, U, abund_max, lines, grid, chunks, opts: SMEOptions):
    """All distinct abundance rows ``U`` in one SMElib session: (flux, cont, details)."""
    mu, wmu = mu_quadrature(opts.n_mu)
    flux_u, cont_u = np.empty((U.shape[0], grid.size)), np.empty((U.shape[0], grid.size))
    info: dict = {"timing": {}, "n_chunk_lines": [], "chunk_cpu": np.zeros(len(chunks))}
    timing = info["timing"]
    dll, lib = _dll(), _lib()
    with dll.session():
        t0, c0 = time.perf_counter(), time.process_time()
        dll.SetContinuumOpacityGrid(CONTINUUM_GRID)
        dll.SetEosWarmStartMode(bool(opts.eos_warm_start))
        try:
            atomic, rs, re_, is_h = _select_lines(dll, lib, model, lines, abund_max, opts.almax_min)
            info["n_lines_used"] = int(is_h.size)
            timing["line_selection"] = time.perf_counter() - t0
            timing["line_selection_cpu"] = time.process_time() - c0
            t_syn, c_syn = time.perf_counter(), time.process_time()
            active = np.ones(is_h.size, bool)
            for u in range(U.shape[0]):
                model.prepare(dll, lib, U[u])
                if u == 0 and opts.h_depth_min is not None and is_h.any():
                    info.update(_cut_h_wings(dll, mu, wmu, atomic, rs, re_, is_h, active, model,
                                             opts.h_depth_min))
                _transfer_chunks(dll, grid, chunks, rs, re_, active, mu, wmu, flux_u[u], cont_u[u],
                                 info["chunk_cpu"], info["n_chunk_lines"] if u == 0 else None)
        finally:
            dll.SetLineInfoMode(0)
            dll.SetEosWarmStartMode(False)  # never carry EOS history over to another model
        timing["synthesis"] = time.perf_counter() - t_syn
        timing["synthesis_cpu"] = time.process_time() - c_syn
    info["chunk_cpu"] = (info["chunk_cpu"] / U.shape[0]).tolist()
    return flux_u, cont_u, info


def run(atmosphere, abundances, line_list, wave_range, vturb, options: SMEOptions | None = None, *,
        wave=None) -> EngineResult:
    """Synthesise every abundance row of ``abundances`` on one atmosphere with SMElib.

    Engine contract (``glocal.synthesis.contract``; inputs validated by
    ``glocal.synthesis.run_engine``): ``abundances`` (n_var, 99) log ε on the H = 12 scale,
    ``wave_range`` air Å, ``vturb`` km s⁻¹, ``options`` an :class:`SMEOptions` (None: defaults).
    The output grid is ``wave`` if given, else uniform in ln λ with ``options.step_kms`` from
    ``wave_range[0]``; it must lie in 1000–100 000 Å.  Returns F and F_c = 2π∫I μ dμ
    (erg s⁻¹ cm⁻² Å⁻¹) of each variant; ``details``: line counts, chunking, H I windows, timings.
    """
    opts = SMEOptions() if options is None else options
    if not isinstance(opts, SMEOptions):
        raise TypeError(f"options must be SMEOptions, got {type(opts).__name__}")
    grid = wave_grid(wave_range, opts.step_kms) if wave is None else np.asarray(wave, float)
    lo, hi = check_sme_range((grid[0], grid[-1]))
    chunks = chunk_slices(grid, opts.chunk_width)
    atmo, teff, logg = sme_atmosphere(atmosphere)
    # lines whose wings can reach [lo, hi]; SMElib's ALMAXRange decides which do
    lines = prepare_lines(line_list, (lo - WING_MARGIN, hi + WING_MARGIN))
    if lines.species.size == 0:
        raise ValueError(f"line list has no lines within {lo - WING_MARGIN:.1f}-{hi + WING_MARGIN:.1f} Å")
    A = np.atleast_2d(np.asarray(abundances, dtype=float))
    U, back = _unique_rows(A)
    model = _Model(atmo, teff, logg, float(vturb), lo, hi, bool(opts.h2broad))
    with LOCK:
        flux_u, cont_u, info = _synthesize(model, U, A.max(axis=0), lines, grid, chunks, opts)
    flux, cont = flux_u[back], cont_u[back]
    if not (np.all(np.isfinite(flux)) and np.all(cont > 0)):
        raise RuntimeError("SMElib produced non-finite flux or non-positive continuum")
    details = dict(info, n_lines_in=int(lines.species.size), n_dropped_h_lines=lines.n_dropped_h,
                   n_mu=int(opts.n_mu), step_kms=opts.step_kms, n_wave=int(grid.size), n_chunks=len(chunks),
                   chunk_edges=[(float(grid[sl][0]), float(grid[sl][-1])) for sl in chunks],
                   n_unique_variants=int(U.shape[0]))
    return EngineResult(grid, flux, cont, details)
