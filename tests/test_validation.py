"""glocal.validation without SME: the §2.3 verdict logic, feature depths, and the convergence and
cross-check tables driven through registered analytic engines."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from glocal import validation
from glocal.synthesis import EngineOptions, EngineResult, register_engine
from glocal.validation.physics_checks import verdicts

TEFFS = np.array([3500.0, 4000.0, 4500.0, 5000.0, 6000.0, 7000.0, 8000.0])
LOGGS = np.array([1.0, 3.0, 5.0])


def _res(oh_depth, oh_resp_o, oh_resp_mg, resp_logg):
    return {"teff": TEFFS, "logg": LOGGS, "depth_OH_vs_teff": np.asarray(oh_depth, float),
            "resp_O_OH_vs_teff": np.asarray(oh_resp_o, float), "resp_Mg_OH_vs_teff": np.asarray(oh_resp_mg, float),
            "resp_O_OH_vs_logg": np.asarray(resp_logg, float)}


def test_verdicts_follow_the_paper_claims():
    good = _res([0.1, 0.3, 0.5, 0.4, 0.2, 0.01, 0.0], [0.01, 0.05, 0.08, 0.06, 0.02, 0.001, 0.0],
                [0.0, 0.001, 0.002, 0.001, 0.0, 0.0, 0.0], [0.02, 0.05, 0.08])
    v = {d["claim"]: d for d in verdicts(good)}
    assert all(d["passed"] for d in v.values()), v
    assert "maximum at 4500 K" in v["OH band depth rises then falls with Teff, peak 4000-5000 K"]["detail"]
    assert good["cross_talk_OH"] == pytest.approx(0.002 / 0.08)
    bad = _res([0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05], [0.08, 0.07, 0.06, 0.05, 0.04, 0.03, 0.02],
               [0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05], [0.08, 0.05, 0.02])
    v = {d["claim"]: d for d in verdicts(bad)}
    assert not any(d["passed"] for d in v.values()), v
    assert "rise-then-fall: False" in v["OH band depth rises then falls with Teff, peak 4000-5000 K"]["detail"]
    # claims without enough finite nodes are left out, not failed
    sparse = _res([np.nan] * 5 + [0.1, 0.2], [np.nan] * 7, [np.nan] * 7, [np.nan, np.nan, 0.1])
    assert verdicts(sparse) == []


@dataclass
class _Spectra:
    wave: np.ndarray
    normalized: np.ndarray


def test_feature_depths_are_mean_depressions_in_covered_windows():
    wave = np.arange(3000.0, 3300.0, 0.01)
    norm = np.ones((2, wave.size))
    box = (wave >= 3050.0) & (wave <= 3250.0)
    norm[0, box], norm[1, box] = 0.8, 0.6
    d = validation.uv_feature_depths(_Spectra(wave, norm), R=None)
    assert set(d) == {"OH"}                                   # the other windows lie outside the spectrum
    np.testing.assert_allclose(d["OH"], [0.2, 0.4])
    d200 = validation.uv_feature_depths(_Spectra(wave, norm), R=200.0)
    assert 0.1 < d200["OH"][0] < 0.2 and d200["OH"][1] == pytest.approx(2 * d200["OH"][0], rel=1e-6)


@dataclass(frozen=True)
class _LineOptions(EngineOptions):
    """Options of the analytic test engine.

    depth : float, default 0.3
        Central depth of its one Gaussian line at 5175 Å (dimensionless).
    """
    depth: float = 0.3


def _line_engine(atmosphere, abundances, line_list, wave_range, vturb, options, *, wave=None):
    """A Gaussian line (σ = 0.05 Å) at 5175 Å on a flat continuum, sampled on ``wave`` or a 0.05 Å grid."""
    w = np.arange(wave_range[0], wave_range[1] + 1e-9, 0.05) if wave is None else wave
    norm = 1 - options.depth * np.exp(-0.5 * ((w - 5175.0) / 0.05) ** 2)
    flux = np.tile(norm, (abundances.shape[0], 1))
    return EngineResult(w, flux, np.ones_like(flux))


@pytest.fixture(scope="module")
def engines():
    register_engine("test-line", _line_engine, _LineOptions, lambda: "line 1", overwrite=True)
    from glocal.linelists import builtin_linelist
    return builtin_linelist((5150.0, 5200.0))


def test_convergence_table_compares_settings_with_the_reference(engines):
    rows = validation.convergence_table(models=((4500.0, 2.0, -2.0),), wave_range=(4900.0, 5450.0),
                                        engine="test-line", line_list=engines)
    (r,) = rows
    assert r["n_pixels"] >= 5 and r["n_wave_reference"] > 4 * r["n_wave_test"]
    assert 0 < r["max_rel"] < 2e-3 and r["rms_rel"] <= r["max_rel"]          # a coarser grid, nearly converged
    (s,) = validation.convergence_table(models=((4500.0, 2.0, -2.0),), wave_range=(4900.0, 5450.0),
                                        engine="test-line", settings={"depth": 0.6}, line_list=engines)
    assert s["max_rel"] > 10 * r["max_rel"]                               # a different line is not converged


def test_cross_check_reports_the_difference_of_two_engines(engines):
    register_engine("test-line-deep", _line_engine, _LineOptions, lambda: "line 1", overwrite=True)
    rows = validation.cross_check([(4500.0, 2.0, -2.0)], wave_range=(4900.0, 5450.0),
                                  engines=("test-line", "test-line-deep"), line_list=engines,
                                  engine_options={"test-line-deep": {"depth": 0.6}})
    (same,) = validation.cross_check([(4500.0, 2.0, -2.0)], wave_range=(4900.0, 5450.0),
                                     engines=("test-line", "test-line"), line_list=engines)
    (r,) = rows
    assert same["max"] == 0.0 and r["n_pixels"] == same["n_pixels"] >= 5
    assert 0 < r["rms"] < r["max"] < 0.3                                    # the deeper line, degraded to R = 200
