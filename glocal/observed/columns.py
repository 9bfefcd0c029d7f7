"""Column names and units of tabular spectra (FITS tables, CSV/ASCII, HDF5), and assembling a spectrum.

Recognised names (case-insensitive, first match in each list wins):

* wavelength — :data:`WAVE_NAMES`; names starting with ``LOG`` hold log10(λ/Å) (SDSS ``LOGLAM``);
* flux — :data:`FLUX_NAMES`;
* 1σ error — :data:`SIGMA_NAMES`; or inverse variance :data:`IVAR_NAMES` (σ = 1/√ivar, ivar ≤ 0 → bad);
  or variance :data:`VAR_NAMES` (σ = √var);
* bad-pixel flags (non-zero = bad) — :data:`BAD_FLAG_NAMES`, ``AND_MASK`` before ``OR_MASK`` (SDSS
  advice); good-pixel flags (0 = bad) — :data:`GOOD_FLAG_NAMES` (CALSPEC ``DATAQUAL``: "1=good, 0=bad"),
  or any flag column whose FITS description says "1=good";
* instrumental FWHM (Å) — :data:`FWHM_NAMES` (CALSPEC ``FWHM``), used for the resolution estimate.
"""
from __future__ import annotations

import re

import numpy as np

from glocal.observed.spectrum import ObservedSpectrum, tidy_arrays

__all__ = ["WAVE_NAMES", "FLUX_NAMES", "SIGMA_NAMES", "IVAR_NAMES", "VAR_NAMES", "BAD_FLAG_NAMES",
           "GOOD_FLAG_NAMES", "FWHM_NAMES", "SpectrumFormatError", "find_columns", "wave_unit_scale",
           "flux_unit_string", "make_spectrum"]

WAVE_NAMES = ("WAVE", "WAVELENGTH", "LAMBDA", "LAM", "WAVE_AIR", "WAVELENGTH_AIR", "AWAV", "WAVE_VAC",
              "WAVELENGTH_VAC", "VACUUM_WAVE", "WL", "WAVL", "LOGLAM", "LOGLAMBDA", "LOGWAVE")
FLUX_NAMES = ("FLUX", "FLAM", "F_LAMBDA", "FLUX_DENSITY", "FLUX_NORM", "NORM_FLUX", "NORMALIZED_FLUX", "FNORM",
              "SPEC", "SPECTRUM", "INTENSITY", "COUNTS")
SIGMA_NAMES = ("ERR", "ERROR", "SIGMA", "STATERROR", "STAT_ERR", "FLUX_ERR", "FLUX_ERROR", "ERR_FLUX",
               "ERROR_FLUX", "E_FLUX", "FLUXERR", "UNCERTAINTY", "UNC", "NOISE", "STDDEV")
IVAR_NAMES = ("IVAR", "INVVAR", "FLUX_IVAR", "IVAR_FLUX")
VAR_NAMES = ("VAR", "VARIANCE", "FLUX_VAR")
BAD_FLAG_NAMES = ("AND_MASK", "MASK", "DQ", "QUALITY", "FLAG", "FLAGS", "BADPIX", "PIXMASK", "BITMASK", "OR_MASK")
GOOD_FLAG_NAMES = ("DATAQUAL", "GOOD", "GOODPIX", "VALID")
FWHM_NAMES = ("FWHM", "LSF_FWHM", "RESOLUTION_FWHM")
_GOOD_DESCRIPTION = re.compile(r"\b1\s*=\s*good\b", re.I)


class SpectrumFormatError(ValueError):
    """A file that was read but does not hold a spectrum glocal can recognise (the message says why)."""


def _first(names_upper: dict, candidates) -> str | None:
    for c in candidates:
        if c in names_upper:
            return names_upper[c]
    return None


def find_columns(colnames, descriptions=None) -> dict:
    """Map roles to column names: ``{"wave", "flux", "sigma", "ivar", "var", "bad", "good", "fwhm"}``
    (a role absent from the table maps to None).  ``descriptions``: optional {name: FITS TTYPE comment},
    used to recognise good-pixel flags ("1=good").  SpectrumFormatError when no wavelength or no flux
    column is found, listing the columns that are there.
    """
    upper = {str(c).strip().upper(): c for c in colnames}
    roles = {
        "wave": _first(upper, WAVE_NAMES), "flux": _first(upper, FLUX_NAMES),
        "sigma": _first(upper, SIGMA_NAMES), "ivar": _first(upper, IVAR_NAMES), "var": _first(upper, VAR_NAMES),
        "bad": _first(upper, BAD_FLAG_NAMES), "good": _first(upper, GOOD_FLAG_NAMES),
        "fwhm": _first(upper, FWHM_NAMES),
    }
    if roles["bad"] is not None and _GOOD_DESCRIPTION.search(str((descriptions or {}).get(roles["bad"], ""))):
        roles["good"], roles["bad"] = roles["bad"], None
    missing = [r for r in ("wave", "flux") if roles[r] is None]
    if missing:
        raise SpectrumFormatError(
            f"no {' and no '.join(missing)} column among the columns found {list(colnames)}; "
            f"recognised wavelength names: {', '.join(WAVE_NAMES)}; flux names: {', '.join(FLUX_NAMES)}"
        )
    return roles


def wave_unit_scale(unit) -> float:
    """Factor converting wavelengths in ``unit`` (a string such as 'Angstrom', 'ANGSTROMS', 'nm', 'um',
    or an astropy unit; empty/None = Å) to Å.  SpectrumFormatError for a unit that is not a length."""
    import astropy.units as u
    if unit is None or str(unit).strip() == "":
        return 1.0
    text = str(unit).strip()
    if text.lower() in ("angstroms", "angstrom", "a", "aa", "å"):
        return 1.0
    if text.lower() in ("microns", "micron"):
        text = "um"
    try:
        return float(u.Unit(text.rstrip("s") if text.lower().endswith("meters") else text).to(u.AA))
    except (ValueError, TypeError, u.UnitConversionError) as exc:
        raise SpectrumFormatError(f"wavelength unit {unit!r} is not a length ({exc})") from None


_FLUX_ALIASES = {"FLAM": "erg / (s cm2 Angstrom)", "FNU": "erg / (s cm2 Hz)"}


def flux_unit_string(unit) -> str:
    """A normalised flux-unit string: astropy's spelling when it parses (``FLAM`` → erg/(s cm² Å)), else
    the text as given; ``""`` for none."""
    import astropy.units as u
    if unit is None or str(unit).strip() == "":
        return ""
    text = _FLUX_ALIASES.get(str(unit).strip().upper(), str(unit).strip())
    try:
        return u.Unit(text).to_string()
    except (ValueError, TypeError):
        return text


def _sigma_from(sigma=None, ivar=None, var=None):
    """(sigma, bad) from whichever error column there is; bad marks ivar ≤ 0, var < 0, sigma ≤ 0 / NaN."""
    if ivar is not None:
        ivar = np.asarray(ivar, dtype=np.float64)
        bad = ~(np.isfinite(ivar) & (ivar > 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(bad, np.nan, 1.0 / np.sqrt(np.where(bad, 1.0, ivar))), bad
    if var is not None:
        var = np.asarray(var, dtype=np.float64)
        bad = ~(np.isfinite(var) & (var > 0))
        return np.where(bad, np.nan, np.sqrt(np.where(bad, 1.0, var))), bad
    if sigma is not None:
        sigma = np.asarray(sigma, dtype=np.float64)
        bad = ~(np.isfinite(sigma) & (sigma > 0))
        return np.where(bad, np.nan, sigma), bad
    return None, None


def make_spectrum(wave, flux, *, medium: str, meta: dict, sigma=None, ivar=None, var=None, bad=None,
                  good=None, fwhm=None, log_wave: bool = False) -> ObservedSpectrum:
    """Assemble an :class:`ObservedSpectrum` from per-pixel arrays (any order, any float dtype).

    ``wave`` in Å (or log10 Å when ``log_wave``); ``bad``: non-zero = bad pixel; ``good``: zero = bad
    pixel.  Pixels with a non-finite wavelength are dropped, the rest sorted by wavelength
    (``meta["n_dropped"]`` counts the drops).  SpectrumFormatError when fewer than 2 pixels remain.
    """
    wave = np.asarray(wave, dtype=np.float64)
    if log_wave:
        wave = 10.0 ** wave
    flux = np.asarray(flux, dtype=np.float64)
    sig, sig_bad = _sigma_from(sigma, ivar, var)
    mask = np.zeros(flux.shape, bool) if sig_bad is None else sig_bad.copy()
    if bad is not None:
        mask |= np.asarray(bad).astype(np.int64) != 0
    if good is not None:
        mask |= np.asarray(good).astype(np.int64) == 0
    extra = {} if fwhm is None else {"fwhm": fwhm}
    wave, flux, sig, mask, extra, n_dropped = tidy_arrays(wave, flux, sig, mask, extra)
    if wave.size < 2:
        raise SpectrumFormatError(f"{meta.get('source', '')}: fewer than 2 pixels with a valid wavelength")
    meta = dict(meta, n_dropped=n_dropped)
    if "fwhm" in extra:
        meta["fwhm"] = extra["fwhm"]
    return ObservedSpectrum(wave=wave, flux=flux, sigma=sig, mask=mask, medium=medium, meta=meta)
