"""The solar-differential overshooting correction (glocal.atmospheres.overshoot) and the engine option using it."""
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from glocal.atmospheres import grid_atmosphere, read_atmosphere
from glocal.atmospheres.overshoot import (
    LOG_TAU_RANGE,
    TABLE_PATH,
    load_temperature_ratio,
    remove_overshoot,
    temperature_ratio,
)
from glocal.synthesis import synthesize
from glocal.synthesis.builtin.options import BuiltinOptions

ROOT = Path(__file__).resolve().parents[1]


def test_committed_table_is_the_stated_one():
    x, r = load_temperature_ratio()
    assert (x[0], x[-1]) == LOG_TAU_RANGE
    np.testing.assert_allclose(np.diff(x), 0.05, atol=1e-9)
    assert np.all((r > 0.95) & (r < 1.05))
    assert abs(r[0] - 1) < 1.5e-3 and abs(r[-1] - 1) < 1.5e-3        # the module docstring's end values
    # overshooting heats tau ~ 1 and cools the layers below: the correction does the opposite
    assert temperature_ratio(0.0) < 0.99 and temperature_ratio(0.5) > 1.02


def test_table_rebuilds_from_the_odfnew_model(shared_data):
    sys.path.insert(0, str(ROOT / "scripts"))
    from build_overshoot_table import table_text
    assert table_text(shared_data) == TABLE_PATH.read_text()


def test_grid_structure_is_the_outlier_among_solar_models(shared_data):
    """The docstring's measurement: the grid's solar model is >100 K hotter at tau_Ross = 1 than ODFNEW, and
    the Kurucz and MARCS solar models without overshooting stay within 20 K of ODFNEW there."""
    ref = shared_data / "reference_atmospheres"
    def t_at(m, lt):
        return float(np.interp(lt, np.log10(m.tau_ross), m.T))
    grid = grid_atmosphere(5777.0, 4.4377, 0.0)
    nover = read_atmosphere(ref / "ap00t5777g44377k1odfnew.dat")
    others = [read_atmosphere(ref / "ksun.mod"), read_atmosphere(ref / "sun.mod")]
    assert t_at(grid, 0.0) - t_at(nover, 0.0) > 100.0
    assert t_at(nover, 0.5) - t_at(grid, 0.5) > 200.0
    for m in others:
        assert abs(t_at(m, 0.0) - t_at(nover, 0.0)) < 20.0
    # the corrected grid model follows ODFNEW inside the table's range
    corrected = remove_overshoot(grid.T, grid.tau_ross)
    lt = np.log10(grid.tau_ross)
    inside = (lt >= LOG_TAU_RANGE[0]) & (lt <= LOG_TAU_RANGE[1])
    np.testing.assert_allclose(corrected[inside], np.interp(lt[inside], np.log10(nover.tau_ross), nover.T),
                               rtol=2e-3)


def test_remove_overshoot_contract():
    tau = np.logspace(-5, 2.5, 40)
    T = np.linspace(4000.0, 9000.0, 40)
    out = remove_overshoot(T, tau)
    outside = (np.log10(tau) < LOG_TAU_RANGE[0]) | (np.log10(tau) > LOG_TAU_RANGE[1])
    np.testing.assert_array_equal(out[outside], T[outside])
    np.testing.assert_allclose(out[~outside], T[~outside] * temperature_ratio(np.log10(tau[~outside])))
    with pytest.raises(ValueError, match="one shape"):
        remove_overshoot(T[:-1], tau)
    with pytest.raises(ValueError, match="positive"):
        remove_overshoot(T, -tau)


def test_engine_option_is_validated_and_recorded():
    assert "structure_correction" not in BuiltinOptions().as_dict()
    assert BuiltinOptions(structure_correction="nover-solar").as_dict()["structure_correction"] == "nover-solar"
    with pytest.raises(ValueError, match="structure_correction"):
        BuiltinOptions(structure_correction="mlt-1.5")


def test_engine_option_changes_the_structure_it_synthesises():
    """A 5800/4.3/-1.5 dwarf: the corrected structure changes the continuum at 5000-5050 A by more than 0.3 %, and
    the result equals synthesising the hand-corrected atmosphere; an atmosphere without abross is refused."""
    atm = grid_atmosphere(5800.0, 4.3, -1.5)
    kw = dict(wave_range=(5000.0, 5050.0), resolution=20000.0, threshold=1e-3)
    plain = synthesize(5800.0, 4.3, -1.5, atmosphere=atm, **kw)
    fixed = synthesize(5800.0, 4.3, -1.5, atmosphere=atm, structure_correction="nover-solar", **kw)
    hand_atm = dataclasses.replace(atm, T=remove_overshoot(atm.T, atm.tau_ross))
    by_hand = synthesize(5800.0, 4.3, -1.5, atmosphere=hand_atm, **kw)
    drop = np.median(fixed.continuum / plain.continuum)
    assert abs(drop - 1.0) > 3e-3
    # the engine integrates its own tau_Ross (log rule), the Atmosphere property another one: agree to 1e-3
    np.testing.assert_allclose(fixed.flux, by_hand.flux, rtol=1e-3)
    assert np.max(np.abs(fixed.flux / by_hand.flux - 1)) < 0.1 * abs(drop - 1)
    with pytest.raises(ValueError, match="abross"):
        synthesize(5800.0, 4.3, -1.5, atmosphere=dataclasses.replace(atm, abross=None),
                   structure_correction="nover-solar", **kw)
