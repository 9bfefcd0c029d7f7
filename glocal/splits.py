"""Train / validation / test splits of a dataset (paper §3.3: random 80/10/10)."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .dataset_reader import Dataset

__all__ = ["split_indices"]

_SPLIT_NAMES = ("train", "val", "test")


def _check_fractions(fractions) -> np.ndarray:
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.shape != (3,) or not np.all(np.isfinite(fr)) or np.any(fr < 0) or abs(fr.sum() - 1.0) > 1e-9:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions!r}")
    return fr


def split_indices(labels_or_dataset, kind: str = "random", fractions=(0.8, 0.1, 0.1), seed: int = 0) -> dict:
    """Train/val/test index arrays (sorted int64) — §3.3 uses a random 80/10/10 split.

    ``kind="random"``: rows permuted with ``seed`` and cut at round(cumsum(fractions)·n).
    ``kind="grouped"``: whole models (``model_id``) are assigned to one part, so no
    (teff, logg, feh) node appears in two parts; fractions then hold approximately (by rows).
    Accepts a :class:`Dataset`, a label mapping, or (random only) a row count.
    """
    if kind not in ("random", "grouped"):
        raise ValueError(f"unknown split kind {kind!r}; choose 'random' or 'grouped'")
    fr = _check_fractions(fractions)
    model_id = None
    if isinstance(labels_or_dataset, Dataset):
        model_id = labels_or_dataset.labels.get("model_id")
        n = labels_or_dataset.n
    elif isinstance(labels_or_dataset, Mapping):
        if not labels_or_dataset:
            raise ValueError("labels mapping is empty")
        model_id = labels_or_dataset.get("model_id")
        n = len(np.asarray(next(iter(labels_or_dataset.values()))))
    elif isinstance(labels_or_dataset, (int, np.integer)) and not isinstance(labels_or_dataset, bool):
        n = int(labels_or_dataset)
        if n < 0:
            raise ValueError("row count must be >= 0")
    else:
        raise TypeError("labels_or_dataset must be a Dataset, a label mapping or an int")
    rng = np.random.default_rng(seed)
    bounds = np.concatenate(([0.0], np.cumsum(fr)))
    if kind == "random":
        perm = rng.permutation(n)
        cuts = np.rint(bounds * n).astype(np.int64)
        cuts[-1] = n
        parts = [perm[cuts[i]:cuts[i + 1]] for i in range(3)]
    else:
        if model_id is None:
            raise ValueError("grouped split needs a 'model_id' label")
        model_id = np.asarray(model_id)
        if model_id.shape != (n,):
            raise ValueError(f"model_id has shape {model_id.shape}, expected ({n},)")
        groups, inverse, sizes = np.unique(model_id, return_inverse=True, return_counts=True)
        order = rng.permutation(groups.size)
        mid = (np.cumsum(sizes[order]) - 0.5 * sizes[order]) / max(n, 1)
        part_of_group = np.empty(groups.size, dtype=np.int64)
        part_of_group[order] = np.clip(np.searchsorted(bounds, mid, side="right") - 1, 0, 2)
        row_part = part_of_group[inverse]
        parts = [np.flatnonzero(row_part == i) for i in range(3)]
    return {name: np.sort(p).astype(np.int64) for name, p in zip(_SPLIT_NAMES, parts)}
