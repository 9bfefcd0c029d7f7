"""glocal.observed.combine: pieces of one star's spectrum (echelle orders, arms) joined into one, and
``glocal predict/fit --combine``."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glocal.cli import main
from glocal.observed.combine import collect_spectra, combine_pieces
from glocal.observed.medium import vac_to_air
from glocal.observed.spectrum import ObservedSpectrum


def piece(lo, hi, step, value, sigma=None, unit="", medium="air", offset=0.0):
    wave = np.arange(lo + offset, hi, step)
    sig = None if sigma is None else np.full(wave.size, sigma)
    return ObservedSpectrum(wave, np.full(wave.size, value), sigma=sig, medium=medium,
                            meta={"name": f"p{lo:.0f}", "flux_unit": unit, "resolution": 40000.0})


def test_overlap_is_the_inverse_variance_mean_and_a_gap_stays_masked():
    a, b = piece(4000, 4100, 0.05, 1.0, sigma=0.1), piece(4050, 4150, 0.05, 2.0, sigma=0.2, offset=0.02)
    c = piece(4300, 4400, 0.05, 3.0, sigma=0.1)
    out = combine_pieces([a, b, c])
    mid = (out.wave > 4060) & (out.wave < 4090)
    assert np.allclose(out.flux[mid], (1 / 0.01 + 2 / 0.04) / (1 / 0.01 + 1 / 0.04))
    assert np.allclose(out.sigma[mid], 1 / np.sqrt(1 / 0.01 + 1 / 0.04))
    assert np.allclose(out.flux[(out.wave > 4010) & (out.wave < 4040)], 1.0)
    assert np.allclose(out.flux[(out.wave > 4110) & (out.wave < 4140)], 2.0)
    gap = (out.wave > 4150) & (out.wave < 4300)
    assert not gap.any() or out.mask[gap].all()          # nothing measured between 4150 and 4300 Å
    assert out.meta["n_pieces"] == 3 and out.meta["resolution"] == 40000.0
    # no near-duplicate pixels in the overlap: spacing never below half a pixel
    assert np.diff(out.wave).min() >= 0.5 * 0.05 - 1e-9


def test_equal_weights_without_sigma_and_bad_pixels_do_not_leak():
    a, b = piece(5000, 5100, 0.1, 1.0), piece(5000, 5100, 0.1, 3.0)
    flux = b.flux.copy()
    flux[200:210] = np.nan                                 # bad pixels of b: a alone there
    b = ObservedSpectrum(b.wave, flux, medium="air", meta=b.meta)
    out = combine_pieces([a, b])
    assert out.sigma is None
    bad = (out.wave > b.wave[199]) & (out.wave < b.wave[210])
    assert np.allclose(out.flux[bad], 1.0) and np.allclose(out.flux[(out.wave > 5030) & (out.wave < 5090)], 2.0)


def test_pieces_must_share_a_flux_scale_and_a_medium():
    with pytest.raises(ValueError, match="different flux units"):
        combine_pieces([piece(4000, 4100, 0.1, 1.0), piece(4100, 4200, 0.1, 1e-14, unit="erg / (Angstrom s cm2)")])
    vac = piece(6000, 6100, 0.1, 1.0, medium="vacuum")
    out = combine_pieces([piece(5900, 6000, 0.1, 1.0), vac])
    assert out.medium == "air" and np.isclose(out.wave[-1], vac_to_air(vac.wave)[-1])
    with pytest.raises(ValueError, match="combine must be one of"):
        collect_spectra([], combine="orders")


@pytest.fixture(scope="module")
def star():
    from glocal.synthesis import synthesize
    s = synthesize(5200.0, 2.8, -2.0, abundances={"O": 0.6, "Mg": 0.4}, resolution=40000, threshold=1e-3)
    return s.wave, s.flux / s.continuum


def test_echelle_orders_combined_read_like_the_whole_spectrum(tmp_path, star):
    """The star cut into 60 overlapping 'orders', each on its own grid with its own noise, one CSV each:
    ``--combine all`` gives the labels of the whole spectrum (same noise level) within a fraction of their
    stated uncertainty; without it every order is refused for coverage."""
    wave, norm = star
    rng = np.random.default_rng(3)
    edges = np.geomspace(3400.0, 9400.0, 61)
    whole = np.arange(3400.0, 9400.0, 0.04)
    f_whole = np.interp(whole, wave, norm)
    np.savetxt(tmp_path / "whole.csv", np.column_stack([whole, f_whole + rng.normal(0, 0.01, whole.size),
                                                        np.full(whole.size, 0.01)]))
    files = []
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        w = np.arange(lo - 0.15 * (hi - lo), hi + 0.15 * (hi - lo), 0.04 + 0.002 * (k % 3)) + rng.uniform(0, 0.02)
        f = np.interp(w, wave, norm) + rng.normal(0, 0.01 * np.sqrt(2), w.size)
        path = tmp_path / f"order{k:02d}.csv"
        np.savetxt(path, np.column_stack([w, f, np.full(w.size, 0.01 * np.sqrt(2))]))
        files.append(str(path))
    out, ref = tmp_path / "orders.csv", tmp_path / "whole_out.csv"
    assert main(["predict", *files, "--combine", "all", "--no-fit-check", "-o", str(out)]) == 0
    assert main(["predict", str(tmp_path / "whole.csv"), "--no-fit-check", "-o", str(ref)]) == 0
    a, b = pd.read_csv(out), pd.read_csv(ref)
    assert len(a) == 1 and a["flag"].isna().all(), a["flag"][0]
    for lab, tol in (("teff", 0.5), ("logg", 0.5), ("feh", 0.5), ("mgfe", 0.5)):
        assert abs(a[lab][0] - b[lab][0]) <= tol * b[f"{lab}_std"][0], (lab, a[lab][0], b[lab][0])
    single = tmp_path / "single.csv"
    assert main(["predict", *files[:3], "--no-fit-check", "-o", str(single)]) == 0
    assert pd.read_csv(single)["flag"].str.startswith("insufficient_coverage(").all()
