"""The committed record of the normalized run trained on the ``realstars-emp`` grid ([Fe/H] −5…−1;
``scripts/evaluate_emp_runs.py``), which the real-stars chapter reads: provenance, both runs scored on the same
held-out spectra per [Fe/H] bin, the floor probes, literature errors recomputed from the record's own answers,
the shipping rule recomputed from the record's numbers, and the shipped normalized run matching the decision."""
from __future__ import annotations

import json

import numpy as np
import pytest
from record_helpers import check_every_case, check_provenance

from glocal import real_star_study as study
from glocal.pretrained import PRETRAINED_DIR

LABELS = ("teff", "logg", "feh", "ofe", "mgfe")
BINS = ("-5..-4", "-4..-3", "-3..-2", "-2..-1", "-4..-1")


@pytest.fixture(scope="module")
def record():
    return study.load_emp_record()


def test_provenance(record):
    check_provenance(record, {"normalized": record["run"]["training"]}, init_from=False)


def test_both_runs_scored_on_the_same_held_out_spectra(record):
    emp, shipped = record["synthetic"]["emp"], record["synthetic"]["shipped"]
    assert list(emp) == list(shipped) == list(BINS)
    for b in BINS:
        assert emp[b]["n"] == shipped[b]["n"] > 0
        for lab in LABELS:
            assert 0 < emp[b]["labels"][lab]["mae"] < np.inf and 0 < shipped[b]["labels"][lab]["mae"] < np.inf
            assert abs(emp[b]["labels"][lab]["bias"]) <= emp[b]["labels"][lab]["mae"] + 1e-12
    assert sum(emp[b]["n"] for b in BINS[1:4]) == emp["-4..-1"]["n"]
    # the pooled -4..-1 MAE is the n-weighted mean of its three bins
    for lab in LABELS:
        pooled = sum(emp[b]["n"] * emp[b]["labels"][lab]["mae"] for b in BINS[1:4]) / emp["-4..-1"]["n"]
        assert emp["-4..-1"]["labels"][lab]["mae"] == pytest.approx(pooled, rel=1e-9)


def test_floor_probes_of_both_runs(record):
    expected = sorted((s, f) for s in study.FLOOR_STARS for f in study.FLOOR_FEH)
    for name in ("emp", "shipped"):
        rows = record["floor_probes"][name]
        assert sorted((r["star"], r["feh_true"]) for r in rows) == expected
        for r in rows:
            assert r["dfeh"] == pytest.approx(r["feh"] - r["feh_true"], abs=1e-9)
            assert r["dteff"] == pytest.approx(r["teff"] - study.FLOOR_STARS[r["star"]][0], abs=1e-6)


def test_literature_errors_recomputed_from_the_answers(record):
    check_every_case(record, LABELS)


def test_shipping_rule_recomputed(record):
    rule = record["shipping_rule"]
    tol = rule["tolerances"]
    errors = record["literature_errors"]
    new, old = errors["emp, with UV"]["all"], errors["shipped, with UV"]["all"]
    dev_ok = all(new[lab]["mae"] <= old[lab]["mae"] + t for lab, t in tol["dev_mae"].items())
    syn_new = record["synthetic"]["emp"]["-4..-1"]["labels"]
    syn_old = record["synthetic"]["shipped"]["-4..-1"]["labels"]
    syn_ok = all(syn_new[lab]["mae"] <= (1 + tol["held_out_fraction"]) * syn_old[lab]["mae"] for lab in LABELS)
    floor_ok = all(abs(r["dfeh"]) <= tol["floor_dex"] for r in record["floor_probes"]["emp"] if r["feh_true"] <= -4.25)
    assert rule["ship"] == (dev_ok and syn_ok and floor_ok)


def test_the_shipped_normalized_run_follows_the_decision(record):
    prov = json.loads((PRETRAINED_DIR / "observed-normalized" / "provenance.json").read_text())
    assert (prov["dataset_sha256"] == record["grid"]["sha256"]) == record["shipping_rule"]["ship"]
