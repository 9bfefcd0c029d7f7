"""Grid building (paper §2.1–2.2): abundance variants per model atmosphere → R = 200 dataset.

For every (Teff, log g, [Fe/H]) node the variants are synthesised on ONE atmosphere
(:func:`glocal.synthesis.synthesize_variants`), normalised (F/F_c, §2.1), degraded to the CSST
grid (Eqs. 8–11, :func:`glocal.degrade.degrade`) and appended to a
:class:`glocal.dataset.DatasetWriter` with labels teff, logg, feh, vturb, ofe, mgfe, model_id.
The physical flux F is degraded too and stored as the dataset's ``/continuum``
C = D[F] / D[F/F_c] (D = the degradation), so that flux · C = D[F] exactly: the R = 200 physical flux
that the flux-calibrated input kind needs (``glocal.observed.normalize``).  C is the R = 200 continuum
D[F_c] up to the non-commutation of D with the division (largest near the Balmer jump).

* Variants: ``"paper"`` (§2.1), a list of dicts, or ``"joint"`` / ``"joint:N"``: N (16) joint
  Latin-hypercube ([O/Fe], [Mg/Fe]) draws, different for every model and reproducible, seeded by
  (seed, model_id).  A preset name as ``nodes`` brings its own variants (``glocal.grid.PRESETS``).

* Parallel: one Dask task per model, on a ``distributed.LocalCluster`` of worker *processes*
  (SMElib serialises threads inside a process); pass ``scheduler="tcp://host:port"`` to use an
  existing cluster, or ``scheduler="serial"`` to run in-process.
* Resumable: models listed as done in the dataset are skipped; the writer's shards make a kill at
  any point safe (no duplicates, no holes: a model is stored with all its variants or not at all).
  The design (preset or custom nodes, the seed where it matters, the variants) is recorded as
  provenance ``design`` and a resume with another design is refused, so a model id always means the
  same atmosphere and variants.  ``limit=N`` builds only the first N in-coverage nodes (a later run
  without it completes the grid).
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._checks import check_wave_range, require_air_linelist
from ._io import json_default, sha256_file
from .grid import GRID_DTYPE
from .synthesis.registry import DEFAULT_ENGINE

#: Environment of the LocalCluster worker processes. Dask's default sets MALLOC_TRIM_THRESHOLD_=65536,
#: which makes glibc hand every freed block back to the kernel; the synthesis engines allocate and free
#: arrays of 1-100 MB per model, so each allocation then costs fresh page faults, most of a worker's
#: time in the built-in engine (benchmarks/worker_malloc.py; measurements in
#: results/benchmarks/build_notes.md). Large mmap/trim thresholds keep freed memory in the process.
WORKER_ENVIRON = {"MALLOC_TRIM_THRESHOLD_": 4 * 2**30, "MALLOC_MMAP_THRESHOLD_": 2**30,
                  "MALLOC_TOP_PAD_": 256 * 2**20, "OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1,
                  "OPENBLAS_NUM_THREADS": 1}

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


#: Largest degraded F/F_c a built model may have (absorption lines only; the margin covers rounding).
MAX_NORMALIZED_FLUX = 1.01


def _joint_count(variants: str) -> int | None:
    """N of ``"joint"`` (16), ``"joint:N"``, ``"joint:N+X…"`` (``grid.parse_joint``); None for other strings."""
    from .grid import parse_joint
    return None if parse_joint(variants) is None else parse_joint(variants)[0]


def resolve_variants(variants) -> list[dict]:
    """``"paper"`` → the 16 variants of §2.1; ``"joint"`` / ``"joint:N"`` → 16 / N Latin-hypercube draws
    of ([O/Fe], [Mg/Fe]) over the paper's span (``glocal.grid.joint_variants``; :func:`build_grid` draws
    them per model, this returns the rng=0 draw); else a list of {element: [X/Fe]} dicts.  O and Mg
    default to 0 in every variant."""
    if isinstance(variants, str):
        from .grid import joint_variants, paper_variants, parse_joint
        if variants == "paper":
            return paper_variants()
        joint = parse_joint(variants)
        if joint is not None:
            return joint_variants(joint[0], rng=0, ranges=joint[1])
        raise ValueError(f"unknown variants {variants!r} (use 'paper', 'joint', 'joint:N', 'joint:N+C' or dicts)")
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


def _versions(engine_version: str) -> dict[str, str]:
    """Versions of the packages a grid depends on, and the engine's (``"engine"``)."""
    import importlib.metadata as md
    out = {}
    for pkg in ("glocal", "numpy", "scipy", "h5py", "dask", "distributed", "pysme-astro"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    out["engine"] = engine_version
    return out


def _custom_engine_name(func: Callable) -> str:
    return f"custom:{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', 'engine')}"


def _engine_name(engine) -> str:
    """Registry name of ``engine``: a registered name, or a function registered (in this process) as a
    custom engine that takes no options (``glocal.synthesis.registry.NoOptions``)."""
    if isinstance(engine, str):
        return engine
    if not callable(engine):
        raise TypeError(f"engine must be a registered name or an engine function, got {engine!r}")
    from .synthesis import available_engines, register_engine
    name = _custom_engine_name(engine)
    if name not in available_engines():
        register_engine(name, engine, version=lambda: "custom engine", description=name)
    return name


def _labels(node: Mapping, variants: Sequence[Mapping], vturb: float) -> dict:
    """Label columns of one model's rows: teff, logg, feh, vturb, ofe, mgfe, model_id, <el>fe."""
    nv = len(variants)
    labels = {
        "teff": np.full(nv, float(node["teff"])), "logg": np.full(nv, float(node["logg"])),
        "feh": np.full(nv, float(node["feh"])), "vturb": np.full(nv, vturb),
        "ofe": np.array([v.get("O", 0.0) for v in variants], float),
        "mgfe": np.array([v.get("Mg", 0.0) for v in variants], float),
        "model_id": np.full(nv, int(node["model_id"]), dtype=np.int64),
    }
    for el in sorted({el for v in variants for el in v} - {"O", "Mg"}):
        labels[f"{el.lower()}fe"] = np.array([v.get(el, 0.0) for v in variants], float)
    return labels


def _model_variants(variants, mid: int) -> list:
    """The variants of model ``mid``: ``variants`` itself, or for ``"joint:<seed>[:<n>[+X…]]"`` the n (16)
    Latin-hypercube draws (ranges of ``glocal.grid.parse_joint``) seeded by (seed, model_id)."""
    if not (isinstance(variants, str) and variants.startswith("joint:")):
        return variants
    from .grid import joint_variants, parse_joint
    parts = variants.split(":")
    n, ranges = parse_joint("joint:" + parts[2] if len(parts) > 2 else "joint")
    return joint_variants(n, rng=np.random.default_rng([int(parts[1]), mid]), ranges=ranges)


def synthesize_model(node: Mapping, variants, engine, wave_range, grid: np.ndarray, R: float,
                     options=None, line_list=None) -> dict:
    """Worker task: all variants of one node → dict(model_id, flux (n_var, n_pix) float32 = D[F/F_c],
    continuum (n_var, n_pix) float32 = D[F] / D[F/F_c] (module docstring), labels, seconds) or
    dict(model_id, error, traceback).  Never raises.

    ``variants``: list of [X/Fe] dicts, or ``"joint:<seed>[:<n>]"`` (n (16) Latin-hypercube draws seeded
    by (seed, model_id)); ``engine``: a registered name or an engine function; ``options``: the engine's
    options (dataclass or mapping); ``grid``: the R = ``R`` output grid (air Å).
    """
    t0, c0 = time.perf_counter(), time.process_time()
    mid = int(node["model_id"])
    try:
        variants = _model_variants(variants, mid)
        from .degrade import degrade
        from .synthesis import synthesize_variants
        vs = synthesize_variants(float(node["teff"]), float(node["logg"]), float(node["feh"]), variants,
                                 wave_range=wave_range, engine=_engine_name(engine), line_list=line_list,
                                 options=options)
        norm = vs.normalized
        if not np.all(np.isfinite(norm)):
            raise RuntimeError("non-finite normalised flux")
        low = np.atleast_2d(degrade(vs.wave, norm, R=R, grid=grid)[1])
        if not np.all(np.isfinite(low)):
            raise RuntimeError("non-finite degraded flux")
        if low.max() > MAX_NORMALIZED_FLUX or low.min() < 0:  # LTE absorption lines only dim the continuum
            v = int(np.argmax(np.maximum(low.max(axis=1) - 1, -low.min(axis=1))))
            raise RuntimeError(f"degraded F/F_c spans {low.min():.4g} to {low.max():.4g}, outside [0, "
                               f"{MAX_NORMALIZED_FLUX}] (variant {v}): not an absorption spectrum")
        phys = np.atleast_2d(degrade(vs.wave, vs.flux, R=R, grid=grid)[1])
        with np.errstate(divide="ignore", invalid="ignore"):
            cont = (phys / low).astype(np.float32)
        if not (np.all(np.isfinite(cont)) and np.all(cont > 0)):
            raise RuntimeError("non-finite or non-positive degraded continuum D[F]/D[F/F_c]")
        return dict(model_id=mid, flux=low.astype(np.float32), continuum=cont,
                    labels=_labels(node, variants, vs.vturb), seconds=time.perf_counter() - t0,
                    cpu_seconds=time.process_time() - c0)
    except Exception as exc:  # recorded by the caller, never silent
        return dict(model_id=mid, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(),
                    seconds=time.perf_counter() - t0)


def _describe_option(value):
    """JSON-safe description of an engine option for the provenance (line lists by size + hash)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.ndarray):
        return {"array_shape": list(value.shape),
                "sha256": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()}
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


def _append_failure(path: Path, res: dict, engine_name: str) -> None:
    """One JSON line per failed model: id, error, traceback, engine, UTC time."""
    record = {"model_id": res["model_id"], "error": res["error"], "traceback": res["traceback"],
              "engine": engine_name, "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with open(path, "a") as f:
        f.write(json.dumps(record, default=json_default) + "\n")


@dataclass
class _Plan:
    """Everything a build needs, validated before any work."""
    nodes: np.ndarray
    variants: list
    task_variants: object
    engine: object
    engine_name: str
    options: object
    line_list: object
    lo: float
    hi: float
    R: float
    grid: np.ndarray
    covered: np.ndarray
    provenance: dict


def _check_positive_ints(workers, batch_models) -> None:
    if not isinstance(workers, (int, np.integer)) or isinstance(workers, bool) or workers < 0:
        raise ValueError(f"workers must be a non-negative integer, got {workers!r}")
    if not isinstance(batch_models, (int, np.integer)) or isinstance(batch_models, bool) or batch_models < 1:
        raise ValueError(f"batch_models must be a positive integer, got {batch_models!r}")


def _design(nodes_arg, variants_arg, variants: list, seed: int) -> dict:
    """What fixes the meaning of a model id in a dataset: the nodes (a preset name or "custom"), the
    variants spec and the seed where it matters (a sampled preset or joint variants), else None."""
    joint = isinstance(variants_arg, str) and _joint_count(variants_arg) is not None
    sampled = isinstance(nodes_arg, str) and nodes_arg != "paper"
    return {"nodes": nodes_arg if isinstance(nodes_arg, str) else "custom",
            "variants": variants_arg if isinstance(variants_arg, str) else variants,
            "seed": int(seed) if (joint or sampled) else None}


def _provenance(plan: _Plan, variants_arg, seed: int, version: str) -> dict:
    skipped = plan.nodes[~plan.covered]
    from .grid import parse_joint
    joint = parse_joint(variants_arg) if isinstance(variants_arg, str) else None
    params = {"wave_range": [plan.lo, plan.hi], "R": plan.R, "seed": int(seed),
              "variants": f"joint ({joint[0]} Latin-hypercube draws per model of [X/Fe] in {joint[1]}, "
                          "rng=(seed, model_id))" if joint is not None else plan.variants,
              "engine_options": _describe_option(plan.options.as_dict()),
              "normalisation": "F/Fc with the same atmosphere (paper 2.1)",
              "continuum": "D[F]/D[F/Fc] (R=200): flux * continuum = the degraded physical flux D[F]",
              "degradation": "Gaussian FWHM=lambda/R, +-5 FWHM, Eq. 8 grid (paper 2.2)"}
    if plan.line_list is not None:
        params["line_list"] = _describe_option(plan.line_list)
    return {"engine": plan.engine_name, "engine_version": version, "versions": _versions(version),
            "data_sha256": data_checksums(), "parameters": params,
            "n_nodes_requested": int(plan.nodes.size), "n_skipped_coverage": int(skipped.size),
            "skipped_coverage_model_ids": [int(i) for i in skipped["model_id"]]}


def _plan(nodes, engine, variants, wave_range, R, engine_options, line_list, seed) -> _Plan:
    """Resolve and validate the nodes, variants, engine and options, the output grid and the coverage;
    unknown engines and options fail here, before any work."""
    from .atmospheres import in_coverage
    from .degrade import csst_grid
    from .synthesis import get_engine
    if variants is None:
        from .grid import preset_variants
        variants = preset_variants(nodes) if isinstance(nodes, str) else "paper"
    nodes_arr = resolve_nodes(nodes, seed=seed)
    var = resolve_variants(variants)
    lo, hi = check_wave_range(wave_range)
    if line_list is not None:
        require_air_linelist(line_list, "build_grid")
    name = _engine_name(engine)
    spec = get_engine(name)
    options = spec.options(engine_options)
    try:
        version = spec.version()
    except Exception as exc:  # recorded, not fatal: the engine may still fail per model, and say why
        version = f"unknown ({type(exc).__name__}: {exc})"
    cov = np.asarray(in_coverage(nodes_arr["teff"], nodes_arr["logg"], nodes_arr["feh"]), bool)
    # "joint[:N]": fresh Latin-hypercube draws per model, seeded by (seed, model_id) -> reproducible
    n_joint = _joint_count(variants) if isinstance(variants, str) else None
    task_variants = f"joint:{int(seed)}:{variants.partition(':')[2] or n_joint}" if n_joint is not None else var
    plan = _Plan(nodes_arr, var, task_variants, engine, name, options,
                 line_list, lo, hi, float(R), csst_grid(lo, hi, R), cov, {})
    plan.provenance = _provenance(plan, variants, seed, version)
    plan.provenance["design"] = _design(nodes, variants, var, seed)
    return plan


def _run_tasks(todo, args, handle, workers, scheduler) -> None:
    """``synthesize_model`` on every node of ``todo`` (serial, or one Dask task per model), results to
    ``handle`` as they come."""
    if scheduler == "serial" or workers == 0:
        for n in todo:
            handle(synthesize_model({k: n[k] for k in n.dtype.names}, *args))
        return
    if not todo:
        return
    from distributed import Client, LocalCluster, as_completed
    cluster = None
    if scheduler is None:
        import dask
        with dask.config.set({"distributed.nanny.pre-spawn-environ": WORKER_ENVIRON}):
            # worker logs below CRITICAL are silenced: at shutdown a worker's last heartbeat can race the
            # closing scheduler and log a harmless CommClosedError traceback at ERROR level; failures of
            # models are recorded per model (``failures``), not through Dask's logs
            cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.CRITICAL)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futs = [client.submit(synthesize_model, {k: n[k] for k in n.dtype.names}, *args,
                              key=f"glocal-model-{int(n['model_id'])}-{os.getpid()}", pure=False) for n in todo]
        for fut in as_completed(futs):
            handle(fut.result())
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


class _Collector:
    """Writes finished models to the dataset in batches of ``batch_models`` and failures to the log."""

    def __init__(self, writer, fail_path: Path, engine_name: str, batch_models: int, bar):
        self.writer, self.fail_path, self.engine_name = writer, fail_path, engine_name
        self.batch_models, self.bar = batch_models, bar
        self.pending: list[dict] = []
        self.failed: list[int] = []
        self.built, self.cpu_seconds = 0, 0.0

    def flush(self) -> None:
        if not self.pending:
            return
        flux = np.concatenate([r["flux"] for r in self.pending])
        labels = {k: np.concatenate([r["labels"][k] for r in self.pending]) for k in self.pending[0]["labels"]}
        cont = np.concatenate([r["continuum"] for r in self.pending]) if self.writer.continuum else None
        self.writer.append(flux, labels, continuum=cont)
        self.pending.clear()

    def __call__(self, res: dict) -> None:
        if "error" in res:
            self.failed.append(res["model_id"])
            _append_failure(self.fail_path, res, self.engine_name)
        else:
            self.pending.append(res)
            self.built += 1
            self.cpu_seconds += res.get("cpu_seconds", 0.0)
            if len(self.pending) >= self.batch_models:
                self.flush()
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(failed=len(self.failed))


def build_grid(nodes="ci", out="grid.h5", *, engine: str | Callable = DEFAULT_ENGINE, workers: int = 2,
               scheduler: str | None = None, variants=None, progress: bool = True,
               wave_range=(2550.0, 10000.0), R: float = 200.0, engine_options=None, line_list=None,
               batch_models: int = 1, seed: int = 0, overwrite: bool = False, limit: int | None = None) -> dict:
    """Build (or resume) an R = 200 dataset of all ``variants`` for every in-coverage node.

    ``nodes``: a preset name (``glocal.grid.PRESETS``) or nodes (:func:`resolve_nodes`); ``variants``:
    None = the preset's own (``"paper"`` for explicit nodes), ``"paper"``, ``"joint"``, ``"joint:N"``
    or a list of dicts (:func:`resolve_variants`).  ``engine``: a registered engine name (default the
    built-in one) or an engine function (contract of ``glocal.synthesis.contract``, taking no options);
    ``engine_options``: its options dataclass or a mapping (unknown names fail at once, listing the
    valid ones); ``line_list``: a ``LineList`` for every model (default: the built-in list).
    ``limit``: build at most the first ``limit`` in-coverage nodes (in model order; None = all).
    New files store ``/continuum``; resuming a file written without it continues without it.
    Returns a summary dict: n_nodes, n_skipped_coverage, n_done_before, n_built, n_failed, failed
    (list of model ids), seconds (wall), cpu_seconds (process CPU time of the built models' tasks), path.
    """
    from .dataset import REQUIRED_LABELS, DatasetWriter
    _check_positive_ints(workers, batch_models)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    plan = _plan(nodes, engine, variants, wave_range, R, engine_options, line_list, seed)
    todo_all = plan.nodes[plan.covered][:limit]
    t_start = time.perf_counter()
    fail_path = Path(str(out) + ".failures.jsonl")
    labels = list(REQUIRED_LABELS) + _extra_label_names(plan.variants)
    with DatasetWriter(out, plan.grid, plan.provenance, label_names=labels, overwrite=overwrite,
                       continuum=None, match_provenance=("design",)) as writer:
        if overwrite and fail_path.exists():
            fail_path.unlink()
        done = set(writer.done_models().tolist())
        todo = [n for n in todo_all if int(n["model_id"]) not in done]
        n_done_before = len(todo_all) - len(todo)
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=len(todo_all), initial=n_done_before, desc=f"grid ({plan.engine_name})", unit="model")
        collect = _Collector(writer, fail_path, plan.engine_name, batch_models, bar)
        args = (plan.task_variants, plan.engine, (plan.lo, plan.hi), plan.grid, plan.R, plan.options, plan.line_list)
        try:
            _run_tasks(todo, args, collect, workers, scheduler)
            collect.flush()
        finally:
            if bar is not None:
                bar.close()
            writer.provenance["failures"] = {"n_failed_this_run": len(collect.failed),
                                             "failed_model_ids": collect.failed, "log": fail_path.name}
    return dict(path=str(out), n_nodes=int(plan.nodes.size), n_skipped_coverage=int((~plan.covered).sum()),
                n_done_before=int(n_done_before), n_built=int(collect.built), n_failed=len(collect.failed),
                failed=collect.failed, seconds=time.perf_counter() - t_start, cpu_seconds=collect.cpu_seconds)
