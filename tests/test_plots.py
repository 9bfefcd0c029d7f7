"""Smoke tests of the book's figure functions (glocal.plots) on small synthetic data, Agg backend.

Each function must return a Figure with the expected number of axes and drawn artists, and the figure
must save to PNG.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from glocal import plots  # noqa: E402

RNG = np.random.default_rng(0)
WAVE = np.linspace(2550.0, 4000.0, 60)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _saved(fig, tmp_path, name):
    assert isinstance(fig, Figure)
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=40)
    assert path.stat().st_size > 1000
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    return fig


def _records(methods=("catboost", "spt", "spt-glocal"), labels=("ofe", "mgfe"), bands=("full", "optical")):
    return [{"method": m, "label": lab, "band": b, "mae": 0.05 + 0.01 * k}
            for k, (m, lab, b) in enumerate((m, lab, b) for m in methods for lab in labels for b in bands)]


def test_grid_coverage_and_preset_nodes(tmp_path):
    teff, logg = np.meshgrid([4000.0, 4500.0, 5000.0], [1.0, 2.0])
    nodes = {"teff": np.repeat(teff.ravel(), 2), "logg": np.repeat(logg.ravel(), 2),
             "feh": np.tile([-2.0, -1.0], teff.size)}
    fig = _saved(plots.grid_coverage(nodes["teff"], nodes["logg"], nodes["feh"], excluded=([3500.0], [5.0]),
                                     title="Fig. 1"), tmp_path, "coverage")
    assert fig.axes[0].get_title() == "Fig. 1"
    assert len(fig.axes) == 2                                  # panel + colour bar
    assert len(fig.axes[0].collections) == 2                   # nodes + excluded crosses
    assert fig.axes[0].xaxis_inverted() and fig.axes[0].yaxis_inverted()
    chosen = {k: v[::3] for k, v in nodes.items()}
    fig = _saved(plots.preset_nodes(nodes, chosen, "ci"), tmp_path, "preset")
    assert len(fig.axes) == 3                                  # coverage, its colour bar, histogram
    assert "4 models" in fig.axes[1].get_title()


def test_microturbulence_and_atmospheres(tmp_path):
    tt, gg = np.meshgrid(np.linspace(3500, 8000, 12), np.linspace(0, 5, 9))
    fig = _saved(plots.microturbulence_maps(tt, gg, {-2.0: 1 + tt / 8000, -1.0: 1 + gg / 5}), tmp_path, "vt")
    assert len(fig.axes) == 4                                  # two maps + two colour bars
    tau = np.logspace(-5, 1, 20)
    structures = {f"model {k}": (tau, 4000 + 1000 * k + 500 * np.log10(tau + 1), 1e4 * tau) for k in range(3)}
    fig = _saved(plots.atmosphere_structures(structures, title="structures"), tmp_path, "atm")
    assert len(fig.axes) == 2
    assert [len(ax.lines) for ax in fig.axes] == [3, 3]


def test_spectra_and_resolution_pair(tmp_path):
    flux = 1 - 0.3 * RNG.random((3, WAVE.size))
    fig = _saved(plots.spectra(WAVE, flux, ["a", "b", "c"], offset=0.5), tmp_path, "spectra")
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 3
    low_wave = WAVE[::4]
    fig = _saved(plots.resolution_pair(WAVE, flux[:2], low_wave, flux[:2, ::4], ["one", "two"]), tmp_path, "fig2")
    assert len(fig.axes) == 2
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    assert fig.axes[1].get_title() == "two"


def test_uv_sweep(tmp_path):
    values = np.array([3500.0, 5000.0, 6500.0])
    variants = [{"O": v, "Mg": 0.0} for v in (-0.2, 0.6)] + [{"O": 0.0, "Mg": v} for v in (-0.2, 0.6)]
    rows = [(x, 1 - 0.2 * RNG.random((len(variants), WAVE.size))) for x in values[:2]]   # one node skipped
    fig = _saved(plots.uv_sweep(WAVE, rows, values, variants, "teff", "Fig. 3"), tmp_path, "sweep")
    panels = fig.axes[:4]
    assert len(fig.axes) == 5                                  # 2 × 2 panels + colour bar
    assert all(len(ax.lines) == len(rows) for ax in panels)
    assert [ax.get_title() for ax in panels] == ["[O/Fe] = -0.2", "[O/Fe] = +0.6", "[Mg/Fe] = -0.2", "[Mg/Fe] = +0.6"]


def test_feature_depths(tmp_path):
    feats = ("OH", "MgI_2852")
    checks = {"teff": np.linspace(3500, 6000, 5), "logg": np.linspace(0.5, 5, 4)}
    for f in feats:
        checks[f"depth_{f}_vs_teff"] = RNG.random(5)
        checks[f"depth_{f}_vs_logg"] = RNG.random(4)
    fig = _saved(plots.feature_depths(checks, features=feats), tmp_path, "depths")
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]


def test_engine_figures(tmp_path):
    fig = _saved(plots.sampling_residuals(WAVE, 1e-3 * RNG.standard_normal((16, WAVE.size)), "cost"), tmp_path, "s")
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 16
    table = {"teff": [3500, 4500, 6000], "logg": [5.0, 2.0, 4.0], "feh": [-1.0, -2.0, -3.0],
             "rms": [0.004, 0.006, 0.01], "max": [0.02, 0.03, 0.05],
             "resp_OH": [1.0, 0.95, 1.05], "resp_Mg": [1.02, 0.99, 1.0]}
    fig = _saved(plots.engine_agreement(table), tmp_path, "agreement")
    assert len(fig.axes) == 2
    assert len(fig.axes[0].patches) == 6                      # rms and max bars for three models
    assert len(fig.axes[1].lines) == 2                        # one line per response column
    curves = {f"m{k}": (WAVE, 0.01 * RNG.standard_normal(WAVE.size)) for k in range(4)}
    fig = _saved(plots.validation_residuals(curves), tmp_path, "validation")
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 4


def test_network_figures(tmp_path):
    fig = _saved(plots.architecture(), tmp_path, "architecture")
    assert len(fig.axes) == 1 and len(fig.axes[0].patches) >= 9
    frac = RNG.random((3, 12))
    fig = _saved(plots.token_winners(WAVE, 1 - 0.2 * RNG.random(WAVE.size), frac, title="one spectrum"),
                 tmp_path, "winners")
    assert len(fig.axes) == 3                                  # spectrum, winners image, colour bar
    assert fig.axes[1].images[0].get_array().shape == (3, 12)


def test_predicted_vs_true(tmp_path):
    y = RNG.uniform(-0.2, 1.2, 200)
    fig = _saved(plots.predicted_vs_true(y, y + 0.05 * RNG.standard_normal(200), "ofe"), tmp_path, "pvt")
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 1
    panels = {band: {label: (y, y + 0.1 * RNG.standard_normal(200)) for label in ("ofe", "mgfe")}
              for band in ("full", "optical")}
    fig = _saved(plots.predicted_vs_true_grid(panels), tmp_path, "fig7")
    assert len(fig.axes) == 8                                  # 2 × 2 panels + their colour bars
    assert fig.axes[0].get_title() == plots.BAND_STYLE["full"]["label"]


def test_binned_error_panels(tmp_path):
    centres = np.linspace(0, 1, 5)
    per_var = {v: (centres, RNG.random(5), RNG.random(5)) for v in ("teff", "logg", "feh", "ofe")}
    fig = _saved(plots.binned_error_panels({"full": per_var, "optical": per_var}, "ofe"), tmp_path, "fig8")
    assert len(fig.axes) == 8
    assert fig._suptitle.get_text() == "[O/Fe] prediction error"
    assert all(len(ax.lines) == 2 for ax in fig.axes)


def test_mae_figures(tmp_path):
    snr = [30, 40, 50]
    curves = {label: {m: (snr, [0.1, 0.08, 0.07]) for m in ("spt", "xgboost", "catboost")}
              for label in ("ofe", "mgfe")}
    fig = _saved(plots.mae_vs_snr(curves, sharex=True), tmp_path, "snr")
    assert [len(ax.lines) for ax in fig.axes] == [3, 3]
    assert fig.axes[0].get_yscale() == "log"
    fig = _saved(plots.mae_by_band(_records(), title="MAE"), tmp_path, "bars")
    assert len(fig.axes) == 2
    assert [len(ax.patches) for ax in fig.axes] == [6, 6]      # 3 methods × 2 bands
    only_full = [r for r in _records() if r["band"] == "full"]
    fig = plots.mae_by_band(only_full)
    assert [len(ax.patches) for ax in fig.axes] == [3, 3]      # a band without records is left out


def test_attribution(tmp_path):
    maps = {"ofe": RNG.random(WAVE.size), "mgfe": RNG.random(WAVE.size)}
    fig = _saved(plots.attribution(WAVE, maps, spectrum=np.ones(WAVE.size), windows={"OH": (3050, 3250)}),
                 tmp_path, "attribution")
    lines = fig.axes[0].lines
    assert len(lines) == 3
    assert all(np.max(np.abs(line.get_ydata())) == pytest.approx(1.0) for line in lines[:2])


def test_new_star_predictions(tmp_path):
    n = 6
    table = {"set": ["paper-like", "alpha-enhanced"] * (n // 2)}
    for label in ("ofe", "mgfe"):
        table[f"{label}_true"] = RNG.uniform(0, 1, n)
        table[f"{label}_pred"] = table[f"{label}_true"] + 0.1
        table[f"{label}_std"] = np.full(n, 0.05)
    fig = _saved(plots.new_star_predictions(table, title="new stars"), tmp_path, "new")
    assert len(fig.axes) == 2
    assert all(len(ax.containers) == 2 for ax in fig.axes)    # one error-bar container per abundance set
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["paper-like", "alpha-enhanced"]
