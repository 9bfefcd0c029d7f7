"""The committed record of the runs fine-tuned on spectra with ABO-scaled van der Waals damping
(``scripts/evaluate_damping_runs.py``), which the real-stars chapter reads: provenance, the grid's enhancement
equal to the measured ABO/Unsöld median, the twins, both pairs scored on the same held-out spectra, literature
errors recomputed from the record's answers, the per-kind shipping rule recomputed, and the shipped runs
matching the decision."""
from __future__ import annotations

import json

import numpy as np
import pytest
from record_helpers import check_every_case, check_provenance, expected_flux_kind

from glocal import real_star_study as study
from glocal import real_stars
from glocal.pretrained import PRETRAINED_DIR

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
    rule = record["shipping_rule"]
    tol = rule["tolerances"]["dev_mae"]
    tables = {name: study.record_table(record, f"{name}, with UV") for name in ("tuned", "shipped")}
    ref = real_stars.load_literature().set_index("star")
    for kind in KINDS:
        syn = record["synthetic"][kind]
        held_ok = all(syn["tuned"][ALL_ALPHA]["labels"][lab]["mae"] <= syn["shipped"][ALL_ALPHA]["labels"][lab]["mae"]
                      for lab in ("teff", "feh", "mgfe"))
        stars = [s for s in ref.index if np.isfinite(ref.loc[s, "teff"]) and expected_flux_kind(s) == kind]
        assert stars == rule["kinds"][kind]["parts"]["dev_stars"]["stars"]
        dev_ok = True
        for lab, t in tol.items():
            mae = {name: float(np.mean([abs(table.loc[s, lab] - ref.loc[s, lab]) for s in stars]))
                   for name, table in tables.items()}
            dev_ok &= mae["tuned"] <= mae["shipped"] + t
        assert rule["kinds"][kind]["ship"] == bool(held_ok and dev_ok), kind


@pytest.mark.parametrize("kind", KINDS)
def test_the_shipped_runs_follow_the_decision(record, kind):
    prov = json.loads((PRETRAINED_DIR / f"observed-{kind}" / "provenance.json").read_text())
    tuned = prov["dataset_sha256"] == record["grid"]["sha256"]
    assert tuned == record["shipping_rule"]["kinds"][kind]["ship"]
