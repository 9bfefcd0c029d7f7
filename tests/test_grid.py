"""Tests of the §2.1 grid, the microturbulence law (Eqs 4–7), variants and presets."""
from decimal import Decimal

import numpy as np
import pytest

from glocal import grid as gr


def _decimal_seq(start: str, stop: str, step: str) -> list[float]:
    out, x = [], Decimal(start)
    while x <= Decimal(stop):
        out.append(float(x))
        x += Decimal(step)
    return out


# ------------------------------------------------------------------ paper grid
def test_paper_grid_axes_are_exact_decimals():
    assert gr.TEFF_NODES.tolist() == _decimal_seq("3500", "6000", "100") + _decimal_seq("6250", "8000", "250")
    assert gr.LOGG_NODES.tolist() == _decimal_seq("0.00", "5.00", "0.25")
    assert gr.FEH_NODES.tolist() == _decimal_seq("-4.0", "-1.0", "0.2")
    assert -3.8 in gr.FEH_NODES.tolist() and -1.0 in gr.FEH_NODES.tolist()


def test_paper_grid_count_and_summary():
    g = gr.paper_grid()
    assert g.size == 34 * 21 * 16 == 11424
    np.testing.assert_array_equal(g["model_id"], np.arange(g.size))
    assert np.unique(np.stack([g["teff"], g["logg"], g["feh"]], 1), axis=0).shape[0] == g.size
    s = gr.grid_summary(g)
    assert (s["n_teff"], s["n_logg"], s["n_feh"]) == (34, 21, 16)
    assert s["n_models"] == 11424 and s["n_spectra"] == 11424 * 16
    assert s["paper_n_models"] == 11763 and s["difference_vs_paper"] == 11424 - 11763
    assert s["teff_range"] == (3500.0, 8000.0) and s["feh_range"] == (-4.0, -1.0)
    # the paper's number is not a product of these axes (see module docstring)
    assert 11763 % 16 and 11763 % 21 and 11763 % 34
    with pytest.raises(TypeError):
        gr.grid_summary(np.zeros(3))


# ------------------------------------------------------------------ Eqs 4-7
@pytest.mark.parametrize(
    "teff, logg, feh, expected",
    [
        (5000.0, 3.5, -2.0, 1.1 - 0.05 + 0.1),  # Eq. 4 at both edges: logg=3.5, Teff=5000 → 1.15
        (4900.0, 3.5, -2.0, 1.0),  # Eq. 5
        (4999.0, 5.0, -1.0, 1.0),  # Eq. 5
        (6500.0, 4.0, -3.0, 1.1 + 0.1 + 0.4),  # Eq. 4: 1.6
        (5500.0, 4.5, -1.0, 1.1),  # Eq. 4 at its minimum
        (5000.0, 3.25, -1.0, 10 ** 0.0776984375),  # Eq. 6 at [Fe/H] = -1 exactly (hand-evaluated exponent)
        (5000.0, 3.25, -1.2, 2.478 - 1.05625),  # Eq. 7
        (4000.0, 0.0, -1.0, 10 ** 0.226),  # Eq. 6 at logg = 0
        (4000.0, 0.0, -4.0, 2.478),  # Eq. 7 at logg = 0
    ],
)
def test_microturbulence_hand_values(teff, logg, feh, expected):
    assert gr.microturbulence(teff, logg, feh) == pytest.approx(expected, rel=1e-12)


def test_microturbulence_branch_edges_and_broadcasting():
    # logg just below 3.5 switches to the giant branch; Teff just below 5000 to Eq. 5
    assert gr.microturbulence(5000.0, 3.4999, -1.0) == pytest.approx(
        10 ** (0.226 - 0.0228 * 3.4999 + 0.0297 * 3.4999**2 - 0.0113 * 3.4999**3), rel=1e-12)
    assert gr.microturbulence(5000.0, 3.4999, -1.0000001) == pytest.approx(2.478 - 0.325 * 3.4999, rel=1e-12)
    assert gr.microturbulence(4999.999, 3.5, -2.0) == 1.0
    vt = gr.microturbulence(np.array([[4500.0], [5000.0], [6000.0]]), np.array([1.0, 3.5, 4.0, 5.0]), -2.0)
    assert vt.shape == (3, 4)
    np.testing.assert_allclose(vt[:, 0], 2.478 - 0.325)
    np.testing.assert_allclose(vt[0, 1:], 1.0)
    np.testing.assert_allclose(vt[2, 1:], 1.1 + 0.05 + 4e-7 * 250000)
    assert isinstance(gr.microturbulence(5000, 4, -2), float)
    with pytest.raises(ValueError, match="non-finite"):
        gr.microturbulence(np.nan, 4.0, -2.0)
    with pytest.raises(ValueError, match="broadcast"):
        gr.microturbulence(np.ones(3) * 5000, np.ones(4), -2.0)


# ------------------------------------------------------------------ variants
def test_paper_variants():
    assert list(gr.VARIANT_VALUES) == _decimal_seq("-0.2", "1.2", "0.2")
    v = gr.paper_variants()
    assert len(v) == 16
    assert [d["O"] for d in v[:8]] == list(gr.VARIANT_VALUES) and all(d["Mg"] == 0 for d in v[:8])
    assert [d["Mg"] for d in v[8:]] == list(gr.VARIANT_VALUES) and all(d["O"] == 0 for d in v[8:])
    assert sum(d == {"O": 0.0, "Mg": 0.0} for d in v) == 2  # duplicated solar-scaled variant, as in the paper


def test_parse_joint_specs():
    """'joint[:N][+X…]' gives the draw count and ranges; O and Mg keep their draws when C is added, and the
    realstars-carbon preset shares the realstars atmospheres."""
    assert gr.parse_joint("joint") == (16, {"O": (-0.2, 1.2), "Mg": (-0.2, 1.2)})
    n, ranges = gr.parse_joint("joint:20+C")
    assert n == 20 and ranges["C"] == gr.JOINT_EXTRA_RANGES["C"] and set(ranges) == {"O", "Mg", "C"}
    assert gr.parse_joint("paper") is None and gr.parse_joint("joint:0") is None
    with pytest.raises(ValueError, match="no joint range"):
        gr.parse_joint("joint:20+Xx")
    a = gr.joint_variants(n, rng=4, ranges=ranges)
    b = gr.joint_variants(n, rng=4)
    assert [(v["O"], v["Mg"]) for v in a] == [(v["O"], v["Mg"]) for v in b]
    np.testing.assert_array_equal(gr.preset_grid("realstars-carbon"), gr.preset_grid("realstars"))
    assert gr.preset_summary("realstars-carbon")["variant_ranges"]["C"] == (-0.5, 1.2)


def test_joint_variants_latin_hypercube():
    n = 50
    v = gr.joint_variants(n, rng=1)
    assert len(v) == n and set(v[0]) == {"O", "Mg"}
    for el in ("O", "Mg"):
        x = np.array([d[el] for d in v])
        assert x.min() >= -0.2 and x.max() <= 1.2
        strata = np.floor((x + 0.2) / 1.4 * n).astype(int)
        assert sorted(strata) == list(range(n))  # one draw per stratum
    assert v == gr.joint_variants(n, rng=1)
    assert v != gr.joint_variants(n, rng=2)
    c = gr.joint_variants(10, rng=0, ranges={"C": (0.0, 2.0)})
    assert all(0.0 <= d["C"] <= 2.0 for d in c)
    with pytest.raises(ValueError, match="element"):
        gr.joint_variants(5, ranges={"Xx": (0, 1)})
    with pytest.raises(ValueError, match="positive integer"):
        gr.joint_variants(0)
    with pytest.raises(ValueError, match="hi >= lo"):
        gr.joint_variants(5, ranges={"O": (1.0, 0.0)})


# ------------------------------------------------------------------ presets
@pytest.mark.parametrize("name, n", [("ci", 24), ("laptop", 100)])
def test_preset_grid_stratified_subset(name, n):
    full = gr.paper_grid()
    p = gr.preset_grid(name, seed=0)
    assert p.size == n and np.unique(p["model_id"]).size == n
    np.testing.assert_array_equal(full[p["model_id"]], p)  # true subset with stable ids
    for f, ax in (("teff", gr.TEFF_NODES), ("logg", gr.LOGG_NODES), ("feh", gr.FEH_NODES)):
        assert p[f].min() == ax.min() and p[f].max() == ax.max()  # full range covered
        if n >= ax.size:
            assert set(p[f].tolist()) == set(ax.tolist())  # every node value present
    np.testing.assert_array_equal(p, gr.preset_grid(name, seed=0))
    assert not np.array_equal(p["model_id"], gr.preset_grid(name, seed=1)["model_id"])


def test_preset_exclude_include_and_paper():
    def cool_dwarf(t, g, f):
        return (t < 4000) & (g > 4.0)

    p = gr.preset_grid("laptop", exclude=cool_dwarf)
    assert p.size == gr.PRESETS["laptop"]["n_models"] and not np.any(cool_dwarf(p["teff"], p["logg"], p["feh"]))
    q = gr.preset_grid("ci", include=lambda t, g, f: f <= -2.0)
    assert q.size == 24 and q["feh"].max() <= -2.0
    full = gr.paper_grid()
    allp = gr.preset_grid("paper", exclude=cool_dwarf(full["teff"], full["logg"], full["feh"]))
    assert allp.size == 11424 - int(cool_dwarf(full["teff"], full["logg"], full["feh"]).sum())
    assert gr.preset_grid("paper").size == 11424
    with pytest.raises(ValueError, match="unknown preset"):
        gr.preset_grid("huge")
    with pytest.raises(TypeError, match="boolean"):
        gr.preset_grid("ci", exclude=lambda t, g, f: t * 0.0)
    with pytest.raises(ValueError, match="shape"):
        gr.preset_grid("ci", exclude=np.zeros(10, dtype=bool))


def test_design_table():
    models = gr.preset_grid("ci")
    tab = gr.design_table(models)
    assert tab.size == 24 * 16
    np.testing.assert_array_equal(tab["model_id"], np.repeat(models["model_id"], 16))
    np.testing.assert_allclose(tab["vturb"], [gr.microturbulence(t, g, f) for t, g, f in
                                              zip(tab["teff"], tab["logg"], tab["feh"])])
    np.testing.assert_array_equal(tab["ofe"][:16], [d["O"] for d in gr.paper_variants()])
    np.testing.assert_array_equal(tab["mgfe"][:16], [d["Mg"] for d in gr.paper_variants()])
    with pytest.raises(ValueError, match="variants"):
        gr.design_table(models, [{"C": 0.3}])


# ------------------------------------------------------------------ realstars (continuous) preset
def test_realstars_preset_continuous_in_coverage_and_reproducible():
    from glocal.atmospheres import in_coverage
    p = gr.preset_grid("realstars", seed=0)
    spec = gr.PRESETS["realstars"]
    assert p.size == spec["n_models"] >= 1500 and p.dtype == gr.GRID_DTYPE
    n_var = int(gr.preset_variants("realstars").split(":")[1])
    assert n_var in (20, 32) and p.size * n_var >= 30000
    assert np.all(in_coverage(p["teff"], p["logg"], p["feh"]))
    assert np.unique(p["model_id"]).size == p.size and p["model_id"].min() >= gr.CONTINUOUS_ID_OFFSET
    assert np.all(np.diff(p["model_id"]) > 0)
    # continuous: almost every value lies between the paper's nodes, spread over the paper's ranges
    for f, ax in (("teff", gr.TEFF_NODES), ("logg", gr.LOGG_NODES), ("feh", gr.FEH_NODES)):
        assert np.isin(p[f], ax).mean() < 0.1
        assert p[f].min() >= ax.min() and p[f].max() <= ax.max()
        lo, hi = ax.min(), ax.max()
        assert p[f].min() < lo + 0.02 * (hi - lo) and p[f].max() > hi - 0.02 * (hi - lo)
        counts = np.histogram(p[f], bins=9, range=(lo, hi))[0]
        assert counts.min() > 0.5 * counts.mean()      # no empty stretch on any axis
    np.testing.assert_array_equal(p, gr.preset_grid("realstars", seed=0))
    q = gr.preset_grid("realstars", seed=1)
    assert not np.array_equal(p["teff"], q["teff"])
    # a point keeps its id under an extra filter
    r = gr.continuous_nodes(50, seed=0, include=lambda t, g, f: f < -2.5)
    assert np.all(r["feh"] < -2.5)
    common = np.intersect1d(r["model_id"], p["model_id"])
    for m in common:
        np.testing.assert_array_equal(r[r["model_id"] == m], p[p["model_id"] == m])
    with pytest.raises(ValueError):
        gr.continuous_nodes(0)


def test_preset_summary_and_variants():
    s = gr.preset_summary("realstars")
    assert s["n_models"] == gr.PRESETS["realstars"]["n_models"] and s["n_variants"] == 20
    assert s["n_spectra"] == s["n_models"] * 20 >= 30000
    assert s["variant_ranges"] == {"O": (-0.2, 1.2), "Mg": (-0.2, 1.2)} and s["sampling"] == "continuous"
    assert gr.preset_summary("ci")["n_spectra"] == 24 * 16 and gr.preset_variants("paper") == "paper"
    with pytest.raises(ValueError, match="unknown preset"):
        gr.preset_variants("huge")


def test_realstars_emp_preset_extends_feh_to_minus_five_at_the_same_density():
    from glocal.atmospheres import in_coverage
    p = gr.preset_grid("realstars-emp", seed=0)
    base = gr.preset_grid("realstars", seed=0)
    assert p.size == gr.PRESETS["realstars-emp"]["n_models"] and np.all(in_coverage(p["teff"], p["logg"], p["feh"]))
    assert p["feh"].min() < -4.9 and p["feh"].max() <= -1.0 and base["feh"].min() >= -4.0
    emp = p["feh"] < -4.0
    assert 0.2 < emp.mean() < 0.3                        # a quarter of the box is new
    # over the paper's -4..-1 the atmospheres are about as dense as in realstars (within 10 %)
    assert abs((~emp).sum() / base.size - 1.0) < 0.1
    counts = np.histogram(p["feh"], bins=8, range=(-5.0, -1.0))[0]
    assert counts.min() > 0.7 * counts.mean()
    with pytest.raises(ValueError, match="feh_range"):
        gr.continuous_nodes(10, feh_range=(-6.0, -1.0))
    with pytest.raises(ValueError, match="feh_range"):
        gr.continuous_nodes(10, feh_range=(-2.0, -3.0))
