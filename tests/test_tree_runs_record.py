"""The committed record of the tree runs (``results/observed/tree_runs.json``, ``scripts/evaluate_tree_runs.py``),
which the real-stars chapter reads for its tree rows: schema, star list, and literature errors recomputed here
from the record's own answers and the shipped literature table."""
from __future__ import annotations

import re

import numpy as np
import pytest

from glocal import real_star_study as study
from glocal import real_stars

LABELS = ("teff", "logg", "feh", "ofe", "mgfe")
CASES = ("with UV", "optical only")


@pytest.fixture(scope="module")
def record():
    return study.load_tree_record()


def test_provenance(record):
    assert record["tree"] in ("lightgbm", "xgboost", "catboost")
    assert re.fullmatch(r"[0-9a-f]{40}", record["git_commit"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", record["date_utc"])
    assert record["uv_cut"] == study.UV_CUT
    kinds = sorted(r["kind"] for r in record["runs"].values())
    assert kinds == ["calibrated", "normalized"]
    for name, run in record["runs"].items():
        t = run["training"]
        assert name == f"observed-{run['kind']}-{record['tree']}"
        assert "scripts/evaluate_tree_runs.py train" in t["command"] and f"--kind {run['kind']}" in t["command"]
        assert t["library"] == record["tree"] and re.fullmatch(r"\d+\.\d+.*", t["version"])
        assert t["copies"] >= 1 and re.fullmatch(r"[0-9a-f]{64}", t["grid_sha256"])


def test_synthetic_test_set(record):
    """Held-out MAE positive and finite; the conformal intervals cover about their nominal fractions on fresh draws."""
    assert set(record["synthetic"]) == set(record["runs"])
    for name, r in record["synthetic"].items():
        assert r["n"] > 1000 and r["kind"] == record["runs"][name]["kind"]
        for lab in LABELS:
            m = r["labels"][lab]
            assert 0 < m["mae"] < np.inf
            assert 0.62 <= m["coverage68"] <= 0.74, (name, lab, m)
            assert 0.91 <= m["coverage95"] <= 0.985, (name, lab, m)
        assert set(r["uv_comparison"]) == set(CASES)
        for case in CASES:
            assert all(r["uv_comparison"][case][lab] > 0 for lab in LABELS)


def test_star_list_matches_shipped_stars(record):
    assert set(record["stars"]) == set(CASES)
    for case in CASES:
        assert sorted(record["stars"][case]) == sorted(real_stars.stars())


def test_answers_by_flux_kind(record):
    """Each star is answered by the run of its flux kind (STIS calibrated, MIKE normalized) and, the trees
    having no spread, every star of one run gets the same conformal half-width per label."""
    lit = real_stars.load_literature().set_index("star")
    kind_of_run = {name: r["kind"] for name, r in record["runs"].items()}
    for case in CASES:
        widths = {}
        for star, a in record["stars"][case].items():
            expected = "calibrated" if lit.loc[star, "file"].startswith("calspec/") else "normalized"
            assert a["flux_kind"] == expected and kind_of_run[a["run"]] == expected, (case, star, a["run"])
            assert isinstance(a["flag"], str)
            for lab in LABELS:
                v = a["labels"][lab]
                assert v["value"] is not None and np.isfinite(v["value"]), (case, star, lab)
                assert 0 < v["std"] < v["err95"]
                widths.setdefault((a["run"], lab), set()).add(round(v["std"], 9))
        assert all(len(w) == 1 for w in widths.values()), widths


def _recomputed(record, case, stars):
    lit = real_stars.load_literature().set_index("star")
    out = {}
    for lab in LABELS:
        d = np.array([record["stars"][case][s]["labels"][lab]["value"] - lit.loc[s, lab] for s in stars
                      if np.isfinite(lit.loc[s, lab])], float)
        out[lab] = (np.abs(d).mean() if d.size else None, d.mean() if d.size else None, d.size)
    return out


@pytest.mark.parametrize("case", CASES)
def test_literature_errors_recomputed(record, case):
    lit = real_stars.load_literature()
    stis = [s for s, f, m in zip(lit["star"], lit["file"], lit["mgfe"]) if f.startswith("calspec/") and np.isfinite(m)]
    assert len(stis) >= 3
    for part, stars in (("all", list(lit["star"])), ("stis", stis)):
        stored = record["literature_errors"][case][part]
        for lab, (mae, bias, n) in _recomputed(record, case, stars).items():
            assert stored[lab]["n"] == n, (case, part, lab)
            if n:
                assert stored[lab]["mae"] == pytest.approx(mae, rel=1e-9)
                assert stored[lab]["bias"] == pytest.approx(bias, rel=1e-9, abs=1e-12)
            else:
                assert stored[lab]["mae"] is None


def test_record_table_round_trip(record):
    """The chapter's table of the record carries the record's values."""
    table = study.record_table(record, "optical only")
    star = real_stars.stars()[0]
    assert table.loc[star, "mgfe"] == record["stars"]["optical only"][star]["labels"]["mgfe"]["value"]
    assert table.loc[star, "teff_std"] == record["stars"]["optical only"][star]["labels"]["teff"]["std"]
