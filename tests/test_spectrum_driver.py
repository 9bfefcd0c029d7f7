"""Tests of the SPECTRUM v2.77 driver (glocal.synthesis.spectrum): input files and an end-to-end run."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glocal.abundances import SOLAR_GS98, abundance_pattern
from glocal.synthesis import spectrum as sp
from glocal.synthesis.spectrum import SpectrumOptions


@pytest.fixture(scope="module")
def atm():
    from glocal.atmospheres import grid_atmosphere
    return grid_atmosphere(4500.0, 2.0, -2.0)


@pytest.fixture(scope="module")
def mgb_lines():
    from glocal.linelists import builtin_linelist
    return builtin_linelist((5110.0, 5240.0))


def test_model_file_round_trip(atm, tmp_path):
    p = tmp_path / "m.dat"
    sp.write_model(atm, p)
    lines = p.read_text().splitlines()
    teff, logg, mh, n = lines[0].split()
    assert float(teff) == atm.teff and float(logg) == atm.logg and float(mh) == atm.feh and int(n) == atm.ndepth
    rows = np.array([l.split() for l in lines[1:]], float)
    assert rows.shape == (atm.ndepth, 6)
    np.testing.assert_allclose(rows[:, 0], atm.rhox, rtol=1e-7)
    np.testing.assert_allclose(rows[:, 2], atm.P, rtol=1e-6)
    np.testing.assert_allclose(rows[:, 3], atm.xne, rtol=1e-6)


def _inmodel6_t(path):
    """Python transcription of what SPECTRUM's inmodel6.c reads under the ``t`` switch."""
    lines = Path(path).read_text().splitlines(keepends=True)
    assert all(len(l) < 219 for l in lines)                 # fgets(buffer, 220, fp)
    it = iter(lines)
    head = next(l for l in it if "TEFF" in l)
    assert len(head[head.index("TEFF"):]) < 150             # strcpy into buf2[150]
    teff = float(head[head.index("TEFF"):].split()[1])
    logg = float(head[head.index("GRAVITY"):].split()[1])
    sc = next(l for l in it if "SCALE" in l)
    assert len(sc[sc.index("SCALE"):]) < 150
    mh = np.log10(float(sc[sc.index("SCALE"):].split()[1]))
    next(l for l in it if "READ" in l)
    rows = []
    for l in it:
        if "PRADK" in l:
            break
        rows.append([float(x) for x in l.split()])
    return teff, logg, mh, np.array(rows)


def test_kurucz_deck_as_spectrum_and_glocal_read_it(atm, tmp_path):
    from glocal.atmospheres import read_atmospheres
    p = tmp_path / "m.atlas"
    sp.write_kurucz_model(atm, p)
    teff, logg, mh, rows = _inmodel6_t(p)
    assert (teff, logg) == (atm.teff, atm.logg) and mh == pytest.approx(atm.feh, abs=1e-9)
    assert rows.shape == (atm.ndepth, 7)                   # rhox T P Ne abross accrad vturb
    for k, name in enumerate(("rhox", "T", "P", "xne", "abross")):
        np.testing.assert_allclose(rows[:, k], getattr(atm, name), rtol=1e-6, atol=0.006)
    # the simple-header file carries the very same depth values (so `t` alone changes nothing)
    sp.write_model(atm, tmp_path / "m.dat")
    simple = np.array([l.split() for l in (tmp_path / "m.dat").read_text().splitlines()[1:]], float)
    np.testing.assert_array_equal(rows[:, :6], simple)
    back = read_atmospheres(p)[0]                          # and it is a valid ATLAS9 deck
    assert (back.teff, back.logg, back.feh, back.vturb) == (atm.teff, atm.logg, atm.feh, atm.vturb)
    np.testing.assert_allclose(back.abundances, atm.abundances, atol=1e-4)
    np.testing.assert_allclose(back.P, atm.P, rtol=1e-6)
    sp.write_kurucz_model(atm, p, feh=-1.234)              # [M/H] through ABUNDANCE SCALE
    assert _inmodel6_t(p)[2] == pytest.approx(-1.234, abs=1e-8)
    import dataclasses
    deep = dataclasses.replace(atm, **{k: np.resize(getattr(atm, k), 101) for k in ("T", "P", "xne", "abross")},
                               rhox=np.arange(1, 102) * 1e-3)
    with pytest.raises(ValueError):                        # SPECTRUM's NTAU = 100
        sp.write_kurucz_model(deep, p)


def test_isotope_file(tmp_path):
    from glocal.linelists import SOLAR_ISOTOPE_FRACTIONS
    p = tmp_path / "iso"
    n = sp.write_isotope_file(p)
    rows = [l.split() for l in p.read_text().splitlines()]
    assert n == len(rows) and all(len(r) == 4 for r in rows)   # fscanf "%lf %d %lf %lf"
    tab = {(int(float(r[0])), int(r[1])): (float(r[2]), float(r[3])) for r in rows}
    assert set(sp.SPECTRUM_REQUIRED_ISOTOPES) <= set(tab)      # isorelabun.c exits otherwise
    for k, f in SOLAR_ISOTOPE_FRACTIONS.items():
        assert tab[k][1] == pytest.approx(f, rel=1e-9)
    assert all(abs(m - a) < 0.07 for (z, a), (m, _) in tab.items())
    for z in {z for z, _ in tab}:
        assert sum(f for (zz, _), (_, f) in tab.items() if zz == z) == pytest.approx(1.0, abs=2e-3)
    with pytest.raises(ValueError):
        sp.write_isotope_file(p, {(1, 1): 1.0})


def test_spectrum_isotope_numbers():
    from glocal.linelists import LINE_DTYPE, isotope_fraction
    cases = [  # code, isotope digits, fraction (None: solar), expected SPECTRUM iso, fraction applied by SPECTRUM
        (106.00113, 113, None, 13, True), (106.00112, 112, None, 12, True), (108.00116, 116, None, 16, True),
        (108.00118, 118, None, 18, True), (112.00125, 125, None, 25, True), (607.01314, 1314, None, 13, True),
        (606.01212, 1212, None, 12, True),
        (606.01213, 1213, None, 0, False),    # pop13.c counts 2 f12 f13 for 12C13C, the list f12 f13
        (822.01646, 1646, None, 0, False),    # TiO: pop13.c ignores isotope numbers
        (3.0007, 7, None, 7, True), (26.0, 0, 1.0, 0, False),
        (106.00113, 113, 0.5, 0, False)]      # a fraction other than the isotope file's
    d = np.zeros(len(cases), LINE_DTYPE)
    for i, (c, k, f, _, _) in enumerate(cases):
        d[i]["code"], d[i]["isotope_code"] = c, k
        d[i]["isotope_fraction"] = isotope_fraction(np.floor(c), k)[0] if f is None else f
    iso, applied = sp.spectrum_isotopes(d)
    assert iso.tolist() == [c[3] for c in cases] and applied.tolist() == [c[4] for c in cases]


def _read_lst(path, isotopes):
    rows = [l.split() for l in Path(path).read_text().splitlines()]
    k = 1 if isotopes else 0
    assert all(r[6 + k] in ("99", "GA") for r in rows)
    return (np.array([float(r[0]) for r in rows]), np.array([float(r[1]) for r in rows]),
            np.array([int(r[2]) for r in rows]) if isotopes else None, np.array([float(r[4 + k]) for r in rows]))


def test_line_list_isotope_column_never_both(tmp_path):
    """With ``i`` a line's isotopic fraction is either SPECTRUM's (iso number, unscaled log gf) or
    folded into log gf (iso 0) — never both, never neither — for applied and unapplied lists."""
    from glocal.linelists import SOLAR_ISOTOPE_FRACTIONS as F
    from glocal.linelists import LineList, builtin_linelist
    lines = builtin_linelist((4290.0, 4340.0))             # isotope fractions applied
    d = lines.data.copy()
    d["loggf"] -= np.log10(d["isotope_fraction"])
    raw = LineList(d, medium="air", isotopes_applied=False)
    n_old = sp.write_line_list(lines, tmp_path / "old.lst", (4300, 4330))
    info = {}
    n_new = sp.write_line_list(lines, tmp_path / "new.lst", (4300, 4330), isotopes=True, info=info)
    sp.write_line_list(raw, tmp_path / "raw.lst", (4300, 4330), isotopes=True)
    assert (tmp_path / "raw.lst").read_text() == (tmp_path / "new.lst").read_text()
    w0, c0, _, gf0 = _read_lst(tmp_path / "old.lst", False)
    w1, c1, iso, gf1 = _read_lst(tmp_path / "new.lst", True)
    assert n_old == n_new == info["n_lines_written"] and np.array_equal(w0, w1) and np.array_equal(c0, c1)
    # the factor SPECTRUM applies for each isotope number (pop13.c), written out independently
    hydride = {106: 6, 107: 7, 108: 8, 112: 12, 114: 14}
    other = {(606, 12): F[(6, 12)] ** 2, (607, 12): F[(6, 12)] * F[(7, 14)], (607, 13): F[(6, 13)] * F[(7, 14)],
             (607, 15): F[(6, 12)] * F[(7, 15)], (608, 12): F[(6, 12)] * F[(8, 16)], (608, 13): F[(6, 13)] * F[(8, 16)]}

    def factor(code, n):
        if n == 0:
            return 1.0
        return F[(1, 1)] * F[(hydride[int(code)], n)] if int(code) in hydride else other[(int(code), n)]
    expect = np.array([np.log10(factor(c, n)) for c, n in zip(c1, iso)])
    np.testing.assert_allclose(gf1 + expect, gf0, atol=1.5e-4)  # applied exactly once
    assert info["n_isotope_lines"] == np.count_nonzero(iso) > 100
    for code, n in ((106, 12), (106, 13), (112, 24), (114, 29), (606, 12)):
        assert np.any((c1 == code) & (iso == n))
    tio = c1 == 822
    assert tio.any() and np.all(iso[tio] == 0) and np.all(gf1[tio] == gf0[tio])   # folded, as without `i`


def test_atom_file_holds_eq2_offsets(tmp_path):
    p = tmp_path / "a.dat"
    feh, ofe = -2.0, 0.8
    file_ab = abundance_pattern(feh, {"O": ofe})
    file_ab[2:] -= feh                                   # what run() writes: Eq. 2, A_sun + [X/Fe]
    sp.write_atom_file(p, file_ab)
    text = p.read_text().splitlines()
    assert len(text[0]) < 79                             # inatom2.c reads the comment with fgets(…, 80)
    rows = [l.split() for l in text[1:]]
    assert len(rows) == 107                              # NATOM: 92 elements + NMOL = 15 molecules
    lab = {int(r[0]): float(r[1]) for r in rows[:92]}
    # log(N_O/N_Fe) in the file = (A_O_sun + [O/Fe]) - A_Fe_sun, independent of the normalisation
    assert lab[8] - lab[26] == pytest.approx(8.83 + ofe - 7.50, abs=2e-4)
    assert lab[12] - lab[26] == pytest.approx(7.58 - 7.50, abs=2e-4)
    n = 10.0 ** (SOLAR_GS98[:92] - 12.0)
    n[8 - 1] *= 10**ofe
    assert 10 ** lab[1] == pytest.approx(1.0 / n.sum(), rel=1e-3)   # H fraction of all nuclei
    mol = {int(r[0]): [float(x) for x in r[1:]] for r in rows[92:]}
    assert set(mol) == set(sp.SPECTRUM_MOLECULES)
    assert mol[108][2] == pytest.approx(sp.MOLECULE_D0_EV[108])       # D0
    assert mol[108][3] == pytest.approx(1.008 * 15.999 / (1.008 + 15.999), rel=1e-3)   # reduced mass
    with pytest.raises(ValueError):
        sp.write_atom_file(p, np.full(99, np.nan))


def test_line_list_format(mgb_lines, tmp_path):
    p = tmp_path / "l.lst"
    n = sp.write_line_list(mgb_lines, p, (5160.0, 5190.0))
    rows = [l.split() for l in p.read_text().splitlines()]
    assert n == len(rows) > 10
    w = np.array([float(r[0]) for r in rows])
    assert np.all(np.diff(w) >= 0) and w[0] >= 5160.0 and w[-1] <= 5190.0
    codes = {float(r[1]) for r in rows}
    assert 12.0 in codes and not any(100 < c < 1000 and int(c) not in sp.SPECTRUM_MOLECULES for c in codes)
    # E_up - E_low = 1e8 / lambda_vac (cm^-1) for the Mg b 5183.6 line
    from glocal.linelists import air_to_vacuum
    r = min(rows, key=lambda r: abs(float(r[0]) - 5183.604) + (0 if r[1] == "12.0" else 99))
    assert float(r[3]) - float(r[2]) == pytest.approx(1e8 / air_to_vacuum(float(r[0])), abs=0.01)
    assert float(r[2]) == pytest.approx(2.717 * 8065.54, rel=2e-3)  # Mg I 3p 3P2 at 2.717 eV


def test_missing_binary_is_a_clear_error(monkeypatch, atm, mgb_lines):
    monkeypatch.delenv("GLOCAL_SPECTRUM_BIN", raising=False)
    with pytest.raises(FileNotFoundError):
        sp.run(atm, abundance_pattern(-2.0)[None], mgb_lines, (5160.0, 5190.0), 1.8)
    with pytest.raises(FileNotFoundError):
        sp.find_binary("/nonexistent/spectrum")


@pytest.fixture(scope="session")
def spectrum_binary(shared_vendor, request, tmp_path_factory):
    """Build the vendored SPECTRUM once (cached in pytest's cache dir, keyed by the source hash)."""
    if shutil.which("gcc") is None or shutil.which("make") is None:
        pytest.skip("gcc/make not available")
    src = shared_vendor / "spectrum-2.77c"
    if not src.is_dir():
        pytest.skip(f"{src} not found")
    h = hashlib.sha256()
    for f in sorted(src.iterdir()):
        h.update(f.name.encode() + f.read_bytes())
    cache_plugin = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    cache = (cache_plugin.mkdir("glocal-spectrum-build") if cache_plugin is not None
             else tmp_path_factory.mktemp("glocal-spectrum-build"))
    exe = cache / h.hexdigest()[:16] / "spectrum"
    if not exe.is_file():
        exe = sp.build_spectrum(src, cache / h.hexdigest()[:16])
    return exe


@pytest.mark.slow
def test_spectrum_end_to_end_against_sme(spectrum_binary, atm, mgb_lines):
    """SPECTRUM (paper's code) and SME on the same atmosphere and line list: Mg b equivalent widths."""
    pytest.importorskip("pysme")
    from glocal.synthesis import synthesize_variants
    V = [{"O": 0.0, "Mg": 0.0}, {"O": 0.0, "Mg": 0.8}]
    a = synthesize_variants(atm.teff, atm.logg, atm.feh, V, wave_range=(5165.0, 5190.0), atmosphere=atm,
                            line_list=mgb_lines, engine="spectrum", binary=str(spectrum_binary))
    assert a.details["normalized_only"] and a.options == SpectrumOptions(binary=str(spectrum_binary))
    assert np.allclose(a.continuum, 1.0) and np.all((a.normalized > 0) & (a.normalized <= 1.0 + 1e-6))
    assert a.wave[1] - a.wave[0] == pytest.approx(0.02, abs=1e-3)
    b = synthesize_variants(atm.teff, atm.logg, atm.feh, V, wave_range=(5165.0, 5190.0), atmosphere=atm,
                            line_list=mgb_lines, wave=a.wave, engine="sme")
    ew_a = np.trapezoid(1 - a.normalized, a.wave, axis=1)
    ew_b = np.trapezoid(1 - b.normalized, b.wave, axis=1)
    assert ew_a[1] > 1.4 * ew_a[0]                        # [Mg/Fe] = +0.8 strengthens Mg b in SPECTRUM
    np.testing.assert_allclose(ew_a, ew_b, rtol=0.1)      # two independent codes agree within 10 %
    core = np.argmin(np.abs(a.wave - 5183.60))
    assert abs(a.normalized[0, core] - b.normalized[0, core]) < 0.05


_FAKE_SPECTRUM = '''#!{python}
"""Stand-in for SPECTRUM: records its switches, stdin answers and the files it finds."""
import json, pathlib, sys
answers = sys.stdin.read().splitlines()
lo, hi = (float(x) for x in answers[-2].split(","))
step = float(answers[-1])
n = int(round((hi - lo) / step)) + 1
pathlib.Path(answers[-4]).write_text("".join(f"{{lo + i * step:.3f}} 0.900000\\n" for i in range(n)))
with open("calls.jsonl", "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:], "stdin": answers}}) + "\\n")
'''


@pytest.fixture
def fake_spectrum(tmp_path):
    exe = tmp_path / "fake-spectrum"
    exe.write_text(_FAKE_SPECTRUM.format(python=sys.executable))
    exe.chmod(0o755)
    return exe


def test_run_passes_paper_switches_and_writes_their_files(fake_spectrum, atm, mgb_lines, tmp_path):
    """Default run: switches ``nita``; prompts answered in spectrum.c's order, isotope file included;
    ATLAS9 model; isotope column in the line list.  ``na`` still gives the former inputs."""
    ab = abundance_pattern(-2.0)
    A = np.stack([ab, abundance_pattern(-2.0, {"Mg": 0.4})])
    r = sp.run(atm, A, mgb_lines, (5165.0, 5190.0), 1.8,
               SpectrumOptions(binary=str(fake_spectrum), workdir=str(tmp_path / "nita")))
    w, f, c, det = r.wave, r.flux, r.continuum, r.details
    assert f.shape == (2, w.size) and np.allclose(f, 0.9) and np.allclose(c, 1.0)
    calls = [json.loads(l) for l in (tmp_path / "nita" / "calls.jsonl").read_text().splitlines()]
    assert [c["argv"] for c in calls] == [["nita"], ["nita"]] and det["switches"] == "nita"
    assert calls[1]["stdin"] == ["model.dat", "lines.lst", "atom1.dat", "isotopes.iso", "out1.spc", "1.8000",
                                 "5165.000,5190.000", "0.0200"]
    assert (tmp_path / "nita" / "model.dat").read_text().startswith("TEFF")
    assert sp.write_isotope_file(tmp_path / "ref.iso") and \
        (tmp_path / "nita" / "isotopes.iso").read_text() == (tmp_path / "ref.iso").read_text()
    rows = [l.split() for l in (tmp_path / "nita" / "lines.lst").read_text().splitlines()]
    assert all(r[2].isdigit() for r in rows) and any(r[2] != "0" for r in rows)   # the isotope column
    assert det["n_isotope_lines"] > 0 and det["model_format"] == "atlas9"

    sp.run(atm, ab[None], mgb_lines, (5165.0, 5190.0), 1.8,
           SpectrumOptions(binary=str(fake_spectrum), switches="na", workdir=str(tmp_path / "na")))
    call = json.loads((tmp_path / "na" / "calls.jsonl").read_text())
    assert call["argv"] == ["na"] and "isotopes.iso" not in call["stdin"] and len(call["stdin"]) == 7
    assert not (tmp_path / "na" / "isotopes.iso").exists()
    head = (tmp_path / "na" / "model.dat").read_text().splitlines()[0].split()
    assert [float(x) for x in head] == [atm.teff, atm.logg, atm.feh, atm.ndepth]
    with pytest.raises(ValueError, match="switches"):
        SpectrumOptions(binary=str(fake_spectrum), switches="nitaf")


def test_spectrum_options_step_grid_timeout_and_scratch_folder(fake_spectrum, atm, mgb_lines, tmp_path,
                                                               monkeypatch):
    """``dwave`` is SPECTRUM's step (its last prompt), a ``wave`` grid receives the output by interpolation,
    a temporary scratch folder is removed after the run, and a SPECTRUM call that outlives ``timeout`` is
    killed with a RuntimeError."""
    ab = abundance_pattern(-2.0)[None]
    r = sp.run(atm, ab, mgb_lines, (5165.0, 5190.0), 1.8,
               SpectrumOptions(binary=str(fake_spectrum), dwave=0.05, workdir=str(tmp_path / "w")))
    call = json.loads((tmp_path / "w" / "calls.jsonl").read_text())
    assert call["stdin"][-1] == "0.0500" and np.allclose(np.diff(r.wave), 0.05) and r.details["dwave"] == 0.05
    grid = np.linspace(5170.0, 5180.0, 7)
    r = sp.run(atm, ab, mgb_lines, (5165.0, 5190.0), 1.8, SpectrumOptions(binary=str(fake_spectrum)), wave=grid)
    assert np.array_equal(r.wave, grid) and r.flux.shape == (1, 7) and not Path(r.details["workdir"]).exists()
    slow = tmp_path / "slow-spectrum"
    slow.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    slow.chmod(0o755)
    with pytest.raises(RuntimeError, match="timeout"):
        sp.run(atm, ab, mgb_lines, (5165.0, 5190.0), 1.8, SpectrumOptions(binary=str(slow), timeout=0.5))
    for bad in (dict(dwave=0.0), dict(dwave=2.0), dict(timeout=0), dict(switches="f")):
        with pytest.raises(ValueError):
            SpectrumOptions(**bad)


def _ch13_lines():
    from glocal.linelists import LineList, builtin_linelist
    d = builtin_linelist((4270.0, 4360.0)).data
    return LineList(d[(np.floor(d["code"]) == 106) & (d["isotope_code"] == 113)], medium="air", isotopes_applied=True)


def test_spectrum_13ch_isotope_file_equals_folded_log_gf(spectrum_binary, tmp_path):
    """A list of ¹³CH lines through SPECTRUM: ``nita`` (iso 13, unscaled log gf, isotope file) against
    ``na`` (f(¹H)f(¹³C) = 0.011 folded into log gf).  The only physics SPECTRUM changes with ``i`` is
    the ¹³CH reduced mass in the dissociation equilibrium (pop13.c: 0.935332 amu instead of the atom
    file's 1.008·12.011/13.019): with that mass in the ``na`` atom file the spectra coincide."""
    from glocal.atmospheres import grid_atmosphere
    atm = grid_atmosphere(4500.0, 1.5, -2.0)
    lines = _ch13_lines()
    ab = abundance_pattern(-2.0)[None]
    r = sp.run(atm, ab, lines, (4300.0, 4330.0), 1.8,
               SpectrumOptions(binary=str(spectrum_binary), workdir=str(tmp_path / "nita")))
    w, f_new, det = r.wave, r.flux, r.details
    assert det["n_isotope_lines"] == det["n_lines_written"] > 100
    assert all(l.split()[2] == "13" for l in (tmp_path / "nita" / "lines.lst").read_text().splitlines())
    f_old = sp.run(atm, ab, lines, (4300.0, 4330.0), 1.8,
                   SpectrumOptions(binary=str(spectrum_binary), switches="na", workdir=str(tmp_path / "na"))).flux
    ew_new, ew_old = np.trapezoid(1 - f_new[0], w), np.trapezoid(1 - f_old[0], w)
    assert ew_old > 0.2                                       # the 13CH band is there (Å)
    mu_ratio = (0.935332 / (1.008 * 12.011 / 13.019)) ** -1.5  # 0.9914: N(13CH) in `i` mode / atom-file value
    assert ew_new / ew_old == pytest.approx(mu_ratio, abs=0.004)   # fraction applied once (twice: 0.011)
    atom = (tmp_path / "na" / "atom0.dat").read_text().splitlines()
    for i, l in enumerate(atom[93:], start=93):
        t = l.split()
        if t[0] == "106":
            t[4] = "0.935332"
            atom[i] = " ".join(t)
    (tmp_path / "na" / "atom0.dat").write_text("\n".join(atom) + "\n")
    r = subprocess.run([str(spectrum_binary), "na"], cwd=tmp_path / "na", capture_output=True, text=True,
                       input="model.dat\nlines.lst\natom0.dat\nmu.spc\n1.8000\n4300.000,4330.000\n0.0200\n")
    assert r.returncode == 0
    wm, f_mu = sp.read_output(tmp_path / "na" / "mu.spc")
    assert np.array_equal(wm, w)
    assert np.abs(f_mu - f_new[0]).max() < 5e-5


@pytest.mark.slow
def test_spectrum_nita_matches_na_full_list(spectrum_binary, atm):
    """Whole built-in list, CH/MgH window: ``nta`` reproduces ``na`` exactly (the ATLAS9 deck carries
    the same model); ``nita`` differs only by SPECTRUM's isotopologue physics, far below R = 200 needs."""
    from glocal.degrade import degrade
    from glocal.linelists import builtin_linelist
    lines = builtin_linelist((4260.0, 4370.0))
    ab = abundance_pattern(-2.0)[None]
    out = {s: sp.run(atm, ab, lines, (4300.0, 4330.0), 1.8, SpectrumOptions(binary=str(spectrum_binary), switches=s))
           for s in ("na", "nta", "nita")}
    w = out["na"].wave
    f = {s: v.flux[0] for s, v in out.items()}
    assert f["na"].min() < 0.3                                # strong CH band: a meaningful comparison
    assert np.array_equal(f["nta"], f["na"])
    assert 0 < np.abs(f["nita"] - f["na"]).max() < 3e-3
    d = {s: degrade(w, f[s], R=200, wmin=4300.0, wmax=4330.0, weighting="trapezoid")[1] for s in ("na", "nita")}
    assert np.abs(d["nita"] - d["na"]).max() < 3e-4


@pytest.mark.slow
def test_spectrum_oh_response_is_its_molecular_damping(spectrum_binary, monkeypatch):
    """Issue 27: SPECTRUM's OH band response at 4500/3/-1 (OH lines alone, [O/Fe] -0.2 -> +0.8) is reproduced
    by the built-in engine within 10 % once the built-in engine gives molecular lines SPECTRUM's damping
    (gamma_6 = 1e-7 n(H I), broad12.c), and differs by more than 30 % with its default (Unsoeld) damping."""
    from glocal.synthesis import resolve_inputs
    from glocal.synthesis.builtin.options import BuiltinOptions
    from glocal.validation.oh_damping import SYNTHESIS_RANGE, band_response, spectrum_equivalent_vdw
    monkeypatch.setenv("GLOCAL_SPECTRUM_BIN", str(spectrum_binary))
    model = (4500.0, 3.0, -1.0)
    atm = resolve_inputs(*model, wave_range=SYNTHESIS_RANGE)[0]
    t_form = float(np.interp(-2.0, np.log10(atm.tau_ross), atm.T))
    ref = band_response(*model, engine="spectrum", lines="oh")["response"]
    same = band_response(*model, lines="oh", options=BuiltinOptions(molecular_vdw=spectrum_equivalent_vdw(t_form)))
    default = band_response(*model, lines="oh")["response"]
    assert abs(same["response"] - ref) < 0.10 * ref, (same, ref)
    assert abs(default - ref) > 0.30 * ref, (default, ref)
