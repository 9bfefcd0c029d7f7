"""The built-in engine's physics data file: size, precision, provenance, and error handling."""
import h5py
import numpy as np
import pytest

from glocal.synthesis.builtin.tables import DEFAULT_PATH, load_tables


def test_physics_table_file_is_compact_and_documented():
    assert DEFAULT_PATH.is_file()
    assert DEFAULT_PATH.stat().st_size <= 1.5e6
    with h5py.File(DEFAULT_PATH) as h5:
        assert "Barklem" in h5.attrs["citations"] and "McLaughlin" in h5.attrs["citations"]
        for name in ("atoms/log10_U", "molecules/log10_Kp", "continuum/hminus_bf",
                     "continuum/gaunt_ff_vanhoof"):
            assert h5[name].dtype == np.float32
            assert "source" in h5[name].attrs or "source" in h5[name.split("/")[0]].attrs or \
                   "K_definition" in h5[name.split("/")[0]].attrs


def test_tables_match_their_sources(shared_data):
    """Spot checks against the mirrored originals: partition function of Fe I at 5012 K (Korg/NIST),
    H- cross-section at 1.5 eV (McLaughlin et al. 2017), ionisation energy of Mg (Barklem & Collet)."""
    tab = load_tables()
    with h5py.File(shared_data / "tables/partition_funcs.h5") as pf:
        assert 10 ** tab["atom_log10_U"][25, 0, 148] == pytest.approx(pf["Fe I"][148], rel=1e-6)
    d = np.loadtxt(shared_data / "tables/McLaughlin2017Hminusbf.dat", comments="#")
    ref = np.interp(1.5, d[:, 0], d[:, 1]) * 1e-18
    E, s = tab["hminus_bf"]
    assert np.interp(1.5, E, s) == pytest.approx(ref, rel=5e-3)
    assert tab["chi_eV"][11, 0] == pytest.approx(7.6462, abs=1e-4)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_tables(str(tmp_path / "nope.h5"))
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as h5:
        h5.create_group("atoms")
    with pytest.raises(ValueError):
        load_tables(str(bad))
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(ValueError):
        load_tables(str(junk))


def _pysme_share():
    pytest.importorskip("pysme")
    import importlib.util
    from pathlib import Path
    path = Path(list(importlib.util.find_spec("pysme").submodule_search_locations)[0]) / "share" / "libsme"
    if not path.is_dir():
        pytest.skip(f"pysme data directory not found at {path}")
    return path


def test_fe1_rmatrix_table_matches_source_and_nist_terms():
    """The stored Fe I g*sigma table equals SMElib's Zatsarinny et al. (2019) file (independent parse
    of its documented layout) and its term energies are the NIST ones: a5F at the (2J+1)-weighted
    mean 7459.75 cm^-1 of its levels, measured from the a5D mean 402.96 cm^-1 (NIST ASD)."""
    buf = (_pysme_share() / "Fe1_Zatsarinny2019.dat.INTEL").read_bytes()
    o = 4 + int(np.frombuffer(buf[:4], "<i4")[0]) + 4
    ne = int(np.frombuffer(buf[o:o + 4], "<i4")[0])
    E = np.frombuffer(buf[o + 4:o + 4 + 8 * ne], "<f8")
    o += 4 + 8 * ne + 4 + 16
    gs = np.frombuffer(buf[o:], "<f8").reshape(-1, ne).T  # [n_term, n_wn], term index fastest
    E_tab, wn, g_tab = load_tables()["fe1_rmatrix"]
    np.testing.assert_allclose(E_tab, E)
    j = ((wn - 10000.0) / 100.0).round().astype(int)
    np.testing.assert_allclose(g_tab, gs[:, j], rtol=1e-6, atol=1e-40)
    assert E_tab[0] == 0.0
    assert E_tab[1] * 8065.544 == pytest.approx(7459.75 - 402.96, abs=1.0)


def test_nh_table_matches_source():
    buf = (_pysme_share() / "NH_Stancil2018.dat.INTEL").read_bytes()
    o = 4 + int(np.frombuffer(buf[:4], "<i4")[0]) + 4
    ntr, nt, nw = (int(x) for x in np.frombuffer(buf[o:o + 12], "<i4"))
    o += 12 + 16 + 4 * nt
    d = np.frombuffer(buf[o:], "<f8").reshape(nw, nt, ntr)
    sig = d[:, :, 0] + d[:, :, 1] + 10.0 ** d[:, :, 2]  # wavelengths 500 + i A
    T, w, ls = load_tables()["nh_stancil"]
    k = int(np.argmin(np.abs(w - 3000.5)))  # mean of the 3000 and 3001 A points
    np.testing.assert_allclose(10 ** ls[:, k], sig[2500:2502].mean(axis=0), rtol=1e-5)
