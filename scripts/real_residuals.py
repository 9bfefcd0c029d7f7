"""The built-in engine against the development HST/STIS stars at their literature labels (issue 27).

For every CALSPEC star shipped in glocal/data/real_stars: the built-in engine's R = 200 flux at the literature
Teff, log g, [Fe/H] (JINAbase means; the CALSPEC BOSZ SED fit where no study exists), [Mg/Fe] from the
literature (else +0.3, the halo plateau) and [O/Fe] = +0.5 (no literature value for these stars), fitted to
the observed flux with a smooth nuisance (glocal.validation.real_residuals: degree-4 Legendre in 1/λ on ln flux
plus G23 reddening); residual rms over the UV (2550–4000 Å) and the optical, with every pixel and without the
Mg II h&k window (2760–2830 Å; refitted), and the mean residual per wavelength bin.  Writes
results/validation/real_residuals.json (with the R = 200 residual spectra), which the engine chapter reads:

    python scripts/real_residuals.py [--out results/validation/real_residuals.json]
"""
from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Mg II h&k and their inner wings at R = 200 (Å, air): the window left out in the second measurement.
HK_WINDOW = (2760.0, 2830.0)
#: Bins (Å) of the mean residual table.
BINS = [2550, 2700, 2850, 3000, 3200, 3400, 3650, 3900, 4000, 4500, 5500, 7000, 10000]
DEFAULT_MGFE, DEFAULT_OFE = 0.3, 0.5
#: Teff offsets (K) of the scan that asks which Teff the engine prefers, log g and abundances held.
TEFF_STEPS = (-200.0, 0.0, 200.0, 400.0, 600.0)
#: [Mg/Fe] and [O/Fe] grid of the abundance scan (dex).
MG_STEPS = tuple(np.round(np.arange(-0.2, 1.21, 0.1), 2))
O_STEPS = (0.0, 0.5, 1.0)


def star_labels(row) -> tuple[dict, str]:
    """Labels of one literature row and where Teff/log g/[Fe/H] come from ("literature" or "sed")."""
    lit = np.isfinite(float(row["teff"]))
    keys = ("teff", "logg", "feh") if lit else ("sed_teff", "sed_logg", "sed_logz")
    labels = dict(zip(("teff", "logg", "feh"), (float(row[k]) for k in keys)))
    labels["mgfe"] = float(row["mgfe"]) if np.isfinite(float(row["mgfe"])) else DEFAULT_MGFE
    labels["ofe"] = DEFAULT_OFE
    return labels, "literature" if lit else "sed"


def teff_scan(spec, labels, used, steps=TEFF_STEPS) -> dict:
    """UV and optical rms with Teff moved by each of ``steps`` (K), the other labels held."""
    from glocal.validation.real_residuals import engine_spectrum, residual_stats, smooth_residual
    out = []
    for dt_ in steps:
        flux, _ = engine_spectrum(labels["teff"] + dt_, labels["logg"], labels["feh"], labels["mgfe"], labels["ofe"],
                                  spec.wave)
        st = residual_stats(spec.wave, smooth_residual(spec.wave, spec.flux, spec.sigma, flux, used)["residual"])
        out.append({"dteff": float(dt_), **st})
    best = min(out, key=lambda r: r["rms_uv"] ** 2 + r["rms_optical"] ** 2)
    return {"scan": out, "best_dteff": best["dteff"], "best_rms_uv": best["rms_uv"],
            "best_rms_optical": best["rms_optical"]}


def abundance_scan(spec, labels, used) -> dict:
    """The issue's protocol: Teff, log g, [Fe/H] held at the labels, [Mg/Fe] and [O/Fe] on the grid
    :data:`MG_STEPS` × :data:`O_STEPS` (one atmosphere, all variants in one synthesis); the pair with the least
    UV² + optical² rms, with and without the reddening term in the smooth nuisance."""
    from glocal.degrade import degrade
    from glocal.synthesis import synthesize_variants
    from glocal.validation.real_residuals import residual_stats, smooth_residual
    variants = [{"Mg": float(m), "O": float(o)} for m in MG_STEPS for o in O_STEPS]
    vs = synthesize_variants(labels["teff"], labels["logg"], labels["feh"], variants)
    flux = np.atleast_2d(degrade(vs.wave, vs.flux, R=200.0, grid=spec.wave)[1])
    out = {}
    for key, ebv in (("", True), ("_no_reddening", False)):
        stats = [residual_stats(spec.wave, smooth_residual(spec.wave, spec.flux, spec.sigma, f, used,
                                                          ebv=ebv)["residual"]) for f in flux]
        k = int(np.argmin([st["rms_uv"] ** 2 + st["rms_optical"] ** 2 for st in stats]))
        out |= {f"best_mgfe{key}": variants[k]["Mg"], f"best_ofe{key}": variants[k]["O"],
                f"best_rms_uv{key}": stats[k]["rms_uv"], f"best_rms_optical{key}": stats[k]["rms_optical"]}
    return out


def measure_star(star: str, row) -> dict:
    from glocal import real_stars
    from glocal.validation.real_residuals import engine_spectrum, residual_stats, smooth_residual
    labels, source = star_labels(row)
    spec = real_stars.load_prepared(star)
    flux, norm = engine_spectrum(labels["teff"], labels["logg"], labels["feh"], labels["mgfe"], labels["ofe"],
                                 spec.wave)
    used = ~spec.mask & np.isfinite(spec.flux)
    full = smooth_residual(spec.wave, spec.flux, spec.sigma, flux, used)
    hk = (spec.wave > HK_WINDOW[0]) & (spec.wave < HK_WINDOW[1])
    nohk = smooth_residual(spec.wave, spec.flux, spec.sigma, flux, used & ~hk)
    r = full["residual"]
    bins = {f"{a}-{b}": float(np.nanmean(r[(spec.wave >= a) & (spec.wave < b)])) for a, b in zip(BINS[:-1], BINS[1:])}
    return {"star": star, "labels": labels, "label_source": source, "ebv_fit": full["ebv"],
            **residual_stats(spec.wave, r),
            **{f"{k}_without_hk": v for k, v in residual_stats(spec.wave, nohk["residual"]).items()},
            "bin_mean": bins, "teff_scan": teff_scan(spec, labels, used),
            "abundance_scan": abundance_scan(spec, labels, used), "wave": spec.wave.tolist(),
            "residual": [None if not np.isfinite(x) else float(x) for x in r],
            "model_normalized": norm.tolist()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "results" / "validation" / "real_residuals.json"))
    args = ap.parse_args(argv)
    import warnings
    warnings.filterwarnings("ignore")
    from glocal import real_stars
    from glocal._io import write_json
    lit = real_stars.load_literature().set_index("star")
    rows = []
    for star in real_stars.stars():
        if not str(lit.loc[star, "file"]).startswith("calspec/"):
            continue
        rows.append(measure_star(star, lit.loc[star]))
        s = rows[-1]
        print(f"{star:12s} UV {100 * s['rms_uv']:.2f} % (without h&k {100 * s['rms_uv_without_hk']:.2f} %), "
              f"optical {100 * s['rms_optical']:.2f} %; best Teff offset {s['teff_scan']['best_dteff']:+.0f} K: UV "
              f"{100 * s['teff_scan']['best_rms_uv']:.2f} %, optical {100 * s['teff_scan']['best_rms_optical']:.2f} %; "
              f"abundances fitted: UV {100 * s['abundance_scan']['best_rms_uv']:.2f} %",
              flush=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    med = {k: float(np.median([s[k] for s in rows])) for k in ("rms_uv", "rms_uv_without_hk", "rms_optical")}
    med |= {f"teff_scan_{k}": float(np.median([s["teff_scan"][k] for s in rows]))
            for k in ("best_dteff", "best_rms_uv", "best_rms_optical")}
    med |= {f"abundance_scan_{k}": float(np.median([s["abundance_scan"][k] for s in rows]))
            for k in ("best_rms_uv", "best_rms_optical", "best_rms_uv_no_reddening", "best_rms_optical_no_reddening")}
    write_json(args.out, {"script": "scripts/real_residuals.py", "git_commit": commit,
                          "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                          "engine": "builtin (converged default)", "hk_window": list(HK_WINDOW),
                          "assumptions": {"mgfe_without_literature": DEFAULT_MGFE, "ofe": DEFAULT_OFE},
                          "median": med, "stars": rows})
    print("median:", {k: round(100 * v, 2) for k, v in med.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
