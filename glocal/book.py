"""Parameters and shared setup of the book's chapters (``notebooks/``).

``notebooks/scales.yml`` is the single source of every chapter parameter. A chapter's
``parameters`` cell holds only ``scale`` (``ci``, ``laptop`` or ``paper``) and ``overrides`` (a
dict, empty by default); :func:`chapter_parameters` resolves the chapter's values in this order,
each step replacing whole values (a dict such as ``train`` is replaced, not merged):

1. ``defaults.common`` then ``defaults.<chapter>``: the names the chapter takes and their values;
2. ``scales.<scale>.common`` then ``scales.<scale>.<chapter>``;
3. ``overrides``.

A scale block or an override that sets a name the chapter does not take is an error naming the valid
names, so a typo can never be silently ignored and no value can differ between a chapter and the file.
``scripts/execute_book.py`` passes ``scale`` and ``overrides`` to each chapter through papermill.
The chapters glue numbers into their prose with :func:`glue`.
"""
from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

SCALES_FILE = Path(__file__).resolve().parents[1] / "notebooks" / "scales.yml"

__all__ = ["SCALES_FILE", "Parameters", "load_scales", "chapters", "scale_names", "parameter_names",
           "chapter_parameters", "chapter_grid", "uv_sweeps", "error_curves", "glue"]


def glue(name: str, value, display: bool = True):
    """``myst_nb.glue`` with NumPy scalars turned into Python ones first.  myst-nb formats a glued value
    (``{glue:text}`name:.2f```) from its text/plain repr, which for a NumPy ≥ 2 scalar is ``np.float64(…)``:
    the format fails with a build warning and the number is missing from the page."""
    import numpy as np
    from myst_nb import glue as _glue
    if isinstance(value, np.generic):
        value = value.item()
    return _glue(name, value, display=display)


class Parameters(Mapping):
    """Read-only mapping of a chapter's resolved parameters, also readable as attributes (``p.seed``).

    Values are deep copies of the scales file's, so changing a list or dict taken from it changes
    nothing else. Its ``repr`` lists one ``name = value`` per line, the provenance a chapter shows.
    """

    def __init__(self, chapter: str, values: Mapping[str, Any]):
        object.__setattr__(self, "_chapter", chapter)
        object.__setattr__(self, "_values", copy.deepcopy(dict(values)))

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"chapter {self._chapter!r} has no parameter {name!r}; it has "
                                 f"{sorted(self._values)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("chapter parameters are read-only: change them in notebooks/scales.yml or "
                             "through the chapter's `overrides`")

    def to_dict(self) -> dict[str, Any]:
        """A plain (deep-copied) dict of the values, e.g. to record or serialise them."""
        return copy.deepcopy(self._values)

    def __repr__(self) -> str:
        width = max((len(k) for k in self._values), default=0)
        lines = [f"{k:<{width}} = {v!r}" for k, v in self._values.items()]
        return f"parameters of {self._chapter}:\n" + "\n".join(lines)


def load_scales(path: str | Path | None = None) -> dict:
    """Read and check the scales file (default :data:`SCALES_FILE`).

    Checks that ``chapters`` lists each chapter once, that ``defaults`` has a ``common`` block and a
    block for every chapter (and for nothing else), and that every scale block names only known chapters
    and sets only names the defaults give that chapter. Raises ``ValueError`` naming the offending entry.
    """
    import yaml

    path = Path(path) if path is not None else SCALES_FILE
    with open(path) as fh:
        spec = yaml.safe_load(fh)
    chapter_list = list(spec.get("chapters") or [])
    if not chapter_list or len(set(chapter_list)) != len(chapter_list):
        raise ValueError(f"{path}: `chapters` must list each chapter once, got {chapter_list}")
    defaults = spec.get("defaults") or {}
    expected = {"common", *chapter_list}
    if set(defaults) != expected:
        raise ValueError(f"{path}: `defaults` must have blocks {sorted(expected)}, got {sorted(defaults)}")
    for scale, blocks in (spec.get("scales") or {}).items():
        for block, values in (blocks or {}).items():
            if block not in expected:
                raise ValueError(f"{path}: scale {scale!r} has a block {block!r}; blocks are {sorted(expected)}")
            known = set(defaults["common"] or {}) if block == "common" else set(_defaults_of(spec, block))
            unknown = sorted(set(values or {}) - known)
            if unknown:
                raise ValueError(f"{path}: scale {scale!r}, block {block!r} sets {unknown}, which "
                                 f"{'no chapter' if block == 'common' else block} takes; known: {sorted(known)}")
    if not spec.get("scales"):
        raise ValueError(f"{path}: no scales defined")
    return spec


def chapters(spec: dict | None = None) -> list[str]:
    """The chapters in execution order (``chapters`` of the scales file)."""
    return list((spec or load_scales())["chapters"])


def scale_names(spec: dict | None = None) -> list[str]:
    """The named scales of the scales file, e.g. ``["ci", "laptop", "paper"]``."""
    return list((spec or load_scales())["scales"])


def parameter_names(chapter: str, spec: dict | None = None) -> list[str]:
    """The parameter names ``chapter`` takes (its defaults' names, common ones first)."""
    spec = spec or load_scales()
    _check_chapter(spec, chapter)
    return list(_defaults_of(spec, chapter))


def chapter_parameters(chapter: str, scale: str, overrides: Mapping[str, Any] | None = None, *,
                       spec: dict | None = None) -> Parameters:
    """The resolved parameters of ``chapter`` at ``scale``, with ``overrides`` applied last.

    Returns a :class:`Parameters` holding ``scale`` and every name of :func:`parameter_names`.
    Raises ``ValueError`` for an unknown chapter or scale, or an override the chapter does not take
    (the message lists the valid names).
    """
    spec = spec or load_scales()
    _check_chapter(spec, chapter)
    if scale not in spec["scales"]:
        raise ValueError(f"unknown scale {scale!r}; choose from {scale_names(spec)}")
    values = _defaults_of(spec, chapter)
    blocks = spec["scales"][scale] or {}
    values.update(blocks.get("common") or {})
    values.update(blocks.get(chapter) or {})
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(values))
    if unknown:
        hint = " (the scale is chosen with `scale`, not an override)" if "scale" in unknown else ""
        raise ValueError(f"chapter {chapter!r} takes no parameter {unknown}{hint}; it takes {sorted(values)}")
    values.update(overrides)
    return Parameters(chapter, {"scale": scale, **values})


def _defaults_of(spec: dict, chapter: str) -> dict:
    defaults = spec["defaults"]
    return {**(defaults["common"] or {}), **(defaults.get(chapter) or {})}


def _check_chapter(spec: dict, chapter: str) -> None:
    if chapter not in spec["chapters"]:
        raise ValueError(f"unknown chapter {chapter!r}; chapters are {spec['chapters']}")


def chapter_grid(p: Mapping[str, Any], *, verbose: bool = True):
    """The R=200 grid of the chapter's scale: ``(path, dataset)``.

    Built once per (preset, engine, seed, engine_options) with
    :func:`glocal.experiments.grid_dataset` (cached) and read with
    :func:`glocal.dataset.load_dataset`; ``p`` needs ``preset``, ``engine``, ``seed`` and
    ``engine_options``. With ``verbose`` one line says what the grid holds.
    """
    import numpy as np

    from .dataset import load_dataset
    from .experiments import grid_dataset

    data = grid_dataset(p["preset"], engine=p["engine"], seed=p["seed"], engine_options=p["engine_options"])
    ds = load_dataset(data)
    if verbose:
        print(f"grid {data.name}: {ds.n} spectra of {ds.wave.size} pixels, "
              f"{np.unique(ds.labels['model_id']).size} models, engine {ds.provenance.get('engine')}")
    return data, ds


def uv_sweeps(n_sweep: int, *, engine: str, engine_options: Mapping | None = None, variants=None,
              wave_range=(2450, 4100), uv_range=(2550, 4000)) -> dict:
    """Spectra of the Figs 3–5 sweeps at R = 200 over ``uv_range`` (Å, air).

    Three sweeps of ``n_sweep`` nodes: Teff 3500–8000 K at log g 3.0, [Fe/H] −1.0; log g 0.5–5.0 at
    4500 K, [Fe/H] −1.0; [Fe/H] −4.0…−1.0 (rounded to 0.2 dex) at 4500 K, log g 3.0. Nodes outside
    the atmosphere coverage are skipped. ``variants`` defaults to [O/Fe] = −0.2, 0.2, 0.6, 0.8 with
    [Mg/Fe] = 0, then the same four values of [Mg/Fe] with [O/Fe] = 0. Each variant set is synthesised
    over ``wave_range`` and degraded with :func:`glocal.degrade.degrade` onto the CSST grid.

    Returns ``{"wave": grid, "variants": variants, "sweeps": {title: {"var": name, "values": nodes,
    "rows": [(x, spectra (n_variants, n_pixels)), ...]}}}`` with ``name`` in teff, logg, feh.
    """
    import numpy as np

    from .atmospheres import in_coverage
    from .degrade import csst_grid, degrade
    from .synthesis import synthesize_variants

    if variants is None:
        values = (-0.2, 0.2, 0.6, 0.8)
        variants = [{"O": v, "Mg": 0.0} for v in values] + [{"O": 0.0, "Mg": v} for v in values]
    uv_grid = csst_grid(*uv_range)
    plan = {
        "Fig. 3 — Teff (log g 3.0, [Fe/H] −1.0)": ("teff", np.linspace(3500, 8000, n_sweep), lambda x: (x, 3.0, -1.0)),
        "Fig. 4 — log g (4500 K, [Fe/H] −1.0)": ("logg", np.linspace(0.5, 5.0, n_sweep), lambda x: (4500.0, x, -1.0)),
        "Fig. 5 — [Fe/H] (4500 K, log g 3.0)": ("feh", np.round(np.linspace(-4.0, -1.0, n_sweep) * 5) / 5,
                                                lambda x: (4500.0, 3.0, x)),
    }
    sweeps = {}
    for title, (var, nodes, point) in plan.items():
        rows = []
        for x in nodes:
            t, lg, fe = point(float(x))
            if not in_coverage(t, lg, fe):
                continue
            vs = synthesize_variants(t, lg, fe, variants, wave_range=tuple(wave_range), engine=engine,
                                     **dict(engine_options or {}))
            rows.append((float(x), degrade(vs.wave, vs.normalized, grid=uv_grid)[1]))
        sweeps[title] = {"var": var, "values": nodes, "rows": rows}
    return {"wave": uv_grid, "variants": variants, "sweeps": sweeps}


def error_curves(evaluation: Mapping, label_index: int, labels: Mapping, label: str, bins: Mapping,
                 variables=("teff", "logg", "feh")) -> dict:
    """Binned MSE and σ of one label's residuals, the data of one band in Figs 8–9.

    ``evaluation`` is one entry of :func:`glocal.runs.evaluate_run`'s result with
    ``return_predictions=True`` (``y_true``, ``y_pred`` of shape (n, n_labels), ``rows`` into the
    dataset); ``labels`` the dataset's label table; ``bins[var]`` the bin edges of each variable and of
    ``label`` itself (binned on its true value). Returns ``{var: (centres, mse, sigma)}`` for
    ``variables`` and ``label``, as :func:`glocal.plots.binned_error_panels` takes per band.
    """
    from .evaluation import binned_errors

    y_true = evaluation["y_true"][:, label_index]
    y_pred = evaluation["y_pred"][:, label_index]
    curves = {}
    for var in (*variables, label):
        x = y_true if var == label else labels[var][evaluation["rows"]]
        b = binned_errors(y_true, y_pred, x, bins[var])
        curves[var] = (b["centers"], b["mse"], b["sigma"])
    return curves


def observed_evaluation(path: str | Path | None = None) -> dict:
    """The committed held-out evaluation of the shipped observed-spectra runs
    (``results/observed/evaluation.json``, written by ``scripts/evaluate_observed.py --uv``)."""
    import json
    path = Path(path) if path is not None else Path(__file__).resolve().parents[1] / "results" / "observed" / \
        "evaluation.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run scripts/evaluate_observed.py --grid <realstars grid> --uv "
                                "--json results/observed/evaluation.json")
    return json.loads(path.read_text())
