"""File helpers shared by the package: gzip-aware reading, checksums and atomic JSON/text writes.

Writes go to a temporary file in the target folder and are moved into place with ``os.replace``,
so an interrupted job never leaves a half-written file behind.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import numpy as np

__all__ = ["read_maybe_gzipped", "sha256_file", "json_default", "to_jsonable", "atomic_write_text",
           "write_json", "read_json"]


def read_maybe_gzipped(path, what: str) -> bytes:
    """Bytes of a plain or gzip-compressed file (detected by the gzip magic number).

    ``what`` names the kind of file in the messages ("line-list", "model-atmosphere").
    FileNotFoundError when ``path`` is not a file, ValueError for a corrupt gzip stream.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: corrupt gzip stream ({exc})") from exc
    return raw


def sha256_file(path) -> str:
    """Hex SHA-256 digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def json_default(obj):
    """``default=`` hook for :func:`json.dumps`: numpy scalars and arrays, paths, sets and tuples.

    TypeError (naming the type) for anything else, so that unserialisable provenance fails loudly.
    """
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"value of type {type(obj).__name__} is not JSON-serialisable")


def to_jsonable(obj):
    """``obj`` with numpy scalars/arrays and paths replaced by plain Python values (recursively)."""
    return json.loads(json.dumps(obj, default=json_default))


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file + ``os.replace``); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_json(path, obj, *, indent: int = 1) -> Path:
    """``obj`` as JSON at ``path``, atomically (numpy values and paths converted)."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, default=json_default) + "\n")


def read_json(path, what: str = "JSON") -> dict:
    """Parsed JSON of ``path``; FileNotFoundError when missing, ValueError (naming the file) when corrupt."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"missing {what} file {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"corrupt {what} file {path}: {exc}") from None
