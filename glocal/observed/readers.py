"""Read observed spectra from files and from in-memory spectrum objects: :func:`read_spectra`.

Files are recognised by their content, not their suffix: gzip (magic 1f 8b) is decompressed first, then
FITS (``SIMPLE  =``), HDF5 (``\\x89HDF``) or text.  What each format may hold:

* FITS images with a wavelength WCS, FITS binary tables — :mod:`glocal.observed.fits_io`;
* CSV/ASCII — comma- or whitespace-separated, ``#`` comments; with a header line the columns are
  recognised by name (:mod:`glocal.observed.columns`), without one they are by position: wavelength,
  flux, then optionally 1σ error and a bad-pixel flag (non-zero = bad);
* HDF5 written by glocal (``/wave`` (n_pix,), ``/flux`` (n_pix,) or (n_spectra, n_pix); optional
  ``/sigma`` or ``/error``, ``/ivar``, ``/mask`` of the same shape; the medium from the ``medium``
  attribute of ``/wave``, which glocal writes);
* objects: :class:`ObservedSpectrum`, ``specutils.Spectrum`` (``Spectrum1D``) or ``SpectrumCollection``
  (flux with a leading spectrum axis gives one spectrum per row), a ``(wave, flux)`` or
  ``(wave, flux, sigma)`` tuple of astropy Quantities or arrays (Å when unitless), an open astropy
  HDUList (read as a FITS file), or a list of any of these.

Wavelengths are returned in Å in the medium the input records (:mod:`glocal.observed.medium`; default
air), in the observed frame.  Any failure to read a file is a ValueError whose message starts with the
file name and says what was wrong — never a bare astropy or h5py traceback.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from glocal._io import read_maybe_gzipped
from glocal.observed.columns import SpectrumFormatError, find_columns, flux_unit_string, make_spectrum
from glocal.observed.medium import check_medium
from glocal.observed.spectrum import ObservedSpectrum

__all__ = ["read_spectra", "SpectrumFormatError"]

_FITS_MAGIC = b"SIMPLE  ="
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".fits", ".fit", ".fts", ".h5", ".hdf5", ".csv", ".txt", ".dat", ".ascii"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or path.name


def read_spectra(source, *, medium: str | None = None, default_medium: str = "air", hdu=None,
                 wave_unit=None) -> list[ObservedSpectrum]:
    """Every spectrum in ``source`` (a path or an object, see the module docstring), as a list.

    medium : None (decide from the file, see :func:`glocal.observed.medium.medium_from_header`) or
        "air" / "vacuum" to state what the wavelengths are, overriding the file.
    default_medium : the medium assumed when the file says nothing ("air").
    hdu : FITS only — read this HDU (index or EXTNAME) instead of the first one that holds a spectrum.
    wave_unit : unit of the wavelengths when the input has none (CSV, HDF5, unitless arrays); default Å.

    Returns at least one spectrum.  FileNotFoundError for a missing path; ValueError (a
    :class:`SpectrumFormatError` for recognised-but-unusable content) naming the file otherwise.
    """
    medium = None if medium is None else check_medium(medium)
    default_medium = check_medium(default_medium, "default_medium")
    opts = {"medium": medium, "default_medium": default_medium}
    if isinstance(source, (str, Path)):
        return _read_path(Path(source), hdu=hdu, wave_unit=wave_unit, **opts)
    from astropy.io import fits
    if isinstance(source, fits.HDUList):
        return _read_hdulist(source, hdu=hdu, **opts)
    if isinstance(source, (list, tuple)) and source and not _is_pair(source):
        return [s for item in source for s in read_spectra(item, hdu=hdu, wave_unit=wave_unit, **opts)]
    return _read_object(source, wave_unit=wave_unit, **opts)


def _read_path(path: Path, *, medium, default_medium, hdu, wave_unit) -> list[ObservedSpectrum]:
    try:
        raw = read_maybe_gzipped(path, "spectrum")
    except ValueError as exc:  # corrupt gzip: the message names the file already
        raise ValueError(str(exc)) from None
    name = _stem(path)
    kind = "FITS" if raw.startswith(_FITS_MAGIC) else "HDF5" if raw.startswith(_HDF5_MAGIC) else "text"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if raw.startswith(_FITS_MAGIC):
                from astropy.io import fits

                from glocal.observed.fits_io import read_fits_hdulist
                with fits.open(io.BytesIO(raw), memmap=False) as hdul:
                    return read_fits_hdulist(hdul, str(path), name, medium=medium,
                                             default_medium=default_medium, hdu=hdu)
            if raw.startswith(_HDF5_MAGIC):
                return _read_hdf5(raw, str(path), name, medium, default_medium, wave_unit)
            return _read_text(raw, str(path), name, medium, default_medium, wave_unit)
    except SpectrumFormatError as exc:
        raise SpectrumFormatError(f"{path}: {exc}") from None
    except (OSError, ValueError, TypeError, KeyError, IndexError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: corrupt, truncated or unreadable {kind} file ({type(exc).__name__}: {exc})") \
            from None


def _read_hdulist(hdul, *, medium, default_medium, hdu) -> list[ObservedSpectrum]:
    from glocal.observed.fits_io import read_fits_hdulist
    name = str(getattr(hdul, "filename", lambda: None)() or "HDUList")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read_fits_hdulist(hdul, name, _stem(Path(name)), medium=medium,
                                     default_medium=default_medium, hdu=hdu)
    except SpectrumFormatError as exc:
        raise SpectrumFormatError(f"{name}: {exc}") from None
    except (OSError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"{name}: unreadable FITS content ({type(exc).__name__}: {exc})") from None


# ----------------------------------------------------------------------------- text
def _text_table(raw: bytes):
    """(column names or None, float array (n_rows, n_cols)) of a CSV/whitespace table."""
    text = raw.decode("utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise SpectrumFormatError("empty text file")
    delim = "," if "," in lines[0] else None
    first = [t.strip() for t in (lines[0].split(delim) if delim else lines[0].split())]
    try:
        [float(t) for t in first]
        header = None
    except ValueError:
        header = first
        lines = lines[1:]
    try:
        rows = [[float(t) for t in (ln.split(delim) if delim else ln.split())] for ln in lines]
        arr = np.array(rows, dtype=np.float64)
    except ValueError as exc:
        raise SpectrumFormatError(f"a row is not numeric or rows differ in length ({exc})") from None
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 2:
        raise SpectrumFormatError(f"needs at least 2 rows and 2 columns, got shape {arr.shape}")
    if header is not None and len(header) != arr.shape[1]:
        raise SpectrumFormatError(f"header names {len(header)} columns, the rows have {arr.shape[1]}")
    return header, arr


def _read_text(raw, source, name, medium, default_medium, wave_unit):
    from glocal.observed.columns import wave_unit_scale
    from glocal.observed.medium import medium_from_header
    header, arr = _text_table(raw)
    scale = wave_unit_scale(wave_unit)
    if header is None:
        cols = {"wave": 0, "flux": 1, "sigma": 2 if arr.shape[1] > 2 else None, "bad": 3 if arr.shape[1] > 3 else None}
        colnames = []
    else:
        roles = find_columns(header)
        cols = {k: (None if v is None else header.index(v)) for k, v in roles.items()}
        colnames = header
    med, reason = (medium, "option") if medium else medium_from_header(None, colnames, default_medium)
    get = {k: (None if cols.get(k) is None else arr[:, cols[k]])
           for k in ("sigma", "ivar", "var", "bad", "good", "fwhm")}
    log_wave = header is not None and header[cols["wave"]].strip().upper().startswith("LOG")
    wave = arr[:, cols["wave"]] if log_wave else arr[:, cols["wave"]] * scale
    meta = {"name": name, "source": source, "flux_unit": "", "medium_reason": reason}
    return [make_spectrum(wave, arr[:, cols["flux"]], medium=med, meta=meta, log_wave=log_wave, **get)]


# ----------------------------------------------------------------------------- HDF5
def _read_hdf5(raw, source, name, medium, default_medium, wave_unit):
    import h5py

    from glocal.observed.columns import wave_unit_scale
    with h5py.File(io.BytesIO(raw), "r") as h5:
        if "wave" not in h5 or "flux" not in h5:
            raise SpectrumFormatError(f"HDF5 file needs /wave and /flux datasets; found {sorted(h5.keys())}")
        wave = np.asarray(h5["wave"][()], dtype=np.float64)
        unit = h5["wave"].attrs.get("unit", wave_unit)
        wave = wave * wave_unit_scale(unit.decode() if isinstance(unit, bytes) else unit)
        flux = np.atleast_2d(np.asarray(h5["flux"][()], dtype=np.float64))
        extra = {}
        for key, role in (("sigma", "sigma"), ("error", "sigma"), ("ivar", "ivar"), ("mask", "bad")):
            if key in h5 and role not in extra:
                extra[role] = np.atleast_2d(np.asarray(h5[key][()]))
        file_medium = h5["wave"].attrs.get("medium")
        file_medium = file_medium.decode() if isinstance(file_medium, bytes) else file_medium
        unit_attr = h5["flux"].attrs.get("unit", "")
    if flux.shape[1] != wave.size:
        raise SpectrumFormatError(f"/flux has {flux.shape[1]} pixels per spectrum, /wave has {wave.size}")
    if medium:
        med, reason = medium, "option"
    elif file_medium:
        med, reason = check_medium(str(file_medium)), "/wave attribute medium"
    else:
        med, reason = default_medium, "default"
    out = []
    for r in range(flux.shape[0]):
        meta = {"name": name if flux.shape[0] == 1 else f"{name}[{r}]", "source": source, "row": r,
                "flux_unit": flux_unit_string(unit_attr), "medium_reason": reason}
        out.append(make_spectrum(wave, flux[r], medium=med, meta=meta,
                                 **{k: v[r] if v.shape[0] > 1 else v[0] for k, v in extra.items()}))
    return out


# ----------------------------------------------------------------------------- objects
def _is_pair(obj) -> bool:
    return isinstance(obj, tuple) and len(obj) in (2, 3) and all(np.ndim(x) >= 1 for x in obj) \
        and not any(isinstance(x, ObservedSpectrum) for x in obj)


def _to_angstrom(wave, wave_unit):
    import astropy.units as u

    from glocal.observed.columns import wave_unit_scale
    if isinstance(wave, u.Quantity):
        return np.asarray(wave.to_value(u.AA, equivalencies=u.spectral()), dtype=np.float64)
    return np.asarray(wave, dtype=np.float64) * wave_unit_scale(wave_unit)


def _from_specutils(obj, medium, default_medium, wave_unit):
    from astropy.nddata import InverseVariance, StdDevUncertainty, VarianceUncertainty
    wave = _to_angstrom(obj.spectral_axis, wave_unit)
    flux = np.asarray(obj.flux.value, dtype=np.float64)
    unit = flux_unit_string(obj.flux.unit.to_string())
    flux2 = np.atleast_2d(flux)
    unc = obj.uncertainty
    kinds = {StdDevUncertainty: "sigma", InverseVariance: "ivar", VarianceUncertainty: "var"}
    role = next((r for t, r in kinds.items() if isinstance(unc, t)), None)
    unc_arr = None if role is None else np.atleast_2d(np.asarray(unc.array, dtype=np.float64))
    mask = None if obj.mask is None else np.atleast_2d(np.asarray(obj.mask))
    waves = np.atleast_2d(wave)
    name = str(obj.meta.get("name", obj.meta.get("header", {}).get("OBJECT", "spectrum"))) if obj.meta else "spectrum"
    out = []
    for r in range(flux2.shape[0]):
        meta = {"name": name if flux2.shape[0] == 1 else f"{name}[{r}]", "source": type(obj).__name__,
                "flux_unit": unit, "medium_reason": "option" if medium else "default", "row": r}
        kw = {} if role is None else {role: unc_arr[r]}
        out.append(make_spectrum(waves[min(r, waves.shape[0] - 1)], flux2[r], medium=medium or default_medium,
                                 meta=meta, bad=None if mask is None else mask[r], **kw))
    return out


def _read_object(obj, *, medium, default_medium, wave_unit) -> list[ObservedSpectrum]:
    from dataclasses import replace
    if isinstance(obj, ObservedSpectrum):
        return [obj if medium is None or medium == obj.medium else replace(obj, medium=medium)]
    if hasattr(obj, "spectral_axis") and hasattr(obj, "flux"):
        return _from_specutils(obj, medium, default_medium, wave_unit)
    if _is_pair(obj):
        import astropy.units as u
        wave = _to_angstrom(obj[0], wave_unit)
        flux = obj[1]
        unit = flux_unit_string(flux.unit.to_string()) if isinstance(flux, u.Quantity) else ""
        to_val = (lambda q: q.value) if isinstance(flux, u.Quantity) else (lambda q: q)
        sigma = None if len(obj) < 3 else np.asarray(to_val(obj[2]), dtype=np.float64)
        meta = {"name": "spectrum", "source": "arrays", "flux_unit": unit,
                "medium_reason": "option" if medium else "default"}
        return [make_spectrum(wave, np.asarray(to_val(flux), dtype=np.float64), medium=medium or default_medium,
                              meta=meta, sigma=sigma)]
    raise TypeError(f"cannot read spectra from a {type(obj).__name__}; give a path, a specutils Spectrum, "
                    "an HDUList, an ObservedSpectrum or a (wave, flux[, sigma]) tuple")
