"""prepare(): observed spectra onto the CSST R=200 grid — masked degradation against glocal.degrade,
gaps, NaNs, coverage, resolution rule, radial velocity, air/vacuum, flux kinds, noise propagation."""
from __future__ import annotations

import numpy as np
import pytest

from glocal.constants import C_KMS
from glocal.degrade import csst_grid, degrade, get_operator
from glocal.observed import ObservedSpectrum, air_to_vac
from glocal.observed.prepare import detect_flux_kind, estimate_resolution, masked_degrade, prepare

GRID = csst_grid()


def highres(lo=2550.0, hi=10000.0, step=0.25, n_lines=400, seed=0):
    """A normalised, noiseless 'synthetic' spectrum (lines of σ = 0.3 Å) on a uniform grid."""
    wave = np.arange(lo, hi + 1e-9, step)
    rng = np.random.default_rng(seed)
    flux = np.ones_like(wave)
    for c in rng.uniform(lo, hi, n_lines):
        flux -= 0.6 * np.exp(-0.5 * ((wave - c) / 0.3) ** 2)
    return wave, flux


def spectrum(wave, flux, **kw):
    return ObservedSpectrum(wave=wave, flux=flux, meta={"name": "test"}, **kw)


def clean_window(grid, wave, bad, truncate=5.0):
    """Grid points whose ±truncate·FWHM window holds no bad input pixel."""
    bad_w = wave[bad]
    half = truncate * grid / 200.0
    lo = np.searchsorted(bad_w, grid - half)
    hi = np.searchsorted(bad_w, grid + half, side="right")
    return hi == lo


def test_masked_degrade_equals_degrade_on_unmasked_input():
    wave, flux = highres()
    _, ref = degrade(wave, flux)
    out, sig, cov = masked_degrade(wave, flux, np.ones(wave.size, bool), GRID, R=200.0,
                                   sigma=np.full(wave.size, 0.01))
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-10)
    assert np.all(cov > 0.99) and np.all(np.isfinite(sig))


def test_prepare_with_gaps_and_nans_matches_degrade_of_clean():
    wave, flux = highres()
    _, ref = degrade(wave, flux)
    rng = np.random.default_rng(1)
    f = flux.copy()
    f[(wave > 5000) & (wave < 5200)] = np.nan                       # a stretch of NaN
    f[rng.choice(np.flatnonzero((wave > 8000) & (wave < 9000)), 200, replace=False)] = np.nan  # scattered
    keep = ~((wave > 7000) & (wave < 7300))                          # a gap without pixels
    p = prepare(spectrum(wave[keep], f[keep]), resolution=np.inf)
    assert p.kernel_R == 200.0 and p.wave.size == GRID.size
    np.testing.assert_array_equal(p.wave, GRID)
    gap_pts = ((GRID > 5030) & (GRID < 5170)) | ((GRID > 7030) & (GRID < 7270))
    assert p.mask[gap_pts].all() and np.isnan(p.flux[p.mask]).all()
    assert p.n_good > 240
    bad = ~keep | np.isnan(f)
    untouched = clean_window(GRID, wave, bad) & ~p.mask
    assert untouched.sum() > 200
    np.testing.assert_allclose(p.flux[untouched], ref[untouched], rtol=0, atol=1e-10)
    # pixels whose kernel lost < 10 % of its mass: normalised convolution stays within 2 % of the clean value
    np.testing.assert_allclose(p.flux[~p.mask], ref[~p.mask], rtol=0, atol=0.02)


def test_partial_coverage_is_masked_outside_observed_range():
    wave, flux = highres()
    sel = (wave >= 3400) & (wave <= 9160)
    p = prepare(spectrum(wave[sel], flux[sel]), resolution=np.inf)
    assert p.mask[GRID < 3400].all() and p.mask[GRID > 9160].all()
    # coverage ≥ 0.9 at an edge needs the grid point ≥ 1.28σ inside (σ = Λ/200/2.355); the grid steps by Λ/200
    sig = lambda lam: lam / 200 / 2.3548  # noqa: E731
    assert 3400 + 1.28 * sig(3400) <= p.band_used[0] < 3400 + 1.28 * sig(3400) + 3400 / 200
    assert 9160 - 1.28 * sig(9160) - 9160 / 200 < p.band_used[1] <= 9160 - 1.28 * sig(9160)
    _, ref = degrade(wave, flux)
    inner = ~p.mask & (GRID > 3600) & (GRID < 8800)
    np.testing.assert_allclose(p.flux[inner], ref[inner], atol=1e-10)
    optical = prepare(spectrum(wave[sel], flux[sel]), band="optical", resolution=np.inf)
    assert optical.wave[0] >= 4000 and not optical.mask[optical.wave < 9000].any()
    assert optical.mask[optical.wave > 9160].all()


def test_coarser_than_target_is_refused():
    lo = csst_grid(3000.0, 9000.0, 100.0)  # sampled at λ/100: Nyquist R = 50
    with pytest.raises(ValueError, match=r"coarser than the target R=200"):
        prepare(spectrum(lo, np.ones(lo.size)))
    wave, flux = highres(4000, 6000, 1.0)
    with pytest.raises(ValueError, match=r"R≈150 \(header SPECRES\)"):
        prepare(ObservedSpectrum(wave, flux, meta={"name": "h", "resolution": 150.0, "resolution_keyword": "SPECRES"}))
    with pytest.raises(ValueError, match=r"FWHM column"):
        prepare(ObservedSpectrum(wave, flux, meta={"name": "f", "fwhm": wave / 120.0}))


def test_resolution_rule_and_kernel():
    wave, flux = highres(4000, 6000, 0.5)
    spec = spectrum(wave, flux)
    R, source = estimate_resolution(spec)
    assert source == "sampling (Nyquist)" and R == pytest.approx(np.median(wave) / 1.0, rel=1e-3)
    p = prepare(spec, band=(4000, 6000), resolution=500.0)
    assert p.resolution_source == "argument"
    assert p.kernel_R == pytest.approx(1.0 / np.sqrt(1 / 200**2 - 1 / 500**2), rel=1e-12)


def test_quadrature_kernel_reaches_target_resolution():
    """A spectrum already at R=500 and degraded with R_k = (1/200² − 1/500²)^(-1/2) matches the R=∞ spectrum
    degraded to 200; degrading it with the full R=200 kernel would not."""
    wave = np.exp(np.arange(np.log(3500.0), np.log(7000.0), 1 / 20000.0))  # constant R sampling
    rng = np.random.default_rng(2)
    flux = np.ones_like(wave)
    for c in rng.uniform(3600, 6900, 120):
        flux -= 0.7 * np.exp(-0.5 * ((wave - c) / 0.2) ** 2)
    at500 = get_operator(wave, wave[200:-200], R=500.0).apply(flux)
    w500 = wave[200:-200]
    band = (4000.0, 6500.0)
    grid = GRID[(GRID >= band[0]) & (GRID <= band[1])]
    _, ref = degrade(wave, flux, grid=grid)
    good = prepare(spectrum(w500, at500), band=band, resolution=500.0)
    naive = prepare(spectrum(w500, at500), band=band, resolution=np.inf)
    err_good = np.max(np.abs(good.flux - ref))
    err_naive = np.max(np.abs(naive.flux - ref))
    assert err_good < 2e-3 and err_naive > 5 * err_good


def test_radial_velocity_and_vacuum_input():
    wave, flux = highres(3000, 9500, 0.5)
    base = prepare(spectrum(wave, flux), band=(3500, 9000), resolution=np.inf)
    rv = 300.0
    beta = rv / C_KMS
    shifted = wave * np.sqrt((1 + beta) / (1 - beta))  # receding star: redshifted
    p = prepare(spectrum(shifted, flux), rv=rv, band=(3500, 9000), resolution=np.inf)
    np.testing.assert_allclose(p.flux, base.flux, atol=1e-9)
    wrong = prepare(spectrum(shifted, flux), rv=-rv, band=(3500, 9000), resolution=np.inf)
    assert np.nanmax(np.abs(wrong.flux - base.flux)) > 1e-3
    vac = prepare(spectrum(air_to_vac(wave), flux, medium="vacuum"), band=(3500, 9000), resolution=np.inf)
    np.testing.assert_allclose(vac.flux, base.flux, atol=1e-9)
    assert vac.meta["medium_in"] == "vacuum"


def test_flux_kind_and_non_positive_pixels():
    wave, flux = highres(4000, 6000, 0.5)
    assert detect_flux_kind(spectrum(wave, flux))[0] == "normalized"
    assert detect_flux_kind(spectrum(wave, 1e-14 * flux))[0] == "calibrated"
    unit = ObservedSpectrum(wave, flux, meta={"name": "u", "flux_unit": "erg / (Angstrom s cm2)"})
    assert detect_flux_kind(unit) == ("calibrated", "flux unit erg / (Angstrom s cm2)")
    cal = 1e-14 * flux
    cal[(wave > 4990) & (wave < 5010)] = -1e-15  # non-positive stretch: bad where calibrated
    p = prepare(spectrum(wave, cal), band=(4100, 5900), resolution=np.inf)
    assert p.flux_kind == "calibrated" and p.mask[np.abs(p.wave - 5000) < 10].all()
    q = prepare(spectrum(wave, cal), band=(4100, 5900), resolution=np.inf, flux_kind="normalized")
    assert not q.mask.any()


def test_noise_propagation_monte_carlo():
    wave, flux = highres(4000, 6000, 0.5, n_lines=50)
    sigma = 0.02 + 0.01 * (wave - 4000) / 2000
    band = (4200, 5800)
    p = prepare(spectrum(wave, flux, sigma=sigma), band=band, resolution=np.inf)
    rng = np.random.default_rng(5)
    draws = np.array([prepare(spectrum(wave, flux + sigma * rng.standard_normal(wave.size), sigma=sigma),
                              band=band, resolution=np.inf).flux for _ in range(300)])
    np.testing.assert_allclose(draws.std(axis=0), p.sigma, rtol=0.15)
    assert np.all(p.sigma < 0.3 * sigma.min())  # averaging many pixels lowers the noise


def test_input_on_csst_grid_passes_through():
    wave, flux = highres()
    grid, deg = degrade(wave, flux)
    deg[100] = np.nan
    p = prepare(spectrum(grid, deg))
    assert p.resolution_source == "CSST grid" and p.mask.sum() == 1 and p.mask[100]
    np.testing.assert_array_equal(p.flux[~p.mask], deg[~p.mask])


def test_no_overlap_and_bad_arguments():
    wave, flux = highres(4000, 6000, 0.5)
    with pytest.raises(ValueError, match="does not overlap"):
        prepare(spectrum(wave / 10.0, flux))
    with pytest.raises(ValueError, match="flux_kind"):
        prepare(spectrum(wave, flux), flux_kind="relative")
    with pytest.raises(TypeError, match="ObservedSpectrum"):
        prepare((wave, flux))


def test_every_real_spectrum_prepares(shared_data):
    from glocal.observed import read_spectra
    folder = shared_data / "real_spectra"
    if not folder.is_dir():
        pytest.skip(f"real spectra not found at {folder}")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".csv")
    for path in files:
        for s in read_spectra(path):
            p = prepare(s)
            good = ~p.mask
            assert good.sum() > 150, f"{path.name}: {good.sum()} usable CSST pixels"
            assert np.all(np.isfinite(p.flux[good])) and np.all(p.flux[good] > 0)
            if "calspec" in str(path):
                assert p.flux_kind == "calibrated" and p.resolution_source == "FWHM column"
                assert 500 < p.resolution_in < 1200 and p.sigma is not None and np.all(p.sigma[good] > 0)
                assert p.band_used[0] == GRID[0]
            else:
                assert p.flux_kind == "normalized" and p.resolution_in > 20000
                assert 3350 < p.band_used[0] < 3450 and 9000 < p.band_used[1] < 9400


def test_exclude_ranges_masks_rest_frame_air_pixels_and_parse_wave_range():
    from glocal.observed.prepare import exclude_ranges, parse_wave_range
    wave, flux = highres(3000, 9500, 0.5)
    rv = 300.0
    beta = rv / C_KMS
    observed = wave * np.sqrt((1 + beta) / (1 - beta))
    spec = spectrum(air_to_vac(observed), flux, medium="vacuum")
    cut = exclude_ranges(spec, [(0.0, 4000.0), (6860.0, 6960.0)], rv=rv)
    dropped = cut.mask & ~spec.mask
    # the excluded pixels are exactly those whose rest-frame air wavelength lies in a range (to rounding)
    inside = (wave <= 4000.0) | ((wave >= 6860.0) & (wave <= 6960.0))
    edge = (np.abs(wave - 4000.0) < 1e-6) | (np.abs(wave - 6860.0) < 1e-6) | (np.abs(wave - 6960.0) < 1e-6)
    assert np.array_equal(dropped[~edge], inside[~edge])
    assert cut.meta["excluded"] == [(0.0, 4000.0), (6860.0, 6960.0)]
    assert exclude_ranges(spec, []) is spec
    # excluded pixels are missing to prepare: the prepared UV is gone, the optical unchanged
    p_all = prepare(spectrum(wave, flux), band=(3500, 9000), resolution=np.inf)
    p_cut = prepare(exclude_ranges(spectrum(wave, flux), [(0.0, 4000.0)]), band=(3500, 9000), resolution=np.inf)
    far = p_all.wave > 4100.0
    np.testing.assert_allclose(p_cut.flux[far], p_all.flux[far], atol=1e-9)
    assert p_cut.mask[p_cut.wave < 3990.0].all() and not p_all.mask[p_all.wave < 3990.0].any()
    assert parse_wave_range("0-4000") == (0.0, 4000.0) and parse_wave_range(" 6860.5-6960 ") == (6860.5, 6960.0)
    for bad in ("4000-100", "4000", "a-b", "1-2-3", "-5-10", "nan-5", "10-inf"):
        with pytest.raises(ValueError, match="range"):
            parse_wave_range(bad)
    with pytest.raises(ValueError, match="lo < hi"):
        exclude_ranges(spec, [(5000.0, 5000.0)])
