"""Shared test fixtures: location of the published reference data in ../shared."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GLOCAL_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data; skips the test when the published data are absent."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip(f"published reference data not found at {path} (set GLOCAL_SHARED)")
    return path


@pytest.fixture(scope="session")
def shared_vendor() -> Path:
    """Path to ../shared/vendor (SPECTRUM source); skips when absent."""
    path = SHARED / "vendor"
    if not path.is_dir():
        pytest.skip(f"vendored SPECTRUM source not found at {path}")
    return path
