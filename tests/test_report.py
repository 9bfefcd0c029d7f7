"""Terminal tables of glocal predict / glocal fit (glocal.report) and the two commands without -o."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glocal.report import deliver, label_table

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real_spectra"


def table():
    return pd.DataFrame({"name": ["star a", "star b"], "band": ["full", "full"],
                         "teff": [5712.4, np.nan], "teff_std": [88.6, np.nan],
                         "logg": [3.6, np.nan], "logg_std": [np.nan, np.nan],
                         "mgfe": [0.314, np.nan], "mgfe_std": [0.046, np.nan],
                         "ofe": [np.nan, np.nan], "ofe_std": [np.nan, np.nan],
                         "flag": ["", "too_few_pixels"]})


def test_label_table_formats_values_held_labels_refusals_and_flags():
    text = label_table(table())
    lines = text.splitlines()
    assert len(lines) == 3 and "teff [K]" in lines[0] and "mgfe [dex]" in lines[0]
    assert "ofe" not in lines[0]                        # no finite value anywhere: column left out
    assert "5712 ± 89" in lines[1] and "0.31 ± 0.05" in lines[1]
    assert "3.60 (held)" in lines[1]                    # a value with no uncertainty is a held label
    assert "—" in lines[2] and "too_few_pixels" in lines[2]
    assert lines[1].rstrip().endswith("-")              # empty flag shown as "-"


def test_label_table_prefers_the_real_star_interval_where_finite():
    df = table()
    df["teff_std_real"] = [301.2, np.nan]
    df["mgfe_std_real"] = [np.nan, np.nan]
    line = label_table(df).splitlines()[1]
    assert "5712 ± 301" in line and "0.31 ± 0.05" in line   # mgfe has no real term: the stated σ stays


def test_deliver_prints_without_output_and_writes_csv_with_it(tmp_path, capsys):
    deliver(table(), None, done="1 predicted, 1 refused")
    out = capsys.readouterr().out
    assert "star a" in out and "2 spectra (1 predicted, 1 refused" in out
    assert not list(tmp_path.iterdir())
    path = tmp_path / "out.csv"
    deliver(table(), path, done="1 predicted, 1 refused")
    back = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert list(back.columns) == list(table().columns) and back["teff"].iloc[0] == pytest.approx(5712.4)


@pytest.mark.skipif(not REAL.exists(), reason="../shared/data/real_spectra absent (development spectra)")
@pytest.mark.parametrize("command", ["predict", "fit"])
def test_commands_answer_on_the_terminal_with_the_file_alone(command, capsys):
    from glocal.cli import main
    files = [REAL / "mike" / "hd140283.fits", REAL / "calspec" / "hd031128_stis_006.fits.gz"]
    assert main([command, *map(str, files)]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert "teff [K]" in lines[0] and "feh [dex]" in lines[0] and "mgfe [dex]" in lines[0]
    assert any(line.lstrip().startswith("hd140283 ") for line in lines)
    assert any("hd031128_stis_006" in line for line in lines)
    assert lines[-1].startswith("2 spectra (2 ")
    teffs = [float(line.split()[2]) for line in lines[1:3]]
    assert all(4000 < t < 8000 for t in teffs)          # real answers, inside the grid's Teff range


def test_output_is_optional_in_both_parsers():
    from glocal.cli import build_parser
    parser = build_parser()
    for command in ("predict", "fit"):
        args = parser.parse_args([command, "star.fits"])
        assert args.output is None
