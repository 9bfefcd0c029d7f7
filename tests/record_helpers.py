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
