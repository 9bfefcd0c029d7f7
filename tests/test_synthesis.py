"""Tests of glocal.abundances, the synthesis front door (glocal.synthesis, §2.1, Eqs. 1–7) and the SME engine."""
from __future__ import annotations

import numpy as np
import pytest

from glocal.abundances import ABSENT, SOLAR_GS98, abundance_pattern, abundance_patterns, element_index, xfe_of

pysme = pytest.importorskip("pysme", reason="pysme-astro not installed")

from glocal import synthesis, validation  # noqa: E402
from glocal.synthesis import sme as sme_engine  # noqa: E402
from glocal.synthesis.sme import SMEOptions  # noqa: E402

H_PLANCK, C_LIGHT, K_B = 6.62607015e-27, 2.99792458e10, 1.380649e-16


def moog_lines(shared_data, lo, hi):
    """Atoms + hydrides straight from the published linemake files (independent of the built-in list)."""
    from glocal.linelists import LineList, read_moog
    d = shared_data / "linelists" / "linemake"
    parts = [read_moog(d / f).select(wave_range=(lo, hi)) for f in ("moogatom.gz", "mooghyd.gz")]
    return LineList.concatenate(parts).sorted()


def lines_for(lo, hi):
    """Built-in list in [lo, hi]; falls back to the shared raw files if it cannot be loaded."""
    from glocal.linelists import builtin_linelist
    try:
        return builtin_linelist((lo, hi))
    except (ValueError, FileNotFoundError, OSError):
        from conftest import SHARED
        if not (SHARED / "data").is_dir():
            pytest.skip("no usable line list")
        return moog_lines(SHARED / "data", lo, hi)


@pytest.fixture(scope="module")
def kurucz_atm():
    from glocal.atmospheres import grid_atmosphere
    return grid_atmosphere(4500.0, 2.0, -2.0)     # a node of the Kurucz [M/H] = -2 grid


@pytest.fixture(scope="module")
def small_lines():
    return lines_for(5140.0, 5210.0)


# ----------------------------------------------------------------------------- abundances
def test_solar_zero_points_are_gs98():
    # Grevesse & Sauval (1998), Table 1: A(O)=8.83, A(Mg)=7.58, A(Fe)=7.50, A(He)=10.93
    for el, ref in (("O", 8.83), ("Mg", 7.58), ("Fe", 7.50), ("He", 10.93), ("H", 12.0)):
        assert SOLAR_GS98[element_index(el)] == pytest.approx(ref)


def test_pattern_follows_eqs_1_to_3():
    feh, ofe, mgfe = -2.4, 0.6, 0.2
    a = abundance_pattern(feh, {"O": ofe, "Mg": mgfe})
    assert a[element_index("O")] == pytest.approx(8.83 + feh + ofe)      # Eq. 3
    assert a[element_index("Mg")] == pytest.approx(7.58 + feh + mgfe)
    assert a[element_index("Fe")] == pytest.approx(7.50 + feh)           # Eq. 1
    assert a[element_index("Ca")] == pytest.approx(6.36 + feh)
    assert a[0] == 12.0 and a[1] == pytest.approx(10.93)                  # H, He unscaled
    absent = SOLAR_GS98 <= ABSENT
    assert np.all(a[absent] == ABSENT)
    assert xfe_of(a, "O", feh) == pytest.approx(ofe)
    assert abundance_patterns(feh, [{"O": 0.0}, {"O": 1.2}]).shape == (2, 99)


@pytest.mark.parametrize("bad, err", [
    ({"Xx": 0.1}, ValueError), ({"Fe": 0.1}, ValueError), ({"He": 0.1}, ValueError),
    ({"O": float("nan")}, ValueError), ({"O": "a"}, TypeError), ([("O", 0.1)], TypeError),
])
def test_pattern_rejects_bad_offsets(bad, err):
    with pytest.raises(err):
        abundance_pattern(-2.0, bad)


def test_pattern_rejects_bad_feh():
    with pytest.raises(ValueError):
        abundance_pattern(float("nan"))
    with pytest.raises(ValueError):
        abundance_pattern(-12.0)
    with pytest.raises(TypeError):
        abundance_pattern([1.0, 2.0])


# ----------------------------------------------------------------------------- engine pieces
def test_sme_abundance_format_is_number_fractions():
    a = abundance_pattern(-1.0, {"O": 0.4})
    s = sme_engine.sme_abundances(a)
    n = 10.0 ** (a - 12.0)
    assert s[0] == pytest.approx(1.0 / n.sum())
    assert s[0] + np.sum(10.0 ** s[1:]) == pytest.approx(1.0, rel=1e-9)
    assert s[8 - 1] - s[26 - 1] == pytest.approx((8.83 + 0.4) - 7.50)  # ratios preserved
    with pytest.raises(ValueError):
        sme_engine.sme_abundances(a[:50])


def test_mu_quadrature_integrates_flux_moments():
    for n in (1, 3, 7):
        mu, w = sme_engine.mu_quadrature(n)
        assert np.all(np.diff(mu) < 0) and np.all((mu > 0) & (mu < 1))
        assert 2 * np.pi * np.sum(w * mu) == pytest.approx(np.pi)          # isotropic I=1: F = π
    mu, w = sme_engine.mu_quadrature(3)
    # linear limb darkening I = 1 - u(1-μ): F = π(1 - u/3) exactly for Gauss–Legendre n >= 2
    u = 0.6
    assert 2 * np.pi * np.sum(w * mu * (1 - u * (1 - mu))) == pytest.approx(np.pi * (1 - u / 3))
    with pytest.raises(ValueError):
        sme_engine.mu_quadrature(0)


def test_wave_grid_constant_velocity_step():
    g = sme_engine.wave_grid((3000.0, 3100.0), step_kms=2.0)
    dv = np.diff(np.log(g)) * 299792.458
    assert np.allclose(dv, 2.0)
    assert g[0] == 3000.0 and g[-1] >= 3100.0
    for bad in ((3100, 3000), (np.nan, 3000), (10, 20)):
        with pytest.raises(ValueError):
            sme_engine.wave_grid(bad)


def test_atmosphere_conversion_particle_budget(kurucz_atm):
    atmo, teff, logg = sme_engine.sme_atmosphere(kurucz_atm)
    assert teff == kurucz_atm.teff and logg == kurucz_atm.logg
    ntot = kurucz_atm.P / (K_B * kurucz_atm.T)
    assert np.allclose(atmo["xna"] + atmo["xne"], ntot)
    # metal-poor model: mean mass per nucleus ~ that of its H+He mixture, (m_H + y m_He)/(1 + y) amu
    y = 10.0 ** (kurucz_atm.abundances[1] - 12.0)
    mmean = atmo["rho"] / atmo["xna"] / 1.66053906660e-24
    assert np.allclose(mmean, (1.008 + y * 4.003) / (1 + y), rtol=0.002)


# ----------------------------------------------------------------------------- end to end
def _planck_lambda(lam_A, T):
    lam = lam_A * 1e-8
    return 2 * H_PLANCK * C_LIGHT**2 / lam**5 / np.expm1(H_PLANCK * C_LIGHT / (lam * K_B * T)) * 1e-8


def test_sme_end_to_end_mg_b(kurucz_atm, small_lines):
    variants = [{"O": 0.0, "Mg": 0.0}, {"O": 0.0, "Mg": 0.0}, {"O": 0.0, "Mg": 0.8}, {"O": 0.8, "Mg": 0.0}]
    vs = synthesis.synthesize_variants(kurucz_atm.teff, kurucz_atm.logg, kurucz_atm.feh, variants,
                                       wave_range=(5160.0, 5190.0), atmosphere=kurucz_atm,
                                       line_list=small_lines, engine="sme")
    assert vs.flux.shape == (4, vs.wave.size) and vs.normalized.shape == vs.flux.shape
    assert vs.vturb == pytest.approx(2.478 - 0.325 * kurucz_atm.logg)   # Eq. 7 (giant, [Fe/H] < -1)
    norm = vs.normalized
    assert np.all(norm <= 1.0 + 1e-6) and np.all(norm > 0)
    # duplicate variant: same spectrum (the EOS warm start converges to ~1e-8 from a new start)
    np.testing.assert_allclose(vs.flux[0], vs.flux[1], rtol=1e-6)
    # continuum: within a factor 2 of pi*B_lambda(Teff) at 5175 Å (Eddington–Barbier order of magnitude)
    ratio = vs.continuum[0, vs.wave.size // 2] / (np.pi * _planck_lambda(5175.0, kurucz_atm.teff))
    assert 0.5 < ratio < 2.0
    # Mg b 5167/5173/5184: [Mg/Fe] deepens them, [O/Fe] does not touch them
    ew = np.trapezoid(1 - norm, vs.wave, axis=1)
    assert ew[2] > 1.2 * ew[0]
    # [O/Fe] only acts through molecules (more CO, less C2 Swan 5165 Å in this window): < 5 % of the Mg effect
    assert abs(ew[3] - ew[0]) < 0.05 * (ew[2] - ew[0])
    core = np.argmin(np.abs(vs.wave - 5183.60))
    assert norm[0, core] < 0.6                                           # a strong line really is there
    assert abs(norm[3, core] - norm[0, core]) < 0.01
    assert vs.details["n_lines_used"] <= vs.details["n_lines_in"]
    assert vs.engine == "sme" and vs.options == SMEOptions()


def test_eos_warm_start_does_not_change_the_result(kurucz_atm, small_lines):
    V = [{"O": 0.0, "Mg": 0.0}, {"O": 1.2, "Mg": 0.0}, {"O": 0.0, "Mg": 1.2}]
    kw = dict(wave_range=(5170.0, 5175.0), atmosphere=kurucz_atm, line_list=small_lines, engine="sme")
    warm = synthesis.synthesize_variants(4500, 2.0, -2.0, V, eos_warm_start=True, **kw)
    cold = synthesis.synthesize_variants(4500, 2.0, -2.0, V, eos_warm_start=False, **kw)
    np.testing.assert_allclose(warm.normalized, cold.normalized, atol=1e-5)
    np.testing.assert_allclose(warm.continuum, cold.continuum, rtol=1e-5)


def test_synthesize_single_and_dict_access(kurucz_atm, small_lines):
    s = synthesis.synthesize(kurucz_atm.teff, kurucz_atm.logg, kurucz_atm.feh, abundances={"Mg": 0.4},
                             vturb=1.5, wave_range=(5165.0, 5175.0), atmosphere=kurucz_atm,
                             line_list=small_lines, wave=np.arange(5165.0, 5175.0, 0.02), engine="sme")
    assert s.vturb == 1.5 and s["wave"].size == s.flux.size == s.continuum.size
    np.testing.assert_allclose(s["normalized"], s.flux / s.continuum)
    assert np.all(np.diff(s.wave) > 0)


def _run(*args, **kwargs):
    """The SME engine called directly (engine contract): (wave, flux, continuum, details)."""
    r = sme_engine.run(*args, **kwargs)
    return r.wave, r.flux, r.continuum, r.details


def _r200(wave, norm, lo, hi):
    from glocal.degrade import degrade
    return degrade(wave, norm, R=200, wmin=lo, wmax=hi, weighting="trapezoid")[1]


def test_chunk_slices_cover_the_grid_once():
    g = sme_engine.wave_grid((3000.0, 3400.0))
    sl = sme_engine.chunk_slices(g, 100.0)
    assert len(sl) == 4 and sl[0].start == 0 and sl[-1].stop == g.size
    assert all(a.stop == b.start for a, b in zip(sl[:-1], sl[1:]))
    assert max(g[s][-1] - g[s][0] for s in sl) <= 101.0
    assert sme_engine.chunk_slices(g, None) == [slice(0, g.size)]
    with pytest.raises(ValueError):
        sme_engine.chunk_slices(g, 0.5)


def test_chunked_synthesis_equals_unchunked_across_h_beta():
    """Two chunks meeting at the H-beta core of an A-type dwarf (strongest H wings of the grid):
    chunked output == one-piece output to 1e-5 (same line ranges), and the default chunked + H-window
    synthesis == the one-piece synthesis with SMElib's full H ranges to 0.1 % at R = 200."""
    from glocal.atmospheres import grid_atmosphere
    from glocal.grid import microturbulence
    atm = grid_atmosphere(8000.0, 4.5, -1.0)
    lo, hi = 4831.3, 4891.3
    lines = lines_for(lo - 25.0, hi + 25.0)
    A = abundance_pattern(-1.0, {})[None, :]
    vt = microturbulence(8000.0, 4.5, -1.0)
    w1, f1, c1, d1 = _run(atm, A, lines, (lo, hi), vt, SMEOptions(chunk_width=30.0))
    w0, f0, c0, _ = _run(atm, A, lines, (lo, hi), vt, SMEOptions(chunk_width=None))
    wr, fr, cr, _ = _run(atm, A, lines, (lo, hi), vt, SMEOptions(chunk_width=None, h_depth_min=None))
    assert d1["n_chunks"] == 2
    assert abs(d1["chunk_edges"][1][0] - 4861.33) < 0.5       # the boundary sits in the core
    np.testing.assert_array_equal(w1, wr)
    np.testing.assert_array_equal(w0, wr)
    n1, n0, nr = f1 / c1, f0 / c0, fr / cr
    core = np.argmin(np.abs(w1 - 4861.33))
    assert nr[0, core] < 0.5                                  # H-beta really is there
    np.testing.assert_allclose(n1, n0, atol=1e-5)             # chunking alone changes nothing
    np.testing.assert_allclose(c1, cr, rtol=1e-6)
    r1, rr = _r200(w1, n1, lo, hi), _r200(wr, nr, lo, hi)
    assert np.max(np.abs(r1 / rr - 1)) < 1e-3


def test_h_windows_cut_far_wings_within_tolerance(kurucz_atm):
    """Cool giant, 160 Å around H-beta in four chunks: the H I line gets a finite window (its far wings
    are cut) and the R = 200 spectrum moves by < 0.1 % against SMElib's own H range in one piece."""
    lo, hi = 4781.0, 4941.0
    lines = lines_for(lo - 25.0, hi + 25.0)
    A = abundance_pattern(-2.0, {"O": 0.4})[None, :]
    kw = dict(atmosphere=kurucz_atm, abundances=A, line_list=lines, wave_range=(lo, hi), vturb=1.8)
    w1, f1, c1, d1 = _run(options=SMEOptions(chunk_width=50.0), **kw)
    wr, fr, cr, _ = _run(options=SMEOptions(chunk_width=None, h_depth_min=None), **kw)
    assert d1["n_chunks"] == 4 and d1["h_lines_used"] >= 1
    assert 0 < d1["h_window_max"] < 80.0                      # H-beta's wing is cut inside the range
    r1, rr = _r200(w1, f1 / c1, lo, hi), _r200(wr, fr / cr, lo, hi)
    assert np.max(np.abs(r1 / rr - 1)) < 1e-3
    np.testing.assert_allclose(c1, cr, rtol=1e-6)


@pytest.mark.parametrize("kwargs, err", [
    (dict(teff=float("nan")), ValueError),
    (dict(engine="nope"), ValueError),
    (dict(wave_range=(5190.0, 5160.0)), ValueError),
    (dict(abundances={"Zz": 0.1}), ValueError),
    (dict(vturb=-1.0), ValueError),
    (dict(wave=np.array([5170.0, 5169.0, 5171.0])), ValueError),
])
def test_front_door_rejects_bad_input(kurucz_atm, small_lines, kwargs, err):
    args = dict(teff=kurucz_atm.teff, logg=kurucz_atm.logg, feh=kurucz_atm.feh, wave_range=(5160.0, 5190.0),
                atmosphere=kurucz_atm, line_list=small_lines)
    args.update(kwargs)
    with pytest.raises(err):
        synthesis.synthesize(args.pop("teff"), args.pop("logg"), args.pop("feh"), **args)


def test_variants_must_be_a_list(kurucz_atm, small_lines):
    with pytest.raises(TypeError):
        synthesis.synthesize_variants(4500, 2.0, -2.0, {"O": 0.2}, atmosphere=kurucz_atm, line_list=small_lines)


def test_engine_registry():
    assert {"sme", "builtin", "spectrum"} <= set(synthesis.available_engines())
    assert synthesis.available_engines()[0] == synthesis.DEFAULT_ENGINE == "builtin"
    with pytest.raises(ValueError):
        synthesis.register_engine("sme", lambda *a, **k: None)
    with pytest.raises(TypeError):
        synthesis.register_engine("x", 3)


@pytest.mark.slow
def test_convergence_of_default_sampling(shared_data, kurucz_atm):
    """Default settings vs 0.01 Å / 7 μ / all lines: every R=200 pixel within 0.2 % (two models)."""
    lines = moog_lines(shared_data, 4990.0, 5360.0)
    rows = validation.convergence_table(models=((4500.0, 2.0, -2.0), (6000.0, 4.0, -1.0)),
                                       wave_range=(5000.0, 5350.0), line_list=lines)
    for r in rows:
        assert r["n_pixels"] >= 3
        assert r["max_rel"] < 2e-3, r


@pytest.mark.slow
def test_physics_checks_section_2_3():
    """§2.3 claims on a few models (high resolution, narrow windows to stay fast)."""
    windows = {"OH": (3120.0, 3140.0), "MgI_2852": (2848.0, 2856.0)}
    r = validation.physics_checks("sme", feh=-1.0, teffs=(3500, 4000, 5000, 7000), loggs=(1.0, 3.0, 5.0), R=None,
                                  windows=windows, almax_min=None)
    v = {d["claim"]: d for d in r["verdicts"]}
    assert v["OH band depth rises then falls with Teff, peak 4000-5000 K"]["passed"], v
    assert v["Mg I 2852 depth peaks between 4000 and 5800 K"]["passed"], v
    assert v["OH response to [O/Fe] grows with log g"]["passed"], v
    assert v["OH response virtually disappears at 7000-8000 K (< 10 % of its maximum)"]["passed"], v
    T = r["teff"]
    assert np.all(r["resp_O_OH_vs_teff"][T <= 5000] > 0)           # [O/Fe] deepens OH
    assert r["resp_Mg_MgI_2852_vs_teff"][T == 5000][0] > 0.01      # [Mg/Fe] deepens Mg I 2852
    assert abs(r["resp_O_MgI_2852_vs_teff"][T == 5000][0]) < 0.2 * r["resp_Mg_MgI_2852_vs_teff"][T == 5000][0]


def test_sme_hydrogen_lines_carry_their_level_numbers():
    """SMElib reads the principal quantum numbers of H I lines from the gamma_4 / gamma_6 fields: H-alpha,
    H-beta and Paschen-9 of the built-in list must arrive as (2, 3), (2, 4) and (3, 9)."""
    from glocal.linelists import builtin_linelist
    from glocal.synthesis.sme import prepare_lines
    prep = prepare_lines(builtin_linelist((4800.0, 9300.0)))
    h = prep.species == b"H 1"
    wave, n_lo, n_up = prep.atomic[2][h], prep.atomic[6][h], prep.atomic[7][h]
    for lam, lo, up in ((6562.80, 2, 3), (4861.33, 2, 4), (9229.0, 3, 9)):
        k = np.argmin(np.abs(wave - lam))
        assert abs(wave[k] - lam) < 0.5 and (n_lo[k], n_up[k]) == (lo, up)


@pytest.mark.parametrize("engine", ["sme", "builtin"])
def test_short_range_keeps_far_wings_of_lines_outside_it(engine):
    """A range just redward of Mg I 2852 and Mg II h&k in a cool dwarf: F/F_c must equal that of a range
    that holds those lines. The front door and the SME engine used to hand over lines within ~6 A only,
    which left out their van der Waals wings (several per cent here)."""
    kw = dict(abundances={"O": 0.0, "Mg": 0.0}, engine=engine)
    wide_wave = 2780.0 + 0.01 * np.arange(13001)            # 2780-2910 A
    short_wave = wide_wave[wide_wave >= 2900.0 - 1e-9]       # the same points from 2900 A on
    short = synthesis.synthesize(4000.0, 4.5, -1.0, wave_range=(2900.0, 2910.0), wave=short_wave, **kw)
    wide = synthesis.synthesize(4000.0, 4.5, -1.0, wave_range=(2780.0, 2910.0), wave=wide_wave, **kw)
    assert np.max(np.abs(short.normalized - wide.normalized[-short_wave.size:])) < 2e-3
    # and those wings matter there: without the lines below 2895 A the spectrum is shallower
    from glocal.linelists import builtin_linelist
    cut = builtin_linelist((2895.0, 3210.0))
    bare = synthesis.synthesize(4000.0, 4.5, -1.0, wave_range=(2900.0, 2910.0), wave=short_wave, line_list=cut,
                                **kw)
    assert np.mean(bare.normalized - short.normalized) > 0.01


def test_sme_options_act_as_documented(kurucz_atm):
    """``step_kms`` sets the grid's velocity step, ``n_mu`` the quadrature (F/F_c moves little between 3 and
    7 angles), ``h2broad`` the H2 van der Waals broadening: off, the Na D wings of a cool dwarf are shallower."""
    from glocal.atmospheres import grid_atmosphere
    from glocal.linelists import builtin_linelist
    lines = builtin_linelist((5860.0, 5920.0))
    A = abundance_pattern(-1.0, {})[None, :]
    dwarf = grid_atmosphere(4000.0, 4.5, -1.0)
    base = sme_engine.run(dwarf, A, lines, (5885.0, 5900.0), 1.0)
    coarse = sme_engine.run(dwarf, A, lines, (5885.0, 5900.0), 1.0, SMEOptions(step_kms=4.0))
    assert np.allclose(np.diff(np.log(base.wave)) * 299792.458, 2.0)
    assert np.allclose(np.diff(np.log(coarse.wave)) * 299792.458, 4.0)
    mu7 = sme_engine.run(dwarf, A, lines, (5885.0, 5900.0), 1.0, SMEOptions(n_mu=7))
    assert base.details["n_mu"] == 3 and mu7.details["n_mu"] == 7
    assert 0 < np.max(np.abs(mu7.normalized - base.normalized)) < 0.02
    no_h2 = sme_engine.run(dwarf, A, lines, (5885.0, 5900.0), 1.0, SMEOptions(h2broad=False))
    wing = (base.wave > 5891.0) & (base.wave < 5894.0)         # between Na D2 5890.0 and D1 5895.9
    assert np.mean(no_h2.normalized[0, wing] - base.normalized[0, wing]) > 0.005


@pytest.mark.parametrize("bad", [dict(n_mu=0), dict(step_kms=-1.0), dict(h_depth_min=0.5), dict(chunk_width=0.5),
                                 dict(almax_min=float("nan")), dict(h2broad="yes")])
def test_sme_options_reject_bad_values(bad):
    with pytest.raises((ValueError, TypeError)):
        SMEOptions(**bad)
