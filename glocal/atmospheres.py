"""Model atmospheres: readers, the built-in Kurucz (1993) grid and its interpolation (paper §2.1).

The paper computes spectra on a fine (Teff, log g, [Fe/H]) grid of ATLAS9 models
(§2.1: Teff 3500–8000 K, log g 0–5 in 0.25 dex, [Fe/H] −4…−1 in 0.2 dex).  The
Castelli & Kurucz (2003) ODFNEW grid used in the paper is not redistributable here, so
the built-in grid is the Kurucz (1993, CD-ROM 13) ATLAS9 grid (250 K, 0.5 dex, 0.5 dex
steps) and the paper's nodes are obtained by interpolation on a common Rosseland
optical-depth scale (:func:`grid_atmosphere`).

Conventions (all arrays surface first):

* ``rhox``   column mass, g cm⁻²
* ``T``      temperature, K
* ``P``      gas pressure, dyn cm⁻²
* ``xne``    electron number density, cm⁻³
* ``abross`` Rosseland mean opacity per gram, cm² g⁻¹
* ``abundances`` 99 values A_X = 12 + log10(N_X/N_H) for Z = 1…99 with the model's
  metallicity already applied (A_H = 12).  Absent elements carry very negative values
  (Kurucz: −20 in log N/N_tot, i.e. A ≈ −8 + [M/H]; MARCS: −99).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._io import read_maybe_gzipped
from .constants import K_BOLTZMANN
from .grid import FEH_NODES, TEFF_NODES
from .grid import paper_grid as _paper_grid

__all__ = [
    "Atmosphere",
    "read_atmosphere",
    "read_atmospheres",
    "load_grid",
    "AtmosphereGrid",
    "grid_atmosphere",
    "in_coverage",
    "coverage_report",
    "leave_one_out",
    "DEFAULT_MAX_EXTRAPOLATION",
    "GRID_PATH",
]

N_ELEMENTS = 99
GRID_PATH = Path(__file__).resolve().parent / "data" / "atmospheres_kurucz1993.h5"
DEPTH_QUANTITIES = ("rhox", "T", "P", "xne", "abross")

#: Largest distance (dex) in log g that :func:`grid_atmosphere` extrapolates beyond the last
#: existing Kurucz model of a (Teff, [M/H]) column (one Kurucz log g step).
DEFAULT_MAX_EXTRAPOLATION = 0.5


# ----------------------------------------------------------------------------------------
# The Atmosphere record
# ----------------------------------------------------------------------------------------
@dataclass
class Atmosphere:
    """One 1-D LTE model atmosphere (depth arrays surface first, cgs units; see module doc)."""

    teff: float
    logg: float
    feh: float
    vturb: float
    abundances: np.ndarray
    rhox: np.ndarray
    T: np.ndarray
    P: np.ndarray
    xne: np.ndarray
    abross: np.ndarray
    source: str = ""
    geometry: str = "plane-parallel"
    tau_ross_file: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("teff", "logg", "feh", "vturb"):
            value = float(getattr(self, name))
            if not np.isfinite(value):
                raise ValueError(f"Atmosphere.{name} must be finite, got {value}")
            setattr(self, name, value)
        if self.geometry not in ("plane-parallel", "spherical"):
            raise ValueError(f"geometry must be 'plane-parallel' or 'spherical', got {self.geometry!r}")
        ab = np.asarray(self.abundances, dtype=float)
        if ab.shape != (N_ELEMENTS,):
            raise ValueError(f"abundances must have shape ({N_ELEMENTS},), got {ab.shape}")
        if not np.all(np.isfinite(ab)):
            raise ValueError("abundances contain NaN/inf")
        self.abundances = ab
        n = None
        for name in DEPTH_QUANTITIES:
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.ndim != 1 or arr.size < 2:
                raise ValueError(f"{name} must be a 1-D array with >= 2 depth points, got shape {arr.shape}")
            if n is None:
                n = arr.size
            elif arr.size != n:
                raise ValueError(f"depth arrays differ in length: {name} has {arr.size}, expected {n}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN/inf")
            if np.any(arr <= 0) and name != "xne":
                raise ValueError(f"{name} must be positive")
            setattr(self, name, arr)
        if np.any(self.xne < 0):
            raise ValueError("xne must be non-negative")
        if np.any(np.diff(self.rhox) <= 0):
            raise ValueError("rhox must increase strictly from the surface inwards")

    @property
    def ndepth(self) -> int:
        return int(self.rhox.size)

    @property
    def tau_ross(self) -> np.ndarray:
        """Rosseland optical depth τ_R = ∫₀^rhox κ_R d rhox (trapezoid rule).

        Surface value: the opacity is taken constant above the top layer, so
        τ_R[0] = κ_R[0]·rhox[0] (ATLAS convention of a finite first column mass).
        """
        tau0 = self.abross[0] * self.rhox[0]
        steps = 0.5 * (self.abross[1:] + self.abross[:-1]) * np.diff(self.rhox)
        return np.concatenate([[tau0], tau0 + np.cumsum(steps)])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Depth structure as a dict of float64 arrays: rhox, T, P, xne, abross, tau_ross."""
        out = {name: np.array(getattr(self, name), dtype=float) for name in DEPTH_QUANTITIES}
        out["tau_ross"] = self.tau_ross
        return out


# ----------------------------------------------------------------------------------------
# Readers
# ----------------------------------------------------------------------------------------
def _read_text(path: str | Path) -> str:
    path = Path(path)
    raw = read_maybe_gzipped(path, "model-atmosphere")
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        try:
            return raw.decode("latin-1")
        except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes any byte
            raise ValueError(f"{path}: not a text model-atmosphere file") from exc


_FLOAT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[EeDd][-+]?\d+)?"
_TEFF_RE = re.compile(r"^\s*TEFF\s+(" + _FLOAT + r")\s+GRAVITY\s+(" + _FLOAT + r")", re.M)
_SCALE_RE = re.compile(r"ABUNDANCE\s+SCALE\s+(" + _FLOAT + ")")
_CHANGE_RE = re.compile(r"ABUNDANCE\s+CHANGE((?:\s+\d+\s+" + _FLOAT + r")+)")
_DECK_RE = re.compile(r"READ\s+DECK6\s+(\d+)")
_VTURB_RE = re.compile(r"VTURB[\s=]*(" + _FLOAT + r")")


def _parse_kurucz_block(block: str, where: str) -> Atmosphere:
    """Parse one ATLAS9 ``READ DECK6`` model (one TEFF … PRADK block)."""
    head = _TEFF_RE.search(block)
    if head is None:
        raise ValueError(f"{where}: missing 'TEFF ... GRAVITY' header line")
    teff, logg = float(head.group(1)), float(head.group(2))
    m_scale = _SCALE_RE.search(block)
    if m_scale is None:
        raise ValueError(f"{where}: missing 'ABUNDANCE SCALE'")
    scale = float(m_scale.group(1))
    if not scale > 0:
        raise ValueError(f"{where}: ABUNDANCE SCALE must be positive, got {scale}")
    changes: dict[int, float] = {}
    for m in _CHANGE_RE.finditer(block):
        tok = m.group(1).split()
        for z, v in zip(tok[0::2], tok[1::2]):
            changes[int(z)] = float(v)
    missing = [z for z in range(1, N_ELEMENTS + 1) if z not in changes]
    if missing:
        raise ValueError(f"{where}: ABUNDANCE CHANGE lacks elements {missing[:5]}{'...' if len(missing) > 5 else ''}")
    deck = _DECK_RE.search(block)
    if deck is None:
        raise ValueError(f"{where}: missing 'READ DECK6' line (truncated or not an ATLAS deck)")
    ndepth = int(deck.group(1))
    lines = block[deck.end():].splitlines()[1:]
    rows, vcol = [], []
    for line in lines[:ndepth]:
        tok = line.replace("D", "E").split()
        if len(tok) < 5:
            raise ValueError(f"{where}: depth line has {len(tok)} columns, need >= 5: {line!r}")
        try:
            rows.append([float(t) for t in tok[:5]])
            if len(tok) >= 7:
                vcol.append(float(tok[6]))
        except ValueError as exc:
            raise ValueError(f"{where}: bad depth line {line!r}") from exc
    if len(rows) != ndepth:
        raise ValueError(f"{where}: READ DECK6 announces {ndepth} layers but only {len(rows)} present (truncated file?)")
    data = np.asarray(rows, dtype=float)
    # microturbulence: median of the deck's VTURB column (cm/s), else the TITLE's VTURB (km/s)
    if len(vcol) == ndepth:
        vt = float(np.median(vcol)) / 1e5
    else:
        m_vt = _VTURB_RE.search(block)
        vt = float(m_vt.group(1)) if m_vt else 2.0
    # ATLAS: element 1, 2 are number fractions N/N_tot; Z >= 3 are log10(N/N_tot) for the
    # solar mixture, multiplied by ABUNDANCE SCALE = 10^[M/H].  A_X = 12 + log10(N_X/N_H).
    f_h = changes[1]
    if not 0 < f_h <= 1 or not 0 <= changes[2] < 1:
        raise ValueError(f"{where}: H/He number fractions out of range ({f_h}, {changes[2]})")
    feh = float(np.log10(scale))
    ab = np.empty(N_ELEMENTS)
    ab[0] = 12.0
    ab[1] = 12.0 + np.log10(max(changes[2], 1e-30) / f_h)
    metals = np.array([changes[z] for z in range(3, N_ELEMENTS + 1)])
    ab[2:] = 12.0 + metals + feh - np.log10(f_h)
    return Atmosphere(
        teff=teff, logg=logg, feh=round(feh, 4), vturb=vt, abundances=ab,
        rhox=data[:, 0], T=data[:, 1], P=data[:, 2], xne=data[:, 3], abross=data[:, 4],
        source=where, geometry="plane-parallel",
    )


def _read_kurucz(text: str, path: Path) -> list[Atmosphere]:
    starts = [m.start() for m in _TEFF_RE.finditer(text)]
    if not starts:
        raise ValueError(f"{path}: no 'TEFF ... GRAVITY' model header found (not an ATLAS9 deck?)")
    starts.append(len(text))
    return [
        _parse_kurucz_block(text[a:b], f"{path.name}[{i}]")
        for i, (a, b) in enumerate(zip(starts[:-1], starts[1:]))
    ]


def _read_marcs(text: str, path: Path) -> Atmosphere:
    """MARCS ``.mod`` (Gustafsson et al. 2008): xne = Pe / (k T), rhox and κ_R from table 2."""
    lines = text.splitlines()
    name = path.name

    def find(pattern: str) -> int:
        for i, line in enumerate(lines):
            if pattern in line:
                return i
        raise ValueError(f"{name}: MARCS header item {pattern!r} not found (truncated or not MARCS)")

    def first_float(i: int) -> float:
        try:
            return float(lines[i].split()[0])
        except (IndexError, ValueError) as exc:
            raise ValueError(f"{name}: cannot read a number from line {i + 1}: {lines[i]!r}") from exc

    teff = first_float(find("Teff [K]"))
    gravity = first_float(find("Surface gravity"))
    if gravity <= 0:
        raise ValueError(f"{name}: non-positive surface gravity {gravity}")
    vturb = first_float(find("Microturbulence"))
    i_met = find("Metallicity [Fe/H]")
    feh = float(lines[i_met].split()[0])
    i_mass = find("Mass [Msun]") if any("Mass [Msun]" in l for l in lines) else None
    geometry = "spherical" if (i_mass is not None and first_float(i_mass) > 0) else "plane-parallel"
    i_ab = find("Logarithmic chemical number abundances")
    i_nd = find("Number of depth points")
    ab_tok = " ".join(lines[i_ab + 1:i_nd]).split()
    try:
        ab_raw = np.array([float(t) for t in ab_tok])
    except ValueError as exc:
        raise ValueError(f"{name}: bad abundance block") from exc
    if ab_raw.size < 2 or ab_raw.size > N_ELEMENTS:
        raise ValueError(f"{name}: expected up to {N_ELEMENTS} abundances, found {ab_raw.size}")
    ab = np.full(N_ELEMENTS, -99.0)
    ab[: ab_raw.size] = ab_raw
    ndepth = int(first_float(i_nd))
    i_s1 = find("Model structure") + 2
    i_s2 = i_s1 + ndepth + 1  # second table header follows the first table
    try:
        t1 = np.array([[float(x) for x in l.split()] for l in lines[i_s1:i_s1 + ndepth]])
        t2 = np.array([[float(x) for x in l.split()] for l in lines[i_s2:i_s2 + ndepth]])
    except ValueError as exc:
        raise ValueError(f"{name}: bad depth table ({exc}); truncated file?") from exc
    if t1.ndim != 2 or t1.shape[0] != ndepth or t1.shape[1] < 7:
        raise ValueError(f"{name}: first structure table has shape {t1.shape}, expected ({ndepth}, 9) (truncated?)")
    if t2.ndim != 2 or t2.shape[0] != ndepth or t2.shape[1] < 8:
        raise ValueError(f"{name}: second structure table has shape {t2.shape}, expected ({ndepth}, 8) (truncated?)")
    T, pe, pg = t1[:, 4], t1[:, 5], t1[:, 6]
    return Atmosphere(
        teff=teff, logg=float(np.log10(gravity)), feh=feh, vturb=vturb, abundances=ab,
        rhox=t2[:, 7], T=T, P=pg, xne=pe / (K_BOLTZMANN * T), abross=t2[:, 2],
        source=name, geometry=geometry, tau_ross_file=10.0 ** t1[:, 1],
    )


def read_atmospheres(path: str | Path) -> list[Atmosphere]:
    """Read every model of an ATLAS9 ``READ DECK6`` file or a MARCS ``.mod`` file (gz ok)."""
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise ValueError(f"{path}: empty file")
    if "READ DECK6" in text or _TEFF_RE.search(text):
        return _read_kurucz(text, path)
    if "Model structure" in text or "Teff [K]" in text:
        return [_read_marcs(text, path)]
    raise ValueError(f"{path}: unrecognised model-atmosphere format (neither ATLAS9 deck nor MARCS .mod)")


def read_atmosphere(path: str | Path) -> Atmosphere | list[Atmosphere]:
    """Read a model file: one :class:`Atmosphere`, or a list when the file holds several."""
    models = read_atmospheres(path)
    return models[0] if len(models) == 1 else models


# ----------------------------------------------------------------------------------------
# The built-in grid
# ----------------------------------------------------------------------------------------
class AtmosphereGrid:
    """The committed Kurucz (1993) grid as regular axes with a presence mask.

    ``data[i_teff, i_logg, i_feh, :, q]`` holds quantity q (rhox, T, P, xne, abross) and
    ``present[i_teff, i_logg, i_feh]`` says whether the model exists (the grid has holes).
    """

    def __init__(self, teff, logg, feh, data, present, abundances, vturb, attrs=None):
        self.teff = np.asarray(teff, float)
        self.logg = np.asarray(logg, float)
        self.feh = np.asarray(feh, float)
        self.data = np.asarray(data, float)
        self.present = np.asarray(present, bool)
        self.abundances = np.asarray(abundances, float)  # (n_feh, 99)
        self.vturb = float(vturb)
        self.attrs = dict(attrs or {})
        shape = (self.teff.size, self.logg.size, self.feh.size)
        if self.present.shape != shape or self.data.shape[:3] != shape or self.data.shape[4] != 5:
            raise ValueError(f"inconsistent grid shapes: present {self.present.shape}, data {self.data.shape}")
        if self.abundances.shape != (self.feh.size, N_ELEMENTS):
            raise ValueError(f"abundance table has shape {self.abundances.shape}")
        for ax, name in ((self.teff, "teff"), (self.logg, "logg"), (self.feh, "feh")):
            if ax.size < 2 or np.any(np.diff(ax) <= 0):
                raise ValueError(f"grid axis {name} must be strictly increasing with >= 2 values")
        # log τ_Ross and log quantities per model, for interpolation on the τ scale
        with np.errstate(divide="ignore", invalid="ignore"):
            rhox, kap = self.data[..., 0], self.data[..., 4]
            tau0 = kap[..., :1] * rhox[..., :1]
            steps = 0.5 * (kap[..., 1:] + kap[..., :-1]) * np.diff(rhox, axis=-1)
            tau = np.concatenate([tau0, tau0 + np.cumsum(steps, axis=-1)], axis=-1)
            self.logtau = np.log10(tau)
            self.logq = np.stack(
                [np.log10(rhox), self.data[..., 1], np.log10(self.data[..., 2]),
                 np.log10(self.data[..., 3]), np.log10(kap)], axis=-1)
        # per (teff, feh) column: range of log g that exists (NaN when fewer than 2 models).
        # A few columns have an internal hole (e.g. [M/H]=-3, 5000 K, log g 1.0); it is bridged
        # by interpolating between the existing neighbours (a 1 dex step).
        self.gmin = np.full((self.teff.size, self.feh.size), np.nan)
        self.gmax = np.full_like(self.gmin, np.nan)
        self.internal_holes = []
        for i in range(self.teff.size):
            for k in range(self.feh.size):
                idx = np.flatnonzero(self.present[i, :, k])
                if idx.size >= 2:
                    self.gmin[i, k], self.gmax[i, k] = self.logg[idx[0]], self.logg[idx[-1]]
                    for j in sorted(set(range(idx[0], idx[-1] + 1)) - set(idx.tolist())):
                        self.internal_holes.append((self.teff[i], self.logg[j], self.feh[k]))

    @property
    def n_models(self) -> int:
        return int(self.present.sum())

    def model(self, i: int, j: int, k: int) -> Atmosphere:
        """The stored model at axis indices (teff i, logg j, feh k)."""
        if not self.present[i, j, k]:
            raise ValueError(f"no Kurucz model at Teff={self.teff[i]}, logg={self.logg[j]}, [M/H]={self.feh[k]}")
        d = self.data[i, j, k]
        return Atmosphere(self.teff[i], self.logg[j], self.feh[k], self.vturb, self.abundances[k].copy(),
                          d[:, 0], d[:, 1], d[:, 2], d[:, 3], d[:, 4],
                          source=f"Kurucz (1993) grid node", geometry="plane-parallel")


def _load_grid_file(path: Path) -> AtmosphereGrid:
    import h5py

    if not path.is_file():
        raise FileNotFoundError(f"built-in atmosphere grid not found: {path} (run scripts/build_data.py)")
    try:
        with h5py.File(path, "r") as f:
            teff, logg, feh = f["teff"][:], f["logg"][:], f["feh"][:]
            structure = f["structure"][:].astype(float)
            ab = f["abundances"][:].astype(float)
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
            vturb = float(f.attrs.get("vturb_kms", 2.0))
    except (OSError, KeyError) as exc:
        raise ValueError(f"{path}: corrupt or incomplete atmosphere grid file ({exc})") from exc
    ut, ug, uf = np.unique(teff), np.unique(logg), np.unique(feh)
    nd = structure.shape[1]
    data = np.full((ut.size, ug.size, uf.size, nd, 5), np.nan)
    present = np.zeros((ut.size, ug.size, uf.size), bool)
    it, ig, if_ = np.searchsorted(ut, teff), np.searchsorted(ug, logg), np.searchsorted(uf, feh)
    data[it, ig, if_] = structure
    present[it, ig, if_] = True
    # abundances: one row per [M/H]
    ab_feh = np.full((uf.size, N_ELEMENTS), np.nan)
    ab_feh[if_] = ab
    return AtmosphereGrid(ut, ug, uf, data, present, ab_feh, vturb, attrs)


@functools.lru_cache(maxsize=4)
def _cached_grid(path: str) -> AtmosphereGrid:
    return _load_grid_file(Path(path))


def load_grid(path: str | Path | None = None) -> AtmosphereGrid:
    """The built-in Kurucz (1993) grid (cached after the first call)."""
    return _cached_grid(str(Path(path) if path is not None else GRID_PATH))


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
        rhox = np.concatenate([[tau[0] / kap[0]], tau[0] / kap[0] + np.cumsum(np.diff(tau) / (0.5 * (kap[1:] + kap[:-1])))])
    ab = np.einsum("m,me->e", w, grid.abundances[idx[2]])
    return Atmosphere(teff, logg, feh, grid.vturb, ab, rhox, res[:, 1], 10.0 ** res[:, 2],
                      10.0 ** res[:, 3], 10.0 ** res[:, 4], source=source, geometry="plane-parallel")


def grid_atmosphere(teff: float, logg: float, feh: float, *,
                    max_extrapolation: float = DEFAULT_MAX_EXTRAPOLATION,
                    grid: AtmosphereGrid | None = None) -> Atmosphere:
    """Kurucz (1993) model interpolated to (Teff, log g, [Fe/H]) (paper §2.1 grid).

    Trilinear in (Teff, log g, [M/H]) of log rhox, T, log P, log xne and log κ_R as functions
    of log τ_Ross; the target τ scale is the weighted mean of the corners' τ scales (positive
    weights only), so the result is exact at grid nodes; between nodes rhox is rebuilt from
    the interpolated κ_R so that τ_Ross(rhox) equals that scale (monotonic, self-consistent).  Beyond the last existing model of a (Teff, [M/H]) column
    log g is linearly extrapolated by at most ``max_extrapolation`` dex.  vturb is that of
    the grid (2 km/s); the synthesis replaces it with Eqs. (4)–(7).
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
