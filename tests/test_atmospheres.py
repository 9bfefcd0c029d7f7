"""Model-atmosphere readers, the built-in Kurucz (1993) grid and its interpolation (paper §2.1)."""
import numpy as np
import pytest

from glocal import atmospheres as atm
from glocal import grid as paper

K_B = 1.380649e-16


# ----------------------------------------------------------------------------- readers
def _first_model_rows(path, n=3):
    """Depth rows of the first READ DECK6 block, parsed directly from the text."""
    lines = path.read_text().splitlines()
    i = next(k for k, l in enumerate(lines) if l.startswith("READ DECK6"))
    return np.array([[float(x) for x in l.split()[:5]] for l in lines[i + 1:i + 1 + n]])


def test_kurucz_multi_model_file(shared_data):
    path = shared_data / "atmospheres" / "kurucz1993" / "am20k2.dat"
    models = atm.read_atmospheres(path)
    assert len(models) == path.read_text().count("READ DECK6")
    m = models[0]
    assert (m.teff, m.logg, m.feh, m.vturb) == (3500.0, 0.0, -2.0, 2.0)
    assert m.ndepth == 72
    ref = _first_model_rows(path)
    np.testing.assert_array_equal(np.c_[m.rhox[:3], m.T[:3], m.P[:3], m.xne[:3], m.abross[:3]], ref)
    # A_X = 12 + log10(N_X/N_tot) + log10(scale) - log10(N_H/N_tot): Fe -4.37, scale 0.01, H 0.911
    assert m.abundances[25] == pytest.approx(12 - 4.37 - 2 - np.log10(0.911), abs=1e-9)
    assert m.abundances[0] == 12.0
    assert m.abundances[1] == pytest.approx(12 + np.log10(0.089 / 0.911), abs=1e-9)
    assert isinstance(atm.read_atmosphere(path), list)


def test_kurucz_single_models(shared_data):
    ref = shared_data / "reference_atmospheres"
    ksun = atm.read_atmosphere(ref / "ksun.mod")
    assert isinstance(ksun, atm.Atmosphere)
    assert (ksun.teff, ksun.logg, ksun.feh, ksun.vturb) == (5777.0, 4.437, 0.0, 2.0)
    odf = atm.read_atmosphere(ref / "ap00t5777g44377k1odfnew.dat")
    assert odf.vturb == pytest.approx(1.0)  # VTURB column 1.000E+05 cm/s
    assert odf.abundances[25] == pytest.approx(12 - 4.54 - np.log10(0.9204), abs=1e-9)
    assert odf.geometry == "plane-parallel"
    # surface τ convention and monotonicity
    tau = odf.tau_ross
    assert tau[0] == pytest.approx(odf.abross[0] * odf.rhox[0])
    assert np.all(np.diff(tau) > 0)


def test_marcs_reader_conversions(shared_data):
    path = shared_data / "reference_atmospheres" / "sun.mod"
    m = atm.read_atmosphere(path)
    assert m.geometry == "plane-parallel" and m.ndepth == 56
    assert m.logg == pytest.approx(np.log10(2.7542e4))
    # first depth row, straight from the text: T=4066.8, Pe=2.1166E-02, Pg=2.6699E+02
    assert m.T[0] == 4066.8 and m.P[0] == 2.6699e2
    assert m.xne[0] == pytest.approx(2.1166e-2 / (K_B * 4066.8), rel=1e-12)
    assert m.rhox[0] == pytest.approx(9.747804e-03) and m.abross[0] == pytest.approx(1.8399e-3)
    assert m.abundances[25] == 7.45 and m.abundances[98] == -99.0
    # independent check of τ_Ross = ∫ κ_R d rhox against MARCS' own lgTauR column
    deep = np.log10(m.tau_ross_file) > -3
    np.testing.assert_allclose(np.log10(m.tau_ross[deep]), np.log10(m.tau_ross_file[deep]), atol=0.03)
    sph = atm.read_atmosphere(next((shared_data / "reference_atmospheres").glob("s5000_*.mod")))
    assert sph.geometry == "spherical" and sph.logg == pytest.approx(3.0)


def test_reader_errors(shared_data, tmp_path):
    src = shared_data / "reference_atmospheres"
    text = (src / "ksun.mod").read_text().splitlines()
    (tmp_path / "trunc.dat").write_text("\n".join(text[:40]) + "\n")
    with pytest.raises(ValueError, match="truncated"):
        atm.read_atmosphere(tmp_path / "trunc.dat")
    marcs = (src / "sun.mod").read_text().splitlines()
    (tmp_path / "trunc.mod").write_text("\n".join(marcs[:60]) + "\n")
    with pytest.raises(ValueError):
        atm.read_atmosphere(tmp_path / "trunc.mod")
    (tmp_path / "junk.txt").write_text("hello world\n")
    with pytest.raises(ValueError, match="unrecognised"):
        atm.read_atmosphere(tmp_path / "junk.txt")
    with pytest.raises(FileNotFoundError):
        atm.read_atmosphere(tmp_path / "missing.dat")
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ValueError, match="gzip"):
        atm.read_atmosphere(tmp_path / "bad.gz")


def test_atmosphere_validation():
    n = 5
    good = dict(teff=5000, logg=4, feh=-1, vturb=2, abundances=np.zeros(99), rhox=np.arange(1.0, n + 1),
                T=np.full(n, 5000.0), P=np.ones(n), xne=np.ones(n), abross=np.ones(n))
    atm.Atmosphere(**good)
    with pytest.raises(ValueError, match="differ in length"):
        atm.Atmosphere(**{**good, "T": np.ones(n + 1)})
    with pytest.raises(ValueError, match="NaN"):
        atm.Atmosphere(**{**good, "P": np.r_[np.nan, np.ones(n - 1)]})
    with pytest.raises(ValueError, match="abundances"):
        atm.Atmosphere(**{**good, "abundances": np.zeros(10)})
    with pytest.raises(ValueError, match="rhox"):
        atm.Atmosphere(**{**good, "rhox": np.arange(n, 0.0, -1)})
    with pytest.raises(ValueError, match="geometry"):
        atm.Atmosphere(**good, geometry="cubic")
    d = atm.Atmosphere(**good).to_arrays()
    assert set(d) == {"rhox", "T", "P", "xne", "abross", "tau_ross"}


# ----------------------------------------------------------------------------- grid
def test_grid_contents():
    g = atm.load_grid()
    assert g is atm.load_grid()  # cached
    assert g.teff[0] == 3500 and g.teff[-1] == 8500 and np.allclose(np.diff(g.teff), 250)
    assert np.allclose(g.logg, np.arange(0, 5.01, 0.5))
    assert np.allclose(g.feh, np.r_[np.arange(-5.0, -0.49, 0.5), 0.0])
    assert g.vturb == 2.0
    # a known hole: the coolest, most metal-poor dwarfs are missing
    assert not g.present[0, -1, 0] and g.present[0, 0, 0]


def test_grid_exact_at_nodes(shared_data):
    src = atm.read_atmospheres(shared_data / "atmospheres" / "kurucz1993" / "am20k2.dat")
    ref = next(m for m in src if m.teff == 5000 and m.logg == 2.5)
    m = atm.grid_atmosphere(5000.0, 2.5, -2.0)
    for q in ("rhox", "T", "P", "xne", "abross"):
        np.testing.assert_allclose(getattr(m, q), getattr(ref, q), rtol=2e-7)
    np.testing.assert_allclose(m.abundances, ref.abundances, atol=1e-5)
    assert m.vturb == 2.0


def test_interpolation_matches_direct_formula():
    """Halfway in [M/H] between two nodes: T and log P on the mean log τ scale, computed here
    directly from the definition with np.interp."""
    g = atm.load_grid()
    a = atm.grid_atmosphere(5000.0, 2.5, -2.0)
    b = atm.grid_atmosphere(5000.0, 2.5, -1.5)
    mid = atm.grid_atmosphere(5000.0, 2.5, -1.75)
    la, lb = np.log10(a.tau_ross), np.log10(b.tau_ross)
    target = 0.5 * (la + lb)
    T_ref = 0.5 * (np.interp(target, la, a.T) + np.interp(target, lb, b.T))
    P_ref = 0.5 * (np.interp(target, la, np.log10(a.P)) + np.interp(target, lb, np.log10(b.P)))
    inner = (target > max(la[0], lb[0])) & (target < min(la[-1], lb[-1]))
    np.testing.assert_allclose(mid.T[inner], T_ref[inner], rtol=1e-10)
    np.testing.assert_allclose(np.log10(mid.P[inner]), P_ref[inner], atol=1e-10)
    np.testing.assert_allclose(mid.abundances[25], 0.5 * (a.abundances[25] + b.abundances[25]))
    assert g.feh[0] <= -1.75 <= g.feh[-1]


def test_paper_grid_point_between_nodes_is_bounded():
    m = atm.grid_atmosphere(5130.0, 3.35, -2.7)
    lo = atm.grid_atmosphere(5000.0, 3.35, -2.7)
    hi = atm.grid_atmosphere(5250.0, 3.35, -2.7)
    lt = np.log10(m.tau_ross)
    sel = (lt > -3) & (lt < 0.5)
    T_lo = np.interp(lt[sel], np.log10(lo.tau_ross), lo.T)
    T_hi = np.interp(lt[sel], np.log10(hi.tau_ross), hi.T)
    assert np.all(m.T[sel] > T_lo - 5) and np.all(m.T[sel] < T_hi + 5)


def test_coverage_and_errors():
    t = np.array([3500, 3500, 3500, 9000, 5000, 5000])
    g = np.array([5.0, 4.5, 4.0, 4.0, 2.0, np.nan])
    f = np.array([-3.0, -3.0, -3.0, -2.0, -2.0, -2.0])
    # at [M/H]=-3, Teff 3500 the Kurucz column stops at log g 4.0
    np.testing.assert_array_equal(atm.in_coverage(t, g, f), [False, True, True, False, True, False])
    np.testing.assert_array_equal(atm.in_coverage(t, g, f, max_extrapolation=0.0),
                                  [False, False, True, False, True, False])
    assert atm.in_coverage(5000, 2.0, -2.0).shape == ()
    with pytest.raises(ValueError, match="outside the coverage"):
        atm.grid_atmosphere(3500, 5.0, -3.0)
    with pytest.raises(ValueError, match="finite"):
        atm.grid_atmosphere(np.nan, 4.0, -2.0)
    # extrapolated model is finite and ordered
    m = atm.grid_atmosphere(3500, 4.5, -3.0)
    assert np.all(np.isfinite(m.T)) and np.all(np.diff(m.rhox) > 0)


def test_coverage_report_counts():
    r = atm.coverage_report()
    n = paper.TEFF_NODES.size * paper.LOGG_NODES.size * paper.FEH_NODES.size
    assert paper.TEFF_NODES.size == 34 and r["n_paper_nodes"] == n
    # the counts quoted in glocal/data/PROVENANCE.md (default max_extrapolation = 0.5 dex)
    assert (r["n_interpolated"], r["n_extrapolated"], r["n_excluded"]) == (10740, 422, 262)
    assert r["n_interpolated"] + r["n_extrapolated"] + r["n_excluded"] == n
    assert r["n_excluded"] == len(r["excluded_nodes"]) == sum(r["excluded_by_feh"].values())
    r0 = atm.coverage_report(max_extrapolation=0.0)
    assert r0["n_extrapolated"] == 0 and r0["n_excluded"] > r["n_excluded"]
    # every excluded node really fails in grid_atmosphere, a covered one works
    t, g, f = r["excluded_nodes"][0]
    with pytest.raises(ValueError):
        atm.grid_atmosphere(t, g, f)


def test_leave_one_out_accuracy():
    res = atm.leave_one_out(n_nodes=8, seed=1)
    assert len(res["nodes"]) == 8 and res["step_factor"] == 2
    assert res["median_abs_dT"] < 50.0
    assert res["median_abs_dlogP"] < 0.05
    assert np.all(res["max_abs_dT"] < 400)


def test_in_coverage_agrees_with_grid_atmosphere():
    nodes = paper.paper_grid()
    t, g, f = nodes["teff"], nodes["logg"], nodes["feh"]
    rng = np.random.default_rng(3)
    pick = rng.choice(t.size, 150, replace=False)
    ok = atm.in_coverage(t[pick], g[pick], f[pick])
    for a, b, c, expected in zip(t[pick], g[pick], f[pick], ok):
        try:
            m = atm.grid_atmosphere(a, b, c)
            works = bool(np.all(np.isfinite(m.T)) and np.all(np.diff(m.tau_ross) > 0))
        except ValueError:
            works = False
        assert works == expected, (a, b, c)


def test_interpolated_model_is_self_consistent():
    """rhox of an interpolated model is rebuilt from κ_R so that ∫ κ_R d rhox reproduces the
    interpolated τ scale, which lies between those of the bracketing models."""
    m = atm.grid_atmosphere(4420.0, 1.8, -2.0)
    lo, hi = atm.grid_atmosphere(4250.0, 1.8, -2.0), atm.grid_atmosphere(4500.0, 1.8, -2.0)
    assert np.all(np.diff(m.rhox) > 0)
    lt, l1, l2 = (np.log10(x.tau_ross) for x in (m, lo, hi))
    assert np.all(lt >= np.minimum(l1, l2) - 1e-9) and np.all(lt <= np.maximum(l1, l2) + 1e-9)
    # extrapolated cool dwarf (beyond the last Kurucz log g) is also monotonic and finite
    m2 = atm.grid_atmosphere(3750.0, 4.75, -3.0)
    assert np.all(np.diff(m2.rhox) > 0) and np.all(np.isfinite(m2.xne))


def test_corrupt_grid_file(tmp_path):
    bad = tmp_path / "grid.h5"
    bad.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(ValueError, match="corrupt"):
        atm.load_grid(bad)
    with pytest.raises(FileNotFoundError):
        atm.load_grid(tmp_path / "absent.h5")
