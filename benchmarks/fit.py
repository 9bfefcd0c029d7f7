"""Validation and timing of ``glocal fit`` (glocal.fitting with the shipped emulator).

(a) emulator spectra + Gaussian noise (S/N per pixel): label recovery and pull widths std((fit − true)/σ)
    (model_error off: the emulator is the truth here, so σ should be exact; no telluric mask: space data);
(b) held-out grid spectra (the builtin engine's true synthetic spectra of the emulator's test atmospheres,
    not emulator output), S/N 50: MAE per label, full band and optical band; calibrated input built as
    F = F/F_c · F_c · exp(random quadratic in ln λ) to mimic an unknown scale and calibration;
(c) the real development spectra (../shared/data/real_spectra): free labels and Teff/log g/[Fe/H] held at
    literature.csv, full band vs optical (4000–10000 Å); [Mg/Fe] against the literature; time per star.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fit.py --grid /root/glocal-grids/realstars-r40000.h5 \\
        --real ../shared/data/real_spectra --json results/benchmarks/fit.json --md results/benchmarks/fit.md
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
from glocal.emulator import LABELS, load_emulator  # noqa: E402
from glocal.fitting import fit_spectrum  # noqa: E402


def _stats(fits, truth, key):
    est = np.array([[f.labels[k] for k in LABELS] for f in fits])
    std = np.array([[f.std[k] for k in LABELS] for f in fits])
    err = est - truth
    out = {}
    for i, k in enumerate(LABELS):
        pull = err[:, i] / std[:, i]
        pull = pull[np.isfinite(pull)]
        out[k] = {"mae": float(np.mean(np.abs(err[:, i]))), "bias": float(np.mean(err[:, i])),
                  "median_std": float(np.median(std[:, i])),
                  "pull_std": float(np.std(pull)) if pull.size else None,
                  "pull_iqr_std": float(np.subtract(*np.percentile(pull, [75, 25])) / 1.349) if pull.size else None}
    out["seconds_per_fit_median"] = float(np.median([f.seconds for f in fits]))
    return {key: out}


def emulator_recovery(emu, n, snr, seed):
    rng = np.random.default_rng(seed)
    nodes = emu.nodes[rng.integers(0, emu.nodes.shape[0], n)]
    truth = np.column_stack([nodes, rng.uniform(-0.2, 1.2, (n, 2))])
    out = {}
    for kind in ("normalized", "calibrated"):
        fits = []
        for t in truth:
            lnf, lnc = emu.predict(t)
            f = np.exp(lnf) if kind == "normalized" else np.exp(lnf + lnc + 0.1 * np.log(emu.wave / 5000.0) ** 2)
            sig = f / snr
            fits.append(fit_spectrum((emu.wave, f + rng.normal(size=f.size) * sig, sig, None, kind),
                                     emulator=emu, model_error=False, telluric=False))
        out.update(_stats(fits, truth, kind))
    return out


def grid_recovery(emu, grid_path, n, snr, seed):
    from glocal.dataset import load_dataset
    ds = load_dataset(grid_path)
    test_ids = np.array(emu.meta["split"]["test_model_ids"])
    rows = np.flatnonzero(np.isin(np.asarray(ds.labels["model_id"]), test_ids))
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(rows, size=min(n, rows.size), replace=False))
    truth = np.column_stack([np.asarray(ds.labels[k])[rows] for k in LABELS])
    out = {}
    for kind in ("normalized", "calibrated"):
        for band in ("full", "optical"):
            fits = []
            for r in rows:
                f = np.asarray(ds.flux[r], dtype=np.float64)
                if kind == "calibrated":
                    x = np.log(ds.wave / 5000.0)
                    cal = np.exp(rng.normal(0, 0.2, 3) @ [np.ones_like(x), x, x ** 2])
                    f = f * np.asarray(ds.continuum[r], dtype=np.float64) * cal
                sig = f / snr
                fits.append(fit_spectrum((ds.wave, f + rng.normal(size=f.size) * sig, sig, None, kind),
                                         emulator=emu, band=band, telluric=False))
            out.update(_stats(fits, truth, f"{kind}_{band}"))
    return out


def _literature(real: Path) -> list[dict]:
    with open(real / "literature.csv") as f:
        return list(csv.DictReader(f))


def _num(v):
    return float(v) if v not in ("", None) else np.nan


def real_stars(emu, real: Path):
    """Fits of the development spectra (free; Teff/log g/[Fe/H] held at literature) × (full, optical)."""
    from glocal.observed import prepare, read_spectra
    rows, times = [], []
    for lit in _literature(real):
        t0 = time.perf_counter()
        spec = read_spectra(real / lit["file"])[0]
        prep = prepare(spec, band="full", target_R=200)
        t_prep = time.perf_counter() - t0
        held = {k: _num(lit[k]) for k in ("teff", "logg", "feh")}
        for mode in ("free", "held"):
            if mode == "held" and not np.isfinite(held["teff"]):
                continue
            for band in ("full", "optical"):
                res = fit_spectrum(prep, fixed=held if mode == "held" else None, band=band, emulator=emu)
                times.append(t_prep + res.seconds)
                row = {"star": lit["star"], "kind": prep.flux_kind, "mode": mode, "band": band,
                       "n_pixels": res.n_pixels, "chi2_red": res.chi2_red, "flags": ";".join(res.flags),
                       "seconds": round(t_prep + res.seconds, 3)}
                for k in LABELS:
                    row[k], row[k + "_std"], row[k + "_lit"] = res.labels[k], res.std[k], _num(lit.get(k, ""))
                row["sed_teff"] = _num(lit.get("sed_teff", ""))
                rows.append(row)
    return rows, float(np.median(times))


def _mae(rows, mode, band, key, kind=None):
    d = [abs(r[key] - r[key + "_lit"]) for r in rows if r["mode"] == mode and r["band"] == band
         and np.isfinite(r[key + "_lit"]) and (kind is None or r["kind"] == kind)]
    return (float(np.mean(d)), len(d)) if d else (None, 0)


def real_summary(rows):
    out = {}
    for band in ("full", "optical"):
        d = [abs(r["teff"] - r["sed_teff"]) for r in rows if r["mode"] == "free" and r["band"] == band
             and np.isfinite(r["sed_teff"])]
        out[f"free_{band}_teff_vs_calspec_sed"] = {"teff": (float(np.mean(d)), len(d)) if d else (None, 0)}
    for mode in ("free", "held"):
        for band in ("full", "optical"):
            for kind in (None, "calibrated"):
                tag = f"{mode}_{band}" + ("_stis" if kind else "_all")
                out[tag] = {k: _mae(rows, mode, band, k, kind) for k in LABELS
                            if not (mode == "held" and k in ("teff", "logg", "feh"))}
    return out


def markdown(res) -> str:
    lines = ["# glocal fit: validation and timing", "", f"Command: `{res['command']}`", "",
             f"Machine: {res['machine']}; {res['date_utc']}; emulator {res['emulator_sha']}.", ""]
    for sec in ("emulator_recovery", "grid_recovery"):
        if sec not in res:
            continue
        lines += [f"## {sec} (S/N {res['snr']})", "",
                  "| case | label | MAE | bias | median σ | pull std | pull IQR/1.349 |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for case, st in res[sec].items():
            for k in LABELS:
                s = st[k]
                lines.append(f"| {case} | {k} | {s['mae']:.3f} | {s['bias']:+.3f} | {s['median_std']:.3f} | "
                             f"{s['pull_std']:.2f} | {s['pull_iqr_std']:.2f} |")
        lines.append("")
    if "real" in res:
        lines += ["## Real development spectra", "",
                  "| star | kind | mode | band | Teff | log g | [Fe/H] | [O/Fe] | [Mg/Fe] ± σ | [Mg/Fe] lit "
                  "| χ²_red | flags |",
                  "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for r in res["real"]:
            lines.append(f"| {r['star']} | {r['kind']} | {r['mode']} | {r['band']} | {r['teff']:.0f} | "
                         f"{r['logg']:.2f} | {r['feh']:.2f} | {r['ofe']:.2f} | {r['mgfe']:.2f} ± {r['mgfe_std']:.2f} | "
                         f"{r['mgfe_lit']:.2f} | {r['chi2_red']:.1f} | {r['flags']} |")
        lines += ["", "MAE against literature.csv (value, number of stars):", ""]
        for tag, d in res["real_mae"].items():
            lines.append(f"- {tag}: " + ", ".join(f"{k} {v[0]:.3f} ({v[1]})" for k, v in d.items() if v[0] is not None))
        lines += ["", f"Median time per real star (read + prepare + fit): {res['real_seconds_per_star']:.2f} s", ""]
    return "\n".join(lines)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _no_nan(obj):
    if isinstance(obj, dict):
        return {k: _no_nan(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_no_nan(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grid", type=Path, default=None)
    p.add_argument("--real", type=Path, default=None)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--snr", type=float, default=50.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--md", type=Path, default=None)
    args = p.parse_args(argv)
    from glocal._io import sha256_file
    from glocal.emulator import DEFAULT_DIR
    emu = load_emulator()
    res = {"command": "python benchmarks/fit.py " + " ".join(os.sys.argv[1:]), "snr": args.snr,
           "machine": f"{_cpu_name()}, {os.cpu_count()} cores, OMP_NUM_THREADS="
                      f"{os.environ.get('OMP_NUM_THREADS')}",
           "date_utc": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
           "emulator_sha": sha256_file(DEFAULT_DIR / "emulator.safetensors")[:16]}
    fit_spectrum((emu.wave, emu.normalized(emu.nodes[0].tolist() + [0.4, 0.4]), None, None, "normalized"),
                 emulator=emu)
    res["emulator_recovery"] = emulator_recovery(emu, args.n, args.snr, args.seed)
    print(json.dumps(res["emulator_recovery"], indent=1), flush=True)
    if args.grid is not None and args.grid.exists():
        res["grid_recovery"] = grid_recovery(emu, args.grid, args.n, args.snr, args.seed)
        print(json.dumps(res["grid_recovery"], indent=1), flush=True)
    if args.real is not None and (args.real / "literature.csv").exists():
        res["real"], res["real_seconds_per_star"] = real_stars(emu, args.real)
        res["real_mae"] = real_summary(res["real"])
    text = markdown(res)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(_no_nan(res), indent=1, default=float) + "\n")
    if args.md:
        args.md.write_text(text + "\n")


if __name__ == "__main__":
    main()
