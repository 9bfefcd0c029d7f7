"""Solar mixture and the [Fe/H] + [X/Fe] abundance pattern of the grid (paper §2.1, Eqs. 1–3).

Solar mixture
-------------
``SOLAR_GS98`` holds the photospheric abundances of Grevesse & Sauval (1998, Space Sci. Rev. 85,
161; log ε, H = 12).  We adopt GS98 rather than Asplund et al. (2009) because the paper computed
its grid with SPECTRUM v2.77, whose ``stdatom.dat`` carries a Grevesse & Sauval (1998)-based
mixture; the labels [O/Fe] and [Mg/Fe] are only meaningful relative to the solar zero points
that produced the spectra (A(O)⊙ = 8.83, A(Mg)⊙ = 7.58, A(Fe)⊙ = 7.50 in GS98, versus 8.69,
7.60, 7.50 in AGSS09).  The 20 elements for which GS98 quotes no photospheric value (As, Se, Br,
Kr, Te, I, Xe, Cs, Ta, Re, Hg, Bi, Th, U) are filled with the values of Asplund et al. (2009,
ARA&A 47, 481, Table 1), listed in ``FILLED_FROM_AGSS09``; elements with neither (Tc, Pm, Po…Es
except Th and U) get ``ABSENT`` = −20 (no atoms), like the Kurucz decks.

Pattern (Eqs. 1–3)
------------------
All metals (Z ≥ 3) are scaled by [M/H] = [Fe/H] (Eq. 1) and selected elements get an extra
[X/Fe] offset (Eq. 2), so that A_X = A_X⊙ + [Fe/H] + [X/Fe] (Eq. 3).  H and He are not scaled.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._checks import finite_scalar as _finite_scalar
from .elements import ELEMENTS

__all__ = [
    "ELEMENTS",
    "SOLAR_GS98",
    "FILLED_FROM_AGSS09",
    "ABSENT",
    "SOLAR_REFERENCE",
    "element_index",
    "solar_abundances",
    "abundance_pattern",
    "abundance_patterns",
    "xfe_of",
]

_INDEX = {el: i for i, el in enumerate(ELEMENTS)}
_INDEX_LOWER = {el.lower(): i for i, el in enumerate(ELEMENTS)}

#: log ε of an element treated as absent (Kurucz convention).
ABSENT = -20.0

SOLAR_REFERENCE = ("Grevesse & Sauval (1998), Space Sci. Rev. 85, 161 (photospheric); gaps from "
                   "Asplund et al. (2009), ARA&A 47, 481")

# Grevesse & Sauval (1998), Table 1 photospheric log eps; None = not given there.
_GS98 = (
    12.00, 10.93, 1.10, 1.40, 2.55, 8.56, 7.92, 8.83, 4.56, 8.08,       # H..Ne
    6.33, 7.58, 6.47, 7.55, 5.45, 7.33, 5.50, 6.40, 5.12, 6.36,         # Na..Ca
    3.17, 5.02, 4.00, 5.67, 5.39, 7.50, 4.92, 6.25, 4.21, 4.60,         # Sc..Zn
    2.88, 3.41, None, None, None, None, 2.60, 2.97, 2.24, 2.60,         # Ga..Zr
    1.42, 1.92, None, 1.84, 1.12, 1.69, 0.94, 1.77, 1.66, 2.00,         # Nb..Sn
    1.00, None, None, None, None, 2.13, 1.17, 1.58, 0.71, 1.50,         # Sb..Nd
    None, 1.01, 0.51, 1.12, -0.10, 1.14, 0.26, 0.93, 0.00, 1.08,        # Pm..Yb
    0.06, 0.88, None, 1.11, None, 1.45, 1.35, 1.80, 1.01, None,         # Lu..Hg
    0.90, 1.95, None, None, None, None, None, None, None, None,         # Tl..Th
    None, None, None, None, None, None, None, None, None,               # Pa..Es
)
# Asplund et al. (2009), Table 1 (photospheric, else meteoritic) for the GS98 gaps.
_AGSS09_FILL = {"As": 2.30, "Se": 3.34, "Br": 2.54, "Kr": 3.25, "Te": 2.18, "I": 1.55,
                "Xe": 2.24, "Cs": 1.08, "Ta": -0.12, "Re": 0.26, "Hg": 1.17, "Bi": 0.65,
                "Th": 0.02, "U": -0.54}


def _build_solar() -> tuple[np.ndarray, tuple[str, ...]]:
    sol = np.full(len(ELEMENTS), ABSENT)
    filled = []
    for i, v in enumerate(_GS98):
        el = ELEMENTS[i]
        if v is not None:
            sol[i] = v
        elif el in _AGSS09_FILL:
            sol[i] = _AGSS09_FILL[el]
            filled.append(el)
    sol.setflags(write=False)
    return sol, tuple(filled)


SOLAR_GS98, FILLED_FROM_AGSS09 = _build_solar()


def element_index(symbol: str) -> int:
    """0-based index (Z − 1) of an element symbol (case-insensitive); ValueError if unknown."""
    if not isinstance(symbol, str):
        raise TypeError(f"element symbol must be a string, got {type(symbol).__name__}")
    key = symbol.strip()
    if key in _INDEX:
        return _INDEX[key]
    if key.lower() in _INDEX_LOWER:
        return _INDEX_LOWER[key.lower()]
    raise ValueError(f"unknown element {symbol!r} (expected one of H, He, …, Es)")


def solar_abundances() -> np.ndarray:
    """Copy of the adopted solar mixture (99 log ε, H = 12)."""
    return np.array(SOLAR_GS98, dtype=float)


def _check_xfe(xfe: Mapping[str, float] | None) -> dict[int, float]:
    if xfe is None:
        return {}
    if not isinstance(xfe, Mapping):
        raise TypeError(f"xfe must be a mapping element -> [X/Fe], got {type(xfe).__name__}")
    out: dict[int, float] = {}
    for el, val in xfe.items():
        i = element_index(el)
        if i < 2:
            raise ValueError(f"[{el}/Fe] is not defined: H and He are not scaled with [Fe/H] (Eq. 1)")
        if i == _INDEX["Fe"]:
            raise ValueError("[Fe/Fe] is identically 0; set the metallicity with feh")
        if i in out:
            raise ValueError(f"element {el!r} given twice in xfe")
        out[i] = _finite_scalar(val, f"[{el}/Fe]")
    return out


def abundance_pattern(feh: float, xfe: Mapping[str, float] | None = None, *,
                      solar: np.ndarray | None = None) -> np.ndarray:
    """99 log ε (H = 12) for [Fe/H] = ``feh`` and the [X/Fe] offsets ``xfe`` (Eqs. 1–3).

    A_X = A_X⊙ + [Fe/H] + [X/Fe] for every metal (Z ≥ 3); H, He unscaled; absent elements stay
    at ``ABSENT``.  ``xfe`` maps element symbols to [X/Fe], e.g. ``{"O": 0.4, "Mg": 0.2}``.
    """
    feh = _finite_scalar(feh, "feh")
    if not -10.0 <= feh <= 2.0:
        raise ValueError(f"feh={feh} is outside the physical range [-10, 2]")
    offsets = _check_xfe(xfe)
    base = SOLAR_GS98 if solar is None else np.asarray(solar, dtype=float)
    if base.shape != (len(ELEMENTS),):
        raise ValueError(f"solar mixture must have shape ({len(ELEMENTS)},), got {base.shape}")
    if not np.all(np.isfinite(base)):
        raise ValueError("solar mixture contains NaN/inf")
    out = np.array(base, dtype=float)
    present = out > ABSENT + 1e-9
    metals = np.arange(len(ELEMENTS)) >= 2
    out[metals & present] += feh                      # Eq. (1)
    for i, v in offsets.items():                       # Eqs. (2)-(3)
        if present[i]:
            out[i] += v
    return out


def abundance_patterns(feh: float, variants) -> np.ndarray:
    """(n_variants, 99) log ε for a list of [X/Fe] dicts on one [Fe/H] (Eqs. 1–3)."""
    variants = list(variants)
    if not variants:
        raise ValueError("variants is empty")
    return np.stack([abundance_pattern(feh, v) for v in variants])


def xfe_of(pattern: np.ndarray, element: str, feh: float, *, solar: np.ndarray | None = None) -> float:
    """Inverse of Eq. (3): [X/Fe] = A_X − A_X⊙ − [Fe/H] read back from a 99-element pattern."""
    pattern = np.asarray(pattern, dtype=float)
    if pattern.shape != (len(ELEMENTS),):
        raise ValueError(f"pattern must have shape ({len(ELEMENTS)},), got {pattern.shape}")
    i = element_index(element)
    base = SOLAR_GS98 if solar is None else np.asarray(solar, dtype=float)
    return float(pattern[i] - base[i] - _finite_scalar(feh, "feh"))
