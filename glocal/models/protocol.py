"""One estimator protocol for the five methods of paper §4.3, in scikit-learn's style.

``estimator(name, **hyperparameters)`` returns an unfitted estimator for ``name`` in
:data:`ESTIMATOR_NAMES` ("spt-glocal", "spt", "xgboost", "lightgbm", "catboost"); every one has

* ``fit(X, y, *, X_val=None, y_val=None) -> self`` — ``X``: (n, n_features) spectra (float32 inside),
  ``y``: (n,) or (n, n_labels) labels in their own units;
* ``predict(X) -> (n, n_labels)`` and ``predict(X, return_std=True) -> (mean, std)``, float64, in
  label units. The networks' ``std`` is the Monte-Carlo dropout spread (``mc_samples`` passes,
  ddof = 1, Gal & Ghahramani 2016) and their ``mean`` the mean of those passes; the tree
  baselines have no predictive distribution, so their ``std`` is NaN (``uncertainty == "none"``)
  and their ``mean`` is the deterministic prediction;
* ``save(directory)``; :func:`load` restores any of them: ``estimator.json`` (class, hyper-parameters,
  label names, number of features, label scaler) plus the weights — safetensors for the networks,
  each library's own format for the trees. Nothing is pickled.

All estimators standardise the labels with the training split's mean and standard deviation
(:class:`glocal.training.LabelScaler`) and learn the standardised values. Hyper-parameters are the
keyword arguments of each class (``get_params()`` lists them); an unknown one is a TypeError that
names the valid ones. Estimators built with ``missing=True`` (a hyper-parameter of the trees, a key of
the networks' ``config``; :attr:`Estimator.accepts_missing`) read NaN in ``X`` as a pixel that was not
measured — spectra with gaps and coverage cuts — the trees through their libraries' native missing-value
handling, the networks through a mask embedding (:mod:`glocal.models.backbone`).  Bad input — ``X``
not 2-D, ``y`` with another number of rows, NaN (without ``missing``) or infinite values, ``predict``
with another number of features than ``fit`` saw — is a ValueError naming the problem; ``predict``
or ``save`` before ``fit`` raise :class:`NotFittedError`.
"""
from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import ClassVar

import numpy as np

from .._checks import require_finite
from .._io import read_json, to_jsonable, write_json
from ..training import LabelScaler

__all__ = ["Estimator", "NotFittedError", "ESTIMATOR_NAMES", "estimator", "estimator_class", "load",
           "check_features", "check_labels"]

FORMAT = "glocal-estimator"
FORMAT_VERSION = 1
META_FILE = "estimator.json"

#: name -> (module of glocal.models, class); one estimator per module.
_REGISTRY = {"spt-glocal": ("spt_glocal", "SPTGloCalEstimator"), "spt": ("spt", "SPTEstimator"),
             "xgboost": ("gbt_xgboost", "XGBoostEstimator"), "lightgbm": ("gbt_lightgbm", "LightGBMEstimator"),
             "catboost": ("gbt_catboost", "CatBoostEstimator")}
ESTIMATOR_NAMES = tuple(_REGISTRY)


class NotFittedError(ValueError, AttributeError):
    """``predict``/``save`` called on an estimator that has not been fitted."""


# ----------------------------------------------------------------------------- input checks
def check_features(X, what: str = "X", n_features: int | None = None, *, allow_missing: bool = False
                   ) -> np.ndarray:
    """``X`` as a finite float32 (n, n_features) array with n ≥ 1 (ValueError naming the problem).

    ``allow_missing``: NaN marks a pixel that was not measured (estimators fitted with ``missing``);
    infinite values and rows without any measured pixel are still refused."""
    try:
        X = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be a numeric array: {exc}") from None
    if X.ndim != 2:
        raise ValueError(f"{what} must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{what} is empty (shape {X.shape})")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{what} has {X.shape[1]} features, the estimator was fitted on {n_features}")
    if not allow_missing:
        return require_finite(X, what)
    if np.isinf(X).any():
        r, c = np.argwhere(np.isinf(X))[0]
        raise ValueError(f"{what} contains infinite values (first at row {r}, column {c}); NaN marks a missing pixel")
    empty = np.flatnonzero(np.isnan(X).all(axis=1))
    if empty.size:
        raise ValueError(f"{what} row {empty[0]} has no measured pixel (all NaN)")
    return X


def check_labels(y, n_rows: int, what: str = "y") -> np.ndarray:
    """``y`` as a finite float64 (n_rows, n_labels) array (a 1-D ``y`` is one label)."""
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be a numeric array: {exc}") from None
    y = y[:, None] if y.ndim == 1 else y
    if y.ndim != 2 or y.shape[1] == 0:
        raise ValueError(f"{what} must be (n_samples,) or (n_samples, n_labels), got shape {y.shape}")
    if len(y) != n_rows:
        raise ValueError(f"{what} has {len(y)} rows but X has {n_rows}")
    return require_finite(y, what)


# ----------------------------------------------------------------------------- base class
class Estimator:
    """Base of the five estimators (see the module docstring for the protocol).

    Subclasses define ``name``, ``uncertainty``, keyword-only ``__init__`` hyper-parameters, and
    the hooks ``_fit`` (returns the label scaler it used), ``_predict`` (standardised units),
    ``_save_files``, ``_load_files`` and ``from_run_config``. ``_RUNTIME`` names the keyword
    arguments that steer a fit (device, progress bar, checkpoint folder) but are not
    hyper-parameters of the fitted model: they are not saved.
    """

    name: ClassVar[str] = ""
    uncertainty: ClassVar[str] = "none"
    _RUNTIME: ClassVar[tuple[str, ...]] = ()

    # -- hyper-parameters
    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """Names of the keyword arguments of the constructor."""
        sig = inspect.signature(cls.__init__)
        return tuple(p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY)

    @classmethod
    def check_params(cls, params) -> None:
        """TypeError naming the unknown keys of ``params`` and listing the valid ones."""
        unknown = sorted(set(params) - set(cls.param_names()))
        if unknown:
            raise TypeError(f"unknown hyper-parameter(s) {unknown} for {cls.name!r}; "
                            f"valid: {', '.join(cls.param_names())}")

    def get_params(self, *, runtime: bool = True) -> dict:
        """Hyper-parameters as given (``runtime=False`` leaves out the fit-steering options)."""
        return {k: getattr(self, k) for k in self.param_names() if runtime or k not in self._RUNTIME}

    def __repr__(self) -> str:
        state = "fitted" if self.is_fitted else "unfitted"
        return f"{type(self).__name__}({state}, labels={getattr(self, 'label_names_', None)})"

    # -- fitting
    @property
    def accepts_missing(self) -> bool:
        """Whether NaN in ``X`` means a missing pixel (True) or is an error (False)."""
        return bool(getattr(self, "missing", False))

    @property
    def is_fitted(self) -> bool:
        return getattr(self, "scaler_", None) is not None

    def fit(self, X, y, *, X_val=None, y_val=None):
        """Fit on spectra ``X`` (n, n_features) and labels ``y`` (n,) or (n, n_labels); returns self.

        ``X_val``/``y_val``: a validation split (both or neither); the networks stop early on it
        (without one they hold out ``validation_fraction`` of the rows), the trees only check it.
        """
        X = check_features(X, allow_missing=self.accepts_missing)
        y = check_labels(y, len(X))
        if (X_val is None) != (y_val is None):
            raise ValueError("give both X_val and y_val, or neither")
        if X_val is not None:
            X_val = check_features(X_val, "X_val", X.shape[1], allow_missing=self.accepts_missing)
            y_val = check_labels(y_val, len(X_val), "y_val")
            if y_val.shape[1] != y.shape[1]:
                raise ValueError(f"y_val has {y_val.shape[1]} label columns, y has {y.shape[1]}")
        names = self._label_names(y.shape[1])
        X, y, X_val, y_val = self._validation_split(X, y, X_val, y_val)
        self.scaler_ = None
        scaler = self._fit(X, y, X_val, y_val, LabelScaler.fit(y, names))
        self.label_names_, self.n_features_in_, self.scaler_ = names, int(X.shape[1]), scaler
        return self

    def _label_names(self, n_labels: int) -> list[str]:
        names = getattr(self, "label_names", None)
        if names is None:
            return [f"y{j}" for j in range(n_labels)]
        names = [str(n) for n in ([names] if isinstance(names, str) else names)]
        if len(names) != n_labels:
            raise ValueError(f"{len(names)} label_names for {n_labels} label columns")
        return names

    def _validation_split(self, X, y, X_val, y_val):
        return X, y, X_val, y_val

    def training_report(self) -> dict:
        """What the fit recorded (training history for the networks); JSON-ready."""
        return {}

    # -- prediction
    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"this {self.name} estimator is not fitted yet: call fit(X, y) first")

    def predict(self, X, return_std: bool = False, *, mc_samples: int | None = None, seed: int = 0,
                batch_size: int | None = None):
        """(n, n_labels) predictions in label units, or ``(mean, std)`` with ``return_std``.

        ``mc_samples``, ``seed``, ``batch_size``: the networks' number of MC-dropout passes (default:
        the ``mc_samples`` hyper-parameter), the seed of their dropout masks and their batch size;
        accepted and unused by the trees so that every estimator takes the same call.
        """
        self._check_fitted()
        X = check_features(X, "X", self.n_features_in_, allow_missing=self.accepts_missing)
        mean, std = self._predict(X, bool(return_std), mc_samples=mc_samples, seed=seed,
                                  batch_size=batch_size)
        mean = self.scaler_.inverse(mean)
        if not return_std:
            return mean
        return mean, self.scaler_.inverse_std(std)

    # -- persistence
    def save(self, directory) -> Path:
        """Write ``estimator.json`` and the model files into ``directory`` (created); returns it."""
        return self._save(directory)

    def _save(self, directory, **file_options) -> Path:
        self._check_fitted()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        files = self._save_files(d, **file_options)
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "estimator": self.name,
                "hyperparameters": to_jsonable(self.get_params(runtime=False)),
                "label_names": list(self.label_names_), "n_features": int(self.n_features_in_),
                "scaler": self.scaler_.to_dict(), "files": files, **self._extra_meta()}
        write_json(d / META_FILE, meta)
        return d

    def _extra_meta(self) -> dict:
        return {}

    @classmethod
    def _from_meta(cls, directory: Path, meta: dict):
        try:
            obj = cls(**meta["hyperparameters"])
            names, n_features = [str(n) for n in meta["label_names"]], int(meta["n_features"])
            scaler = LabelScaler.from_dict(meta["scaler"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"corrupt {directory / META_FILE}: {exc}") from None
        if scaler.names != names:
            raise ValueError(f"{directory / META_FILE}: scaler labels {scaler.names} differ from {names}")
        obj._load_files(directory, meta, n_features, len(names))
        obj.label_names_, obj.n_features_in_, obj.scaler_ = names, n_features, scaler
        return obj


# ----------------------------------------------------------------------------- factory
def estimator_class(name: str) -> type[Estimator]:
    """The estimator class registered as ``name`` (ValueError listing the names otherwise)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown estimator {name!r}; choose one of {', '.join(ESTIMATOR_NAMES)}")
    module, cls = _REGISTRY[name]
    return getattr(importlib.import_module(f"{__package__}.{module}"), cls)


def estimator(name: str, **hyperparameters) -> Estimator:
    """An unfitted estimator ``name`` with the given hyper-parameters (TypeError for unknown ones)."""
    cls = estimator_class(name)
    cls.check_params(hyperparameters)
    return cls(**hyperparameters)


def load(directory) -> Estimator:
    """The estimator saved in ``directory`` by ``save`` (also a run directory of :mod:`glocal.runs`,
    including runs written before ``estimator.json`` existed). FileNotFoundError when there is none,
    ValueError for corrupt files."""
    d = Path(directory)
    if not d.is_dir():
        raise FileNotFoundError(f"estimator directory not found: {d}")
    if (d / META_FILE).is_file():
        meta = read_json(d / META_FILE, "estimator")
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"{d / META_FILE} is not a glocal estimator description")
        if int(meta.get("format_version", 0)) > FORMAT_VERSION:
            raise ValueError(f"{d / META_FILE} has format version {meta['format_version']}; "
                             f"this glocal reads up to {FORMAT_VERSION}")
        return estimator_class(meta.get("estimator"))._from_meta(d, meta)
    if (d / "config.json").is_file():
        return _load_legacy_run(d)
    raise FileNotFoundError(f"{d}: no {META_FILE} (not a saved glocal estimator)")


def _load_legacy_run(d: Path) -> Estimator:
    """A run directory of format version 1: config.json, scaler.json and model.safetensors or trees/."""
    cfg = read_json(d / "config.json", "run")
    try:
        name, labels, n_pixels = cfg["model"], [str(n) for n in cfg["labels"]], int(cfg["n_pixels"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"corrupt {d / 'config.json'}: {exc}") from None
    if name not in _REGISTRY:
        raise ValueError(f"{d}: unknown model {name!r} in config.json")
    if int(cfg.get("format_version", 1)) >= 2:
        raise FileNotFoundError(f"missing {d / META_FILE} (config.json says run format version "
                                f"{cfg['format_version']})")
    scaler = LabelScaler.from_dict(read_json(d / "scaler.json", "run"))
    if scaler.names != labels:
        raise ValueError(f"{d}: scaler labels {scaler.names} differ from config labels {labels}")
    obj = estimator_class(name)._from_legacy_run(d, cfg)
    obj.label_names_, obj.n_features_in_, obj.scaler_ = labels, n_pixels, scaler
    return obj
