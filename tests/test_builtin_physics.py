"""Unit tests of the built-in engine's physics against analytic limits and published values."""
import numpy as np
import pytest
from scipy.special import expn, wofz

from glocal.synthesis.builtin import continuum as cont
from glocal.synthesis.builtin.profiles import voigt
from glocal.synthesis.builtin.transfer import flux_from_tau, optical_depth, planck_lambda


# ------------------------------------------------------------------ Voigt
def test_voigt_matches_faddeeva():
    a = np.geomspace(1e-5, 60.0, 50)[:, None]
    v = np.concatenate([np.linspace(0, 10, 101), np.geomspace(10, 1e4, 30)])[None, :]
    ref = wofz(v + 1j * a).real
    got = voigt(a, v)
    assert np.max(np.abs(got - ref) / ref) < 4e-4


def test_voigt_normalisation_and_limits():
    v = np.linspace(-4000, 4000, 1_600_001)
    # integral of H(a, v) dv = sqrt(pi) (the wings beyond |v| = 4000 carry 2a/(sqrt(pi) 4000))
    area = np.trapezoid(voigt(0.01, v), v) + 2 * 0.01 / np.sqrt(np.pi) / 4000
    assert area == pytest.approx(np.sqrt(np.pi), rel=1e-4)
    assert voigt(0.0, 1.3) == pytest.approx(np.exp(-1.69), rel=1e-12)  # Gaussian limit
    with pytest.raises(ValueError):
        voigt(-0.1, 0.0)


# ------------------------------------------------------------------ transfer
def test_flux_linear_source_is_exact():
    """For S = a + b tau the emergent flux is pi (a + 2b/3) (Eddington grey atmosphere)."""
    tau = np.concatenate([[0.0], np.geomspace(1e-6, 80, 90)])
    a, b = 2.0, 3.0
    F = flux_from_tau(tau, a + b * tau, n_mu=3)
    assert F == pytest.approx(np.pi * (a + 2 * b / 3), rel=1e-7)


def test_flux_hopf_grey_atmosphere():
    """Grey atmosphere with the Hopf function (approximation q = 0.7104 - 0.1331 exp(-3.4488 tau),
    Mihalas 1978): S = 3/4 F_0/pi (tau + q) must give F = F_0 to 0.1 %."""
    tau = np.concatenate([[0.0], np.geomspace(1e-7, 100, 72)])
    q = 0.7104 - 0.1331 * np.exp(-3.4488 * tau)
    S = 0.75 / np.pi * (tau + q)
    assert flux_from_tau(tau, S, n_mu=4) == pytest.approx(1.0, rel=1e-3)


def test_flux_against_exponential_integral_reference():
    """Nonlinear S: compare with 2 pi int S E2 dtau evaluated by brute-force quadrature."""
    t = np.concatenate([[0.0], np.geomspace(1e-8, 60, 20000)])
    S = 1.0 + np.sqrt(t) + 0.2 * t
    ref = 2 * np.pi * np.trapezoid(S * expn(2, t), t)
    tau = np.concatenate([[0.0], np.geomspace(1e-6, 60, 72)])
    got = flux_from_tau(tau, 1.0 + np.sqrt(tau) + 0.2 * tau, n_mu=4)
    assert got == pytest.approx(ref, rel=2e-3)


def test_optical_depth_and_planck():
    rhox = np.geomspace(1e-3, 10, 50)
    tau = optical_depth(np.full((2, 50), 0.5), rhox)
    assert np.allclose(tau, 0.5 * rhox)
    with pytest.raises(ValueError):
        optical_depth(np.ones(3), np.array([1.0, 0.5, 2.0]))
    # Rayleigh-Jeans limit: B_lambda -> 2 c k T / lambda^4
    lam = 1e9  # Angstrom = 10 cm
    B = planck_lambda(np.array([lam]), np.array([5000.0]))[0, 0]
    rj = 2 * 2.99792458e10 * 1.380649e-16 * 5000.0 / (lam * 1e-8) ** 4 * 1e-8
    assert B == pytest.approx(rj, rel=1e-6)


# ------------------------------------------------------------------ continuum
def test_hminus_ff_matches_gray_fit():
    """Bell & Berrington (1987) table vs the polynomial fit to it in Gray (2005, Eq. 8.13)."""
    wave = np.array([4000.0, 5000.0, 8000.0])
    T = np.array([5040.0, 6300.0])
    k = cont.hminus_ff(wave, T, np.ones(2), np.ones(2)) / (1.380649e-16 * T)[None, :]
    for i, w in enumerate(wave):
        lw = np.log10(w)
        f0 = -2.2763 - 1.6850 * lw + 0.76661 * lw**2 - 0.053346 * lw**3
        f1 = 15.2827 - 9.2846 * lw + 1.99381 * lw**2 - 0.142631 * lw**3
        f2 = -197.789 + 190.266 * lw - 67.9775 * lw**2 + 10.6913 * lw**3 - 0.625151 * lw**4
        for j, t in enumerate(T):
            lt = np.log10(5040.0 / t)
            gray = 10 ** (-26 + f0 + f1 * lt + f2 * lt**2)
            assert k[i, j] == pytest.approx(gray, rel=0.05)


def test_hminus_bf_peak():
    """H- photodetachment cross-section peaks at ~4e-17 cm^2 near 8500 A (Wishart 1979)."""
    wave = np.linspace(4000, 16000, 2000)
    s = cont.hminus_bf(wave, np.full(1, 1e-3), np.ones(1))[:, 0]  # T -> 0: no stimulated emission
    assert 3.8e-17 < s.max() < 4.3e-17
    assert 8000 < wave[np.argmax(s)] < 9200
    assert cont.hminus_bf(np.array([17000.0]), np.ones(1) * 5000, np.ones(1))[0, 0] == 0.0


def test_hydrogen_bf_balmer_jump_and_kramers():
    """Balmer-edge cross-section of n = 2 is 7.91e-18 n g_bf cm^2 (Kramers, Gray Eq. 8.4)."""
    w = np.array([3640.0, 3660.0])
    T = np.array([1e5])  # hot, so that U ~ 2 and the n = 2 population is large
    a = cont.hydrogen_bf(w, T, np.ones(1), np.array([2.0]))[:, 0]
    assert a[0] > 1.5 * a[1]  # Balmer jump
    g = cont._gaunt_bf(2, np.array([3646.0]))[0]
    assert 0.85 < g < 1.0
    nu = 2.99792458e18 / 3646.0
    assert cont.KRAMERS / (2**5 * nu**3) == pytest.approx(7.91e-18 * 2, rel=0.02)


def test_rayleigh_and_thomson_scaling():
    r = cont.rayleigh(np.array([20000.0, 40000.0]), np.ones(1), np.zeros(1), np.zeros(1))[:, 0]
    assert r[0] / r[1] == pytest.approx(16.0, rel=0.01)  # lambda^-4 far from resonance
    assert cont.thomson(np.ones(3), np.array([2.0]))[0, 0] == pytest.approx(2 * 6.6524587e-25)


def test_gaunt_ff_range_and_metal_bf_edges():
    g = cont.gaunt_ff(np.array([3000.0, 10000.0]), np.array([4000.0, 8000.0]))
    assert np.all((g > 0.8) & (g < 1.6))
    T = np.array([5000.0])
    one = {k: np.ones(1) for k in ("C", "Mg", "Al", "Si", "Ca", "Fe")}
    m = cont.metal_bf(np.array([3750.0, 3765.0]), T, one, one)
    assert m["Mg"][0, 0] > 3 * m["Mg"][1, 0]  # Mg I 3p 1P edge at 3757 A (Peach 1970)
    edges = cont.continuum_edges(3000, 9000)
    assert np.any(np.abs(edges - 3646.0) < 2.0) and np.any(np.abs(edges - 8204.0) < 3.0)


def test_continuum_bad_input():
    with pytest.raises(ValueError):
        cont.hminus_ff(np.array([np.nan]), np.ones(2), np.ones(2), np.ones(2))
    with pytest.raises(ValueError):
        cont.hminus_ff(np.array([5000.0]), np.ones(2), np.ones(3), np.ones(2))


def test_damping_conventions():
    """Classical radiative width (Gray Eq. 11.14), vdW from a given log gamma_6 with T^0.3 scaling,
    and the default for molecules without data."""
    from glocal.synthesis.builtin.profiles import damping
    T = np.array([5000.0, 10000.0])
    ne = np.array([1e12, 1e13])
    nH = np.array([1e16, 1e17])
    w = np.array([5000.0, 3100.0])
    nan = np.full(2, np.nan)
    g = damping(w, np.array(["Fe 1", "OH"]), np.array([2.0, 0.5]), nan, nan, np.array([-7.5, np.nan]),
                T, ne, nH, np.array([55.8, 17.0]), molecular_vdw=None)
    assert g[1] == pytest.approx(2.223e15 / 3100.0**2 * np.ones(2))  # molecule: radiative only
    g2 = damping(w, np.array(["Fe 1", "OH"]), np.array([2.0, 0.5]), nan, nan, np.array([-7.5, np.nan]),
                 T, ne, nH, np.array([55.8, 17.0]), molecular_vdw=-8.2)
    assert g2[1] - g[1] == pytest.approx(10**-8.2 * nH * (T / 1e4) ** 0.3)
    # Fe I with given vdW: the difference between the two depths follows n_H (T/1e4)^0.3 + Stark(n_e)
    vdw = 10**-7.5 * nH * (T / 1e4) ** 0.3
    assert np.all(g[0] > vdw) and np.all(g[0] - vdw < 1e-3 * g[0] + 1e9)


# ------------------------------------------------------------------ metal and molecular continua
K_EV_TEST = 8.617333262e-5  # Boltzmann constant (eV/K), CODATA 2018
HC_EV_A_TEST = 12398.41984  # h c (eV Angstrom)


@pytest.mark.parametrize("el, chi", [("Mg", 7.6462), ("Si", 8.1517)])
def test_peach_sums_fall_with_boltzmann_below_table(el, chi):
    """Below the tabulated 4000 K a Boltzmann sum S = sum g sigma e^{-E/kT} can only fall at least as
    fast as the factor of its lowest contributing level, E >= chi - h nu (analytic bound); clamping T at
    4000 K (ratio 1) violated it by orders of magnitude. The extrapolation is continuous at 4000 K."""
    w = np.array([6000.0])
    E_min = chi - HC_EV_A_TEST / w[0]
    T = np.array([2500.0, 3000.0, 3999.999, 4000.001])
    one = {el: np.ones(4)}
    S = cont.metal_bf(w, T, one, one)[el][0] / cont.stimulated(w, T)[0]
    for i in (0, 1):
        bound = np.exp(-E_min * (1 / (K_EV_TEST * T[i]) - 1 / (K_EV_TEST * 4000.0)))
        assert 0 < S[i] / S[3] <= bound * 1.001
    assert S[2] == pytest.approx(S[3], rel=1e-5)


def test_fe1_rmatrix_boltzmann_bound_and_strength():
    """Fe I (Zatsarinny et al. 2019): at 2600 A only terms with E >= chi - h nu - (3 sigma smoothing)
    can absorb (chi = 7.9025 eV, NIST), which bounds the temperature dependence; and the R-matrix
    cross-sections exceed the Kurucz (1993) pseudo-level approximation in the near UV, the known
    'missing UV opacity' of Fe I (Bautista et al. 2017)."""
    w = np.array([2600.0])
    E_min = 7.9025 - HC_EV_A_TEST / w[0] - 3 * 0.01 * HC_EV_A_TEST / w[0]
    T = np.array([2000.0, 4000.0])
    S = cont.fe1_rmatrix(w, T)[0]
    assert 0 < S[0] / S[1] <= np.exp(-E_min * (1 / (K_EV_TEST * T[0]) - 1 / (K_EV_TEST * T[1])))
    one = {"Fe": np.ones(1)}
    T1 = np.array([4000.0])
    new = cont.metal_bf(w, T1, one, one)["Fe"][0, 0]
    old = cont.metal_bf(w, T1, one, one, fe1="kurucz1993")["Fe"][0, 0]
    assert new > 3 * old
    assert cont.fe1_rmatrix(np.array([12000.0]), T1)[0, 0] == 0.0  # below the 10000 cm^-1 table start
    with pytest.raises(ValueError):
        cont.metal_bf(w, T1, one, one, fe1="bautista")


def test_molecular_photodissociation_matches_kurucz_tables():
    """CH and OH: alpha / (n (1 - e^{-h nu/kT})) equals the tabulated LTE cross-section at a node when
    the chemistry's partition function is Kurucz's (Kurucz, van Dishoeck & Tarafdar 1987: log sigma_CH
    (3.5 eV, 4000 K) = -18.485; van Dishoeck & Dalgarno 1983 via ATLAS9: log sigma_OH(5.0 eV, 5000 K) =
    -20.520); alpha scales as n / Q; zero below the dissociation continua (CH < 2 eV)."""
    for name, E, T, ref in (("CH", 3.5, 4000.0, -18.485), ("OH", 5.0, 5000.0, -20.520)):
        w = np.array([HC_EV_A_TEST / E])
        Tv = np.array([T, T])
        a = cont.molecular_bf(w, Tv, {name: np.array([1.0, 2.0])})[name][0] / cont.stimulated(w, Tv)[0]
        assert a[0] == pytest.approx(10**ref, rel=2e-3)
        assert a[1] == pytest.approx(2 * a[0])
        QK = cont.molecular_bf(w, Tv, {name: np.ones(2)}, {name: np.array([1.0, 1.0])})[name][0]
        Q2 = cont.molecular_bf(w, Tv, {name: np.ones(2)}, {name: np.array([2.0, 2.0])})[name][0]
        assert Q2 == pytest.approx(QK / 2)
    red = cont.molecular_bf(np.array([7000.0]), np.array([4000.0]), {"CH": np.ones(1), "OH": np.ones(1),
                                                                  "NH": np.ones(1)})
    assert all(v[0, 0] == 0.0 for v in red.values())
    nh = cont.molecular_bf(np.array([3000.0]), np.array([3500.0, 4500.0]), {"NH": np.ones(2)})["NH"][0]
    assert np.all(nh > 0) and nh[1] > nh[0]  # hotter: more NH in excited states that dissociate
    assert cont.molecular_bf(np.array([3000.0]), np.ones(1) * 4000, {"H2O": np.ones(1)}) == {}
