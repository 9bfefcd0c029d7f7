"""The OH-response difference between SPECTRUM and the built-in engine, isolated (issue 27).

For each model: the OH band depth and its response to [O/Fe] −0.2 → +0.8 (glocal.validation.oh_damping)
from SPECTRUM (the paper's code, built from ../shared/vendor) and from the built-in engine with several
molecular damping conventions, on the whole line list and on its OH lines alone (at their gf and with gf
scaled by 10⁻¹ and 10⁻²: the weak-line limit measures the OH chemistry, the full strength the line shapes).
SPECTRUM's side takes minutes, so the result is a committed record that the engine chapter reads:

    GLOCAL_SPECTRUM_BIN=/path/to/spectrum python scripts/oh_damping.py [--out results/validation/oh_damping.json]

Without GLOCAL_SPECTRUM_BIN the SPECTRUM source in ../shared/vendor is compiled into a temporary folder.
Resumable: finished models are kept in the output, which is rewritten atomically after each one.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: (Teff, log g, [Fe/H]): the issue's 4500/3/−1 and 6000/3/−1, a cooler giant and a metal-poor giant.
MODELS = [(4500.0, 3.0, -1.0), (6000.0, 3.0, -1.0), (3750.0, 3.0, -1.0), (5000.0, 2.0, -2.0)]
#: Line sets: (lines, loggf_shift).
LINE_SETS = [("all", 0.0), ("oh", 0.0), ("oh", -1.0), ("oh", -2.0)]


def _spectrum_binary() -> str:
    from glocal.synthesis.spectrum import binary_or_build
    try:
        return str(binary_or_build(ROOT.parent / "shared" / "vendor" / "spectrum-2.77c"))
    except FileNotFoundError as err:
        sys.exit(str(err))


def _line_forming_temperature(teff, logg, feh, tau=1e-2) -> float:
    from glocal.synthesis import resolve_inputs
    from glocal.validation.oh_damping import SYNTHESIS_RANGE
    atm = resolve_inputs(teff, logg, feh, wave_range=SYNTHESIS_RANGE)[0]
    return float(np.interp(np.log10(tau), np.log10(atm.tau_ross), atm.T))


def measure_model(teff, logg, feh) -> dict:
    """Every engine / convention / line set for one model."""
    from glocal.synthesis.builtin.options import BuiltinOptions
    from glocal.validation.oh_damping import band_response, spectrum_equivalent_vdw
    t_form = _line_forming_temperature(teff, logg, feh)
    conventions = {"radiative_only": None, "unsold_default": -8.2, "unsold_x2.5": -8.2 + np.log10(2.5),
                   "spectrum_equivalent": spectrum_equivalent_vdw(t_form)}
    rows = []
    for lines, shift in LINE_SETS:
        r = band_response(teff, logg, feh, engine="spectrum", lines=lines, loggf_shift=shift)
        rows.append(dict(engine="spectrum", convention="spectrum", molecular_vdw=None, lines=lines,
                         loggf_shift=shift, **r))
        for name, vdw in conventions.items():
            r = band_response(teff, logg, feh, engine="builtin", options=BuiltinOptions(molecular_vdw=vdw),
                              lines=lines, loggf_shift=shift)
            rows.append(dict(engine="builtin", convention=name, molecular_vdw=vdw, lines=lines, loggf_shift=shift,
                             **r))
        print(f"  {teff:.0f}/{logg}/{feh} {lines}{shift:+.0f}: SPECTRUM {rows[-5]['response']:.4f}, built-in "
              + ", ".join(f"{x['convention']} {x['response']:.4f}" for x in rows[-4:]), flush=True)
    return {"teff": teff, "logg": logg, "feh": feh, "t_line_forming": t_form, "rows": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "results" / "validation" / "oh_damping.json"))
    args = ap.parse_args(argv)
    from glocal._io import read_json, write_json
    os.environ["GLOCAL_SPECTRUM_BIN"] = _spectrum_binary()
    out = Path(args.out)
    record = read_json(out) if out.exists() else {"models": []}
    done = {(m["teff"], m["logg"], m["feh"]) for m in record["models"]}
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    for model in MODELS:
        if tuple(model) in done:
            print(f"{model}: done, skipped")
            continue
        print(f"{model}:", flush=True)
        record["models"].append(measure_model(*model))
        record.update(script="scripts/oh_damping.py", git_commit=commit,
                      date_utc=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                      window=[3050.0, 3250.0], ofe=[-0.2, 0.8], R=200.0,
                      spectrum="SPECTRUM v2.77c (Gray & Corbally 1994), switches nita, 0.02 A")
        write_json(out, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
