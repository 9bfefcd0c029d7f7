"""Grid building (paper §2.1–2.2): 16 abundance variants per model atmosphere → R = 200 dataset.

For every (Teff, log g, [Fe/H]) node the variants are synthesised on ONE atmosphere
(:func:`glocal.synthesis.synthesize_variants`), normalised (F/F_c, §2.1), degraded to the CSST
grid (Eqs. 8–11, :func:`glocal.degrade.degrade`) and appended to a
:class:`glocal.dataset.DatasetWriter` with labels teff, logg, feh, vturb, ofe, mgfe, model_id.

* Parallel: one Dask task per model, on a ``distributed.LocalCluster`` of worker *processes*
  (SMElib serialises threads inside a process); pass ``scheduler="tcp://host:port"`` to use an
  existing cluster, or ``scheduler="serial"`` to run in-process.
* Resumable: models listed as done in the dataset are skipped; the writer's shards make a kill at
  any point safe (no duplicates, no holes: a model is stored with all its variants or not at all).
* Failures are never silent: each failed model (with its error) is appended to
  ``<out>.failures.jsonl`` at once and summarised in the dataset provenance; failed models are not
  marked done, so the next run retries them.
* Nodes outside the atmosphere-grid coverage are skipped, counted and recorded in provenance.
* Provenance: engine and its version, package versions, SHA-256 of the runtime data files,
  the variants, wavelength range, R and engine options.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import traceback
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from ._io import sha256_file

#: Environment of the LocalCluster worker processes. Dask's default sets MALLOC_TRIM_THRESHOLD_=65536,
#: which makes glibc hand every freed block back to the kernel; the synthesis engines allocate and free
#: arrays of 1-100 MB per model, so each allocation then costs fresh page faults: the built-in engine
#: spends 16 s of 28 s in the kernel that way instead of ~1 s of 8 s (benchmarks/worker_malloc.py).
#: Large mmap/trim thresholds keep freed memory in the process for reuse.
WORKER_ENVIRON = {"MALLOC_TRIM_THRESHOLD_": 4 * 2**30, "MALLOC_MMAP_THRESHOLD_": 2**30,
                  "MALLOC_TOP_PAD_": 256 * 2**20, "OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1,
                  "OPENBLAS_NUM_THREADS": 1}
from .grid import GRID_DTYPE

__all__ = ["build_grid", "resolve_nodes", "resolve_variants", "synthesize_model", "data_checksums",
           "read_failures"]

_NODE_DTYPE = GRID_DTYPE  # (model_id, teff, logg, feh), as glocal.grid.paper_grid()


def resolve_nodes(nodes, seed: int = 0) -> np.ndarray:
    """Preset name (``ci``/``laptop``/``paper``), structured array (teff, logg, feh[, model_id]) or a
    sequence of (teff, logg, feh) tuples → structured array with model_id (unique)."""
    if isinstance(nodes, str):
        from .grid import preset_grid
        arr = preset_grid(nodes, seed=seed)
    elif isinstance(nodes, np.ndarray) and nodes.dtype.names is not None:
        arr = nodes
    else:
        try:
            t = np.asarray(nodes, dtype=float)
        except (TypeError, ValueError) as exc:
            raise TypeError("nodes must be a preset name, a structured array or (teff, logg, feh) tuples") from exc
        if t.ndim != 2 or t.shape[1] != 3:
            raise ValueError(f"nodes as a plain array must have shape (n, 3), got {t.shape}")
        arr = np.empty(t.shape[0], _NODE_DTYPE)
        arr["model_id"] = np.arange(t.shape[0])
        arr["teff"], arr["logg"], arr["feh"] = t[:, 0], t[:, 1], t[:, 2]
    missing = [n for n in ("teff", "logg", "feh") if n not in arr.dtype.names]
    if missing:
        raise ValueError(f"nodes lack fields {missing}")
    out = np.empty(arr.shape[0], _NODE_DTYPE)
    for n in ("teff", "logg", "feh"):
        out[n] = arr[n]
    out["model_id"] = arr["model_id"] if "model_id" in arr.dtype.names else np.arange(arr.shape[0])
    if out.size == 0:
        raise ValueError("no nodes to build")
    for n in ("teff", "logg", "feh"):
        if not np.all(np.isfinite(out[n])):
            raise ValueError(f"nodes[{n!r}] contains NaN/inf")
    if np.unique(out["model_id"]).size != out.size:
        raise ValueError("model_id values must be unique")
    return out


def resolve_variants(variants) -> list[dict]:
    """``"paper"`` → the 16 variants of §2.1; ``"joint"`` → 16 Latin-hypercube draws of ([O/Fe],
    [Mg/Fe]) over the paper's span (``glocal.grid.joint_variants``; :func:`build_grid` draws them
    per model); else a list of {element: [X/Fe]} dicts.  O and Mg default to 0 in every variant."""
    if isinstance(variants, str):
        from .grid import joint_variants, paper_variants
        if variants == "paper":
            return paper_variants()
        if variants == "joint":
            return joint_variants(16, rng=0)
        raise ValueError(f"unknown variants preset {variants!r} (use 'paper', 'joint' or a list of dicts)")
    from .abundances import element_index
    out = []
    for v in variants:
        if not isinstance(v, Mapping):
            raise TypeError(f"each variant must be a dict like {{'O': 0.2, 'Mg': 0.0}}, got {v!r}")
        d = {"O": 0.0, "Mg": 0.0}
        for el, x in v.items():
            if element_index(el) < 2 or el == "Fe":
                raise ValueError(f"[{el}/Fe] cannot be varied (H, He and Fe are fixed by [Fe/H])")
            x = float(x)
            if not np.isfinite(x):
                raise ValueError(f"[{el}/Fe] must be finite, got {x}")
            d[el] = x
        out.append(d)
    if not out:
        raise ValueError("variants is empty")
    return out


def _extra_label_names(variants) -> list[str]:
    """Label columns beyond ofe/mgfe: '<el>fe' (lower case) for every other varied element."""
    els = sorted({el for v in variants for el in v} - {"O", "Mg"})
    return [f"{el.lower()}fe" for el in els]


def data_checksums() -> dict[str, str]:
    """SHA-256 of the committed runtime data files (atmosphere grid, line list, tables)."""
    d = Path(__file__).resolve().parent / "data"
    return {p.name: sha256_file(p) for p in sorted(d.glob("*.h5"))} if d.is_dir() else {}


def _versions(engine_name: str) -> dict[str, str]:
    import importlib.metadata as md
    out = {}
    for pkg in ("glocal", "numpy", "scipy", "h5py", "dask", "distributed", "pysme-astro"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    if engine_name == "sme":
        try:
            from .synthesis.sme import engine_version
            out["engine"] = engine_version()
        except Exception as exc:  # pragma: no cover
            out["engine"] = f"unknown ({exc})"
    elif engine_name == "spectrum":
        out["engine"] = "SPECTRUM v2.77 (Gray & Corbally 1994)"
    elif engine_name == "builtin":
        out["engine"] = f"glocal built-in LTE engine (glocal {out['glocal']})"
    return out


def synthesize_model(node: Mapping, variants: Sequence[Mapping], engine, wave_range, grid: np.ndarray,
                     R: float, engine_options: Mapping) -> dict:
    """Worker task: all variants of one node → dict(model_id, flux (n_var, n_pix) float32, labels,
    seconds) or dict(model_id, error, traceback).  Never raises."""
    t0 = time.perf_counter()
    mid = int(node["model_id"])
    try:
        if isinstance(variants, str) and variants.startswith("joint:"):
            from .grid import joint_variants
            variants = joint_variants(16, rng=np.random.default_rng([int(variants.split(":")[1]), mid]))
        from .degrade import degrade
        from .synthesis import synthesize_variants, get_engine, register_engine
        if callable(engine):
            name = f"custom:{getattr(engine, '__name__', 'engine')}"
            try:
                get_engine(name)
            except ValueError:
                register_engine(name, engine)
            engine_name = name
        else:
            engine_name = engine
        vs = synthesize_variants(float(node["teff"]), float(node["logg"]), float(node["feh"]), variants,
                                 wave_range=wave_range, engine=engine_name, **dict(engine_options))
        norm = vs.normalized
        if not np.all(np.isfinite(norm)):
            raise RuntimeError("non-finite normalised flux")
        _, low = degrade(vs.wave, norm, R=R, grid=grid)
        low = np.atleast_2d(low)
        if not np.all(np.isfinite(low)):
            raise RuntimeError("non-finite degraded flux")
        nv = len(variants)
        labels = {
            "teff": np.full(nv, float(node["teff"])), "logg": np.full(nv, float(node["logg"])),
            "feh": np.full(nv, float(node["feh"])), "vturb": np.full(nv, vs.vturb),
            "ofe": np.array([v.get("O", 0.0) for v in variants], float),
            "mgfe": np.array([v.get("Mg", 0.0) for v in variants], float),
            "model_id": np.full(nv, mid, dtype=np.int64),
        }
        for el in sorted({el for v in variants for el in v} - {"O", "Mg"}):
            labels[f"{el.lower()}fe"] = np.array([v.get(el, 0.0) for v in variants], float)
        return dict(model_id=mid, flux=low.astype(np.float32), labels=labels,
                    seconds=time.perf_counter() - t0)
    except Exception as exc:  # recorded by the caller, never silent
        return dict(model_id=mid, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(),
                    seconds=time.perf_counter() - t0)


def _describe_option(value):
    """JSON-safe description of an engine option for the provenance (line lists by size + hash)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.ndarray):
        return {"array_shape": list(value.shape), "sha256": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()}
    data = getattr(value, "data", None)
    if isinstance(data, np.ndarray) and data.dtype.names is not None:
        return {"type": type(value).__name__, "n_lines": int(data.shape[0]),
                "source": str(getattr(value, "source", "")),
                "sha256": hashlib.sha256(data.tobytes()).hexdigest()}
    if isinstance(value, Mapping):
        return {str(k): _describe_option(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_describe_option(v) for v in value]
    return repr(value)


def read_failures(out) -> list[dict]:
    """Failure records written by :func:`build_grid` for dataset ``out`` (latest per model last)."""
    p = Path(str(out) + ".failures.jsonl")
    if not p.exists():
        return []
    rows = []
    for line in p.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{p}: corrupt failure record ({exc})") from exc
    return rows


def build_grid(nodes="ci", out="grid.h5", *, engine: str | Callable = "sme", workers: int = 2,
               scheduler: str | None = None, variants="paper", progress: bool = True,
               wave_range=(2550.0, 10000.0), R: float = 200.0, engine_options: Mapping | None = None,
               batch_models: int = 1, seed: int = 0, overwrite: bool = False) -> dict:
    """Build (or resume) an R = 200 dataset of all ``variants`` for every in-coverage node.

    Returns a summary dict: n_nodes, n_skipped_coverage, n_done_before, n_built, n_failed,
    failed (list of model ids), seconds, path.
    """
    from .atmospheres import in_coverage
    from .dataset import REQUIRED_LABELS, DatasetWriter
    from .degrade import csst_grid

    nodes_arr = resolve_nodes(nodes, seed=seed)
    var = resolve_variants(variants)
    # "joint": fresh Latin-hypercube draws per model, seeded by (seed, model_id) -> reproducible
    task_variants = f"joint:{int(seed)}" if variants == "joint" else var
    extra_labels = _extra_label_names(var)
    engine_options = dict(engine_options or {})
    if not isinstance(workers, (int, np.integer)) or workers < 0:
        raise ValueError(f"workers must be a non-negative integer, got {workers!r}")
    if not isinstance(batch_models, (int, np.integer)) or batch_models < 1:
        raise ValueError(f"batch_models must be a positive integer, got {batch_models!r}")
    lo, hi = (float(x) for x in wave_range)
    grid = csst_grid(lo, hi, R)
    engine_name = engine if isinstance(engine, str) else f"custom:{getattr(engine, '__name__', 'engine')}"
    if isinstance(engine, str):
        import inspect

        from .synthesis import get_engine, synthesize_variants

        # unknown engine names and option names fail before any work: the options go to the front door
        # (``synthesize_variants``: line_list, atmosphere, vturb) and on to the engine's keywords
        def keywords(f):
            return {k for k, p in inspect.signature(f).parameters.items() if p.kind == p.KEYWORD_ONLY}
        allowed = (keywords(synthesize_variants) | keywords(get_engine(engine))) - {"wave_range", "engine"}
        unknown = sorted(set(engine_options) - allowed)
        if unknown:
            raise ValueError(f"unknown option(s) {unknown} for engine {engine!r}; it takes {sorted(allowed)}")

    cov = np.asarray(in_coverage(nodes_arr["teff"], nodes_arr["logg"], nodes_arr["feh"]), bool)
    skipped = nodes_arr[~cov]
    todo_all = nodes_arr[cov]
    prov = {
        "engine": engine_name,
        "engine_version": _versions(engine_name).get("engine", "unknown"),
        "versions": _versions(engine_name),
        "data_sha256": data_checksums(),
        "parameters": {"wave_range": [lo, hi], "R": R,
                       "variants": "joint (16 Latin-hypercube draws per model, rng=(seed, model_id))"
                       if variants == "joint" else var, "seed": int(seed),
                       "engine_options": _describe_option(engine_options),
                       "normalisation": "F/Fc with the same atmosphere (paper 2.1)",
                       "degradation": "Gaussian FWHM=lambda/R, +-5 FWHM, Eq. 8 grid (paper 2.2)"},
        "n_nodes_requested": int(nodes_arr.size),
        "n_skipped_coverage": int(skipped.size),
        "skipped_coverage_model_ids": [int(i) for i in skipped["model_id"]],
    }
    t_start = time.perf_counter()
    fail_path = Path(str(out) + ".failures.jsonl")
    failed: list[int] = []
    built = 0
    with DatasetWriter(out, grid, prov, label_names=list(REQUIRED_LABELS) + extra_labels,
                       overwrite=overwrite) as writer:
        if overwrite and fail_path.exists():
            fail_path.unlink()
        done = set(writer.done_models().tolist())
        todo = [n for n in todo_all if int(n["model_id"]) not in done]
        n_done_before = len(todo_all) - len(todo)
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=len(todo_all), initial=n_done_before, desc=f"grid ({engine_name})", unit="model")
        pending: list[dict] = []

        def flush():
            if not pending:
                return
            flux = np.concatenate([r["flux"] for r in pending])
            labels = {k: np.concatenate([r["labels"][k] for r in pending]) for k in pending[0]["labels"]}
            writer.append(flux, labels)
            pending.clear()

        def handle(res: dict):
            nonlocal built
            if "error" in res:
                failed.append(res["model_id"])
                with open(fail_path, "a") as f:
                    f.write(json.dumps({"model_id": res["model_id"], "error": res["error"],
                                        "traceback": res["traceback"], "engine": engine_name,
                                        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n")
            else:
                pending.append(res)
                built += 1
                if len(pending) >= batch_models:
                    flush()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(failed=len(failed))

        args = (task_variants, engine, (lo, hi), grid, R, engine_options)
        try:
            if scheduler == "serial" or workers == 0:
                for n in todo:
                    handle(synthesize_model({k: n[k] for k in n.dtype.names}, *args))
            elif todo:
                from distributed import Client, LocalCluster, as_completed
                cluster = None
                if scheduler is None:
                    import dask
                    with dask.config.set({"distributed.nanny.pre-spawn-environ": WORKER_ENVIRON}):
                        # worker warnings are silenced: at shutdown a worker's last heartbeat can race the
                        # closing scheduler and print a harmless CommClosedError traceback; failures of models
                        # are recorded per model (``failures``), not through Dask's logs
                        cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                               dashboard_address=None, silence_logs=logging.ERROR)
                    client = Client(cluster)
                else:
                    client = Client(scheduler)
                try:
                    futs = [client.submit(synthesize_model, {k: n[k] for k in n.dtype.names}, *args,
                                          key=f"glocal-model-{int(n['model_id'])}-{os.getpid()}", pure=False)
                            for n in todo]
                    for fut in as_completed(futs):
                        handle(fut.result())
                        fut.release()
                finally:
                    client.close()
                    if cluster is not None:
                        cluster.close()
            flush()
        finally:
            if bar is not None:
                bar.close()
            writer.provenance["failures"] = {"n_failed_this_run": len(failed), "failed_model_ids": failed,
                                             "log": fail_path.name}
    return dict(path=str(out), n_nodes=int(nodes_arr.size), n_skipped_coverage=int(skipped.size),
                n_done_before=int(n_done_before), n_built=int(built), n_failed=len(failed),
                failed=failed, seconds=time.perf_counter() - t_start)
