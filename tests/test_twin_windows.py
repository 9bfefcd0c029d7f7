"""The window transplant of glocal.twin_windows: the inputs it builds and, with the shipped runs and stars,
the offsets it reports."""
import numpy as np
import pytest

from glocal.twin_windows import OFFSET_WINDOW_EDGES, transplant_inputs, window_labels, window_offsets


def _spectra(n=120, seed=1):
    rng = np.random.default_rng(seed)
    wave = np.geomspace(2550.0, 10000.0, n)
    twin = 1.0 - 0.3 * rng.random(n)
    real = twin + 0.05 * rng.standard_normal(n)
    return wave, twin, real


def test_rows_are_twin_real_and_one_window_each():
    wave, twin, real = _spectra()
    real[5] = np.nan                      # a bad pixel of the star
    twin[-3:] = np.nan                    # outside the star's range for the twin
    real[-3:] = np.nan
    xs = transplant_inputs(wave, twin, real)
    n_win = len(OFFSET_WINDOW_EDGES) - 1
    assert xs.shape == (2 + n_win, wave.size)
    np.testing.assert_array_equal(xs[0], twin)
    np.testing.assert_array_equal(xs[1], real)
    both = np.isfinite(twin) & np.isfinite(real)
    changed = np.zeros(wave.size, int)
    for k, (lo, hi) in enumerate(zip(OFFSET_WINDOW_EDGES[:-1], OFFSET_WINDOW_EDGES[1:])):
        row = xs[2 + k]
        inside = both & (wave >= lo) & ((wave < hi) | (k == n_win - 1))
        np.testing.assert_array_equal(row[inside], real[inside])
        np.testing.assert_array_equal(row[~inside], twin[~inside])
        changed += inside
    # the windows partition the pixels both spectra have: the transplants add up to the real star there
    assert np.array_equal(changed, both.astype(int))
    total = np.nansum(xs[2:] - xs[0], axis=0)
    np.testing.assert_allclose(total[both], (real - twin)[both], rtol=0, atol=1e-12)
    assert xs[2 + 0, 5] == twin[5]        # the star's bad pixel keeps the twin's value in every window row
    assert np.isnan(xs[2:, -1]).all()     # what the twin lacks stays missing


def test_bad_arguments_are_refused():
    wave, twin, real = _spectra()
    with pytest.raises(ValueError, match="one length"):
        transplant_inputs(wave, twin[:-1], real)
    with pytest.raises(ValueError, match="increase"):
        transplant_inputs(wave[::-1], twin, real)
    with pytest.raises(ValueError, match="increase strictly"):
        transplant_inputs(wave, twin, real, edges=(2550.0, 5000.0, 4000.0, 10000.0))
    with pytest.raises(ValueError, match="cover the grid"):
        transplant_inputs(wave, twin, real, edges=(3000.0, 5000.0, 10000.0))
    assert window_labels((2550.0, 4000.0, 10000.0)) == ["2550–4000", "4000–10000"]


def test_offsets_of_a_shipped_star_add_up_and_match_predict():
    """HD 140283 (MIKE, shipped with the package): the 'real − twin' row is the shipped run's answer on the
    star minus its answer on the twin, and the windows redward of the star's coverage carry nothing."""
    from glocal import real_star_study as study
    from glocal import real_stars
    from glocal.observed.predict import OBSERVED_RUNS, predict_observed
    from glocal.runs import load_run

    star = "hd140283"
    off = window_offsets([star], T=4, seed=3).loc[star]
    assert list(off.index) == [*window_labels(), "real − twin", "sum − total"]
    np.testing.assert_allclose(off.loc["sum − total"], off.loc[window_labels()].sum() - off.loc["real − twin"],
                               atol=1e-9)
    # the MIKE spectrum starts at 3372 Å: the UV windows hold no pixel of the star, so they move nothing
    np.testing.assert_array_equal(off.loc["2550–3000"], 0.0)
    cands = [(k, load_run(v), v) for k, v in OBSERVED_RUNS.items()]
    real = predict_observed(real_stars.observed(star), cands, T=4, seed=3, fit_check=False)
    twin = study.synthetic_twins([star], T=4, seed=3).loc[(star, "alpha")]
    for lab in ("teff", "feh"):
        # single-spectrum batches draw other dropout masks than the stacked batch: agree within the MC scatter
        tol = 60.0 if lab == "teff" else 0.12
        assert off.loc["real − twin", lab] == pytest.approx(real[lab].iloc[0] - twin[lab], abs=tol)
