"""Why SPECTRUM's OH response differs from the built-in engine's and SME's: molecular line damping.

The measure is the paper's OH band depth D = mean(1 − F/F_c) over the R = 200 pixels of 3050–3250 Å
(synthesis over 2900–3450 Å, degraded with :func:`glocal.degrade.degrade`), and its response
ΔD = D([O/Fe] = +0.8) − D([O/Fe] = −0.2) at fixed atmosphere (:func:`band_response`).

Isolating the OH lines (:func:`oh_lines`) and scaling their gf values down (``loggf_shift``) separates
the number of absorbers from the line shapes: in the weak-line limit D ∝ n(OH) · gf, so equal weak-line
responses mean equal OH chemistry, and a difference that grows with line strength lies in the damping
wings of saturated lines.

The damping conventions for molecular lines that the line list gives none (linemake lists none for OH):

* SPECTRUM v2.77 (``broad12.c``, "approximate broadening parameters for molecules"): γ₆ = 1e−7 n(H I),
  γ₄ = 1e−5 n_e and the classical radiative width, the same for every molecular line and temperature;
* SME (SMElib) and the built-in engine: Unsöld's (1955) hydrogenic estimate with the molecule's ionisation
  energy (OH 13.017 eV) — :func:`unsold_log_gamma6` — log γ₆/n_H ≈ −8.1 at 10⁴ K for the UV OH lines; the
  built-in engine's ``molecular_vdw`` default −8.2;
* Korg (Wheeler et al. 2023): no van der Waals or Stark damping for molecules without list data.

:func:`spectrum_equivalent_vdw` converts SPECTRUM's constant to the built-in engine's parametrisation
(log γ₆/n_H at 10⁴ K, scaled as T^0.3) at a given line-forming temperature.
"""
from __future__ import annotations

import numpy as np

from ..constants import K_BOLTZMANN, RYDBERG_EV

__all__ = ["OH_WINDOW", "SYNTHESIS_RANGE", "OH_IONISATION_EV", "SPECTRUM_MOLECULAR_GAMMA6", "oh_lines",
           "band_response", "unsold_log_gamma6", "spectrum_equivalent_vdw"]

#: Band-depth window (Å, air) and the synthesis range around it.
OH_WINDOW = (3050.0, 3250.0)
SYNTHESIS_RANGE = (2900.0, 3450.0)
#: Ionisation energy of OH (eV; NIST Chemistry WebBook), the value SMElib uses for its Unsöld estimate.
OH_IONISATION_EV = 13.017
#: SPECTRUM's γ₆ per H I atom for every molecular line (cm³ s⁻¹; ``broad12.c``).
SPECTRUM_MOLECULAR_GAMMA6 = 1.0e-7


def oh_lines(line_list):
    """The OH lines of ``line_list`` (species code 108.xxx)."""
    return line_list[np.floor(line_list.data["code"]) == 108]


def band_response(teff: float, logg: float, feh: float, *, engine: str = "builtin", options=None,
                  lines: str = "all", loggf_shift: float = 0.0, ofe=(-0.2, 0.8), R: float = 200.0) -> dict:
    """OH band depths D at each [O/Fe] in ``ofe`` and the response D(ofe[-1]) − D(ofe[0]).

    ``lines``: "all" (the shipped list) or "oh" (its OH lines only); ``loggf_shift`` (dex) is added to the
    gf values of the lines used.  Same atmosphere, microturbulence and lines for every [O/Fe]
    (:func:`glocal.synthesis.resolve_inputs`).  Returns ``{"depths": [...], "response": float}``.
    """
    from ..degrade import degrade
    from ..synthesis import resolve_inputs, synthesize
    from .convergence import r200_pixels
    if lines not in ("all", "oh"):
        raise ValueError(f"lines must be 'all' or 'oh', got {lines!r}")
    grid = r200_pixels(*SYNTHESIS_RANGE, R)
    atm, vt, ll, wr = resolve_inputs(teff, logg, feh, wave_range=SYNTHESIS_RANGE)
    if lines == "oh":
        ll = oh_lines(ll)
    if loggf_shift:
        ll = ll[np.arange(len(ll))]
        ll.data["loggf"] = ll.data["loggf"] + float(loggf_shift)
    sel = (grid >= OH_WINDOW[0]) & (grid <= OH_WINDOW[1])
    depths = []
    for value in ofe:
        s = synthesize(teff, logg, feh, abundances={"O": float(value)}, vturb=vt, wave_range=wr, engine=engine,
                       atmosphere=atm, line_list=ll, options=options)
        depths.append(float(1.0 - degrade(s.wave, s.normalized, R=R, grid=grid)[1][sel].mean()))
    return {"depths": depths, "response": depths[-1] - depths[0]}


def unsold_log_gamma6(wave_aa, elow_ev, ionisation_ev: float = OH_IONISATION_EV, temperature: float = 1.0e4):
    """Unsöld's (1955) van der Waals width per perturbing H atom, log10(γ₆/n_H) (cm³ s⁻¹) at ``temperature``.

    Gray (2005, Eqs 11.29–11.30): log γ₆ = 6.33 + 0.4 log Δr̄² + 0.3 log T + log k, with the hydrogenic
    Δr̄² = (5/2) R² (1/(I − E_up)² − 1/(I − E_low)²) (a₀², energies in eV, R the Rydberg energy) and
    E_up = E_low + hc/λ.  For molecules the ionisation energy of the molecule is used (as SMElib does).
    """
    e_low = np.asarray(elow_ev, float)
    e_up = e_low + 12398.419843320026 / np.asarray(wave_aa, float)
    dr2 = 2.5 * RYDBERG_EV**2 * (1.0 / (ionisation_ev - e_up) ** 2 - 1.0 / (ionisation_ev - e_low) ** 2)
    return 6.33 + 0.4 * np.log10(dr2) + 0.3 * np.log10(temperature) + np.log10(K_BOLTZMANN)


def spectrum_equivalent_vdw(temperature: float) -> float:
    """SPECTRUM's molecular γ₆ = 1e−7 n(H I) as the built-in engine's ``molecular_vdw`` (log γ₆/n_H at
    10⁴ K, scaled as (T/10⁴)^0.3) at the line-forming ``temperature`` (K): log 1e−7 − 0.3 log(T/10⁴)."""
    return float(np.log10(SPECTRUM_MOLECULAR_GAMMA6) - 0.3 * np.log10(float(temperature) / 1.0e4))
