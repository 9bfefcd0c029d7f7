"""Hydrogen lines of the built-in engine (glocal.synthesis.builtin.hydrogen): Holtsmark profile, oscillator
strengths, level identification, series-limit cut, Stark wings at high n_e, the coarse/fine accumulation."""
import numpy as np
import pytest
from scipy.integrate import quad

from glocal.linelists import LINE_DTYPE, LineList, hydrogen_levels, vacuum_to_air
from glocal.synthesis.builtin import hydrogen as hyd
from glocal.synthesis.builtin.holtsmark import holtsmark
from glocal.synthesis.builtin.hydrogen import HydrogenLayers, HydrogenLine, physical_profile
from glocal.synthesis.builtin.tables import load_tables


def test_holtsmark_normalised_and_asymptotic():
    # area 1 (the quadrature table, its beta^2 start and the asymptotic tail together)
    b = np.geomspace(1e-4, 40, 20001)
    area = np.trapezoid(holtsmark(b), b) + quad(holtsmark, 40, np.inf)[0]
    assert area == pytest.approx(1.0, abs=2e-3)
    # Chandrasekhar (1943) Eq. 634: H ~ 1.496 beta^-5/2 (1 + 5.107 beta^-3/2 + ...); check the quadrature
    # part against the leading two terms where they dominate
    b = 30.0
    assert holtsmark(b) == pytest.approx(1.496 * b**-2.5 * (1 + 5.107 * b**-1.5 + 14.43 * b**-3), rel=5e-3)
    # small beta: H ~ 4 beta^2 / (3 pi)
    assert holtsmark(0.01) == pytest.approx(4 * 0.01**2 / (3 * np.pi), rel=1e-2)
    # maximum near beta = 1.6 (Holtsmark distribution peaks at beta ~ 1.607)
    beta = np.linspace(0.5, 3, 501)
    assert beta[np.argmax(holtsmark(beta))] == pytest.approx(1.61, abs=0.05)


def test_log_gf_matches_stehle_tables():
    """Johnson (1972) Gaunt factors x Kramers reproduce the tabulated gf of every Balmer/Paschen line."""
    for ln in load_tables()["stark"].values():
        assert hyd.log_gf(ln["lower"], ln["upper"]) == pytest.approx(ln["log_gf"], abs=0.01), (
            ln["lower"], ln["upper"])


def test_line_centres_and_levels():
    # H-beta: 4861.33 A in air (NIST); the Bohr levels (no fine structure) are 0.05 A off, which only
    # matters for the lines beyond the Stark tables (n_up > 30), whose widths are >> 0.05 A
    lam = vacuum_to_air(hyd.line_center_vacuum(2, 4))
    assert lam == pytest.approx(4861.33, abs=0.08)
    n_lo, n_up, ok = hydrogen_levels(np.array([4861.323, 6562.797, 3647.018]), np.array([10.199, 10.199, 10.191]))
    assert ok.tolist() == [True, True, False]  # a series-limit placeholder is rejected
    assert (n_lo[:2].tolist(), n_up[:2].tolist()) == ([2, 2], [4, 3])


def _conditions(ne):
    T = np.full(3, 8000.0)
    return T, np.full(3, ne), np.full(3, 1e16), np.full(3, 2.0)


def test_blue_wings_stop_at_series_limit():
    grid = np.linspace(3600.0, 3700.0, 20001)
    T, ne, nH, U = _conditions(1e14)
    a = hyd.hydrogen_line_opacity(grid, T, ne, nH, U, 2.0)
    limit = vacuum_to_air(hyd.series_limit_vacuum(2))
    assert limit == pytest.approx(3646.0, abs=0.1)
    assert np.all(a[grid < limit - 0.5] == 0)
    assert np.all(a[(grid > limit + 1) & (grid < 3700)] > 0)


def test_stark_wings_beyond_table_density():
    """n_e above the Stehle & Hutcheon table (10^14 cm^-3) must keep, and widen, the Stark wings."""
    grid = np.linspace(4300.0, 4380.0, 8001)
    wing = np.argmin(np.abs(grid - 4320.0))
    vals = []
    for ne in (1e13, 1e15):
        T, n_e, nH, U = _conditions(ne)
        vals.append(hyd.hydrogen_line_opacity(grid, T, n_e, nH, U, 2.0)[wing, 0])
    assert vals[0] > 0 and vals[1] > 10 * vals[0]  # quasi-static wings scale ~ n_e (F0^{3/2})


@pytest.mark.parametrize("n_up, n_e", [(4, 1e13), (5, 1e13), (12, 1e13), (30, 1e14), (40, 1e13)])
def test_profiles_have_unit_area(n_up, n_e):
    """Profiles integrate to ~1 per A; for H-beta/H-gamma the self-broadening is folded in without
    double-counting the core (area of the combination = area of the Stark table profile, which itself
    falls a few per cent short of 1 where the table's core is coarse). H30 at 10^14 cm^-3 lies beyond its
    table (which ends at 10^11.5): scaling the tabulated profile there gave an area of ~45."""
    tab = {(ln["lower"], ln["upper"]): ln for ln in load_tables()["stark"].values()}
    ln = tab.get((2, n_up))
    lam_vac = float(np.median(ln["lambda0"])) if ln is not None else hyd.line_center_vacuum(2, n_up)
    lam_air = vacuum_to_air(lam_vac)
    line = HydrogenLine(2, n_up, ln, 0.0, lam_vac, lam_air)
    layers = HydrogenLayers.of(np.array([6000.0]), np.array([n_e]), np.array([1e16]), 1.0)
    dl = np.concatenate([-np.geomspace(2000, 1e-4, 40000), np.geomspace(1e-4, 2000, 40000)])
    area = np.trapezoid(physical_profile(line, dl, layers)[:, 0], dl)
    assert area == pytest.approx(1.0, abs=0.07)
    if n_up in hyd.SELF_BROADENING:
        stark = np.trapezoid(physical_profile(line, dl, layers, self_broadening=False)[:, 0], dl)
        assert area == pytest.approx(stark, rel=0.02)


def test_coarse_accumulation_matches_direct():
    grid = np.exp(np.arange(np.log(4000.0), np.log(4500.0), 1e-5))
    T, ne, nH, U = _conditions(3e14)
    fast = hyd.hydrogen_line_opacity(grid, T, ne, nH, U, 2.0)
    ref = hyd.hydrogen_line_opacity(grid, T, ne, nH, U, 2.0, coarse_resolution=1e5, far_detuning=np.inf)
    assert np.max(np.abs(fast - ref) / ref.max(axis=0)) < 2e-3


def test_far_wings_match_the_fine_accumulation():
    """Beyond 15 A the wings are accumulated on the R = 6000 grid: within 1.5 % of the R = 10^5 sum point by
    point (measured 1.06 %, where the table's log-linear segments bend the power law; the R = 20 000 near
    wings are up to 2.4 % off that reference), and the same integrated opacity to 0.1 %."""
    grid = np.exp(np.arange(np.log(4000.0), np.log(5200.0), 1e-5))
    T, ne, nH, U = _conditions(3e14)
    # windows wider than the range: no window end (a cut, smoothed over one grid step) inside it
    fast = hyd.hydrogen_line_opacity(grid, T, ne, nH, U, 2.0, max_window=2000.0)
    ref = hyd.hydrogen_line_opacity(grid, T, ne, nH, U, 2.0, max_window=2000.0, coarse_resolution=1e5,
                                    far_detuning=np.inf)
    centres = [vacuum_to_air(hyd.line_center_vacuum(2, n)) for n in (4, 5, 6)]
    far = np.min([np.abs(grid - c) for c in centres], axis=0) > 15.0
    assert np.max(np.abs(fast - ref)[far] / ref[far]) < 1.5e-2
    assert np.trapezoid(fast, grid, axis=0) == pytest.approx(np.trapezoid(ref, grid, axis=0), rel=1e-3)


def test_line_list_hydrogen_lines_are_used():
    """With H I lines in the list, exactly those lines (and their gf) are used, as SME does."""
    data = np.zeros(1, LINE_DTYPE)
    data["wave"], data["species"], data["code"], data["ion"] = 4861.323, "H 1", 1.0, 1
    data["elow"], data["loggf"], data["isotope_fraction"] = 10.199, -0.020, 1.0
    for k in ("gamma_rad", "gamma_stark", "gamma_vdw", "d0"):
        data[k] = np.nan
    one = LineList(data, medium="air", isotopes_applied=True)
    lines = hyd.hydrogen_lines(line_list=one)
    assert [(x.n_lo, x.n_up) for x in lines] == [(2, 4)]
    grid = np.linspace(4000.0, 4500.0, 5001)
    T, ne, nH, U = _conditions(1e14)
    a = hyd.hydrogen_line_opacity(grid, T, ne, nH, U, 2.0, line_list=one)
    assert np.all(np.diff(a[:, 0]) >= 0)  # only H-beta's blue wing: no H-gamma peak at 4340 A
    data["loggf"] += 1.0
    b = hyd.hydrogen_line_opacity(grid, T, ne, nH, U, 2.0, line_list=LineList(data, medium="air",
                                                                              isotopes_applied=True))
    assert np.allclose(b, 10 * a)


def test_occupation_probability_limits():
    """Hummer-Mihalas w_n: low levels intact, high levels dissolved in a hot dwarf's deep layers, fewer
    dissolved at lower electron density, monotonic in n."""
    from glocal.synthesis.builtin.hydrogen import occupation_probability
    n = np.arange(2, 61)
    w_dense = occupation_probability(n[:, None], np.array([1e15]), np.array([8000.0]))[:, 0]
    w_thin = occupation_probability(n[:, None], np.array([1e11]), np.array([8000.0]))[:, 0]
    assert w_dense[0] > 0.999 and w_dense[-1] < 0.01  # n = 2 intact, n = 60 dissolved at 1e15 cm^-3
    assert np.all(np.diff(w_dense) <= 0) and np.all(w_thin >= w_dense)
    assert w_thin[10] > 0.99  # n = 12 survives at 1e11 cm^-3


def test_dissolved_bound_free_joins_the_balmer_edge():
    """The dissolved-level opacity redward of the Balmer limit continues the n = 2 bound-free opacity of
    ``continuum.hydrogen_bf`` at the edge (the pseudo-continuum that replaces the merged high members) and
    fades where the upper levels are intact."""
    from glocal.constants import H_IONIZATION_EV as RYDBERG_H_EV
    from glocal.constants import HC_EV_AA
    from glocal.synthesis.builtin.continuum import hydrogen_bf
    from glocal.synthesis.builtin.hydrogen import dissolved_bound_free
    T, ne, nH, U = np.array([8000.0]), np.array([1e15]), np.array([1e16]), np.array([2.0])
    edge = 4 * HC_EV_AA / RYDBERG_H_EV
    blue = hydrogen_bf(np.array([edge * (1 - 1e-6)]), T, nH, U) - hydrogen_bf(np.array([edge * (1 + 1e-6)]), T, nH, U)
    red = dissolved_bound_free(edge * np.array([1 + 1e-6, 1.03, 1.06, 1.12]), T, ne, nH, U, 2)[:, 0]
    assert red[0] == pytest.approx(blue[0, 0], rel=0.02)
    assert red[0] > red[1] > red[2] and red[3] < 1e-2 * red[0]  # n* = 11.6, 8.3, 5.9: levels intact


@pytest.mark.parametrize("n_up", [10, 20, 25])
def test_quasi_static_profile_joins_the_stehle_table(n_up):
    """Just below a line's last tabulated density the Stehle & Hutcheon profile is used, just above it the
    quasi-static one: they must agree within ~40 % from the core to the far wing (beta = 0.3-50 in units of
    K_nm F0). With K_nm taken as a Holtsmark width (the engine before the 2^(2/3) of GRIEM_K_HOLTSMARK) the
    wings differed by a factor 2.4-3 (and the far-wing ratio tends to 1 only with the right convention)."""
    ln = {(x["lower"], x["upper"]): x for x in load_tables()["stark"].values()}[(2, n_up)]
    edge = float(ln["log10_ne"][-1])
    lam_vac = float(np.median(ln["lambda0"]))
    lam_air = vacuum_to_air(lam_vac)
    T = np.full(2, 8000.0)
    lg_ne = np.array([edge - 0.005, edge + 0.005])
    F0 = 1.25e-9 * 10 ** (lg_ne * 2 / 3)
    layers = HydrogenLayers(T=T, lg_T=np.log10(T), ne=10**lg_ne, lg_ne=lg_ne, F0=F0, n_HI=np.full(2, 1e16),
                            n_HeI=None, vturb=np.full(2, 1.0))
    dl = hyd.griem_knm(2, n_up) * F0[0] * np.geomspace(0.3, 50.0, 60)
    p = physical_profile(HydrogenLine(2, n_up, ln, 0.0, lam_vac, lam_air), dl, layers)
    ratio = p[:, 0] / p[:, 1]  # table / quasi-static
    assert np.all((ratio > 0.7) & (ratio < 1.45)), ratio
    assert ratio[-1] == pytest.approx(1.0, abs=0.4)


def _profile_area(n_up, n_e, smelib, T=8000.0):
    tab = {(ln["lower"], ln["upper"]): ln for ln in load_tables()["stark"].values()}
    ln = tab.get((2, n_up))
    lam_vac = float(np.median(ln["lambda0"])) if ln is not None else hyd.line_center_vacuum(2, n_up)
    lam_air = vacuum_to_air(lam_vac)
    nH = np.array([1e16])
    layers = HydrogenLayers.of(np.array([T]), np.array([n_e]), nH, 1.0, n_HeI=0.1 * nH)
    # red wing only beyond the series limit's distance: HLINOP cuts the blue wing there
    blue = lam_air - vacuum_to_air(hyd.series_limit_vacuum(2))
    dl = np.concatenate([-np.geomspace(blue, 1e-4, 20000), np.geomspace(1e-4, 2000, 40000)])
    if smelib:
        from glocal.validation.smelib_hydrogen import SMELIB_HYDROGEN as profile
    else:
        profile = physical_profile
    p = profile(HydrogenLine(2, n_up, ln, 0.0, lam_vac, lam_air), dl, layers)[:, 0]
    return dl, p


@pytest.mark.parametrize("n_up", [40, 50])
def test_smelib_profiles_reproduce_hlinop_area(n_up):
    """SMELIB_HYDROGEN calls SMElib's HLINOP above n_up = 30: its additive Stark profile has an area of ~2
    per unit gf, the built-in profile 1. Compared on the red wing (HLINOP cuts the blue wing at the series
    limit, a few A away): 1.00-1.08 against 0.50 for H31-H63 at 8000 K, n_e = 1e13-1e14 cm^-3."""
    pytest.importorskip("pysme")
    dl, p_sme = _profile_area(n_up, 1e14, True)
    _, p_own = _profile_area(n_up, 1e14, False)
    red = dl > 0
    assert 0.9 < np.trapezoid(p_sme[red], dl[red]) < 1.2
    assert np.trapezoid(p_own[red], dl[red]) == pytest.approx(0.5, abs=0.02)


def test_smelib_profiles_freeze_the_stehle_widths():
    """SMELIB_HYDROGEN keeps a tabulated line (H20, table up to 10^13 cm^-3) at its last tabulated density,
    as SMElib's packed table does; the built-in profile keeps widening (quasi-static beyond the table)."""
    _, a = _profile_area(20, 1e14, True)
    _, b = _profile_area(20, 1e15, True)
    assert np.allclose(a, b)
    _, c = _profile_area(20, 1e14, False)
    _, d = _profile_area(20, 1e15, False)
    assert not np.allclose(c, d, rtol=0.1)


def test_profiles_hook_replaces_the_physical_profiles():
    """``profiles=`` takes any callable with ``physical_profile``'s interface, line by line: a provider that
    returns the physical profile gives the default opacity exactly and is called for every line in range;
    one that doubles it doubles the opacity wherever the windows agree (the cores); a name other than
    "physical" is refused (the SMElib emulation lives in glocal.validation, not in the engine)."""
    grid = np.linspace(4300.0, 4400.0, 4001)
    T, ne, nH, U = _conditions(1e14)
    calls = []

    def same(line, dl, layers):
        calls.append(line.n_up)
        return physical_profile(line, dl, layers)

    ref = hyd.hydrogen_line_opacity(grid, T, ne, nH, U, 2.0)
    np.testing.assert_array_equal(hyd.hydrogen_line_opacity(grid, T, ne, nH, U, 2.0, profiles=same), ref)
    assert 5 in calls  # H-gamma, 4340 A
    double = hyd.hydrogen_line_opacity(grid, T, ne, nH, U, 2.0,
                                       profiles=lambda line, dl, layers: 2 * physical_profile(line, dl, layers))
    core = np.abs(grid - 4340.46) < 1.0
    np.testing.assert_allclose(double[core], 2 * ref[core], rtol=1e-12)
    with pytest.raises(ValueError, match="physical"):
        hyd.hydrogen_line_opacity(grid, T, ne, nH, U, 2.0, profiles="smelib")


def test_smelib_profiles_through_the_engine_options():
    """``BuiltinOptions(hydrogen_profiles=SMELIB_HYDROGEN)`` reaches the hydrogen lines: the Balmer
    pseudo-continuum of an 8000 K dwarf (H31+ merge near 3660-3700 A) gets deeper with HLINOP's area-2
    profiles (mean F/F_c 0.405 against 0.428)."""
    pytest.importorskip("pysme")
    from glocal.atmospheres import grid_atmosphere
    from glocal.synthesis.builtin import BuiltinOptions, run
    from glocal.validation.smelib_hydrogen import SMELIB_HYDROGEN
    atm = grid_atmosphere(8000.0, 4.5, -1.0)
    A = atm.abundances[None, :]
    data = np.zeros(0, LINE_DTYPE)
    no_metals = LineList(data, medium="air", isotopes_applied=True)
    wave = np.linspace(3660.0, 3700.0, 401)
    phys = run(atm, A, no_metals, (3660.0, 3700.0), 2.0, BuiltinOptions(), wave=wave).normalized[0]
    sme = run(atm, A, no_metals, (3660.0, 3700.0), 2.0, BuiltinOptions(hydrogen_profiles=SMELIB_HYDROGEN),
              wave=wave).normalized[0]
    assert np.mean(sme) < np.mean(phys) - 0.01
