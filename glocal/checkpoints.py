"""Per-epoch training checkpoints of :func:`glocal.training.train_model` (resume and weight averaging).

A checkpoint directory holds

* ``epoch_XXXXX.safetensors`` — the model weights after epoch ``XXXXX``, kept for the last
  ``average_last`` epochs (the final weights are their mean, paper §3.3);
* ``checkpoint_XXXXX.safetensors`` — model weights (``model.<key>``) and the Adam state tensors
  (``opt.<param index>.<name>``) of the latest epoch only;
* ``checkpoint.json`` — epoch counter, history, early-stopping state, scheduler state, the Adam
  hyper-parameters and non-tensor state, the label scaler and the training parameters.

No pickle anywhere: tensors in safetensors, everything else JSON. Every file is written to a
temporary name and moved into place, so an interrupted epoch leaves the previous checkpoint intact.
A checkpoint is resumed only when the training parameters it records equal the current ones
(``max_epochs`` aside, so a finished run can be extended).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ._io import atomic_write_text, json_default

__all__ = ["cpu_state", "save_epoch", "load_checkpoint", "clear_checkpoints", "last_epoch_states"]

CHECKPOINT_JSON = "checkpoint.json"


def cpu_state(model: nn.Module) -> dict:
    """Detached, contiguous CPU copies of ``model``'s state dict."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def _epoch_file(run_dir: Path, epoch: int) -> Path:
    return run_dir / f"epoch_{epoch:05d}.safetensors"


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


def save_epoch(run_dir: Path, model: nn.Module, opt, sched, epoch: int, progress: dict, scaler: dict,
               params: dict, average_last: int) -> None:
    """Write the checkpoint of ``epoch`` and drop the files no longer needed.

    ``progress``: ``history``, ``best_val_loss``, ``best_epoch``, ``since_best``, ``stopped``;
    ``scaler``: the label scaler as a dict; ``params``: the training parameters (compared on resume).
    """
    weights = cpu_state(model)
    _atomic_save_tensors(weights, _epoch_file(run_dir, epoch))
    opt_tensors, opt_meta = _flatten_optimizer(opt)
    name = f"checkpoint_{epoch:05d}.safetensors"
    _atomic_save_tensors({f"model.{k}": v for k, v in weights.items()} | opt_tensors, run_dir / name)
    meta = {"epoch": epoch, "tensors": name, **progress, "scheduler": sched.state_dict(),
            "optimizer": opt_meta, "scaler": scaler, "params": params}
    atomic_write_text(run_dir / CHECKPOINT_JSON, json.dumps(meta, default=json_default))
    for f in run_dir.glob("checkpoint_*.safetensors"):
        if f.name != name:
            f.unlink()
    old = _epoch_file(run_dir, epoch - average_last)
    if old.exists():
        old.unlink()


def clear_checkpoints(run_dir: Path) -> None:
    """Remove every checkpoint and epoch-weights file of ``run_dir``."""
    for f in list(run_dir.glob("checkpoint*")) + list(run_dir.glob("epoch_*.safetensors")):
        f.unlink()


def load_checkpoint(run_dir: Path, params: dict, model: nn.Module, opt, sched, device) -> dict | None:
    """Restore model, optimiser and scheduler from ``run_dir``; ``None`` when it holds no checkpoint.

    Returns the checkpoint's JSON (epoch, history, early-stopping state, scaler). ValueError when the
    recorded training parameters (``max_epochs`` aside) differ from ``params`` or the JSON is corrupt;
    FileNotFoundError when its tensor file is missing.
    """
    ck = run_dir / CHECKPOINT_JSON
    if not ck.exists():
        return None
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
    model.to(device)
    _restore_optimizer(opt, tensors, meta["optimizer"])
    sched.load_state_dict(meta["scheduler"])
    return meta


def last_epoch_states(run_dir: Path, last: int, average_last: int) -> list[dict]:
    """Weights of the (up to) ``average_last`` epochs ending with ``last`` that are on disk."""
    files = [_epoch_file(run_dir, e) for e in range(max(0, last - average_last + 1), last + 1)]
    return [load_file(str(f)) for f in files if f.is_file()]
