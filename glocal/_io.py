"""Small file helpers shared by the readers (model atmospheres, line lists)."""
from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

__all__ = ["read_maybe_gzipped", "sha256_file"]


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
