"""HDF5 store for (degraded or high-resolution) synthetic spectra and their labels.

File layout (one HDF5 file per dataset)::

    /wave              float64 (n_pix,), Å; attrs medium='air', unit='Angstrom'
    /flux              float32 (n, n_pix), row-chunked, gzip+shuffle, resizable along rows
    /continuum         optional, float32 (n, n_pix), > 0, chunked as /flux: the factor C with
                       flux · C = the physical flux (``glocal.build`` writes it; absent in older files)
    /labels/<name>     (n,) columns: teff, logg, feh, vturb, ofe, mgfe (float64), model_id (int64),
                       plus any extra columns (names ending in "_id" are int64, others float64)
    /done/model_ids    int64, sorted unique ids of the models whose spectra are all stored
    /provenance        group; attrs engine, engine_version, git_commit, parameters (JSON),
                       created_utc / updated_utc (ISO 8601, UTC), plus any extra provenance keys
    root attrs         format='glocal-dataset', format_version=1, label_names (JSON list)

Crash safety (our choice): the final file is only ever replaced atomically.  Every
:meth:`DatasetWriter.append` writes one self-contained *shard* ``<path>.parts/batch-*.h5`` (written
to ``*.tmp``, fsynced, then ``os.replace``-d, so a shard either exists completely or not at all).
Closing the writer merges the existing file and all shards into ``<path>.tmp`` and ``os.replace``-s
it onto ``<path>``, then deletes the shards.  A crash (exception or hard kill) at any point leaves
either the previous complete file, or committed shards that the next ``DatasetWriter(path, …)``
picks up (resume); a half-written ``*.tmp`` is discarded.  Exceptions inside a ``with`` block still
merge the batches that were committed before the exception.

Completion/resume contract: a batch marks its model ids as done (``done=`` overrides).  Appending
rows for an already-done model id raises, so resumed runs cannot create duplicates; rows of models
that were never marked done before an interruption are dropped on resume (recompute them).
One writer per path at a time.  Each append writes one small file and closing merges every shard,
so append several models per call for the full grid (measured costs: results/benchmarks/notes_core.md).

The module is split by concept: this module writes (:class:`DatasetWriter`, :func:`write_dataset`),
:mod:`glocal.dataset_reader` reads (:class:`Dataset`, :func:`load_dataset`) and :mod:`glocal.splits`
splits (:func:`split_indices`); all of them are importable from ``glocal.dataset``.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

from ._checks import check_wave_grid
from ._io import json_default
from .dataset_reader import (
    FORMAT_NAME,
    FORMAT_VERSION,
    REQUIRED_LABELS,
    Dataset,
    _Header,
    _label_dtype,
    _open_h5,
    _read_header,
    load_dataset,
)
from .splits import split_indices

__all__ = [
    "REQUIRED_LABELS",
    "Dataset",
    "DatasetWriter",
    "load_dataset",
    "write_dataset",
    "split_indices",
]


# ----------------------------------------------------------------------------- helpers
def _utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _git_commit() -> str:
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
            capture_output=True, text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    out = res.stdout.strip()
    return out if res.returncode == 0 and len(out) == 40 else "unknown"



def _check_label_names(label_names, required=REQUIRED_LABELS) -> tuple[str, ...]:
    names = ["model_id"] if "model_id" not in required else []
    names += [str(k) for k in required]
    for name in list(required) + list(label_names or ()):
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"invalid label name {name!r}")
        if name not in names:
            names.append(name)
    return tuple(names)


def _check_batch(flux, labels, n_pix: int, label_names) -> tuple[np.ndarray, dict]:
    try:
        f = np.asarray(flux)
    except (TypeError, ValueError):
        raise TypeError("flux must be a numeric array") from None
    if f.dtype.kind not in "fiu":
        raise TypeError(f"flux must be real numeric, got dtype {f.dtype}")
    if f.ndim == 1:
        f = f[None, :]
    if f.ndim != 2 or f.shape[1] != n_pix:
        raise ValueError(f"flux must have shape (n, {n_pix}), got {np.shape(flux)}")
    f32 = f.astype(np.float32)
    if not np.isfinite(f32).all():
        raise ValueError("flux contains non-finite values (or values overflowing float32)")
    if not isinstance(labels, Mapping):
        raise TypeError("labels must be a mapping {name: array}")
    missing = [k for k in label_names if k not in labels]
    unknown = [k for k in labels if k not in label_names]
    if missing:
        raise ValueError(f"labels missing required column(s) {missing}")
    if unknown:
        raise ValueError(f"unknown label column(s) {unknown}; declared label_names are {list(label_names)}")
    out = {}
    for name in label_names:
        col = np.asarray(labels[name])
        if col.ndim == 0:
            col = np.full(f.shape[0], col)
        if col.shape != (f.shape[0],):
            raise ValueError(f"label {name!r} has shape {col.shape}, expected ({f.shape[0]},)")
        if col.dtype.kind not in "fiub":
            raise TypeError(f"label {name!r} must be numeric, got dtype {col.dtype}")
        dt = _label_dtype(name)
        if dt is np.int64:
            if col.dtype.kind == "f":
                if not np.all(np.isfinite(col)) or np.any(col != np.round(col)):
                    raise ValueError(f"label {name!r} must hold integers")
            col = col.astype(np.int64)
        else:
            col = col.astype(np.float64)
            if not np.all(np.isfinite(col)):
                raise ValueError(f"label {name!r} contains non-finite values")
        out[name] = col
    return f32, out


def _rows_per_chunk(n_pix: int) -> int:
    return int(max(1, min(1024, (1 << 20) // (4 * n_pix))))


def _check_continuum(continuum, shape: tuple) -> np.ndarray:
    """The batch's continuum as float32 of ``shape``, finite and > 0 (ValueError otherwise)."""
    try:
        c = np.asarray(continuum, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("continuum must be a numeric array") from None
    c = c[None, :] if c.ndim == 1 else c
    if c.shape != shape:
        raise ValueError(f"continuum must have the shape of flux {shape}, got {np.shape(continuum)}")
    c32 = c.astype(np.float32)
    if not (np.isfinite(c32).all() and (c32 > 0).all()):
        raise ValueError("continuum must be finite and > 0 (and within float32)")
    return c32


def _create_layout(h5: h5py.File, wave: np.ndarray, label_names, n_rows: int, medium: str,
                   compression: str | None, continuum: bool = False) -> None:
    h5.attrs["format"] = FORMAT_NAME
    h5.attrs["format_version"] = FORMAT_VERSION
    h5.attrs["label_names"] = json.dumps(list(label_names))
    dw = h5.create_dataset("wave", data=wave)
    dw.attrs["medium"] = medium
    dw.attrs["unit"] = "Angstrom"
    comp = {} if compression is None else {"compression": compression, "shuffle": True}
    for name in ("flux", "continuum") if continuum else ("flux",):
        h5.create_dataset(name, shape=(n_rows, wave.size), maxshape=(None, wave.size), dtype=np.float32,
                          chunks=(_rows_per_chunk(wave.size), wave.size), **comp)
    g = h5.create_group("labels")
    for name in label_names:
        g.create_dataset(name, shape=(n_rows,), maxshape=(None,), dtype=_label_dtype(name),
                         chunks=(max(1024, _rows_per_chunk(wave.size)),))
    h5.create_group("done").create_dataset("model_ids", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(1024,))
    h5.create_group("provenance")


def _write_provenance(h5: h5py.File, prov: dict) -> None:
    g = h5.require_group("provenance")
    for k in list(g.attrs):
        del g.attrs[k]
    for key, value in prov.items():
        if isinstance(value, (str, int, float, bool, np.integer, np.floating)) and key != "parameters":
            g.attrs[key] = value
        else:
            g.attrs[key] = json.dumps(value, default=json_default, sort_keys=True)


# ----------------------------------------------------------------------------- writer
class DatasetWriter:
    """Crash-safe, resumable writer (context manager) for one dataset file; see module docstring.

    ``provenance`` must contain ``engine``; ``engine_version``, ``parameters`` (JSON-able dict) and
    any other keys are optional; ``git_commit`` and the UTC timestamps are filled in.
    ``label_names``: label columns; ``required_labels`` (default :data:`REQUIRED_LABELS`) are always
    included, and ``model_id`` always is (it drives completion/resume).
    Re-opening an existing path resumes it; a different wave grid, label set or engine raises, and
    so does a different value of any provenance key in ``match_provenance`` (compared as JSON; files
    without the key are not checked).  ``continuum``: True = every append carries a ``continuum``
    array stored as ``/continuum``; False = none; None = as the existing file and shards, True for a
    new file (mixing files with and without it raises).
    ``overwrite=True`` deletes an existing file and pending shards first.
    """

    def __init__(self, path, wave, provenance: Mapping, label_names=None, *, medium: str = "air",
                 compression: str | None = "gzip", overwrite: bool = False,
                 required_labels=REQUIRED_LABELS, continuum: bool | None = False, match_provenance=()):
        self.path = Path(path)
        self.parts = self.path.with_name(self.path.name + ".parts")
        self.wave = check_wave_grid(wave, "wave")
        self.label_names = _check_label_names(label_names, tuple(required_labels))
        if not isinstance(provenance, Mapping) or not isinstance(provenance.get("engine"), str):
            raise ValueError("provenance must be a mapping with a string 'engine' entry")
        if compression not in (None, "gzip", "lzf"):
            raise ValueError(f"compression must be None, 'gzip' or 'lzf', got {compression!r}")
        if medium not in ("air", "vacuum"):
            raise ValueError(f"medium must be 'air' or 'vacuum', got {medium!r}")
        if continuum not in (True, False, None):
            raise ValueError(f"continuum must be True, False or None, got {continuum!r}")
        self.medium = medium
        self.compression = compression
        self.continuum = continuum
        self.match_provenance = tuple(match_provenance)
        prov = dict(provenance)
        prov.setdefault("engine_version", "unknown")
        prov.setdefault("parameters", {})
        prov.setdefault("git_commit", _git_commit())
        json.dumps(prov, default=json_default)  # fail early on non-serialisable provenance
        self.provenance = prov
        if overwrite:
            if self.path.exists():
                self.path.unlink()
            shutil.rmtree(self.parts, ignore_errors=True)
        self._closed = False
        self._old_sources: list[Path] = []
        self._new_shards: list[Path] = []
        self._done: set[int] = set()
        created = None
        if self.path.exists():
            hdr = _read_header(self.path)
            self._check_compatible(hdr, self.path)
            self._old_sources.append(self.path)
            self._done.update(int(i) for i in hdr.done)
            created = hdr.provenance.get("created_utc")
        if self.parts.exists():
            for tmp in self.parts.glob("*.tmp"):
                tmp.unlink()  # half-written shard of an interrupted append
            for shard in sorted(self.parts.glob("batch-*.h5")):
                hdr = _read_header(shard)
                self._check_compatible(hdr, shard)
                self._old_sources.append(shard)
                self._done.update(int(i) for i in hdr.done)
                created = created or hdr.provenance.get("created_utc")
        if self.continuum is None:
            self.continuum = True
        self.provenance["created_utc"] = created or _utc_now()
        self._done_at_open = frozenset(self._done)
        self._open_ids: set[int] = set()  # ids with rows in this session but not yet done

    def _check_compatible(self, hdr: _Header, where: Path) -> None:
        if hdr.wave.shape != self.wave.shape or not np.array_equal(hdr.wave, self.wave):
            raise ValueError(f"wave grid of {where} ({hdr.wave.size} px) differs from the writer's "
                             f"({self.wave.size} px); refusing to mix grids")
        if tuple(hdr.label_names) != self.label_names:
            raise ValueError(f"label columns of {where} {list(hdr.label_names)} differ from {list(self.label_names)}")
        engine = hdr.provenance.get("engine")
        if engine is not None and engine != self.provenance["engine"]:
            raise ValueError(f"{where} was written by engine {engine!r}, not {self.provenance['engine']!r}")
        if self.continuum is None:
            self.continuum = hdr.has_continuum
        if hdr.has_continuum != self.continuum:
            raise ValueError(f"{where} {'has' if hdr.has_continuum else 'lacks'} /continuum but this writer "
                             f"{'stores' if self.continuum else 'does not store'} one; refusing to mix")
        for key in self.match_provenance:
            if key in hdr.provenance and key in self.provenance:
                old = hdr.provenance[key]
                old = json.loads(old) if isinstance(old, str) else old
                new = json.loads(json.dumps(self.provenance[key], default=json_default))
                if json.dumps(old, sort_keys=True) != json.dumps(new, sort_keys=True):
                    raise ValueError(f"{where} was written with {key} {old!r}, not {new!r}; refusing to mix "
                                     "(use another path or overwrite)")

    # -- public API
    def done_models(self) -> np.ndarray:
        """Sorted int64 array of model ids whose spectra are completely stored (incl. pending shards)."""
        return np.array(sorted(self._done), dtype=np.int64)

    def append(self, flux, labels: Mapping, done=None, continuum=None) -> None:
        """Commit one batch: ``flux`` (n, n_pix) and ``labels`` {name: (n,)}; atomic.

        ``done``: model ids completed by this batch (default: all model ids in the batch).  Raises
        ValueError for rows of already-done models (no duplicates on resume).  ``continuum`` (n, n_pix),
        finite and > 0: required when the writer stores one, refused otherwise.
        """
        if self._closed:
            raise ValueError("writer is closed")
        f32, lab = _check_batch(flux, labels, self.wave.size, self.label_names)
        if (continuum is None) == bool(self.continuum):
            raise ValueError("this writer stores /continuum: pass continuum=" if self.continuum
                             else "this writer stores no /continuum (continuum=False); got one")
        c32 = None if continuum is None else _check_continuum(continuum, f32.shape)
        ids = lab["model_id"]
        dup = sorted(set(np.unique(ids).tolist()) & self._done)
        if dup:
            raise ValueError(f"model id(s) {dup[:10]} are already complete in {self.path}; refusing duplicates")
        batch_ids = set(np.unique(ids).tolist())
        done_ids = batch_ids if done is None else {int(i) for i in np.atleast_1d(np.asarray(done, dtype=np.int64))}
        orphan = done_ids - batch_ids - self._open_ids
        if orphan:
            raise ValueError(f"done model id(s) {sorted(orphan)[:10]} have no stored rows")
        self.parts.mkdir(parents=True, exist_ok=True)
        name = f"batch-{_dt.datetime.now(_dt.UTC).strftime('%Y%m%dT%H%M%S%f')}-{os.getpid()}-{uuid.uuid4().hex[:8]}.h5"
        final = self.parts / name
        tmp = final.with_name(final.name + ".tmp")
        try:
            with h5py.File(tmp, "w") as h5:
                _create_layout(h5, self.wave, self.label_names, f32.shape[0], self.medium, None, c32 is not None)
                h5["flux"][...] = f32
                if c32 is not None:
                    h5["continuum"][...] = c32
                for k, v in lab.items():
                    h5["labels"][k][...] = v
                d = h5["done/model_ids"]
                d.resize((len(done_ids),))
                d[...] = np.array(sorted(done_ids), dtype=np.int64)
                _write_provenance(h5, self.provenance)
            _fsync(tmp)
            os.replace(tmp, final)
        except BaseException:
            if tmp.exists():
                tmp.unlink()
            raise
        self._new_shards.append(final)
        self._done |= done_ids
        self._open_ids = (self._open_ids | batch_ids) - self._done

    def close(self) -> None:
        """Merge the existing file and all committed shards into ``path`` atomically."""
        if self._closed:
            return
        self._closed = True
        sources = self._old_sources + self._new_shards
        if sources == [self.path] and not self._new_shards:
            return  # nothing new
        self._merge(sources)

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    # -- merging
    def _copy_rows(self, out: h5py.File, sources: list[Path]) -> tuple[int, dict]:
        """Stream the kept rows of every source into ``out`` (flux and continuum chunk-aligned);
        returns the number of rows and the label columns (lists of arrays)."""
        old = set(self._old_sources)
        done_at_open = np.array(sorted(self._done_at_open), dtype=np.int64)
        block = _rows_per_chunk(self.wave.size) * 8  # a multiple of the chunk height
        arrays = ("flux", "continuum") if self.continuum else ("flux",)
        sinks = {name: _RowSink(out[name], block) for name in arrays}
        cols = {name: [] for name in self.label_names}
        for src in sources:
            with _open_h5(src) as h5:
                ids = h5["labels/model_id"][()]
                # rows of models never completed before this session are dropped
                mask = np.isin(ids, done_at_open) if src in old else np.ones(ids.size, bool)
                idx = np.flatnonzero(mask)
                if idx.size == 0:
                    continue
                for name in self.label_names:
                    cols[name].append(h5["labels"][name][()][idx])
                for s0 in range(0, idx.size, block):
                    sel = idx[s0:s0 + block]
                    for name, sink in sinks.items():
                        sink.add(h5[name][sel[0]:sel[-1] + 1][sel - sel[0]])
        counts = {sink.close() for sink in sinks.values()}
        if len(counts) != 1:
            raise RuntimeError("internal error: flux and continuum row counts differ while merging")
        return counts.pop(), cols

    def _merge(self, sources: list[Path]) -> None:
        """Stream all sources into ``<path>.tmp`` (chunk-aligned buffered writes), then os.replace."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        prov = dict(self.provenance)
        prov["updated_utc"] = _utc_now()
        try:
            with h5py.File(tmp, "w") as out:
                _create_layout(out, self.wave, self.label_names, 0, self.medium, self.compression,
                               bool(self.continuum))
                n_written, cols = self._copy_rows(out, sources)
                for name in self.label_names:
                    col = np.concatenate(cols[name]) if cols[name] else np.empty(0, _label_dtype(name))
                    if col.size != n_written:
                        raise RuntimeError("internal error: label and flux row counts differ while merging")
                    out["labels"][name].resize((n_written,))
                    out["labels"][name][...] = col
                d = out["done/model_ids"]
                done = self.done_models()
                d.resize((done.size,))
                d[...] = done
                _write_provenance(out, prov)
            _fsync(tmp)
            os.replace(tmp, self.path)
        except BaseException:
            if tmp.exists():
                tmp.unlink()
            raise
        for shard in sources:
            if shard != self.path and shard.exists():
                shard.unlink()
        try:
            self.parts.rmdir()
        except OSError:
            pass


class _RowSink:
    """Buffered appends of row blocks to one resizable (n, n_pix) HDF5 dataset, written in multiples of
    ``block`` rows (chunk-aligned) except the last write."""

    def __init__(self, dset, block: int):
        self.dset, self.block = dset, block
        self.buf: list[np.ndarray] = []
        self.n_buf = 0
        self.n = 0

    def add(self, rows: np.ndarray) -> None:
        self.buf.append(rows)
        self.n_buf += rows.shape[0]
        if self.n_buf >= self.block:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        if not self.buf:
            return
        arr = np.concatenate(self.buf)
        k = arr.shape[0] if final else (arr.shape[0] // self.block) * self.block
        if k:
            self.dset.resize((self.n + k, arr.shape[1]))
            self.dset[self.n:self.n + k] = arr[:k]
            self.n += k
        self.buf, self.n_buf = ([arr[k:]], arr.shape[0] - k) if k < arr.shape[0] else ([], 0)

    def close(self) -> int:
        """Write what is left; the number of rows written."""
        self._flush(final=True)
        return self.n


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_dataset(path, wave, flux, labels: Mapping, provenance: Mapping, *, overwrite: bool = False,
                  required_labels=REQUIRED_LABELS, **writer_kw) -> Path:
    """Write a complete dataset in one batch (raises FileExistsError unless ``overwrite``).

    Without a ``model_id`` column every row gets its own id (``arange(n)``).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    if not isinstance(labels, Mapping):
        raise TypeError("labels must be a mapping {name: array}")
    labels = dict(labels)
    if "model_id" not in labels:
        n = np.atleast_2d(np.asarray(flux)).shape[0]
        labels["model_id"] = np.arange(n, dtype=np.int64)
    extra = [k for k in labels if k not in required_labels]
    with DatasetWriter(path, wave, provenance, label_names=extra, overwrite=overwrite,
                       required_labels=required_labels, **writer_kw) as w:
        w.append(flux, labels)
    return path
