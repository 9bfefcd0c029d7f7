"""Readers of model-atmosphere files: ATLAS9 ``READ DECK6`` decks (Kurucz) and MARCS ``.mod`` files
(Gustafsson et al. 2008), plain or gzip-compressed.  Both give :class:`Atmosphere` records in cgs
units with A_X = 12 + log10(N_X/N_H) abundances (conventions in :mod:`glocal.atmospheres`).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .._io import read_maybe_gzipped
from ..constants import K_BOLTZMANN
from .model import N_ELEMENTS, Atmosphere

__all__ = ["read_atmosphere", "read_atmospheres"]


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
        raise ValueError(f"{where}: READ DECK6 announces {ndepth} layers but only {len(rows)} present "
                         "(truncated file?)")
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
    """Every model of an ATLAS9 ``READ DECK6`` file (one or many decks) or of a MARCS ``.mod`` file,
    plain or gzip-compressed, as :class:`Atmosphere` records in file order.

    FileNotFoundError for a missing file; ValueError naming the file (and model) for an empty,
    truncated, unrecognised or inconsistent one.
    """
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
