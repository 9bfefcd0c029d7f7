"""``glocal predict FILE -o out.csv --band paper``: the paper's two-label runs through glocal.observed,
one row per spectrum, the five-label schema, band choice, mask filling, refusal flags for calibrated and
out-of-domain input.  The default five-label runs are tested in test_predict_observed.py."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.table import Table

from glocal.cli import main
from glocal.degrade import csst_grid
from glocal.observed.predict import LABEL_COLUMNS, MAX_INTERIOR_GAP, fill_masked

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real_spectra"
COLUMNS = ["source", "index", "object", "name", "run", "band", "flux_kind", "n_pixels_used",
           "n_pixels_interpolated"] + [c for lab in LABEL_COLUMNS for c in (lab, f"{lab}_std", f"{lab}_err95")]
COLUMNS += [c for lab in LABEL_COLUMNS for c in (f"{lab}_std_real", f"{lab}_err95_real")] + ["flag"]


def star(lo=2550.0, hi=10000.0, step=0.5, seed=0):
    """A normalised spectrum: continuum 1 with 300 Gaussian absorption lines (σ = 0.6 Å)."""
    wave = np.arange(lo, hi + 1e-9, step)
    rng = np.random.default_rng(seed)
    flux = np.ones_like(wave)
    for c, d in zip(rng.uniform(lo, hi, 300), rng.uniform(0.1, 0.6, 300)):
        flux -= d * np.exp(-0.5 * ((wave - c) / 0.6) ** 2)
    return wave, np.clip(flux, 0.05, None)


def write_image(path, wave, flux, **cards):
    hdu = fits.PrimaryHDU(np.asarray(flux, dtype=np.float64))
    hdu.header.update(CRVAL1=wave[0], CDELT1=wave[1] - wave[0], CRPIX1=1, CTYPE1="LINEAR", **cards)
    hdu.writeto(path)
    return path


def write_table(path, wave, flux, unit=None):
    tab = Table({"WAVE": wave, "FLUX": flux})
    if unit:
        tab["FLUX"].unit = unit
    tab.write(path, format="fits")
    return path


def write_csv(path, wave, flux):
    np.savetxt(path, np.column_stack([wave, flux]), delimiter=",", header="wave,flux", comments="")
    return path


def gzip_file(src, dst):
    with open(src, "rb") as f, gzip.open(dst, "wb") as g:
        shutil.copyfileobj(f, g)
    return dst


def run_predict(tmp_path, files, *extra, name="out.csv"):
    out = tmp_path / name
    if "--band" not in extra:
        extra = (*extra, "--band", "paper")
    assert main(["predict", *map(str, files), "-o", str(out), *extra]) == 0
    df = pd.read_csv(out)
    text = ["source", "object", "name", "run", "band", "flux_kind", "flag"]
    df[text] = df[text].astype(object).where(df[text].notna(), "")     # empty CSV fields are ""
    return df


def refused(row):
    return all(np.isnan(row[lab]) and np.isnan(row[f"{lab}_std"]) for lab in LABEL_COLUMNS)


@pytest.fixture(scope="module")
def formats(tmp_path_factory):
    """One CLI call on the same synthetic star written as FITS image, FITS table, .fits.gz and CSV."""
    tmp = tmp_path_factory.mktemp("formats")
    wave, flux = star()
    files = [write_image(tmp / "image.fits", wave, flux, OBJECT="SYNTH A"),
             write_table(tmp / "table.fits", wave, flux),
             gzip_file(write_image(tmp / "plain.fits", wave, flux), tmp / "image.fits.gz"),
             write_csv(tmp / "star.csv", wave, flux)]
    return run_predict(tmp, files), files


def test_every_format_gives_one_row_with_numbers_and_no_flag(formats):
    df, files = formats
    assert list(df.columns) == COLUMNS
    assert len(df) == len(files)
    assert [Path(s).name for s in df["source"]] == [f.name for f in files]
    assert (df["index"] == 0).all() and df["object"].iloc[0] == "SYNTH A"
    for _, row in df.iterrows():
        assert row["flag"] == "", row["flag"]
        assert row["band"] == "full" and row["flux_kind"] == "normalized"
        assert row["run"] == "pretrained:spt-glocal-full"
        assert all(np.isnan(row[f"{lab}_std_real"]) for lab in LABEL_COLUMNS)   # no real-star term for this run
        assert row["n_pixels_used"] == 274 and row["n_pixels_interpolated"] == 0
        for lab in ("ofe", "mgfe"):
            assert np.isfinite(row[lab]) and -1.0 < row[lab] < 2.0
            assert np.isfinite(row[f"{lab}_std"]) and row[f"{lab}_std"] > 0
        for lab in ("teff", "logg", "feh"):         # not predicted by the shipped runs: NaN columns
            assert np.isnan(row[lab]) and np.isnan(row[f"{lab}_std"])
    # the same star in every format: the same prepared input, so the same answer within MC noise
    assert np.ptp(df["ofe"]) < 2 * df["ofe_std"].max() and np.ptp(df["mgfe"]) < 2 * df["mgfe_std"].max()


def test_calibrated_negative_and_short_spectra_are_refused(tmp_path):
    wave, flux = star()
    sed = 1e-14 * (wave / 5000.0) ** -2 * flux
    short = (wave >= 5000) & (wave <= 6000)
    files = [write_table(tmp_path / "flam.fits", wave, sed, unit="erg / (s cm2 Angstrom)"),
             write_csv(tmp_path / "relative.csv", wave, sed),       # no unit: detected from the values
             write_csv(tmp_path / "minus_one.csv", wave, -np.ones_like(wave)),
             write_csv(tmp_path / "short.csv", wave[short], flux[short]),
             write_csv(tmp_path / "coarse.csv", wave[::40], flux[::40]),         # 20 Å pixels: R < 200
             write_csv(tmp_path / "infrared.csv", wave + 9000.0, flux)]          # 11550-19000 Å
    df = run_predict(tmp_path, files)
    assert len(df) == 6 and all(refused(row) for _, row in df.iterrows())
    flags = list(df["flag"])
    assert flags[0] == "flux_calibrated_unsupported" and list(df["flux_kind"][:2]) == ["calibrated"] * 2
    assert flags[1] == "flux_calibrated_unsupported"
    assert "negative_flux" in flags[2].split(";")
    assert flags[3].startswith("insufficient_coverage(full=0.")
    assert flags[4].startswith("not_prepared(") and "coarser than the target" in flags[4]
    assert flags[5].startswith("not_prepared(") and "does not overlap" in flags[5]
    # stated as normalised, −1 everywhere is still refused (never a confident number)
    again = run_predict(tmp_path, [files[2]], "--flux", "normalized", name="forced.csv")
    assert refused(again.iloc[0]) and "negative_flux" in again["flag"][0]


def test_wrong_normalisation_is_refused(tmp_path):
    wave, flux = star()
    path = write_csv(tmp_path / "scaled.csv", wave, 1.8 * flux)
    df = run_predict(tmp_path, [path], "--flux", "normalized")
    assert refused(df.iloc[0]) and df["flag"][0].startswith("flux_out_of_range(")


def test_gaps_are_interpolated_or_refused(tmp_path):
    wave, flux = star()
    short_gap = flux.copy()
    short_gap[(wave > 6000) & (wave < 6040)] = np.nan
    long_gap = flux.copy()
    long_gap[(wave > 5000) & (wave < 6200)] = np.nan
    mike_like = (wave >= 3400) & (wave <= 9160)
    files = [write_csv(tmp_path / "short_gap.csv", wave, short_gap),
             write_csv(tmp_path / "long_gap.csv", wave, long_gap),
             write_image(tmp_path / "mike_like.fits", wave[mike_like], flux[mike_like])]
    df = run_predict(tmp_path, files)
    a, b, c = (df.iloc[i] for i in range(3))
    assert a["band"] == "full" and 0 < a["n_pixels_interpolated"] <= MAX_INTERIOR_GAP
    assert a["flag"] == f"interpolated_pixels={a['n_pixels_interpolated']}" and np.isfinite(a["ofe"])
    assert a["n_pixels_used"] + a["n_pixels_interpolated"] == 274
    assert refused(b) and b["flag"].startswith("insufficient_coverage(")
    # no UV: the paper's full-band run cannot answer (its optical sibling is not shipped)
    assert refused(c) and c["flag"].startswith("insufficient_coverage(full=0.")


def test_options_band_run_vacuum_and_several_spectra_per_file(tmp_path, capsys):
    wave, flux = star()
    hdu = fits.PrimaryHDU(np.stack([flux, flux]))
    hdu.header.update(CRVAL1=wave[0], CDELT1=wave[1] - wave[0], CRPIX1=1)
    hdu.writeto(tmp_path / "two.fits")
    df = run_predict(tmp_path, [tmp_path / "two.fits"], "--band", "full", "--vacuum", "--rv", "12.5")
    assert list(df["index"]) == [0, 1] and list(df["band"]) == ["full"] * 2
    assert list(df["n_pixels_used"]) == [274, 274] and (df["flag"] == "").all()
    assert np.isfinite(df["mgfe"]).all()
    out = tmp_path / "x.csv"
    assert main(["predict", str(tmp_path / "two.fits"), "-o", str(out), "--run", "pretrained:spt-glocal-full",
                 "--band", "paper"]) == 2
    assert "conflicts" in capsys.readouterr().err and not out.exists()
    assert main(["predict", str(tmp_path / "missing.fits"), "-o", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_help_states_options_defaults_and_rules(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for needle in ("--run", "--rv", "--vacuum", "--air", "--flux", "--band", "default: auto", "90 %",
                   "interpolated_pixels=N", "flux_calibrated_unsupported", "insufficient_coverage",
                   "negative_flux", "flux_out_of_range", "teff, logg, feh, ofe, mgfe", "_err95",
                   "near_training_edge", "4000-9000 A", "split-conformal"):
        assert needle in text, needle


def test_fill_masked_rule():
    flux = np.array([9.0, 1.0, 2.0, 9.0, 9.0, 5.0, 9.0])
    mask = np.array([True, False, False, True, True, False, True])
    filled, n = fill_masked(flux, mask)
    np.testing.assert_allclose(filled, [1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.0])
    assert n == 4
    assert fill_masked(flux, mask, max_gap=1) == (None, 4)
    assert fill_masked(flux, np.ones(7, bool)) == (None, 7)


def test_real_spectra_go_through_the_paper_runs(tmp_path):
    files = sorted(REAL.glob("*/*.fits*")) if REAL.is_dir() else []
    if not files:
        pytest.skip(f"no real spectra at {REAL} (the shared data folder is not present)")
    df = run_predict(tmp_path, files)
    assert len(df) >= len(files)
    for _, row in df.iterrows():
        if "/calspec/" in row["source"]:                # HST/STIS CALSPEC: F_lambda in erg/s/cm2/A
            assert row["flux_kind"] == "calibrated" and row["flag"] == "flux_calibrated_unsupported"
            assert refused(row)
        elif "/mike/" in row["source"]:                 # continuum-normalised MIKE, ~3400-9200 A
            assert row["flux_kind"] == "normalized"
            assert refused(row) and row["flag"].startswith("insufficient_coverage(full=0.")   # no UV


def test_exclude_option_removes_pixels_for_predict_and_fit(tmp_path, capsys):
    wave, flux = star()
    path = write_csv(tmp_path / "s.csv", wave, flux)
    full = run_predict(tmp_path, [path], "--band", "auto", "--no-fit-check", name="full.csv").iloc[0]
    opt = run_predict(tmp_path, [path], "--band", "auto", "--no-fit-check", "--exclude", "0-4000",
                      "--exclude", "6860-6960", name="opt.csv").iloc[0]
    assert full["band"].startswith("2550") and opt["band"].startswith("40")
    n_uv = int(np.sum(csst_grid() < 4000.0))
    assert opt["n_pixels_used"] + opt["n_pixels_interpolated"] <= full["n_pixels_used"] - n_uv
    assert np.isfinite([opt[lab] for lab in LABEL_COLUMNS]).all()
    assert any(abs(opt[lab] - full[lab]) > 1e-6 for lab in LABEL_COLUMNS)   # the pixels mattered
    out = tmp_path / "fit.csv"
    assert main(["fit", str(path), "-o", str(out), "--exclude", "0-4000"]) == 0
    fitted = pd.read_csv(out).iloc[0]
    assert fitted["n_pixels_used"] <= 274 - n_uv and fitted["band"] == "full without 0-4000"
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(path), "--exclude", "4000-0"])
    assert exc.value.code == 2 and "needs 0 <= LO < HI" in capsys.readouterr().err
