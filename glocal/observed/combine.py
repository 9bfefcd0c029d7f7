"""Combine pieces of one star's spectrum — echelle orders, spectrograph arms, separate exposures of
different ranges — into one :class:`ObservedSpectrum`: :func:`combine_pieces`.

A reduced echelle spectrum often comes as one row per order (IRAF multispec, or a table per order), and a
two-arm spectrograph (MIKE blue and red) as two spectra.  ``glocal predict`` needs 90 % of 4000–9000 Å in
one spectrum, so the pieces must be put together first.  The pieces must share a flux scale: continuum-
normalised orders (each divided by its own continuum, as the MIKE spectra here) or flux-calibrated
spectra.  Orders still carrying the blaze function are not a shared scale and give a wrong combination.

The combined spectrum lives on the union of the pieces' wavelengths (after converting every piece to the
medium of the first, if they differ; points closer than half a pixel of the finest piece to the previous
one are dropped).  At each wavelength each piece that covers it contributes its
flux linearly interpolated between its two neighbouring pixels, unless either of them is bad; the
contributions are averaged with weights 1/σ² when every piece has σ, otherwise equally, and the combined
σ is 1/√(Σ 1/σ²) (inverse-variance case) or √(Σ σ²)/n (equal weights, where every contributing piece
has σ).  A wavelength that no piece covers with good pixels is masked.  The resolving power recorded is
the lowest of the pieces' (:func:`glocal.observed.prepare.estimate_resolution` of each), so that the
degradation to R = 200 never under-smooths the coarsest piece.
"""
from __future__ import annotations

import numpy as np

from glocal.observed.spectrum import ObservedSpectrum

__all__ = ["combine_pieces"]


def _same_medium(pieces: list[ObservedSpectrum]) -> list[ObservedSpectrum]:
    if all(p.medium == pieces[0].medium for p in pieces):
        return pieces
    return [p.to_air() for p in pieces]


def _check_units(pieces: list[ObservedSpectrum]) -> str:
    units = {str(p.meta.get("flux_unit", "") or "") for p in pieces}
    if len(units) > 1:
        raise ValueError(f"the pieces have different flux units {sorted(units)}: they do not share a flux scale")
    return units.pop()


def _union_grid(pieces: list[ObservedSpectrum]) -> np.ndarray:
    """The pieces' wavelengths merged, without points closer than half the local pixel spacing of the
    finest piece there to the previous one kept (two pieces sampled alike in an overlap give one grid, not
    pairs of near-duplicates, whose zero-width pixels would read as a coverage gap at R = 200)."""
    grid = np.unique(np.concatenate([p.wave for p in pieces]))
    step = np.full(grid.size, np.inf)
    for p in pieces:
        d = np.diff(p.wave)
        inside = (grid >= p.wave[0]) & (grid <= p.wave[-1])
        local = np.interp(grid, 0.5 * (p.wave[1:] + p.wave[:-1]), d)
        step = np.where(inside, np.minimum(step, local), step)
    keep = np.ones(grid.size, bool)
    last = grid[0]
    for i in range(1, grid.size):
        if grid[i] - last < 0.5 * step[i]:
            keep[i] = False
        else:
            last = grid[i]
    return grid[keep]


def _on_grid(piece: ObservedSpectrum, grid: np.ndarray):
    """(flux, sigma or None, covered) of ``piece`` at ``grid``: linear interpolation between its two
    neighbouring pixels, not covered where either is bad or outside the piece."""
    w = piece.wave
    j = np.clip(np.searchsorted(w, grid, side="right") - 1, 0, w.size - 2)
    t = (grid - w[j]) / (w[j + 1] - w[j])
    inside = (grid >= w[0]) & (grid <= w[-1])
    good = ~piece.mask
    covered = inside & good[j] & good[j + 1]
    f = np.where(covered, (1 - t) * piece.flux[j] + t * piece.flux[j + 1], np.nan)
    if piece.sigma is None:
        return f, None, covered
    s = np.where(covered, (1 - t) * piece.sigma[j] + t * piece.sigma[j + 1], np.nan)
    return f, s, covered & np.isfinite(s) & (s > 0)


def combine_pieces(pieces, *, name: str | None = None) -> ObservedSpectrum:
    """One spectrum from the ``pieces`` (ObservedSpectrum, ≥ 1) of one star's spectrum (module docstring).

    ValueError when the pieces have different flux units, or when none has a good pixel.
    """
    from glocal.observed.prepare import estimate_resolution
    pieces = _same_medium(list(pieces))
    if not pieces:
        raise ValueError("no spectra to combine")
    unit = _check_units(pieces)
    grid = _union_grid(pieces)
    on = [_on_grid(p, grid) for p in pieces]
    weighted = all(s is not None for _, s, _ in on)
    num, den = np.zeros(grid.size), np.zeros(grid.size)
    var, n = np.zeros(grid.size), np.zeros(grid.size)
    var_known = np.ones(grid.size, bool)
    for f, s, ok in on:
        w = np.where(ok, 1.0 / s ** 2, 0.0) if weighted else ok.astype(float)
        num += np.where(ok, w * f, 0.0)
        den += w
        n += ok
        if s is None:
            var_known &= ~ok
        else:
            var += np.where(ok, s ** 2, 0.0)
    if not (den > 0).any():
        raise ValueError("none of the pieces has a good pixel")
    flux = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    if weighted:
        sigma = np.where(den > 0, 1.0 / np.sqrt(np.where(den > 0, den, 1.0)), np.nan)
    elif any(s is not None for _, s, _ in on):
        sigma = np.where((n > 0) & var_known, np.sqrt(var) / np.maximum(n, 1), np.nan)
    else:
        sigma = None
    resolution = min(estimate_resolution(p)[0] for p in pieces)
    first = pieces[0].meta
    meta = {k: first[k] for k in ("source", "object", "ra", "dec", "bunit") if k in first}
    meta.update(name=name or f"{first.get('name', 'spectrum')} (combined)", flux_unit=unit, resolution=resolution,
                resolution_keyword=f"lowest of {len(pieces)} combined pieces", n_pieces=len(pieces),
                medium_reason=first.get("medium_reason", ""))
    return ObservedSpectrum(grid, flux, sigma=sigma, mask=~(den > 0), medium=pieces[0].medium, meta=meta)


#: ``combine`` choices of :func:`collect_spectra` (None: every spectrum on its own).
COMBINE_MODES = ("file", "all")


def collect_spectra(paths, *, medium=None, combine: str | None = None, exclude=(),
                    rv: float = 0.0) -> list[tuple[ObservedSpectrum, int]]:
    """Read every file of ``paths`` (:func:`glocal.observed.read_spectra`) into ``(spectrum, index in its
    file)`` pairs, the input of ``glocal predict`` and ``glocal fit``.  ``combine="file"`` joins the spectra of
    each file into one (:func:`combine_pieces`; index 0), ``"all"`` joins every spectrum of every file into
    one (the arms of one star in separate files).  ``exclude``: [(lo, hi), ...] rest-frame air ranges (Å,
    ``rv`` in km/s) whose pixels are marked bad (:func:`glocal.observed.prepare.exclude_ranges`).
    FileNotFoundError names a missing file."""
    from pathlib import Path

    from glocal.observed.readers import read_spectra
    if combine not in (None, *COMBINE_MODES):
        raise ValueError(f"combine must be one of {COMBINE_MODES} or None, got {combine!r}")
    per_file = []
    for path in paths:
        if not Path(path).exists():
            raise FileNotFoundError(f"no such file: {path}")
        per_file.append(read_spectra(path, medium=medium))
    if combine is None:
        pairs = [(s, i) for spectra in per_file for i, s in enumerate(spectra)]
    elif combine == "file":
        pairs = [(s[0], 0) if len(s) == 1 else (combine_pieces(s), 0) for s in per_file]
    else:
        every = [s for spectra in per_file for s in spectra]
        pairs = [(every[0], 0) if len(every) == 1 else (combine_pieces(every), 0)]
    if not exclude:
        return pairs
    from glocal.observed.prepare import exclude_ranges
    return [(exclude_ranges(s, exclude, rv=rv), i) for s, i in pairs]


def _wave_range_arg(text: str) -> tuple[float, float]:
    import argparse

    from glocal.observed.prepare import parse_wave_range
    try:
        return parse_wave_range(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_exclude_option(parser) -> None:
    """``--exclude LO-HI`` (repeatable) on the ``glocal predict`` / ``glocal fit`` parser ``parser``."""
    parser.add_argument("--exclude", action="append", default=[], type=_wave_range_arg, metavar="LO-HI",
                        help="ignore the pixels of this rest-frame air range, Angstrom (repeatable; e.g. "
                             "0-4000 gives the optical-only answer, 6860-6960 drops the telluric B band); "
                             "they are missing to the model like bad pixels")
