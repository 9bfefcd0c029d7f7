"""Readers of observed spectra (glocal.observed): every format written here from a synthetic spectrum and
read back to the same arrays; header WCS variants; gzip; errors; air/vacuum; masks; the real files."""
from __future__ import annotations

import csv
import gzip

import astropy.units as u
import h5py
import numpy as np
import pytest
from astropy.io import fits

from glocal.observed import ObservedSpectrum, SpectrumFormatError, air_to_vac, read_spectra, vac_to_air
from glocal.observed.medium import medium_from_header

N = 2000


def synthetic(lo=3000.0, hi=9000.0, n=N, seed=1):
    """A normalised spectrum with absorption lines on a linear grid, with a 1σ error."""
    wave = np.linspace(lo, hi, n)
    rng = np.random.default_rng(seed)
    flux = np.ones(n)
    for c in rng.uniform(lo, hi, 40):
        flux -= 0.5 * np.exp(-0.5 * ((wave - c) / 2.0) ** 2)
    return wave, flux, np.full(n, 0.01) + 0.001 * rng.random(n)


def image_hdu(flux, **cards):
    hdu = fits.PrimaryHDU(np.asarray(flux, dtype=np.float64))
    for k, v in cards.items():
        hdu.header[k.replace("_", "-") if k == "DC_FLAG" else k] = v
    return hdu


def only(specs):
    assert len(specs) == 1
    return specs[0]


# ----------------------------------------------------------------------------- FITS images
def test_image_linear_wcs(tmp_path):
    wave, flux, _ = synthetic()
    path = tmp_path / "lin.fits"
    image_hdu(flux, CRVAL1=wave[0], CDELT1=wave[1] - wave[0], CRPIX1=1, CTYPE1="LINEAR", OBJECT="STAR A").writeto(path)
    s = only(read_spectra(path))
    np.testing.assert_allclose(s.wave, wave, rtol=1e-12)
    np.testing.assert_array_equal(s.flux, flux)
    assert s.sigma is None and not s.mask.any()
    assert s.medium == "air" and s.meta["medium_reason"] == "default"
    assert s.meta["object"] == "STAR A" and s.name == "lin"


def test_image_cd_and_crpix(tmp_path):
    wave, flux, _ = synthetic()
    step = wave[1] - wave[0]
    path = tmp_path / "cd.fits"
    # reference pixel 11 (1-based) holds wave[10]; only CD1_1, no CDELT1
    image_hdu(flux, CRVAL1=wave[10], CD1_1=step, CRPIX1=11.0).writeto(path)
    s = only(read_spectra(path))
    np.testing.assert_allclose(s.wave, wave, rtol=1e-12)


def test_image_log_linear_dcflag(tmp_path):
    n = 3000
    loglam = 3.5 + 1e-4 * np.arange(n)
    wave = 10.0 ** loglam
    flux = 1.0 + 0.1 * np.sin(wave / 50.0)
    path = tmp_path / "log.fits"
    image_hdu(flux, CRVAL1=3.5, CDELT1=1e-4, CD1_1=1e-4, CRPIX1=1, CTYPE1="LINEAR", DC_FLAG=1).writeto(path)
    s = only(read_spectra(path))
    np.testing.assert_allclose(s.wave, wave, rtol=1e-12)
    np.testing.assert_array_equal(s.flux, flux)


def test_image_wave_log_ctype_in_nm(tmp_path):
    wave = 400.0 * np.exp(1e-4 * np.arange(1000))  # nm
    path = tmp_path / "wavelog.fits"
    image_hdu(np.ones(1000), CTYPE1="WAVE-LOG", CUNIT1="nm", CRVAL1=400.0, CDELT1=400.0 * 1e-4, CRPIX1=1).writeto(path)
    s = only(read_spectra(path))
    np.testing.assert_allclose(s.wave, wave * 10.0, rtol=1e-10)


def test_image_rows_and_extensions(tmp_path):
    wave, flux, sigma = synthetic()
    rows = np.stack([flux, 2 * flux, 3 * flux])
    mask = np.zeros_like(rows, dtype=np.int16)
    mask[1, 100:110] = 4
    hdul = fits.HDUList([image_hdu(rows, CRVAL1=wave[0], CDELT1=wave[1] - wave[0], CRPIX1=1),
                         fits.ImageHDU(np.stack([sigma] * 3), name="ERR"), fits.ImageHDU(mask, name="DQ")])
    path = tmp_path / "rows.fits"
    hdul.writeto(path)
    specs = read_spectra(path)
    assert len(specs) == 3
    for r, s in enumerate(specs):
        np.testing.assert_allclose(s.wave, wave, rtol=1e-12)
        np.testing.assert_array_equal(s.flux, (r + 1) * flux)
        np.testing.assert_array_equal(s.sigma, sigma)
        assert s.name == f"rows[{r}]"
    assert specs[1].mask.sum() == 10 and specs[1].mask[100:110].all() and not specs[0].mask.any()


def test_iraf_multispec_and_bands(tmp_path):
    n = 500
    rows = np.stack([np.linspace(1, 2, n), np.linspace(3, 4, n)])
    hdu = image_hdu(np.stack([rows, 0.1 * rows]), CTYPE1="MULTISPE", CTYPE2="MULTISPE", WCSDIM=2,
                    BANDID1="spectrum", BANDID2="sigma - errors")
    hdu.header["WAT0_001"] = "system=multispec"
    hdu.header["WAT1_001"] = "wtype=multispec label=Wavelength units=angstroms"
    hdu.header["WAT2_001"] = 'wtype=multispec spec1 = "1 71 0 4000. 0.5 500 0. 1. 2." spec2 = "2 72 1 3.7 0.0001'
    hdu.header["WAT2_002"] = ' 500 0. 1. 2."'
    path = tmp_path / "ms.fits"
    hdu.writeto(path)
    a, b = read_spectra(path)
    np.testing.assert_allclose(a.wave, 4000.0 + 0.5 * np.arange(n))
    np.testing.assert_allclose(b.wave, 10.0 ** (3.7 + 1e-4 * np.arange(n)))
    np.testing.assert_array_equal(b.flux, rows[1])
    np.testing.assert_allclose(b.sigma, 0.1 * rows[1])


def test_iraf_nonlinear_multispec_via_specutils():
    """Chebyshev (ftype 1) and Legendre (ftype 2) dispersions, checked against numpy's polynomials on
    IRAF's normalised pixel coordinate x = (2p − (pmax + pmin)) / (pmax − pmin)."""
    n = 400
    hdu = image_hdu(np.stack([np.ones(n), 2 * np.ones(n), 3 * np.ones(n)]), CTYPE1="MULTISPE", CTYPE2="MULTISPE",
                    WCSDIM=2)
    hdu.header["WAT0_001"] = "system=multispec"
    hdu.header["WAT1_001"] = "wtype=multispec label=Wavelength units=angstroms"
    text = ('wtype=multispec spec1 = "1 71 2 4900. 0.5 400 0. 1. 2. 1. 0. 1 3 1. 400. 5000. 100. 2." '
            'spec2 = "2 72 2 5900. 0.5 400 0. 1. 2. 1. 0. 2 3 1. 400. 6000. 100. 2." '
            'spec3 = "3 73 0 7000. 0.25 400 0. 1. 2."')
    for i in range(0, len(text), 68):
        hdu.header[f"WAT2_{i // 68 + 1:03d}"] = text[i:i + 68]
    a, b, c = read_spectra(fits.HDUList([hdu]))
    x = (2 * np.arange(1, n + 1) - 401.0) / 399.0
    np.testing.assert_allclose(a.wave, np.polynomial.chebyshev.chebval(x, [5000, 100, 2]), rtol=1e-13)
    np.testing.assert_allclose(b.wave, np.polynomial.legendre.legval(x, [6000, 100, 2]), rtol=1e-13)
    np.testing.assert_allclose(c.wave, 7000 + 0.25 * np.arange(n), rtol=1e-13)
    np.testing.assert_array_equal(c.flux, 3.0)


def test_iraf_bands_pick_the_object_band(tmp_path):
    n = 300
    bands = np.stack([np.full(n, 9.0), np.linspace(1, 2, n), np.full(n, 0.05)])  # sky, object, sigma
    hdu = image_hdu(bands[:, None, :], CRVAL1=5000.0, CDELT1=0.1, CRPIX1=1, BANDID1="sky",
                    BANDID2="object spectrum", BANDID3="error spectrum")
    path = tmp_path / "bands.fits"
    hdu.writeto(path)
    s = only(read_spectra(path))
    np.testing.assert_array_equal(s.flux, bands[1])
    np.testing.assert_array_equal(s.sigma, bands[2])


def test_image_without_wavelength_solution(tmp_path):
    path = tmp_path / "nowcs.fits"
    image_hdu(np.ones(100)).writeto(path)
    with pytest.raises(SpectrumFormatError, match=r"nowcs\.fits.*CRVAL1"):
        read_spectra(path)


# ----------------------------------------------------------------------------- FITS tables
def calspec_like(wave, flux, sigma, good):
    cols = [fits.Column("WAVELENGTH", "D", unit="ANGSTROMS", array=wave),
            fits.Column("FLUX", "E", unit="FLAM", array=flux), fits.Column("STATERROR", "E", unit="FLAM", array=sigma),
            fits.Column("FWHM", "E", unit="ANGSTROMS", array=wave / 800.0), fits.Column("DATAQUAL", "I", array=good)]
    tab = fits.BinTableHDU.from_columns(cols, name="SCI")
    tab.header.comments["TTYPE5"] = "Data quality: 1=good, 0=bad"
    prim = fits.PrimaryHDU()
    prim.header["TARGETID"] = "FAKE1"
    for card in ("All wavelengths are in vacuum.", "WAVELENGTH RANGE         SOURCE                FILE",
                 "----------------   ----------------------   ----------", " 3000    8000       STIS      f.mrg",
                 " 8000   9000       Bohlin et al. 2017      BOSZ R=500 Model", "CHANGES from previous version:"):
        prim.header.add_history(card)
    return fits.HDUList([prim, tab])


def test_calspec_like_table_gz(tmp_path):
    wave, flux, sigma = synthetic()
    good = np.ones(N, np.int16)
    good[50:60] = 0
    path = tmp_path / "star_stis_001.fits.gz"
    raw = tmp_path / "raw.fits"
    calspec_like(wave, 1e-14 * flux, 1e-14 * sigma, good).writeto(raw)
    path.write_bytes(gzip.compress(raw.read_bytes()))
    s = only(read_spectra(path))
    keep = wave <= 8000.0  # the "Model" segment is cut
    np.testing.assert_array_equal(s.wave, wave[keep])
    np.testing.assert_allclose(s.flux, (1e-14 * flux[keep]).astype(np.float32), rtol=0)
    np.testing.assert_allclose(s.sigma, (1e-14 * sigma[keep]).astype(np.float32), rtol=0)
    assert s.mask.sum() == 10 and s.mask[50:60].all()
    assert s.medium == "vacuum" and s.meta["medium_reason"] == "HISTORY/COMMENT"
    assert s.name == "star_stis_001" and s.meta["object"] == "FAKE1"
    assert "erg" in s.meta["flux_unit"] and s.meta["n_model_pixels_cut"] == int((~keep).sum())
    np.testing.assert_allclose(s.meta["fwhm"], (wave[keep] / 800.0).astype(np.float32))


def test_sdss_like_table_loglam_ivar_and_mask(tmp_path):
    loglam = 3.58 + 1e-4 * np.arange(1500)
    flux = np.linspace(5, 6, 1500)
    ivar = np.full(1500, 4.0)
    ivar[10] = 0.0
    and_mask = np.zeros(1500, np.int32)
    and_mask[20] = 1 << 3
    or_mask = np.ones(1500, np.int32)  # AND_MASK wins over OR_MASK
    cols = [fits.Column("flux", "E", array=flux), fits.Column("loglam", "E", array=loglam),
            fits.Column("ivar", "E", array=ivar), fits.Column("and_mask", "J", array=and_mask),
            fits.Column("or_mask", "J", array=or_mask)]
    path = tmp_path / "spec.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(path)
    s = only(read_spectra(path))
    np.testing.assert_allclose(s.wave, 10.0 ** loglam.astype(np.float32).astype(float), rtol=1e-12)
    assert s.medium == "vacuum"
    np.testing.assert_allclose(s.sigma[~s.mask], 0.5)
    assert np.flatnonzero(s.mask).tolist() == [10, 20]


def test_table_array_columns_several_spectra_nm(tmp_path):
    wave, flux, _ = synthetic(n=300)
    cols = [fits.Column("NAME", "10A", array=["a", "b", "c"]),
            fits.Column("LAMBDA", "300D", unit="nm", array=np.stack([wave / 10.0] * 3)),
            fits.Column("FLUX", "300D", array=np.stack([flux, 2 * flux, 3 * flux]))]
    path = tmp_path / "multi.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(path)
    specs = read_spectra(path)
    assert [s.name for s in specs] == ["a", "b", "c"]
    for k, s in enumerate(specs):
        np.testing.assert_allclose(s.wave, wave, rtol=1e-12)
        np.testing.assert_array_equal(s.flux, (k + 1) * flux)


def test_table_without_recognisable_columns_lists_them(tmp_path):
    cols = [fits.Column("X", "D", array=np.arange(5.0)), fits.Column("Y", "D", array=np.ones(5))]
    path = tmp_path / "odd.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(path)
    with pytest.raises(SpectrumFormatError, match=r"odd\.fits.*\['X', 'Y'\]"):
        read_spectra(path)


# ----------------------------------------------------------------------------- corrupt files
def test_corrupt_files_give_clear_errors(tmp_path):
    wave, flux, _ = synthetic()
    good = tmp_path / "good.fits"
    image_hdu(flux, CRVAL1=wave[0], CDELT1=wave[1] - wave[0]).writeto(good)
    truncated = tmp_path / "truncated.fits"
    truncated.write_bytes(good.read_bytes()[:4000])
    garbage = tmp_path / "garbage.fits"
    garbage.write_bytes(b"SIMPLE  =  not really FITS" + bytes(range(256)) * 20)
    badgz = tmp_path / "bad.fits.gz"
    badgz.write_bytes(gzip.compress(good.read_bytes())[:500])
    for path in (truncated, garbage, badgz):
        with pytest.raises(ValueError, match=str(path.name).replace(".", r"\.") + ": corrupt") as exc:
            read_spectra(path)
        assert "Traceback" not in str(exc.value)
        assert exc.value.__cause__ is None or isinstance(exc.value.__cause__, ValueError)
    with pytest.raises(FileNotFoundError):
        read_spectra(tmp_path / "missing.fits")
    text = tmp_path / "words.txt"
    text.write_text("wave flux\n1 2\nthree four\n")
    with pytest.raises(SpectrumFormatError, match=r"words\.txt: a row is not numeric"):
        read_spectra(text)


# ----------------------------------------------------------------------------- text, HDF5, objects
@pytest.mark.parametrize("style", ["csv_header", "csv_plain", "whitespace_comments"])
def test_text_formats(tmp_path, style):
    wave, flux, sigma = synthetic(n=400)
    path = tmp_path / f"{style}.csv"
    body = np.column_stack([wave, flux, sigma])
    if style == "csv_header":
        np.savetxt(path, body, delimiter=",", header="wavelength,flux,error", comments="", fmt="%.17g")
    elif style == "csv_plain":
        np.savetxt(path, body, delimiter=",", fmt="%.17g")
    else:
        np.savetxt(path, body, header="a comment line\nwave flux err", fmt="%.17g")
    s = only(read_spectra(path))
    np.testing.assert_array_equal(s.wave, wave)
    np.testing.assert_array_equal(s.flux, flux)
    np.testing.assert_array_equal(s.sigma, sigma)


def test_text_unsorted_with_nan_and_unit(tmp_path):
    wave, flux, _ = synthetic(n=50)
    flux[7] = np.nan
    order = np.random.default_rng(3).permutation(50)
    path = tmp_path / "nm.txt"
    np.savetxt(path, np.column_stack([wave[order] / 10.0, flux[order]]), fmt="%.17g")
    s = only(read_spectra(path, wave_unit="nm"))
    np.testing.assert_allclose(s.wave, wave, rtol=1e-14)
    assert np.flatnonzero(s.mask).tolist() == [7]


def test_glocal_hdf5(tmp_path):
    wave, flux, _ = synthetic(n=300)
    path = tmp_path / "grid.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("wave", data=wave).attrs["medium"] = "air"
        h5.create_dataset("flux", data=np.stack([flux, 0.5 * flux]).astype(np.float32))
    a, b = read_spectra(path)
    np.testing.assert_array_equal(a.wave, wave)
    np.testing.assert_array_equal(b.flux, (0.5 * flux).astype(np.float32))
    assert a.meta["medium_reason"] == "/wave attribute medium" and b.name == "grid[1]"


def test_specutils_and_quantity_objects():
    from astropy.nddata import InverseVariance
    from specutils import Spectrum
    wave, flux, sigma = synthetic(n=200)
    mask = np.zeros(200, bool)
    mask[3] = True
    spec = Spectrum(flux=flux * u.Unit("erg / (s cm2 Angstrom)"), spectral_axis=wave / 10.0 * u.nm,
                    uncertainty=InverseVariance(1.0 / sigma**2), mask=mask)
    s = only(read_spectra(spec, medium="vacuum"))
    np.testing.assert_allclose(s.wave, wave, rtol=1e-12)
    np.testing.assert_allclose(s.sigma, sigma, rtol=1e-12)
    assert s.mask[3] and s.mask.sum() == 1 and s.medium == "vacuum" and "erg" in s.meta["flux_unit"]
    two = read_spectra(Spectrum(flux=np.stack([flux, flux]) * u.Jy, spectral_axis=wave * u.AA))
    assert len(two) == 2
    pair = only(read_spectra((wave * u.AA, flux * u.dimensionless_unscaled)))
    np.testing.assert_array_equal(pair.flux, flux)
    assert isinstance(read_spectra(pair)[0], ObservedSpectrum)
    with pytest.raises(TypeError, match="cannot read spectra"):
        read_spectra(42)


# ----------------------------------------------------------------------------- air / vacuum
# NIST ASD wavelengths (vacuum, air) in Å: Na I D2, D1; Ca II K, H; Mg I b1, b2, b3.
NIST = [(5891.5833, 5889.9510), (5897.5581, 5895.9242), (3934.777, 3933.663), (3969.591, 3968.469),
        (5185.048, 5183.604), (5174.125, 5172.684), (5168.761, 5167.322)]


def test_vac_to_air_published_lines():
    vac, air = np.array(NIST).T
    np.testing.assert_allclose(vac_to_air(vac), air, atol=2e-3)
    np.testing.assert_allclose(air_to_vac(air), vac, atol=2e-3)
    # Hα, quoted to 0.01 Å (6564.61 vacuum, 6562.80 air): agreement within that rounding
    assert abs(vac_to_air(6564.61) - 6562.80) < 6e-3 and abs(air_to_vac(6562.80) - 6564.61) < 6e-3


def test_air_vacuum_round_trip_and_monotonic():
    wave = np.linspace(1500.0, 25000.0, 200_001)
    air = vac_to_air(wave)
    assert np.all(np.diff(air) > 0)
    assert np.max(np.abs(air_to_vac(air) - wave)) < 1e-8
    assert np.max(np.abs(vac_to_air(air_to_vac(wave)) - wave)) < 1e-8


def test_medium_from_header_rules(tmp_path):
    assert medium_from_header({"AIRORVAC": "vac"}) == ("vacuum", "AIRORVAC")
    assert medium_from_header({"VACUUM": True}) == ("vacuum", "VACUUM")
    assert medium_from_header({"CTYPE1": "AWAV"}) == ("air", "CTYPE1=AWAV")
    assert medium_from_header({"CTYPE1": "WAVE"}) == ("air", "default")
    assert medium_from_header(None, ["WAVE_VAC", "FLUX"])[0] == "vacuum"
    assert medium_from_header(None, None, default="vacuum") == ("vacuum", "default")
    wave, flux, _ = synthetic()
    path = tmp_path / "vac.fits"
    image_hdu(flux, CRVAL1=wave[0], CDELT1=wave[1] - wave[0], CRPIX1=1, AIRORVAC="vac").writeto(path)
    s = only(read_spectra(path))
    assert s.medium == "vacuum"
    np.testing.assert_allclose(s.to_air().wave, vac_to_air(wave), rtol=1e-13)
    assert only(read_spectra(path, medium="air")).medium == "air"


def test_nan_flux_is_masked_not_fatal(tmp_path):
    wave, flux, _ = synthetic()
    flux[[5, 500]] = np.nan
    path = tmp_path / "nan.fits"
    image_hdu(flux, CRVAL1=wave[0], CDELT1=wave[1] - wave[0]).writeto(path)
    s = only(read_spectra(path))
    assert np.flatnonzero(s.mask).tolist() == [5, 500]


# ----------------------------------------------------------------------------- the real spectra
def test_every_real_spectrum_reads(shared_data):
    folder = shared_data / "real_spectra"
    if not folder.is_dir():
        pytest.skip(f"real spectra not found at {folder}")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".csv")
    assert len(files) >= 9
    with open(folder / "literature.csv") as fh:  # the BOSZ SED fits copied from the CALSPEC headers
        sed = {row["file"]: {k: float(row[f"sed_{k}"]) for k in ("teff", "logg", "logz", "ebv")}
               for row in csv.DictReader(fh) if row["sed_teff"]}
    for path in files:
        specs = read_spectra(path)
        assert len(specs) >= 1, path
        for s in specs:
            ok = np.isfinite(s.flux) & (s.flux > 0) & ~s.mask
            assert ok.mean() > 0.9, f"{path.name}: only {ok.mean():.0%} positive finite good pixels"
            if "calspec" in str(path):
                assert s.medium == "vacuum" and s.sigma is not None and "erg" in s.meta["flux_unit"]
                assert s.wave[-1] < (25000 if "stisnic" in path.name else 10200), "CALSPEC model part not cut"
                rel = str(path.relative_to(folder))
                if sed.get(rel):
                    assert s.meta["calspec_sed_fit"] == sed[rel], rel
            else:
                assert s.medium == "air" and 3300 < s.wave[0] < 3500 and 9100 < s.wave[-1] < 9500
