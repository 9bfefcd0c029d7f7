"""Spectrum emulator on the CSST R=200 grid: five labels → ln(F/F_c) and the shape of ln F_c.

The emulator stands in for the synthesis engine when a spectrum is fitted (:mod:`glocal.fitting`): one
evaluation is a few small matrix products instead of a synthesis.  It is a multilayer perceptron trained by
``scripts/train_emulator.py`` on the ``realstars`` grid (builtin engine, degraded to R=200, Eq. 8–11):

    x  = 2 (θ − θ_lo)/(θ_hi − θ_lo) − 1,   θ = (Teff [K], log g [cgs], [Fe/H], [O/Fe], [Mg/Fe])
    h₀ = x,   h_{k+1} = SiLU(W_k h_k + b_k)       (SiLU(u) = u / (1 + e^(−u)), smooth, so the fit's
    z  = W_L h_L + b_L                              finite-difference Jacobian is well defined)
    y  = μ + s ⊙ (z B)                             (B: K × 2·274, initialised from a PCA of the grid)
    y  = [ln(F/F_c)(λ_j), ln F_c(λ_j) − mean_j ln F_c(λ_j)],   j = 1 … 274 (2550–9951 Å, air)

F_c is the physical continuum (erg s⁻¹ cm⁻² Å⁻¹ at the stellar surface) up to a constant: only its shape
is emulated, since a calibrated observation has an unknown scale (distance, radius) anyway.

The weights (float32 safetensors, never pickles), the label ranges, the held-out per-pixel rms error
``rms_ln_norm`` / ``rms_ln_cont`` (ln units ≈ relative flux error) and the grid's (Teff, log g, [Fe/H]) nodes
ship in ``glocal/data/emulator/``; ``emulator.json`` there records the grid's sha256, the split and the
measured errors, and the README.md there gives them in words.  Outside the grid's label ranges the
emulator extrapolates: :meth:`Emulator.hull_distance` says how far a point lies from the nearest node.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["Emulator", "load_emulator", "LABELS", "DEFAULT_DIR"]

#: Label order of the emulator's input.
LABELS = ("teff", "logg", "feh", "ofe", "mgfe")
#: Where the shipped emulator lives.
DEFAULT_DIR = Path(__file__).resolve().parent / "data" / "emulator"
WEIGHTS_FILE, META_FILE = "emulator.safetensors", "emulator.json"


def _silu(u):
    return u / (1.0 + np.exp(-u))


class Emulator:
    """A trained emulator (see the module docstring); build it with :func:`load_emulator`.

    wave : (274,) Å, air.  lo, hi : (5,) the label ranges of the training grid (order :data:`LABELS`).
    rms_ln_norm, rms_ln_cont : (274,) held-out rms error of ln(F/F_c) and of the ln F_c shape.
    nodes : (n, 3) the grid's (Teff, log g, [Fe/H]) atmosphere nodes.  meta : the provenance JSON.
    """

    def __init__(self, tensors: dict, meta: dict):
        self.meta = meta
        self.wave = np.asarray(tensors["wave"], dtype=np.float64)
        self.lo = np.asarray(tensors["label_lo"], dtype=np.float64)
        self.hi = np.asarray(tensors["label_hi"], dtype=np.float64)
        n_layers = int(meta["architecture"]["n_linear"])
        self.layers = [(np.asarray(tensors[f"W{k}"], dtype=np.float64), np.asarray(tensors[f"b{k}"], dtype=np.float64))
                       for k in range(n_layers)]
        self.basis = np.asarray(tensors["basis"], dtype=np.float64)
        self.out_mean = np.asarray(tensors["out_mean"], dtype=np.float64)
        self.out_scale = np.asarray(tensors["out_scale"], dtype=np.float64)
        self.rms_ln_norm = np.asarray(tensors["rms_ln_norm"], dtype=np.float64)
        self.rms_ln_cont = np.asarray(tensors["rms_ln_cont"], dtype=np.float64)
        self.nodes = np.asarray(tensors["nodes"], dtype=np.float64)
        self.n_pix = self.wave.size

    def scale(self, labels) -> np.ndarray:
        """Labels (…, 5) mapped to the network input x ∈ [−1, 1] on the grid's ranges."""
        return 2.0 * (np.asarray(labels, dtype=np.float64) - self.lo) / (self.hi - self.lo) - 1.0

    def predict(self, labels) -> tuple[np.ndarray, np.ndarray]:
        """``(ln F/F_c, ln F_c − its mean over the grid)``, each (…, 274), for labels (…, 5)."""
        h = self.scale(labels)
        for k, (W, b) in enumerate(self.layers):
            h = h @ W.T + b
            if k < len(self.layers) - 1:
                h = _silu(h)
        y = self.out_mean + self.out_scale * (h @ self.basis)
        return y[..., :self.n_pix], y[..., self.n_pix:]

    def normalized(self, labels) -> np.ndarray:
        """F/F_c (…, 274) at ``labels`` (…, 5)."""
        return np.exp(self.predict(labels)[0])

    def hull_distance(self, labels) -> float:
        """Distance from (Teff, log g, [Fe/H]) of ``labels`` to the nearest grid node, in units of
        (250 K, 0.5 dex, 0.5 dex); ≲ 1 inside the grid's coverage."""
        p = np.asarray(labels, dtype=np.float64)[:3]
        d = (self.nodes - p) / np.array([250.0, 0.5, 0.5])
        return float(np.sqrt((d ** 2).sum(axis=1).min()))


def load_emulator(path=None) -> Emulator:
    """The emulator in folder ``path`` (default: the shipped one, :data:`DEFAULT_DIR`), cached."""
    return _load(str(Path(path) if path is not None else DEFAULT_DIR))


@lru_cache(maxsize=4)
def _load(folder: str) -> Emulator:
    from safetensors.numpy import load_file
    folder = Path(folder)
    weights, meta_path = folder / WEIGHTS_FILE, folder / META_FILE
    if not weights.exists() or not meta_path.exists():
        raise FileNotFoundError(f"no emulator in {folder} (expected {WEIGHTS_FILE} and {META_FILE}); "
                                "build one with scripts/train_emulator.py --grid GRID.h5")
    return Emulator(load_file(str(weights)), json.loads(meta_path.read_text()))
