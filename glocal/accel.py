"""The accelerator path of :func:`glocal.training.train_model`: mixed precision, ``torch.compile`` and
where the training data live.

``precision`` ("fp32", "bf16", "fp16", "auto"; :class:`glocal.training.TrainOptions`): "fp32" (the
default) is the plain float32 loop, unchanged. "bf16" and "fp16" run the forward passes — training,
validation and prediction — under ``torch.autocast(device.type, dtype)``: the weights, the gradients
and the Adam state stay float32, the outputs are cast to float32 before the loss, and the label
scaler works in float64 as always. "fp16" on CUDA adds a ``torch.amp.GradScaler`` (dynamic loss
scaling; its state goes into the checkpoint) with Adam's fused kernel, which reads the scaler's inf
flag on the device instead of the host; fp16 elsewhere runs unscaled. "auto" is "bf16" on CUDA when
``torch.cuda.is_bf16_supported()``, else "fp32". A checkpoint records the resolved precision when it
is not "fp32" and is resumed only under the same one (:func:`check_checkpoint_precision`).

``compile`` (False, True, "auto" or a backend name): :func:`compile_module`. The compiled wrapper only
runs the passes; checkpoints and the final weights are the plain module's ``state_dict``, so runs
with and without compilation write interchangeable checkpoints.

Data placement (:meth:`Data.place`): the spectra, standardised labels, the epoch's permutation and
noise are moved to the training device once per run (per epoch for permutation and noise) and the
batches are gathered there. On CUDA this holds when the training and validation arrays take at most
:data:`DEVICE_DATA_FRACTION` of the free device memory (``torch.cuda.mem_get_info``); above it they
stay in pinned host memory and each batch is gathered on the host, pinned and copied with
``non_blocking=True``. The loop itself reads nothing back from the device per batch.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from . import checkpoints as _ck

__all__ = ["PRECISIONS", "DEVICE_DATA_FRACTION", "resolve_device", "resolve_precision", "autocast",
           "compile_module", "check_compile", "check_checkpoint_precision", "Data", "Step"]

#: Accepted ``precision`` values.
PRECISIONS = ("fp32", "bf16", "fp16", "auto")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
#: Largest fraction of the free CUDA memory the training and validation arrays may take on the device.
DEVICE_DATA_FRACTION = 0.25


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_precision(precision: str, device: torch.device) -> str:
    """The precision a run on ``device`` uses: "auto" → "bf16" on CUDA with bf16 support, else "fp32"."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"


def autocast(precision: str, device: torch.device):
    """Context of the forward passes: ``torch.autocast`` in bf16/fp16, nothing in fp32 (resolved first)."""
    precision = resolve_precision(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


def check_compile(compile) -> None:
    """ValueError unless ``compile`` is a bool or a non-empty string ("auto" or a backend name)."""
    if not (isinstance(compile, bool) or (isinstance(compile, str) and compile.strip())):
        raise ValueError(f"compile must be True, False, 'auto' or a torch.compile backend name, got {compile!r}")


def compile_module(model: nn.Module, compile, device: torch.device) -> nn.Module:
    """``model`` itself (``compile`` False, or "auto" off CUDA) or ``torch.compile(model, backend=…)``
    with "inductor" for ``True`` and for "auto" on CUDA, else the named backend ("eager" runs the
    captured graphs op by op and needs no C++ toolchain). The wrapper shares the module's parameters;
    its ``state_dict`` keys carry an ``_orig_mod.`` prefix, so save the module's, not the wrapper's."""
    check_compile(compile)
    if compile is False or (compile == "auto" and device.type != "cuda"):
        return model
    return torch.compile(model, backend="inductor" if compile in (True, "auto") else compile)


def check_checkpoint_precision(run_dir: Path, precision: str) -> None:
    """ValueError when the checkpoint in ``run_dir`` was trained in another precision than the resolved
    ``precision`` (a checkpoint without the record: "fp32"); nothing when there is no readable one."""
    try:
        saved = json.loads((Path(run_dir) / _ck.CHECKPOINT_JSON).read_text())["params"].get("precision", "fp32")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return                       # no checkpoint, or a corrupt one that load_checkpoint reports
    if saved != precision:
        raise ValueError(f"cannot resume {run_dir}: its checkpoint was trained in {saved}, this run uses "
                         f"{precision} (set precision={saved!r}, or resume=False to restart)")


@dataclass
class Data:
    """Training and validation tensors (labels standardised): on the training device (``resident``), or
    in pinned host memory and copied batch by batch (CUDA above :data:`DEVICE_DATA_FRACTION`)."""

    xt: torch.Tensor
    zt: torch.Tensor
    xv: torch.Tensor
    zv: torch.Tensor
    resident: bool = True

    @classmethod
    def place(cls, arrays, dev: torch.device) -> Data:
        """``arrays``: x_train, z_train, x_val, z_val (float32 numpy); placed by the rule above."""
        tensors = [torch.from_numpy(a) for a in arrays]
        if dev.type == "cuda":
            index = dev.index if dev.index is not None else torch.cuda.current_device()
            if sum(t.nbytes for t in tensors) > DEVICE_DATA_FRACTION * torch.cuda.mem_get_info(index)[0]:
                return cls(*(t.pin_memory() for t in tensors), resident=False)
        return cls(*(t.to(dev) for t in tensors))


@dataclass
class Step:
    """How the passes run: ``module`` (the model or its compiled wrapper), the resolved ``precision``,
    the ``device``, the fp16 ``scaler`` (``None`` unless fp16 on CUDA) and whether the data are resident."""

    module: nn.Module
    precision: str
    device: torch.device
    scaler: object = None
    resident: bool = True

    def to_device(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` on the device: itself when the data are resident, else a pinned non-blocking copy."""
        return t if self.resident else t.pin_memory().to(self.device, non_blocking=True)

    def extra_state(self) -> dict:
        """What the checkpoint JSON stores besides the progress: the GradScaler state, if any."""
        return {"grad_scaler": self.scaler.state_dict()} if self.scaler is not None else {}
