"""Real-star systematic terms (glocal.observed.systematics, scripts/real_star_systematics.py): the estimator
recovers a known systematic scatter, the committed record is reproducible from the shipped runs and the
literature, belongs to the shipped weights, and predict applies it only to them."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from glocal.observed import systematics as sy
from glocal.observed.predict import OBSERVED_RUNS
from glocal.pretrained import pretrained_runs
from glocal.runs import load_run

SHIPPED = all(spec.split(":")[1] in pretrained_runs() for spec in OBSERVED_RUNS.values())
needs_runs = pytest.mark.skipif(not SHIPPED, reason="the shipped observed-spectra runs are not installed")


def test_sigma_sys_recovers_a_known_scatter_and_bias():
    rng = np.random.default_rng(4)
    n, stated, true_sys, bias = 400_000, 2.0, 3.0, 1.0
    delta = bias + rng.normal(0.0, np.hypot(stated, true_sys), n)
    # the bias counts as error: sqrt(3^2 + 1^2)
    assert sy.systematic_sigma(delta, np.full(n, stated)) == pytest.approx(np.hypot(true_sys, bias), rel=0.01)
    assert sy.systematic_sigma(rng.normal(0, 1.0, n), np.full(n, 2.0)) == 0.0      # stated σ already spans it
    assert np.isnan(sy.systematic_sigma([1.0, np.nan], [1.0, 1.0]))               # fewer than two pairs
    with pytest.raises(ValueError, match="shape"):
        sy.systematic_sigma([1.0, 2.0], [1.0])


def test_real_half_widths_add_in_quadrature():
    std, err95 = sy.real_half_widths([3.0, np.nan], [6.0, 1.0], 4.0)
    assert std[0] == pytest.approx(5.0) and np.isnan(std[1])
    assert err95[0] == pytest.approx(np.sqrt(36.0 + (1.959964 * 4.0) ** 2), rel=1e-6)
    assert sy.real_half_widths(2.0, 4.0, 0.0)[1] == pytest.approx(4.0)


def test_load_systematics_missing_and_corrupt(tmp_path):
    assert sy.load_systematics(tmp_path / "absent.json") is None
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"labels": {"teff": {}}, "runs": {}}))
    with pytest.raises(ValueError, match="bad.json"):
        sy.load_systematics(bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        sy.load_systematics(bad)


@pytest.fixture(scope="module")
def record():
    rec = sy.load_systematics()
    assert rec is not None, f"{sy.SYSTEMATICS_FILE} is missing: run scripts/real_star_systematics.py"
    return rec


@needs_runs
def test_record_belongs_to_the_shipped_weights(record):
    for spec in OBSERVED_RUNS.values():
        name = spec.split(":")[1]
        path = load_run(spec).path / "model.safetensors"
        assert record["runs"][name] == hashlib.sha256(path.read_bytes()).hexdigest(), \
            f"{name} was re-exported: rerun scripts/real_star_systematics.py"
        assert sy.systematics_for(load_run(spec), record) == {k: v["sigma_sys"] for k, v in record["labels"].items()}


def test_record_terms_recomputed_from_its_stars(record):
    for lab, v in record["labels"].items():
        rows = [s["labels"][lab] for s in record["stars"].values() if lab in s["labels"]]
        d = np.array([r["delta"] for r in rows])
        s = np.array([r["std"] for r in rows])
        assert v["n"] == d.size >= 2
        assert v["sigma_sys"] == pytest.approx(np.sqrt(max(np.mean(d ** 2) - np.mean(s ** 2), 0.0)), abs=1e-9)


@needs_runs
def test_record_reproduces_from_predict_and_the_literature(record):
    from glocal import real_stars
    from glocal.real_star_study import predict_stars
    pred = predict_stars(uv=True, T=record["mc_samples"], seed=record["seed"])
    lit = real_stars.load_literature().set_index("star")
    assert sorted(record["stars"]) == sorted(s for s in pred.index if np.isfinite(lit.loc[s, "teff"]))
    tol = {"teff": 2.0, "logg": 0.01, "feh": 0.01, "ofe": 0.01, "mgfe": 0.01}
    for star, entry in record["stars"].items():
        for lab, r in entry["labels"].items():
            assert pred.loc[star, lab] - lit.loc[star, lab] == pytest.approx(r["delta"], abs=tol[lab]), (star, lab)
            assert pred.loc[star, f"{lab}_std"] == pytest.approx(r["std"], rel=1e-3)
    # predict reports the real intervals for these runs
    for lab, v in record["labels"].items():
        expected = np.sqrt(pred[f"{lab}_std"] ** 2 + v["sigma_sys"] ** 2)
        assert np.allclose(pred[f"{lab}_std_real"], expected, rtol=1e-9)
        assert (pred[f"{lab}_err95_real"] >= pred[f"{lab}_err95"]).all()


def test_other_runs_get_no_term(tmp_path, record):
    class FakeRun:
        path = tmp_path

    (tmp_path / "model.safetensors").write_bytes(b"other weights")
    assert sy.systematics_for(FakeRun(), record) is None
    FakeRun.path = None
    assert sy.systematics_for(FakeRun(), record) is None


def test_leave_one_out_coverage_counts_by_hand():
    # four stars, stated σ 1 (95 %: 2); deltas 0.5, 3, 3, 3 -> σ_sys without star i computed by hand
    deltas = [0.5, 3.0, 3.0, 3.0]
    stars = {f"s{i}": {"labels": {"teff": {"delta": d, "std": 1.0, "err95": 2.0}}} for i, d in enumerate(deltas)}
    rec = {"labels": {"teff": {"sigma_sys": 2.0, "n": 4}}, "stars": stars, "runs": {}}
    out = sy.leave_one_out_coverage(rec).loc["teff"]
    loo_first = np.sqrt(9.0 - 1.0)                         # the three others: mean Δ² = 9
    loo_other = np.sqrt((0.25 + 9.0 + 9.0) / 3 - 1.0)
    assert out["σ_sys LOO max"] == pytest.approx(loo_first) and out["σ_sys LOO min"] == pytest.approx(loo_other)
    assert out["inside 68 % (synthetic)"] == 1 and out["inside 95 % (synthetic)"] == 1
    assert out["inside 68 % (real, LOO)"] == int(0.5 <= np.hypot(1, loo_first)) + 3 * int(3.0 <= np.hypot(1, loo_other))
    assert out["inside 95 % (real, LOO)"] == 4
    rec["stars"] = {k: v for k, v in list(stars.items())[:2]}
    assert "teff" not in sy.leave_one_out_coverage(rec).index   # two stars: no left-out estimate


def test_fit_terms_recomputed_and_tied_to_the_shipped_emulator(record, tmp_path):
    from glocal.emulator import DEFAULT_DIR, WEIGHTS_FILE
    from glocal.fit_cli import _fit_terms
    fit = record["fit"]
    for lab, v in fit["labels"].items():
        rows = [s["labels"][lab] for s in fit["stars"].values() if lab in s["labels"]]
        d, s = np.array([r["delta"] for r in rows]), np.array([r["std"] for r in rows])
        assert v["sigma_sys"] == pytest.approx(np.sqrt(max(np.mean(d ** 2) - np.mean(s ** 2), 0.0)), abs=1e-9)
    assert fit["emulator_sha256"] == hashlib.sha256((DEFAULT_DIR / WEIGHTS_FILE).read_bytes()).hexdigest(), \
        "the emulator was rebuilt: rerun scripts/real_star_systematics.py"
    terms = {k: v["sigma_sys"] for k, v in fit["labels"].items()}
    assert sy.fit_systematics(record) == terms and _fit_terms(None, None) == terms
    assert _fit_terms(object(), None) is None                    # an emulator of unknown origin
    assert _fit_terms(None, tmp_path) is None                    # another folder, no weights there


def test_fit_record_reproduces_and_fit_reports_real_std(record):
    from glocal import real_stars
    from glocal.fit_cli import fit_observed
    from glocal.real_star_study import fit_stars
    lit = real_stars.load_literature().set_index("star")
    fitted = fit_stars()
    for star, entry in record["fit"]["stars"].items():
        for lab, r in entry["labels"].items():
            delta = fitted.loc[star, lab] - lit.loc[star, lab]
            assert delta == pytest.approx(r["delta"], abs=1e-3 * max(1.0, abs(r["delta"]))), (star, lab)
    star = next(iter(record["fit"]["stars"]))
    df = fit_observed([real_stars.observed(star)[0]])
    for lab, v in record["fit"]["labels"].items():
        assert df.loc[0, f"{lab}_std_real"] == pytest.approx(np.hypot(df.loc[0, f"{lab}_std"], v["sigma_sys"]))
