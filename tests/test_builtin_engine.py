"""End-to-end tests of the built-in engine: variant handling, input validation, hydrogen lines and a
short-range comparison with SME (pysme-astro) on the same model, line list and abundances."""
import dataclasses

import numpy as np
import pytest

from glocal.atmospheres import read_atmospheres
from glocal.linelists import LINE_DTYPE, LineList, read_moog
from glocal.synthesis.builtin import BuiltinOptions, run
from glocal.synthesis.builtin.grids import constant_r_grid
from glocal.synthesis.contract import EngineResult

KURUCZ = "atmospheres/kurucz1993/am20k2.dat"
RANGE = (5160.0, 5190.0)


def synth(atm, A, ll, wave_range, vturb=None, wave=None, **options):
    """(wave, F, F_c) of ``run`` with ``BuiltinOptions(**options)``."""
    r = run(atm, A, ll, wave_range, vturb, BuiltinOptions(**options), wave=wave)
    return r.wave, r.flux, r.continuum


def sme(atm, A, ll, wave_range, vturb, wave):
    """(wave, F, F_c) of the SME engine at its default options on ``wave``."""
    from glocal.synthesis.sme import run as sme_run
    r = sme_run(atm, A, ll, wave_range, vturb, None, wave=wave)
    return r.wave, r.flux, r.continuum


@pytest.fixture(scope="module")
def models(shared_data):
    return {(m.teff, m.logg): m for m in read_atmospheres(shared_data / KURUCZ)}


@pytest.fixture(scope="module")
def setup(shared_data, models):
    atm = models[5000.0, 4.5]
    ll = LineList.concatenate(read_moog(shared_data / "linelists/linemake" / f)
                              for f in ("moogatom.gz", "mooghyd.gz"))
    ll = ll.select((RANGE[0] - 30, RANGE[1] + 30))
    A = np.tile(atm.abundances, (3, 1))
    A[1, 11] += 0.4  # [Mg/Fe] + 0.4
    A[2, 7] += 0.4  # [O/Fe] + 0.4: same n_e class as variant 0, exercises sharing and masking
    w, f, c = synth(atm, A, ll, RANGE, 1.0, resolution=300000)
    return atm, ll, A, w, f, c


def test_shapes_and_physical_bounds(setup):
    atm, ll, A, w, f, c = setup
    assert f.shape == c.shape == (3, w.size)
    assert np.all(np.diff(np.log(w)) == pytest.approx(1 / 300000, rel=1e-6))
    n = f / c
    assert np.all(n > 0) and np.all(n < 1 + 1e-6)
    # Mg b 5183.6 deepens and widens with Mg; equivalent width grows
    m = (w > 5180) & (w < 5187)
    ew = np.trapezoid(1 - n[:, m], w[m], axis=1)
    assert ew[1] > ew[0] * 1.1
    # O touches this window only through CH (carbon is locked into CO when O rises): small decrease
    assert 0.95 * ew[0] < ew[2] < ew[0]
    # the continuum level of a 5000 K dwarf at 5175 A: between B_lambda(4000 K) and B_lambda(6000 K)
    from glocal.synthesis.builtin.transfer import planck_lambda
    lo, hi = (np.pi * planck_lambda(np.array([5175.0]), np.array([t]))[0, 0] for t in (4000.0, 6000.0))
    assert lo < np.median(c[0]) < hi


def test_variants_are_independent_of_batching(setup):
    """Running one variant alone gives the same spectrum as inside the batch (sharing is exact to the
    documented class/ratio tolerances, the other variants of a class use the linear response).

    Pixel by pixel with every line's profile evaluated (weak_ratio=0); with the default weak-line deposit
    (integrated opacity on two grid points, which lines count as weak depends on the largest density
    over the batch) the spectra agree once the line profiles are smoothed (R = 2000)."""
    from glocal.degrade import degrade
    atm, ll, A, w, f, c = setup
    wb, fb, cb = synth(atm, A, ll, RANGE, 1.0, resolution=300000, weak_ratio=0.0)
    grid = np.arange(RANGE[0] + 8, RANGE[1] - 8, 1.0)
    for v in (1, 2):
        w1, f1, c1 = synth(atm, A[v:v + 1], ll, RANGE, 1.0, resolution=300000, weak_ratio=0.0)
        assert np.max(np.abs(f1[0] / c1[0] - fb[v] / cb[v])) < 5e-4
        w1, f1, c1 = synth(atm, A[v:v + 1], ll, RANGE, 1.0, resolution=300000)
        _, one = degrade(w1, f1[0] / c1[0], R=2000, grid=grid, weighting="trapezoid")
        _, batch = degrade(w, f[v] / c[v], R=2000, grid=grid, weighting="trapezoid")
        assert np.max(np.abs(one - batch)) < 2e-4


def _one_line_list(wave=6600.0, species="Fe 1", code=26.0, elow=9.0, loggf=-5.0):
    data = np.zeros(1, LINE_DTYPE)
    data["wave"], data["species"], data["code"], data["ion"] = wave, species, code, 1
    data["elow"], data["loggf"], data["isotope_fraction"] = elow, loggf, 1.0
    for k in ("gamma_rad", "gamma_stark", "gamma_vdw", "d0"):
        data[k] = np.nan
    return LineList(data, medium="air", isotopes_applied=True)


def test_hydrogen_balmer_line(models):
    atm = models[6500.0, 4.0]
    w, f, c = synth(atm, atm.abundances[None], _one_line_list(), (6500.0, 6630.0), 2.0, resolution=20000)
    n = f[0] / c[0]
    core = n[np.argmin(np.abs(w - 6562.8))]
    assert core < 0.5  # H-alpha is strong at 6500 K
    assert n[np.argmin(np.abs(w - 6510.0))] > 0.95  # and the far wing returns to the continuum
    assert abs(w[np.argmin(n)] - 6562.8) < 0.3  # air wavelength


def test_bad_inputs(setup):
    atm, ll, A, *_ = setup
    with pytest.raises(ValueError):
        synth(atm, A, ll, (5190.0, 5160.0), 1.0)
    with pytest.raises(ValueError, match="outside"):
        synth(atm, A, ll, (900.0, 1200.0), 1.0)
    bad = A.copy()
    bad[0, 7] = np.nan
    with pytest.raises(ValueError):
        synth(atm, bad, ll, RANGE, 1.0)
    with pytest.raises(ValueError):
        synth(atm, A[:, :50], ll, RANGE, 1.0)
    with pytest.raises(ValueError):
        synth(atm, A, ll, RANGE, -1.0)
    with pytest.raises(ValueError):
        synth(atm, A, ll, RANGE, 1.0, wave=np.array([5170.0, 5165.0, 5180.0]))
    broken = LineList(ll.data.copy(), medium="air", isotopes_applied=ll.isotopes_applied)
    broken.data["loggf"][3] = np.nan  # LineList refuses NaN at construction: corrupt it afterwards
    with pytest.raises(ValueError):
        synth(atm, A, broken, RANGE, 1.0)
    with pytest.raises(ValueError, match="air"):
        synth(atm, A, ll.to_medium("vacuum"), RANGE, 1.0)
    with pytest.raises(TypeError):
        synth(atm, A, {k: ll[k] for k in ll.columns}, RANGE, 1.0)

    class NoT:
        rhox = atm.rhox
        P = atm.P
        xne = atm.xne
        vturb = 1.0
    with pytest.raises(TypeError):
        synth(NoT(), A, ll, RANGE)
    with pytest.raises(ValueError):
        constant_r_grid(100.0, 200.0, 0.0)
    with pytest.raises(ValueError, match="bound-free metal"):
        synth(atm, A, ll, RANGE, 1.0, bound_free_metals=("Ca", "Xx"))


def test_bound_free_metals_choose_the_uv_continuum(models, setup):
    """Ca I photoionisation (4s4p 3P edge at 2933 A) raises the UV continuous opacity of a cool dwarf
    (3500/5.0, [M/H] = -2: by ~8 %), so leaving Ca out of ``bound_free_metals`` raises the continuum flux
    below the edge and leaves it unchanged far redward of every Ca I edge; all metals out raises it further."""
    _, ll, *_ = setup
    atm = models[3500.0, 5.0]
    A = np.array(atm.abundances, float)[None, :]
    wave = np.array([2850.0, 2900.0, 6000.0, 6500.0])
    lines = ll[:2]  # the continuum does not depend on the lines
    _, _, c_all = synth(atm, A[:1], lines, (2850.0, 6500.0), 1.0, wave=wave, hydrogen_lines=False)
    _, _, c_noca = synth(atm, A[:1], lines, (2850.0, 6500.0), 1.0, wave=wave, hydrogen_lines=False,
                       bound_free_metals=("C", "Mg", "Al", "Si", "Fe"))
    _, _, c_none = synth(atm, A[:1], lines, (2850.0, 6500.0), 1.0, wave=wave, hydrogen_lines=False,
                       bound_free_metals=())
    uv, red = slice(0, 2), slice(2, 4)
    assert np.all(c_noca[0, uv] > 1.03 * c_all[0, uv])
    assert np.all(np.abs(c_noca[0, red] / c_all[0, red] - 1) < 1e-3)
    assert np.all(c_none[0, uv] > c_noca[0, uv])


def test_agrees_with_sme(setup):
    """Same model, line list, abundances and vturb in SME: continuum within 2 %, normalised spectrum
    rms within 1 % at 0.02 A, and the Mg b response to +0.4 dex within 10 % of SME's."""
    pytest.importorskip("pysme")
    atm, ll, A, w, f, c = setup
    wave = np.arange(RANGE[0] + 1, RANGE[1] - 1, 0.02)
    _, fs, cs = sme(atm, A[:2], ll, RANGE, 1.0, wave)
    ns = fs / cs
    nb = np.array([np.interp(wave, w, f[v] / c[v]) for v in range(2)])
    cb = np.interp(wave, w, c[0])
    assert np.max(np.abs(cb / cs[0] - 1)) < 0.02
    assert np.sqrt(np.mean((nb[0] - ns[0]) ** 2)) < 0.01
    resp_b = np.sum(nb[0] - nb[1])
    resp_s = np.sum(ns[0] - ns[1])
    assert resp_b / resp_s == pytest.approx(1.0, abs=0.10)


def test_compare_with_sme_rows():
    """``compare_with_sme`` (SME through glocal.synthesis.sme, R = 200 through glocal.degrade) on a short
    window with the project's grid atmosphere and built-in line list."""
    pytest.importorskip("pysme")
    from glocal.atmospheres import grid_atmosphere
    from glocal.validation import compare_with_sme
    atm = grid_atmosphere(5000.0, 4.5, -2.0)
    (row,) = compare_with_sme([(atm, atm.abundances[:92], 1.0)], wave_range=(5150.0, 5200.0),
                              engine_kwargs={"resolution": 100000})
    assert {"rms", "max", "wave_of_max", "continuum_max_rel", "response_ratio_OH", "response_ratio_Mg",
            "time_builtin_s", "time_sme_s", "continuum_max_rel_sme_opacities"} <= set(row)
    assert row["rms"] < 0.005 and row["continuum_max_rel"] < 0.02 and row["continuum_max_rel_sme_opacities"] < 0.02
    assert np.isnan(row["response_ratio_OH"])  # no OH window in range
    assert row["response_ratio_Mg"] == pytest.approx(1.0, abs=0.1)


def test_cool_dwarf_damping_wings_agree_with_sme():
    """Na D in a 3500 K dwarf, where H2 outnumbers H I in the deep layers: van der Waals broadening by
    H I alone leaves the R = 200 Na D pixel ~0.1 above SME's (which counts H2 perturbers, ``h2broad``);
    with H I + He + H2 perturbers (``Chemistry.vdw_perturbers``) the engines agree to 3 %."""
    pytest.importorskip("pysme")
    from glocal.abundances import abundance_pattern
    from glocal.atmospheres import grid_atmosphere
    from glocal.degrade import degrade
    from glocal.linelists import builtin_linelist
    from glocal.synthesis.sme import wave_grid
    atm = grid_atmosphere(3500.0, 5.0, -1.0)
    A = abundance_pattern(-1.0, {})[None, :]
    lo, hi = 5800.0, 5990.0
    ll = builtin_linelist((lo - 20, hi + 20))
    wave = wave_grid((lo, hi))
    _, fs, cs = sme(atm, A, ll, (lo, hi), 1.0, wave)
    _, fb, cb = synth(atm, A, ll, (lo, hi), 1.0, wave=wave)
    _, ds = degrade(wave, fs[0] / cs[0], wmin=lo + 60, wmax=hi - 60)
    _, db = degrade(wave, fb[0] / cb[0], wmin=lo + 60, wmax=hi - 60)
    assert ds.min() < 0.5  # the saturated, strongly damped doublet dominates the pixel
    np.testing.assert_allclose(db, ds, rtol=0.03)


def test_low_rank_class_ratios_reproduce_every_class():
    """The n_e classes of a metal-poor model (where [Mg/Fe] moves n_e) are combined on a truncated-SVD
    basis; the factorisation must hold every shared species' ratio to the tolerance with fewer terms
    than classes, and line opacity built on it must match the exact per-class sum."""
    from glocal.abundances import abundance_pattern
    from glocal.atmospheres import grid_atmosphere
    from glocal.grid import paper_variants
    from glocal.linelists import builtin_linelist
    from glocal.synthesis.builtin.chemistry import solve_chemistry
    from glocal.synthesis.builtin.continuum import continuum_opacity
    from glocal.synthesis.builtin.deposit import _low_rank_ratios, line_opacity
    from glocal.synthesis.builtin.selection import prepare_lines, variant_classes

    atm = grid_atmosphere(4500.0, 2.0, -2.0)
    A = np.array([abundance_pattern(-2.0, v) for v in paper_variants()])
    chem = solve_chemistry(atm.T, atm.P, A[:, :92], ne_guess=atm.xne)
    classes = variant_classes(chem.ne, 3e-3)
    assert classes.max() + 1 >= 3, "the test needs several n_e classes"
    grid = constant_r_grid(4300.0, 4340.0, 100000.0)
    lines = prepare_lines(builtin_linelist((4290.0, 4350.0)), chem, 1.5, (4300.0, 4340.0),
                          lambda w: continuum_opacity(w, chem, 0), threshold=1e-3, classes=classes,
                          ratio_tol=3e-3)
    reps = np.array([np.where(classes == c)[0][0] for c in range(classes.max() + 1)])
    cls_ratio = lines.ratio[:, reps, :]
    weight, basis = _low_rank_ratios(cls_ratio, lines.shared, 1e-3)
    approx = np.einsum("srd,rkd->skd", weight, basis)
    err = np.abs(approx - cls_ratio)[lines.shared]
    assert err.max() <= 1e-3
    assert weight.shape[1] < reps.size
    fast = line_opacity(grid, lines, tol=1e-3).alpha_class
    exact = line_opacity(grid, lines, tol=1e-13).alpha_class
    assert fast.shape == exact.shape == (reps.size, grid.size, atm.T.size)
    scale = exact.max(axis=(0, 1))
    assert np.max(np.abs(fast - exact) / scale) < 2e-3


def test_line_opacity_matches_direct_sum():
    """Every class's line opacity (class-shared species on the low-rank basis, at full rank, plus the
    variant-specific blocks) equals the plain sum over lines of ratio x strength x Voigt profile,
    evaluated here line by line with ``voigt`` (Gaussian for ``doppler_only`` lines): species whose
    profiles crowd their rows (CH and Fe I in the G band of a metal-poor giant) are folded onto the
    basis, sparse ones deposited onto it directly, and both must add up."""
    from glocal.abundances import abundance_pattern
    from glocal.atmospheres import grid_atmosphere
    from glocal.grid import paper_variants
    from glocal.linelists import builtin_linelist
    from glocal.synthesis.builtin.chemistry import solve_chemistry
    from glocal.synthesis.builtin.continuum import continuum_opacity
    from glocal.synthesis.builtin.deposit import line_opacity
    from glocal.synthesis.builtin.profiles import voigt
    from glocal.synthesis.builtin.selection import prepare_lines, variant_classes

    atm = grid_atmosphere(4500.0, 2.0, -2.0)
    A = np.array([abundance_pattern(-2.0, v) for v in paper_variants()])
    chem = solve_chemistry(atm.T, atm.P, A[:, :92], ne_guess=atm.xne)
    classes = variant_classes(chem.ne, 3e-3)
    grid = constant_r_grid(4300.0, 4320.0, 100000.0)
    lines = prepare_lines(builtin_linelist((4290.0, 4330.0)), chem, 1.5, (4300.0, 4320.0),
                          lambda w: continuum_opacity(w, chem, 0), threshold=1e-3, classes=classes,
                          ratio_tol=3e-3)
    assert {"CH", "Fe 1"} <= set(np.array(lines.species_names)[lines.sp_index])
    assert not lines.shared.all(), "the test needs a variant-specific species too"
    lop = line_opacity(grid, lines, tol=1e-13, core_doppler=None)
    reps = np.array([np.where(classes == c)[0][0] for c in range(classes.max() + 1)])
    ref = np.zeros((reps.size, grid.size, atm.T.size))
    for l in range(lines.wave.size):
        m = np.abs(grid - lines.wave[l]) <= lines.halfwidth[l]
        dl = lines.dlam_D[l].astype(float)
        v = (grid[m, None] - lines.wave[l]) / dl[None, :]
        # lines whose Lorentz wings never reach the threshold are Gaussian (``doppler_only``)
        prof = np.exp(-v * v) if lines.doppler_only[l] else voigt(lines.a[l].astype(float)[None, :], v)
        alpha = prof * (lines.strength[l] / (np.sqrt(np.pi) * dl))[None, :]
        ref[:, m, :] += lines.ratio[lines.sp_index[l], reps, None, :] * alpha[None]
    for c, r in enumerate(reps):
        got = lop.class_alpha(c) + lop.variant_specific(lines.ratio[:, r, :])
        np.testing.assert_allclose(got, ref[c], rtol=2e-5, atol=1e-6 * ref[c].max())


def test_line_selection_independent_of_chunking():
    """``prepare_lines`` selects in chunks through float64 buffers: small chunks (many partly kept) must give
    the same lines, strengths, widths and damping as one chunk holding the whole list."""
    from glocal.atmospheres import grid_atmosphere
    from glocal.linelists import builtin_linelist
    from glocal.synthesis.builtin.chemistry import solve_chemistry
    from glocal.synthesis.builtin.continuum import continuum_opacity
    from glocal.synthesis.builtin.selection import prepare_lines

    atm = grid_atmosphere(4500.0, 2.0, -2.0)
    chem = solve_chemistry(atm.T, atm.P, np.array([atm.abundances])[:, :92], ne_guess=atm.xne)
    ll = builtin_linelist((3090.0, 3130.0))

    def select(chunk):
        return prepare_lines(ll, chem, 1.5, (3100.0, 3120.0), lambda w: continuum_opacity(w, chem, 0),
                             threshold=1e-3, chunk=chunk)

    one, small = select(10 ** 6), select(37)
    assert 100 < one.wave.size < len(ll), "the test needs lines both kept and dropped"
    for name in ("wave", "strength", "dlam_D", "a", "halfwidth", "r_max", "doppler_only"):
        assert np.array_equal(getattr(one, name), getattr(small, name)), name


def test_weighted_formal_solution_and_response():
    """``flux_weighted`` (compiled; tau from reference weights, "exp7" angles) agrees with ``flux_from_tau``
    on the same tau, and its response is the derivative of the flux."""
    from glocal.synthesis.builtin.transfer import flux_from_tau, flux_weighted, optical_depth, reference_weights
    rng = np.random.default_rng(1)
    nd, n = 40, 6
    m = np.logspace(-4, 2, nd)
    kref = 0.1 * m ** 0.7
    kap = kref * (1 + 10 ** rng.uniform(-1, 3, (n, 1))
                  * np.exp(-((np.log(m) - rng.uniform(-8, 3, (n, 1))) ** 2) / 8))
    S = np.repeat((1 + 0.5 * np.log1p(3 * m))[None, :], n, axis=0)
    W = reference_weights(kref, m)
    F, tau = flux_weighted(kap, W, S, return_tau=True)
    assert np.allclose(tau, optical_depth(kap, m, W), rtol=1e-12)  # the numpy cumulative sum
    exact = flux_from_tau(tau, S, 14)  # same tau, (nearly) exact angle integral
    for q, tol in (("exp7", 1e-4), (4, 1e-3)):
        assert np.max(np.abs(flux_weighted(kap, W, S, n_mu=q) / exact - 1)) < tol
    # tau: exact where kappa / kappa_ref is constant, close to "log" where it varies smoothly
    assert np.allclose(optical_depth(3 * kref[None], m, W), optical_depth(3 * kref[None], m, "log"), rtol=1e-9)
    smooth = kref * (1 + 0.3 * np.sin(np.log(m)))[None, :]
    assert np.max(np.abs(optical_depth(smooth, m, W) / optical_depth(smooth, m, "log") - 1)) < 4e-3
    f32 = flux_weighted(kap.astype(np.float32), W, S.astype(np.float32))
    assert np.max(np.abs(f32 / F - 1)) < 2e-6
    # response on a well-conditioned grid (the top layers of the one above make finite differences noisy)
    m2 = np.logspace(-1.5, 2, nd)
    W2 = reference_weights(0.1 * m2 ** 0.7, m2)
    k2 = 0.1 * m2 ** 0.7 * (1 + 10 ** rng.uniform(-1, 2, (n, 1)))
    F, tau, R = flux_weighted(k2, W2, S, return_tau=True, return_response=True)
    for d in (0, 7, 20, nd - 1):
        h = 1e-6 * k2[:, d]
        kp, km = k2.copy(), k2.copy()
        kp[:, d] += h
        km[:, d] -= h
        num = (flux_weighted(kp, W2, S) - flux_weighted(km, W2, S)) / (2 * h)
        assert np.allclose(R[:, d], num, rtol=1e-4, atol=1e-6 * np.abs(R).max())
    with pytest.raises(ValueError, match="weights"):
        flux_weighted(k2, (W2[0], W2[1][:-1], W2[2]), S)


def test_exp7_kernel_terms_match_numpy():
    """The branch-free kernel sum_k a_k (e^{-tau/mu_k} - 1) (series + doublings) keeps full relative
    precision from tau = 1e-12 (where the flux sums large c_i times these small terms) to the cut-off."""
    from glocal.synthesis.builtin.transfer import _exp7_terms, gauss_mu
    mus, ws = gauss_mu("exp7")
    amp, rate = ws * mus * mus, 1 / mus
    tau = np.concatenate([[1e-12, 1e-9], np.geomspace(1e-6, 30, 60)])
    Kt, Kd = np.empty_like(tau), np.empty_like(tau)
    _exp7_terms(tau, np.ones_like(tau), tau.size, amp, rate, 40 / rate.min(), Kt, Kd)
    ref = sum(a * np.expm1(-r * tau) for a, r in zip(amp, rate))
    refd = sum(a * r * np.exp(-r * tau) for a, r in zip(amp, rate))
    assert np.max(np.abs(Kt / ref - 1)) < 1e-13
    assert np.max(np.abs(Kd - refd) / refd.max()) < 1e-13


def test_auto_resolution_resolves_the_doppler_cores():
    """``resolution="auto"``: 1.15 Fe Doppler widths per step at tau_Ross = 0.01."""
    from glocal.atmospheres import grid_atmosphere
    from glocal.synthesis.builtin.grids import auto_resolution
    from glocal.synthesis.builtin.transfer import optical_depth
    giant = grid_atmosphere(4500.0, 2.0, -2.0)
    dwarf = grid_atmosphere(5000.0, 4.5, -2.0)
    tr = [optical_depth(np.asarray(a.abross, float), a.rhox, "log") for a in (giant, dwarf)]
    r_giant = auto_resolution(giant.T, tr[0], 1.83)
    r_dwarf = auto_resolution(dwarf.T, tr[1], 1.15)
    assert 115000 <= r_giant <= 135000 and r_dwarf > r_giant


def test_run_returns_the_engine_contract(setup):
    """``run`` returns an ``EngineResult`` whose details name the sharing it did; options default when None."""
    atm, ll, A, w, f, c = setup
    r = run(atm, A[:1], ll, (5170.0, 5172.0), 1.0, None)
    assert isinstance(r, EngineResult)
    assert r.flux.shape == r.continuum.shape == (1, r.wave.size)
    assert {"timing", "n_lines_input", "n_lines_used", "n_classes", "variant_specific_species", "n_masked_rows",
            "skipped_species", "n_distinct_variants", "chemistry", "continuum_grid"} <= set(r.details)
    assert r.details["n_distinct_variants"] == 1
    dup = run(atm, np.vstack([A, A[:1]]), ll, (5170.0, 5172.0), 1.0, {"resolution": 300000})
    assert dup.details["n_distinct_variants"] == 3  # the repeated row is computed once ...
    np.testing.assert_array_equal(dup.flux[3], dup.flux[0])  # ... and copied


def test_options_are_checked():
    """Unknown names are rejected with the valid ones listed; bad values fail on construction."""
    with pytest.raises(TypeError, match="tau_integration"):
        BuiltinOptions.from_mapping({"tau_integraton": "log"})
    assert BuiltinOptions.from_mapping({"threshold": 1e-4}).threshold == 1e-4
    assert BuiltinOptions(transfer_dtype=np.float64).transfer_dtype == "float64"
    for bad in ({"resolution": "fine"}, {"resolution": -1.0}, {"tau_integration": "simpson"},
                {"transfer_dtype": "float16"}, {"electron_density": "guess"}, {"depth_points": 4},
                {"hydrogen_profiles": "smelib"}, {"bound_free_metals": ("Xx",)}, {"mask_tol": -1.0},
                {"continuum_resolution": 0.0}):
        with pytest.raises(ValueError):
            BuiltinOptions(**bad)
    with pytest.raises(dataclasses.FrozenInstanceError):
        BuiltinOptions().threshold = 1.0


def test_accuracy_options_converge(setup):
    """The options that trade accuracy for speed move F/F_c by the documented amounts (``BuiltinOptions``),
    and each one does something: float64 transfer < 1e-6; a twice finer continuum grid < 2e-6; no linear
    response (``mask_tol=0``: every candidate row of a class member solved exactly) < 1e-5; no sharing at
    all (every variant its own n_e class and exact solution) < 2e-4; tau by the "log" rule (every variant
    solved on its own) within 1e-4 at R = 2000 of the default "reference" weights, the trapezoid rule
    five times further off."""
    from glocal.degrade import degrade
    atm, ll, A, w, f, c = setup
    base = run(atm, A, ll, RANGE, 1.0, BuiltinOptions(resolution=300000))
    n0 = base.normalized
    grid = np.arange(RANGE[0] + 8, RANGE[1] - 8, 1.0)

    def r2000(n):
        return np.array([degrade(base.wave, n[v], R=2000, grid=grid, weighting="trapezoid")[1] for v in range(3)])

    def diff(**o):
        r = run(atm, A, ll, RANGE, 1.0, BuiltinOptions(resolution=300000, **o))
        assert not np.array_equal(r.flux, base.flux), f"{o} changed nothing"
        return r, np.max(np.abs(r.normalized - n0)), np.max(np.abs(r2000(r.normalized) - r2000(n0)))

    assert diff(transfer_dtype="float64")[1] < 1e-6
    assert diff(continuum_resolution=3000.0)[1] < 2e-6
    r, d, _ = diff(mask_tol=0.0)
    assert d < 1e-5 and r.details["n_masked_rows"] > 10 * base.details["n_masked_rows"]
    r, d, _ = diff(class_tol=0.0, ratio_tol=0.0, mask_tol=0.0)
    assert d < 2e-4 and r.details["n_classes"] == 3 > base.details["n_classes"]
    _, _, d_log = diff(tau_integration="log")
    _, _, d_trap = diff(tau_integration="trapezoid")
    assert d_log < 1e-4 and d_trap > 5 * d_log
