"""The committed records of the carbon-grid network runs (``results/observed/carbon_runs*.json``, one per
training [C/Fe] prior; ``scripts/evaluate_carbon_runs.py``), which the real-stars chapter reads: provenance, the
held-out evaluation of both pairs on the same carbon-varied spectra, the carbon probes, and literature errors
recomputed from the record's own answers."""
from __future__ import annotations

import re

import numpy as np
import pytest
from record_helpers import check_literature_errors, expected_flux_kind

from glocal import real_star_study as study

LABELS = ("teff", "logg", "feh", "ofe", "mgfe")
CASES = ("with UV", "optical only")
KINDS = ("normalized", "calibrated")


RECORDS = sorted(study.CARBON_RECORD.parent.glob("carbon_runs*.json"))


def test_the_uniform_prior_record_is_committed():
    assert study.CARBON_RECORD in RECORDS


@pytest.fixture(scope="module", params=RECORDS, ids=[p.stem for p in RECORDS])
def record(request):
    return study.load_carbon_record(request.param)


def test_provenance(record):
    assert re.fullmatch(r"[0-9a-f]{40}", record["git_commit"])
    assert re.fullmatch(r"[0-9a-f]{64}", record["grid"]["sha256"]) and record["grid"]["n_spectra"] > 10000
    trained_on = record.get("training_grid", record["grid"])
    assert re.fullmatch(r"[0-9a-f]{64}", trained_on["sha256"])
    assert 10000 < trained_on["n_spectra"] <= record["grid"]["n_spectra"]
    assert record["uv_cut"] == study.UV_CUT
    assert sorted(record["runs"]) == sorted(f"observed-{k}-carbon" for k in KINDS)
    for name, run in record["runs"].items():
        assert name == f"observed-{run['kind']}-carbon"
        t = run["training"]
        assert f"--kind {run['kind']}" in t["command"] and "glocal train-observed" in t["command"]
        assert t["grid_sha256"] == trained_on["sha256"], "the runs were trained on the recorded grid"
        assert t["epochs"] >= 1 and t["copies"] >= 1


def test_both_pairs_evaluated_on_the_same_carbon_varied_spectra(record):
    for kind in KINDS:
        new, old = record["synthetic"][f"observed-{kind}-carbon"], record["synthetic"][f"observed-{kind} (shipped)"]
        assert new["n"] == old["n"] > 1000 and new["seed"] == old["seed"] and new["kind"] == old["kind"] == kind
        for lab in LABELS:
            assert 0 < new["labels"][lab]["mae"] < np.inf and 0 < old["labels"][lab]["mae"] < np.inf
            assert 0.62 <= new["labels"][lab]["coverage68"] <= 0.74, (kind, lab, new["labels"][lab])


def test_carbon_probes_cover_both_pairs_kinds_and_abundances(record):
    for pair in ("shipped", "carbon"):
        rows = record["carbon_sensitivity"][pair]
        assert {r["kind"] for r in rows} == set(KINDS)
        assert {r["star"] for r in rows} == set(study.CARBON_PROBES)
        assert sorted({r["cfe"] for r in rows}) == [-0.5, 0.0, 0.5, 0.9]
        assert all(np.isfinite(r["dteff"]) for r in rows)


@pytest.mark.parametrize("case", CASES)
def test_answers_and_literature_errors(record, case):
    for star, a in record["stars"][case].items():
        expected = expected_flux_kind(star)
        assert a["flux_kind"] == expected and a["run"] == f"observed-{expected}", (star, a["run"])
    check_literature_errors(record, case, LABELS)
