"""Reading glocal dataset files: the in-memory :class:`Dataset` and :func:`load_dataset`.

The file layout (written by :class:`glocal.dataset.DatasetWriter`) is described in
:mod:`glocal.dataset`; this module holds its format constants and the validating reader.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ._checks import check_wave_grid

__all__ = ["REQUIRED_LABELS", "FORMAT_NAME", "FORMAT_VERSION", "Dataset", "load_dataset"]

#: Label columns every dataset holds: the grid parameters (K, cgs, dex, km s⁻¹, dex, dex) and the
#: model id that drives completion and resume.
REQUIRED_LABELS: tuple[str, ...] = ("teff", "logg", "feh", "vturb", "ofe", "mgfe", "model_id")
FORMAT_NAME = "glocal-dataset"
FORMAT_VERSION = 1


def _label_dtype(name: str):
    return np.int64 if name.endswith("_id") else np.float64


def _read_provenance(h5: h5py.File) -> dict:
    if "provenance" not in h5:
        return {}
    out = {}
    for k, v in h5["provenance"].attrs.items():
        if isinstance(v, bytes):
            v = v.decode()
        if isinstance(v, np.generic):
            v = v.item()
        if k == "parameters" and isinstance(v, str):
            try:
                v = json.loads(v)
            except json.JSONDecodeError:
                pass
        out[k] = v
    return out


def _open_h5(path: Path, mode: str = "r") -> h5py.File:
    if not path.exists():
        raise FileNotFoundError(f"dataset file not found: {path}")
    try:
        return h5py.File(path, mode)
    except OSError as exc:
        raise ValueError(f"{path} is not a readable HDF5 file (corrupt or wrong format): {exc}") from None


@dataclass
class _Header:
    wave: np.ndarray
    label_names: tuple[str, ...]
    provenance: dict
    model_ids: np.ndarray
    done: np.ndarray
    n: int
    has_continuum: bool = False


def _read_header(path: Path) -> _Header:
    with _open_h5(path) as h5:
        try:
            if h5.attrs.get("format") != FORMAT_NAME:
                raise ValueError(f"{path} is not a glocal dataset (format attribute missing or wrong)")
            for key in ("wave", "flux", "labels", "done/model_ids"):
                if key not in h5:
                    raise ValueError(f"{path} lacks /{key}")
            wave = h5["wave"][()]
            names = tuple(json.loads(h5.attrs["label_names"]))
            n = h5["flux"].shape[0]
            if "model_id" not in h5["labels"]:
                raise ValueError(f"{path} lacks /labels/model_id")
            return _Header(wave, names, _read_provenance(h5), h5["labels/model_id"][()],
                           h5["done/model_ids"][()], n, "continuum" in h5)
        except (OSError, KeyError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path} is corrupt: {exc}") from None


@dataclass
class Dataset:
    """An in-memory dataset: ``wave`` (n_pix,) in Å (air), ``flux`` (n, n_pix) float32, ``labels``
    {name: (n,)} (float64; int64 for names ending in ``_id``), the file's ``provenance``, the
    ``done`` model ids (None when the file has no completion record) and ``continuum`` (n, n_pix)
    float32, > 0, in the engine's flux unit, or None when the file has no ``/continuum``: the factor C
    with flux · C = the degraded physical flux (``glocal.build``: C = D[F] / D[F/F_c])."""

    wave: np.ndarray
    flux: np.ndarray
    labels: dict[str, np.ndarray]
    provenance: dict = field(default_factory=dict)
    done: np.ndarray | None = None
    continuum: np.ndarray | None = None

    def physical_flux(self) -> np.ndarray:
        """flux · continuum (n, n_pix) float64: the physical F of the flux-calibrated input kind.
        ValueError when the dataset has no continuum."""
        if self.continuum is None:
            raise ValueError("this dataset has no /continuum (written before it was stored, or not by "
                             "glocal.build); the physical flux cannot be derived")
        return np.asarray(self.flux, np.float64) * np.asarray(self.continuum, np.float64)

    @property
    def n(self) -> int:
        """Number of spectra (rows)."""
        return int(self.flux.shape[0])

    def __len__(self) -> int:
        return self.n

    def label_matrix(self, names) -> np.ndarray:
        """(n, len(names)) float64 matrix of the named label columns."""
        if isinstance(names, str):
            names = [names]
        names = list(names)
        unknown = [k for k in names if k not in self.labels]
        if unknown or not names:
            raise ValueError(f"unknown label(s) {unknown}; available: {sorted(self.labels)}")
        return np.column_stack([np.asarray(self.labels[k], dtype=np.float64) for k in names])

    def subset(self, idx) -> Dataset:
        """Rows ``idx`` (integer indices or boolean mask of length n) as a new Dataset."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            if idx.shape != (self.n,):
                raise ValueError(f"boolean mask has shape {idx.shape}, expected ({self.n},)")
            idx = np.flatnonzero(idx)
        elif idx.dtype.kind not in "iu":
            raise TypeError(f"idx must be integer indices or a boolean mask, got dtype {idx.dtype}")
        idx = idx.ravel()
        if idx.size and (idx.min() < -self.n or idx.max() >= self.n):
            raise ValueError(f"indices out of range for a dataset of {self.n} rows")
        return Dataset(self.wave.copy(), self.flux[idx], {k: v[idx] for k, v in self.labels.items()},
                       dict(self.provenance), None if self.done is None else self.done.copy(),
                       None if self.continuum is None else self.continuum[idx])


def load_dataset(path, required_labels=REQUIRED_LABELS) -> Dataset:
    """The dataset at ``path``, read completely into memory and validated.

    Checks: format attribute, a finite, positive, strictly increasing ``/wave`` (Å), ``/flux`` of
    shape (n, n_pix) with finite values, the ``required_labels`` columns present, every label of
    shape (n,) and finite, and the optional ``/continuum`` (:attr:`Dataset.continuum`, None when
    absent) of the shape of ``/flux``, finite and > 0.  FileNotFoundError when missing, ValueError
    (naming the file and what is wrong) otherwise; a UserWarning when committed shards are not
    merged yet (they are not read).  Rows come sorted by ``model_id`` (stable), whatever order the
    models were stored in, so that splits and training of one seed do not depend on the build's timing.
    """
    path = Path(path)
    parts = path.with_name(path.name + ".parts")
    if parts.is_dir() and any(parts.glob("batch-*.h5")):
        warnings.warn(f"{parts} holds committed batches not yet merged into {path}; re-open a "
                      "DatasetWriter on this path and close it to merge them", UserWarning, stacklevel=2)
    with _open_h5(path) as h5:
        try:
            if h5.attrs.get("format") != FORMAT_NAME:
                raise ValueError(f"{path} is not a glocal dataset (format attribute missing or wrong)")
            for key in ("wave", "flux", "labels"):
                if key not in h5:
                    raise ValueError(f"{path} lacks /{key}")
            wave = h5["wave"][()]
            flux = h5["flux"][()]
            cont = h5["continuum"][()] if "continuum" in h5 else None
            labels = {k: h5["labels"][k][()] for k in h5["labels"]}
            done = h5["done/model_ids"][()] if "done/model_ids" in h5 else None
            prov = _read_provenance(h5)
        except OSError as exc:
            raise ValueError(f"{path} is corrupt (read failed): {exc}") from None
    try:
        wave = check_wave_grid(wave, "wave")
    except ValueError as exc:
        raise ValueError(f"{path}: /wave invalid: {exc}") from None
    if flux.ndim != 2 or flux.shape[1] != wave.size:
        raise ValueError(f"{path}: /flux has shape {flux.shape}, expected (n, {wave.size})")
    if not np.isfinite(flux).all():
        raise ValueError(f"{path}: /flux contains non-finite values")
    if cont is not None and (cont.shape != flux.shape or not (np.isfinite(cont) & (cont > 0)).all()):
        raise ValueError(f"{path}: /continuum must have the shape of /flux {flux.shape} and be finite and > 0")
    missing = [k for k in required_labels if k not in labels]
    if missing:
        raise ValueError(f"{path}: missing required label column(s) {missing}")
    for k, v in labels.items():
        if v.shape != (flux.shape[0],):
            raise ValueError(f"{path}: label {k!r} has shape {v.shape}, expected ({flux.shape[0]},)")
        if v.dtype.kind == "f" and not np.isfinite(v).all():
            raise ValueError(f"{path}: label {k!r} contains non-finite values")
    return _canonical_order(Dataset(wave, flux, labels, prov, done, cont))


def _canonical_order(ds: Dataset) -> Dataset:
    """``ds`` with its rows sorted by ``model_id`` (stable: a model's rows keep their stored variant order).

    A grid's rows are stored in the order its models finished (Dask workers race), so without this the
    random split and the training batches of the same seed would depend on that race.
    """
    ids = ds.labels.get("model_id")
    if ids is None or ids.size < 2 or np.all(ids[1:] >= ids[:-1]):
        return ds
    order = np.argsort(ids, kind="stable")
    return Dataset(ds.wave, ds.flux[order], {k: v[order] for k, v in ds.labels.items()}, ds.provenance,
                   ds.done, None if ds.continuum is None else ds.continuum[order])
