"""Hydrogen line opacity (Balmer and Paschen series).

* H-alpha, H-beta, H-gamma: Voigt profiles with Doppler (thermal + microturbulent) cores and
  self-resonance broadening from the Anstee-Barklem-O'Mara theory (Barklem, Piskunov & O'Mara 2000,
  A&A 363, 1091: sigma = 1180, 2320, 4208 a0^2; alpha = 0.677, 0.455, 0.380), as Korg does.
* all other Balmer (n_up <= 30) and Paschen lines: the Doppler-convolved Stark profiles of Stehle &
  Hutcheon (1999), interpolated in (log T, log n_e, log(Delta nu / F0)) with the Holtsmark field
  F0 = 1.25e-9 n_e^(2/3) (cgs), extrapolated beyond the table as (Delta nu)^(-5/2).
* line strength (Gray 2005 Eq. 11.12; stimulated emission via the upper level population):
  alpha = (pi e^2/m_e c)(lambda^2/c) gf n(H I) [e^{-E_lo/kT} - e^{-E_up/kT}] / U(H I) x profile  (Eq. H1)

Wavelengths are returned on the caller's grid, in air (line centres converted from vacuum with the
IAU formula, ``glocal.linelists.vacuum_to_air``).
"""
from __future__ import annotations

import numpy as np

from glocal.linelists import vacuum_to_air

from .lines import abo_gamma, as_wave_grid, doppler_width, voigt_hjerting
from .tables import C_AA, C_CGS, K_EV, RYDBERG_H_EV, SIGMA_LINE, load_tables

SELF_BROADENING = {3: (1180.0, 0.677), 4: (2320.0, 0.455), 5: (4208.0, 0.380)}
M_H = 1.00794


def hydrogen_line_opacity(grid, T, ne, n_HI, U_HI, vturb, stark_window=30.0, self_window=150.0,
                          series=(2, 3)):
    """alpha(lambda, depth) of the hydrogen lines (cm^-1), shape (len(grid), nd)."""
    grid = as_wave_grid(grid)
    T, ne, n_HI, U_HI = (np.asarray(x, float) for x in (T, ne, n_HI, U_HI))
    nd = T.size
    out = np.zeros((grid.size, nd))
    tab = load_tables()["stark"]
    kT = K_EV * T
    F0 = 1.25e-9 * ne ** (2.0 / 3.0)
    lg_T, lg_ne = np.log10(T), np.log10(ne)
    vt = np.broadcast_to(np.asarray(vturb, float), (nd,))
    for key, ln in tab.items():
        lo, up = ln["lower"], ln["upper"]
        if lo not in series:
            continue
        lam_vac = float(np.median(ln["lambda0"]))
        lam0 = float(vacuum_to_air(lam_vac))
        self_b = lo == 2 and up in SELF_BROADENING
        win = self_window if self_b else stark_window
        i0, i1 = np.searchsorted(grid, [lam0 - win, lam0 + win])
        if i1 <= i0:
            continue
        w = grid[i0:i1]
        E_lo = RYDBERG_H_EV * (1 - 1 / lo**2)
        E_up = RYDBERG_H_EV * (1 - 1 / up**2)
        levels = (np.exp(-E_lo / kT) - np.exp(-E_up / kT)) / U_HI
        # cm^-1 per unit profile (profile per Angstrom)
        amp = 10 ** ln["log_gf"] * n_HI * SIGMA_LINE * (lam_vac * 1e-8) ** 2 / C_CGS * 1e8 * levels
        if self_b:
            sig, alp = SELF_BROADENING[up]
            dlD = doppler_width(lam0, T, M_H, vt)  # Angstrom
            gam = abo_gamma(sig, alp, T, M_H) * n_HI
            a = gam * (lam0 * 1e-8) ** 2 / (4 * np.pi * C_CGS * dlD * 1e-8)
            v = (w[:, None] - lam0) / dlD[None, :]
            prof = voigt_hjerting(np.broadcast_to(a, v.shape), v) / (np.sqrt(np.pi) * dlD)[None, :]
        else:
            # bilinear weights in (log T, log ne) per depth; the table is (x, ne, T)
            ltab, ntab = ln["log10_T"], ln["log10_ne"]
            inside = (lg_ne >= ntab[0]) & (lg_ne <= ntab[-1])
            if not inside.any():
                continue
            fT = np.clip(np.interp(lg_T, ltab, np.arange(ltab.size)), 0, ltab.size - 1.000001)
            fN = np.clip(np.interp(lg_ne, ntab, np.arange(ntab.size)), 0, ntab.size - 1.000001)
            iT, iN = fT.astype(int), fN.astype(int)
            wT, wN = fT - iT, fN - iN
            P = ln["log10_profile"]
            logp = ((P[:, iN, iT] * (1 - wT) + P[:, iN, iT + 1] * wT) * (1 - wN)
                    + (P[:, iN + 1, iT] * (1 - wT) + P[:, iN + 1, iT + 1] * wT) * wN)  # (nx, nd)
            lx = ln["log10_x"]
            nu0 = C_AA / lam_vac
            # grid is in air: convert the detuning with the local refractive index (constant here)
            dnu = np.abs(C_AA / (w * lam_vac / lam0) - nu0)
            prof = np.zeros((w.size, nd))
            for d in np.where(inside)[0]:
                lgx = np.log10(np.maximum(dnu / F0[d], 1e-30))
                val = np.interp(lgx, lx[1:], logp[1:, d])
                beyond = lgx > lx[-1]
                val[beyond] = logp[-1, d] - 2.5 * (lgx[beyond] - lx[-1])
                # per Hz -> per Angstrom: |d nu / d lambda| = c / lambda^2
                prof[:, d] = 10 ** val * C_AA / lam_vac**2
        out[i0:i1] += prof * amp[None, :]
    return out
