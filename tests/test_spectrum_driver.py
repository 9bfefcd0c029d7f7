"""Tests of the SPECTRUM v2.77 driver (glocal.synthesis.spectrum): input files and an end-to-end run."""
from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from glocal.abundances import SOLAR_GS98, abundance_pattern
from glocal.synthesis import spectrum as sp


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
def spectrum_binary(shared_vendor, request):
    """Build the vendored SPECTRUM once (cached in pytest's cache dir, keyed by the source hash)."""
    if shutil.which("gcc") is None or shutil.which("make") is None:
        pytest.skip("gcc/make not available")
    src = shared_vendor / "spectrum-2.77c"
    if not src.is_dir():
        pytest.skip(f"{src} not found")
    h = hashlib.sha256()
    for f in sorted(src.iterdir()):
        h.update(f.name.encode() + f.read_bytes())
    cache = request.config.cache.mkdir("glocal-spectrum-build")
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
    assert np.allclose(a.continuum, 1.0) and np.all((a.normalized > 0) & (a.normalized <= 1.0 + 1e-6))
    assert a.wave[1] - a.wave[0] == pytest.approx(0.02, abs=1e-3)
    b = synthesize_variants(atm.teff, atm.logg, atm.feh, V, wave_range=(5165.0, 5190.0), atmosphere=atm,
                            line_list=mgb_lines, wave=a.wave)
    ew_a = np.trapezoid(1 - a.normalized, a.wave, axis=1)
    ew_b = np.trapezoid(1 - b.normalized, b.wave, axis=1)
    assert ew_a[1] > 1.4 * ew_a[0]                        # [Mg/Fe] = +0.8 strengthens Mg b in SPECTRUM
    np.testing.assert_allclose(ew_a, ew_b, rtol=0.1)      # two independent codes agree within 10 %
    core = np.argmin(np.abs(a.wave - 5183.60))
    assert abs(a.normalized[0, core] - b.normalized[0, core]) < 0.05
