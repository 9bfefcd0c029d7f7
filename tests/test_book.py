"""The book's parameters come from notebooks/scales.yml only (glocal.book)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from glocal import book

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_scales_file_is_consistent():
    spec = book.load_scales()
    assert book.scale_names(spec) == ["ci", "laptop", "paper"]
    assert sorted(book.chapters(spec)) == sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("chapter", book.chapters())
def test_parameters_cell_holds_only_scale_and_overrides(chapter):
    """No value can differ between a notebook and scales.yml: the cell sets nothing else."""
    text = (NOTEBOOKS / f"{chapter}.py").read_text()
    cell = re.search(r'# %% tags=\["parameters"\]\n(.*?)(?=\n# %%)', text, re.S)
    assert cell, f"{chapter} has no parameters cell"
    names = [t.id for node in ast.parse(cell.group(1)).body for t in getattr(node, "targets", [])]
    assert names == ["scale", "overrides"]
    assert f'book.chapter_parameters("{chapter}", scale, overrides)' in text


def test_resolution_order_and_values():
    p = book.chapter_parameters("05_results", "ci")
    assert p.scale == "ci" and p.preset == "ci" and p.config == "cpu"
    assert p.train == {"max_epochs": 30, "lr": 0.001, "batch_size": 32, "patience": 20}
    assert book.chapter_parameters("05_results", "laptop").train["max_epochs"] == 40
    paper = book.chapter_parameters("02_spectra", "paper")
    assert paper.config == "paper" and paper.engine_options == {"resolution": 100000, "threshold": 0.0001}
    assert paper.n_sweep == 7                                     # a default no scale block changes
    assert book.chapter_parameters("02_spectra", "ci").n_sweep == 4  # the ci chapter block
    q = book.chapter_parameters("05_results", "ci", {"seed": 1, "train": {"max_epochs": 2}})
    assert q.seed == 1 and q.train == {"max_epochs": 2}           # overrides replace whole values


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match=r"takes no parameter \['n_sweep'\].*max_extrapolation"):
        book.chapter_parameters("01_grid", "ci", {"n_sweep": 3})
    with pytest.raises(ValueError, match="not an override"):
        book.chapter_parameters("01_grid", "ci", {"scale": "paper"})
    with pytest.raises(ValueError, match="unknown scale"):
        book.chapter_parameters("01_grid", "huge")
    with pytest.raises(ValueError, match="unknown chapter"):
        book.chapter_parameters("99_nothing", "ci")


def test_parameters_are_read_only_copies():
    p = book.chapter_parameters("06_beyond", "ci")
    with pytest.raises(AttributeError, match="read-only"):
        p.seed = 3
    with pytest.raises(AttributeError, match="no parameter 'sed'"):
        _ = p.sed
    p.snr_list.append(99)
    assert book.chapter_parameters("06_beyond", "ci").snr_list == [30, 40, 50]
    assert "n_new" in repr(p) and dict(p) == p.to_dict()


def test_scale_block_with_unknown_name_is_rejected(tmp_path):
    spec = yaml.safe_load((NOTEBOOKS / "scales.yml").read_text())
    spec["scales"]["ci"]["01_grid"] = {"n_sweep": 3}
    bad = tmp_path / "scales.yml"
    bad.write_text(yaml.safe_dump(spec))
    with pytest.raises(ValueError, match=r"scale 'ci', block '01_grid' sets \['n_sweep'\]"):
        book.load_scales(bad)
    spec["scales"]["ci"].pop("01_grid")
    spec["defaults"].pop("04_models")
    bad.write_text(yaml.safe_dump(spec))
    with pytest.raises(ValueError, match="`defaults` must have blocks"):
        book.load_scales(bad)


@pytest.mark.parametrize("chapter", book.chapters())
def test_notebook_uses_only_parameters_it_takes(chapter):
    """Every ``p.<name>`` a chapter reads is a parameter scales.yml gives it (else it fails only when run)."""
    text = (NOTEBOOKS / f"{chapter}.py").read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    used = set(re.findall(r"\bp\.([A-Za-z_]\w*)", code)) - {"to_dict"}
    assert used <= {"scale", *book.parameter_names(chapter)}, sorted(used - set(book.parameter_names(chapter)))


def test_error_curves_bins_each_variable_and_the_label():
    rng = np.random.default_rng(1)
    n = 200
    labels = {"teff": rng.uniform(3500, 8000, 2 * n), "logg": rng.uniform(0, 5, 2 * n),
              "feh": rng.uniform(-4, -1, 2 * n)}
    rows = np.arange(0, 2 * n, 2)
    y_true = rng.uniform(-0.2, 1.2, (n, 2))
    y_pred = y_true + rng.normal(0, 0.1, (n, 2))
    bins = {"teff": np.arange(3500, 8001, 1500), "logg": np.arange(0, 5.01, 2.5), "feh": np.arange(-4, -0.99, 1.5),
            "mgfe": np.arange(-0.3, 1.31, 0.4)}
    curves = book.error_curves({"y_true": y_true, "y_pred": y_pred, "rows": rows}, 1, labels, "mgfe", bins)
    assert list(curves) == ["teff", "logg", "feh", "mgfe"]
    for var, (centres, mse, sigma) in curves.items():
        assert len(centres) == len(mse) == len(sigma) == len(bins[var]) - 1
        assert np.nanmax(mse) < 0.05                             # residuals of σ = 0.1 dex: MSE ≈ 0.01
    from glocal.evaluation import binned_errors
    expected = binned_errors(y_true[:, 1], y_pred[:, 1], labels["teff"][rows], bins["teff"])
    np.testing.assert_array_equal(curves["teff"][1], expected["mse"])   # column 1, rows into the label table
    expected = binned_errors(y_true[:, 1], y_pred[:, 1], y_true[:, 1], bins["mgfe"])
    np.testing.assert_array_equal(curves["mgfe"][2], expected["sigma"])  # the label binned on its true value


def test_glue_passes_python_scalars_to_myst_nb(monkeypatch):
    """myst-nb formats a glued number from its repr; a NumPy scalar's (np.float64(…)) cannot be formatted."""
    import myst_nb
    import numpy as np

    from glocal import book
    seen = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: seen.update({name: value}))
    book.glue("a", np.float64(269.1), display=False)
    book.glue("b", np.int64(6), display=False)
    book.glue("c", "text", display=False)
    assert type(seen["a"]) is float and seen["a"] == 269.1
    assert type(seen["b"]) is int and seen["c"] == "text"
    assert format(seen["a"], ".0f") == "269"
