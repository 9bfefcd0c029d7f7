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
The CPU configuration may use a larger ``lr`` — it is a parameter.

Reproducibility and resume: the shuffling, the noise augmentation and the dropout masks of epoch
``e`` are drawn from generators seeded with ``(seed, e)``, so a run resumed from its per-epoch
checkpoint continues exactly as an uninterrupted run would. Checkpoints (``run_dir``) hold the
model and Adam state in safetensors files and the counters, history, scheduler and scaler in
JSON (no pickle anywhere); the weights of the last ``average_last`` epochs are kept as
``epoch_XXXXX.safetensors`` for the final average.
"""
from __future__ import annotations

import json
import math
import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

__all__ = ["LabelScaler", "TrainResult", "train_model", "predict_array", "resolve_device",
           "add_noise_torch", "average_state_dicts"]


# ----------------------------------------------------------------------------- scaler
@dataclass
class LabelScaler:
    """Per-label standardisation ``z = (y − mean) / std`` with statistics of the training split."""

    names: list[str]
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, y, names) -> "LabelScaler":
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
    def from_dict(cls, d: dict) -> "LabelScaler":
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


def _as_flux(x, what) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"{what} must be 2-D (n_spectra, n_pixels), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    return x


# ----------------------------------------------------------------------------- helpers
def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def add_noise_torch(x: torch.Tensor, snr, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise σ = 1/S/N per pixel (continuum-level S/N, as ``glocal.degrade.add_noise``).

    ``snr``: a number, or ``(lo, hi)`` for one S/N per spectrum drawn uniformly in [lo, hi].
    """
    n = x.shape[0]
    if np.ndim(snr) == 0:
        s = torch.full((n, 1), float(snr))
    else:
        lo, hi = (float(v) for v in snr)
        s = lo + (hi - lo) * torch.rand((n, 1), generator=generator)
    noise = torch.randn(x.shape, generator=generator) / s
    return x + noise.to(x.device, x.dtype)


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


def _cpu_state(model: nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def predict_array(model: nn.Module, x, *, batch_size: int = 512,
                  device: str | torch.device | None = None) -> np.ndarray:
    """Deterministic (eval-mode) model outputs for spectra ``x`` (n, n_pixels), float64."""
    x = _as_flux(x, "x")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = [model(torch.from_numpy(x[i:i + batch_size]).to(device)).double().cpu()
                   for i in range(0, len(x), batch_size)]
    finally:
        model.train(was)
    return torch.cat(out).numpy() if out else np.zeros((0, model.head.out_features))


# ----------------------------------------------------------------------------- checkpoints
def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _atomic_save_tensors(tensors: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, path)


def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict, dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for name, val in st.items():
            if isinstance(val, torch.Tensor):
                tensors[f"opt.{idx}.{name}"] = val.detach().cpu().contiguous()
            else:
                scalars[f"{idx}.{name}"] = val
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _restore_optimizer(opt: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    state: dict = {}
    for key, val in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = val
    for key, val in meta["scalars"].items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = val
    groups = []
    for g in meta["param_groups"]:
        g = dict(g)
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    opt.load_state_dict({"state": state, "param_groups": groups})


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


# ----------------------------------------------------------------------------- training
def train_model(model: nn.Module, x_train, y_train, x_val, y_val, *, label_names=None,
                max_epochs: int = 1000, batch_size: int = 128, lr: float = 1e-4,
                weight_decay: float = 5e-4, betas=(0.9, 0.999), eps: float = 1e-8,
                lr_step: int = 100, lr_gamma: float = 0.8, patience: int = 10,
                average_last: int = 10, seed: int = 0, device: str | torch.device = "auto",
                run_dir=None, resume: bool = True, noise_snr=None, progress: bool = True,
                scaler: LabelScaler | None = None, normalise_input: bool = True) -> TrainResult:
    """Train ``model`` on standardised labels with the §3.3 recipe; see the module docstring.

    ``x_*``: (n, n_pixels) spectra; ``y_*``: (n, n_labels) raw labels (``label_names`` names
    them). ``noise_snr``: ``None`` (noiseless, as the paper), a S/N, or a ``(lo, hi)`` range
    for on-the-fly noise augmentation. ``run_dir``: per-epoch checkpoints there (resumed when
    ``resume`` and a checkpoint exists). Returns a :class:`TrainResult`; on return the model
    holds the average of the last ``average_last`` epochs' weights and is in eval mode.
    """
    x_train, x_val = _as_flux(x_train, "x_train"), _as_flux(x_val, "x_val")
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
    for name, val, lo in (("max_epochs", max_epochs, 1), ("batch_size", batch_size, 1),
                          ("lr_step", lr_step, 1), ("patience", patience, 1),
                          ("average_last", average_last, 1)):
        if int(val) != val or val < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {val!r}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be positive, got {lr!r}")
    _check_snr(noise_snr)
    names = list(label_names) if label_names is not None else [f"y{j}" for j in range(y_train.shape[1])]
    scaler = scaler or LabelScaler.fit(y_train, names)
    params = dict(max_epochs=int(max_epochs), batch_size=int(batch_size), lr=float(lr),
                  weight_decay=float(weight_decay), betas=[float(b) for b in betas], eps=float(eps),
                  lr_step=int(lr_step), lr_gamma=float(lr_gamma), patience=int(patience),
                  average_last=int(average_last), seed=int(seed),
                  noise_snr=None if noise_snr is None else np.asarray(noise_snr, float).tolist(),
                  n_train=len(x_train), n_val=len(x_val), normalise_input=bool(normalise_input))
    if normalise_input:
        if not hasattr(model, "set_input_normalisation"):
            raise TypeError(f"{type(model).__name__} has no set_input_normalisation(); "
                            "pass normalise_input=False")
        mean = x_train.mean(axis=0, dtype=np.float64)
        rms = float(np.sqrt(np.mean((x_train - mean) ** 2)))
        model.set_input_normalisation(mean, rms if rms > 0 else 1.0)

    dev = resolve_device(device)
    model.to(dev)
    xt, xv = torch.from_numpy(x_train), torch.from_numpy(x_val).to(dev)
    zt = torch.from_numpy(scaler.transform(y_train).astype(np.float32))
    zv = torch.from_numpy(scaler.transform(y_val).astype(np.float32)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=tuple(betas), eps=eps,
                           weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=lr_step, gamma=lr_gamma)

    run_dir = Path(run_dir) if run_dir is not None else None
    history: list[dict] = []
    start, best_val, best_epoch, since_best, stopped = 0, math.inf, -1, 0, False
    recent: deque = deque(maxlen=average_last)       # in-memory weights when no run_dir
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        ck = run_dir / "checkpoint.json"
        if ck.exists() and resume:
            try:
                meta = json.loads(ck.read_text())
                saved = {k: meta["params"][k] for k in params if k not in ("max_epochs",)}
            except (json.JSONDecodeError, KeyError) as exc:
                raise ValueError(f"corrupt checkpoint {ck}: {exc}") from exc
            mine = {k: params[k] for k in saved}
            if saved != mine:
                diff = {k: (saved[k], mine[k]) for k in saved if saved[k] != mine[k]}
                raise ValueError(f"cannot resume {run_dir}: training parameters differ {diff}")
            tensors_path = run_dir / meta["tensors"]
            if not tensors_path.is_file():
                raise FileNotFoundError(f"checkpoint tensors {tensors_path} are missing")
            tensors = load_file(str(tensors_path))
            model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
            model.to(dev)
            _restore_optimizer(opt, tensors, meta["optimizer"])
            sched.load_state_dict(meta["scheduler"])
            history, start = meta["history"], meta["epoch"] + 1
            best_val, best_epoch = meta["best_val_loss"], meta["best_epoch"]
            since_best, stopped = meta["since_best"], meta["stopped"]
            scaler = LabelScaler.from_dict(meta["scaler"])
        elif ck.exists():
            for f in run_dir.glob("checkpoint*"):
                f.unlink()
            for f in run_dir.glob("epoch_*.safetensors"):
                f.unlink()

    n = len(xt)
    loss_fn = nn.MSELoss()
    bar = tqdm(total=int(max_epochs), initial=min(start, int(max_epochs)), disable=not progress,
               desc=f"train {getattr(model, 'name', type(model).__name__)}", unit="epoch")
    epoch = start
    while epoch < max_epochs and not stopped:
        t0 = time.time()
        gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + epoch)
        torch.manual_seed(int(seed) * 1_000_003 + epoch + 7)            # dropout masks
        model.train()
        perm = torch.randperm(n, generator=gen)
        total, count = 0.0, 0
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            xb = xt[idx]
            if noise_snr is not None:
                xb = add_noise_torch(xb, noise_snr, gen)
            xb, zb = xb.to(dev), zt[idx].to(dev)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), zb)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite training loss at epoch {epoch}")
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
        lr_now = opt.param_groups[0]["lr"]
        sched.step()
        val = _val_loss(model, xv, zv, batch_size * 4)
        improved = val < best_val
        if improved:
            best_val, best_epoch, since_best = val, epoch, 0
        else:
            since_best += 1
        stopped = since_best >= patience
        history.append({"epoch": epoch, "train_loss": total / count, "val_loss": val,
                        "lr": lr_now, "seconds": time.time() - t0})
        if run_dir is not None:
            _save_epoch(run_dir, model, opt, sched, epoch, history, best_val, best_epoch,
                        since_best, stopped, scaler, params, average_last)
        else:
            recent.append(_cpu_state(model))
        bar.update(1)
        bar.set_postfix(train=f"{total / count:.4f}", val=f"{val:.4f}", best=best_epoch)
        epoch += 1
    bar.close()

    # final weights: mean of the last `average_last` epochs run
    if run_dir is not None:
        last = history[-1]["epoch"]
        files = [run_dir / f"epoch_{e:05d}.safetensors"
                 for e in range(max(0, last - average_last + 1), last + 1)]
        states = [load_file(str(f)) for f in files if f.is_file()]
    else:
        states = list(recent)
    if not states:
        raise RuntimeError("no epoch weights available to average (max_epochs reached before training?)")
    model.load_state_dict(average_state_dicts(states))
    model.to(dev).eval()
    final_val = _val_loss(model, xv, zv, batch_size * 4)
    return TrainResult(history, len(history), best_epoch, float(best_val), bool(stopped),
                       final_val, scaler, params)


def _val_loss(model, xv, zv, bs) -> float:
    model.eval()
    with torch.no_grad():
        se = sum(((model(xv[i:i + bs]) - zv[i:i + bs]) ** 2).sum().item()
                 for i in range(0, len(xv), bs))
    return se / zv.numel()


def _save_epoch(run_dir, model, opt, sched, epoch, history, best_val, best_epoch, since_best,
                stopped, scaler, params, average_last) -> None:
    weights = _cpu_state(model)
    _atomic_save_tensors(weights, run_dir / f"epoch_{epoch:05d}.safetensors")
    old = run_dir / f"epoch_{epoch - average_last:05d}.safetensors"
    opt_tensors, opt_meta = _flatten_optimizer(opt)
    tensors = {f"model.{k}": v for k, v in weights.items()} | opt_tensors
    name = f"checkpoint_{epoch:05d}.safetensors"
    _atomic_save_tensors(tensors, run_dir / name)
    meta = {"epoch": epoch, "tensors": name, "history": history, "best_val_loss": best_val,
            "best_epoch": best_epoch, "since_best": since_best, "stopped": stopped,
            "scheduler": sched.state_dict(), "optimizer": opt_meta, "scaler": scaler.to_dict(),
            "params": params}
    _atomic_write_text(run_dir / "checkpoint.json", json.dumps(meta, default=_json_default))
    for f in run_dir.glob("checkpoint_*.safetensors"):
        if f.name != name:
            f.unlink()
    if old.exists():
        old.unlink()


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, torch.Tensor):
        return o.item() if o.numel() == 1 else o.tolist()
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")
