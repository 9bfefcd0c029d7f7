"""Checks shared by the tests of the committed run records (results/observed/*_runs.json)."""
from __future__ import annotations

import numpy as np
import pytest

from glocal import real_stars


def expected_flux_kind(star: str) -> str:
    """The flux kind ``predict`` must have read a development star as: STIS calibrated, MIKE normalized."""
    lit = real_stars.load_literature().set_index("star")
    return "calibrated" if lit.loc[star, "file"].startswith("calspec/") else "normalized"


def check_literature_errors(record: dict, case: str, labels) -> None:
    """The record's stored MAE and count against the literature ("all" stars) of ``case`` equal the ones
    recomputed from the record's own answers, and every development star was answered."""
    lit = real_stars.load_literature().set_index("star")
    answers = record["stars"][case]
    assert sorted(answers) == sorted(real_stars.stars())
    for lab in labels:
        d = np.array([answers[s]["labels"][lab]["value"] - lit.loc[s, lab] for s in answers
                      if np.isfinite(lit.loc[s, lab])], float)
        stored = record["literature_errors"][case]["all"][lab]
        assert stored["n"] == d.size, (case, lab)
        if d.size:
            assert stored["mae"] == pytest.approx(np.abs(d).mean(), rel=1e-9), (case, lab)


def check_provenance(record: dict, trainings: dict, init_from: bool) -> None:
    """The record names its commit and grid (sha256, > 10 000 spectra), and every run in ``trainings``
    ({kind: training dict}) was trained (``init_from``: fine-tuned from the shipped run of its kind) on that grid."""
    import re
    assert re.fullmatch(r"[0-9a-f]{40}", record["git_commit"])
    assert re.fullmatch(r"[0-9a-f]{64}", record["grid"]["sha256"]) and record["grid"]["n_spectra"] > 10000
    for kind, t in trainings.items():
        assert "glocal train-observed" in t["command"] and f"--kind {kind}" in t["command"]
        if init_from:
            assert f"--init-from observed-{kind}" in t["command"]
        assert t["grid_sha256"] == record["grid"]["sha256"], "the run was trained on the recorded grid"
        assert t["epochs"] >= 1 and t["copies"] >= 1


def check_every_case(record: dict, labels) -> None:
    """For every case of ``record["stars"]``: each star was read as its expected flux kind, and the stored literature
    errors equal those recomputed from the answers (:func:`check_literature_errors`)."""
    for case, answers in record["stars"].items():
        for star, a in answers.items():
            assert a["flux_kind"] == expected_flux_kind(star), (case, star)
        check_literature_errors(record, case, labels)


def check_tuned_rule(record: dict, held_bin: str) -> None:
    """The per-kind rule of the fine-tuned runs (damping, overshoot), recomputed from the record: (a) held-out Teff,
    [Fe/H], [Mg/Fe] MAE of bin ``held_bin`` no higher than the shipped run's; (b) the kind's development stars with
    UV no worse than the shipped pair by the recorded tolerances."""
    from glocal import real_star_study as study
    rule = record["shipping_rule"]
    tol = rule["tolerances"]["dev_mae"]
    tables = {name: study.record_table(record, f"{name}, with UV") for name in ("tuned", "shipped")}
    ref = real_stars.load_literature().set_index("star")
    for kind in ("normalized", "calibrated"):
        syn = record["synthetic"][kind]
        held_ok = all(syn["tuned"][held_bin]["labels"][lab]["mae"] <= syn["shipped"][held_bin]["labels"][lab]["mae"]
                      for lab in ("teff", "feh", "mgfe"))
        stars = [s for s in ref.index if np.isfinite(ref.loc[s, "teff"]) and expected_flux_kind(s) == kind]
        assert stars == rule["kinds"][kind]["parts"]["dev_stars"]["stars"]
        dev_ok = True
        for lab, t in tol.items():
            mae = {name: float(np.mean([abs(table.loc[s, lab] - ref.loc[s, lab]) for s in stars]))
                   for name, table in tables.items()}
            dev_ok &= mae["tuned"] <= mae["shipped"] + t
        assert rule["kinds"][kind]["ship"] == bool(held_ok and dev_ok), kind


def check_shipped_follow(record: dict, kind: str) -> None:
    """The shipped run of ``kind`` was trained on the record's grid exactly when the record's rule ships it."""
    import json

    from glocal.pretrained import PRETRAINED_DIR
    prov = json.loads((PRETRAINED_DIR / f"observed-{kind}" / "provenance.json").read_text())
    tuned = prov["dataset_sha256"] == record["grid"]["sha256"]
    assert tuned == record["shipping_rule"]["kinds"][kind]["ship"]
