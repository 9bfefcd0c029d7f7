"""Learning curves: test error of the five methods against the number of training spectra.

The paper trains on about 1.5 × 10⁵ spectra (80 % of 11 763 × 16 ≈ 1.88 × 10⁵, §2.1 and §3.3); every
scale this project runs on CPUs is one to three orders of magnitude smaller. A learning curve measures
how the mean absolute error (Eq. 18) and σ (Eq. 19) of each method fall with the training-set size
``n``, and :func:`fit_power_law` extrapolates them.

Protocol (:func:`run_learning_curves`):

* one train/validation/test split of the grid (:func:`glocal.splits.split_indices`, "random" 80/10/10
  over spectra as the paper, or "grouped" by atmosphere), drawn with ``split_seed`` and fixed for every
  size and seed: all fits are tested on the same noiseless test spectra and the networks stop early on
  the same validation spectra;
* the training part is permuted once per ``seed`` (``numpy.random.default_rng(seed)``) and the size-``n``
  subset is its first ``n`` rows, so the subsets of one seed are nested (:func:`nested_subsets`);
  ``seed`` also seeds the estimator (network initialisation and batches, tree subsampling);
* one record per (method, config, band, split, n_train, seed, label) is appended to ``out_json`` and
  the file is rewritten atomically after every finished fit, so a run can be stopped and resumed in
  another session and loses at most the fit in progress (network fits can also checkpoint each epoch).

The power law (:func:`fit_power_law`) is ``MAE(n) = a · n^(−b) + c`` fitted to the seed-averaged points
in log space (equal relative weight per size). ``c`` is the error floor that more spectra of the same
grid cannot remove (label degeneracies, the network's or trees' bias). With few sizes, or when the
fitted ``c`` is not significantly above zero, ``c`` and ``a``, ``b`` are degenerate, and the pure power
law ``a · n^(−b)`` is used instead; the record says which (``floor``) and why (``reason``). The pure law
falls to zero and is the optimistic extrapolation; the floor form is the conservative one.
"""
from __future__ import annotations

import shutil
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._io import read_json, write_json
from .dataset import _git_commit as git_commit

__all__ = ["N_PAPER_TRAIN", "NETWORKS", "TREES", "KEY_FIELDS", "records_path", "nested_subsets",
           "resolve_sizes", "load_records", "run_learning_curves", "PowerLaw", "fit_power_law",
           "crossover", "project", "mean_curve", "summary"]

#: training spectra of the paper: 80 % of its 11 763 × 16 spectra (§2.1, §3.3)
N_PAPER_TRAIN = int(round(0.8 * 11_763 * 16))
NETWORKS = ("spt-glocal", "spt")
TREES = ("xgboost", "lightgbm", "catboost")
#: the fields that identify one fit (a record adds ``label``)
KEY_FIELDS = ("method", "config", "band", "split", "n_train", "seed")
TREE_CONFIG = "default"
N_REF = 1000.0  # the fit's reference size: a is fitted as a·(n/N_REF)^(-b), reported for n^(-b)


def records_path(scale: str, root=None) -> Path:
    """``results/<scale>/learning_curves.json`` (``root`` replaces the repository's ``results``)."""
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1] / "results"
    return root / scale / "learning_curves.json"


# ----------------------------------------------------------------------------- subsets
def nested_subsets(train_rows, sizes: Sequence[int], seed: int) -> dict[int, np.ndarray]:
    """``{n: rows}``: the first ``n`` rows of the training part permuted with ``seed``.

    The subsets of one seed are nested (the size-``n`` subset holds every smaller one). ValueError
    when a size exceeds the training part or is < 1.
    """
    rows = np.asarray(train_rows, dtype=np.int64)
    order = rows[np.random.default_rng(int(seed)).permutation(rows.size)]
    out = {}
    for n in sizes:
        if not 1 <= int(n) <= rows.size:
            raise ValueError(f"training size {n} outside [1, {rows.size}] (the training part)")
        out[int(n)] = order[:int(n)]
    return out


def resolve_sizes(sizes, n_available: int) -> tuple[list[int], list[int]]:
    """``(kept, dropped)``: sorted unique sizes; "all" (or 0) means the whole training part,
    sizes above ``n_available`` are dropped (returned in the second list)."""
    kept, dropped = set(), set()
    for s in sizes:
        n = n_available if (isinstance(s, str) and s.lower() == "all") or int(s) == 0 else int(s)
        if n < 1:
            raise ValueError(f"training sizes must be >= 1 or 'all', got {s!r}")
        (kept if n <= n_available else dropped).add(n)
    return sorted(kept), sorted(dropped)


# ----------------------------------------------------------------------------- records
def load_records(path) -> list[dict]:
    """The records of ``path`` (a JSON list), ``[]`` when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    recs = read_json(path, "learning-curve records")
    if not isinstance(recs, list):
        raise ValueError(f"{path}: expected a JSON list of records")
    return recs


def _done(records: list[dict], labels) -> set:
    have = defaultdict(set)
    for r in records:
        have[tuple(r[k] for k in KEY_FIELDS)].add(r["label"])
    return {k for k, v in have.items() if set(labels) <= v}


def _configs(configs) -> dict:
    if isinstance(configs, str):
        return {configs: configs}
    if isinstance(configs, Mapping):
        return dict(configs)
    return {str(c): c for c in configs}


# ----------------------------------------------------------------------------- running
def _fit_one(method, config, xs, ys, *, seed, labels, train_options, threads, checkpoint_dir, device):
    """``(estimator, seconds, epochs)`` fitted on ``xs = (train, val)``; seconds = max(wall, Σ epoch times)."""
    from .models import estimator_class
    cls = estimator_class(method)
    if method in TREES:
        hyper = {"seed": int(seed), "label_names": list(labels), **({"n_jobs": int(threads)} if threads else {})}
        est, _ = cls.from_run_config("default", len(labels), **hyper)
    else:
        hyper = {**(train_options or {}), "seed": int(seed), "label_names": list(labels), "device": device,
                 "progress": False, "checkpoint_dir": checkpoint_dir}
        est, _ = cls.from_run_config(config, len(labels), **hyper)
    t0 = time.perf_counter()
    est.fit(xs[0], ys[0], X_val=xs[1], y_val=ys[1])
    seconds, run = time.perf_counter() - t0, (est.training_ or {}) if method in NETWORKS else {}
    seconds = max(seconds, sum(float(h.get("seconds", 0.0)) for h in run.get("history") or []))
    return est, seconds, run.get("epochs_run")


def _tasks(methods, configs, bands, splits, sizes_by_split, seeds, extra_seeds_up_to) -> list[tuple]:
    """(n, seed, split, band, method, config name): the small sizes of every curve first; the seeds after
    the first only at sizes ≤ ``extra_seeds_up_to`` (all sizes when None)."""
    out = []
    for split in splits:
        for n in sizes_by_split[split]:
            for k, seed in enumerate(seeds):
                if k and extra_seeds_up_to is not None and n > extra_seeds_up_to:
                    continue
                for band in bands:
                    for method in methods:
                        for name in (configs if method in NETWORKS else [TREE_CONFIG]):
                            out.append((n, int(seed), split, band, method, name))
    return sorted(out, key=lambda t: (t[0], t[1], t[2], t[3], t[4], t[5]))


def _open_grid(grid):
    """``(dataset, name)``: a path is read (its file name names the grid), a Dataset is used as it is."""
    from .dataset import load_dataset
    from .dataset_reader import Dataset
    if isinstance(grid, Dataset):
        return grid, "in-memory"
    return load_dataset(grid), Path(grid).name


def _plan(ds, records, *, methods, configs, bands, splits, sizes, sizes_by_split, seeds, extra_seeds_up_to,
          labels, split_seed, fractions, log) -> tuple[dict, list[tuple]]:
    """The fixed split of each kind and the fits still to run (logging what is skipped)."""
    from .splits import split_indices
    parts = {s: split_indices(ds, kind=s, fractions=fractions, seed=split_seed) for s in splits}
    plan_sizes = {}
    for s in splits:
        plan_sizes[s], dropped = resolve_sizes((sizes_by_split or {}).get(s, sizes), len(parts[s]["train"]))
        if dropped:
            log(f"split {s}: sizes {dropped} exceed the training part ({len(parts[s]['train'])}); skipped")
    tasks = _tasks(methods, configs, bands, splits, plan_sizes, seeds, extra_seeds_up_to)
    done = _done(records, labels)
    todo = [t for t in tasks if (t[4], t[5], t[3], t[2], t[0], t[1]) not in done]
    if len(todo) < len(tasks):
        log(f"{len(tasks) - len(todo)} of {len(tasks)} fits already recorded; skipped")
    return parts, todo


def run_learning_curves(grid, *, methods: Sequence[str], sizes, out_json, bands=("full",), splits=("random",),
                        seeds=(0,), configs="cpu", train_options: Mapping | None = None,
                        sizes_by_split: Mapping | None = None, extra_seeds_up_to: int | None = None,
                        labels=("ofe", "mgfe"), split_seed: int = 0, fractions=(0.8, 0.1, 0.1),
                        threads: int | None = None, checkpoint_root=None, device: str = "auto",
                        progress: bool = True, dry_run: bool = False, log: Callable[[str], None] = print
                        ) -> list[dict]:
    """Train and test every (method, config, band, split, n_train, seed) not yet in ``out_json``.

    ``grid``: a dataset path (or :class:`glocal.dataset.Dataset`); ``methods``: names of
    :data:`glocal.models.ESTIMATOR_NAMES`; ``sizes``: training sizes (ints, "all" = the whole training
    part; sizes above it are skipped with a message), ``sizes_by_split`` optionally replaces them per split
    (e.g. fewer sizes for "grouped"); ``seeds``: subset permutations and estimator seeds, the ones after the
    first only at sizes ≤ ``extra_seeds_up_to`` (when given); ``configs``: the networks' architecture, a
    name ("cpu", "paper"), a list of names or ``{name: dict}`` (the trees use their defaults, recorded as
    config "default"); ``train_options``: the networks' training hyper-parameters (max_epochs, lr,
    batch_size, patience, ...); ``threads``: torch threads and tree ``n_jobs``; ``checkpoint_root``: network
    fits write per-epoch checkpoints to a folder below it (resumed after a kill, removed once the fit is
    recorded; a resumed fit's ``train_seconds`` include its earlier processes' epochs); ``dry_run``: log the
    fits to run and return. Appends per label a record ``{method, config, band, split, label, n_train, seed,
    mae, sigma, bias, n_test, n_val, epochs, max_epochs, train_seconds, grid, git_commit}`` (σ: Eq. 19, N − 1;
    ``epochs``: epochs run, None for the trees) and rewrites ``out_json`` atomically after every fit.
    Returns all records of ``out_json``. ValueError when ``out_json`` holds records of another grid.
    """
    ds, grid_name = _open_grid(grid)
    out_json = Path(out_json)
    records = load_records(out_json)
    other = {r.get("grid") for r in records} - {grid_name}
    if other:
        raise ValueError(f"{out_json} holds records of grid(s) {sorted(other)}, not {grid_name}: "
                         "use another output file")
    configs, labels = _configs(configs), list(labels)
    parts, todo = _plan(ds, records, methods=methods, configs=configs, bands=bands, splits=splits, sizes=sizes,
                        sizes_by_split=sizes_by_split, seeds=seeds, extra_seeds_up_to=extra_seeds_up_to,
                        labels=labels, split_seed=split_seed, fractions=fractions, log=log)
    if dry_run:
        for t in todo:
            log("to fit: n={} seed={} split={} band={} method={} config={}".format(*t))
        return records
    if threads:
        import torch
        torch.set_num_threads(int(threads))
    from tqdm.auto import tqdm
    ctx = {"ds": ds, "y": ds.label_matrix(labels), "labels": labels, "grid": grid_name, "commit": git_commit(),
           "configs": configs, "train_options": dict(train_options or {}), "threads": threads, "device": device}
    for task in tqdm(todo, desc="learning curves", unit="fit", disable=not progress):
        ckpt = None
        if checkpoint_root is not None and task[4] in NETWORKS:
            ckpt = Path(checkpoint_root) / "{4}-{5}-{3}-{2}-n{0}-s{1}".format(*task)
        records += _fit_records(task, parts[task[2]], ctx, ckpt)
        write_json(out_json, records)
        if ckpt is not None:
            shutil.rmtree(ckpt, ignore_errors=True)
    return records


def _fit_records(task: tuple, part: dict, ctx: dict, ckpt) -> list[dict]:
    """Fit one task on its nested subset, test it; one record per label."""
    from .degrade import band_mask
    from .evaluation import regression_metrics
    n, seed, split, band, method, name = task
    ds, y, labels = ctx["ds"], ctx["y"], ctx["labels"]
    rows = nested_subsets(part["train"], [n], seed)[n]
    va, te = part["val"], part["test"]
    x = ds.flux[:, band_mask(ds.wave, band)]
    est, seconds, epochs = _fit_one(method, ctx["configs"].get(name), (x[rows], x[va]), (y[rows], y[va]),
                                    seed=seed, labels=labels, train_options=ctx["train_options"],
                                    threads=ctx["threads"], checkpoint_dir=ckpt, device=ctx["device"])
    metrics = regression_metrics(y[te], est.predict(x[te]), labels)
    max_epochs = ctx["train_options"].get("max_epochs") if method in NETWORKS else None
    return [{"method": method, "config": name, "band": band, "split": split, "label": label,
             "n_train": int(n), "seed": int(seed), "mae": metrics[label]["mae"], "sigma": metrics[label]["sigma"],
             "bias": metrics[label]["bias"], "n_test": metrics[label]["n"], "n_val": int(len(va)),
             "epochs": epochs, "max_epochs": max_epochs, "train_seconds": round(seconds, 2), "grid": ctx["grid"],
             "git_commit": ctx["commit"]} for label in labels]


# ----------------------------------------------------------------------------- power laws
@dataclass
class PowerLaw:
    """A fitted ``MAE(n) = a · n^(−b) + c`` (``c = 0`` when ``floor`` is False) of one curve.

    ``key``: method, config, band, split, label; ``n``, ``mae``: the seed-averaged points fitted,
    ``n_seeds`` per size; ``params``: (a, b, c) and ``errors`` their 1σ (from ``samples``);
    ``samples``: (k, 3) parameter draws (covariance or bootstrap) for intervals of derived numbers.
    """

    key: dict
    n: np.ndarray
    mae: np.ndarray
    n_seeds: np.ndarray
    params: tuple
    errors: tuple
    floor: bool
    reason: str
    method: str
    samples: np.ndarray = field(repr=False)

    def __call__(self, n) -> np.ndarray:
        return _law(np.asarray(n, float), *self._ref(np.asarray(self.params)[None])[0])

    def sample_curves(self, n) -> np.ndarray:
        """(k, len(n)) MAE of every parameter draw at ``n``."""
        n = np.atleast_1d(np.asarray(n, float))
        ref = self._ref(self.samples)
        return _law(n[None, :], ref[:, :1], ref[:, 1:2], ref[:, 2:3])

    @staticmethod
    def _ref(p: np.ndarray) -> np.ndarray:
        """(a, b, c) → (a at N_REF, b, c) rows."""
        return np.stack([p[:, 0] * N_REF ** (-p[:, 1]), p[:, 1], p[:, 2]], axis=1)

    def to_dict(self) -> dict:
        (a, b, c), (da, db, dc) = self.params, self.errors
        return {**self.key, "a": a, "a_err": da, "b": b, "b_err": db, "c": c, "c_err": dc, "floor": self.floor,
                "reason": self.reason, "uncertainty": self.method, "sizes": self.n.tolist(),
                "mae_mean": self.mae.tolist(), "n_seeds": self.n_seeds.tolist()}


def _law(n, a_ref, b, c):
    return a_ref * (n / N_REF) ** (-b) + c


def _curve_fit(n, mae, floor: bool):
    """Least squares of log MAE with parameters (log a_ref, b[, c]); ``(popt, pcov)`` in those."""
    from scipy.optimize import OptimizeWarning, curve_fit
    logn, logy = np.log(n / N_REF), np.log(mae)
    if floor:
        f = lambda x, la, b, c: np.log(np.exp(la - b * x) + c)  # noqa: E731
        cmax = 0.999 * float(np.min(mae))
        p0 = (np.log(max(mae[0] - 0.5 * cmax, 1e-6)) + 0.5 * logn[0], 0.5, 0.5 * cmax)
        bounds = ([-30, -1, 0], [30, 4, cmax])
    else:
        f = lambda x, la, b: la - b * x  # noqa: E731
        p0, bounds = (float(np.mean(logy)), 0.3), ([-30, -1], [30, 4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)  # as many points as parameters: pcov is inf
        popt, pcov = curve_fit(f, logn, logy, p0=p0, bounds=bounds, maxfev=20000)
    return popt, pcov


def _to_abc(p: np.ndarray, floor: bool) -> np.ndarray:
    """Rows (log a_ref, b[, c]) → (a, b, c) of ``a · n^(−b) + c``."""
    p = np.atleast_2d(p)
    c = p[:, 2] if floor else np.zeros(len(p))
    return np.stack([np.exp(p[:, 0]) * N_REF ** p[:, 1], p[:, 1], c], axis=1)


def _seed_means(recs: list[dict], metric: str):
    by_n = defaultdict(list)
    for r in recs:
        by_n[r["n_train"]].append(r[metric])
    n = np.array(sorted(by_n), float)
    return n, np.array([np.mean(by_n[k]) for k in n]), np.array([len(by_n[k]) for k in n]), by_n


def _fit_curve(recs, key, *, floor, uncertainty, n_samples, rng, metric, min_floor_sizes):
    n, mae, counts, by_n = _seed_means(recs, metric)
    if floor == "auto":
        use_floor, reason = False, f"{n.size} sizes: too few to constrain a floor (needs {min_floor_sizes})"
        if n.size >= min_floor_sizes:
            p, cov = _curve_fit(n, mae, True)
            dc = float(np.sqrt(cov[2, 2])) if np.isfinite(cov[2, 2]) else np.inf
            use_floor = bool(p[2] > 2 * dc and p[2] > 0.05 * mae.min())
            reason = f"floor c = {p[2]:.4f} ± {dc:.4f} " + ("is > 2σ and > 5 % of the smallest MAE" if use_floor
                                                            else "is not both > 2σ and > 5 % of the smallest MAE")
    else:
        use_floor, reason = bool(floor), "floor fitted (requested)" if floor else "pure power law (requested)"
    if n.size < 2 + use_floor:
        raise ValueError(f"{key}: {n.size} sizes cannot constrain {2 + use_floor} parameters")
    popt, pcov = _curve_fit(n, mae, use_floor)
    if uncertainty == "bootstrap":
        draws = []
        for _ in range(n_samples):
            m = np.array([np.mean(rng.choice(by_n[k], len(by_n[k]))) for k in n])
            try:
                draws.append(_curve_fit(n, m, use_floor)[0])
            except (RuntimeError, ValueError):
                continue
        draws = np.array(draws)
    elif uncertainty == "covariance":
        draws = (rng.multivariate_normal(popt, pcov, n_samples, check_valid="ignore")
                 if np.all(np.isfinite(pcov)) else np.full((n_samples, popt.size), np.nan))
        if use_floor:
            draws[:, 2] = np.clip(draws[:, 2], 0, None)
    else:
        raise ValueError(f"uncertainty must be 'covariance' or 'bootstrap', got {uncertainty!r}")
    params, samples = _to_abc(popt, use_floor)[0], _to_abc(draws, use_floor)
    errors = tuple(float(e) if np.isfinite(e) else float("inf") for e in np.nanstd(samples, axis=0)) \
        if np.isfinite(samples).any() else (float("inf"),) * 3
    return PowerLaw(key, n, mae, counts, tuple(float(v) for v in params), errors, use_floor, reason,
                    uncertainty, samples)


def fit_power_law(records: Sequence[Mapping], *, floor="auto", uncertainty: str = "covariance",
                  n_samples: int = 2000, seed: int = 0, metric: str = "mae",
                  min_floor_sizes: int = 5) -> dict[tuple, PowerLaw]:
    """:class:`PowerLaw` per (method, config, band, split, label) of ``records`` (seed-averaged).

    ``floor``: "auto" (the floor model ``a·n^(−b) + c`` when there are ≥ ``min_floor_sizes`` sizes and its
    ``c`` is more than 2σ above zero and above 5 % of the smallest MAE, else ``a·n^(−b)``), True or False.
    It minimises the squared log residuals (``curve_fit``), ``b`` in [−1, 4] and ``0 ≤ c < min MAE``.
    ``uncertainty``: "covariance" (``n_samples`` draws from the fit's covariance, scaled by the residual
    variance) or "bootstrap" (seeds resampled per size and refitted; sizes with one seed add no spread).
    ``metric``: "mae" or "sigma". Curves with fewer than 2 sizes, or whose fit does not converge (a
    RuntimeWarning), are left out.
    """
    groups = defaultdict(list)
    for r in records:
        groups[(r["method"], r["config"], r["band"], r["split"], r["label"])].append(r)
    rng = np.random.default_rng(seed)
    out = {}
    for gk, recs in sorted(groups.items()):
        if len({r["n_train"] for r in recs}) < 2:
            continue
        key = dict(zip(("method", "config", "band", "split", "label"), gk))
        try:
            out[gk] = _fit_curve(recs, key, floor=floor, uncertainty=uncertainty, n_samples=n_samples, rng=rng,
                                 metric=metric, min_floor_sizes=min_floor_sizes)
        except RuntimeError as exc:  # curve_fit did not converge
            warnings.warn(f"no power law for {gk}: {exc}", RuntimeWarning, stacklevel=2)
    return out


def _interval(values: np.ndarray, level: float) -> tuple:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return None, None
    lo, hi = np.quantile(v, [0.5 - level / 2, 0.5 + level / 2])
    return float(lo), float(hi)


def project(fit: PowerLaw, n: float = N_PAPER_TRAIN, level: float = 0.68) -> dict:
    """The fitted MAE at ``n`` (default: the paper's training set) with its central ``level`` interval
    over the parameter draws: ``{n, mae, lo, hi, floor}``."""
    lo, hi = _interval(fit.sample_curves([n])[:, 0], level)
    return {"n": float(n), "mae": float(fit(n)[()]), "lo": lo, "hi": hi, "floor": bool(fit.floor)}


def _first_crossing(diff: np.ndarray, grid: np.ndarray) -> float:
    """First n of ``grid`` (log-interpolated) where ``diff`` turns ≤ 0 after being > 0; grid[0] when
    it starts ≤ 0, inf when it never does."""
    below = diff <= 0
    if below[0]:
        return float(grid[0])
    i = np.argmax(below)
    if not below[i]:
        return np.inf
    t = diff[i - 1] / (diff[i - 1] - diff[i])
    return float(np.exp(np.log(grid[i - 1]) + t * (np.log(grid[i]) - np.log(grid[i - 1]))))


def crossover(network: PowerLaw, trees: Sequence[PowerLaw], *, n_range=(100, 1e7), level: float = 0.68,
              points: int = 600) -> dict | None:
    """Where ``network``'s fitted curve first goes below the lowest of the ``trees``' curves.

    Searched on ``points`` log-spaced sizes in ``n_range``. None when the central curves do not cross
    there; otherwise ``{n, lo, hi, probability, best_tree, status}``: ``status`` "crosses", or "below"
    when the network is already lower at ``n_range[0]`` (``n`` is then ``n_range[0]``); ``lo``/``hi``: the
    central ``level`` interval of the crossing over the parameter draws (None when the upper end lies
    beyond ``n_range``); ``probability``: the fraction of draws that cross within ``n_range``; ``best_tree``:
    the tree lowest at the crossing."""
    if not trees:
        raise ValueError("crossover needs at least one tree curve")
    grid = np.geomspace(n_range[0], n_range[1], points)
    tree_c = np.array([t(grid) for t in trees])
    n_star = _first_crossing(network(grid) - tree_c.min(axis=0), grid)
    if not np.isfinite(n_star):
        return None
    k = min(len(network.samples), *(len(t.samples) for t in trees))
    env = np.min([t.sample_curves(grid)[:k] for t in trees], axis=0)
    net = network.sample_curves(grid)[:k]
    draws = np.array([_first_crossing(net[j] - env[j], grid) if np.isfinite(net[j]).all()
                      and np.isfinite(env[j]).all() else np.nan for j in range(k)])
    valid = np.sort(draws[~np.isnan(draws)])                 # inf: no crossing within n_range
    prob = float(np.isfinite(valid).mean()) if valid.size else float("nan")
    lo = hi = None
    if valid.size:
        qlo, qhi = (valid[int(round(q * (valid.size - 1)))] for q in (0.5 - level / 2, 0.5 + level / 2))
        lo, hi = (float(q) if np.isfinite(q) else None for q in (qlo, qhi))
    best = trees[int(np.argmin([t(n_star) for t in trees]))].key["method"]
    return {"n": n_star, "lo": lo, "hi": hi, "probability": prob, "best_tree": best,
            "status": "below" if n_star == grid[0] else "crosses"}


def mean_curve(records: Sequence[Mapping], metric: str = "mae") -> dict[tuple, tuple]:
    """``{(method, config, band, split, label): (n, seed mean, per-seed (n, value) pairs)}``."""
    groups = defaultdict(list)
    for r in records:
        groups[(r["method"], r["config"], r["band"], r["split"], r["label"])].append(r)
    out = {}
    for gk, recs in groups.items():
        n, m, _, _ = _seed_means(recs, metric)
        out[gk] = (n, m, np.array([(r["n_train"], r[metric]) for r in recs], float))
    return out


def summary(fits: Mapping[tuple, PowerLaw], *, n: float = N_PAPER_TRAIN, n_range=(100, 1e7),
            level: float = 0.68) -> tuple[list[dict], list[dict]]:
    """``(curves, crossovers)`` tables of ``fits``: per curve its parameters and :func:`project` at ``n``
    (keys ``mae_at_n``, ``lo``, ``hi``); per network curve its :func:`crossover` with the tree curves of the
    same band, split and label, searched from the smallest measured size (not extrapolated below it) to
    ``n_range[1]`` (``n`` None and ``status`` "never" when the curves do not cross there)."""
    curves = []
    for f in fits.values():
        pr = project(f, n, level)
        curves.append({**f.to_dict(), "n_projection": pr["n"], "mae_at_n": pr["mae"], "lo": pr["lo"], "hi": pr["hi"]})
    cross = []
    for (method, config, band, split, label), f in fits.items():
        if method not in NETWORKS:
            continue
        trees = [t for (m, _, b, s, lab), t in fits.items() if m in TREES and (b, s, lab) == (band, split, label)]
        if not trees:
            continue
        start = max(n_range[0], float(min(f.n.min(), *(t.n.min() for t in trees))))
        c = crossover(f, trees, n_range=(start, n_range[1]), level=level)
        cross.append({"method": method, "config": config, "band": band, "split": split, "label": label,
                      **(c or {"n": None, "lo": None, "hi": None, "probability": None,
                               "best_tree": None, "status": "never"})})
    return curves, cross
