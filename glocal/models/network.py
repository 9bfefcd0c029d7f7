"""The networks' estimator (SPT-GloCal, SPT) and Monte-Carlo dropout.

:class:`NetworkEstimator` trains a :class:`~glocal.models.backbone.SpectrumTransformer` with the
§3.3 recipe of :func:`glocal.training.train_model` and predicts with it; ``spt.py`` and
``spt_glocal.py`` bind it to one architecture each. Uncertainty is Monte-Carlo dropout (Gal &
Ghahramani 2016, as SPT): the dropout layers stay active at inference and the mean and standard
deviation (ddof = 1) of ``T`` stochastic passes are the prediction and its uncertainty. The
estimator's ``precision`` and ``compile`` select the accelerator path of :mod:`glocal.accel`.
"""
from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .._io import read_json
from ..accel import autocast
from ..training import TrainOptions, predict_array, train_model
from .backbone import build, count_parameters, resolve_config
from .protocol import Estimator

__all__ = ["NetworkEstimator", "mc_dropout", "mc_dropout_predict"]

WEIGHTS = "model.safetensors"


@contextlib.contextmanager
def mc_dropout(model: nn.Module):
    """Context: model in eval mode except its ``nn.Dropout`` layers (restored afterwards)."""
    was_training = model.training
    model.eval()
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    for m in drops:
        m.train()
    try:
        yield model
    finally:
        model.train(was_training)


def mc_dropout_predict(model: nn.Module, flux, *, T: int = 30, batch_size: int = 256,
                       seed: int = 0, device: str | torch.device | None = None, precision: str = "fp32"
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (ddof=1) of ``T`` MC-dropout passes, in model output units.

    ``flux``: array (n, n_pixels). Returns two (n, n_outputs) float64 arrays (moments accumulated in
    float64). ``T`` >= 2. The global torch generator is seeded with ``seed`` for the passes and restored
    afterwards. The passes run under :func:`glocal.accel.autocast` of ``precision``.
    """
    if int(T) != T or T < 2:
        raise ValueError(f"T must be an integer >= 2 for a spread, got {T!r}")
    x = torch.as_tensor(np.asarray(flux, dtype=np.float32))
    if x.ndim != 2:
        raise ValueError(f"flux must be 2-D (n, n_pixels), got shape {tuple(x.shape)}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    gen_state = torch.get_rng_state()
    torch.manual_seed(seed)
    s1 = s2 = None
    try:
        with mc_dropout(model), torch.no_grad(), autocast(precision, device):
            for _ in range(int(T)):
                preds = torch.cat([model(x[i:i + batch_size].to(device)).double().cpu()
                                   for i in range(0, len(x), batch_size)])
                s1 = preds if s1 is None else s1 + preds
                s2 = preds ** 2 if s2 is None else s2 + preds ** 2
    finally:
        torch.set_rng_state(gen_state)
    mean = s1 / T
    var = (s2 - T * mean ** 2) / (T - 1)
    return mean.numpy(), var.clamp_min(0).sqrt().numpy()


def network_config(config, n_outputs: int | None = None) -> dict:
    """Full architecture dict from "cpu", "paper" or a partial dict, with ``n_outputs`` set."""
    cfg = dict(config) if isinstance(config, dict) else {"base": config}
    if n_outputs is not None:
        cfg["n_outputs"] = int(n_outputs)
    return resolve_config(cfg)


def _initial_state(source, name: str, n_pixels: int, label_names):
    """The fitted network estimator saved in the run directory ``source`` (its ``model.safetensors`` and
    ``estimator.json``): ValueError unless it is a ``name`` network on ``n_pixels`` pixels for ``label_names``."""
    from .protocol import load
    path = Path(source)
    if not (path / WEIGHTS).is_file():
        raise FileNotFoundError(f"init_from: {path} is not a network run directory (no {WEIGHTS})")
    src = load(path)
    if getattr(src, "name", None) != name or src.n_features_in_ != n_pixels:
        raise ValueError(f"init_from {path}: a {getattr(src, 'name', '?')!r} network on {src.n_features_in_} pixels, "
                         f"not a {name!r} one on {n_pixels}")
    if list(src.label_names_) != list(label_names):
        raise ValueError(f"init_from {path}: labels {src.label_names_} differ from {list(label_names)}")
    return src


class NetworkEstimator(Estimator):
    """A spectrum transformer trained with the §3.3 recipe (bound to a ``name`` by its subclass).

    Hyper-parameters: ``config`` — the architecture: "cpu", "paper" or a dict overriding them
    (keys of :data:`glocal.models.CONFIGS`; ``n_outputs`` is set from ``y``); ``max_epochs``,
    ``batch_size``, ``lr``, ``weight_decay``, ``betas``, ``eps``, ``lr_step``, ``lr_gamma``,
    ``patience``, ``average_last``, ``noise_snr``, ``normalise_input`` — :class:`~glocal.training.TrainOptions`
    (the paper's defaults); ``precision`` — "fp32" (default), "bf16", "fp16" or "auto" (bf16 on CUDA
    when supported, else fp32): autocast of the training, validation and prediction passes
    (:mod:`glocal.accel`), saved with the model; ``validation_fraction`` — rows held out for early stopping when ``fit``
    gets no ``X_val`` (drawn with ``numpy.random.default_rng(seed)``); ``mc_samples`` — MC-dropout
    passes of ``predict(X, return_std=True)``; ``seed`` — the initialisation (``torch.manual_seed``)
    and the training streams; ``label_names``; ``init_from`` — None, or a network run directory whose
    weights start the training instead of a random initialisation (fine-tuning): its architecture, pixel
    count and labels must match (else ValueError), float16 weights are cast up, and its label scaler and
    input normalisation are kept (the weights were trained for them); a checkpoint to resume wins.
    Fit-steering options (not saved): ``device``
    ("auto": CUDA when available), ``progress`` (a progress bar), ``checkpoint_dir`` (per-epoch
    checkpoints there, resumed when ``resume``; ``None``: nothing is written to disk), ``compile``
    (False, True, "auto" — inductor on CUDA only — or a ``torch.compile`` backend: the training
    passes only; the weights and checkpoints are the same module's either way).

    After ``fit``: ``network_`` (the module, eval mode, on the training device; on the CPU after
    :func:`~glocal.models.load`), ``network_config_``, ``training_`` (history and summary).
    """

    uncertainty = "mc_dropout"
    _RUNTIME = ("device", "progress", "checkpoint_dir", "resume", "compile")
    _PREDICT_BATCH, _MC_BATCH = 512, 256

    def __init__(self, *, config="cpu", max_epochs: int = 1000, batch_size: int = 128, lr: float = 1e-4,
                 weight_decay: float = 5e-4, betas=(0.9, 0.999), eps: float = 1e-8, lr_step: int = 100,
                 lr_gamma: float = 0.8, patience: int = 10, average_last: int = 10, noise_snr=None,
                 normalise_input: bool = True, validation_fraction: float = 0.1, mc_samples: int = 30,
                 seed: int = 0, label_names=None, precision: str = "fp32", init_from=None, device="auto",
                 progress: bool = False, checkpoint_dir=None, resume: bool = True, compile=False):
        self.config, self.max_epochs, self.batch_size, self.lr = config, max_epochs, batch_size, lr
        self.weight_decay, self.betas, self.eps, self.lr_step = weight_decay, betas, eps, lr_step
        self.lr_gamma, self.patience, self.average_last, self.noise_snr = lr_gamma, patience, average_last, noise_snr
        self.normalise_input, self.validation_fraction = normalise_input, validation_fraction
        self.mc_samples, self.seed, self.label_names = mc_samples, seed, label_names
        self.device, self.progress, self.checkpoint_dir, self.resume = device, progress, checkpoint_dir, resume
        self.precision, self.compile = precision, compile
        self.init_from = None if init_from is None else str(init_from)
        network_config(config)                       # validates the architecture
        self._train_options()                        # validates the training options
        if not 0.0 < validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction!r}")
        if isinstance(mc_samples, bool) or int(mc_samples) != mc_samples or mc_samples < 2:
            raise ValueError(f"mc_samples must be an integer >= 2, got {mc_samples!r}")
        if isinstance(seed, bool) or int(seed) != seed:
            raise ValueError(f"seed must be an integer, got {seed!r}")
        self.network_ = None
        self.training_ = None

    @property
    def accepts_missing(self) -> bool:
        """NaN = missing pixel when the architecture has ``missing=True`` (a mask embedding)."""
        return bool(network_config(self.config)["missing"])

    def _train_options(self) -> TrainOptions:
        return TrainOptions(max_epochs=self.max_epochs, batch_size=self.batch_size, lr=self.lr,
                            weight_decay=self.weight_decay, betas=self.betas, eps=self.eps,
                            lr_step=self.lr_step, lr_gamma=self.lr_gamma, patience=self.patience,
                            average_last=self.average_last, seed=int(self.seed), noise_snr=self.noise_snr,
                            normalise_input=self.normalise_input, precision=self.precision, compile=self.compile)

    @classmethod
    def from_run_config(cls, config, n_labels: int, **hyperparameters):
        """``(estimator, resolved architecture)`` for :func:`glocal.runs.train_run`."""
        model_config = network_config(config, n_labels)
        cls.check_params(hyperparameters)
        return cls(config=model_config, **hyperparameters), model_config

    # -- fit / predict
    def _validation_split(self, X, y, X_val, y_val):
        if X_val is not None:
            return X, y, X_val, y_val
        n = len(X)
        n_val = max(1, int(round(self.validation_fraction * n)))
        if n - n_val < 2:
            raise ValueError(f"{n} rows leave {n - n_val} for training after holding out "
                             f"validation_fraction={self.validation_fraction}; need at least 2 (or pass X_val)")
        perm = np.random.default_rng(int(self.seed)).permutation(n)
        tr, va = np.sort(perm[n_val:]), np.sort(perm[:n_val])
        return X[tr], y[tr], X[va], y[va]

    def _fit(self, X, y, X_val, y_val, scaler):
        cfg = network_config(self.config, y.shape[1])
        torch.manual_seed(int(self.seed))
        net = build(self.name, cfg, n_pixels=X.shape[1])
        options = self._train_options()
        if self.init_from is not None:
            src = _initial_state(self.init_from, self.name, X.shape[1], scaler.names)
            own = net.state_dict()
            state = src.network_.state_dict()
            if set(state) != set(own) or any(state[k].shape != own[k].shape for k in own):
                raise ValueError(f"init_from {self.init_from}: not this architecture ({self.config!r})")
            net.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
            scaler = src.scaler_
            options = dataclasses.replace(options, normalise_input=False)
        res = train_model(net, X, y, X_val, y_val, options, label_names=scaler.names,
                          scaler=scaler, run_dir=self.checkpoint_dir, resume=self.resume,
                          device=self.device, progress=self.progress)
        self.network_, self.network_config_, self.training_ = net, cfg, res.to_dict()
        return res.scaler

    def training_report(self) -> dict:
        out = {"training": self.training_} if self.training_ is not None else {}
        return {**out, "n_parameters": count_parameters(self.network_)}

    def _predict(self, X, return_std, *, mc_samples, seed, batch_size):
        if return_std:
            T = self.mc_samples if mc_samples is None else mc_samples
            return mc_dropout_predict(self.network_, X, T=T, seed=seed, batch_size=batch_size or self._MC_BATCH,
                                      precision=self.precision)
        return predict_array(self.network_, X, batch_size=batch_size or self._PREDICT_BATCH,
                             precision=self.precision), None

    # -- persistence
    def save(self, directory, *, half: bool = False) -> Path:
        """As :meth:`Estimator.save`; ``half`` stores the parameters as float16 (buffers — the input
        normalisation, whose rounding the 1/scale would amplify — stay float32); cast back on loading."""
        return self._save(directory, half=half)

    def _save_files(self, d: Path, half: bool = False) -> list[str]:
        buffers = {k for k, _ in self.network_.named_buffers()}
        state = {k: v.detach().cpu().to(torch.float16 if half and v.is_floating_point() and k not in buffers
                                        else v.dtype).contiguous()
                 for k, v in self.network_.state_dict().items()}
        save_file(state, str(d / WEIGHTS), metadata={"model": self.name, "n_pixels": str(self.n_features_in_),
                                                      "dtype": "float16" if half else "float32"})
        return [WEIGHTS]

    def _extra_meta(self) -> dict:
        return {"network_config": self.network_config_, "training": self.training_}

    def _load_files(self, d: Path, meta: dict, n_features: int, n_labels: int) -> None:
        try:
            cfg = network_config(meta["network_config"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"corrupt network description in {d}: {exc}") from None
        self._load_weights(d, cfg, n_features, n_labels)
        self.training_ = meta.get("training")

    def _load_weights(self, d: Path, cfg: dict, n_features: int, n_labels: int) -> None:
        if cfg["n_outputs"] != n_labels:
            raise ValueError(f"{d}: network has {cfg['n_outputs']} outputs for {n_labels} labels")
        path = d / WEIGHTS
        if not path.is_file():
            raise FileNotFoundError(f"missing weights file {path}")
        net = build(self.name, cfg, n_pixels=n_features)
        try:
            net.load_state_dict(load_file(str(path)))
        except Exception as exc:  # safetensors parse errors, missing/unexpected keys, shapes
            raise ValueError(f"cannot load weights {path}: {exc}") from None
        self.network_, self.network_config_ = net.eval(), cfg

    @classmethod
    def _from_legacy_run(cls, d: Path, cfg: dict):
        """A network run of format version 1 (config.json: model_config, training, init_seed)."""
        names = set(cls.param_names()) - set(cls._RUNTIME)
        training = {k: v for k, v in (cfg.get("training") or {}).items() if k in names}
        try:
            obj = cls(config=network_config(cfg["model_config"]), seed=int(cfg.get("init_seed", cfg.get("seed", 0))),
                      label_names=list(cfg["labels"]), **training)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"corrupt {d / 'config.json'}: {exc}") from None
        obj._load_weights(d, obj.config, int(cfg["n_pixels"]), len(cfg["labels"]))
        metrics = d / "metrics.json"
        obj.training_ = read_json(metrics, "run").get("training") if metrics.is_file() else None
        return obj
