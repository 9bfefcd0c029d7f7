"""The committed record of the runs fine-tuned on spectra of atmospheres without the grid's approximate
overshooting (``scripts/evaluate_overshoot_runs.py``), which the real-stars chapter reads: provenance, the grid's
correction, the solar structures and what they do to the shipped runs, the twins, both pairs scored on the same
held-out spectra, literature errors recomputed from the answers, the per-kind shipping rule recomputed, and the
shipped runs matching the decision."""
from __future__ import annotations

import numpy as np
import pytest
from record_helpers import (
    check_every_case,
    check_provenance,
    check_shipped_follow,
    check_tuned_rule,
    expected_flux_kind,
)

from glocal import real_star_study as study
from glocal import real_stars
from glocal.atmospheres.overshoot import CORRECTIONS

LABELS = ("teff", "logg", "feh", "ofe", "mgfe")
KINDS = ("normalized", "calibrated")
ALL_TEFF = "3500..8000"


@pytest.fixture(scope="module")
def record():
    return study.load_overshoot_record()


def test_provenance_and_correction(record):
    check_provenance(record, {kind: record["runs"][f"observed-{kind}"]["training"] for kind in KINDS}, init_from=True)
    assert record["grid"]["structure_correction"] in CORRECTIONS


def test_solar_structures(record):
    """The grid's solar model is the hottest at tau_Ross = 1 of the four; with Eq. O1 a spectrum on it reads between
    the grid's answer and ODFNEW's in Teff, for both runs."""
    models = record["solar_models"]
    if models is None:
        pytest.skip("the record was written without ../shared/data")
    at_one = {k: t[models["log_tau_ross"].index(0.0)] for k, t in models["T"].items()}
    grid = next(k for k in at_one if k.startswith("Kurucz 1993"))
    assert max(at_one, key=at_one.get) == grid
    for kind in KINDS:
        r = {row["structure"]: row for row in record["solar_readings"] if row["kind"] == kind}
        lo, hi = sorted((r["grid"]["teff"], r["ODFNEW"]["teff"]))
        assert lo < r["grid + Eq. O1"]["teff"] < hi, kind


def test_twins_of_every_star_with_literature_labels(record):
    lit = real_stars.load_literature().set_index("star")
    have = [s for s in lit.index if all(np.isfinite(lit.loc[s, k]) for k in ("teff", "logg", "feh", "mgfe"))]
    assert sorted(r["star"] for r in record["twins"]) == sorted(have)
    for r in record["twins"]:
        assert r["flux_kind"] == expected_flux_kind(r["star"])
        for lab in ("teff", "feh", "mgfe"):
            assert np.isfinite(r[f"d{lab}_grid"]) and np.isfinite(r[f"d{lab}_nover"])


@pytest.mark.parametrize("kind", KINDS)
def test_both_runs_scored_on_the_same_held_out_spectra(record, kind):
    new, old = record["synthetic"][kind]["tuned"], record["synthetic"][kind]["shipped"]
    assert list(new) == list(old) and ALL_TEFF in new
    assert new[ALL_TEFF]["n"] == sum(new[b]["n"] for b in new if b != ALL_TEFF)
    for b in new:
        assert new[b]["n"] == old[b]["n"]
    for lab in LABELS:
        for run in (new, old):
            m = run[ALL_TEFF]["labels"][lab]
            assert 0 < m["mae"] < np.inf and abs(m["bias"]) <= m["mae"] + 1e-12


def test_literature_errors_recomputed_from_the_answers(record):
    check_every_case(record, LABELS)


def test_shipping_rule_recomputed(record):
    check_tuned_rule(record, ALL_TEFF)


@pytest.mark.parametrize("kind", KINDS)
def test_the_shipped_runs_follow_the_decision(record, kind):
    check_shipped_follow(record, kind)
