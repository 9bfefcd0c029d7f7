"""The runs shipped with glocal (``glocal/data/pretrained/``) and the compact export that makes them.

``load_run("pretrained:<name>")`` (:mod:`glocal.runs`) reads one; :func:`pretrained_runs` lists them.
They are written by ``scripts/export_pretrained.py`` through :func:`export_run`; provenance is in each
directory's ``provenance.json`` and in ``glocal/data/pretrained/README.md``.
"""
from __future__ import annotations

import datetime as _dt
import os
import shutil
from pathlib import Path

import numpy as np

from ._io import write_json

__all__ = ["PRETRAINED_DIR", "pretrained_runs", "resolve_run_path", "export_run"]

PRETRAINED_DIR = Path(__file__).parent / "data" / "pretrained"


def pretrained_runs() -> list[str]:
    """Names of the shipped runs, for ``load_run("pretrained:<name>")``."""
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / "config.json").is_file())


def resolve_run_path(spec) -> Path:
    """A run directory from a path or from ``"pretrained:<name>"`` (e.g. ``pretrained:spt-glocal-full``)."""
    if isinstance(spec, str) and spec.startswith("pretrained:"):
        name = spec.split(":", 1)[1]
        if name not in pretrained_runs():
            raise ValueError(f"no shipped run {name!r}; available: {', '.join(pretrained_runs()) or 'none'}")
        return PRETRAINED_DIR / name
    return Path(spec)


def export_run(run, out, *, half: bool = True, note: str = "", check_flux=None, tolerance: float = 2e-3) -> Path:
    """Write a compact, inference-only copy of a network run to ``out`` (a new directory).

    Keeps config, estimator (weights and label scaler), wavelength grid, metrics and provenance;
    drops checkpoints and the split indices; stores the parameters as float16 safetensors when
    ``half`` (cast back to float32 on loading; buffers such as the input normalisation stay float32).
    The exported run's predictions on ``check_flux`` (spectra on the run's grid, e.g. its test split;
    default: 16 random spectra) must agree with the source run's within ``tolerance`` dex, else
    RuntimeError. The directory appears atomically (written under a temporary name, then renamed).
    """
    from .models import NetworkEstimator
    from .runs import FORMAT_VERSION, as_run, load_run

    src = as_run(run)
    if not isinstance(src.estimator, NetworkEstimator):
        raise ValueError(f"export_run handles network runs, not {src.name!r}")
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists; remove it first")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write_json(tmp / "config.json", {**src.config, "format_version": FORMAT_VERSION})
    np.save(tmp / "wave.npy", src.wave)
    write_json(tmp / "metrics.json", src.metrics)
    if src.uncertainty is not None:
        write_json(tmp / "uncertainty.json", src.uncertainty)
    if src.path is not None and (src.path / "domain.npz").is_file():
        shutil.copy2(src.path / "domain.npz", tmp / "domain.npz")
    src.estimator.save(tmp, half=half)
    prov = dict(src.provenance)
    prov["export"] = {"source_run": str(src.path), "weights_dtype": "float16" if half else "float32",
                      "exported_utc": _dt.datetime.now(_dt.UTC).isoformat(), "note": note}
    write_json(tmp / "provenance.json", prov)
    exported = load_run(tmp)
    if check_flux is None:
        x = 1.0 - 0.3 * np.random.default_rng(0).random((16, src.wave.size))
    else:
        x = np.atleast_2d(np.asarray(check_flux, np.float32))
    diff = float(np.abs(exported.estimator.predict(x) - src.estimator.predict(x)).max())
    if diff > tolerance:
        shutil.rmtree(tmp)
        raise RuntimeError(f"exported weights change predictions by {diff:.2e} dex (> {tolerance:g})")
    prov["export"]["max_prediction_change_dex"] = diff
    write_json(tmp / "provenance.json", prov)
    os.replace(tmp, out)
    return out
