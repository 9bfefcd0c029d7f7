"""Real-star systematic terms of the shipped runs: the part of the error the synthetic calibration cannot see.

``glocal predict``'s ``L_std`` / ``L_err95`` are split-conformal half-widths calibrated on held-out
*synthetic* spectra (:mod:`glocal.conformal`).  On real stars the answers also carry the departures of the
engine (1D LTE, ATLAS9, the line list) from real stars, and the literature's own errors.  Measured on the
development stars with literature values (:mod:`glocal.real_stars`), per label::

    σ_sys = √max(mean(Δ²) − mean(σ²), 0),     Δ = predicted − literature,  σ = the stated 68 % half-width,

the term that, added in quadrature, makes the stated 1σ match the stars' rms difference (a bias counts as
error: an unseen star is not corrected for it).  ``predict`` then also reports::

    L_std_real   = √(L_std² + σ_sys²)                 (68 %)
    L_err95_real = √(L_err95² + (1.96 σ_sys)²)        (95 %; the systematic term taken as Gaussian)

for the runs whose weights the terms were measured on (sha256 of ``model.safetensors`` in
:data:`SYSTEMATICS_FILE`); other runs get NaN there (their real-star error is unknown).  ``glocal fit``
reports ``L_std_real`` likewise from the record's ``fit`` section (its Jacobian σ against the literature,
measured with the fit's defaults and tied to the emulator's sha256).  With six stars, most with one
literature study, σ_sys is known to ×0.8–×1.6 (68 % range for a χ² with 5 degrees of freedom).
``scripts/real_star_systematics.py`` writes the file; the real-stars chapter checks the intervals star by
star with each star left out of its own σ_sys.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["SYSTEMATICS_FILE", "Z95", "systematic_sigma", "real_half_widths", "load_systematics",
           "weights_sha256", "systematics_for", "emulator_sha256", "fit_systematics", "leave_one_out_coverage"]

#: The committed record of the shipped runs' real-star systematic terms.
SYSTEMATICS_FILE = Path(__file__).resolve().parents[1] / "data" / "pretrained" / "real_star_systematics.json"
#: Gaussian 95 % two-sided quantile used to scale σ_sys into the 95 % half-width.
Z95 = 1.959963984540054


def systematic_sigma(delta, sigma) -> float:
    """σ_sys = √max(mean(Δ²) − mean(σ²), 0) over the finite pairs (NaN when there are fewer than two)."""
    d, s = np.asarray(delta, float), np.asarray(sigma, float)
    if d.shape != s.shape:
        raise ValueError(f"delta and sigma differ in shape: {d.shape} vs {s.shape}")
    ok = np.isfinite(d) & np.isfinite(s)
    if ok.sum() < 2:
        return float("nan")
    return float(np.sqrt(max(np.mean(d[ok] ** 2) - np.mean(s[ok] ** 2), 0.0)))


def real_half_widths(std, err95, sys):
    """``(std_real, err95_real)`` of the module docstring (arrays; ``sys`` a scalar or one per row; NaN where
    any input is NaN)."""
    std, err95 = np.asarray(std, float), np.asarray(err95, float)
    return np.sqrt(std ** 2 + sys ** 2), np.sqrt(err95 ** 2 + (Z95 * sys) ** 2)


def load_systematics(path=None) -> dict | None:
    """The record (``labels`` {label: {"sigma_sys", "n"}}, ``runs`` {run: weights sha256}, provenance), or
    None when the file is absent.  A corrupt file raises ValueError naming it."""
    path = Path(path) if path is not None else SYSTEMATICS_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        _ = {lab: float(v["sigma_sys"]) for lab, v in record["labels"].items()}, dict(record["runs"])
        if "fit" in record:
            _ = {lab: float(v["sigma_sys"]) for lab, v in record["fit"]["labels"].items()}
            _ = str(record["fit"]["emulator_sha256"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a real-star systematics record ({exc})") from exc
    return record


@lru_cache(maxsize=16)
def _sha256(path: str, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def weights_sha256(run) -> str | None:
    """sha256 of the run's ``model.safetensors`` (None for a run without one, e.g. trees or in-memory)."""
    if run.path is None:
        return None
    f = Path(run.path) / "model.safetensors"
    return _sha256(str(f), f.stat().st_mtime_ns) if f.is_file() else None


def systematics_for(run, record=None) -> dict[str, float] | None:
    """{label: σ_sys} when ``run``'s weights are those the record was measured on, else None."""
    record = load_systematics() if record is None else record
    sha = weights_sha256(run)
    if record is None or sha is None or sha not in set(record["runs"].values()):
        return None
    return {lab: float(v["sigma_sys"]) for lab, v in record["labels"].items()}


def emulator_sha256(path=None) -> str | None:
    """sha256 of the fit's emulator weights (``glocal/data/emulator/emulator.safetensors``), None if absent."""
    f = Path(path) if path is not None else SYSTEMATICS_FILE.parents[1] / "emulator" / "emulator.safetensors"
    return _sha256(str(f), f.stat().st_mtime_ns) if f.is_file() else None


def fit_systematics(record=None, emulator_path=None) -> dict[str, float] | None:
    """{label: σ_sys} of ``glocal fit`` (its defaults) when the emulator is the one the record's ``fit``
    section was measured with, else None."""
    record = load_systematics() if record is None else record
    if record is None or "fit" not in record or record["fit"]["emulator_sha256"] != emulator_sha256(emulator_path):
        return None
    return {lab: float(v["sigma_sys"]) for lab, v in record["fit"]["labels"].items()}


def leave_one_out_coverage(record=None):
    """How often the real-star intervals hold the literature value when each star is left out of its own
    σ_sys (DataFrame indexed by label): ``n stars``; ``inside 68 % (synthetic)`` and ``inside 95 %
    (synthetic)`` with the stated ``L_std``/``L_err95``; ``inside 68 % (real, LOO)`` and ``inside 95 %
    (real, LOO)`` with σ_sys from the other stars; ``σ_sys (all stars)``; ``σ_sys LOO min`` and
    ``σ_sys LOO max`` over the left-out stars.  Labels with fewer than three stars are left out (two are
    needed for σ_sys).  ``record["fit"]`` gives the same for ``glocal fit`` (no 95 % interval: NaN there)."""
    import pandas as pd
    record = load_systematics() if record is None else record
    rows = {}
    for lab, v in record["labels"].items():
        entries = [s["labels"][lab] for s in record["stars"].values() if lab in s["labels"]]
        if len(entries) < 3:
            continue
        d = np.array([e["delta"] for e in entries])
        s68 = np.array([e["std"] for e in entries])
        s95 = np.array([np.nan if e.get("err95") is None else e["err95"] for e in entries], float)
        loo = np.array([systematic_sigma(np.delete(d, i), np.delete(s68, i)) for i in range(d.size)])
        r68, r95 = real_half_widths(s68, s95, loo)
        has95 = bool(np.isfinite(s95).all())
        rows[lab] = {"n stars": d.size, "inside 68 % (synthetic)": int((np.abs(d) <= s68).sum()),
                     "inside 95 % (synthetic)": int((np.abs(d) <= s95).sum()) if has95 else np.nan,
                     "inside 68 % (real, LOO)": int((np.abs(d) <= r68).sum()),
                     "inside 95 % (real, LOO)": int((np.abs(d) <= r95).sum()) if has95 else np.nan,
                     "σ_sys (all stars)": float(v["sigma_sys"]),
                     "σ_sys LOO min": float(loo.min()), "σ_sys LOO max": float(loo.max())}
    return pd.DataFrame.from_dict(rows, orient="index")
