"""Artifact cache shared by the book's chapters.

Expensive artifacts (synthetic grids, trained runs) are stored under a cache directory
and keyed by a hash of the parameters that produced them, so re-executing a chapter with
the same parameters reuses them and changing one parameter recomputes only what depends on it.

Layout: ``<cache>/<kind>-<key>{suffix}`` plus a sidecar ``<...>.params.json`` that is written
only after the builder returned, so a crash leaves an artifact marked incomplete and the next
call hands the same path back to the builder (which may resume, as grid building does).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._io import atomic_write_text, json_default

__all__ = ["cache_dir", "cache_key", "artifact"]


def cache_dir() -> Path:
    """The cache root: ``$GLOCAL_CACHE`` if set, else ``~/.cache/glocal``."""
    root = Path(os.environ.get("GLOCAL_CACHE", Path.home() / ".cache" / "glocal"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def _canonical(params: Any) -> str:
    """Compact JSON of ``params`` with sorted keys (numpy values and paths converted by
    :func:`glocal._io.json_default`, which raises TypeError for anything else)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=json_default)


def cache_key(kind: str, params: dict) -> str:
    """Short stable hash of ``kind`` and the parameters (order-insensitive)."""
    if not kind or "/" in kind:
        raise ValueError(f"invalid artifact kind {kind!r}")
    return hashlib.sha256(f"{kind}:{_canonical(params)}".encode()).hexdigest()[:16]


def artifact(kind: str, params: dict, build: Callable[[Path], Any], suffix: str = "",
             root: Path | None = None) -> Path:
    """Return the path of the artifact ``kind`` for ``params``, building it if needed.

    ``build(path)`` must create ``path`` (a file when ``suffix`` is given, e.g. ".h5", or a
    directory otherwise). It is called only when no completed artifact exists.
    """
    root = Path(root) if root is not None else cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{kind}-{cache_key(kind, params)}{suffix}"
    sidecar = path.with_name(path.name + ".params.json")
    if sidecar.exists() and path.exists():
        return path
    build(path)
    if not path.exists():
        raise RuntimeError(f"builder for {kind!r} returned without creating {path}")
    atomic_write_text(sidecar, json.dumps({"kind": kind, "params": json.loads(_canonical(params))}, indent=1))
    return path
