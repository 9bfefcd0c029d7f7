"""glocal.augment: draws within their ranges and reproducible, noise/RV/reddening/calibration as stated,
masks keep the minimum band, the calibrated kind matches the unreddened normalisation, bad input refused."""
from __future__ import annotations

import numpy as np
import pytest

from glocal.augment import AugmentConfig, augment, calibration_factor, reddening_factor, shift_spectra
from glocal.constants import C_KMS
from glocal.degrade import csst_grid
from glocal.observed.normalize import normalize_synthetic

WAVE = csst_grid(2550.0, 10000.0, 200.0)
QUIET = dict(snr=None, ebv=(0.0, 0.0), calibration=0.0, rv_max=0.0, cut_probability=0.0, bad_fraction=(0.0, 0.0))


def _stars(n=6, seed=0):
    """Planck-like physical fluxes (Teff 4000–7000 K) with absorption lines: flux = F/F_c, continuum."""
    rng = np.random.default_rng(seed)
    teff = rng.uniform(4000.0, 7000.0, n)
    lam = WAVE * 1e-8
    cont = 1e-5 / lam[None, :] ** 5 / np.expm1(1.4388 / (lam[None, :] * teff[:, None]))
    centres = rng.uniform(WAVE[0], WAVE[-1], 40)
    depth = rng.uniform(0.05, 0.5, (n, 40))
    prof = np.exp(-0.5 * ((WAVE[None, :] - centres[:, None]) / (WAVE[None, :] / 200.0)) ** 2)
    norm = np.clip(1.0 - depth @ prof, 0.1, 1.0)
    return norm, cont


def test_draws_in_range_and_reproducible():
    norm, cont = _stars(400)
    cfg = AugmentConfig()
    a = augment(WAVE, norm, cont, kind="calibrated", rng=np.random.default_rng(5), config=cfg)
    b = augment(WAVE, norm, cont, kind="calibrated", rng=np.random.default_rng(5), config=cfg)
    c = augment(WAVE, norm, cont, kind="calibrated", rng=np.random.default_rng(6), config=cfg)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    p = a[2]
    assert p["kind"] == "calibrated"
    assert np.all((p["snr"] >= 20) & (p["snr"] <= 150)) and np.ptp(np.log(p["snr"])) > 0.8 * np.log(150 / 20)
    assert np.all((p["ebv"] >= 0) & (p["ebv"] <= 0.5)) and p["ebv"].max() > 0.45 and p["ebv"].min() < 0.05
    assert np.all(np.abs(p["rv_kms"]) <= 500) and p["rv_kms"].max() > 450 and p["rv_kms"].min() < -450
    assert np.all((p["calibration_amplitude"] >= 0) & (p["calibration_amplitude"] <= 0.1))
    assert np.all((p["blue"] >= WAVE[0]) & (p["blue"] <= 4000)) and np.all((p["red"] >= 9000) & (p["red"] <= WAVE[-1]))
    cut_blue = p["blue"] > WAVE[0]
    assert 0.4 < cut_blue.mean() < 0.6          # cut on each side with probability 0.5
    assert np.all((p["bad_fraction"] >= 0) & (p["bad_fraction"] <= 0.02))
    # the same seed gives the same draws for the normalized kind (where reddening etc. are not applied)
    n = augment(WAVE, norm, kind="normalized", rng=np.random.default_rng(5), config=cfg)
    np.testing.assert_array_equal(n[2]["snr"], p["snr"])
    assert np.all(n[2]["ebv"] == 0) and np.all(n[2]["calibration_amplitude"] == 0)


def test_masks_keep_the_minimum_band():
    norm, cont = _stars(300)
    for band in ((4000.0, 9000.0), (3500.0, 9000.0)):
        cfg = AugmentConfig(bad_fraction=(0.0, 0.0), cut_probability=1.0, min_band=band)
        out, mask, p = augment(WAVE, norm, cont, kind="calibrated", rng=np.random.default_rng(1), config=cfg)
        inside = (WAVE >= band[0]) & (WAVE <= band[1])
        assert not mask[:, inside].any()
        assert np.all(np.isfinite(out[:, inside]))
        assert np.all(np.isnan(out[mask]))
        for i in range(out.shape[0]):            # everything outside [blue, red] is masked
            assert mask[i, (WAVE < p["blue"][i]) | (WAVE > p["red"][i])].all()
        assert mask[:, 0].all() and mask.sum(1).min() > 0
    cfg = AugmentConfig(bad_fraction=(0.05, 0.05), cut_probability=0.0, rv_max=0.0)
    _, mask, _ = augment(WAVE, norm, kind="normalized", rng=np.random.default_rng(2), config=cfg)
    assert 0.03 < mask.mean() < 0.07             # bad pixels at the stated fraction


def test_noise_is_gaussian_with_sigma_flux_over_snr():
    flux = np.full((2000, WAVE.size), 0.8)
    cfg = AugmentConfig(**{**QUIET, "snr": (20.0, 150.0)})
    out, mask, p = augment(WAVE, flux, kind="normalized", rng=np.random.default_rng(3), config=cfg)
    z = (out - 0.8) / (0.8 / p["snr"][:, None])
    assert not mask.any()
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    assert abs(np.mean(z ** 4) / np.mean(z ** 2) ** 2 - 3.0) < 0.05   # Gaussian kurtosis


def test_calibrated_kind_matches_unreddened_normalisation():
    """Noise-free, full band, E(B−V) = 0.5 (G23) with a ±10 % calibration error: the calibrated kind's
    spectra agree with the normalisation of the unreddened F within the measured tolerance."""
    norm, cont = _stars(8)
    ref = normalize_synthetic(WAVE, norm * cont)
    cfg = AugmentConfig(**{**QUIET, "ebv": (0.5, 0.5), "calibration": 0.1})
    out, mask, p = augment(WAVE, norm, cont, kind="calibrated", rng=np.random.default_rng(4), config=cfg)
    dev = out / ref - 1.0
    assert not mask.any() and np.all(p["calibration_amplitude"] > 0)
    assert np.sqrt(np.mean(dev ** 2)) < 1.5e-2 and np.abs(dev).max() < 6e-2
    raw = reddening_factor(WAVE, [0.5])[0]
    assert np.ptp(raw / np.median(raw)) > 1.0       # unnormalised, the reddening alone is far larger
    # without reddening and calibration the path is the identity of the normalisation
    out0, _, _ = augment(WAVE, norm, cont, kind="calibrated", rng=np.random.default_rng(4),
                         config=AugmentConfig(**QUIET))
    np.testing.assert_allclose(out0, ref, rtol=1e-5)


def test_reddening_and_calibration_factors():
    import astropy.units as u
    from dust_extinction.parameter_averages import G23
    f = reddening_factor(WAVE, [0.0, 0.3])
    np.testing.assert_allclose(f[0], 1.0)
    np.testing.assert_allclose(f[1], G23(Rv=3.1).extinguish(WAVE * u.AA, Ebv=0.3), rtol=1e-10)
    rng = np.random.default_rng(0)
    c = calibration_factor(WAVE, [0.1, 0.04], rng.standard_normal((2, 3)), [1.0, 2.0])
    assert np.max(np.abs(c[0] - 1.0)) == pytest.approx(0.1) and np.max(np.abs(c[1] / 2.0 - 1.0)) == pytest.approx(0.04)


def test_radial_velocity_shift():
    ln = np.log(WAVE)
    smooth = 1.0 + 0.3 * np.sin(2 * np.pi * (ln - ln[0]) / (40 * (ln[1] - ln[0])))[None, :]  # 40-pixel period
    v = np.array([500.0, -500.0, 0.0])
    out, edge = shift_spectra(WAVE, np.repeat(smooth, 3, 0), v)
    src = ln[None, :] - np.log1p(v / C_KMS)[:, None] - ln[0]
    expect = 1.0 + 0.3 * np.sin(2 * np.pi * src / (40 * (ln[1] - ln[0])))
    np.testing.assert_allclose(out[~edge], expect[~edge], atol=2e-4)
    np.testing.assert_array_equal(out[2], smooth[0])       # zero velocity: exact identity
    assert edge[0, 0] and edge[1, -1] and not edge[2].any() and edge.sum(1).max() <= 4
    # 500 km/s is a third of a pixel on the R = 200 grid: a narrow line's centroid moves by that much
    line = 1.0 - 0.5 * np.exp(-0.5 * ((np.arange(WAVE.size) - 137.0) / 1.0) ** 2)[None, :]
    moved, _ = shift_spectra(WAVE, line, [500.0])
    pix = np.arange(WAVE.size)
    shift = np.sum(pix * (1 - moved[0])) / np.sum(1 - moved[0]) - 137.0
    assert shift == pytest.approx(np.log1p(500.0 / C_KMS) / (ln[1] - ln[0]), rel=0.02) and 0.3 < shift < 0.36


def test_bad_input_is_refused():
    norm, cont = _stars(3)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="kind"):
        augment(WAVE, norm, cont, kind="raw", rng=rng)
    with pytest.raises(ValueError, match="continuum"):
        augment(WAVE, norm, kind="calibrated", rng=rng)
    with pytest.raises(TypeError, match="Generator"):
        augment(WAVE, norm, kind="normalized", rng=0)
    with pytest.raises(ValueError, match="shape"):
        augment(WAVE, norm[:, :-1], kind="normalized", rng=rng)
    bad = norm.copy()
    bad[0, 5] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        augment(WAVE, bad, kind="normalized", rng=rng)
    with pytest.raises(ValueError, match="continuum"):
        augment(WAVE, norm, -cont, kind="calibrated", rng=rng)
    with pytest.raises(ValueError, match="min_band"):
        augment(WAVE, norm, kind="normalized", rng=rng, config=AugmentConfig(min_band=(2000.0, 9000.0)))
    with pytest.raises(ValueError, match="uniform in ln"):
        shift_spectra(np.linspace(3000.0, 9000.0, 50), np.ones((1, 50)), [10.0])
    for kw in ({"snr": (0.0, 50.0)}, {"snr": (50.0, 20.0)}, {"ebv": (-0.1, 0.5)}, {"rv_max": -1.0},
               {"calibration": 0.9}, {"bad_fraction": (0.0, 0.9)}, {"calibration_degree": 0},
               {"cut_probability": 1.5}, {"min_band": (9000.0, 4000.0)}):
        with pytest.raises(ValueError):
            AugmentConfig(**kw)
    with pytest.raises(TypeError):
        AugmentConfig(snr=5.0)
