"""Observed spectra: readers (FITS images and tables, gzip, CSV/ASCII, glocal HDF5, specutils objects),
air/vacuum conversion and the preparation that puts any of them on the CSST R=200 grid.

Public API: :func:`read_spectra` → list of :class:`ObservedSpectrum`; :func:`prepare` →
:class:`PreparedSpectrum`; :func:`estimate_resolution`, :func:`detect_flux_kind`;
:func:`vac_to_air` / :func:`air_to_vac`; :func:`normalize_calibrated` / :func:`normalize_synthetic` (one
normalization of flux-calibrated spectra, identical for observations and synthetic F, robust to reddening).
"""
from glocal.observed.columns import SpectrumFormatError
from glocal.observed.medium import air_to_vac, medium_from_header, vac_to_air
from glocal.observed.normalize import normalize_calibrated, normalize_synthetic
from glocal.observed.prepare import PreparedSpectrum, detect_flux_kind, estimate_resolution, prepare
from glocal.observed.readers import read_spectra
from glocal.observed.spectrum import ObservedSpectrum

__all__ = ["normalize_calibrated", "normalize_synthetic",
           "ObservedSpectrum", "PreparedSpectrum", "SpectrumFormatError", "air_to_vac", "detect_flux_kind",
           "estimate_resolution", "medium_from_header", "prepare", "read_spectra", "vac_to_air"]
