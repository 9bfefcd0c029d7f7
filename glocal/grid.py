"""The paper's model grid, microturbulence law and abundance variants (paper §2.1, Eqs 4–7).

Grid (§2.1): Teff 3500–6000 K in 100 K steps then 250 K steps to 8000 K (26 + 8 = 34 nodes),
log g 0.00–5.00 in 0.25 dex (21 nodes), [Fe/H] −4.0 … −1.0 in 0.2 dex (16 nodes).  The full
Cartesian product has 34 × 21 × 16 = 11 424 nodes, whereas the paper quotes 11 763 models.
11 763 = 3² × 1307 is not divisible by 16, 21 or 34, so the paper's number cannot be a complete
product of these axes; it exceeds ours by 339.  Counting 6000 K twice (the junction of the 100 K and
250 K sequences, 35 Teff nodes) gives 35 × 21 × 16 = 11 760, i.e. within 3 of the quoted value, so
the most plausible reading is an off-by-one/duplicate-node count in the paper (e.g. a float
accumulated Teff or [Fe/H] sequence producing repeated or extra nodes) rather than a different
grid.  Dropping nodes outside the atmosphere-grid coverage (``exclude=``) can only lower our count.

Each node gets 16 abundance variants (§2.1): [O/Fe] ∈ {−0.2, 0.0, …, 1.2} with [Mg/Fe] = 0 and
[Mg/Fe] ∈ {−0.2, …, 1.2} with [O/Fe] = 0 — so ([O/Fe], [Mg/Fe]) = (0, 0) is computed twice per node,
exactly as in the paper (11 763 × 16 ≈ 1.88 × 10⁵ spectra).  We keep the duplicate.

Beyond the paper, the ``realstars`` preset (a training set meant for real stars) draws atmospheres
*between* the nodes: (Teff, log g, [Fe/H]) from a scrambled Sobol sequence, uniform over the paper's
box 3500–8000 K × 0–5 × −4…−1 dex, kept only where the Kurucz atmosphere grid covers them
(:func:`glocal.atmospheres.in_coverage`; the atmospheres are interpolated as for the nodes), each with
``n_variants`` joint continuous ([O/Fe], [Mg/Fe]) draws (:func:`joint_variants`) over −0.2…1.2 dex.
The ``realstars-emp`` preset extends the [Fe/H] axis of that box to −5 (the Kurucz grid's floor; 2000 atmospheres,
so the density over −4…−1 stays about that of ``realstars``): the extremely and ultra metal-poor stars that the
paper's box leaves out, which the shipped runs read as [Fe/H] −3.75…−4.0 whatever their true value (mostly
flagged ``grid_edge_fit`` or ``near_training_edge``; book chapter 08, "Below the training box's [Fe/H] floor").
The ``realstars-carbon`` preset is the same with [C/Fe] also drawn per variant, as a nuisance that is not a
label, over :data:`JOINT_EXTRA_RANGES` (−0.5…1.2 dex): a quarter or more of the stars below [Fe/H] = −2.5
are carbon-enhanced ([C/Fe] > 0.7; Placco et al. 2014, ApJ 797, 21), and at R = 200 the CH G band and CN
bands move a network trained on solar-scaled carbon by a few hundred K (book chapter 08, "A carbon-rich
giant"; runs trained on it are not shipped, see the chapter).
The ``realstars-alpha`` preset is ``realstars`` (the same atmospheres and O/Mg draws) with the other α elements
(Ne, Si, S, Ar, Ca, Ti; :data:`JOINT_GROUPS`) drawn together per variant as a nuisance over −0.1…0.6 dex: halo
stars have [Si/Fe], [Ca/Fe] and [Ti/Fe] near +0.3 (e.g. Cayrel et al. 2004, A&A 416, 1117), not the solar-scaled
values of the other presets, and engine spectra with that pattern read +0.1…0.25 dex richer in [Fe/H] to a network
trained on solar-scaled Si, Ca and Ti (book chapter 08, the alpha twins and the carbon probes).
"""
from __future__ import annotations

from numbers import Integral

import numpy as np

from .elements import ELEMENTS

__all__ = [
    "TEFF_NODES",
    "LOGG_NODES",
    "FEH_NODES",
    "VARIANT_VALUES",
    "PAPER_N_MODELS",
    "PRESETS",
    "GRID_DTYPE",
    "paper_grid",
    "microturbulence",
    "paper_variants",
    "joint_variants",
    "parse_joint",
    "JOINT_EXTRA_RANGES",
    "JOINT_GROUPS",
    "preset_grid",
    "continuous_nodes",
    "preset_variants",
    "preset_summary",
    "CONTINUOUS_ID_OFFSET",
    "design_table",
    "grid_summary",
]

# Exact decimal nodes built from integers (no float accumulation): k/5 and k/4 are the nearest
# doubles to the decimal values -3.8, 0.25, ... because integer division is correctly rounded.
TEFF_NODES = np.array(list(range(3500, 6001, 100)) + list(range(6250, 8001, 250)), dtype=np.float64)
LOGG_NODES = np.arange(0, 21, dtype=np.int64) / 4.0
FEH_NODES = np.arange(-20, -4, dtype=np.int64) / 5.0
#: [X/Fe] values of §2.1 (dex): -0.2, 0.0, ..., 1.2.
VARIANT_VALUES = tuple(float(k) / 5.0 for k in range(-1, 7))
#: Number of atmosphere models quoted in §2.1.
PAPER_N_MODELS = 11763

GRID_DTYPE = np.dtype([("model_id", np.int64), ("teff", np.float64), ("logg", np.float64), ("feh", np.float64)])

#: Presets: number of models (None = all), how they are sampled ("nodes": a subset of
#: :func:`paper_grid`; "continuous": :func:`continuous_nodes`) and the variants of every model ("paper":
#: the 16 of §2.1; "joint:N": N joint Latin-hypercube draws per model of [O/Fe] and [Mg/Fe], "joint:N+C" the
#: same with [C/Fe] also drawn (:func:`parse_joint`), see ``glocal.build``).
PRESETS: dict[str, dict] = {
    "ci": {"n_models": 24, "sampling": "nodes", "variants": "paper",
           "description": "24 stratified models x 16 variants = 384 spectra (tests/CI)"},
    "laptop": {"n_models": 100, "sampling": "nodes", "variants": "paper",
               "description": "100 stratified models x 16 variants = 1600 spectra "
                              "(the book's default scale, meant for a personal computer)"},
    "workstation": {"n_models": 1960, "sampling": "nodes", "variants": "paper",
                    "description": "1960 stratified models (about 1920 inside the atmosphere grid) x 16 "
                                   "variants = about 30 700 spectra (learning curves; hours on 2 cores)"},
    "paper": {"n_models": None, "sampling": "nodes", "variants": "paper",
              "description": "full paper grid x 16 variants"},
    "realstars": {"n_models": 1600, "sampling": "continuous", "variants": "joint:20",
                  "description": "1600 atmospheres drawn continuously inside the atmosphere-grid coverage "
                                 "(Teff 3500-8000 K, log g 0-5, [Fe/H] -4..-1) x 20 joint continuous "
                                 "([O/Fe], [Mg/Fe]) in -0.2..1.2 dex = 32000 spectra (training set for real stars)"},
    "realstars-emp": {"n_models": 2000, "sampling": "continuous", "variants": "joint:20", "feh_range": (-5.0, -1.0),
                      "description": "2000 atmospheres drawn continuously inside the atmosphere-grid coverage "
                                     "(Teff 3500-8000 K, log g 0-5, [Fe/H] -5..-1: the realstars box extended to the "
                                     "extremely and ultra metal-poor stars) x 20 joint continuous ([O/Fe], "
                                     "[Mg/Fe]) in -0.2..1.2 dex = 40000 spectra"},
    "realstars-alpha": {"n_models": 1600, "sampling": "continuous", "variants": "joint:20+alpha",
                        "description": "the realstars atmospheres x 20 joint continuous ([O/Fe], [Mg/Fe]) in "
                                       "-0.2..1.2 dex with [X/Fe] of Ne, Si, S, Ar, Ca, Ti drawn together in "
                                       "-0.1..0.6 dex as a nuisance = 32000 spectra (the same O and Mg draws as "
                                       "realstars)"},
    "realstars-carbon": {"n_models": 1600, "sampling": "continuous", "variants": "joint:20+C",
                         "description": "the realstars atmospheres x 20 joint continuous ([O/Fe], [Mg/Fe]) in "
                                        "-0.2..1.2 dex with [C/Fe] in -0.5..1.2 dex drawn as a nuisance = "
                                        "32000 spectra (the same O and Mg draws as realstars)"},
}
#: model_id of the k-th draw of :func:`continuous_nodes` is CONTINUOUS_ID_OFFSET + k (never a paper-grid id).
CONTINUOUS_ID_OFFSET = 1_000_000
#: The paper's box (§2.1) that :func:`continuous_nodes` samples: Teff (K), log g (cgs), [Fe/H] (dex).
_BOX = ((float(TEFF_NODES[0]), float(TEFF_NODES[-1])), (float(LOGG_NODES[0]), float(LOGG_NODES[-1])),
        (float(FEH_NODES[0]), float(FEH_NODES[-1])))

#: Element symbols accepted in :func:`joint_variants` ranges: H … U (Z ≤ 92).
_ELEMENTS = frozenset(ELEMENTS[:92])
#: [X/Fe] ranges (dex) of what a "joint:N+X" spec adds to O and Mg: an element, or a group of
#: :data:`JOINT_GROUPS` (one draw shared by the group's elements); the module docstring gives the reasons.
JOINT_EXTRA_RANGES = {"C": (-0.5, 1.2), "alpha": (-0.1, 0.6)}
#: Element groups that a joint spec may draw as one [X/Fe]: "alpha", the α elements other than O and Mg
#: (the set that chapter 08's alpha twins enhance).
JOINT_GROUPS = {"alpha": ("Ne", "Si", "S", "Ar", "Ca", "Ti")}


def paper_grid() -> np.ndarray:
    """All (teff, logg, feh) nodes of §2.1 as a structured array (model_id, teff, logg, feh).

    Order is Teff-major, then log g, then [Fe/H]; ``model_id`` is the row index in this full grid
    (stable across presets).  11 424 nodes — see the module docstring for the paper's 11 763.
    """
    t, g, f = np.meshgrid(TEFF_NODES, LOGG_NODES, FEH_NODES, indexing="ij")
    out = np.empty(t.size, dtype=GRID_DTYPE)
    out["model_id"] = np.arange(t.size)
    out["teff"] = t.ravel()
    out["logg"] = g.ravel()
    out["feh"] = f.ravel()
    return out


def _finite_array(x, name: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numeric") from None
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains non-finite values")
    return a


def microturbulence(teff, logg, feh):
    """Microturbulence v_t (km/s) of Eqs 4–7 (García Pérez et al. 2016; Holtzman et al. 2018).

    log g ≥ 3.5 and Teff ≥ 5000: Eq. 4, 1.1 + 1e-4 (Teff−5500) + 4e-7 (Teff−5500)²;
    log g ≥ 3.5 and Teff < 5000: Eq. 5, 1.0;
    log g < 3.5 and [Fe/H] ≥ −1: Eq. 6, 10^(0.226 − 0.0228 g + 0.0297 g² − 0.0113 g³);
    log g < 3.5 and [Fe/H] < −1: Eq. 7, 2.478 − 0.325 g.
    The branch edges are taken exactly as written: log g = 3.5 and Teff = 5000 belong to the
    ≥ branches, and [Fe/H] = −1.0 (the grid's most metal-rich row) uses Eq. 6.  Broadcasts; returns
    a float for scalar input.
    """
    t = _finite_array(teff, "teff")
    g = _finite_array(logg, "logg")
    f = _finite_array(feh, "feh")
    try:
        t, g, f = np.broadcast_arrays(t, g, f)
    except ValueError:
        raise ValueError(f"teff {t.shape}, logg {g.shape}, feh {f.shape} cannot be broadcast together") from None
    if np.any(t <= 0):
        raise ValueError("teff must be > 0 K")
    dt = t - 5500.0
    eq4 = 1.1 + 1e-4 * dt + 4e-7 * dt * dt
    eq6 = 10.0 ** (0.226 - 0.0228 * g + 0.0297 * g**2 - 0.0113 * g**3)
    eq7 = 2.478 - 0.325 * g
    dwarf = g >= 3.5
    vt = np.where(dwarf, np.where(t >= 5000.0, eq4, 1.0), np.where(f >= -1.0, eq6, eq7))
    return float(vt) if vt.ndim == 0 else vt


def paper_variants() -> list[dict[str, float]]:
    """The 16 abundance variants of §2.1: 8 × {"O": x, "Mg": 0} then 8 × {"O": 0, "Mg": x}.

    ({"O": 0, "Mg": 0} appears twice, as in the paper's 16 spectra per node.)
    """
    return [{"O": x, "Mg": 0.0} for x in VARIANT_VALUES] + [{"O": 0.0, "Mg": x} for x in VARIANT_VALUES]


def _as_rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be None, an int seed or numpy.random.Generator, got {type(rng).__name__}")


def joint_variants(n: int, rng=0, ranges=None) -> list[dict[str, float]]:
    """``n`` jointly varied [X/Fe] draws (beyond the paper): Latin-hypercube uniform in ``ranges``.

    ``ranges`` maps element symbols, or group names of :data:`JOINT_GROUPS`, to (lo, hi) in dex; default
    {"O": (-0.2, 1.2), "Mg": (-0.2, 1.2)} (the paper's span).  Each key's range is cut into n equal strata,
    one draw per stratum, strata paired at random (seeded by ``rng``; the draws of the keys before a group
    do not depend on it).  A group's draw is given to every element of the group.
    """
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if ranges is None:
        ranges = {"O": (VARIANT_VALUES[0], VARIANT_VALUES[-1]), "Mg": (VARIANT_VALUES[0], VARIANT_VALUES[-1])}
    if not isinstance(ranges, dict) or not ranges:
        raise TypeError("ranges must be a non-empty dict {element: (lo, hi)}")
    gen = _as_rng(rng)
    cols = {}
    for el, lim in ranges.items():
        if el not in _ELEMENTS and el not in JOINT_GROUPS:
            raise ValueError(f"unknown element symbol {el!r} in ranges")
        try:
            lo, hi = (float(v) for v in lim)
        except (TypeError, ValueError):
            raise TypeError(f"range for {el} must be a (lo, hi) pair, got {lim!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo:
            raise ValueError(f"range for {el} must be finite with hi >= lo, got ({lo}, {hi})")
        u = (gen.permutation(n) + gen.random(n)) / n
        for member in JOINT_GROUPS.get(el, (el,)):
            if member in cols:
                raise ValueError(f"{member} is drawn twice in ranges ({sorted(ranges)})")
            cols[member] = lo + (hi - lo) * u
    return [{el: float(cols[el][i]) for el in cols} for i in range(n)]


def parse_joint(spec: str) -> tuple[int, dict] | None:
    """The number of draws and the [X/Fe] ranges of a joint-variants spec: ``"joint"`` (16 draws),
    ``"joint:N"`` (O and Mg over the paper's −0.2…1.2 dex) or ``"joint:N+X+…"`` (also each X over
    :data:`JOINT_EXTRA_RANGES`); None for any other string.  ValueError for a joint spec naming an element
    without a range there."""
    if not isinstance(spec, str) or not (spec == "joint" or spec.startswith("joint:")):
        return None
    count, *extras = (spec.partition(":")[2] or "16").split("+")
    if not count.isdigit() or int(count) < 1:
        return None
    ranges = {"O": (VARIANT_VALUES[0], VARIANT_VALUES[-1]), "Mg": (VARIANT_VALUES[0], VARIANT_VALUES[-1])}
    for el in extras:
        if el not in JOINT_EXTRA_RANGES:
            raise ValueError(f"{spec!r}: no joint range for {el!r}; elements that can be added: "
                             f"{sorted(JOINT_EXTRA_RANGES)}")
        ranges[el] = JOINT_EXTRA_RANGES[el]
    return int(count), ranges


def _node_mask(nodes: np.ndarray, exclude, include) -> np.ndarray:
    """Boolean keep-mask over ``nodes`` from exclude/include callables or masks."""
    keep = np.ones(nodes.size, dtype=bool)
    for arg, name, invert in ((exclude, "exclude", True), (include, "include", False)):
        if arg is None:
            continue
        if callable(arg):
            m = np.asarray(arg(nodes["teff"], nodes["logg"], nodes["feh"]))
        else:
            m = np.asarray(arg)
        if m.dtype != bool:
            raise TypeError(f"{name} must give a boolean array, got dtype {m.dtype}")
        if m.shape != (nodes.size,):
            raise ValueError(f"{name} mask has shape {m.shape}, expected ({nodes.size},)")
        keep &= ~m if invert else m
    return keep


def _stratified_indices(n: int, n_axis: int) -> np.ndarray:
    """n node indices spread evenly over 0..n_axis-1 including both ends (all nodes if n >= n_axis)."""
    if n == 1:
        return np.array([n_axis // 2])
    return np.rint(np.arange(n) * (n_axis - 1) / (n - 1)).astype(np.int64)


def continuous_nodes(n: int, seed: int = 0, exclude=None, include=None, feh_range=None) -> np.ndarray:
    """``n`` atmospheres drawn continuously over the paper's box, inside the atmosphere-grid coverage.

    Points of a scrambled Sobol sequence (``scipy.stats.qmc.Sobol``, 3-D, scramble seeded by ``seed``)
    mapped uniformly onto Teff 3500–8000 K, log g 0–5, [Fe/H] −4…−1 (or ``feh_range`` = (lo, hi) dex, within
    the atmosphere grid's −5…0) and rounded to 1 K, 0.001 dex and
    0.001 dex; points outside :func:`glocal.atmospheres.in_coverage`, or dropped by ``exclude``/``include``
    (as in :func:`preset_grid`), are skipped and the first ``n`` kept in sequence order.  The k-th point of
    the sequence gets model_id = :data:`CONTINUOUS_ID_OFFSET` + k, so a point keeps its id whatever the
    filters.  Returns a :data:`GRID_DTYPE` array sorted by model_id; deterministic for a given seed.
    """
    from scipy.stats import qmc

    from .atmospheres import in_coverage
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    box = _BOX
    if feh_range is not None:
        lo, hi = map(float, feh_range)
        if not (-5.0 <= lo < hi <= 0.0):
            raise ValueError(f"feh_range must satisfy -5 <= lo < hi <= 0 (the atmosphere grid), got {feh_range!r}")
        box = (*_BOX[:2], (lo, hi))
    m = 1 << max(6, int(np.ceil(np.log2(n))) + 1)
    while True:
        u = qmc.Sobol(d=3, scramble=True, seed=np.random.default_rng(seed)).random(m)
        pts = np.empty(m, dtype=GRID_DTYPE)
        pts["model_id"] = CONTINUOUS_ID_OFFSET + np.arange(m)
        for j, (field, (lo, hi), nd) in enumerate(zip(("teff", "logg", "feh"), box, (0, 3, 3))):
            pts[field] = np.round(lo + (hi - lo) * u[:, j], nd)
        keep = np.asarray(in_coverage(pts["teff"], pts["logg"], pts["feh"]), bool) & _node_mask(pts, exclude, include)
        if keep.sum() >= n:
            return pts[np.flatnonzero(keep)[:n]]
        if m >= 1 << 22:
            raise ValueError(f"only {int(keep.sum())} of {m} draws pass the coverage and filters; cannot draw {n}")
        m *= 4


def preset_variants(name: str) -> str:
    """The variants of every model of preset ``name``: ``"paper"`` (§2.1) or ``"joint:N[+X…]"``."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]["variants"]


def preset_summary(name: str, seed: int = 0, exclude=None) -> dict:
    """:func:`grid_summary` of preset ``name`` with its own number of variants, plus the preset's
    name, sampling, variants spec, the [X/Fe] ranges of joint variants and its description."""
    nodes = preset_grid(name, seed=seed, exclude=exclude)
    spec = preset_variants(name)
    joint = parse_joint(spec)
    out = grid_summary(nodes, n_variants=16 if joint is None else joint[0])
    out.update(preset=name, sampling=PRESETS[name]["sampling"], variants=spec,
               description=PRESETS[name]["description"])
    if joint is not None:
        out["variant_ranges"] = joint[1]
    return out


def preset_grid(name: str, seed: int = 0, exclude=None, include=None) -> np.ndarray:
    """Model nodes of a preset (:data:`PRESETS`): a :func:`paper_grid` subset, or for a "continuous"
    preset (``realstars``) :func:`continuous_nodes` (always inside the atmosphere-grid coverage).

    Subsampling is Latin-hypercube-like in node-index space: on each axis the n picks are spread
    evenly over the nodes (both extremes included; every node when n ≥ axis length), the axes are
    paired by seeded random permutations, and each pick snaps to the nearest unused allowed node.
    ``exclude`` (True = drop) / ``include`` (True = keep) are boolean callables f(teff, logg, feh)
    or masks over :func:`paper_grid`, e.g. an atmosphere-grid coverage test.  Deterministic for a
    given seed; rows are returned sorted by model_id.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    if PRESETS[name]["sampling"] == "continuous":
        return continuous_nodes(PRESETS[name]["n_models"], seed=seed, exclude=exclude, include=include,
                                feh_range=PRESETS[name].get("feh_range"))
    full = paper_grid()
    keep = _node_mask(full, exclude, include)
    allowed = full[keep]
    n = PRESETS[name]["n_models"]
    if n is None or n >= allowed.size:
        return allowed.copy()
    if allowed.size == 0:
        raise ValueError("no grid nodes left after exclude/include")
    gen = np.random.default_rng(seed)
    axes = (TEFF_NODES, LOGG_NODES, FEH_NODES)
    fields = ("teff", "logg", "feh")
    # Normalised index coordinates of the allowed nodes.
    coords = np.stack(
        [np.searchsorted(ax, allowed[f]) / (ax.size - 1) for ax, f in zip(axes, fields)], axis=1
    )
    targets = np.stack(
        [gen.permutation(_stratified_indices(n, ax.size)) / (ax.size - 1) for ax in axes], axis=1
    )
    free = np.ones(allowed.size, dtype=bool)
    chosen = np.empty(n, dtype=np.int64)
    for k in range(n):
        d2 = ((coords - targets[k]) ** 2).sum(axis=1)
        d2[~free] = np.inf
        i = int(np.argmin(d2))
        chosen[k] = i
        free[i] = False
    out = allowed[np.sort(chosen)]
    return out


def design_table(models: np.ndarray, variants=None) -> np.ndarray:
    """Expand model nodes × abundance variants into one row per spectrum.

    Returns a structured array (model_id, teff, logg, feh, vturb, ofe, mgfe) with vturb from
    Eqs 4–7; ``variants`` defaults to :func:`paper_variants` (dicts with "O"/"Mg" keys, missing = 0).
    """
    if (not isinstance(models, np.ndarray) or models.dtype.names is None
            or not set(GRID_DTYPE.names) <= set(models.dtype.names)):
        raise TypeError(f"models must be a structured array with fields {GRID_DTYPE.names}")
    variants = paper_variants() if variants is None else list(variants)
    for v in variants:
        if not isinstance(v, dict) or not set(v) <= {"O", "Mg"}:
            raise ValueError(f"variants must be dicts with keys among 'O', 'Mg'; got {v!r}")
    nv = len(variants)
    dtype = np.dtype([("model_id", np.int64), ("teff", float), ("logg", float), ("feh", float),
                      ("vturb", float), ("ofe", float), ("mgfe", float)])
    out = np.empty(models.size * nv, dtype=dtype)
    for f in ("model_id", "teff", "logg", "feh"):
        out[f] = np.repeat(models[f], nv)
    out["vturb"] = microturbulence(out["teff"], out["logg"], out["feh"]) if out.size else 0.0
    out["ofe"] = np.tile([float(v.get("O", 0.0)) for v in variants], models.size)
    out["mgfe"] = np.tile([float(v.get("Mg", 0.0)) for v in variants], models.size)
    return out


def grid_summary(grid=None, n_variants: int = 16) -> dict:
    """Counts per axis, number of models and spectra of ``grid`` (default: :func:`paper_grid`).

    Also reports the paper's quoted 11 763 models and the difference, with the explanation from
    the module docstring.
    """
    if grid is None:
        grid = paper_grid()
    if (not isinstance(grid, np.ndarray) or grid.dtype.names is None
            or not {"teff", "logg", "feh"} <= set(grid.dtype.names)):
        raise TypeError("grid must be a structured array with fields teff, logg, feh")
    if isinstance(n_variants, bool) or not isinstance(n_variants, Integral) or n_variants < 1:
        raise ValueError(f"n_variants must be a positive integer, got {n_variants!r}")
    out = {
        "n_teff": int(np.unique(grid["teff"]).size),
        "n_logg": int(np.unique(grid["logg"]).size),
        "n_feh": int(np.unique(grid["feh"]).size),
        "teff_range": (float(grid["teff"].min()), float(grid["teff"].max())) if grid.size else None,
        "logg_range": (float(grid["logg"].min()), float(grid["logg"].max())) if grid.size else None,
        "feh_range": (float(grid["feh"].min()), float(grid["feh"].max())) if grid.size else None,
        "n_models": int(grid.size),
        "n_variants": int(n_variants),
        "n_spectra": int(grid.size) * int(n_variants),
        "paper_n_models": PAPER_N_MODELS,
        "difference_vs_paper": int(grid.size) - PAPER_N_MODELS,
        "note": (
            "Full product 34 Teff x 21 logg x 16 [Fe/H] = 11424 nodes; the paper quotes 11763 = 3^2 x 1307, "
            "which is not a product of these axes. 35 x 21 x 16 = 11760 (6000 K counted twice) is within 3, "
            "so the paper's count most plausibly includes duplicated/extra nodes."
        ),
    }
    return out
