"""Full-range validation of the built-in engine against SME on 20 models spread over the paper grid.

Both engines synthesise, on the same interpolated Kurucz atmosphere, shipped line list, abundances
(Eqs 1-3) and microturbulence (Eqs 4-7), the base abundances and +``delta`` dex of O and of Mg over
2550-10000 A: the built-in engine at its converged default (R_int = 100 000, line threshold 1e-4), SME
on its own converged grid (2 km/s). ``glocal.validation.builtin_vs_sme.compare_with_sme`` degrades
both to R = 200 and measures rms/max differences, the continuum and the O/Mg responses.

SME needs ~0.5-1 CPU-min per full-range spectrum here, so this is not part of the book build: it writes
``results/validation/builtin_vs_sme.json`` (table + provenance) and one ``.npz`` of R = 200 spectra per
model, which the engine chapter (03) reads. SME's side of each model (its R = 200 spectra -- the +delta
variants synthesised in the response windows only -- and a line-free continuum on a 1 A grid) is cached
in ``results/validation/builtin_vs_sme/sme/``, so ``--rerun-builtin``
re-validates a changed built-in engine in minutes. Resumable: finished models are skipped; every file is
written under a temporary name and renamed.

    python scripts/validate_builtin.py [--workers 2] [--out results/validation]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: (Teff, log g, [Fe/H]): the corners the issue names (3500 K giant and dwarf, 8000 K, [Fe/H] -4 and -1)
#: and points spread between them.
MODELS = [(3500, 0.5, -1.0), (3500, 5.0, -1.0), (8000, 2.0, -4.0), (8000, 4.5, -1.0), (4500, 1.5, -2.0),
          (5000, 4.5, -2.0), (6000, 4.0, -3.0), (5500, 3.0, -4.0), (4000, 4.5, -1.4), (7000, 3.5, -2.6),
          (4800, 2.5, -3.4), (6500, 4.0, -1.8), (4000, 1.0, -2.0), (4200, 4.0, -3.0), (5200, 2.5, -1.4),
          (5800, 4.5, -2.2), (6200, 3.5, -3.6), (7500, 4.0, -2.4), (4600, 0.5, -3.8), (5000, 3.5, -1.0)]
DELTA = 0.4
#: keys that mark an SME cache made with the current reference protocol (see the module docstring):
#: gas density from SMElib's EOS, and +delta variants whose window runs saw every line within
#: ``glocal.constants.WING_MARGIN`` (caches without it keep their base and get their windows redone)
REFERENCE_KEY = "variants_in_windows"
WINDOW_KEY = "window_margin"


def _name(m) -> str:
    return f"{m[0]:.0f}_{m[1]:+.2f}_{m[2]:+.2f}"


def _save(path: Path, **arrays) -> None:
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def _fresh_reference(path: Path) -> bool:
    if not path.exists():
        return False
    with np.load(path, allow_pickle=False) as z:
        return REFERENCE_KEY in z.files and WINDOW_KEY in z.files


def one_model(m, out: Path, wave_range=(2550.0, 10000.0)) -> dict:
    """Compare one model; SME's side is cached in ``out/sme/`` so that only the built-in side is
    recomputed when the engine changes (delete the cache file to re-run SME)."""
    import warnings
    warnings.filterwarnings("ignore")
    from glocal.abundances import abundance_pattern
    from glocal.atmospheres import grid_atmosphere
    from glocal.constants import WING_MARGIN
    from glocal.grid import microturbulence
    from glocal.linelists import builtin_linelist
    from glocal.validation.builtin_vs_sme import compare_builtin, sme_reference, sme_window_variants
    teff, logg, feh = m
    atm = grid_atmosphere(teff, logg, feh)
    A, vt = abundance_pattern(feh, {}), float(microturbulence(teff, logg, feh))
    lines = builtin_linelist(tuple(wave_range))
    ref_path = out / "sme" / f"{_name(m)}.npz"
    ref_path.parent.mkdir(exist_ok=True)
    ref = None
    if ref_path.exists():
        with np.load(ref_path, allow_pickle=False) as z:
            if REFERENCE_KEY in z.files:  # older caches predate the SME density fix: redo them
                ref = {k: z[k] for k in z.files}
    if ref is not None and WINDOW_KEY not in ref:
        # the window runs of the +delta variants missed far wings of lines outside the windows (the SME
        # engine handed SMElib lines within ~6 A only): redo them on the cached base
        t = time.perf_counter()
        ref["sme_r200"] = sme_window_variants(atm, A, vt, lines, ref["wave_r200"], ref["sme_r200"][0],
                                              tuple(wave_range), DELTA)
        ref.update(time_windows_s=time.perf_counter() - t, window_margin=WING_MARGIN)
        _save(ref_path, **ref)
    if ref is None:
        ref = sme_reference(atm, A, vt, lines, tuple(wave_range), step=None, delta=DELTA)
        _save(ref_path, **ref)
    row = compare_builtin(atm, A, vt, lines, ref, tuple(wave_range), delta=DELTA, return_spectra=True)
    arrays = {k: np.asarray(row.pop(k), np.float32) for k in ("wave_r200", "builtin_r200", "sme_r200")}
    row.update(teff=teff, logg=logg, feh=feh)
    _save(out / f"{_name(m)}.npz", **arrays, row=json.dumps(row))
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "results" / "validation"))
    ap.add_argument("--models", type=int, default=len(MODELS), help="first N models only (smoke tests)")
    ap.add_argument("--wave-range", type=float, nargs=2, default=(2550.0, 10000.0))
    ap.add_argument("--rerun-builtin", action="store_true",
                    help="recompute only the built-in side, where SME's side is cached and newer (delete "
                         "results/validation/builtin_vs_sme/*.npz to redo all)")
    ap.add_argument("--summary-only", action="store_true", help="only rewrite the summary from finished models")
    a = ap.parse_args(argv)
    from glocal.atmospheres import in_coverage
    from glocal.build import WORKER_ENVIRON
    from glocal.synthesis.sme import engine_version
    from glocal.validation.builtin_vs_sme import MIN_RESPONSE
    for k, v in WORKER_ENVIRON.items():
        os.environ.setdefault(k, str(v))
    out = Path(a.out)
    parts = out / "builtin_vs_sme"
    parts.mkdir(parents=True, exist_ok=True)
    models = MODELS[:a.models]
    covered = [m for m in models if bool(in_coverage(*m))]
    skipped = [m for m in models if m not in covered]
    if a.rerun_builtin:  # the built-in side of every model whose SME side is cached and newer than it
        todo = [m for m in covered if _fresh_reference(parts / "sme" / f"{_name(m)}.npz") and (
            not (parts / f"{_name(m)}.npz").exists()
            or (parts / f"{_name(m)}.npz").stat().st_mtime < (parts / "sme" / f"{_name(m)}.npz").stat().st_mtime)]
    elif a.summary_only:
        todo = []
    else:
        todo = [m for m in covered if not (parts / f"{_name(m)}.npz").exists()
                or not _fresh_reference(parts / "sme" / f"{_name(m)}.npz")]
    print(f"{len(covered)} models covered ({len(skipped)} outside the atmosphere grid: {skipped}); "
          f"{len(todo)} to run", flush=True)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=a.workers) as pool:
        futs = {pool.submit(one_model, m, parts, a.wave_range): m for m in todo}
        for f in as_completed(futs):
            r = f.result()
            print(f"{_name(futs[f])}: rms {100 * r['rms']:.2f} %, max {100 * r['max']:.2f} % at "
                  f"{r['wave_of_max']:.0f} A, continuum {100 * r['continuum_max_rel']:.1f} %, responses OH "
                  f"{r['response_ratio_OH']:.3f} Mg {r['response_ratio_Mg']:.3f}  "
                  f"(built-in {r['time_builtin_s']:.0f} s, SME {r['time_sme_s']:.0f} s)", flush=True)
    rows, missing = [], []
    for m in covered:
        if not (parts / f"{_name(m)}.npz").exists() or not _fresh_reference(parts / "sme" / f"{_name(m)}.npz"):
            missing.append(m)
            continue
        with np.load(parts / f"{_name(m)}.npz", allow_pickle=False) as z:
            rows.append(json.loads(str(z["row"])))
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    summary = {"rows": rows, "skipped_outside_coverage": skipped, "not_run_yet": missing, "delta_dex": DELTA,
               "settings": {"builtin": "engine defaults",
                            "sme": "glocal.synthesis.sme defaults (step 2 km/s; gas density from SMElib's EOS); "
                                   "+delta variants synthesised in the response windows only",
                            "min_response": MIN_RESPONSE, "R": 200,
                            "wave_range": list(a.wave_range)},
               "sme_version": engine_version(), "glocal_commit": commit,
               "created_utc": dt.datetime.now(dt.UTC).isoformat(),
               "wall_seconds_this_run": time.perf_counter() - t0}
    tmp = out / "builtin_vs_sme.json.tmp"
    tmp.write_text(json.dumps(summary, indent=1))
    os.replace(tmp, out / "builtin_vs_sme.json")
    rms = np.array([r["rms"] for r in rows])
    mx = np.array([r["max"] for r in rows])
    print(f"{len(rows)} models: rms median {100 * np.median(rms):.2f} % (max {100 * rms.max():.2f} %), "
          f"max |diff| median {100 * np.median(mx):.2f} % (worst {100 * mx.max():.2f} %)")
    if rows and all("max_smelib_physics" in r for r in rows):
        me = np.array([r["max_smelib_physics"] for r in rows])
        re_ = np.array([r["rms_smelib_physics"] for r in rows])
        print(f"  with SMElib's hydrogen profiles and bound-free set: rms <= 1 % {(re_ <= 0.01).sum()}/{len(rows)} "
              f"(worst {100 * re_.max():.2f} %), max <= 3 % {(me <= 0.03).sum()}/{len(rows)} "
              f"(median {100 * np.median(me):.2f} %, worst {100 * me.max():.2f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
