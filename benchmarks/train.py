"""Training and inference throughput (spectra/s) of SPT-GloCal and SPT per device kind, against the reference.

Usage::

    python benchmarks/train.py [--threads 1] [--batch-size 64] [--steps 9] [--skip-paper]
                               [--paper-batch 8] [--cuda-batch 256] [--paper-cuda-batch 64]
                               [--json results/benchmarks/train.json]

Times, in one process and on the same thread count, the current implementation
(``glocal.models``) and the previous one kept as the reference (``benchmarks/reference_models.py``,
the backbone and attention at commit b7eaceb), on the "cpu" configuration. Both models of a pair
carry the same weights (the reference's ``state_dict`` loaded into the new one). Training steps
(Adam, MSE, dropout on, batch ``--batch-size``) and inference passes (eval, no grad, 4× the batch)
are interleaved reference/new, round after round, so that load from other processes hits both
alike (the new side's Adam runs with ``foreach=True``, as :func:`glocal.training.train_model`
does, the reference's with torch's CPU default loop: both give identical parameters); each
throughput is the batch divided by the median wall time of ``--steps`` steps after one warm-up
(the median thread-CPU time is recorded too). Inputs are random R≈200 spectra of 274
pixels (the full 2550–10000 Å CSST grid).

Printed: spectra/s of reference and new, their ratio (speed-up) per model, and the SPT-GloCal/SPT
ratio (cost of the score-aware flow). Unless ``--skip-paper``: the paper configuration's
(768/12/12, ≈85 M parameters) SPT-GloCal training and inference with the new implementation on the CPU
(batch ``--paper-batch``), and the cpu/paper ratio.

Every device kind found: the CPU always (above); CUDA when ``torch.cuda.is_available()``: for the "cpu"
and (unless ``--skip-paper``) "paper" configurations, SPT-GloCal training and inference of the reference
(float32), the new implementation (float32) and the new one on the accelerator path that
``glocal train --config paper`` takes on a GPU (:mod:`glocal.accel`: precision "auto" = bf16 where the
GPU has it, ``torch.compile`` with inductor), interleaved, at batch ``--cuda-batch`` / ``--paper-cuda-batch``
(inference 4×), each step ending with ``torch.cuda.synchronize``; printed with their ratios to the
reference. A variant that fails (e.g. no compiler for inductor) is recorded with its error.
``--json`` writes the numbers with the CPU (and GPU) model, torch/numba versions and thread count.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from glocal.accel import autocast, compile_module, resolve_precision  # noqa: E402
from glocal.models import build, count_parameters  # noqa: E402

NAMES = ("spt-glocal", "spt")


def load_reference():
    """The frozen reference implementation (benchmarks/reference_models.py) as a module."""
    path = Path(__file__).with_name("reference_models.py")
    spec = importlib.util.spec_from_file_location("glocal_reference_models", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _pair(ref, name: str, config, n_pixels: int):
    """Reference and new model with the same weights (reference initialisation, seed 0)."""
    torch.manual_seed(0)
    old = ref.build(name, config, n_pixels=n_pixels)
    new = build(name, config, n_pixels=n_pixels)
    new.load_state_dict(old.state_dict())
    return {"reference": old, "new": new}


def _train_step(model, batch: int, n_pixels: int, foreach: bool | None = None):
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=5e-4, foreach=foreach)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(batch, n_pixels, generator=gen)
    y = torch.randn(batch, model.head.out_features, generator=gen)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    return step


def _infer_step(model, batch: int, n_pixels: int):
    x = torch.rand(batch, n_pixels, generator=torch.Generator().manual_seed(2))

    def step():
        model.eval()
        with torch.no_grad():
            model(x)
    return step


def interleaved(fns: dict, steps: int) -> dict:
    """Run each callable once (warm-up), then ``steps`` rounds calling each in turn; returns per
    key the median wall and thread-CPU seconds of one call."""
    for fn in fns.values():
        fn()
    wall = {k: [] for k in fns}
    cpu = {k: [] for k in fns}
    for _ in range(steps):
        for key, fn in fns.items():
            t0, c0 = time.perf_counter(), time.thread_time()
            fn()
            cpu[key].append(time.thread_time() - c0)
            wall[key].append(time.perf_counter() - t0)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in fns}


def compare(ref, args) -> dict:
    """Train and inference throughputs of reference and new, interleaved, for both models."""
    times, batches = {}, {}
    for mode, make, batch in (("train", _train_step, args.batch_size),
                              ("infer", _infer_step, 4 * args.batch_size)):
        fns = {}
        for name in NAMES:  # fresh pairs per mode: the same weights in reference and new
            for impl, model in _pair(ref, name, "cpu", args.n_pixels).items():
                extra = {"foreach": True} if mode == "train" and impl == "new" else {}
                fns[(mode, name, impl)] = make(model, batch, args.n_pixels, **extra)
                batches[(mode, name, impl)] = batch
        times.update(interleaved(fns, args.steps))
    return {k: {"spectra_per_s": batches[k] / w, "spectra_per_cpu_s": batches[k] / c,
                "median_step_s": w} for k, (w, c) in times.items()}


def paper_cpu(args) -> dict:
    """The paper configuration's SPT-GloCal on the CPU (new implementation, float32): spectra/s."""
    torch.manual_seed(0)
    model = build("spt-glocal", "paper", n_pixels=args.n_pixels)
    steps = max(2, args.steps // 3)
    t = interleaved({"train": _train_step(model, args.paper_batch, args.n_pixels, foreach=True),
                     "infer": _infer_step(model, args.paper_batch, args.n_pixels)}, steps)
    return {"parameters": count_parameters(model), "batch": args.paper_batch,
            "train_spectra_per_s": round(args.paper_batch / t["train"][0], 2),
            "spectra_per_s": round(args.paper_batch / t["infer"][0], 2)}


# ----------------------------------------------------------------------------- accelerators
def _device_step(model, mode: str, batch: int, n_pixels: int, device, precision: str, compile):
    """A synchronised training (Adam, MSE on float32 outputs) or inference step on ``device`` under
    :func:`glocal.accel.autocast` and :func:`glocal.accel.compile_module`, as the training loop runs."""
    model.to(device)
    run = compile_module(model, compile, device)
    gen = torch.Generator().manual_seed(1 if mode == "train" else 2)
    x = torch.rand(batch, n_pixels, generator=gen).to(device)
    y = torch.randn(batch, model.head.out_features, generator=gen).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=5e-4, foreach=True)

    def step():
        if mode == "train":
            run.train()
            opt.zero_grad(set_to_none=True)
            with autocast(precision, device):
                out = run(x)
            torch.nn.functional.mse_loss(out.float(), y).backward()
            opt.step()
        else:
            run.eval()
            with torch.no_grad(), autocast(precision, device):
                run(x)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    return step


def accelerator_matrix(ref, args, device=None, backend: str = "inductor") -> dict:
    """Reference / new / new-accelerated SPT-GloCal spectra/s per configuration and mode on ``device``
    (default CUDA; precision "auto" and ``torch.compile`` with ``backend``)."""
    device = torch.device("cuda") if device is None else torch.device(device)
    precision = resolve_precision("auto", device)
    variants = {"reference": (ref.build, "fp32", False), "new": (build, "fp32", False),
                f"new-{precision}-compiled": (build, precision, backend)}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    out = {"device": name, "accelerated_precision": precision, "compile_backend": backend, "configs": {}}
    for config, batch in (("cpu", args.cuda_batch), ("paper", args.paper_cuda_batch)):
        if config == "paper" and args.skip_paper:
            continue
        entry = out["configs"][config] = {"batch": batch}
        for mode, b in (("train", batch), ("infer", 4 * batch)):
            fns, errors = {}, {}
            for label, (make, prec, comp) in variants.items():
                torch.manual_seed(0)
                try:
                    model = make("spt-glocal", config, n_pixels=args.n_pixels)
                    fns[label] = _device_step(model, mode, b, args.n_pixels, device, prec, comp)
                    fns[label]()                       # compiles here; interleaved() warms up again
                except Exception as exc:               # noqa: BLE001  (recorded, the others still run)
                    fns.pop(label, None)
                    errors[label] = f"{type(exc).__name__}: {exc}"[:300]
            times = interleaved(fns, args.steps) if fns else {}
            entry[mode] = {k: round(b / w, 1) for k, (w, _) in times.items()} | {k: "failed: " + e
                                                                                   for k, e in errors.items()}
            torch._dynamo.reset()
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return out


def print_matrix(res: dict) -> None:
    print(f"{res['device']} (accelerated: precision {res['accelerated_precision']}, "
          f"torch.compile backend {res['compile_backend']}):")
    for config, entry in res["configs"].items():
        for mode in ("train", "infer"):
            vals = entry[mode]
            ref = vals.get("reference")
            cells = []
            for label, v in vals.items():
                ratio = f" (x{v / ref:.2f})" if isinstance(v, float) and isinstance(ref, float) else ""
                cells.append(f"{label} {v if isinstance(v, str) else f'{v:.1f}'}{ratio}")
            b = entry["batch"] * (4 if mode == "infer" else 1)
            print(f"  spt-glocal {config:5s} {mode:5s} (batch {b:4d}) spectra/s: " + "; ".join(cells))


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def report(res: dict, args) -> dict:
    """Print the comparison; return the JSON record."""
    rec = {"benchmark": "benchmarks/train.py", "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
           "git_commit": _git_commit(), "cpu": cpu_model(), "torch": torch.__version__,
           "numba": importlib.import_module("numba").__version__, "python": platform.python_version(),
           "threads": torch.get_num_threads(), "n_pixels": args.n_pixels, "batch_size": args.batch_size,
           "timed_steps": args.steps, "config": "cpu", "reference": "benchmarks/reference_models.py (b7eaceb)",
           "models": {}}
    for name in NAMES:
        n = count_parameters(build(name, "cpu", n_pixels=args.n_pixels))
        entry = {"parameters": n}
        for mode in ("train", "infer"):
            old, new = res[(mode, name, "reference")], res[(mode, name, "new")]
            entry[mode] = {"reference_spectra_per_s": round(old["spectra_per_s"], 1),
                           "new_spectra_per_s": round(new["spectra_per_s"], 1),
                           "speedup": round(old["median_step_s"] / new["median_step_s"], 3),
                           "reference_spectra_per_cpu_s": round(old["spectra_per_cpu_s"], 1),
                           "new_spectra_per_cpu_s": round(new["spectra_per_cpu_s"], 1),
                           "batch": args.batch_size * (4 if mode == "infer" else 1)}
            print(f"{name:11s} {mode:5s} (batch {entry[mode]['batch']:4d}): reference "
                  f"{entry[mode]['reference_spectra_per_s']:8.1f}  new {entry[mode]['new_spectra_per_s']:8.1f} "
                  f"spectra/s  ->  x{entry[mode]['speedup']:.2f}")
        rec["models"][name] = entry
    for mode in ("train", "infer"):
        r = {impl: res[(mode, "spt-glocal", impl)]["spectra_per_s"] / res[(mode, "spt", impl)]["spectra_per_s"]
             for impl in ("reference", "new")}
        rec[f"glocal_over_spt_{mode}"] = {k: round(v, 3) for k, v in r.items()}
        print(f"ratio SPT-GloCal/SPT {mode}: reference {r['reference']:.2f}, new {r['new']:.2f}")
    return rec


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n-pixels", type=int, default=274)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=9, help="timed steps per measurement (median)")
    ap.add_argument("--paper-batch", type=int, default=8, help="paper configuration's batch on the CPU")
    ap.add_argument("--cuda-batch", type=int, default=256, help="'cpu' configuration's training batch on CUDA")
    ap.add_argument("--paper-cuda-batch", type=int, default=64, help="paper configuration's training batch on CUDA")
    ap.add_argument("--skip-paper", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="write the record to this file")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.n_pixels} pixels, "
          f"CPU {cpu_model()}")
    ref = load_reference()
    rec = report(compare(ref, args), args)
    if not args.skip_paper:
        paper = paper_cpu(args)
        cpu_new = rec["models"]["spt-glocal"]["infer"]["new_spectra_per_s"]
        cpu_train = rec["models"]["spt-glocal"]["train"]["new_spectra_per_s"]
        paper["cpu_over_paper"] = round(cpu_new / paper["spectra_per_s"], 2)
        paper["cpu_over_paper_train"] = round(cpu_train / paper["train_spectra_per_s"], 2)
        rec["paper_inference"] = paper
        print(f"paper config spt-glocal ({paper['parameters']:,} params, batch {args.paper_batch}): inference "
              f"{paper['spectra_per_s']:8.1f}, training {paper['train_spectra_per_s']:8.1f} spectra/s; cpu/paper "
              f"{paper['cpu_over_paper']:.1f}x (inference), {paper['cpu_over_paper_train']:.1f}x (training)")
    rec["devices"] = ["cpu"]
    if torch.cuda.is_available():
        rec["devices"].append("cuda")
        rec["cuda"] = accelerator_matrix(ref, args)
        print_matrix(rec["cuda"])
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rec, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
