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
