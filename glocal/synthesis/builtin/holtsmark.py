"""Holtsmark's quasi-static field distribution, the shape of the hydrogen lines' Stark wings where the
Stehle & Hutcheon tables stop (``hydrogen``).

H(beta) = (2 / pi) beta int_0^inf x e^{-x^{3/2}} sin(beta x) dx (Holtsmark 1919; Chandrasekhar 1943, Rev. Mod.
Phys. 15, 1, Eqs. 631-634), normalised to 1 over beta in [0, inf): by quadrature up to beta = 40, the
asymptotic series 1.496 beta^-5/2 (1 + 5.107 beta^-3/2 + 14.43 beta^-3) beyond, (4 / (3 pi)) beta^2 below
beta = 1e-3. The line profile fills the centre (below the maximum at beta ~ 1.6) flat (``_flat_top``).
"""
from __future__ import annotations

import functools
import math

import numba
import numpy as np


@functools.lru_cache(maxsize=1)
def _holtsmark_table():
    """log beta and log H(beta) of Holtsmark's distribution, computed once by quadrature."""
    from scipy.integrate import quad
    beta = np.logspace(-3, np.log10(40.0), 240)
    vals = np.array([2 / np.pi * b * quad(lambda x: x * np.exp(-x**1.5), 0, np.inf, weight="sin", wvar=b)[0]
                     for b in beta])
    return np.log(beta), np.log(np.maximum(vals, 1e-300))


def holtsmark(beta):
    """Holtsmark's field-strength distribution H(beta) (Holtsmark 1919; Chandrasekhar 1943, Rev. Mod. Phys.
    15, 1, Eqs. 631-634), normalised to 1 over beta in [0, inf); quadrature up to beta = 40, beyond it the
    asymptotic series 1.496 beta^-5/2 (1 + 5.107 beta^-3/2 + 14.43 beta^-3) (``_holtsmark1``)."""
    b = np.abs(np.asarray(beta, float))
    lb, lh = _holtsmark_table()
    out = np.empty(b.size)
    _holtsmark_array(np.ascontiguousarray(b).reshape(-1), lb, lh, out)
    return out.reshape(b.shape)


@numba.njit(cache=True)
def _holtsmark_ln(y, lb, lh):
    """H(b) at y = ln b from the table (log-log linear), H ~ (4/(3 pi)) b^2 below it, the asymptotic series
    above it."""
    n = lb.size
    if y < lb[0]:
        return 4.0 / (3.0 * np.pi) * math.exp(2.0 * y)
    if y > lb[n - 1]:
        x = math.exp(-1.5 * y)
        return 1.496 * x * math.exp(-y) * (1.0 + 5.107 * x + 14.43 * x * x)
    k = min(max(np.searchsorted(lb, y) - 1, 0), n - 2)
    f = (y - lb[k]) / (lb[k + 1] - lb[k])
    return math.exp(lh[k] * (1.0 - f) + lh[k + 1] * f)


@numba.njit(cache=True)
def _holtsmark_array(b, lb, lh, out):
    for i in range(b.size):
        out[i] = _holtsmark_ln(math.log(b[i]), lb, lh) if b[i] > 0 else 0.0


@functools.lru_cache(maxsize=1)
def _flat_top():
    """(beta of the maximum, its value, area) of the quasi-static line profile: Holtsmark's distribution
    with its centre (beta below the maximum at ~1.6, where the single-component distribution falls to 0)
    filled flat, as the superposed Stark components, the unshifted components and electron impacts do;
    divided by the area it has area 1 per unit |beta| over [0, inf)."""
    b = np.geomspace(1e-4, 40.0, 40001)
    h = holtsmark(b)
    k = int(np.argmax(h))
    flat = np.where(b < b[k], h[k], h)
    tail = 1.496 * 2 / 3 * 40.0**-1.5  # leading term of the area beyond beta = 40
    return float(b[k]), float(h[k]), float(np.trapezoid(flat, b) + h[k] * b[0] + tail)
