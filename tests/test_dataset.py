"""Tests of the HDF5 dataset store: round trip, crash/resume, validation, splits."""
import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from glocal import dataset as ds

N_PIX = 64
WAVE = 2550.0 * (1 + 1 / 200) ** np.arange(N_PIX)
PROV = {"engine": "unit-test", "engine_version": "1.0", "parameters": {"R": 200, "grid": "ci"}}
ROOT = Path(__file__).resolve().parents[1]


def batch(model_ids, n_var=4, seed=0, extra=False):
    """Rows for whole models: n_var spectra per model id."""
    rng = np.random.default_rng(seed)
    mid = np.repeat(np.asarray(model_ids, dtype=np.int64), n_var)
    n = mid.size
    labels = {
        "teff": 4000.0 + 10 * mid, "logg": np.full(n, 2.5), "feh": np.full(n, -2.0),
        "vturb": np.full(n, 1.6), "ofe": np.tile(np.linspace(-0.2, 1.2, n_var), len(model_ids)),
        "mgfe": np.zeros(n), "model_id": mid,
    }
    if extra:
        labels["cfe"] = rng.normal(size=n)
    flux = 1.0 - 0.5 * rng.random((n, N_PIX))
    return flux, labels


# ------------------------------------------------------------------ round trip
def test_write_load_round_trip(tmp_path):
    flux, labels = batch(range(10), extra=True)
    path = ds.write_dataset(tmp_path / "d.h5", WAVE, flux, labels, PROV)
    d = ds.load_dataset(path)
    assert d.n == len(d) == 40
    np.testing.assert_array_equal(d.wave, WAVE)
    np.testing.assert_array_equal(d.flux, flux.astype(np.float32))
    assert d.flux.dtype == np.float32
    for k, v in labels.items():
        np.testing.assert_array_equal(d.labels[k], v)
    assert d.labels["model_id"].dtype == np.int64 and d.labels["cfe"].dtype == np.float64
    np.testing.assert_array_equal(d.done, np.arange(10))
    p = d.provenance
    assert p["engine"] == "unit-test" and p["engine_version"] == "1.0"
    assert p["parameters"] == {"R": 200, "grid": "ci"}
    assert isinstance(p["git_commit"], str) and p["git_commit"]
    created = dt.datetime.fromisoformat(p["created_utc"])
    assert created.utcoffset() == dt.timedelta(0)
    with h5py.File(path) as h5:
        assert h5["wave"].attrs["medium"] == "air" and h5["wave"].attrs["unit"] == "Angstrom"
        assert h5["wave"].dtype == np.float64
        f = h5["flux"]
        assert f.maxshape == (None, N_PIX) and f.chunks[1] == N_PIX and f.compression == "gzip"
    assert not (tmp_path / "d.h5.parts").exists() and not (tmp_path / "d.h5.tmp").exists()
    with pytest.raises(FileExistsError):
        ds.write_dataset(path, WAVE, flux, labels, PROV)
    ds.write_dataset(path, WAVE, flux[:4], {k: v[:4] for k, v in labels.items()}, PROV, overwrite=True)
    assert ds.load_dataset(path).n == 4


def test_dataset_methods(tmp_path):
    flux, labels = batch(range(5))
    d = ds.load_dataset(ds.write_dataset(tmp_path / "d.h5", WAVE, flux, labels, PROV))
    m = d.label_matrix(["teff", "ofe"])
    assert m.shape == (20, 2) and m.dtype == np.float64
    np.testing.assert_array_equal(m[:, 0], labels["teff"])
    s = d.subset(np.array([3, 0, 7]))
    np.testing.assert_array_equal(s.flux, d.flux[[3, 0, 7]])
    np.testing.assert_array_equal(s.labels["model_id"], labels["model_id"][[3, 0, 7]])
    sb = d.subset(labels["model_id"] == 2)
    assert sb.n == 4 and np.all(sb.labels["model_id"] == 2)
    with pytest.raises(ValueError, match="unknown label"):
        d.label_matrix(["teff", "nope"])
    with pytest.raises(ValueError, match="out of range"):
        d.subset([25])
    with pytest.raises(ValueError, match="mask"):
        d.subset(np.ones(3, dtype=bool))


# ------------------------------------------------------------------ writer, resume
def test_writer_batches_and_resume(tmp_path):
    path = tmp_path / "d.h5"
    with ds.DatasetWriter(path, WAVE, PROV) as w:
        w.append(*batch([0, 1], seed=1))
        w.append(*batch([2], seed=2))
        np.testing.assert_array_equal(w.done_models(), [0, 1, 2])
    w = ds.DatasetWriter(path, WAVE, PROV)
    np.testing.assert_array_equal(w.done_models(), [0, 1, 2])
    with pytest.raises(ValueError, match="already complete"):
        w.append(*batch([2, 3]))
    w.append(*batch([3, 4], seed=3))
    w.close()
    d = ds.load_dataset(path)
    assert d.n == 5 * 4
    np.testing.assert_array_equal(np.unique(d.labels["model_id"]), np.arange(5))
    np.testing.assert_array_equal(np.bincount(d.labels["model_id"]), [4] * 5)
    np.testing.assert_array_equal(d.flux[-8:], batch([3, 4], seed=3)[0].astype(np.float32))


def test_exception_mid_append_leaves_consistent_file(tmp_path, monkeypatch):
    """An exception while a batch is being written: committed batches survive, no holes/dupes."""
    path = tmp_path / "d.h5"
    calls = {"n": 0}
    real = ds._write_provenance

    def failing(h5, prov):
        calls["n"] += 1
        if calls["n"] == 3:  # third shard: flux and labels already written into the .tmp shard
            raise RuntimeError("simulated crash")
        return real(h5, prov)

    monkeypatch.setattr(ds, "_write_provenance", failing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        with ds.DatasetWriter(path, WAVE, PROV) as w:
            w.append(*batch([0, 1], seed=1))
            w.append(*batch([2, 3], seed=2))
            w.append(*batch([4, 5], seed=3))
    monkeypatch.setattr(ds, "_write_provenance", real)
    d = ds.load_dataset(path)
    assert d.n == 16
    np.testing.assert_array_equal(np.bincount(d.labels["model_id"]), [4] * 4)
    np.testing.assert_array_equal(d.done, [0, 1, 2, 3])
    assert not list(tmp_path.glob("**/*.tmp"))
    with ds.DatasetWriter(path, WAVE, PROV) as w:  # resume: recompute only what is missing
        todo = [m for m in range(6) if m not in set(w.done_models())]
        assert todo == [4, 5]
        w.append(*batch(todo, seed=3))
    d = ds.load_dataset(path)
    np.testing.assert_array_equal(np.bincount(d.labels["model_id"]), [4] * 6)


def test_hard_kill_then_resume(tmp_path):
    """A process killed (os._exit) in the middle of its third append; the next writer resumes."""
    path = tmp_path / "d.h5"
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(Path(__file__).parent)!r})
        import numpy as np
        from glocal import dataset as ds
        from test_dataset import batch, WAVE, PROV
        w = ds.DatasetWriter({str(path)!r}, WAVE, PROV)
        w.append(*batch([0, 1], seed=1))
        w.append(*batch([2], seed=2))
        real = ds._write_provenance
        def die(h5, prov):
            h5.flush()
            os._exit(3)
        ds._write_provenance = die
        w.append(*batch([3], seed=3))
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert res.returncode == 3, res.stderr
    assert not path.exists()  # never finalised
    assert list((tmp_path / "d.h5.parts").glob("*.tmp"))  # the half-written shard is there
    with pytest.warns(UserWarning, match="not yet merged"), pytest.raises(FileNotFoundError):
        ds.load_dataset(path)
    with ds.DatasetWriter(path, WAVE, PROV) as w:
        np.testing.assert_array_equal(w.done_models(), [0, 1, 2])
        w.append(*batch([3], seed=3))
    d = ds.load_dataset(path)
    np.testing.assert_array_equal(np.bincount(d.labels["model_id"]), [4] * 4)
    assert not (tmp_path / "d.h5.parts").exists()


def test_unfinished_model_rows_are_dropped_on_resume(tmp_path):
    path = tmp_path / "d.h5"
    f, lab = batch([7], n_var=4, seed=5)
    with ds.DatasetWriter(path, WAVE, PROV) as w:
        w.append(*batch([1]))
        w.append(f[:2], {k: v[:2] for k, v in lab.items()}, done=[])  # half of model 7
        assert 7 not in w.done_models()
    with ds.DatasetWriter(path, WAVE, PROV) as w:
        w.append(f, lab)  # model 7 recomputed in full
    d = ds.load_dataset(path)
    np.testing.assert_array_equal(np.bincount(d.labels["model_id"])[[1, 7]], [4, 4])
    with ds.DatasetWriter(path, WAVE, PROV) as w, pytest.raises(ValueError, match="no stored rows"):
        w.append(*batch([9]), done=[9, 11])


def test_writer_refuses_mismatches(tmp_path):
    path = tmp_path / "d.h5"
    ds.write_dataset(path, WAVE, *batch([0]), PROV)
    with pytest.raises(ValueError, match="wave grid"):
        ds.DatasetWriter(path, WAVE * 1.0000001, PROV)
    with pytest.raises(ValueError, match="label columns"):
        ds.DatasetWriter(path, WAVE, PROV, label_names=["cfe"])
    with pytest.raises(ValueError, match="engine"):
        ds.DatasetWriter(path, WAVE, {"engine": "other"})
    with pytest.raises(ValueError, match="engine"):
        ds.DatasetWriter(tmp_path / "e.h5", WAVE, {"version": 1})
    w = ds.DatasetWriter(tmp_path / "e.h5", WAVE, PROV)
    flux, labels = batch([0])
    bad = flux.copy()
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        w.append(bad, labels)
    with pytest.raises(ValueError, match="missing"):
        w.append(flux, {k: v for k, v in labels.items() if k != "vturb"})
    with pytest.raises(ValueError, match="unknown label"):
        w.append(flux, {**labels, "xfe": np.zeros(4)})
    with pytest.raises(ValueError, match="shape"):
        w.append(flux[:, :-1], labels)
    with pytest.raises(ValueError, match="label 'teff'"):
        w.append(flux, {**labels, "teff": np.ones(3)})
    with pytest.raises(ValueError, match="strictly increasing"):
        ds.DatasetWriter(tmp_path / "f.h5", WAVE[::-1], PROV)


# ------------------------------------------------------------------ load validation
def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        ds.load_dataset(tmp_path / "missing.h5")
    txt = tmp_path / "text.h5"
    txt.write_text("this is not HDF5\n" * 100)
    with pytest.raises(ValueError, match="not a readable HDF5"):
        ds.load_dataset(txt)
    good = ds.write_dataset(tmp_path / "good.h5", WAVE, *batch(range(50)), PROV)
    data = good.read_bytes()
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError):
        ds.load_dataset(trunc)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5["x"] = np.arange(3)
    with pytest.raises(ValueError, match="not a glocal dataset"):
        ds.load_dataset(other)


@pytest.mark.parametrize("corruption, match", [
    ("nan_flux", "non-finite"), ("wave_order", "wave"), ("missing_label", "missing required"),
    ("short_label", "shape"),
])
def test_load_validates_content(tmp_path, corruption, match):
    path = ds.write_dataset(tmp_path / "d.h5", WAVE, *batch([0, 1]), PROV)
    with h5py.File(path, "a") as h5:
        if corruption == "nan_flux":
            h5["flux"][2, 5] = np.nan
        elif corruption == "wave_order":
            w = h5["wave"][()]
            w[[3, 4]] = w[[4, 3]]
            h5["wave"][...] = w
        elif corruption == "missing_label":
            del h5["labels/feh"]
        else:
            h5["labels/logg"].resize((3,))
    with pytest.raises(ValueError, match=match):
        ds.load_dataset(path)


# ------------------------------------------------------------------ splits
def test_random_split():
    labels = {"model_id": np.repeat(np.arange(100), 10), "teff": np.zeros(1000)}
    s = ds.split_indices(labels, "random", seed=3)
    assert [s[k].size for k in ("train", "val", "test")] == [800, 100, 100]
    allidx = np.concatenate(list(s.values()))
    np.testing.assert_array_equal(np.sort(allidx), np.arange(1000))  # disjoint and complete
    s2 = ds.split_indices(labels, "random", seed=3)
    assert all(np.array_equal(s[k], s2[k]) for k in s)
    assert not np.array_equal(s["test"], ds.split_indices(labels, "random", seed=4)["test"])
    assert [v.size for v in ds.split_indices(1001, fractions=(0.5, 0.25, 0.25)).values()] == [500, 251, 250]


def test_grouped_split(tmp_path):
    rng = np.random.default_rng(0)
    mid = np.repeat(np.arange(300), rng.integers(8, 17, 300))
    s = ds.split_indices({"model_id": mid}, "grouped", seed=1)
    allidx = np.concatenate(list(s.values()))
    np.testing.assert_array_equal(np.sort(allidx), np.arange(mid.size))
    groups = [set(mid[s[k]].tolist()) for k in ("train", "val", "test")]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    for k, frac in zip(("train", "val", "test"), (0.8, 0.1, 0.1)):
        assert abs(s[k].size / mid.size - frac) < 0.02
    s2 = ds.split_indices({"model_id": mid}, "grouped", seed=1)
    assert all(np.array_equal(s[k], s2[k]) for k in s)
    d = ds.load_dataset(ds.write_dataset(tmp_path / "d.h5", WAVE, *batch(range(40)), PROV))
    g = ds.split_indices(d, "grouped")
    assert sum(v.size for v in g.values()) == d.n
    with pytest.raises(ValueError, match="model_id"):
        ds.split_indices({"teff": np.zeros(10)}, "grouped")
    with pytest.raises(ValueError, match="fractions"):
        ds.split_indices(10, fractions=(0.8, 0.1, 0.2))
    with pytest.raises(ValueError, match="kind"):
        ds.split_indices(10, kind="stratified")
    with pytest.raises(TypeError):
        ds.split_indices("abc")


def test_merge_with_small_chunks_preserves_order(tmp_path, monkeypatch):
    """Tiny chunks force many buffered, chunk-aligned flushes (with remainders) while merging."""
    monkeypatch.setattr(ds, "_rows_per_chunk", lambda n_pix: 3)
    path = tmp_path / "d.h5"
    expected = []
    with ds.DatasetWriter(path, WAVE, PROV) as w:
        for k, models in enumerate([[0], [1, 2, 3], [4, 5], [6, 7, 8, 9, 10]]):
            f, lab = batch(models, n_var=5, seed=k)
            w.append(f, lab)
            expected.append(f.astype(np.float32))
    with ds.DatasetWriter(path, WAVE, PROV) as w:  # re-merge the file with one more batch
        f, lab = batch([11, 12], n_var=5, seed=9)
        w.append(f, lab)
        expected.append(f.astype(np.float32))
    d = ds.load_dataset(path)
    np.testing.assert_array_equal(d.flux, np.concatenate(expected))
    np.testing.assert_array_equal(d.labels["model_id"], np.repeat(np.arange(13), 5))
    with h5py.File(path) as h5:
        assert h5["flux"].chunks == (3, N_PIX)


def test_minimal_labels_with_required_labels_override(tmp_path):
    """Degraded observed spectra may carry no stellar labels (e.g. the CLI's degrade command)."""
    flux = np.ones((3, N_PIX))
    path = ds.write_dataset(tmp_path / "obs.h5", WAVE, flux, {}, {"engine": "input"}, required_labels=())
    d = ds.load_dataset(path, required_labels=())
    np.testing.assert_array_equal(d.labels["model_id"], [0, 1, 2])
    assert set(d.labels) == {"model_id"}
    with pytest.raises(ValueError, match="missing required"):
        ds.load_dataset(path)


# ------------------------------------------------------------------ optional /continuum
def test_continuum_round_trip_resume_and_mixing(tmp_path, monkeypatch):
    monkeypatch.setattr(ds, "_rows_per_chunk", lambda n_pix: 3)
    path = tmp_path / "c.h5"
    conts = []
    with ds.DatasetWriter(path, WAVE, PROV, continuum=True) as w:
        for k, models in enumerate([[0], [1, 2]]):
            f, lab = batch(models, n_var=5, seed=k)
            c = 1e6 * (1.0 + np.arange(f.shape[0]))[:, None] * np.ones(N_PIX)
            w.append(f, lab, continuum=c)
            conts.append(c.astype(np.float32))
        with pytest.raises(ValueError, match="continuum"):
            w.append(*batch([5]))                    # a writer with continuum needs it
        with pytest.raises(ValueError, match="finite and > 0"):
            w.append(*batch([6]), continuum=np.zeros((4, N_PIX)))
    with ds.DatasetWriter(path, WAVE, PROV, continuum=None) as w:   # None: as the file (resume)
        assert w.continuum is True
        f, lab = batch([3], n_var=5, seed=7)
        w.append(f, lab, continuum=np.full(f.shape, 2.0))
        conts.append(np.full(f.shape, 2.0, np.float32))
    d = ds.load_dataset(path)
    np.testing.assert_array_equal(d.continuum, np.concatenate(conts))
    np.testing.assert_allclose(d.physical_flux(), d.flux.astype(float) * d.continuum)
    sub = d.subset(d.labels["model_id"] == 1)
    np.testing.assert_array_equal(sub.continuum, d.continuum[d.labels["model_id"] == 1])
    with h5py.File(path) as h5:
        assert h5["continuum"].chunks == h5["flux"].chunks
    with pytest.raises(ValueError, match="refusing to mix"):
        ds.DatasetWriter(path, WAVE, PROV, continuum=False)
    # files without it still load (continuum None) and are resumed without it
    old = ds.write_dataset(tmp_path / "old.h5", WAVE, *batch([0, 1]), PROV)
    o = ds.load_dataset(old)
    assert o.continuum is None and o.subset([0]).continuum is None
    with pytest.raises(ValueError, match="no /continuum"):
        o.physical_flux()
    with ds.DatasetWriter(old, WAVE, PROV, continuum=None) as w:
        assert w.continuum is False
        with pytest.raises(ValueError, match="no /continuum"):
            w.append(*batch([2]), continuum=np.ones((4, N_PIX)))
    with pytest.raises(ValueError):
        ds.DatasetWriter(tmp_path / "x.h5", WAVE, PROV, continuum="yes")


def test_continuum_is_validated_on_load(tmp_path):
    path = tmp_path / "c.h5"
    f, lab = batch([0])
    with ds.DatasetWriter(path, WAVE, PROV, continuum=True) as w:
        w.append(f, lab, continuum=np.ones_like(f))
    with h5py.File(path, "a") as h5:
        h5["continuum"][0, 3] = -1.0
    with pytest.raises(ValueError, match="/continuum"):
        ds.load_dataset(path)


def test_match_provenance_refuses_another_design(tmp_path):
    path = tmp_path / "d.h5"
    prov = {**PROV, "design": {"nodes": "realstars", "seed": 0}}
    with ds.DatasetWriter(path, WAVE, prov, match_provenance=("design",)) as w:
        w.append(*batch([0]))
    with ds.DatasetWriter(path, WAVE, prov, match_provenance=("design",)) as w:   # same design resumes
        w.append(*batch([1]))
    with pytest.raises(ValueError, match="design"):
        ds.DatasetWriter(path, WAVE, {**PROV, "design": {"nodes": "realstars", "seed": 1}},
                         match_provenance=("design",))
    ds.DatasetWriter(path, WAVE, {**PROV, "design": {"seed": 1}}).close()   # not checked unless asked


def test_rows_and_split_independent_of_storage_order(tmp_path):
    """The same models stored in another order (Dask workers finish in any order) load identically, so the
    random split of one seed selects the same spectra."""
    from glocal.splits import split_indices
    loaded = []
    for name, order in (("a.h5", [0, 1, 2, 3, 4]), ("b.h5", [3, 0, 4, 2, 1])):
        with ds.DatasetWriter(tmp_path / name, WAVE, PROV) as w:
            for mid in order:
                w.append(*batch([mid], seed=10 + mid))
        loaded.append(ds.load_dataset(tmp_path / name))
    a, b = loaded
    np.testing.assert_array_equal(a.flux, b.flux)
    for k in a.labels:
        np.testing.assert_array_equal(a.labels[k], b.labels[k])
    sa, sb = split_indices(a, seed=3), split_indices(b, seed=3)
    np.testing.assert_array_equal(a.flux[sa["test"]], b.flux[sb["test"]])
    # within a model the stored variant order is kept
    np.testing.assert_array_equal(b.labels["ofe"][:4], np.linspace(-0.2, 1.2, 4))
