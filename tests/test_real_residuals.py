"""The smooth-nuisance residuals of glocal.validation.real_residuals (engine against flux-calibrated stars)."""
from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from dust_extinction.parameter_averages import G23

from glocal.degrade import csst_grid
from glocal.validation.real_residuals import residual_stats, smooth_residual


def _model(wave):
    rng = np.random.default_rng(1)
    return 1e-13 * (wave / 5000.0) ** -2 * (1 - 0.3 * rng.random(wave.size))   # a spectrum with "lines"


def test_a_smooth_calibration_error_and_reddening_leave_no_residual():
    wave = csst_grid()
    model = _model(wave)
    x = 1 / wave
    smooth = np.exp(0.2 * (x - x.mean()) / x.std() - 0.05 * ((x - x.mean()) / x.std()) ** 2)
    redden = 10 ** (-0.4 * 3.1 * 0.12 * np.asarray(G23(Rv=3.1)(wave * u.AA)))
    data = 3e5 * model * smooth * redden
    out = smooth_residual(wave, data, 0.01 * data, model, np.ones(wave.size, bool))
    assert np.nanmax(np.abs(out["residual"])) < 2e-3
    assert out["ebv"] == pytest.approx(0.12, abs=0.01)


def test_a_feature_the_model_lacks_stays_in_the_residual():
    wave = csst_grid()
    model = _model(wave)
    data = model.copy()
    dip = (wave > 2790) & (wave < 2810)
    data[dip] *= 0.8
    out = smooth_residual(wave, data, None, model, np.ones(wave.size, bool))
    assert np.nanmean(out["residual"][dip]) < -0.15
    st = residual_stats(wave, out["residual"])
    assert st["rms_uv"] > 5 * st["rms_optical"]
    assert st["n_uv"] + st["n_optical"] == wave.size


def test_too_few_pixels_is_an_error():
    wave = csst_grid()
    used = np.zeros(wave.size, bool)
    used[:5] = True
    with pytest.raises(ValueError, match="usable pixels"):
        smooth_residual(wave, _model(wave), None, _model(wave), used)


def test_committed_record_and_its_figure():
    """results/validation/real_residuals.json (scripts/real_residuals.py): one entry per shipped STIS star,
    the median recomputed from the entries, and the figure draws."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    from glocal import real_stars
    from glocal._io import read_json
    from glocal.plots import real_star_residuals
    rec = read_json(Path(__file__).resolve().parents[1] / "results" / "validation" / "real_residuals.json")
    lit = real_stars.load_literature().set_index("star")
    stis = sorted(s for s in real_stars.stars() if str(lit.loc[s, "file"]).startswith("calspec/"))
    assert sorted(s["star"] for s in rec["stars"]) == stis
    assert rec["median"]["rms_uv"] == pytest.approx(np.median([s["rms_uv"] for s in rec["stars"]]))
    for s in rec["stars"]:
        r = np.array([np.nan if v is None else v for v in s["residual"]], float)
        w = np.asarray(s["wave"])
        assert residual_stats(w, r)["rms_uv"] == pytest.approx(s["rms_uv"], rel=1e-9)
    fig = real_star_residuals(rec)
    assert len(fig.axes) == 2
    plt.close(fig)


def test_three_way_reads_both_caches(tmp_path):
    """glocal.validation.cross_check.three_way on hand-made caches: differences and response ratios."""
    from glocal.validation.cross_check import three_way
    w = np.linspace(2600.0, 9000.0, 40)
    base = np.full(w.size, 0.9)
    sme = np.stack([base, base - 0.01 * ((w > 3050) & (w < 3250)), base - 0.02 * ((w > 5160) & (w < 5190))])
    builtin = sme.copy()
    spectrum = sme.copy()
    spectrum[1] = base - 0.02 * ((w > 3050) & (w < 3250))        # twice SME's OH response
    spectrum[:, 0] += 0.05                                        # outside the windows
    (tmp_path / "b").mkdir()
    (tmp_path / "s").mkdir()
    np.savez(tmp_path / "b" / "4500_+1.50_-2.00.npz", wave_r200=w, builtin_r200=builtin, sme_r200=sme)
    np.savez(tmp_path / "s" / "4500_+1.50_-2.00.npz", wave_r200=w, spectrum_r200=spectrum)
    (row,) = three_way(tmp_path / "b", tmp_path / "s")
    assert (row["teff"], row["logg"], row["feh"]) == (4500.0, 1.5, -2.0)
    assert row["response_ratio_OH_spectrum"] == pytest.approx(2.0)
    assert row["response_ratio_OH_builtin"] == pytest.approx(1.0)
    assert row["max_spectrum"] == pytest.approx(0.05)
    assert row["wave_of_max_spectrum"] == pytest.approx(w[0])
