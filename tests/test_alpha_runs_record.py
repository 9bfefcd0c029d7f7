"""The committed record of the runs fine-tuned on the ``realstars-alpha`` grid (``scripts/evaluate_alpha_runs.py``),
which the real-stars chapter reads: provenance (fine-tuned from the shipped runs, on the recorded grid), both pairs
scored on the same held-out spectra per [α/Fe] bin, the halo-pattern probes, literature errors recomputed from the
record's own answers, the per-kind shipping rule recomputed from the record's numbers, and the shipped runs
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
BINS = ("-0.1..+0.1", "+0.1..+0.2", "+0.2..+0.4", "+0.4..+0.6", "-0.1..+0.6")


@pytest.fixture(scope="module")
def record():
    return study.load_alpha_record()


def test_provenance(record):
    check_provenance(record, {kind: record["runs"][f"observed-{kind}"]["training"] for kind in KINDS}, init_from=True)


@pytest.mark.parametrize("kind", KINDS)
def test_both_runs_scored_on_the_same_held_out_spectra(record, kind):
    new, old = record["synthetic"][kind]["alpha"], record["synthetic"][kind]["shipped"]
    assert list(new) == list(old) == list(BINS)
    for b in BINS:
        assert new[b]["n"] == old[b]["n"] > 0
        for lab in LABELS:
            for run in (new, old):
                m = run[b]["labels"][lab]
                assert 0 < m["mae"] < np.inf and abs(m["bias"]) <= m["mae"] + 1e-12
    assert sum(new[b]["n"] for b in BINS[:4]) == new[BINS[4]]["n"]
    for lab in LABELS:                                   # the pooled MAE is the n-weighted mean of the bins
        pooled = sum(new[b]["n"] * new[b]["labels"][lab]["mae"] for b in BINS[:4]) / new[BINS[4]]["n"]
        assert new[BINS[4]]["labels"][lab]["mae"] == pytest.approx(pooled, rel=1e-9)


def test_halo_probes_of_both_pairs(record):
    for name in ("alpha", "shipped"):
        rows = record["probes"][name]
        keys = sorted((r["kind"], r["star"], r["cfe"]) for r in rows)
        assert keys == sorted((k, s, c) for k in KINDS for s in study.CARBON_PROBES for c in (-0.5, 0.0))
        assert all(np.isfinite(r["dteff"]) and np.isfinite(r["dfeh"]) for r in rows)


def test_literature_errors_recomputed_from_the_answers(record):
    check_every_case(record, LABELS)


def test_shipping_rule_recomputed(record):
    rule = record["shipping_rule"]
    tol = rule["tolerances"]
    tables = {name: study.record_table(record, f"{name}, with UV") for name in ("alpha", "shipped")}
    ref = real_stars.load_literature().set_index("star")
    for kind in KINDS:
        syn = record["synthetic"][kind]
        halo_ok = all(syn["alpha"][b]["labels"]["feh"]["mae"] < syn["shipped"][b]["labels"]["feh"]["mae"]
                      for b in ("+0.2..+0.4", "+0.4..+0.6"))
        solar_ok = all(syn["alpha"]["-0.1..+0.1"]["labels"][lab]["mae"]
                       <= (1 + tol["solar_scaled_fraction"]) * syn["shipped"]["-0.1..+0.1"]["labels"][lab]["mae"]
                       for lab in LABELS)
        stars = [s for s in ref.index if np.isfinite(ref.loc[s, "teff"]) and expected_flux_kind(s) == kind]
        assert stars == rule["kinds"][kind]["parts"]["dev_stars"]["stars"]
        dev_ok = True
        for lab, t in tol["dev_mae"].items():
            mae = {name: float(np.mean([abs(table.loc[s, lab] - ref.loc[s, lab]) for s in stars]))
                   for name, table in tables.items()}
            dev_ok &= mae["alpha"] <= mae["shipped"] + t
        assert rule["kinds"][kind]["ship"] == bool(halo_ok and solar_ok and dev_ok), kind


@pytest.mark.parametrize("kind", KINDS)
def test_the_shipped_runs_follow_the_decision(record, kind):
    prov = json.loads((PRETRAINED_DIR / f"observed-{kind}" / "provenance.json").read_text())
    tuned = prov["dataset_sha256"] == record["grid"]["sha256"]
    assert tuned == record["shipping_rule"]["kinds"][kind]["ship"]
