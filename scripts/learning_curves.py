"""Learning curves of the five methods on one grid (issue 28): MAE and σ against the training-set size.

Trains every (method, config, band, split, size, seed) not yet in the output file, tests it on the fixed
test part of the split and appends one record per label (:func:`glocal.learning_curves.run_learning_curves`);
the file is rewritten atomically after every fit, so the run can be stopped (Ctrl-C, end of a session) and
resumed with the same command. At the end the power laws are fitted and the projection to the paper's
training-set size and the crossovers are printed. The workstation protocol is ``make learning-curves``.

    python scripts/learning_curves.py --grid ~/glocal-grids/workstation-r40000.h5 --scale workstation \\
        --methods xgboost spt-glocal --sizes 300 600 1200 --seeds 0 1 --threads 2
    python scripts/learning_curves.py --scale workstation --summary     # fit and print only
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _size(text: str):
    return "all" if text.lower() == "all" else int(text)


def parse_args(argv=None):
    from glocal.book import load_scales
    train = load_scales()["defaults"]["common"]["train"]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--grid", type=Path, help="R=200 dataset (HDF5) to learn from (not needed with --summary)")
    ap.add_argument("--scale", required=True, help="records go to results/<scale>/learning_curves.json")
    ap.add_argument("--out", type=Path, help="records file instead of results/<scale>/learning_curves.json")
    ap.add_argument("--methods", nargs="+", default=["xgboost", "lightgbm", "catboost", "spt", "spt-glocal"])
    ap.add_argument("--bands", nargs="+", default=["full", "optical"])
    ap.add_argument("--splits", nargs="+", default=["random"], choices=["random", "grouped"])
    ap.add_argument("--sizes", nargs="+", type=_size, default=[300, 600, 1200, 2500, 5000, 10000, "all"],
                    help="training-set sizes ('all': the whole training part)")
    ap.add_argument("--grouped-sizes", nargs="+", type=_size,
                    help="sizes of the grouped split (default: --sizes)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--extra-seeds-up-to", type=int,
                    help="run the seeds after the first only at sizes <= this (default: at every size)")
    ap.add_argument("--configs", nargs="+", default=["cpu"], help="network architectures (names of glocal.models)")
    ap.add_argument("--max-epochs", type=int, default=train["max_epochs"])
    ap.add_argument("--lr", type=float, default=train["lr"])
    ap.add_argument("--batch-size", type=int, default=train["batch_size"])
    ap.add_argument("--patience", type=int, default=train["patience"])
    ap.add_argument("--threads", type=int, help="torch threads and tree n_jobs")
    ap.add_argument("--device", default="auto", help="networks' device: auto (CUDA when available), cpu, cuda")
    ap.add_argument("--checkpoints", type=Path, help="per-epoch checkpoints of network fits below this folder")
    ap.add_argument("--dry-run", action="store_true", help="list the fits still to run and exit")
    ap.add_argument("--summary", action="store_true", help="fit the power laws of the records and exit")
    return ap.parse_args(argv)


def print_measured(records) -> None:
    """The measured test MAE per curve and training-set size (mean over seeds, their count in brackets
    where more than one), one Markdown table per split and band."""
    from collections import defaultdict
    maes = defaultdict(list)
    for r in records:
        maes[(r["split"], r["band"], r["label"], r["method"], r["config"]), int(r["n_train"])].append(r["mae"])
    for split, band in sorted({k[:2] for k, _ in maes}):
        curves = sorted({k for k, _ in maes if k[:2] == (split, band)})
        sizes = sorted({n for k, n in maes if k[:2] == (split, band)})
        print(f"\nmeasured test MAE, {split} split, {band} band (mean over seeds [count]):")
        print("| label | method | config | " + " | ".join(map(str, sizes)) + " |")
        print("|---" * (3 + len(sizes)) + "|")
        for key in curves:
            cells = []
            for n in sizes:
                v = maes.get((key, n))
                cells.append("" if not v else f"{sum(v) / len(v):.4f}" + (f" [{len(v)}]" if len(v) > 1 else ""))
            print(f"| {key[2]} | {key[3]} | {key[4]} | " + " | ".join(cells) + " |")


def print_summary(records) -> None:
    from glocal.learning_curves import N_PAPER_TRAIN, fit_power_law, summary
    print_measured(records)
    fits = fit_power_law(records)
    curves, cross = summary(fits)
    print(f"\npower laws MAE(n) = a·n^(-b) + c, projected to the paper's {N_PAPER_TRAIN} training spectra:")
    for c in curves:
        rng = f"[{c['lo']:.4f}, {c['hi']:.4f}]" if c["lo"] is not None else "[unconstrained]"
        print(f"  {c['method']:10s} {c['config']:8s} {c['band']:8s} {c['split']:8s} {c['label']:5s} "
              f"b = {c['b']:.2f} ± {c['b_err']:.2f}, c = {c['c']:.4f} -> MAE {c['mae_at_n']:.4f} {rng}  "
              f"({c['reason']})")
    print("crossovers (network below the best tree):")
    for c in cross:
        where = "none from the smallest measured size to 1e7" if c["n"] is None else \
            f"n = {c['n']:.0f} [{c['lo']}, {c['hi']}], P = {c['probability']:.2f}, {c['status']} {c['best_tree']}"
        print(f"  {c['method']:10s} {c['config']:9s} {c['band']:8s} {c['split']:8s} {c['label']:5s} {where}")


def main(argv=None) -> int:
    args = parse_args(argv)
    from glocal.learning_curves import load_records, records_path, run_learning_curves
    out = args.out or records_path(args.scale)
    if args.summary:
        print_summary(load_records(out))
        return 0
    if args.grid is None:
        raise SystemExit("--grid is required (unless --summary)")
    train = {"max_epochs": args.max_epochs, "lr": args.lr, "batch_size": args.batch_size,
             "patience": args.patience}
    print(f"records: {out}\ngrid: {args.grid}\nnetwork training: {train}")
    records = run_learning_curves(
        args.grid, methods=args.methods, bands=args.bands, splits=args.splits, sizes=args.sizes,
        sizes_by_split={"grouped": args.grouped_sizes} if args.grouped_sizes else None, seeds=args.seeds,
        extra_seeds_up_to=args.extra_seeds_up_to, configs=args.configs, train_options=train, out_json=out,
        threads=args.threads, checkpoint_root=args.checkpoints, device=args.device, dry_run=args.dry_run)
    if not args.dry_run:
        print(f"{len(records)} records in {out}")
        print_summary(records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
