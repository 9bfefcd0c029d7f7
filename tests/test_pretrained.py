"""The runs shipped in glocal/data/pretrained: they load, are what their README says, stay inside the
data budget, and respond to the abundances of a spectrum they have never seen."""
import re
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from glocal.runs import PRETRAINED_DIR, load_run, predict, pretrained_runs

DATA = Path(__file__).resolve().parents[1] / "glocal" / "data"


def test_committed_runtime_data_fits_the_10_mb_budget():
    total = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert total <= 10_000_000, f"glocal/data holds {total / 1e6:.2f} MB"


needs_runs = pytest.mark.skipif(not pretrained_runs(), reason="no shipped pretrained runs in glocal/data/pretrained")


@needs_runs
def test_shipped_runs_match_their_readme():
    readme = (PRETRAINED_DIR / "README.md").read_text()
    from glocal._io import sha256_file
    for name in pretrained_runs():
        run = load_run(f"pretrained:{name}")
        assert run.name == "spt-glocal" and run.labels == ["ofe", "mgfe"]
        w = PRETRAINED_DIR / name / "model.safetensors"
        assert sha256_file(w) in readme, f"{name}: weights checksum not in README"
        with safe_open(str(w), "pt") as f:
            dtypes = {str(f.get_tensor(k).dtype) for k in f.keys()}
        assert "torch.float16" in dtypes
        band = run.config["band"]
        lo, hi = {"full": (2550, 10000), "optical": (4000, 10000)}[band]
        assert run.wave[0] >= lo - 10 and run.wave[-1] <= hi + 10
        assert re.search(rf"`{re.escape(name)}` \| {band} \| {run.wave.size} \|", readme)


@needs_runs
def test_shipped_full_band_run_reads_oxygen_from_a_new_spectrum():
    """A node off the training grid's seed-0 sample, two [O/Fe] values 1 dex apart, synthesised by the
    built-in engine at the book's settings: the predicted [O/Fe] must follow."""
    from glocal.degrade import degrade
    from glocal.synthesis import synthesize_variants
    variants = [{"O": 0.0, "Mg": 0.0}, {"O": 1.0, "Mg": 0.0}]  # as the paper grid: one element varied
    vs = synthesize_variants(4850.0, 1.75, -2.1, variants, engine="builtin", resolution=40000, threshold=1e-3)
    wave, flux = degrade(vs.wave, vs.normalized)
    table = predict("pretrained:spt-glocal-full", wave, flux, uncertainty="none")
    ofe, mgfe = table["ofe"], table["mgfe"]
    assert ofe[1] - ofe[0] > 0.5, ofe
    assert np.all(np.abs(mgfe) < 0.4), mgfe
