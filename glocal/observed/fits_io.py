"""FITS spectra: 1-D/2-D/3-D images with a wavelength WCS, and binary tables.

Images
    The dispersion axis is axis 1.  Its wavelengths are evaluated with ``astropy.wcs`` (the FITS WCS of
    Greisen & Calabretta 2002 and Greisen et al. 2006: CRVAL1, CDELT1 or CD1_1 (CD wins), CRPIX1, PC,
    CTYPE1 = 'WAVE-LOG' …), the library that specutils' ``wcs1d-fits`` loader uses internally.  That loader
    itself is not used: it rejects headers whose BUNIT astropy cannot parse (MIKE's 'DU/PIXEL'), ignores
    IRAF's ``DC-FLAG`` and cannot read rows of a 2-D image.  On top of the WCS: ``DC-FLAG = 1`` (IRAF)
    means the axis holds log10(λ/Å); the unit is CUNIT1, else IRAF's ``WAT1_001 units=``, else Å.
    IRAF ``MULTISPE`` headers give one solution per row in ``WAT2_*`` (dispersion types 0 = linear and
    1 = log-linear, with Doppler factor 1/(1+z), evaluated here; type 2 = Chebyshev/Legendre evaluated by
    specutils' IRAF multispec loader, other types refused with a clear message).
    Layouts: (n_pix,) one spectrum; (n_rows, n_pix) one spectrum per row (orders or apertures);
    (n_bands, n_rows, n_pix) IRAF bands: the spectrum is the band whose ``BANDIDn`` starts with "spectrum"
    or "object" (else band 1), the 1σ error a band whose ``BANDIDn`` says "sigma", "error" or "noise".
    Error/mask images in extensions named ERR/ERROR/SIGMA/UNCERT/STDDEV (σ), IVAR/INVVAR, VAR/VARIANCE,
    MASK/DQ/QUALITY/BADPIX (non-zero = bad) are used when their shape matches.
Tables
    The first table HDU with recognisable columns (:mod:`glocal.observed.columns`).  Scalar columns hold one
    spectrum (a row per pixel); array columns hold one spectrum per row.  Units from TUNITn.  CALSPEC
    files (HISTORY "WAVELENGTH RANGE … SOURCE" block) are cut to the observed segments: their model
    extension (source "… Model") is not data.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
from astropy.io import fits

from glocal.observed.columns import (
    SpectrumFormatError,
    find_columns,
    flux_unit_string,
    make_spectrum,
    wave_unit_scale,
)
from glocal.observed.medium import medium_from_header

__all__ = ["read_fits_hdulist"]

_SIGMA_EXT = ("ERR", "ERROR", "SIGMA", "UNCERT", "STDDEV", "NOISE")
_IVAR_EXT = ("IVAR", "INVVAR")
_VAR_EXT = ("VAR", "VARIANCE")
_MASK_EXT = ("MASK", "DQ", "QUALITY", "BADPIX")
_AUX_EXT = _SIGMA_EXT + _IVAR_EXT + _VAR_EXT + _MASK_EXT
_RES_KEYS = ("SPECRES", "RESOLUTION", "RESOLVPW", "SPEC_RES", "R_SPEC")
_META_KEYS = {"object": ("OBJECT", "OBJNAME", "TARGETID", "TARGNAME", "STAR"),
              "ra": ("RA-D", "RA", "RA_TARG", "RA_OBJ", "PLUG_RA"),
              "dec": ("DEC-D", "DEC", "DEC_TARG", "DEC_OBJ", "PLUG_DEC")}


def _header_meta(header, source: str, hdu_index: int) -> dict:
    meta = {"source": source, "hdu": hdu_index}
    for key, names in _META_KEYS.items():
        for n in names:
            if n in header and str(header[n]).strip():
                meta[key] = header[n]
                break
    if "BUNIT" in header:
        meta["bunit"] = str(header["BUNIT"])
    for k in _RES_KEYS:
        v = header.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 10:
            meta["resolution"] = float(v)
            meta["resolution_keyword"] = k
            break
    dopcor = [str(header[k]).strip() for k in header if str(k).startswith("DOPCOR")]
    if dopcor:
        meta["dopcor"] = dopcor
    return meta


# ----------------------------------------------------------------------------- image wavelengths
def _wat_text(header, axis: int) -> str:
    keys = sorted(k for k in header if re.fullmatch(rf"WAT{axis}_\d+", str(k)))
    return "".join(str(header[k]).ljust(68) for k in keys)


def _wat_unit(header) -> str:
    m = re.search(r"units=(\S+)", _wat_text(header, 1))
    return m.group(1) if m else ""


def _multispec_waves(header, n_rows: int, n_pix: int) -> np.ndarray:
    specs = re.findall(r'spec(\d+)\s*=\s*"([^"]*)"', _wat_text(header, 2))
    if len(specs) < n_rows:
        raise SpectrumFormatError(f"MULTISPE header describes {len(specs)} spectra, the image has {n_rows} rows")
    ltv, ltm = float(header.get("LTV1", 0.0)), float(header.get("LTM1_1", 1.0))
    phys = (np.arange(1, n_pix + 1) - ltv) / ltm
    scale = wave_unit_scale(_wat_unit(header) or "Angstrom")
    out = np.empty((n_rows, n_pix))
    for row, (_, text) in enumerate(specs[:n_rows]):
        f = text.split()
        dtype, w1, dw, z = int(f[2]), float(f[3]), float(f[4]), float(f[6])
        if dtype == 2:
            return _nonlinear_multispec(header, n_rows, n_pix) * scale
        if dtype not in (0, 1):
            raise SpectrumFormatError(f"IRAF multispec dispersion type {dtype} is not supported")
        lin = w1 + dw * (phys - 1.0)
        out[row] = (10.0 ** lin if dtype == 1 else lin) / (1.0 + z) * scale
    return out


def _nonlinear_multispec(header, n_rows: int, n_pix: int) -> np.ndarray:
    """IRAF non-linear dispersions (Chebyshev, Legendre) evaluated by specutils' multispec loader."""
    from specutils.io.default_loaders.wcs_fits import non_linear_multispec_fits
    hdr = header.copy()
    hdr["NAXIS"], hdr["NAXIS1"], hdr["NAXIS2"] = 2, n_pix, n_rows
    hdr.setdefault("WCSDIM", 2)
    try:
        coll = non_linear_multispec_fits(fits.HDUList([fits.PrimaryHDU(np.zeros((n_rows, n_pix)), hdr)]),
                                         spectral_axis_unit="Angstrom", flux_unit="")
        waves = np.asarray(coll.spectral_axis.value, dtype=np.float64).reshape(-1, n_pix)
    except (ValueError, KeyError, IndexError, NotImplementedError) as exc:
        raise SpectrumFormatError(f"IRAF non-linear multispec dispersion not readable ({type(exc).__name__}: "
                                  f"{exc}); linearise it first (IRAF dispcor) or write a table") from None
    if waves.shape[0] < n_rows:
        raise SpectrumFormatError(f"MULTISPE header describes {waves.shape[0]} spectra, the image has {n_rows} rows")
    return waves[:n_rows]


def _linear_waves(header, n_pix: int) -> np.ndarray:
    from astropy.wcs import WCS
    if "CRVAL1" not in header or not any(k in header for k in ("CDELT1", "CD1_1", "PC1_1")):
        raise SpectrumFormatError("image without a wavelength solution (needs CRVAL1 and CDELT1 or CD1_1)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcs = WCS(header, naxis=[1])
    world = np.asarray(wcs.pixel_to_world_values(np.arange(n_pix, dtype=float)), dtype=np.float64).ravel()
    if int(header.get("DC-FLAG", 0)) == 1:
        return 10.0 ** world
    cunit = str(wcs.wcs.cunit[0]).strip()
    return world * wave_unit_scale(cunit or _wat_unit(header) or "Angstrom")


def _image_waves(header, n_rows: int, n_pix: int) -> np.ndarray:
    if str(header.get("CTYPE1", "")).upper().startswith("MULTISPE"):
        waves = _multispec_waves(header, n_rows, n_pix)
    else:
        waves = np.broadcast_to(_linear_waves(header, n_pix), (n_rows, n_pix))
    if not np.all(np.isfinite(waves)) or np.any(waves <= 0):
        raise SpectrumFormatError(
            f"the header wavelength solution gives non-positive or non-finite wavelengths "
            f"(CRVAL1={header.get('CRVAL1')!r}, CDELT1={header.get('CDELT1')!r}, CD1_1={header.get('CD1_1')!r})"
        )
    return waves


# ----------------------------------------------------------------------------- images
def _aux_images(hdul, data_hdu, shape) -> dict:
    out = {}
    for h in hdul:
        if h is data_hdu or h.data is None or not isinstance(h, (fits.ImageHDU, fits.PrimaryHDU)):
            continue
        name = str(h.name).upper()
        if np.shape(h.data) != shape:
            continue
        for role, names in (("sigma", _SIGMA_EXT), ("ivar", _IVAR_EXT), ("var", _VAR_EXT), ("bad", _MASK_EXT)):
            if name in names and role not in out:
                out[role] = np.asarray(h.data)
    return out


def _image_layout(data, header):
    """(rows (n_rows, n_pix), sigma rows or None) of an image of 1, 2 or 3 axes."""
    if data.ndim == 1:
        return data[None, :], None
    if data.ndim == 2:
        return data, None
    if data.ndim == 3:
        ids = [str(header.get(f"BANDID{b + 1}", "")) for b in range(data.shape[0])]
        spec = next((b for b, t in enumerate(ids) if re.match(r"\s*(spectrum|object)", t, re.I)), 0)
        sig = next((data[b] for b, t in enumerate(ids) if b != spec and re.search(r"sigma|error|noise", t, re.I)),
                   None)
        return data[spec], sig
    raise SpectrumFormatError(f"image with {data.ndim} axes; expected 1 (a spectrum), 2 (rows) or 3 (IRAF bands)")


def _read_image(hdul, index: int, source: str, medium, default_medium: str, name: str) -> list:
    h = hdul[index]
    header = h.header
    data = np.asarray(h.data, dtype=np.float64)
    rows, sig_rows = _image_layout(data, header)
    aux = _aux_images(hdul, h, data.shape)
    aux = {k: (v if v.ndim == rows.ndim else v.reshape(rows.shape)) for k, v in aux.items()}
    waves = _image_waves(header, rows.shape[0], rows.shape[1])
    med, reason = (medium, "option") if medium else medium_from_header(header, default=default_medium)
    base = _header_meta(header, source, index)
    base.update(flux_unit=flux_unit_string(header.get("BUNIT")), medium_reason=reason)
    out = []
    for r in range(rows.shape[0]):
        meta = dict(base, name=name if rows.shape[0] == 1 else f"{name}[{r}]", row=r)
        sigma = sig_rows[r] if sig_rows is not None else (aux["sigma"][r] if "sigma" in aux else None)
        out.append(make_spectrum(waves[r], rows[r], medium=med, meta=meta, sigma=sigma,
                                 ivar=aux["ivar"][r] if "ivar" in aux else None,
                                 var=aux["var"][r] if "var" in aux else None,
                                 bad=aux["bad"][r] if "bad" in aux else None))
    return out


# ----------------------------------------------------------------------------- tables
def _calspec_data_ranges(primary_header) -> list[tuple[float, float]] | None:
    """Observed (non-model) wavelength segments of a CALSPEC file from its HISTORY source table."""
    if "HISTORY" not in primary_header:
        return None
    hist = [str(c) for c in primary_header["HISTORY"]]
    start = next((i for i, c in enumerate(hist) if "WAVELENGTH RANGE" in c and "SOURCE" in c), None)
    if start is None:
        return None
    data, any_row = [], False
    for card in hist[start + 1:]:
        m = re.match(r"\s*(\d+(?:\.\d*)?)\s+(\d+(?:\.\d*)?)\s+(\S.*)$", card)
        if card.strip().startswith("---"):
            continue
        if not m:
            break
        any_row = True
        if "model" not in m.group(3).lower():
            data.append((float(m.group(1)), float(m.group(2))))
    return data if any_row else None


_CALSPEC_RV = re.compile(r"radial\s+vel\w*\s*=\s*(-?\d+(?:\.\d*)?)", re.I)
_CALSPEC_SED = re.compile(r"Teff,\s*log g,\s*log z,\s*E\(B-V\)\s*=\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)")


def _calspec_meta(primary_header) -> dict:
    """CALSPEC HISTORY facts: the radial velocity (km/s) applied to the appended model, and the BOSZ SED fit
    (Teff, log g, log z, E(B−V)) — recorded in ``meta``, not applied."""
    if "HISTORY" not in primary_header:
        return {}
    text = " ".join(str(c) for c in primary_header["HISTORY"])
    out = {}
    if m := _CALSPEC_RV.search(text):
        out["calspec_rv_kms"] = float(m.group(1))
    if m := _CALSPEC_SED.search(text):
        out["calspec_sed_fit"] = dict(zip(("teff", "logg", "logz", "ebv"), (float(g) for g in m.groups())))
    return out


def _column(tab, name, rows):
    return None if name is None else np.asarray(tab[name], dtype=np.float64).reshape(rows, -1)


def _read_table(hdul, index: int, source: str, medium, default_medium: str, name: str) -> list:
    from astropy.table import Table
    h = hdul[index]
    tab = Table(h.data)
    desc = {h.header.get(f"TTYPE{i}"): h.header.comments[f"TTYPE{i}"]
            for i in range(1, len(tab.colnames) + 1) if f"TTYPE{i}" in h.header}
    cols = find_columns(tab.colnames, desc)
    units = {h.header.get(f"TTYPE{i}"): h.header.get(f"TUNIT{i}", "") for i in range(1, len(tab.colnames) + 1)}
    per_row = np.ndim(tab[cols["flux"]]) == 2
    n = len(tab) if per_row else 1
    log_wave = cols["wave"].upper().startswith("LOG")
    wave = _column(tab, cols["wave"], n)
    if not log_wave:
        wave = wave * wave_unit_scale(units.get(cols["wave"]))
    if wave.shape[0] != n:
        wave = np.broadcast_to(wave.reshape(-1), (n, wave.size))
    get = {role: _column(tab, cols[role], n) for role in ("flux", "sigma", "ivar", "var", "bad", "good", "fwhm")}
    header = hdul[0].header.copy()
    header.extend(h.header, unique=True)
    med, reason = (medium, "option") if medium else medium_from_header(header, tab.colnames, default_medium)
    base = _header_meta(header, source, index)
    base.update(flux_unit=flux_unit_string(units.get(cols["flux"])), medium_reason=reason, columns=cols)
    ranges = _calspec_data_ranges(hdul[0].header)
    if ranges:
        base.update(_calspec_meta(hdul[0].header))
    names = _row_names(tab, n, name)
    out = []
    for r in range(n):
        arr = {k: (None if v is None else v[r]) for k, v in get.items()}
        spec = make_spectrum(wave[r], arr.pop("flux"), medium=med, meta=dict(base, name=names[r], row=r),
                             log_wave=log_wave, **arr)
        out.append(_cut_to(spec, ranges) if ranges else spec)
    return out


def _row_names(tab, n: int, name: str) -> list[str]:
    for c in tab.colnames:
        if c.upper() in ("NAME", "OBJECT", "OBJNAME", "STAR") and np.ndim(tab[c]) == 1 and len(tab) == n:
            return [str(v).strip() for v in tab[c]]
    return [name] if n == 1 else [f"{name}[{i}]" for i in range(n)]


def _cut_to(spec, ranges):
    """Keep the pixels inside the observed CALSPEC segments (the model extension is dropped)."""
    from dataclasses import replace
    keep = np.zeros(spec.n_pix, bool)
    for lo, hi in ranges:
        keep |= (spec.wave >= lo) & (spec.wave <= hi)
    if keep.all():
        return spec
    meta = dict(spec.meta, calspec_data_ranges=ranges, n_model_pixels_cut=int((~keep).sum()))
    if "fwhm" in meta:
        meta["fwhm"] = meta["fwhm"][keep]
    return replace(spec, wave=spec.wave[keep], flux=spec.flux[keep], mask=spec.mask[keep],
                   sigma=None if spec.sigma is None else spec.sigma[keep], meta=meta)


# ----------------------------------------------------------------------------- dispatch
def read_fits_hdulist(hdul, source: str, name: str, *, medium=None, default_medium: str = "air",
                      hdu=None) -> list:
    """Spectra in an open HDUList: the HDU ``hdu`` (index or name) or the first HDU that holds one.

    Images are tried in file order, skipping error/mask extensions; tables without recognisable columns
    are skipped.  SpectrumFormatError listing what each HDU held when none holds a spectrum.
    """
    indices = [hdul.index_of(hdu)] if hdu is not None else range(len(hdul))
    problems = []
    for i in indices:
        h = hdul[i]
        if h.data is None or (hdu is None and str(h.name).upper() in _AUX_EXT):
            continue
        if isinstance(h, (fits.BinTableHDU, fits.TableHDU)):
            try:
                return _read_table(hdul, i, source, medium, default_medium, name)
            except SpectrumFormatError as exc:
                problems.append(f"HDU {i}{f' ({h.name})' if h.name else ''}: {exc}")
                continue
        if isinstance(h, (fits.PrimaryHDU, fits.ImageHDU)) and np.size(h.data) > 0:
            return _read_image(hdul, i, source, medium, default_medium, name)
    raise SpectrumFormatError("no spectrum found: " + ("; ".join(problems) or "no HDU holds data"))
