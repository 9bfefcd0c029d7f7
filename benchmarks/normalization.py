#!/usr/bin/env python
"""Robustness of glocal.observed.normalize to reddening and calibration errors, and the [Mg/Fe]/[O/Fe]
signal that survives it.

Built-in engine (resolution=40000, threshold=1e-3, the book's sampling), 2550-10000 A, degraded to the
CSST R=200 grid; atmospheres 4500/2.0/-2.0, 5500/4.0/-1.5, 6000/4.0/-3.0, 4000/1.0/-1.0; variants
([O/Fe], [Mg/Fe]) = (0, 0), (0, 0.4), (0.4, 0).  Each spectrum F is multiplied by 10^(-0.4 E(B-V) R_V k)
(dust_extinction, R_V = 3.1) and a random calibration factor s·(1 + a1 L + a2 L^2 + a3 L^3) (L = λ mapped
to [-1, 1], max |a·L| = ``--calib`` relative, s a random overall scale); the normalised result is
compared with the normalised unreddened F (max and rms of |N'/N - 1| over unmasked pixels, all
atmospheres and ``--trials`` calibrations).  Signal survival: Σ_window Δ ln N / Σ_window Δ ln(F/F_c)
for the (0,0)->(0,0.4) Mg and (0,0)->(0.4,0) O differences.

Usage: python benchmarks/normalization.py [--cache /tmp/glocal_norm.npz] [--degrees 3 4 5 6 7]
       [--law F99|G23] [--trials 20] [--calib 0.1]
"""
from __future__ import annotations

import argparse
import os

import numpy as np

ATMOSPHERES = ((4500.0, 2.0, -2.0), (5500.0, 4.0, -1.5), (6000.0, 4.0, -3.0), (4000.0, 1.0, -1.0))
VARIANTS = ({"O": 0.0, "Mg": 0.0}, {"O": 0.0, "Mg": 0.4}, {"O": 0.4, "Mg": 0.0})
WINDOWS = {"MgII/MgI 2800-2860": ((2800.0, 2860.0), 1), "Mg b 5150-5200": ((5150.0, 5200.0), 1),
           "OH 3050-3250": ((3050.0, 3250.0), 2)}
EBVS = (0.0, 0.1, 0.3, 0.5)
BANDS = {"full": None, "optical": (4000.0, 10000.0), "gaps": "gaps"}


def synthetic_set(cache: str | None = None) -> dict:
    """{"wave": (n,), "flux": (n_atm, 3, n), "continuum": (n_atm, 3, n)} on the CSST grid (cached)."""
    if cache and os.path.exists(cache):
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    from glocal.degrade import degrade
    from glocal.synthesis import synthesize_variants
    fluxes, conts = [], []
    for teff, logg, feh in ATMOSPHERES:
        vs = synthesize_variants(teff, logg, feh, list(VARIANTS), engine="builtin", wave_range=(2550.0, 10000.0),
                                 resolution=40000, threshold=1e-3)
        grid, f = degrade(vs.wave, vs.flux)
        fluxes.append(f)
        conts.append(degrade(vs.wave, vs.continuum)[1])
    out = {"wave": grid, "flux": np.stack(fluxes), "continuum": np.stack(conts)}
    if cache:
        np.savez(cache, **out)
    return out


def reddening(wave, ebv: float, law: str = "F99", r_v: float = 3.1) -> np.ndarray:
    """Transmission 10^(-0.4 A(λ)) with A = E(B-V)·R_V·k(λ) of the dust_extinction law ``law``."""
    import astropy.units as u
    from dust_extinction import parameter_averages as pa
    model = getattr(pa, law)(Rv=r_v)
    return np.asarray(model.extinguish(np.asarray(wave) * u.AA, Ebv=ebv), dtype=float)


def calibration(wave, rng, amplitude: float = 0.1) -> np.ndarray:
    """Random smooth factor s·(1 + cubic in λ) whose relative deviation peaks at ``amplitude``."""
    lam = np.asarray(wave, dtype=float)
    L = 2.0 * (lam - lam[0]) / (lam[-1] - lam[0]) - 1.0
    poly = np.polynomial.polynomial.polyval(L, np.r_[0.0, rng.normal(size=3)])
    poly *= amplitude * rng.uniform(0.5, 1.0) / np.max(np.abs(poly))
    return 10.0 ** rng.uniform(-16, -12) * (1.0 + poly)


def band_mask(wave, band) -> np.ndarray:
    """True = masked: outside ``band`` (lo, hi), or two gaps (3600-3900, 6800-7300 Å) for "gaps"."""
    if band is None:
        return np.zeros(wave.shape, bool)
    if band == "gaps":
        return ((wave > 3600) & (wave < 3900)) | ((wave > 6800) & (wave < 7300))
    return (wave < band[0]) | (wave > band[1])


def invariance(data, degree, method, band, law="F99", trials=20, amplitude=0.1, seed=1, exclude=None):
    """{E(B-V): (max, rms, raw max)}: |N(F·S)/N(F) − 1| and the unnormalised |F·S/F − 1| (both scaled
    to their medians) over unmasked pixels."""
    from glocal.observed.normalize import FEATURE_WINDOWS, normalize_calibrated
    wave, rng = data["wave"], np.random.default_rng(seed)
    mask = band_mask(wave, band)
    kw = {"method": method, "degree": degree, "exclude": FEATURE_WINDOWS if exclude is None else exclude}
    out = {}
    for ebv in EBVS:
        red = reddening(wave, ebv, law)
        devs, raw = [], []
        for f in data["flux"][:, 0]:
            ref = normalize_calibrated(wave, f, mask, **kw)[0][~mask]
            for _ in range(trials):
                s = calibration(wave, rng, amplitude) * red
                n = normalize_calibrated(wave, f * s, mask, **kw)[0][~mask]
                devs.append(n / ref - 1.0)
                fs = (f * s)[~mask]
                raw.append(fs / np.median(fs) / (f[~mask] / np.median(f[~mask])) - 1.0)
        d = np.concatenate(devs)
        out[ebv] = (float(np.max(np.abs(d))), float(np.sqrt(np.mean(d ** 2))),
                    float(np.max(np.abs(np.concatenate(raw)))))
    return out


def survival(data, degree, method, band=None, exclude=None):
    """{window: [ratio per atmosphere]}: Σ Δ ln N / Σ Δ ln(F/F_c) over the window, and the signal
    max |Δ ln(F/F_c)| in it."""
    from glocal.observed.normalize import FEATURE_WINDOWS, normalize_synthetic
    ex = FEATURE_WINDOWS if exclude is None else exclude
    wave = data["wave"]
    mask = band_mask(wave, band)
    out = {}
    for name, ((lo, hi), k) in WINDOWS.items():
        sel = (wave >= lo) & (wave <= hi) & ~mask
        ratios = []
        for f, c in zip(data["flux"], data["continuum"]):
            if not sel.any():
                ratios.append(float("nan"))
                continue
            n = normalize_synthetic(wave, f, mask, method=method, degree=degree, exclude=ex)
            d_norm = np.sum(np.log(n[k][sel]) - np.log(n[0][sel]))
            d_true = np.sum(np.log(f[k][sel] / c[k][sel]) - np.log(f[0][sel] / c[0][sel]))
            ratios.append(float(d_norm / d_true) if abs(d_true) > 1e-6 else float("nan"))
        out[name] = ratios
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", default=None)
    p.add_argument("--degrees", type=int, nargs="+", default=[5])
    p.add_argument("--methods", nargs="+", default=["poly"])
    p.add_argument("--laws", nargs="+", default=["F99", "G23"])
    p.add_argument("--no-exclude", action="store_true", help="fit every pixel (no FEATURE_WINDOWS)")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--calib", type=float, default=0.1)
    a = p.parse_args(argv)
    data = synthetic_set(a.cache)
    ex = () if a.no_exclude else None
    print(f"R_V 3.1, calibration ±{a.calib:.0%}, {a.trials} trials x {len(ATMOSPHERES)} atmospheres; "
          f"exclude: {'none' if a.no_exclude else 'FEATURE_WINDOWS'}")
    print("method   deg band     law  " + "  ".join(f"E={e:.1f} max/rms (unnormalised max)" for e in EBVS))
    for method in a.methods:
        for deg in a.degrees:
            for bname, band in BANDS.items():
                for law in a.laws:
                    inv = invariance(data, deg, method, band, law, a.trials, a.calib, exclude=ex)
                    cells = "  ".join(f"{m:.1e}/{r:.1e} ({raw:.2f})" for m, r, raw in inv.values())
                    print(f"{method:8s} {deg:3d} {bname:8s} {law:4s} {cells}")
    print("\nsignal survival Σ Δln N / Σ Δln(F/F_c) per atmosphere " + str(ATMOSPHERES))
    for method in a.methods:
        for deg in a.degrees:
            for bname, band in (("full", None), ("optical", BANDS["optical"])):
                surv = survival(data, deg, method, band, exclude=ex)
                cells = "  ".join(f"{w}: " + ",".join(f"{r:.2f}" for r in v) for w, v in surv.items())
                print(f"{method:8s} {deg:3d} {bname:8s} {cells}")


if __name__ == "__main__":
    main()
