"""SMElib's hydrogen line profiles for the built-in engine, for validation against SME only.

The built-in engine (``glocal.synthesis.builtin.hydrogen``) differs from SMElib by design in two ways
(described in that module's docstring): SMElib's packed Stehle & Hutcheon table repeats each line's last
tabulated density, so its widths freeze there, and its HLINOP (Barklem & Piskunov 2003), used above
n_up = 30, adds an ion and an electron quasi-static profile and an impact Lorentzian, a profile of area
~2. :data:`SMELIB_HYDROGEN` reproduces both, so that the remaining built-in - SME differences can be told
apart:

* lines with a Stehle & Hutcheon table: the table at min(n_e, its last density), in absolute detuning
  (the Holtsmark field F0 of that density), and no quasi-static profile beyond the table
  (``hydrogen.physical_profile(..., quasi_static=False)``);
* the others: SMElib's own ``hlinop_`` (in the library pysme loads, ``glocal.synthesis.sme.smelib_path``),
  per Hz, converted to per A with c / lambda^2.

Use: ``BuiltinOptions(hydrogen_profiles=SMELIB_HYDROGEN)`` (needs pysme).
"""
from __future__ import annotations

import dataclasses
import functools

import numba
import numpy as np

from glocal.constants import C_AA
from glocal.synthesis.builtin.hydrogen import HydrogenLayers, HydrogenLine, doppler_widths, physical_profile

__all__ = ["SmelibHydrogenProfiles", "SMELIB_HYDROGEN"]


@functools.lru_cache(maxsize=1)
def _hlinop_kernel():
    """A compiled loop over SMElib's HLINOP: kernel(wave_air (nw,), centre_air, n_lo, n_up, T, n_e, n(H I),
    n(He I), Doppler width / centre (nd,), out (nw, nd)) fills out with HLINOP's profile per A."""
    import ctypes

    from glocal.synthesis.sme import smelib_path

    hlinop = ctypes.CDLL(smelib_path()).hlinop_
    hlinop.restype = ctypes.c_float
    hlinop.argtypes = [ctypes.c_void_p] * 9
    c_aa = C_AA

    @numba.njit
    def kernel(wave, centre, n_lo, n_up, T, ne, nH, nHe, dop, out):
        w, wc = np.empty(1), np.full(1, centre)
        lo, up = np.full(1, n_lo, np.int32), np.full(1, n_up, np.int32)
        t, e, h, he, dp = (np.empty(1, np.float32), np.empty(1, np.float32), np.empty(1, np.float32),
                           np.empty(1, np.float32), np.empty(1, np.float32))
        for d in range(T.size):
            t[0], e[0], h[0], he[0], dp[0] = T[d], ne[d], nH[d], nHe[d], dop[d]
            for i in range(wave.size):
                w[0] = wave[i]
                out[i, d] = hlinop(w.ctypes.data, lo.ctypes.data, up.ctypes.data, wc.ctypes.data, t.ctypes.data,
                                   e.ctypes.data, h.ctypes.data, he.ctypes.data, dp.ctypes.data) * c_aa / wave[i] ** 2

    return kernel


class SmelibHydrogenProfiles:
    """A ``hydrogen_profiles`` provider of the built-in engine: ``(line, dl, layers) -> (nw, nd)`` profile
    per A of ``line`` (:class:`~glocal.synthesis.builtin.hydrogen.HydrogenLine`) at air detunings ``dl``
    (A) in the layers ``layers`` (:class:`~glocal.synthesis.builtin.hydrogen.HydrogenLayers`, which must
    carry n(He I) for the HLINOP lines), as SMElib computes it (module docstring)."""

    def __call__(self, line: HydrogenLine, dl, layers: HydrogenLayers) -> np.ndarray:
        if line.table is not None:  # the table's last density, in absolute detuning, wherever n_e is larger
            lg_ne = np.minimum(layers.lg_ne, line.table["log10_ne"][-1])
            frozen = dataclasses.replace(layers, lg_ne=lg_ne, F0=1.25e-9 * 10 ** (lg_ne * 2.0 / 3.0))
            return physical_profile(line, dl, frozen, quasi_static=False)
        if layers.n_HeI is None:
            raise ValueError("SMElib's HLINOP needs the He I densities (HydrogenLayers.n_HeI)")
        dlD = np.ascontiguousarray(doppler_widths(line, layers)[0], float)
        out = np.empty((np.size(dl), layers.T.size))
        _hlinop_kernel()(np.ascontiguousarray(dl, float) + line.lam_air, float(line.lam_air), line.n_lo, line.n_up,
                         layers.T, 10 ** layers.lg_ne, layers.n_HI, np.asarray(layers.n_HeI, float),
                         dlD / line.lam_air, out)
        return out

    def __repr__(self) -> str:
        return "SmelibHydrogenProfiles()"

    def __eq__(self, other) -> bool:
        return isinstance(other, SmelibHydrogenProfiles)

    def __hash__(self) -> int:
        return hash(SmelibHydrogenProfiles)


#: SMElib's hydrogen profiles: ``BuiltinOptions(hydrogen_profiles=SMELIB_HYDROGEN)``
SMELIB_HYDROGEN = SmelibHydrogenProfiles()
