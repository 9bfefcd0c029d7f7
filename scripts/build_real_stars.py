"""Build ``glocal/data/real_stars/`` — the development set of real metal-poor stars — from
``../shared/data/real_spectra`` (HST/STIS CALSPEC and Magellan/MIKE spectra, JINAbase literature values).

One HDF5 file per star, ``<star>.h5`` (the star key of ``literature.csv``), readable by
:func:`glocal.observed.read_spectra` and therefore by ``glocal predict <file>``:

* ``/wave`` (n,) float64 Å, **rest frame**, medium in its ``medium`` attribute; ``/flux`` (n,) float32 in the
  unit of its ``unit`` attribute; ``/sigma`` (n,) float32 1σ (CALSPEC: the STATERROR column the reader
  takes; absent for MIKE, whose files give none); ``/mask`` (n,) uint8, 1 = bad.
  - CALSPEC: the STIS pixels themselves (no resampling), vacuum wavelengths, F_λ in erg s⁻¹ cm⁻² Å⁻¹,
    cut by the reader to the observed segments (the appended BOSZ model is not data) and here to the
    segment holding 5500 Å (STIS; drops the NICMOS extension of BD+17 4708).  Their sampling gives
    R_Nyquist = λ/(2Δλ) ≈ 550–1100 (median ≈ 810 in 2550–10000 Å), which is what ``prepare`` reads.
  - MIKE (R ≈ 35 000, continuum-normalised, air): degraded with a Gaussian of R_k = (1/2000² − 1/35000²)^−½
    (normalised convolution over the NaN pixels, :func:`glocal.observed.prepare.masked_degrade`) onto a
    log-linear grid Δlnλ = 1/4000 (R_Nyquist = 2000), pixels with < 90 % kernel coverage masked (NaN).
* ``/prepared/{wave,flux,sigma,mask,coverage}``: ``glocal.observed.prepare(source, rv=rv, band="full",
  target_R=200)`` of the *source* file (CSST R=200 grid 2550–10000 Å, air, rest frame, flux in the input
  unit, NaN where masked), with its resolution, kernel and flux kind in the group's attributes.
* Root attributes: provenance (source path and sha256, citations, the literature row as JSON, the
  radial velocity removed and how it was found, this script and its command line).

Radial velocities (km/s, removed before anything else; the CALSPEC files are in the observed frame):
CALSPEC — the "radial vel=" of the header HISTORY (the velocity CALSPEC applied to its BOSZ model) where
given; else (BD+54 1216, BD+17 4708) measured here by cross-correlating the high-passed log flux over
3800–9000 Å (vacuum) with each header-RV star shifted to rest, the median over templates.  The same
cross-correlation, run on the header-RV stars with the others as templates, is stored as a check
(``rv_xcorr_kms``); it recovers the five header values within 9 km/s (< 1 % of the R=200 FWHM, 1500 km/s).
MIKE — 0: the files are at rest (Ca II, Balmer, Mg b, Na D and Fe I line cores within 2 km/s of their
air rest wavelengths; the IRAF DOPCOR cards of HD 140283 record the correction).

    python scripts/build_real_stars.py                 # writes glocal/data/real_stars/
    python scripts/build_real_stars.py --shared DIR --out DIR

The build is deterministic (no HDF5 timestamps, sorted inputs).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import h5py
import numpy as np
from scipy.ndimage import gaussian_filter1d

from glocal._io import json_default, sha256_file
from glocal.observed import prepare, read_spectra
from glocal.observed.prepare import doppler_to_rest, masked_degrade

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "glocal" / "data" / "real_stars"
COMMAND = "python scripts/build_real_stars.py"

DISPLAY = {"bd21d0607": "BD+21 0607", "bd29d2091": "BD+29 2091", "bd54d1216": "BD+54 1216",
           "bd_17d4708": "BD+17 4708", "hd009051": "HD 9051", "hd031128": "HD 31128", "hd111980": "HD 111980",
           "hd140283": "HD 140283", "cs22892-52": "CS 22892-052"}

CITATIONS = {
    "calspec": "HST/STIS CALSPEC: Bohlin, R. C., Gordon, K. D. & Tremblay, P.-E. 2014, PASP 126, 711; "
               "Bohlin, R. C., Hubeny, I. & Rauch, T. 2020, AJ 160, 21 (public HST data; mirrored from the "
               "PypeIt repository's copy of CALSPEC)",
    "mike": "Magellan/MIKE: Bernstein, R. et al. 2003, Proc. SPIE 4841, 1694; spectra from the smhr "
            "repository (A. R. Casey, MIT licence)",
    "literature": "JINAbase: Abohalima, A. & Frebel, A. 2018, ApJS 238, 36, with the original studies named by "
                  "their JINAbase keys (jinabase_references); log eps converted with the solar values of "
                  "Asplund, M., Grevesse, N., Sauval, A. J. & Scott, P. 2009, ARA&A 47, 481 "
                  "(O 8.69, Mg 7.60, Fe 7.50)",
}

MIKE_R_IN = 35000.0      # MIKE resolving power (../shared/data/README.md)
MIKE_R_OUT = 2000.0      # resolution of the shipped MIKE spectra
MIKE_DLNW = 1.0 / (2.0 * MIKE_R_OUT)
XC_RANGE = (3800.0, 9000.0)   # Å, cross-correlation range (vacuum, rest)
XC_STEP = 1.0 / 20000.0       # Δlnλ of the cross-correlation grid (15 km/s)
XC_SMOOTH = 400               # high-pass: minus a Gaussian of σ = 400 grid steps (Δlnλ = 0.02, ~100 Å)
XC_VEL = np.arange(-800.0, 800.01, 1.0)


# ----------------------------------------------------------------------------- radial velocities
def _highpassed(spec):
    """(x, h): x = ln λ (vacuum, frame of the file) on the cross-correlation grid, h = log flux minus its
    Gaussian-smoothed self (continuum, calibration and reddening removed; lines kept)."""
    good = ~spec.mask & (spec.flux > 0)
    x = np.arange(np.log(XC_RANGE[0]) - 0.05, np.log(XC_RANGE[1]) + 0.05, XC_STEP)
    lf = np.interp(x, np.log(spec.wave[good]), np.log(spec.flux[good]))
    return x, lf - gaussian_filter1d(lf, XC_SMOOTH, mode="nearest")


def xcorr_rv(spec, template, template_rv: float) -> float:
    """Radial velocity (km/s) of ``spec`` by cross-correlation with ``template`` at ``template_rv``:
    maximises the Pearson correlation of the high-passed log fluxes over XC_RANGE (rest, vacuum), then a
    parabola through the 21 velocities around the peak."""
    xs, hs = _highpassed(spec)
    xt, ht = _highpassed(template)
    y = np.arange(np.log(XC_RANGE[0]), np.log(XC_RANGE[1]), XC_STEP)
    t = np.interp(y - np.log(doppler_to_rest(1.0, template_rv)), xt, ht)
    t = (t - t.mean()) / t.std()
    cc = np.empty(XC_VEL.size)
    for i, v in enumerate(XC_VEL):
        s = np.interp(y - np.log(doppler_to_rest(1.0, v)), xs, hs)
        cc[i] = np.mean((s - s.mean()) / s.std() * t)
    k = int(np.clip(np.argmax(cc), 10, XC_VEL.size - 11))
    c = np.polyfit(XC_VEL[k - 10:k + 11], cc[k - 10:k + 11], 2)
    return float(-c[1] / (2.0 * c[0]))


def calspec_rvs(specs: dict) -> dict:
    """{star: (rv km/s, how, cross-correlation rv or None)} of the CALSPEC stars (module docstring)."""
    header = {k: s.meta["calspec_rv_kms"] for k, s in specs.items() if "calspec_rv_kms" in s.meta}
    out = {}
    for star, spec in specs.items():
        others = [(specs[k], v) for k, v in sorted(header.items()) if k != star]
        xc = float(np.median([xcorr_rv(spec, t, v) for t, v in others]))
        if star in header:
            out[star] = (float(header[star]), "CALSPEC header HISTORY 'radial vel='", round(xc, 1))
        else:
            out[star] = (round(xc, 1), "cross-correlation with the header-RV CALSPEC stars "
                         f"({', '.join(sorted(k for k in header))}), median", round(xc, 1))
    return out


# ----------------------------------------------------------------------------- spectra to ship
def calspec_intermediate(spec, rv: float) -> dict:
    """The STIS pixels in the rest frame (vacuum), cut to the observed segment holding 5500 Å."""
    ranges = spec.meta.get("calspec_data_ranges") or [(spec.wave[0], spec.wave[-1])]
    lo, hi = next((a, b) for a, b in ranges if a <= 5500.0 <= b)
    keep = (spec.wave >= lo) & (spec.wave <= hi)
    return {"wave": doppler_to_rest(spec.wave[keep], rv), "flux": spec.flux[keep],
            "sigma": None if spec.sigma is None else spec.sigma[keep], "mask": spec.mask[keep],
            "medium": spec.medium, "flux_unit": spec.meta.get("flux_unit", ""),
            "description": f"STIS pixels {lo:g}-{hi:g} A (observed, vacuum), shifted to rest by rv; no resampling; "
                           "sigma = the reader's 1-sigma column; mask = the reader's bad pixels (DATAQUAL)"}


def mike_intermediate(spec, rv: float) -> dict:
    """MIKE degraded to R=2000 on a log-linear grid (module docstring), rest frame, air."""
    wave = doppler_to_rest(spec.wave, rv)
    valid = ~spec.mask & np.isfinite(spec.flux)
    r_k = 1.0 / np.sqrt(1.0 / MIKE_R_OUT**2 - 1.0 / MIKE_R_IN**2)
    n = int(np.floor(np.log(wave[-1] / wave[0]) / MIKE_DLNW)) + 1
    grid = wave[0] * np.exp(MIKE_DLNW * np.arange(n))
    flux, _, cov = masked_degrade(wave, spec.flux, valid, grid, R=r_k)
    bad = ~(cov >= 0.9) | ~np.isfinite(flux)
    return {"wave": grid, "flux": np.where(bad, np.nan, flux), "sigma": None, "mask": bad,
            "medium": spec.medium, "flux_unit": spec.meta.get("flux_unit", ""),
            "description": f"MIKE R~{MIKE_R_IN:g} degraded with a Gaussian of R_k={r_k:.1f} (normalised "
                           f"convolution over NaN pixels) onto ln-lambda steps of 1/{1 / MIKE_DLNW:g} "
                           f"(R_Nyquist={MIKE_R_OUT:g}), rest frame, air; pixels with <90% kernel coverage "
                           "masked (NaN); no sigma (the source gives none)"}


# ----------------------------------------------------------------------------- writing
_KW = dict(compression="gzip", compression_opts=9, shuffle=True, track_times=False)


def _dataset(group, name, data, **attrs):
    d = group.create_dataset(name, data=data, **_KW)
    for k, v in attrs.items():
        d.attrs[k] = v
    return d


def write_star(path: Path, star: str, inter: dict, prep, attrs: dict) -> None:
    """One star's HDF5 file (layout in the module docstring)."""
    with h5py.File(path, "w", track_order=True) as h5:
        _dataset(h5, "wave", np.asarray(inter["wave"], np.float64), unit="Angstrom", medium=inter["medium"],
                 frame="rest")
        _dataset(h5, "flux", np.asarray(inter["flux"], np.float32), unit=inter["flux_unit"])
        if inter["sigma"] is not None:
            _dataset(h5, "sigma", np.asarray(inter["sigma"], np.float32), unit=inter["flux_unit"])
        _dataset(h5, "mask", np.asarray(inter["mask"], np.uint8), meaning="1 = bad pixel")
        g = h5.create_group("prepared")
        _dataset(g, "wave", prep.wave, unit="Angstrom", medium="air", frame="rest")
        _dataset(g, "flux", prep.flux, unit=inter["flux_unit"])
        if prep.sigma is not None:
            _dataset(g, "sigma", prep.sigma, unit=inter["flux_unit"])
        _dataset(g, "mask", prep.mask.astype(np.uint8), meaning="1 = no usable data")
        _dataset(g, "coverage", prep.coverage)
        g.attrs.update({"call": f"glocal.observed.prepare(read_spectra(source)[0], rv={prep.rv!r}, band='full', "
                                "target_R=200)", "band": "full", "target_R": 200.0, "rv_kms": prep.rv,
                        "flux_kind": prep.flux_kind, "flux_kind_reason": prep.meta["flux_kind_reason"],
                        "resolution_in": prep.resolution_in, "resolution_source": prep.resolution_source,
                        "kernel_R": prep.kernel_R, "band_used": json.dumps(prep.band_used)})
        h5.attrs.update({"star": star, "display_name": DISPLAY.get(star, star),
                         "intermediate": inter["description"], **attrs})


def _literature(shared: Path):
    import pandas as pd
    return pd.read_csv(shared / "real_spectra" / "literature.csv", dtype={"star": str, "file": str,
                                                                        "jinabase_references": str})


def build(shared: Path, out: Path) -> list[dict]:
    """Write every star's file, ``literature.csv`` and return one summary dict per star."""
    src = shared / "real_spectra"
    lit = _literature(shared)
    out.mkdir(parents=True, exist_ok=True)
    spectra = {row.star: read_spectra(src / row.file)[0] for row in lit.itertuples()}
    calspec = {k: s for k, s in spectra.items() if "calspec_data_ranges" in s.meta}
    rvs = calspec_rvs(calspec)
    summary = []
    for row in lit.sort_values("star").itertuples():
        spec, instrument = spectra[row.star], ("calspec" if row.star in calspec else "mike")
        rv, how, xc = rvs[row.star] if instrument == "calspec" else (
            0.0, "0: MIKE spectrum already at rest (line cores within 2 km/s of rest)", None)
        prep = prepare(spec, rv=rv, band="full", target_R=200)
        inter = (calspec_intermediate if instrument == "calspec" else mike_intermediate)(spec, rv)
        lit_row = {k: (None if isinstance(v, float) and np.isnan(v) else v)
                   for k, v in row._asdict().items() if k != "Index"}
        attrs = {"instrument": instrument, "source_file": f"real_spectra/{row.file}",
                 "source_sha256": sha256_file(src / row.file), "rv_kms": rv, "rv_source": how,
                 "rv_xcorr_kms": np.nan if xc is None else xc, "literature": json.dumps(lit_row, default=json_default),
                 "citation_spectrum": CITATIONS[instrument], "citation_literature": CITATIONS["literature"],
                 "built_by": f"scripts/build_real_stars.py ({COMMAND})"}
        write_star(out / f"{row.star}.h5", row.star, inter, prep, attrs)
        summary.append({"star": row.star, "instrument": instrument, "rv": rv, "rv_xcorr": xc,
                        "flux_kind": prep.flux_kind, "n_good": prep.n_good, "band_used": prep.band_used,
                        "R_in": round(prep.resolution_in), "n_ship": int(np.size(inter["wave"]))})
    shutil.copyfile(src / "literature.csv", out / "literature.csv")
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="../shared/data (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = ap.parse_args(argv)
    if not (args.shared / "real_spectra" / "literature.csv").is_file():
        print(f"no real_spectra/literature.csv under {args.shared}", file=sys.stderr)
        return 2
    for s in build(args.shared, args.out):
        print(json.dumps(s))
    total = sum(f.stat().st_size for f in args.out.iterdir() if f.is_file())
    print(f"{args.out}: {total} bytes in {sum(1 for _ in args.out.iterdir())} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
