"""Training and inference throughput (spectra/s) of SPT-GloCal and SPT on the CPU.

Usage::

    python benchmarks/train.py [--threads 2] [--batch-size 64] [--steps 5] [--skip-paper]

Prints one line per measurement and comparison ratios: SPT-GloCal vs SPT (cost of the
score-aware flow), and the "cpu" configuration's inference vs the paper configuration's
(768/12/12, ≈85 M parameters) forward pass. Inputs are random R≈200 spectra of 274 pixels
(the full 2550–10000 Å CSST grid); timings are medians over the timed steps after one warm-up.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from glocal.models import build, count_parameters


def _time(fn, steps: int) -> float:
    fn()                                        # warm-up
    ts = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def train_throughput(name: str, config, n_pixels: int, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    model = build(name, config, n_pixels=n_pixels)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=5e-4)
    x, y = torch.rand(batch, n_pixels), torch.randn(batch, model.head.out_features)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    return batch / _time(step, steps)


def infer_throughput(name: str, config, n_pixels: int, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    model = build(name, config, n_pixels=n_pixels).eval()
    x = torch.rand(batch, n_pixels)

    def fwd():
        with torch.no_grad():
            model(x)
    return batch / _time(fwd, steps)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-pixels", type=int, default=274)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--paper-batch", type=int, default=8)
    ap.add_argument("--skip-paper", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.n_pixels} pixels")
    res = {}
    for name in ("spt-glocal", "spt"):
        n = count_parameters(build(name, "cpu", n_pixels=args.n_pixels))
        res[f"train-{name}"] = train_throughput(name, "cpu", args.n_pixels, args.batch_size, args.steps)
        res[f"infer-{name}"] = infer_throughput(name, "cpu", args.n_pixels, 4 * args.batch_size, args.steps)
        print(f"cpu config {name:11s} ({n:,} params): train {res[f'train-{name}']:8.1f} spectra/s "
              f"(batch {args.batch_size}), inference {res[f'infer-{name}']:8.1f} spectra/s "
              f"(batch {4 * args.batch_size})")
    print(f"ratio SPT-GloCal/SPT: train {res['train-spt-glocal'] / res['train-spt']:.2f}, "
          f"inference {res['infer-spt-glocal'] / res['infer-spt']:.2f}")
    if not args.skip_paper:
        n = count_parameters(build("spt-glocal", "paper", n_pixels=args.n_pixels))
        paper = infer_throughput("spt-glocal", "paper", args.n_pixels, args.paper_batch,
                                 max(2, args.steps // 2))
        print(f"paper config spt-glocal ({n:,} params): inference {paper:8.1f} spectra/s "
              f"(batch {args.paper_batch})")
        print(f"ratio cpu/paper inference (spt-glocal): {res['infer-spt-glocal'] / paper:.1f}x")


if __name__ == "__main__":
    main()
