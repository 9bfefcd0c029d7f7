"""The real-stars study (glocal.real_star_study) on the shipped stars: the fit route, literature errors,
residual spectra and the chapter's figures; the predict route with the shipped observed runs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glocal import plots, real_stars
from glocal import real_star_study as study
from glocal.pretrained import pretrained_runs


@pytest.fixture(scope="module")
def fits():
    return {"full": study.fit_stars(), "optical": study.fit_stars(band="optical")}


def test_fit_every_star_and_literature_errors(fits):
    lit = real_stars.load_literature()
    full = fits["full"]
    assert list(full.index) == real_stars.stars() and np.isfinite(full[list(study.LABELS)]).all().all()
    err = study.literature_errors(full)
    ref = lit.set_index("star")["mgfe"].reindex(full.index)
    d = (full["mgfe"] - ref).dropna()                                  # independent recomputation
    assert err.loc["mgfe", "n"] == len(d) == 6
    assert err.loc["mgfe", "mae"] == pytest.approx(d.abs().mean())
    assert err.loc["mgfe", "bias"] == pytest.approx(d.mean())
    sed = study.literature_errors(full, sed=True)
    assert set(sed.index) == {"teff", "logg", "feh"} and sed.loc["teff", "n"] == 6


def test_fit_with_the_uv_beats_optical_only_on_the_stis_stars(fits):
    """The paper's claim on real stars, for the forward-model fit with free labels: [Mg/Fe] against the
    literature on the four STIS stars that have it."""
    lit = real_stars.load_literature().set_index("star")
    stis = [s for s in lit.index if lit.loc[s, "file"].startswith("calspec/") and np.isfinite(lit.loc[s, "mgfe"])]
    assert len(stis) == 4
    with_uv = study.literature_errors(fits["full"].loc[stis], labels=("mgfe",)).loc["mgfe", "mae"]
    optical = study.literature_errors(fits["optical"].loc[stis], labels=("mgfe",)).loc["mgfe", "mae"]
    assert with_uv < optical, (with_uv, optical)


def test_residuals_are_worse_in_the_uv_and_figures_draw(fits):
    lit = real_stars.load_literature().set_index("star")
    row = lit.loc["hd111980"]
    res = study.residual_spectra("hd111980", {**row[["teff", "logg", "feh", "mgfe"]].to_dict(), "ofe": 0.5})
    w, r = res["wave"], res["residual"]
    uv, opt = np.sqrt(np.nanmean(r[w < 4000] ** 2)), np.sqrt(np.nanmean(r[w >= 4000] ** 2))
    assert 0 < opt < uv < 0.5
    assert len(plots.real_residuals({"hd111980": {"lit": res}}).axes) == 1
    assert len(plots.labels_vs_literature({"fit": fits["full"]}, real_stars.load_literature()).axes) == 5
    assert plots.uv_effect({"fit": {"with UV": 0.1, "optical only": 0.3}}).axes


@pytest.mark.skipif("observed-normalized" not in pretrained_runs(), reason="shipped observed runs not installed")
def test_predict_every_star_with_and_without_uv():
    pred = study.predict_stars(T=5)
    assert list(pred.index) == real_stars.stars()
    assert set(pred["flux_kind"]) == {"normalized", "calibrated"}
    ok = pred["flag"].fillna("").map(lambda f: not any(k in f for k in ("insufficient", "negative", "not_prepared")))
    assert ok.all() and np.isfinite(pred["mgfe"]).all()
    lo = pd.Series([float(b.split("-")[0]) for b in pred["band"]], index=pred.index)
    no_uv = study.predict_stars(["hd111980"], uv=False, T=5)
    assert float(no_uv["band"].iloc[0].split("-")[0]) >= 3990 and lo["hd111980"] < 3000
