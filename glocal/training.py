"""Training of SPT / SPT-GloCal following paper §3.3.

Defaults are the paper's: Adam (β1 = 0.9, β2 = 0.999, ε = 1e-8), initial learning rate 1e-4
decayed by ×0.8 every 100 epochs (``StepLR``), L2 regularisation through Adam's coupled weight
decay 5e-4, truncated-normal initialisation (done by the model constructor), early stopping after
10 epochs without improvement of the validation loss, and final weights equal to the average of
the weights of the last ten epochs. "Last ten epochs" is read as the last 10 epochs *run* (the
10 epochs that ended with the early stop, including the patience window), not the 10 epochs
before the best one.

Choices where the paper is silent: the loss is the mean squared error of the standardised labels
(mean and standard deviation of the training split, :class:`LabelScaler`); validation uses the
noiseless validation spectra; batch size 128; ``max_epochs`` caps training (1000 by default);
the input spectra are centred on the training mean spectrum and divided by one global scale
(without this the networks do not learn at all from continuum-normalised fluxes ≈ 1).
The CPU configuration may use a larger ``lr`` — it is a parameter (:class:`TrainOptions`).

Reproducibility and resume: the shuffling, the noise augmentation and the dropout masks of epoch
``e`` are drawn from generators seeded with ``(seed, e)``, so a run resumed from its per-epoch
checkpoint (:mod:`glocal.checkpoints`, written when ``run_dir`` is given) continues exactly as an
uninterrupted run would. Without ``run_dir`` nothing touches the disk: the weights of the last
``average_last`` epochs are kept in memory for the final average. The loop accumulates the
training loss on the device and reads it once per epoch (no host synchronisation per batch); a
non-finite training loss stops training at the end of the epoch in which it appeared.

Mixed precision, ``torch.compile`` and the data placement on CUDA (:class:`TrainOptions`
``precision`` and ``compile``; the defaults leave the float32 loop unchanged): :mod:`glocal.accel`.
"""
from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import checkpoints as _ck
from .accel import (
    PRECISIONS,
    Data,
    Step,
    autocast,
    check_checkpoint_precision,
    check_compile,
    compile_module,
    resolve_device,
    resolve_precision,
)

__all__ = ["LabelScaler", "TrainOptions", "TrainResult", "train_model", "predict_array",
           "resolve_device", "add_noise_torch", "average_state_dicts"]


# ----------------------------------------------------------------------------- scaler
@dataclass
class LabelScaler:
    """Per-label standardisation ``z = (y − mean) / std`` with statistics of the training split."""

    names: list[str]
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, y, names) -> LabelScaler:
        y = _as_2d_labels(y, "y")
        names = [str(n) for n in names]
        if len(names) != y.shape[1]:
            raise ValueError(f"{len(names)} label names for {y.shape[1]} label columns")
        if len(y) < 2:
            raise ValueError("need at least 2 training rows to standardise labels")
        std = y.std(axis=0, ddof=0)
        std = np.where(std > 0, std, 1.0)          # a constant label is only centred
        return cls(names, y.mean(axis=0), std)

    def transform(self, y) -> np.ndarray:
        y = _as_2d_labels(y, "y")
        if y.shape[1] != len(self.names):
            raise ValueError(f"expected {len(self.names)} label columns, got {y.shape[1]}")
        return (y - self.mean) / self.std

    def inverse(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        return z * self.std + self.mean

    def inverse_std(self, s) -> np.ndarray:
        """Standard deviations from standardised to label units."""
        return np.asarray(s, dtype=np.float64) * self.std

    def to_dict(self) -> dict:
        return {"names": list(self.names), "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> LabelScaler:
        try:
            names, mean, std = list(d["names"]), np.asarray(d["mean"], float), np.asarray(d["std"], float)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"invalid scaler description: {exc}") from exc
        if mean.shape != (len(names),) or std.shape != (len(names),) or not (std > 0).all() \
                or not np.isfinite(mean).all():
            raise ValueError("invalid scaler: mean/std must be finite, one per name, std > 0")
        return cls(names, mean, std)


def _as_2d_labels(y, what) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    if y.ndim != 2:
        raise ValueError(f"{what} must be (n,) or (n, n_labels), got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    return y


def _as_flux(x, what, allow_missing: bool = False) -> np.ndarray:
    """``x`` as float32 (n, n_pixels); NaN (a missing pixel) only when ``allow_missing``, never inf
    and never a row without a measured pixel."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"{what} must be 2-D (n_spectra, n_pixels), got shape {x.shape}")
    if allow_missing:
        if np.isinf(x).any():
            raise ValueError(f"{what} contains infinite values")
        if x.shape[1] and np.isnan(x).all(axis=1).any():
            raise ValueError(f"{what} has a spectrum with no measured pixel (all NaN)")
    elif not np.isfinite(x).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    return x


# ----------------------------------------------------------------------------- helpers
def add_noise_torch(x: torch.Tensor, snr, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise σ = 1/S/N per pixel (continuum-level S/N, as ``glocal.degrade.add_noise``).

    ``snr``: a number, or ``(lo, hi)`` for one S/N per spectrum drawn uniformly in [lo, hi].
    The draws come from the CPU ``generator`` (first the S/N values, then the unit normals).
    """
    return x + _noise(tuple(x.shape), snr, generator).to(x.device, x.dtype)


def _noise(shape: tuple, snr, generator: torch.Generator) -> torch.Tensor:
    """The float32 CPU noise :func:`add_noise_torch` adds to a batch of ``shape``."""
    n = shape[0]
    if np.ndim(snr) == 0:
        s = torch.full((n, 1), float(snr))
    else:
        lo, hi = (float(v) for v in snr)
        s = lo + (hi - lo) * torch.rand((n, 1), generator=generator)
    return torch.randn(shape, generator=generator) / s


def _check_snr(snr) -> None:
    if snr is None:
        return
    vals = np.atleast_1d(np.asarray(snr, dtype=np.float64))
    if vals.size not in (1, 2) or not np.isfinite(vals).all() or (vals <= 0).any() or \
            (vals.size == 2 and vals[0] > vals[1]):
        raise ValueError(f"noise_snr must be a positive number or an increasing (lo, hi) pair, got {snr!r}")


def average_state_dicts(states: list[dict]) -> dict:
    """Element-wise mean of state dicts (floating tensors averaged, others from the last)."""
    if not states:
        raise ValueError("no state dicts to average")
    out = {}
    for key, last in states[-1].items():
        if torch.is_floating_point(last):
            out[key] = torch.stack([s[key].double() for s in states]).mean(0).to(last.dtype)
        else:
            out[key] = last.clone()
    return out


def predict_array(model: nn.Module, x, *, batch_size: int = 512,
                  device: str | torch.device | None = None, precision: str = "fp32") -> np.ndarray:
    """Deterministic (eval-mode) model outputs for spectra ``x`` (n, n_pixels), float64; the passes
    run under :func:`autocast` of ``precision`` (resolved on the model's device)."""
    x = _as_flux(x, "x", bool(getattr(model, "missing", False)))
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was = model.training
    model.eval()
    try:
        with torch.no_grad(), autocast(precision, device):
            out = [model(torch.from_numpy(x[i:i + batch_size]).to(device)).double().cpu()
                   for i in range(0, len(x), batch_size)]
    finally:
        model.train(was)
    return torch.cat(out).numpy() if out else np.zeros((0, model.head.out_features))



# ----------------------------------------------------------------------------- options, result
@dataclass(frozen=True)
class TrainOptions:
    """Hyper-parameters of the §3.3 recipe (defaults: the paper's; see the module docstring).

    ``noise_snr``: ``None`` (noiseless, as the paper), a S/N, or a ``(lo, hi)`` range for on-the-fly
    Gaussian noise augmentation (one S/N per spectrum, uniform in [lo, hi]). ``seed`` seeds the
    shuffling, noise and dropout streams. ``normalise_input`` sets the model's input normalisation
    from the training spectra. ``precision`` ("fp32", "bf16", "fp16", "auto") and ``compile`` (False,
    True, "auto" or a backend name): the accelerator path of :mod:`glocal.accel`; neither enters :meth:`record`
    (:func:`train_model` adds the resolved precision when it is not "fp32"). ValueError for
    out-of-range values.
    """

    max_epochs: int = 1000
    batch_size: int = 128
    lr: float = 1e-4
    weight_decay: float = 5e-4
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-8
    lr_step: int = 100
    lr_gamma: float = 0.8
    patience: int = 10
    average_last: int = 10
    seed: int = 0
    noise_snr: object = None
    normalise_input: bool = True
    precision: str = "fp32"
    compile: object = False

    def __post_init__(self):
        for name in ("max_epochs", "batch_size", "lr_step", "patience", "average_last"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, (int, float, np.integer, np.floating)) \
                    or int(val) != val or val < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {val!r}")
            object.__setattr__(self, name, int(val))
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        _check_snr(self.noise_snr)
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        check_compile(self.compile)
        object.__setattr__(self, "betas", tuple(self.betas))
        if np.ndim(self.noise_snr) == 1:
            object.__setattr__(self, "noise_snr", tuple(self.noise_snr))

    def record(self, n_train: int, n_val: int) -> dict:
        """The parameters as stored in checkpoints and results (compared when resuming)."""
        return dict(max_epochs=int(self.max_epochs), batch_size=int(self.batch_size), lr=float(self.lr),
                    weight_decay=float(self.weight_decay), betas=[float(b) for b in self.betas],
                    eps=float(self.eps), lr_step=int(self.lr_step), lr_gamma=float(self.lr_gamma),
                    patience=int(self.patience), average_last=int(self.average_last), seed=int(self.seed),
                    noise_snr=None if self.noise_snr is None else np.asarray(self.noise_snr, float).tolist(),
                    n_train=int(n_train), n_val=int(n_val), normalise_input=bool(self.normalise_input))


@dataclass
class TrainResult:
    """Outcome of :func:`train_model` (the model itself holds the averaged final weights)."""

    history: list[dict]
    epochs_run: int
    best_epoch: int
    best_val_loss: float
    stopped_early: bool
    final_val_loss: float
    scaler: LabelScaler
    params: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"history": self.history, "epochs_run": self.epochs_run,
                "best_epoch": self.best_epoch, "best_val_loss": self.best_val_loss,
                "stopped_early": self.stopped_early, "final_val_loss": self.final_val_loss,
                "params": self.params}


@dataclass
class _Progress:
    """Early-stopping state and history (what a checkpoint stores besides tensors)."""

    history: list = field(default_factory=list)
    best_val_loss: float = math.inf
    best_epoch: int = -1
    since_best: int = 0
    stopped: bool = False

    def as_dict(self) -> dict:
        return {"history": self.history, "best_val_loss": self.best_val_loss, "best_epoch": self.best_epoch,
                "since_best": self.since_best, "stopped": self.stopped}

    def update(self, epoch: int, train_loss: float, val: float, lr: float, seconds: float,
               patience: int) -> None:
        if val < self.best_val_loss:
            self.best_val_loss, self.best_epoch, self.since_best = val, epoch, 0
        else:
            self.since_best += 1
        self.stopped = self.since_best >= patience
        self.history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val,
                             "lr": lr, "seconds": seconds})


# ----------------------------------------------------------------------------- training
def train_model(model: nn.Module, x_train, y_train, x_val, y_val, options: TrainOptions | None = None, *,
                label_names=None, scaler: LabelScaler | None = None, run_dir=None, resume: bool = True,
                device: str | torch.device = "auto", progress: bool = True) -> TrainResult:
    """Train ``model`` on standardised labels with the §3.3 recipe; see the module docstring.

    ``x_*``: (n, n_pixels) spectra; ``y_*``: (n, n_labels) raw labels (``label_names`` names
    them; ``scaler`` standardises them, by default fitted on ``y_train``). ``options``: a
    :class:`TrainOptions` (default: the paper's). ``run_dir``: per-epoch checkpoints there
    (resumed when ``resume`` and a checkpoint exists; removed and restarted otherwise); ``None``
    keeps everything in memory. Returns a :class:`TrainResult`; on return the model holds the
    average of the last ``average_last`` epochs' weights and is in eval mode.
    """
    opts = options if options is not None else TrainOptions()
    if not isinstance(opts, TrainOptions):
        raise TypeError(f"options must be a TrainOptions, got {type(opts).__name__}")
    x_train, y_train, x_val, y_val = _check_data(model, x_train, y_train, x_val, y_val)
    names = list(label_names) if label_names is not None else [f"y{j}" for j in range(y_train.shape[1])]
    scaler = scaler or LabelScaler.fit(y_train, names)
    params = opts.record(len(x_train), len(x_val))
    if opts.normalise_input:
        _set_input_normalisation(model, x_train)
    dev = resolve_device(device)
    precision = resolve_precision(opts.precision, dev)
    if precision != "fp32":
        params["precision"] = precision
    model.to(dev)
    data = Data.place((x_train, scaler.transform(y_train).astype(np.float32), x_val,
                        scaler.transform(y_val).astype(np.float32)), dev)
    grads = torch.amp.GradScaler("cuda") if precision == "fp16" and dev.type == "cuda" else None
    opt = torch.optim.Adam(model.parameters(), lr=opts.lr, betas=tuple(opts.betas), eps=opts.eps,
                           weight_decay=opts.weight_decay, **({"foreach": True} if grads is None else {"fused": True}))
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=opts.lr_step, gamma=opts.lr_gamma)
    run_dir = Path(run_dir) if run_dir is not None else None
    state, start = _Progress(), 0
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            check_checkpoint_precision(run_dir, precision)
        meta = _ck.load_checkpoint(run_dir, params, model, opt, sched, dev) if resume else None
        if meta is not None:
            state = _Progress(meta["history"], meta["best_val_loss"], meta["best_epoch"],
                              meta["since_best"], meta["stopped"])
            start, scaler = meta["epoch"] + 1, LabelScaler.from_dict(meta["scaler"])
            if grads is not None and meta.get("grad_scaler"):
                grads.load_state_dict(meta["grad_scaler"])
        elif not resume:
            _ck.clear_checkpoints(run_dir)
    step = Step(compile_module(model, opts.compile, dev), precision, dev, grads, data.resident)
    recent = _run_epochs(model, opt, sched, data, opts, state, start, step, run_dir=run_dir, scaler=scaler,
                         params=params, progress=progress)
    if run_dir is not None:
        states = _ck.last_epoch_states(run_dir, state.history[-1]["epoch"], opts.average_last) \
            if state.history else []
    else:
        states = list(recent)
    if not states:
        raise RuntimeError("no epoch weights available to average (max_epochs reached before training?)")
    model.load_state_dict(average_state_dicts(states))
    model.to(dev).eval()
    final_val = _val_loss(step, data, opts.batch_size * 4)
    return TrainResult(state.history, len(state.history), state.best_epoch, float(state.best_val_loss),
                       bool(state.stopped), final_val, scaler, params)


def _check_data(model, x_train, y_train, x_val, y_val):
    missing = bool(getattr(model, "missing", False))
    x_train, x_val = _as_flux(x_train, "x_train", missing), _as_flux(x_val, "x_val", missing)
    y_train, y_val = _as_2d_labels(y_train, "y_train"), _as_2d_labels(y_val, "y_val")
    if len(x_train) != len(y_train) or len(x_val) != len(y_val):
        raise ValueError(f"spectra/label row counts differ: train {len(x_train)}/{len(y_train)}, "
                         f"val {len(x_val)}/{len(y_val)}")
    if len(x_val) == 0:
        raise ValueError("the validation split is empty (early stopping needs it)")
    if y_val.shape[1] != y_train.shape[1]:
        raise ValueError("train and validation labels have different numbers of columns")
    n_out = getattr(getattr(model, "head", None), "out_features", y_train.shape[1])
    if n_out != y_train.shape[1]:
        raise ValueError(f"model has {n_out} outputs but {y_train.shape[1]} label columns were given")
    return x_train, y_train, x_val, y_val


def _set_input_normalisation(model: nn.Module, x_train: np.ndarray) -> None:
    if not hasattr(model, "set_input_normalisation"):
        raise TypeError(f"{type(model).__name__} has no set_input_normalisation(); "
                        "use TrainOptions(normalise_input=False)")
    # NaN = missing pixel (models with missing=True); a pixel never measured in training keeps a NaN
    # mean, which the model reads as "always missing"
    counts = (~np.isnan(x_train)).sum(axis=0)
    mean = np.where(counts > 0, np.nansum(x_train, axis=0, dtype=np.float64) / np.maximum(counts, 1), np.nan)
    rms = float(np.sqrt(np.nanmean((x_train - mean) ** 2)))
    model.set_input_normalisation(mean, rms if rms > 0 else 1.0)


def _run_epochs(model, opt, sched, data: Data, opts: TrainOptions, state: _Progress, start: int,
                step: Step, *, run_dir, scaler, params, progress) -> deque:
    """Epochs ``start, start+1, …`` until ``max_epochs`` or the early stop; returns the in-memory
    weights of the last ``average_last`` epochs (empty when they are checkpointed to ``run_dir``).
    ``model`` is the plain module (saved), ``step.module`` what runs the passes."""
    recent: deque = deque(maxlen=opts.average_last)
    loss_fn = nn.MSELoss()
    bar = tqdm(total=int(opts.max_epochs), initial=min(start, int(opts.max_epochs)), disable=not progress,
               desc=f"train {getattr(model, 'name', type(model).__name__)}", unit="epoch")
    epoch = start
    while epoch < opts.max_epochs and not state.stopped:
        t0 = time.time()
        train_loss = _train_epoch(step, opt, data, opts, epoch, loss_fn)
        lr_now = opt.param_groups[0]["lr"]
        sched.step()
        val = _val_loss(step, data, opts.batch_size * 4)
        state.update(epoch, train_loss, val, lr_now, time.time() - t0, opts.patience)
        if run_dir is not None:
            _ck.save_epoch(run_dir, model, opt, sched, epoch, state.as_dict() | step.extra_state(),
                           scaler.to_dict(), params, opts.average_last)
        else:
            recent.append(_ck.cpu_state(model))
        bar.update(1)
        bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val:.4f}", best=state.best_epoch)
        epoch += 1
    bar.close()
    return recent


def _train_epoch(step: Step, opt, data: Data, opts: TrainOptions, epoch: int, loss_fn) -> float:
    """One pass over the shuffled training set; the mean training loss (read once, at the end).

    The permutation and the noise of every batch are drawn up front, in batch order, from the
    epoch's CPU generator (the same draws a batch-by-batch loop makes) and moved to where the data
    live once, so that the batches are gathered there without a copy per step (host-held data: one
    pinned, non-blocking copy per batch). Forward under :func:`autocast`; the loss in float32.
    """
    gen = torch.Generator().manual_seed(int(opts.seed) * 1_000_003 + epoch)
    torch.manual_seed(int(opts.seed) * 1_000_003 + epoch + 7)            # dropout masks
    step.module.train()
    n, bs = len(data.xt), int(opts.batch_size)
    perm = torch.randperm(n, generator=gen)
    starts = range(0, n, bs)
    noise = None
    if opts.noise_snr is not None:
        shape = tuple(data.xt.shape[1:])
        noise = torch.cat([_noise((min(bs, n - i),) + shape, opts.noise_snr, gen) for i in starts])
        noise = noise.to(data.xt.device, data.xt.dtype)
    perm = perm.to(data.xt.device)
    total = torch.zeros((), dtype=torch.float64, device=step.device)
    for i in starts:
        idx = perm[i:i + bs]
        xb = data.xt[idx]
        if noise is not None:
            xb = xb + noise[i:i + bs]
        xb, zb = step.to_device(xb), step.to_device(data.zt[idx])
        opt.zero_grad(set_to_none=True)
        with autocast(step.precision, step.device):
            out = step.module(xb)
        loss = loss_fn(out.float(), zb)
        if step.scaler is None:
            loss.backward()
            opt.step()
        else:
            step.scaler.scale(loss).backward()
            step.scaler.step(opt)
            step.scaler.update()
        total += loss.detach().double() * len(idx)
    total = total.item()
    if not math.isfinite(total):
        raise FloatingPointError(f"non-finite training loss at epoch {epoch}")
    return total / n


def _val_loss(step: Step, data: Data, bs: int) -> float:
    """Mean squared error of the standardised validation labels (eval mode, :func:`autocast`), summed
    on the device in float64 and read once."""
    step.module.eval()
    se = torch.zeros((), dtype=torch.float64, device=step.device)
    with torch.no_grad(), autocast(step.precision, step.device):
        for i in range(0, len(data.xv), bs):
            out = step.module(step.to_device(data.xv[i:i + bs])).float()
            se += ((out - step.to_device(data.zv[i:i + bs])) ** 2).sum().double()
    return se.item() / data.zv.numel()
