"""Line-list table, readers, air/vacuum conversion and the built-in list (paper §2.1)."""
import gzip

import numpy as np
import pytest

from glocal import linelists as ll

EV_CM = 8065.543937


# ----------------------------------------------------------------------------- air / vacuum
@pytest.mark.parametrize("air, vac", [
    (5889.950, 5891.583),   # Na I D2 (NIST ASD)
    (6562.80, 6564.61),     # H alpha (NIST ASD)
    (2795.528, 2796.352),   # Mg II k (NIST ASD)
])
def test_air_vacuum_reference_wavelengths(air, vac):
    assert ll.air_to_vacuum(air) == pytest.approx(vac, abs=0.003)
    assert ll.vacuum_to_air(vac) == pytest.approx(air, abs=0.003)


def test_air_vacuum_round_trip_and_errors():
    w = np.geomspace(2000.0, 20000.0, 500)
    np.testing.assert_allclose(ll.vacuum_to_air(ll.air_to_vacuum(w)), w, rtol=2e-9)
    # below 2000 Å air == vacuum by convention
    assert ll.air_to_vacuum(1500.0) == 1500.0
    with pytest.raises(ValueError, match="NaN"):
        ll.air_to_vacuum([5000.0, np.nan])
    with pytest.raises(ValueError, match="positive"):
        ll.vacuum_to_air(-1.0)


# ----------------------------------------------------------------------------- species
def test_species_codes_and_isotopes():
    assert ll.species_name(26.0) == "Fe 1" and ll.species_name(12.1) == "Mg 2"
    assert ll.species_name(108) == "OH" and ll.species_name(607) == "CN" and ll.species_name(822) == "TiO"
    for name in ("Fe 1", "Mg 2", "OH", "CH", "MgH", "C2", "CN", "TiO"):
        assert ll.species_name(ll.species_code(name)) == name
    with pytest.raises(ValueError):
        ll.species_code("Xx 1")
    # 16O1H: f(1H) f(16O); 13CH: f(1H) f(13C); 7Li
    assert ll.isotope_fraction(108.0, 116)[0] == pytest.approx(0.99998 * 0.997621)
    assert ll.isotope_fraction(106.0, 113)[0] == pytest.approx(0.99998 * 0.011062)
    assert ll.isotope_fraction(3.0, 7)[0] == pytest.approx(0.9241)
    assert ll.isotope_fraction(26.0, 0)[0] == 1.0
    with pytest.raises(ValueError, match="isotopic fraction"):
        ll.isotope_fraction(26.0, 99)


# ----------------------------------------------------------------------------- MOOG
MOOG_TEXT = (
    "test list title\n"
    "  5172.684      12.0     2.712    -0.450\n"
    "  3100.000 108.00116     0.500    -5.000               4.392\n"
    "  3100.000 108.00116     0.500    -5.000               4.392\n"
    "  6707.761    3.0007     0.000    -0.009\n"
    "  4300.000 106.00113     1.000    -3.000   -7.500      3.465\n"
)


def test_read_moog_small_file(tmp_path):
    path = tmp_path / "lines.moog.gz"
    path.write_bytes(gzip.compress(MOOG_TEXT.encode()))
    lst = ll.read_moog(path)
    assert len(lst) == 5 and lst.medium == "air" and not lst.isotopes_applied
    d = lst.data
    assert list(d["species"]) == ["Mg 1", "OH", "OH", "Li 1", "CH"]
    assert d["wave"][0] == 5172.684 and d["elow"][0] == 2.712 and d["loggf"][0] == -0.45
    assert d["code"][1] == 108.00116 and d["isotope_code"][1] == 116 and d["d0"][1] == 4.392
    assert np.isnan(d["d0"][0]) and np.isnan(d["gamma_vdw"][1])
    assert d["isotope_code"][3] == 7 and d["isotope_fraction"][3] == pytest.approx(0.9241)
    assert d["gamma_vdw"][4] == -7.5 and d["d0"][4] == 3.465
    dedup, n = lst.deduplicate()
    assert n == 1 and len(dedup) == 4
    applied = lst.apply_isotope_fractions()
    assert applied.isotopes_applied
    assert applied["loggf"][4] == pytest.approx(-3.0 + np.log10(0.99998 * 0.011062))
    assert applied.apply_isotope_fractions()["loggf"][4] == applied["loggf"][4]


def test_read_moog_errors(tmp_path):
    (tmp_path / "short.moog").write_text("  5172.684      12.0     2.712\n")
    with pytest.raises(ValueError, match="shorter"):
        ll.read_moog(tmp_path / "short.moog")
    (tmp_path / "bad.moog").write_text("  5172.684      12.0     2.712    -0.4x0\n"
                                       "  5000.000      26.0     1.000    -1.000\n")
    with pytest.raises(ValueError, match="non-numeric"):
        ll.read_moog(tmp_path / "bad.moog")
    with pytest.raises(FileNotFoundError):
        ll.read_moog(tmp_path / "nope.moog")
    (tmp_path / "corrupt.gz").write_bytes(b"\x1f\x8b\x08\x00abc")
    with pytest.raises(ValueError, match="gzip"):
        ll.read_moog(tmp_path / "corrupt.gz")


def test_read_moog_linemake_sample(shared_data):
    path = shared_data / "linelists" / "linemake" / "mooghyd.gz"
    raw = gzip.decompress(path.read_bytes()).decode().splitlines()
    lst = ll.read_moog(path)
    assert len(lst) == len(raw)
    for i in (0, 1000, len(raw) - 1):
        line = raw[i]
        assert lst["wave"][i] == float(line[0:10])
        assert lst["elow"][i] == float(line[20:30])
        assert lst["loggf"][i] == float(line[30:40])
        assert lst["code"][i] == float(line[10:20])
        if line[50:60].strip():
            assert lst["d0"][i] == float(line[50:60])


# ----------------------------------------------------------------------------- VALD
def _vald_rows(path):
    return [l for l in path.read_text().splitlines() if l.startswith("'") and l[1:3].strip() and "," in l
            and l.split(",")[1].strip()[:1].isdigit()]


@pytest.mark.parametrize("name, medium", [
    ("5000-5005.vald", "vacuum"), ("short-extract-stellar.vald", "vacuum"),
    ("long-extract-stellar.vald", "vacuum"), ("long-extract-all-air-wavenumber.vald", "air"),
])
def test_read_vald(shared_data, name, medium):
    path = shared_data / "linelists" / name
    lst = ll.read_vald(path)
    rows = _vald_rows(path)
    assert len(lst) == len(rows) and lst.medium == medium and lst.isotopes_applied
    first = [t.strip() for t in rows[0].split(",")]
    assert lst["wave"][0] == float(first[1])
    assert lst["species"][0] == first[0].strip("'")


def test_read_vald_values(shared_data):
    short = ll.read_vald(shared_data / "linelists" / "5000-5005.vald")
    ti = short.data[2]  # 'Ti 1', 5000.8977, 0.8259, 1.0, 0.320, 7.940,-6.050, 318.245
    assert (ti["species"], ti["elow"], ti["loggf"]) == ("Ti 1", 0.8259, 0.32)
    assert (ti["gamma_rad"], ti["gamma_stark"], ti["gamma_vdw"]) == (7.94, -6.05, 318.245)
    la = short.data[1]  # La 2 with zero damping -> NaN
    assert la["ion"] == 2 and np.isnan(la["gamma_rad"]) and np.isnan(la["gamma_vdw"])
    wn = ll.read_vald(shared_data / "linelists" / "long-extract-all-air-wavenumber.vald")
    assert wn["elow"][0] == pytest.approx(25102.875 / EV_CM, rel=1e-9)
    # the same Ti I line in vacuum (stellar extract) and air (all extract)
    vac = ll.read_vald(shared_data / "linelists" / "long-extract-stellar.vald")
    assert ll.vacuum_to_air(vac["wave"][0]) == pytest.approx(wn["wave"][0], abs=2e-3)


def test_read_vald_errors(tmp_path):
    (tmp_path / "x.vald").write_text("nothing here\n")
    with pytest.raises(ValueError, match="header"):
        ll.read_vald(tmp_path / "x.vald")


# ----------------------------------------------------------------------------- Kurucz
def test_read_kurucz_gfall(shared_data):
    path = shared_data / "linelists" / "kurucz_gf0600_sample.dat"
    lst = ll.read_kurucz(path)
    line = path.read_text().splitlines()[0]
    assert lst.medium == "air" and len(lst) == len(path.read_text().splitlines())
    assert lst["wave"][0] == pytest.approx(float(line[0:11]) * 10)
    assert lst["loggf"][0] == float(line[11:18])
    assert lst["species"][0] == "Cu 1"
    assert lst["elow"][0] == pytest.approx(min(abs(float(line[24:36])), abs(float(line[52:64]))) / EV_CM)
    assert lst["gamma_rad"][0] == 7.86 and lst["gamma_vdw"][0] == -7.13
    assert lst["species"][1] == "Ne 2" and lst["ion"][1] == 2
    vac = ll.read_kurucz(shared_data / "linelists" / "gfallvac08oct17.stub.dat")
    assert vac.medium == "vacuum" and vac["wave"][0] == pytest.approx(72320.699)


def test_read_kurucz_molecular(shared_data):
    lst = ll.read_kurucz(shared_data / "linelists" / "kurucz_mgh_sample.asc")
    assert set(lst["species"]) == {"MgH"}
    assert lst["wave"][0] == pytest.approx(5000.010) and lst["loggf"][0] == -1.505
    assert lst["elow"][0] == pytest.approx(4666.690 / EV_CM)
    cn = ll.read_kurucz(shared_data / "linelists" / "kurucz_cn.txt")
    assert set(cn["species"]) == {"CN"} and len(cn) == 10


# ----------------------------------------------------------------------------- table behaviour
def test_linelist_table_ops():
    data = np.zeros(3, ll.LINE_DTYPE)
    data["wave"] = [5000.0, 4000.0, 6000.0]
    data["code"] = [26.0, 12.1, 108.0]
    data["species"] = ["Fe 1", "Mg 2", "OH"]
    data["isotope_fraction"] = 1.0
    lst = ll.LineList(data, medium="air")
    assert list(lst.sorted()["wave"]) == [4000.0, 5000.0, 6000.0]
    assert len(lst.select(wave_range=(4500, 6500))) == 2
    assert list(lst.select(species=["OH"])["wave"]) == [6000.0]
    vac = lst.to_medium("vacuum")
    assert vac.medium == "vacuum" and vac["wave"][0] == pytest.approx(ll.air_to_vacuum(5000.0))
    with pytest.raises(ValueError, match="medium"):
        ll.LineList(data, medium="water")
    with pytest.raises(ValueError, match="different media"):
        ll.LineList.concatenate([lst, vac])
    with pytest.raises(ValueError, match="wave_range"):
        lst.select(wave_range=(6000, 5000))
    bad = data.copy()
    bad["wave"][0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ll.LineList(bad, medium="air")
    with pytest.raises(TypeError):
        ll.LineList([1, 2, 3], medium="air")


# ----------------------------------------------------------------------------- built-in list
def test_builtin_linelist():
    lst = ll.builtin_linelist()
    assert lst.medium == "air" and lst.isotopes_applied
    w = lst["wave"]
    assert w.min() >= 2500 and w.max() <= 10050 and np.all(np.diff(w) >= 0)
    assert lst.is_hydrogen.sum() > 20  # Balmer and Paschen lines kept and flagged
    for sp in ("OH", "CH", "MgH", "CN", "Mg 1", "Mg 2", "Fe 1", "Fe 2", "TiO"):
        assert sp in set(lst["species"])
    # the key features of the paper (§1): Mg II 2796/2803, Mg I 2852, Mg b
    for wave, sp in ((2795.528, "Mg 2"), (2802.705, "Mg 2"), (2852.126, "Mg 1"), (5183.604, "Mg 1")):
        assert np.any((np.abs(w - wave) < 0.01) & (lst["species"] == sp)), (wave, sp)
    d = lst.data
    key = [d["elow"], d["loggf"], d["isotope_code"], d["code"], d["wave"]]
    o = np.lexsort(key)
    same = np.ones(len(d) - 1, bool)
    for k in key:
        same &= k[o][1:] == k[o][:-1]
    assert not same.any()  # exact duplicates were removed
    sub = ll.builtin_linelist((5000, 5100))
    assert sub["wave"].min() >= 5000 and sub["wave"].max() <= 5100
    with pytest.raises(ValueError):
        ll.builtin_linelist((5100, 5000))


def test_builtin_isotope_weighting_matches_source(shared_data):
    """A 13CH and a 16OH line of the built-in list carry log gf + log10(solar fraction)."""
    lst = ll.builtin_linelist((4300, 4310))
    raw = gzip.decompress((shared_data / "linelists" / "linemake" / "mooghyd.gz").read_bytes()).decode().splitlines()
    src = {}
    for line in raw:
        w = float(line[0:10])
        if 4300 <= w <= 4310:
            src.setdefault((w, line[10:20].strip()), []).append(float(line[30:40]))
    ch13 = lst.data[(lst["species"] == "CH") & (lst["isotope_code"] == 113)]
    assert len(ch13) > 0
    row = ch13[0]
    cands = src[(row["wave"], "106.00113")]
    assert any(abs(row["loggf"] - (g + np.log10(0.99998 * 0.011062))) < 1e-9 for g in cands)


def test_corrupt_builtin_file(tmp_path):
    bad = tmp_path / "lines.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    with pytest.raises(ValueError, match="corrupt"):
        ll.builtin_linelist(path=bad)
    with pytest.raises(FileNotFoundError):
        ll.builtin_linelist(path=tmp_path / "absent.h5")
