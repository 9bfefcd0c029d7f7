"""Unsöld damping, its enhancement option, and the ABO reference it is scaled to (glocal.validation.vdw_damping)."""
import re
from pathlib import Path

import numpy as np
import pytest

from glocal.synthesis.builtin.options import BuiltinOptions
from glocal.synthesis.builtin.profiles import damping_coefficients

ROOT = Path(__file__).resolve().parents[1]


def test_enhancement_is_recorded_only_when_used_and_must_be_positive():
    assert "unsold_enhancement" not in BuiltinOptions().as_dict()
    assert BuiltinOptions(unsold_enhancement="1.35").as_dict()["unsold_enhancement"] == 1.35
    with pytest.raises(ValueError, match="unsold_enhancement"):
        BuiltinOptions(unsold_enhancement=0.0)


def test_enhancement_scales_only_the_unsold_lines():
    # Fe I line without data, Fe I line with a log gamma_6, Ca II K with ABO data, and an OH line
    wave = np.array([5000.0, 5001.0, 3933.663, 3100.0])
    Z = np.array([26, 26, 20, 0])
    stage = np.array([1, 1, 2, 0])
    elow = np.array([2.0, 2.0, 0.0, 0.5])
    nan = np.full(4, np.nan)
    vdw = np.array([np.nan, -7.5, 234.223, np.nan])
    mass = np.array([55.85, 55.85, 40.08, 17.0])
    plain = damping_coefficients(wave, Z, stage, elow, nan, nan, vdw, mass, molecular_vdw=-8.2)
    wide = damping_coefficients(wave, Z, stage, elow, nan, nan, vdw, mass, molecular_vdw=-8.2,
                                unsold_enhancement=1.35)
    assert wide[2][0] == pytest.approx(1.35 * plain[2][0], rel=1e-12)
    assert wide[2][1] == plain[2][1] == pytest.approx(10 ** -7.5)
    assert wide[3][2] == plain[3][2] > 0            # ABO coefficient untouched
    assert wide[2][3] == plain[2][3] == pytest.approx(10 ** -8.2)


def test_enhancement_deepens_the_ca_ii_k_wing():
    from glocal.synthesis import synthesize
    kw = dict(wave_range=(3900.0, 3960.0), resolution=40000.0, threshold=1e-3)
    plain = synthesize(5800.0, 4.3, -1.6, **kw)
    wide = synthesize(5800.0, 4.3, -1.6, unsold_enhancement=1.35, **kw)
    wing = (plain.wave > 3915.0) & (plain.wave < 3925.0)       # 9-19 A blueward of K: damping wing only
    depth = [np.mean(1 - s.flux[wing] / s.continuum[wing]) for s in (plain, wide)]
    assert depth[1] > depth[0] + 0.005, depth        # measured: 0.120 -> 0.127
    assert np.allclose(plain.continuum, wide.continuum, rtol=1e-6)


def test_abo_widths_exceed_unsold_on_the_galah_lines(shared_data):
    from glocal.validation.vdw_damping import enhancement_summary
    s = enhancement_summary(path=shared_data / "linelists" / "galah_dr3_linelist.h5")
    assert s["neutral"]["n"] > 500 and s["ion"]["n"] > 300
    for part in ("neutral", "ion", "all"):
        assert 1.1 < s[part]["median"] < 1.8, (part, s[part])
    assert 1.1 < s["ca_ii_hk"] < 1.8
    # the grid of `make realstars-damping-grid` uses the measured median over all lines
    make = (ROOT / "Makefile").read_text()
    used = float(re.search(r"unsold_enhancement=([0-9.]+)", make).group(1))
    assert used == pytest.approx(s["all"]["median"], abs=0.01)
