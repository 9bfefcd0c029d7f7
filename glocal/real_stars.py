"""The development set of real metal-poor stars shipped with glocal (``glocal/data/real_stars/``).

Nine stars: seven HST/STIS CALSPEC spectra (Bohlin, Gordon & Tremblay 2014, PASP 126, 711; Bohlin et al.
2020, AJ 160, 21) — BD+21 0607, BD+29 2091, BD+54 1216, BD+17 4708, HD 9051, HD 31128, HD 111980 — and two
Magellan/MIKE spectra (Bernstein et al. 2003; the ``smhr`` repository, A. R. Casey, MIT) — HD 140283 and
CS 22892-052; literature Teff, log g, [Fe/H], [Mg/Fe], [O/Fe] from JINAbase (Abohalima & Frebel 2018, ApJS
238, 36, means over the original studies, converted with the Asplund et al. 2009 solar values) and the CALSPEC
BOSZ SED fits.  Built by ``scripts/build_real_stars.py`` from ``../shared/data/real_spectra``; the files'
root attributes hold each source file's sha256, the citations and the radial velocity removed.

Each star is one HDF5 file ``<star>.h5`` (the ``star`` key of :func:`load_literature`):

* the spectrum as an *observed* spectrum sharper than R=200, rest frame — CALSPEC: the STIS pixels
  (R ≈ 550–1100, vacuum, F_λ in erg s⁻¹ cm⁻² Å⁻¹, with 1σ); MIKE: degraded from R ≈ 35 000 to R = 2000
  on a log-linear grid (air, continuum-normalised, no σ) — read by :func:`observed` through
  :func:`glocal.observed.read_spectra`, so ``glocal predict <file>`` takes it with no flags;
* ``/prepared``: :func:`glocal.observed.prepare` of the *source* file on the CSST R=200 grid 2550–10000 Å
  (air, rest frame; flux in the input unit) — returned by :func:`load_prepared`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["DATA_DIR", "load_literature", "stars", "star_files", "load_prepared", "observed", "provenance"]

#: Folder of the shipped files (``<star>.h5``, ``literature.csv``, ``README.md``).
DATA_DIR = Path(__file__).resolve().parent / "data" / "real_stars"


def load_literature():
    """The literature table (``literature.csv``, one row per star) as a pandas DataFrame.

    Columns: ``star`` (key), ``file`` (source path under ``../shared/data/real_spectra``), ``teff`` (K),
    ``logg`` (cgs dex), ``feh``, ``mgfe``, ``ofe`` (dex; means over the JINAbase studies, NaN where no study
    exists), ``n_feh``, ``n_mgfe``, ``n_ofe`` (number of studies), ``jinabase_references`` (space-separated
    JINAbase keys), ``sed_teff``, ``sed_logg``, ``sed_logz``, ``sed_ebv`` (CALSPEC BOSZ SED fit of the STIS
    header; NaN for the MIKE stars and BD+17 4708).  Literature values scatter by ~0.1 dex between studies.
    """
    import pandas as pd
    return pd.read_csv(DATA_DIR / "literature.csv", dtype={"star": str, "file": str, "jinabase_references": str})


def stars() -> list[str]:
    """The star keys, in the order of ``literature.csv``."""
    return [str(s) for s in load_literature()["star"]]


def star_files() -> dict[str, Path]:
    """{star: path of its shipped HDF5 file}; FileNotFoundError naming the build command if one is missing."""
    out = {s: DATA_DIR / f"{s}.h5" for s in stars()}
    missing = [str(p) for p in out.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"real-star files missing: {missing}; rebuild with python scripts/build_real_stars.py")
    return out


def _path(star: str) -> Path:
    files = star_files()
    if star not in files:
        raise KeyError(f"unknown star {star!r}; known: {sorted(files)}")
    return files[star]


def _attr(value):
    return value.decode() if isinstance(value, bytes) else value


def provenance(star: str) -> dict:
    """The root attributes of a star's file: ``star``, ``display_name``, ``instrument`` ("calspec" or
    "mike"), ``source_file``, ``source_sha256``, ``rv_kms`` (km/s removed, positive = receding),
    ``rv_source``, ``rv_xcorr_kms``, ``literature`` (the literature row, decoded from JSON), the citations,
    ``intermediate`` (how the shipped spectrum was made) and ``built_by``."""
    import h5py
    with h5py.File(_path(star), "r") as h5:
        out = {k: _attr(v) for k, v in h5.attrs.items()}
    out["literature"] = json.loads(out["literature"])
    return out


def load_prepared(star: str):
    """The star's spectrum on the CSST R=200 grid as a :class:`glocal.observed.PreparedSpectrum`.

    ``prepare(read_spectra(source)[0], rv=rv_kms, band="full", target_R=200)`` of the source file, stored at
    build time: ``wave`` the Eq. 8 grid points of 2550–10000 Å (air, rest frame), ``flux`` and ``sigma``
    (None for MIKE) in the source's unit (CALSPEC: erg s⁻¹ cm⁻² Å⁻¹; MIKE: continuum-normalised), NaN where
    ``mask`` is True, ``coverage`` the kernel-mass fraction, ``flux_kind`` "calibrated" (CALSPEC) or
    "normalized" (MIKE); ``meta`` holds the provenance (:func:`provenance`).
    """
    import h5py

    from glocal.observed import PreparedSpectrum
    with h5py.File(_path(star), "r") as h5:
        g = h5["prepared"]
        a = {k: _attr(v) for k, v in g.attrs.items()}
        arrays = {k: np.asarray(g[k][()], dtype=np.float64) for k in ("wave", "flux", "coverage")}
        sigma = np.asarray(g["sigma"][()], dtype=np.float64) if "sigma" in g else None
        mask = np.asarray(g["mask"][()]).astype(bool)
    band_used = json.loads(a["band_used"])
    meta = dict(provenance(star), flux_kind_reason=a["flux_kind_reason"], band=a["band"], call=a["call"])
    return PreparedSpectrum(wave=arrays["wave"], flux=arrays["flux"], sigma=sigma, mask=mask,
                            coverage=arrays["coverage"], band_used=None if band_used is None else tuple(band_used),
                            resolution_in=float(a["resolution_in"]), resolution_source=str(a["resolution_source"]),
                            kernel_R=float(a["kernel_R"]), rv=float(a["rv_kms"]), flux_kind=str(a["flux_kind"]),
                            name=star, meta=meta)


def observed(star: str) -> list:
    """The shipped spectrum read as an observed one: ``glocal.observed.read_spectra(<star>.h5)`` (one
    :class:`glocal.observed.ObservedSpectrum`, rest frame, named ``star``), ready for
    ``glocal.observed.prepare(spec)`` with rv = 0."""
    from glocal.observed import read_spectra
    return read_spectra(_path(star))
