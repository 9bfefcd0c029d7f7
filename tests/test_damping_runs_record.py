"""The committed record of the runs fine-tuned on spectra with ABO-scaled van der Waals damping
(``scripts/evaluate_damping_runs.py``), which the real-stars chapter reads: provenance, the grid's enhancement
equal to the measured ABO/Unsöld median, the twins, both pairs scored on the same held-out spectra, literature
errors recomputed from the record's answers, the per-kind shipping rule recomputed, and the shipped runs
matching the decision."""
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

LABELS = ("teff", "logg", "feh", "ofe", "mgfe")
KINDS = ("normalized", "calibrated")
ALL_ALPHA = "-0.1..+0.6"


@pytest.fixture(scope="module")
def record():
    return study.load_damping_record()


def test_provenance_and_enhancement(record):
    check_provenance(record, {kind: record["runs"][f"observed-{kind}"]["training"] for kind in KINDS}, init_from=True)
    enh = record["grid"]["unsold_enhancement"]
    assert enh > 1.0
    if record["enhancement"] is not None:        # the grid's factor is the measured median over the ABO lines
        assert enh == pytest.approx(record["enhancement"]["all"]["median"], abs=0.01)


def test_twins_of_every_star_with_literature_labels(record):
    lit = real_stars.load_literature().set_index("star")
    have = [s for s in lit.index if all(np.isfinite(lit.loc[s, k]) for k in ("teff", "logg", "feh", "mgfe"))]
    assert sorted(r["star"] for r in record["twins"]) == sorted(have)
    for r in record["twins"]:
        assert r["flux_kind"] == expected_flux_kind(r["star"])
        for lab in ("teff", "feh", "mgfe"):
            assert np.isfinite(r[f"d{lab}_unsold"]) and np.isfinite(r[f"d{lab}_enhanced"])


@pytest.mark.parametrize("kind", KINDS)
def test_both_runs_scored_on_the_same_held_out_spectra(record, kind):
    new, old = record["synthetic"][kind]["tuned"], record["synthetic"][kind]["shipped"]
    assert list(new) == list(old) and ALL_ALPHA in new
    for b in new:
        assert new[b]["n"] == old[b]["n"]
    for lab in LABELS:
        for run in (new, old):
            m = run[ALL_ALPHA]["labels"][lab]
            assert 0 < m["mae"] < np.inf and abs(m["bias"]) <= m["mae"] + 1e-12


def test_literature_errors_recomputed_from_the_answers(record):
    check_every_case(record, LABELS)


def test_shipping_rule_recomputed(record):
    check_tuned_rule(record, ALL_ALPHA)


@pytest.mark.parametrize("kind", KINDS)
def test_the_shipped_runs_follow_the_decision(record, kind):
    check_shipped_follow(record, kind)
