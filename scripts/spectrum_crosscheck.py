"""Full-range (2550–10000 Å) three-way cross-check: built-in engine, SME and SPECTRUM (issue 27).

For models of ``scripts/validate_builtin.py`` whose SME side is cached in
``results/validation/builtin_vs_sme/sme/``, SPECTRUM v2.77 (the paper's code, built from ../shared/vendor or
``GLOCAL_SPECTRUM_BIN``) synthesises, on the same atmosphere, abundances (Eqs 1–3), microturbulence (Eqs 4–7)
and shipped line list, the base over the whole range (0.02 Å, switches nita) and the +0.4 dex O and Mg
variants in the response windows (``glocal.validation.builtin_vs_sme.WINDOWS``, padded by WINDOW_PAD Å).
All three are degraded to R = 200 alike (``degrade(..., weighting="trapezoid")``) and saved in the layout of
the SME cache, ``results/validation/spectrum_full/<model>.npz`` (``wave_r200``, ``spectrum_r200`` (3, n)),
which the engine chapter reads with the built-in and SME spectra of ``results/validation/builtin_vs_sme/``.
SPECTRUM needs minutes per model here, so CI never reruns it. Resumable: finished models are skipped; files
are written under a temporary name and renamed.

    python scripts/spectrum_crosscheck.py [--models N]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Models of validate_builtin.MODELS spanning the grid: cool giants and dwarfs, [Fe/H] −1 to −3 (the last, a
#: 3500 K giant with ~1 M TiO lines, takes SPECTRUM over an hour here).
MODELS = [(4500, 1.5, -2.0), (5000, 3.5, -1.0), (4000, 4.5, -1.4), (5200, 2.5, -1.4), (4000, 1.0, -2.0),
          (5800, 4.5, -2.2), (6500, 4.0, -1.8), (6000, 4.0, -3.0), (3500, 0.5, -1.0)]
DELTA = 0.4
OUT = ROOT / "results" / "validation" / "spectrum_full"


def _name(m) -> str:
    return f"{m[0]:.0f}_{m[1]:+.2f}_{m[2]:+.2f}"


def _binary() -> str:
    from glocal.synthesis.spectrum import binary_or_build
    try:
        return str(binary_or_build(ROOT.parent / "shared" / "vendor" / "spectrum-2.77c"))
    except FileNotFoundError as err:
        sys.exit(str(err))


def one_model(m, wave_range=(2550.0, 10000.0)) -> dict:
    """SPECTRUM's R = 200 base and window variants for model ``m`` on the SME cache's grid."""
    from glocal.abundances import abundance_pattern
    from glocal.atmospheres import grid_atmosphere
    from glocal.grid import microturbulence
    from glocal.linelists import builtin_linelist
    from glocal.validation.builtin_vs_sme import WINDOW_PAD, WINDOWS, _r200, _run, _variants
    teff, logg, feh = m
    with np.load(ROOT / "results" / "validation" / "builtin_vs_sme" / "sme" / f"{_name(m)}.npz") as z:
        wl = np.asarray(z["wave_r200"], float)
    atm = grid_atmosphere(teff, logg, feh)
    A, vt = abundance_pattern(feh, {}), float(microturbulence(teff, logg, feh))
    lines = builtin_linelist(tuple(wave_range))
    var = _variants(atm, A, DELTA)
    lo, hi = wave_range
    t = time.perf_counter()
    r = _run("spectrum", atm, var[:1], lines, wave_range, vt)
    out = np.repeat(_r200(r.wave, r.normalized, lo, hi, 200.0, grid=wl)[1].reshape(1, -1), 3, axis=0)
    t_base = time.perf_counter() - t
    for a, b in sorted(w for ws in WINDOWS.values() for w in ws):
        pix = (wl >= a) & (wl <= b)
        if not pix.any():
            continue
        rw = _run("spectrum", atm, var[1:], lines, (max(lo, a - WINDOW_PAD), min(hi, b + WINDOW_PAD)), vt)
        out[1:, pix] = _r200(rw.wave, rw.normalized, lo, hi, 200.0, grid=wl[pix])[1]
    return {"wave_r200": wl, "spectrum_r200": out, "time_base_s": t_base, "time_s": time.perf_counter() - t,
            "delta": DELTA}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=len(MODELS), help="first N models only")
    a = ap.parse_args(argv)
    import warnings
    warnings.filterwarnings("ignore")
    os.environ["GLOCAL_SPECTRUM_BIN"] = _binary()
    OUT.mkdir(parents=True, exist_ok=True)
    for m in MODELS[:a.models]:
        path = OUT / f"{_name(m)}.npz"
        if path.exists():
            print(f"{m}: done, skipped", flush=True)
            continue
        res = one_model(m)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez_compressed(tmp, **res)
        os.replace(tmp, path)
        print(f"{m}: {res['time_s']:.0f} s (base {res['time_base_s']:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
