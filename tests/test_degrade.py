"""Tests of the CSST degrader (paper §2.2, Eqs 8–11) against direct from-the-equation references."""
import numpy as np
import pytest
from scipy.optimize import brentq

from glocal import degrade as dg

FWHM2SIG = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def eq11_direct(wave, flux, grid, R, truncate=5.0):
    """Eq. 11 evaluated point by point: sum F_i G_j(λ_i) / sum G_j(λ_i) over |λ_i-Λ_j| <= truncate*FWHM."""
    flux = np.atleast_2d(flux)
    out = np.empty((flux.shape[0], grid.size))
    for j, lam0 in enumerate(grid):
        fwhm = lam0 / R
        sig = fwhm * FWHM2SIG
        sel = np.abs(wave - lam0) <= truncate * fwhm
        g = np.exp(-((wave[sel] - lam0) ** 2) / (2 * sig**2)) / (sig * np.sqrt(2 * np.pi))
        out[:, j] = (flux[:, sel] * g).sum(axis=1) / g.sum()
    return out


def eq11_trapezoid(wave, flux, grid, R, truncate=5.0):
    """Eq. 11 with both integrals done by np.trapezoid over the clipped window."""
    flux = np.atleast_2d(flux)
    out = np.empty((flux.shape[0], grid.size))
    for j, lam0 in enumerate(grid):
        fwhm = lam0 / R
        sig = fwhm * FWHM2SIG
        sel = np.abs(wave - lam0) <= truncate * fwhm
        g = np.exp(-((wave[sel] - lam0) ** 2) / (2 * sig**2))
        out[:, j] = np.trapezoid(flux[:, sel] * g, wave[sel], axis=1) / np.trapezoid(g, wave[sel])
    return out


@pytest.fixture(scope="module")
def random_grid():
    rng = np.random.default_rng(42)
    wave = np.sort(rng.uniform(2550.0, 10000.0, 20000))
    wave[0], wave[-1] = 2550.0, 10000.0
    flux = 1.0 - 0.6 * rng.random((3, wave.size))
    return wave, flux


@pytest.fixture(scope="module")
def uniform_grid():
    wave = np.linspace(2550.0, 10000.0, 29801)  # 0.25 Å
    rng = np.random.default_rng(7)
    flux = 1.0 - 0.5 * rng.random((2, wave.size))
    return wave, flux


# ------------------------------------------------------------------ Eq. 8
def test_csst_grid_recursion_and_count():
    R, wmin, wmax = 200, 2550.0, 10000.0
    g = dg.csst_grid(wmin, wmax, R)
    assert g[0] == wmin
    # exact recursion Λ_{j+1} = Λ_j + Λ_j/R, bit for bit
    np.testing.assert_array_equal(g[1:], g[:-1] + g[:-1] / R)
    assert g[-1] <= wmax < g[-1] + g[-1] / R
    # analytic count: largest j with wmin (1+1/R)^j <= wmax
    assert g.size == int(np.floor(np.log(wmax / wmin) / np.log1p(1 / R))) + 1 == 274
    np.testing.assert_allclose(g, wmin * (1 + 1 / R) ** np.arange(g.size), rtol=1e-12)


def test_csst_grid_other_R_and_errors():
    g = dg.csst_grid(1000.0, 2000.0, 10)
    assert g.size == int(np.floor(np.log(2.0) / np.log(1.1))) + 1
    with pytest.raises(ValueError, match="wmax"):
        dg.csst_grid(5000.0, 4000.0)
    with pytest.raises(ValueError, match="R"):
        dg.csst_grid(R=0)
    with pytest.raises(ValueError, match="wmin"):
        dg.csst_grid(wmin=np.nan)


# ------------------------------------------------------------------ Eq. 11 vs direct loop
@pytest.mark.parametrize("which", ["random_grid", "uniform_grid"])
def test_degrade_matches_direct_loop(which, request):
    wave, flux = request.getfixturevalue(which)
    grid, out = dg.degrade(wave, flux)
    ref = eq11_direct(wave, flux, grid, 200)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=0)
    # 1-D input gives the same as the corresponding batch row
    g1, out1 = dg.degrade(wave, flux[1])
    assert out1.shape == (grid.size,)
    np.testing.assert_allclose(out1, ref[1], rtol=1e-10, atol=0)


def test_trapezoid_option_matches_direct_quadrature(random_grid):
    wave, flux = random_grid
    grid, out = dg.degrade(wave, flux, weighting="trapezoid")
    ref = eq11_trapezoid(wave, flux, grid, 200)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=0)
    # on a non-uniform grid the two weightings are genuinely different estimators
    _, paper = dg.degrade(wave, flux)
    assert np.max(np.abs(paper - out)) > 1e-6


def test_float32_input_and_custom_grid(uniform_grid):
    wave, flux = uniform_grid
    grid = np.linspace(3000.0, 9000.0, 50)
    g, out = dg.degrade(wave, flux.astype(np.float32), R=500, grid=grid, truncate=3.0)
    np.testing.assert_array_equal(g, grid)
    ref = eq11_direct(wave, flux.astype(np.float32).astype(float), grid, 500, truncate=3.0)
    np.testing.assert_allclose(out, ref, rtol=1e-10)


@pytest.mark.parametrize("weighting", ["paper", "trapezoid"])
def test_flat_spectrum_stays_flat(random_grid, weighting):
    wave, _ = random_grid
    _, out = dg.degrade(wave, np.ones((2, wave.size)), weighting=weighting)
    np.testing.assert_allclose(out, 1.0, rtol=0, atol=1e-12)


def test_operator_rows_are_normalised_and_cached(uniform_grid):
    wave, _ = uniform_grid
    grid = dg.csst_grid()
    op1 = dg.get_operator(wave, grid)
    op2 = dg.get_operator(wave.copy(), grid.copy())
    assert op1 is op2  # cache keyed by content, not identity
    np.testing.assert_allclose(np.asarray(op1.matrix.sum(axis=1)).ravel(), 1.0, atol=1e-13)
    assert op1.shape == (274, wave.size)
    # window membership |λ_i - Λ_j| <= 5 FWHM exactly as in Eq. 11 (inclusive edges; the uniform
    # 0.25 Å grid puts a sample exactly on the edge of the first window, 2550 + 63.75 Å)
    counts = [np.count_nonzero(np.abs(wave - lam) <= 5 * lam / 200) for lam in grid]
    np.testing.assert_array_equal(np.diff(op1.matrix.indptr), counts)
    assert 2613.75 in wave
    assert dg.get_operator(wave, grid, truncate=3.0) is not op1


def test_delta_line_profile_has_fwhm_lambda_over_R():
    """A delta line at λ0 degrades to F(Λ) ∝ exp(-(λ0-Λ)²/2σ(Λ)²)/σ(Λ) with FWHM(Λ)=Λ/R (Eqs 9-10)."""
    R, lam0, dx = 200.0, 5000.0, 0.05
    wave = np.arange(4850.0, 5150.0 + dx / 2, dx)
    flux = np.zeros(wave.size)
    k = int(np.argmin(np.abs(wave - lam0)))
    flux[k] = 1.0
    lam0 = wave[k]
    grid = np.linspace(lam0 - 40.0, lam0 + 40.0, 321)  # 0.25 Å output sampling
    _, prof = dg.degrade(wave, flux, R=R, grid=grid)
    half = prof.max() / 2
    above = np.flatnonzero(prof >= half)
    i0, i1 = above[0], above[-1]
    left = np.interp(half, prof[i0 - 1:i0 + 1], grid[i0 - 1:i0 + 1])
    right = np.interp(half, prof[i1:i1 + 2][::-1], grid[i1:i1 + 2][::-1])
    measured = right - left

    def shape(lam):  # analytic response; σ(Λ)=Λ/(R·2√(2ln2)); sampling normalisation Σ G Δλ = 1
        s = lam / R * FWHM2SIG
        return np.exp(-((lam0 - lam) ** 2) / (2 * s * s)) / s

    peak = shape(grid).max()
    fl = brentq(lambda x: shape(x) - peak / 2, lam0 - 40, lam0)
    fr = brentq(lambda x: shape(x) - peak / 2, lam0, lam0 + 40)
    np.testing.assert_allclose(measured, fr - fl, rtol=2e-4)
    np.testing.assert_allclose(measured, lam0 / R, rtol=2.0 / R)
    # amplitude: Σ_i G(λ_i) Δλ = 1 → peak = Δλ / (σ √(2π))
    np.testing.assert_allclose(prof.max(), dx / (lam0 / R * FWHM2SIG * np.sqrt(2 * np.pi)), rtol=1e-3)


# ------------------------------------------------------------------ errors
def test_degrade_errors(uniform_grid):
    wave, flux = uniform_grid
    bad = flux[0].copy()
    bad[100] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        dg.degrade(wave, bad)
    w2 = wave.copy()
    w2[[10, 11]] = w2[[11, 10]]
    with pytest.raises(ValueError, match="strictly increasing"):
        dg.degrade(w2, flux[0])
    wn = wave.copy()
    wn[5] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        dg.degrade(wn, flux[0])
    with pytest.raises(ValueError, match="pixels"):
        dg.degrade(wave, flux[0, :-1])
    with pytest.raises(ValueError, match="1-D"):
        dg.degrade(wave, flux[None])
    with pytest.raises(ValueError, match="cover"):
        dg.degrade(wave[wave > 3000.0], flux[0][wave > 3000.0])
    coarse = np.linspace(2550.0, 10000.0, 20)
    with pytest.raises(ValueError, match="kernel window"):
        dg.degrade(coarse, np.ones(20))
    with pytest.raises(ValueError, match="weighting"):
        dg.degrade(wave, flux[0], weighting="simpson")
    with pytest.raises(TypeError, match="dtype"):
        dg.degrade(wave, np.array(["a"] * wave.size))
    with pytest.raises(ValueError, match="R"):
        dg.degrade(wave, flux[0], R=-5)


# ------------------------------------------------------------------ noise
def test_add_noise_statistics_and_reproducibility():
    flux = np.ones((200, 5000))
    a = dg.add_noise(flux, 40, rng=3)
    b = dg.add_noise(flux, 40, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, dg.add_noise(flux, 40, rng=4))
    # σ = continuum/SNR: 1e6 samples → relative standard error of the std ≈ 0.07 %
    np.testing.assert_allclose(np.std(a - flux), 1 / 40, rtol=5e-3)
    np.testing.assert_allclose(np.mean(a - flux), 0.0, atol=5 * (1 / 40) / 1000)
    # per-pixel S/N broadcasting and a scaled continuum
    snr = np.where(np.arange(5000) < 2500, 10.0, 100.0)
    c = dg.add_noise(flux, snr, rng=0, continuum=2.0) - flux
    np.testing.assert_allclose(c[:, :2500].std(), 0.2, rtol=1e-2)
    np.testing.assert_allclose(c[:, 2500:].std(), 0.02, rtol=1e-2)
    assert flux.sum() == flux.size  # input untouched


def test_add_noise_errors():
    with pytest.raises(ValueError, match="snr"):
        dg.add_noise(np.ones(10), 0)
    with pytest.raises(ValueError, match="snr"):
        dg.add_noise(np.ones(10), np.nan)
    with pytest.raises(ValueError, match="broadcast"):
        dg.add_noise(np.ones((2, 10)), np.ones(3) * 30)
    with pytest.raises(TypeError, match="rng"):
        dg.add_noise(np.ones(10), 30, rng="seed")
    with pytest.raises(ValueError, match="non-finite"):
        dg.add_noise(np.array([1.0, np.inf]), 30)


# ------------------------------------------------------------------ bands
def test_bands_partition_and_edges():
    wave = dg.csst_grid()
    wave = np.sort(np.concatenate([wave, [4000.0]]))
    uv, opt, full = (dg.band_mask(wave, b) for b in ("uv", "optical", "full"))
    assert not np.any(uv & opt)
    np.testing.assert_array_equal(uv | opt, full)
    i4000 = int(np.flatnonzero(wave == 4000.0)[0])
    assert opt[i4000] and not uv[i4000]
    assert uv[0] and wave[uv].max() < 4000.0
    # on the Eq. 8 grid: floor(ln(4000/2550)/ln(1.005)) + 1 = 91 UV points, 274 - 91 optical
    g = dg.csst_grid()
    n_uv = int(np.floor(np.log(4000 / 2550) / np.log(1.005))) + 1
    assert dg.band_mask(g, "uv").sum() == n_uv == 91
    assert dg.band_mask(g, "optical").sum() == 274 - n_uv
    # CSST grism bands (paper §1): nominal, overlapping, together span 2550–10000 Å
    gu, gv, gi = (dg.band_mask(wave, b) for b in ("GU", "GV", "GI"))
    np.testing.assert_array_equal(gu | gv | gi, full)
    assert np.any(gu & gv) and np.any(gv & gi)
    assert all(v["nominal"] for v in dg.CSST_BANDS.values())
    np.testing.assert_array_equal(dg.band_mask(wave, (3000, 3500)), (wave >= 3000) & (wave <= 3500))
    with pytest.raises(ValueError, match="unknown band"):
        dg.band_mask(wave, "nir")
    with pytest.raises(ValueError, match="hi > lo"):
        dg.band_mask(wave, (5000, 4000))


def test_blocked_build_matches_direct_loop(random_grid, monkeypatch):
    """Force many small build blocks (row-block boundaries) and compare with Eq. 11 directly."""
    wave, flux = random_grid
    monkeypatch.setattr(dg, "_BLOCK", 3000)
    grid = dg.csst_grid()
    op = dg.DegradeOperator(wave, grid, weighting="trapezoid")
    np.testing.assert_allclose(op.apply(flux), eq11_trapezoid(wave, flux, grid, 200), rtol=1e-10, atol=0)
    op = dg.DegradeOperator(wave, grid)
    np.testing.assert_allclose(op.apply(flux), eq11_direct(wave, flux, grid, 200), rtol=1e-10, atol=0)


def test_operator_size_guard(monkeypatch, uniform_grid):
    wave, _ = uniform_grid
    monkeypatch.setattr(dg, "MAX_NNZ", 1000)
    with pytest.raises(ValueError, match="non-zeros"):
        dg.DegradeOperator(wave, dg.csst_grid())


@pytest.mark.parametrize("method", ["sparse", "banded", "auto"])
def test_apply_methods_match_direct_loop(random_grid, method):
    wave, flux = random_grid
    grid = dg.csst_grid()
    op = dg.get_operator(wave, grid)
    batch = np.concatenate([flux, flux[::-1], flux])  # 9 spectra: "auto" takes the banded path
    ref = eq11_direct(wave, batch, grid, 200)
    np.testing.assert_allclose(op.apply(batch, method=method), ref, rtol=1e-10, atol=0)
    np.testing.assert_allclose(op.apply(batch[2], method=method), ref[2], rtol=1e-10, atol=0)
    with pytest.raises(ValueError, match="method"):
        op.apply(batch, method="fft")


def test_single_output_pixel_equals_that_pixel_of_a_longer_grid():
    """A one-pixel output grid (e.g. a narrow feature window at R = 200) is allowed and gives the same value."""
    wave = np.linspace(5000.0, 5400.0, 40001)
    flux = 1.0 - 0.5 * np.exp(-0.5 * ((wave - 5172.7) / 0.3) ** 2)
    grid = dg.csst_grid(5100.0, 5300.0, 200)
    _, full = dg.degrade(wave, flux, R=200, grid=grid)
    _, one = dg.degrade(wave, flux, R=200, grid=grid[3:4])
    assert one.shape == (1,) and one[0] == pytest.approx(full[3], rel=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        dg.degrade(wave[:1], flux[:1], R=200, grid=grid[3:4])
