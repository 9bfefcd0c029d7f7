"""Tests of glocal.build.build_grid: coverage skipping, resume without duplicates/holes, failures."""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from glocal.build import build_grid, read_failures, resolve_nodes, resolve_variants, synthesize_model
from glocal.dataset import load_dataset
from glocal.degrade import csst_grid
from glocal.synthesis import EngineOptions

WAVE_RANGE = (3000.0, 4000.0)


def analytic_engine(atmosphere, abundances, line_list, wave_range, vturb, options, *, wave=None):
    """Deterministic analytic 'engine' (Gaussian lines whose depth follows A(O), A(Mg)) used to test
    the build machinery quickly; it obeys the engine contract of glocal.synthesis.contract."""
    from glocal.synthesis import EngineResult
    A = np.asarray(abundances, float)
    if atmosphere.teff > 7900:
        raise RuntimeError("analytic engine refuses Teff > 7900 K (failure-path test)")
    w = np.linspace(wave_range[0], wave_range[1], 4001)
    depth_o = 0.05 * 10 ** (A[:, 7] - 8.83 - atmosphere.feh)[:, None]
    depth_mg = 0.05 * 10 ** (A[:, 11] - 7.58 - atmosphere.feh)[:, None]
    prof = np.exp(-0.5 * ((w - 3100.0) / 8.0) ** 2), np.exp(-0.5 * ((w - 3800.0) / 8.0) ** 2)
    cont = np.tile(1e6 * (w / 5000.0) ** -2, (A.shape[0], 1))
    flux = cont * (1 - np.clip(depth_o * prof[0] + depth_mg * prof[1], 0, 0.9))
    return EngineResult(w, flux, cont, {"options": options})


def one_line_list():
    from glocal.linelists import LINE_DTYPE, LineList
    d = np.zeros(1, LINE_DTYPE)
    d["wave"], d["species"], d["code"], d["ion"], d["elow"], d["loggf"] = 3100.0, "O 1", 8.0, 1, 9.1, -1.0
    d["isotope_fraction"] = 1.0
    for k in ("gamma_rad", "gamma_stark", "gamma_vdw", "d0"):
        d[k] = np.nan
    return LineList(d, medium="air")


NODES = [(4500.0, 2.0, -2.0), (5000.0, 4.5, -1.4), (3500.0, 5.0, -4.0), (8000.0, 0.0, -1.0), (6000.0, 3.0, -3.0)]


def _covered():
    from glocal.atmospheres import in_coverage
    t = np.array(NODES)
    return in_coverage(t[:, 0], t[:, 1], t[:, 2])


def test_resolve_inputs():
    n = resolve_nodes(NODES)
    assert n.size == 5 and np.array_equal(n["model_id"], np.arange(5))
    assert len(resolve_variants("paper")) == 16
    assert resolve_variants([{"Ca": 0.2}]) == [{"O": 0.0, "Mg": 0.0, "Ca": 0.2}]
    assert len(resolve_variants("joint")) == 16
    with pytest.raises(ValueError):
        resolve_variants([{"O": 0.1, "Xx": 0.2}])
    with pytest.raises(ValueError):
        resolve_variants([{"Fe": 0.2}])
    with pytest.raises(ValueError):
        resolve_nodes([(4500.0, np.nan, -2.0)])
    with pytest.raises(ValueError):
        resolve_nodes(np.zeros((3, 2)))
    with pytest.raises(ValueError):
        resolve_variants("nope")


def test_build_resume_failures_and_labels(tmp_path):
    out = tmp_path / "grid.h5"
    cov = _covered()
    variants = resolve_variants("paper")
    opts = dict(engine=analytic_engine, scheduler="serial", variants=variants, progress=False,
                wave_range=WAVE_RANGE, line_list=one_line_list())
    # first run on the first two nodes only (simulates a run killed after two models)
    r1 = build_grid(np.array(NODES[:2]), out, **opts)
    assert r1["n_built"] == int(cov[:2].sum()) and r1["n_failed"] == 0
    # full run: resumes, skips the done ones, records the failing one, skips out-of-coverage nodes
    nodes = resolve_nodes(NODES)
    r2 = build_grid(nodes, out, **opts)
    assert r2["n_done_before"] == r1["n_built"]
    assert r2["n_skipped_coverage"] == int((~cov).sum())
    fails = read_failures(out)
    hot = [i for i, n in enumerate(NODES) if n[0] > 7900 and cov[i]]
    assert sorted(r2["failed"]) == hot and [f["model_id"] for f in fails] == hot
    assert all("RuntimeError" in f["error"] for f in fails)
    ds = load_dataset(out)
    expected_models = {i for i in range(len(NODES)) if cov[i] and i not in hot}
    ids = ds.labels["model_id"]
    assert set(np.unique(ids).tolist()) == expected_models
    for m in expected_models:                           # no holes, no duplicates: 16 rows per model
        assert np.sum(ids == m) == 16
    assert np.array_equal(ds.wave, csst_grid(*WAVE_RANGE, 200))
    # labels: Eq. 4-7 vturb, the paper's [O/Fe]/[Mg/Fe] design
    from glocal.grid import microturbulence
    for m in expected_models:
        rows = ids == m
        t, g, f = NODES[m]
        assert np.allclose(ds.labels["vturb"][rows], microturbulence(t, g, f))
        assert sorted(ds.labels["ofe"][rows].tolist()) == sorted(v["O"] for v in variants)
    # the analytic O feature near 3100 Å deepens with [O/Fe] in the stored R=200 spectra
    m0 = min(expected_models)
    rows = np.flatnonzero((ids == m0) & (ds.labels["mgfe"] == 0))
    pix = np.argmin(np.abs(ds.wave - 3100.0))
    order = np.argsort(ds.labels["ofe"][rows])
    depth = 1 - np.asarray(ds.flux[rows[order], pix])
    assert np.all(np.diff(depth) >= -1e-7) and depth[-1] > depth[0]
    prov = ds.provenance
    assert prov["engine"].startswith("custom:") and "data_sha256" in prov
    assert prov["n_skipped_coverage"] == int((~cov).sum())
    # third run: nothing left except the failing model, which is retried (and fails again)
    r3 = build_grid(nodes, out, **opts)
    assert r3["n_built"] == 0 and r3["n_failed"] == len(hot)


def test_worker_never_raises():
    node = {"model_id": 7, "teff": 4500.0, "logg": 2.0, "feh": -2.0}
    res = synthesize_model(node, [{"O": 0.0, "Mg": 0.0}], "no-such-engine", WAVE_RANGE, csst_grid(*WAVE_RANGE),
                           200.0, {})
    assert res["model_id"] == 7 and "ValueError" in res["error"] and "no-such-engine" in res["error"]


@pytest.mark.slow
def test_build_with_dask_processes(tmp_path):
    """The default parallel path: LocalCluster with 2 worker processes, real SME engine, tiny range."""
    pytest.importorskip("distributed")
    pytest.importorskip("pysme")
    from glocal.linelists import builtin_linelist
    out = tmp_path / "sme.h5"
    lines = builtin_linelist((5140.0, 5210.0))
    r = build_grid([(5000.0, 4.5, -1.4), (4500.0, 2.0, -2.0)], out, engine="sme", workers=2,
                   variants=[{"O": 0.0, "Mg": 0.0}, {"O": 0.0, "Mg": 1.0}], progress=False,
                   wave_range=(5120.0, 5230.0), line_list=lines)
    assert r["n_built"] == 2 and r["n_failed"] == 0, read_failures(out)
    ds = load_dataset(out)
    assert ds.flux.shape[0] == 4
    f = np.asarray(ds.flux)
    assert np.all((f > 0.2) & (f <= 1.0 + 1e-6))
    # [Mg/Fe] = +1 deepens the Mg b pixel (5175 Å) in both models
    pix = np.argmin(np.abs(ds.wave - 5175.0))
    for m in (0, 1):
        rows = np.flatnonzero(ds.labels["model_id"] == m)
        base = rows[ds.labels["mgfe"][rows] == 0][0]
        rich = rows[ds.labels["mgfe"][rows] == 1][0]
        assert f[rich, pix] < f[base, pix] - 1e-3
    versions = ds.provenance["versions"]
    versions = json.loads(versions) if isinstance(versions, str) else versions
    assert versions["pysme-astro"] != "not installed" and versions["engine"].startswith("pysme")


def test_joint_variants_and_extra_elements(tmp_path):
    """'joint' draws differ per model but are reproducible; other elements get their own label column."""
    nodes = [(4500.0, 2.0, -2.0), (5000.0, 4.5, -1.4)]
    opts = dict(engine=analytic_engine, scheduler="serial", progress=False, wave_range=WAVE_RANGE,
                line_list=one_line_list())
    build_grid(nodes, tmp_path / "j.h5", variants="joint", seed=3, **opts)
    build_grid(nodes, tmp_path / "j2.h5", variants="joint", seed=3, **opts)
    a, b = load_dataset(tmp_path / "j.h5"), load_dataset(tmp_path / "j2.h5")
    np.testing.assert_array_equal(a.labels["ofe"], b.labels["ofe"])
    o0 = np.sort(a.labels["ofe"][a.labels["model_id"] == 0])
    o1 = np.sort(a.labels["ofe"][a.labels["model_id"] == 1])
    assert not np.allclose(o0, o1) and o0.min() >= -0.2 and o0.max() <= 1.2
    build_grid(nodes[:1], tmp_path / "c.h5", variants=[{"C": 0.5}, {"C": -0.5}], **opts)
    c = load_dataset(tmp_path / "c.h5")
    assert sorted(c.labels["cfe"].tolist()) == [-0.5, 0.5] and np.all(c.labels["ofe"] == 0)


def test_engine_options_are_checked_before_any_work(tmp_path):
    """A misspelt engine option fails at once with the engine's valid options, not once per model; so do
    an unknown engine, another engine's options and a vacuum line list."""
    out = tmp_path / "g.h5"
    with pytest.raises(TypeError, match="unknown option.*resolutoin.*valid:.*threshold"):
        build_grid("ci", out, engine="builtin", engine_options={"resolutoin": 40000}, progress=False)
    with pytest.raises(TypeError, match="unknown option.*resolution.*valid:.*step_kms"):
        build_grid("ci", out, engine="sme", engine_options={"resolution": 40000}, progress=False)  # builtin's
    from glocal.synthesis.sme import SMEOptions
    with pytest.raises(TypeError, match="SMEOptions"):
        build_grid("ci", out, engine="spectrum", engine_options=SMEOptions(), progress=False)
    with pytest.raises(ValueError, match="unknown engine.*available: builtin"):
        build_grid("ci", out, engine="nope", progress=False)
    with pytest.raises(ValueError, match="air"):
        build_grid("ci", out, engine=analytic_engine, line_list=one_line_list().to_medium("vacuum"), progress=False)
    assert not out.exists()


@dataclass(frozen=True)
class _ScaleOptions(EngineOptions):
    """Options of the test engine below: ``depth`` scales its line depths."""
    depth: float = 1.0


def _scaled_engine(atmosphere, abundances, line_list, wave_range, vturb, options, *, wave=None):
    res = analytic_engine(atmosphere, abundances, line_list, wave_range, vturb, options, wave=wave)
    norm = 1 - options.depth * (1 - res.normalized)
    return type(res)(res.wave, norm * res.continuum, res.continuum)


def test_provenance_records_engine_name_version_and_all_options(tmp_path):
    """The registry's engine name, its version and every option (defaults included) reach the grid's
    provenance; the options change the spectra."""
    from glocal.synthesis import register_engine
    register_engine("test-scaled", _scaled_engine, _ScaleOptions, lambda: "scaled 1.0", overwrite=True)
    kw = dict(engine="test-scaled", scheduler="serial", variants=[{"O": 0.8}], progress=False,
              wave_range=WAVE_RANGE, line_list=one_line_list())
    build_grid(NODES[:1], tmp_path / "a.h5", **kw)
    build_grid(NODES[:1], tmp_path / "b.h5", engine_options={"depth": 2.0}, **kw)
    a, b = load_dataset(tmp_path / "a.h5"), load_dataset(tmp_path / "b.h5")
    params = a.provenance["parameters"]
    params = json.loads(params) if isinstance(params, str) else params
    assert a.provenance["engine"] == "test-scaled" and a.provenance["engine_version"] == "scaled 1.0"
    assert params["engine_options"] == {"depth": 1.0} and params["line_list"]["n_lines"] == 1
    pix = np.argmin(np.abs(a.wave - 3100.0))
    depth_a, depth_b = 1 - np.asarray(a.flux)[0, pix], 1 - np.asarray(b.flux)[0, pix]
    assert depth_a > 0.01 and depth_b == pytest.approx(2 * depth_a, rel=1e-3)


def test_cli_engine_option_values():
    import argparse

    from glocal.cli import engine_option
    assert engine_option("resolution=40000") == ("resolution", 40000)
    assert engine_option("threshold=1e-3") == ("threshold", 1e-3)
    assert engine_option("hydrogen_dissolution=true") == ("hydrogen_dissolution", True)
    assert engine_option("depth_points=none") == ("depth_points", None)
    assert engine_option("n_mu=exp7") == ("n_mu", "exp7")
    for bad in ("resolution", "=3", "1x=2"):
        with pytest.raises(argparse.ArgumentTypeError):
            engine_option(bad)


def test_continuum_stored_and_physical_flux_exact(tmp_path):
    """New grids store C = D[F]/D[F/F_c]: flux * C is the degraded physical flux; for the analytic
    engine's smooth continuum C is D[F_c] to < 1e-3."""
    from glocal.degrade import degrade
    from glocal.synthesis import synthesize_variants
    out = tmp_path / "c.h5"
    variants = [{"O": 0.0, "Mg": 0.0}, {"O": 1.0, "Mg": 0.5}]
    build_grid(NODES[:1], out, engine=analytic_engine, scheduler="serial", variants=variants, progress=False,
               wave_range=WAVE_RANGE, line_list=one_line_list())
    ds = load_dataset(out)
    assert ds.continuum is not None and ds.continuum.shape == ds.flux.shape
    t, g, f = NODES[0]
    vs = synthesize_variants(t, g, f, variants, engine=_engine_name_for(analytic_engine), wave_range=WAVE_RANGE,
                             line_list=one_line_list())
    grid = csst_grid(*WAVE_RANGE, 200)
    phys = degrade(vs.wave, vs.flux, grid=grid)[1]
    np.testing.assert_allclose(ds.physical_flux(), phys, rtol=2e-6)
    np.testing.assert_allclose(ds.continuum, degrade(vs.wave, vs.continuum, grid=grid)[1], rtol=1e-3)
    assert "continuum" in ds.provenance["parameters"]
    # a file written without /continuum (older glocal) is resumed without it
    import h5py
    with h5py.File(out, "a") as h5:
        del h5["continuum"]
    r = build_grid(NODES[:2], out, engine=analytic_engine, scheduler="serial", variants=variants, progress=False,
                   wave_range=WAVE_RANGE, line_list=one_line_list())
    assert r["n_done_before"] == 1 and r["n_built"] == 1
    old = load_dataset(out)
    assert old.continuum is None and old.n == 4


def _engine_name_for(func):
    from glocal.build import _engine_name
    return _engine_name(func)


def test_realstars_preset_limit_resume_and_design(tmp_path):
    """The realstars preset brings 20 joint variants per atmosphere, different for each atmosphere and
    reproducible; --limit builds the first N; a resume with another seed or variants is refused."""
    from glocal.grid import preset_grid
    out = tmp_path / "rs.h5"
    kw = dict(engine=analytic_engine, scheduler="serial", progress=False, wave_range=WAVE_RANGE,
              line_list=one_line_list())
    r1 = build_grid("realstars", out, limit=2, **kw)
    assert r1["n_built"] == 2 and r1["n_nodes"] == 1600 and r1["cpu_seconds"] > 0
    r2 = build_grid("realstars", out, limit=3, **kw)
    assert r2["n_done_before"] == 2 and r2["n_built"] == 1
    ds = load_dataset(out)
    nodes = preset_grid("realstars")[:3]
    np.testing.assert_array_equal(np.unique(ds.labels["model_id"]), nodes["model_id"])
    assert np.bincount(ds.labels["model_id"] - nodes["model_id"][0]).tolist() == [20, 20, 20]
    o = [np.sort(ds.labels["ofe"][ds.labels["model_id"] == m]) for m in nodes["model_id"]]
    assert not np.allclose(o[0], o[1]) and min(x.min() for x in o) >= -0.2 and max(x.max() for x in o) <= 1.2
    m0 = ds.labels["model_id"] == nodes["model_id"][0]
    ofe0, mgfe0 = ds.labels["ofe"][m0], ds.labels["mgfe"][m0]
    assert np.ptp(mgfe0) > 1.0 and abs(np.corrcoef(ofe0, mgfe0)[0, 1]) < 0.9   # joint, not one at a time
    assert ds.labels["teff"][m0][0] == nodes["teff"][0]
    fresh = build_grid("realstars", tmp_path / "b.h5", limit=3, **kw)          # reproducible from the seed
    assert fresh["n_built"] == 3
    np.testing.assert_array_equal(load_dataset(tmp_path / "b.h5").labels["ofe"], ds.labels["ofe"])
    with pytest.raises(ValueError, match="design"):
        build_grid("realstars", out, limit=4, seed=1, **kw)
    with pytest.raises(ValueError, match="design"):
        build_grid("realstars", out, limit=4, variants="joint:32", **kw)
    with pytest.raises(ValueError, match="limit"):
        build_grid("realstars", out, limit=0, **kw)
    assert len(resolve_variants("joint:20")) == 20
    assert [set(v) for v in resolve_variants("joint:20+C")] == [{"O", "Mg", "C"}] * 20
    carbon = build_grid("realstars-carbon", tmp_path / "c.h5", limit=1, **kw)   # same atmospheres, O and Mg
    assert carbon["n_built"] == 1
    dc = load_dataset(tmp_path / "c.h5")
    np.testing.assert_array_equal(dc.labels["ofe"], ds.labels["ofe"][m0])
    assert dc.labels["cfe"].min() >= -0.5 and dc.labels["cfe"].max() <= 1.2 and np.ptp(dc.labels["cfe"]) > 1.0
    with pytest.raises(ValueError):
        resolve_variants("joint:0")
