"""Options of the built-in engine (:class:`BuiltinOptions`): what each one means, its unit, its default and
what it does to the accuracy.

The defaults are the converged setting: the R = 200 normalised spectra of all 16 paper variants of the
4500/2.0/-2.0 giant stay within 0.12 % (absolute; 0.22 % relative) per pixel of a 0.01 A run with
threshold 1e-5 over 2550-10000 A, those of the 5000/4.5/-2.0 dwarf within 0.05 % (0.10 %) in the UV
(``benchmarks/builtin_engine.py --sampling``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from glocal.atmospheres.overshoot import CORRECTIONS
from glocal.synthesis.contract import EngineOptions

from .continuum import BF_METALS, check_bf_metals

_TRANSFER_DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class BuiltinOptions(EngineOptions):
    """Options of ``glocal.synthesis.builtin.run`` (frozen; ``BuiltinOptions.from_mapping`` rejects unknown
    names). Values are checked on construction (ValueError/TypeError).

    Sampling and line selection
    ---------------------------
    resolution : lambda / d lambda of the internal constant-R grid (ignored when ``run`` gets ``wave=``), or
        "auto" (``grids.auto_resolution``: 1.15 Fe I Doppler widths per step; 124 000 for the 4500/2.0/-2.0
        giant, 163 000 for the 5000/4.5/-2.0 dwarf). Default 125 000. The R = 200 spectrum of the giant's
        crowded UV converges only once the Doppler cores are resolved: R = 1e5 leaves up to 0.2 % (0.37 %
        relative), 125 000 0.12 %; the dwarf is within 0.06 % at 125 000.
    continuum_resolution : R of the coarse grid of the continuous opacity (every edge is bracketed
        explicitly, ``continuum.continuum_grid``). Default 1500; doubling it moves F/F_c by < 1e-5 (tests).
    threshold : lines are kept, and their windows extended, where alpha_line / alpha_cont >= threshold
        (dimensionless). Default 3e-5; 1e-4 adds up to ~0.05 % at R = 200 in the UV of the 4500 K giant.
    weak_ratio : lines whose centre-to-continuum ratio stays below it are deposited with their integrated
        opacity on the two grid points around the centre (``deposit``). Default 0.1: changes R = 200
        spectra by < 1e-4. Such lines are two-point spikes at the grid's own resolution: use 0 for
        line-profile work at full resolution.
    core_doppler : strong lines get their Voigt profile within this many Doppler widths of the centre and
        the two-term Lorentz-wing expansion beyond (None: Voigt over the whole window). Default 6: changes
        R = 200 spectra by ~1e-5.
    max_window : cap (A) on a line's half-window. Default 300; Mg II h&k and Ca II H&K reach tens of A.
    molecular_vdw : log10 of gamma_6 / n_H (cm^3 s^-1, at 10^4 K, scaled as T^0.3) for molecular lines whose
        list entry has no damping (linemake hydrides/CN/C2). Default -8.2, a typical hydride value that
        reproduces SME's treatment: OH A-X (3090-3130 A, 5000 K dwarf, [Fe/H] = -2) absorption and its
        response to +0.4 dex O agree with SME to ~2 % (None, radiative damping only, gives a 26 % weaker
        response). Atoms without data use Unsoeld (``profiles``) times ``unsold_enhancement``.
    unsold_enhancement : factor on the Unsoeld gamma_6 of atomic lines whose list entry has no van der Waals
        value (79 070 of the 83 650 atomic lines of the built-in list). Default 1 (plain Unsoeld, the
        shipped grids). Unsoeld is known to underestimate the width: over the 1239 atomic lines of the
        GALAH DR3 list (Buder et al. 2021) that carry Anstee-Barklem-O'Mara cross-sections, the median
        ratio ABO / Unsoeld at 5000-6000 K is 1.38 for neutrals, 1.28 for ions, 1.35 over both, and 1.34 for Ca II H&K
        (sigma.alpha 234.223, Barklem & O'Mara 1998) (``glocal.validation.vdw_damping``). Recorded in
        ``as_dict`` only when it differs from 1.
    structure_correction : None (default: the atmosphere as given) or "nover-solar": synthesise on the
        atmosphere with the approximate overshooting of the Kurucz (1993) grid removed by the solar-differential
        temperature correction of :mod:`glocal.atmospheres.overshoot` (Eq. O1; needs the model's ``abross``).
        Recorded in ``as_dict`` only when set.

    Sharing across variants
    -----------------------
    class_tol : variants whose n_e agree within this (relative, every layer) form one n_e class and share the
        ionisation balance, the class-shared line opacity and the hydrogen lines. Default 3e-3.
    ratio_tol : a species is class-shared when its density ratio n / n_max agrees with its class
        representative's within this (absolute). Default 3e-3.
    mask_tol : a variant gets its class representative's flux plus the exact linear response to its opacity
        difference (``variants``, Eq. V1) where that difference moves tau by less than ``mask_tol``
        (relative), an exact formal solution elsewhere. Default 1e-2: < 2e-4 at R = 200. Together the
        three defaults change F/F_c by < 2e-3 per pixel at full resolution and ~1e-4 at R = 200; 0 for
        all three gives every variant its own exact solution.

    Radiative transfer
    ------------------
    n_mu : angle quadrature of the flux integral: "exp7" (default, ``transfer.EXP7_POWERS``: one exponential
        per point, flux within 7e-5 of an exact angle integral) or a number of Gauss-Legendre angles
        (4: 3.4e-4).
    tau_integration : "reference" (default: kappa / kappa_cont linear in ln tau_cont between depth points,
        ``transfer.reference_weights``, Eq. T0'), or "log" / "trapezoid" (``transfer.optical_depth``; these
        also give every variant its own formal solution, for validation). "reference" agrees with "log"
        (converged in depth to 4e-5) to 5e-5 at R = 200; the trapezoid rule in column mass is 0.19 % off
        in the UV of the 4500 K giant.
    transfer_dtype : "float32" (default) or "float64": precision of the opacities in the formal solution
        (the solution itself is accumulated in float64); the flux differs by < 1e-6 relative.
    depth_points : None (default: the model's layers) or resample the model to this many depths (>= 8,
        equal steps in log tau_Ross); 48 points move R = 200 spectra by ~0.08 %, 36 by ~0.1-0.2 %.

    Physics switches
    ----------------
    electron_density : "solve" (default: charge conservation with each variant's abundances) or
        "atmosphere" (keep the model's n_e).
    hydrogen_lines : add the Balmer/Paschen lines of ``hydrogen`` (H I lines of the list are skipped).
        Default True.
    hydrogen_dissolution : level dissolution near the series limits (Hummer-Mihalas occupation
        probabilities on the lines plus the dissolved-level bound-free opacity, carried with the lines so
        that F_c keeps its sharp edge). Default False, as in SME; on, the R = 200 pixel just redward of the
        Balmer limit moves from 7-9 % above SME to within 3 % (6500/4.0/-1.8, 8000/4.5/-1.0).
    hydrogen_profiles : "physical" (default, ``hydrogen.physical_profile``) or a callable with its interface
        ``(line: hydrogen.HydrogenLine, dl (nw,) A, layers: hydrogen.HydrogenLayers) -> (nw, nd)`` profile per
        A, e.g. ``glocal.validation.smelib_hydrogen.SMELIB_HYDROGEN`` (SMElib's profiles, validation only).
    bound_free_metals : neutral metals whose photoionisation is included (default all of
        ``continuum.BF_METALS``: C, Mg, Al, Si, Ca, Fe); e.g. without "Ca" to match SMElib, which has no
        Ca I bound-free opacity.
    """
    resolution: float | str = 125000.0
    continuum_resolution: float = 1500.0
    threshold: float = 3e-5
    weak_ratio: float = 0.1
    core_doppler: float | None = 6.0
    max_window: float = 300.0
    molecular_vdw: float | None = -8.2
    class_tol: float = 3e-3
    ratio_tol: float = 3e-3
    mask_tol: float = 1e-2
    n_mu: int | str = "exp7"
    tau_integration: str = "reference"
    transfer_dtype: str = "float32"
    depth_points: int | None = None
    electron_density: str = "solve"
    hydrogen_lines: bool = True
    hydrogen_dissolution: bool = False
    hydrogen_profiles: str | Callable[..., Any] = "physical"
    bound_free_metals: tuple = BF_METALS
    unsold_enhancement: float = 1.0
    structure_correction: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "unsold_enhancement", float(self.unsold_enhancement))
        if isinstance(self.resolution, str):
            if self.resolution != "auto":
                raise ValueError(f"resolution must be a number or 'auto', got {self.resolution!r}")
        elif not (np.isfinite(self.resolution) and self.resolution > 0):
            raise ValueError(f"resolution must be positive, got {self.resolution}")
        for name in ("continuum_resolution", "max_window", "unsold_enhancement"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("threshold", "weak_ratio", "class_tol", "ratio_tol", "mask_tol"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        _one_of(self, "tau_integration", ("reference", "log", "trapezoid"))
        _one_of(self, "electron_density", ("solve", "atmosphere"))
        _one_of(self, "structure_correction", (None, *CORRECTIONS))
        dtype = np.dtype(self.transfer_dtype).name
        if dtype not in _TRANSFER_DTYPES:
            raise ValueError(f"transfer_dtype must be one of {_TRANSFER_DTYPES}, got {self.transfer_dtype!r}")
        object.__setattr__(self, "transfer_dtype", dtype)
        if self.depth_points is not None and int(self.depth_points) < 8:
            raise ValueError(f"depth_points must be >= 8, got {self.depth_points}")
        if self.hydrogen_profiles != "physical" and not callable(self.hydrogen_profiles):
            raise ValueError("hydrogen_profiles must be 'physical' or a callable (line, dl, layers) -> profile, "
                             f"got {self.hydrogen_profiles!r}")
        object.__setattr__(self, "bound_free_metals", check_bf_metals(self.bound_free_metals))

    def as_dict(self) -> dict[str, Any]:
        """The options as a plain dict; ``unsold_enhancement`` only when it is not 1, ``structure_correction``
        only when set (so that the provenance of grids built before these options stays comparable)."""
        out = super().as_dict()
        if out["unsold_enhancement"] == 1.0:
            del out["unsold_enhancement"]
        if out["structure_correction"] is None:
            del out["structure_correction"]
        return out


def _one_of(opts, name, allowed):
    if getattr(opts, name) not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {getattr(opts, name)!r}")
