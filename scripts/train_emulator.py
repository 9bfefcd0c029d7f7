"""Train the spectrum emulator of :mod:`glocal.emulator` on a realstars grid and ship it.

    OMP_NUM_THREADS=1 python scripts/train_emulator.py --grid /root/glocal-grids/realstars-r40000.h5

Split: atmospheres (model_id) are shuffled with ``--seed``; 10 % of them (all their [O/Fe]/[Mg/Fe]
variants) are held out for the test, 5 % for validation (the checkpoint with the lowest validation loss is
kept), the rest train.  Output (``--out``, default glocal/data/emulator): emulator.safetensors (float32),
emulator.json (grid sha256, split, architecture, measured errors) and README.md.

Errors measured on the held-out atmospheres: rms of F/F_c (linear) per band (UV 2550–4000 Å, optical
4000–10000 Å), per-spectrum rms percentiles, by Teff range; and the grid's own [Mg/Fe] sensitivity for
comparison — per held-out atmosphere a least-squares plane ln(F/F_c) = a + b·[O/Fe] + c·[Mg/Fe] through its
20 variants, ΔF/F = exp(0.4 c) − 1 for +0.4 dex — beside the same plane fitted to the emulator's
ln(F/F_c) at the same 20 label sets (so that their difference is the emulator's error on the [Mg/Fe] signal).

    --evaluate-only re-measures the errors of the emulator already in --out without training.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402

from glocal._io import sha256_file  # noqa: E402
from glocal.dataset import load_dataset  # noqa: E402
from glocal.emulator import LABELS, META_FILE, WEIGHTS_FILE, Emulator  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BANDS = {"uv": (2550.0, 4000.0), "optical": (4000.0, 10000.0)}
TEFF_BINS = ((3500, 4500), (4500, 6000), (6000, 8001))


def load_grid(path):
    ds = load_dataset(path)
    X = np.stack([np.asarray(ds.labels[k], dtype=np.float64) for k in LABELS], axis=1)
    ln_norm = np.log(np.clip(np.asarray(ds.flux, dtype=np.float64), 1e-6, None))
    ln_c = np.log(np.asarray(ds.continuum, dtype=np.float64))
    ln_c -= ln_c.mean(axis=1, keepdims=True)
    return ds.wave.astype(np.float64), X, np.concatenate([ln_norm, ln_c], axis=1), np.asarray(ds.labels["model_id"])


def split_ids(model_id, seed, f_test=0.10, f_val=0.05):
    ids = np.unique(model_id)
    rng = np.random.default_rng(seed)
    ids = ids[rng.permutation(ids.size)]
    n_test, n_val = int(round(f_test * ids.size)), int(round(f_val * ids.size))
    test, val = np.sort(ids[:n_test]), np.sort(ids[n_test:n_test + n_val])
    return test, val, np.isin(model_id, test), np.isin(model_id, val)


class Net(torch.nn.Module):
    def __init__(self, hidden, n_hidden, k, basis):
        super().__init__()
        dims = [len(LABELS)] + [hidden] * n_hidden + [k]
        self.linears = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.basis = torch.nn.Parameter(torch.as_tensor(basis, dtype=torch.float32))

    def forward(self, x):
        for lin in self.linears[:-1]:
            x = torch.nn.functional.silu(lin(x))
        return self.linears[-1](x) @ self.basis


def pca_basis(Ys, k):
    """Top-k right singular vectors of the standardised outputs, scaled so that unit z ≈ one singular unit."""
    _, s, vt = np.linalg.svd(Ys[:: max(1, Ys.shape[0] // 8000)], full_matrices=False)
    return vt[:k] * (s[:k, None] / math.sqrt(Ys.shape[0] // max(1, Ys.shape[0] // 8000)))


def train(X, Y, tr, va, args, lo, hi, n_pix):
    torch.manual_seed(args.seed)
    mean = Y[tr].mean(axis=0)
    scale = np.concatenate([np.full(n_pix, Y[tr, :n_pix].std()), np.full(n_pix, Y[tr, n_pix:].std())])
    Ys = (Y - mean) / scale
    xs = torch.as_tensor(2 * (X - lo) / (hi - lo) - 1, dtype=torch.float32)
    ys = torch.as_tensor(Ys, dtype=torch.float32)
    w = torch.as_tensor(np.concatenate([np.ones(n_pix), np.full(n_pix, args.cont_weight)]) * scale ** 2,
                        dtype=torch.float32)
    net = Net(args.hidden, args.layers, args.k, pca_basis(Ys[tr], args.k))
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    itr, iva = np.flatnonzero(tr), np.flatnonzero(va)
    n_steps = args.epochs * math.ceil(itr.size / args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=n_steps, pct_start=0.05)
    best, best_state, t0, log = np.inf, None, time.time(), []
    for epoch in range(args.epochs):
        perm = np.random.default_rng(args.seed + epoch).permutation(itr)
        net.train()
        for i in range(0, perm.size, args.batch):
            b = perm[i:i + args.batch]
            loss = (((net(xs[b]) - ys[b]) ** 2) * w).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if epoch % 5 == 4 or epoch == args.epochs - 1:
            with torch.no_grad():
                v = float((((net(xs[iva]) - ys[iva]) ** 2) * w).mean())
            log.append((epoch + 1, v))
            print(f"epoch {epoch + 1}: val loss {v:.3e} ({time.time() - t0:.0f} s)", flush=True)
            if v < best:
                best, best_state = v, {k: t.detach().clone() for k, t in net.state_dict().items()}
        if time.time() - t0 > args.max_minutes * 60:
            print(f"time budget reached after epoch {epoch + 1}", flush=True)
            break
    net.load_state_dict(best_state)
    return net, mean, scale, log, time.time() - t0


def tensors_of(net, mean, scale, wave, lo, hi, nodes):
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    out = {"wave": wave.astype(np.float32), "label_lo": lo.astype(np.float32), "label_hi": hi.astype(np.float32),
           "basis": sd["basis"], "out_mean": mean.astype(np.float32), "out_scale": scale.astype(np.float32),
           "nodes": nodes.astype(np.float32)}
    for k in range(len(net.linears)):
        out[f"W{k}"], out[f"b{k}"] = sd[f"linears.{k}.weight"], sd[f"linears.{k}.bias"]
    return out


def band_errors(wave, d_norm, d_lnc, teff):
    """rms of F/F_c (linear) and of ln F_c shape per band, percentiles of per-spectrum rms, by Teff."""
    out = {}
    for band, (a, b) in BANDS.items():
        m = (wave >= a) & (wave < b)
        per = np.sqrt((d_norm[:, m] ** 2).mean(axis=1))
        rec = {"rms_norm_flux": float(np.sqrt((d_norm[:, m] ** 2).mean())),
               "per_spectrum_rms_p50": float(np.percentile(per, 50)),
               "per_spectrum_rms_p95": float(np.percentile(per, 95)),
               "max_abs_norm_flux": float(np.abs(d_norm[:, m]).max()),
               "rms_ln_continuum_shape": float(np.sqrt((d_lnc[:, m] ** 2).mean()))}
        for t0, t1 in TEFF_BINS:
            s = (teff >= t0) & (teff < t1)
            rec[f"rms_norm_flux_teff_{t0}_{t1}"] = float(np.sqrt((d_norm[s][:, m] ** 2).mean()))
        out[band] = rec
    return out


def mg_sensitivity(wave, X, Y, model_id, test_ids, emu, n_pix):
    """Grid vs emulator ΔF/F for +0.4 dex [Mg/Fe] on the held-out atmospheres (module docstring)."""
    grid_d, emu_d = [], []
    for mid in test_ids:
        s = model_id == mid
        A = np.column_stack([np.ones(s.sum()), X[s, 3], X[s, 4]])
        coef = np.linalg.lstsq(A, Y[s, :n_pix], rcond=None)[0]
        grid_d.append(np.expm1(0.4 * coef[2]))
        coef_e = np.linalg.lstsq(A, emu.predict(X[s])[0], rcond=None)[0]
        emu_d.append(np.expm1(0.4 * coef_e[2]))
    grid_d, emu_d = np.array(grid_d), np.array(emu_d)
    out = {}
    for band, (a, b) in BANDS.items():
        m = (wave >= a) & (wave < b)
        g, e = grid_d[:, m], emu_d[:, m]
        out[band] = {"grid_rms_dF_over_F": float(np.sqrt((g ** 2).mean())),
                     "grid_median_max_abs_dF_over_F": float(np.median(np.abs(g).max(axis=1))),
                     "emulator_rms_dF_over_F": float(np.sqrt((e ** 2).mean())),
                     "rms_grid_minus_emulator": float(np.sqrt(((g - e) ** 2).mean()))}
    return out


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def write_readme(out: Path, meta: dict) -> None:
    e, s, a = meta["errors_test"], meta["mg_sensitivity_test"], meta["architecture"]
    lines = [
        "# Spectrum emulator (glocal.emulator)", "",
        "Five labels (Teff, log g, [Fe/H], [O/Fe], [Mg/Fe]) → ln(F/F_c) and the ln F_c shape on the 274-point",
        "CSST R=200 grid (2550–9951 Å, air), used by `glocal fit` (glocal.fitting) in place of a synthesis.",
        "", f"Built by `{meta['command']}` (commit {meta['git_commit'][:10]}, {meta['created_utc']}) from",
        f"`{meta['grid']['name']}` (sha256 `{meta['grid']['sha256']}`, {meta['grid']['n_spectra']} spectra,",
        f"{meta['grid']['n_models']} atmospheres; built with `glocal grid build --preset realstars`).", "",
        f"Network: {a['n_hidden']} SiLU layers of {a['hidden']}, {a['k']} outputs times a trainable basis "
        f"(PCA-initialised), {a['n_parameters']} float32 parameters. Training: Adam, one-cycle lr {a['lr']},",
        f"batch {a['batch']}, {a['epochs_run']} epochs, best validation checkpoint. Split by atmosphere (seed "
        f"{meta['split']['seed']}): {meta['split']['n_test_models']} test, {meta['split']['n_val_models']} "
        "validation, the rest training.", "",
        "## Held-out error (test atmospheres, all their [O/Fe]/[Mg/Fe] variants)", "",
        "| band | rms F/F_c | per-spectrum rms p50 / p95 | rms Teff<4500 / 4500–6000 / ≥6000 | rms ln F_c shape |",
        "| --- | ---: | ---: | ---: | ---: |"]
    for band, r in e.items():
        lines.append(f"| {band} | {r['rms_norm_flux']:.4f} | {r['per_spectrum_rms_p50']:.4f} / "
                     f"{r['per_spectrum_rms_p95']:.4f} | {r['rms_norm_flux_teff_3500_4500']:.4f} / "
                     f"{r['rms_norm_flux_teff_4500_6000']:.4f} / {r['rms_norm_flux_teff_6000_8001']:.4f} | "
                     f"{r['rms_ln_continuum_shape']:.4f} |")
    lines += ["", "## Compared with the grid's own [Mg/Fe] signal (+0.4 dex, same test atmospheres)", "",
              "| band | grid rms ΔF/F | grid median of max abs ΔF/F | emulator rms ΔF/F | rms (grid − emulator) |",
              "| --- | ---: | ---: | ---: | ---: |"]
    for band, r in s.items():
        lines.append(f"| {band} | {r['grid_rms_dF_over_F']:.4f} | {r['grid_median_max_abs_dF_over_F']:.4f} | "
                     f"{r['emulator_rms_dF_over_F']:.4f} | {r['rms_grid_minus_emulator']:.4f} |")
    lines += ["", "The per-pixel held-out rms (`rms_ln_norm`, `rms_ln_cont` in the safetensors) is added in quadrature",
              "to the observational σ by glocal.fitting as a model error.", ""]
    (out / "README.md").write_text("\n".join(lines))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grid", required=True, type=Path)
    p.add_argument("--out", type=Path, default=ROOT / "glocal" / "data" / "emulator")
    p.add_argument("--hidden", type=int, default=192)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--k", type=int, default=64, help="outputs of the network before the basis")
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--cont-weight", type=float, default=0.25, help="loss weight of the ln F_c shape")
    p.add_argument("--max-minutes", type=float, default=13.0, help="stop training after this wall time")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--evaluate-only", action="store_true",
                   help="re-measure the errors of the emulator already in --out (no training)")
    return p.parse_args(argv)


def train_and_describe(args, wave, X, Y, model_id):
    """Train; the float32 tensors and the provenance JSON (errors filled in by :func:`evaluate`)."""
    lo, hi = np.floor(X.min(axis=0) * 10) / 10, np.ceil(X.max(axis=0) * 10) / 10
    test_ids, val_ids, te, va = split_ids(model_id, args.seed)
    net, mean, scale, log, seconds = train(X, Y, ~(te | va), va, args, lo, hi, wave.size)
    _, first = np.unique(model_id, return_index=True)
    tensors = tensors_of(net, mean, scale, wave, lo, hi, X[first, :3])
    meta = {"command": "python scripts/train_emulator.py --grid " + args.grid.name + " " + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                if k not in ("grid", "out", "evaluate_only")),
            "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "git_commit": git_commit(),
            "torch": torch.__version__, "labels": list(LABELS),
            "architecture": {"hidden": args.hidden, "n_hidden": args.layers, "k": args.k, "n_linear": args.layers + 1,
                             "activation": "silu", "n_parameters": int(sum(p.numel() for p in net.parameters())),
                             "lr": args.lr, "batch": args.batch, "epochs_run": log[-1][0],
                             "train_seconds": round(seconds, 1), "cont_weight": args.cont_weight},
            "split": {"by": "model_id", "seed": args.seed, "n_test_models": int(test_ids.size),
                      "n_val_models": int(val_ids.size), "test_model_ids": test_ids.tolist(),
                      "val_model_ids": val_ids.tolist()},
            "val_log": log}
    return tensors, meta


def evaluate(tensors, meta, args, wave, X, Y, model_id):
    """Held-out errors of the shipped (float32) weights, evaluated by glocal.emulator itself."""
    n_pix = wave.size
    test_ids = np.array(meta["split"]["test_model_ids"])
    te = np.isin(model_id, test_ids)
    tensors.setdefault("rms_ln_norm", np.zeros(n_pix, np.float32))
    tensors.setdefault("rms_ln_cont", np.zeros(n_pix, np.float32))
    emu = Emulator(tensors, meta)
    lnf, lnc = emu.predict(X[te])
    d_norm_ln, d_lnc = lnf - Y[te, :n_pix], lnc - Y[te, n_pix:]
    tensors["rms_ln_norm"] = np.sqrt((d_norm_ln ** 2).mean(axis=0)).astype(np.float32)
    tensors["rms_ln_cont"] = np.sqrt((d_lnc ** 2).mean(axis=0)).astype(np.float32)
    meta["grid"] = {"name": args.grid.name, "sha256": sha256_file(args.grid), "n_spectra": int(X.shape[0]),
                    "n_models": int(np.unique(model_id).size)}
    meta["errors_test"] = band_errors(wave, np.exp(lnf) - np.exp(Y[te, :n_pix]), d_lnc, X[te, 0])
    meta["mg_sensitivity_test"] = mg_sensitivity(wave, X, Y, model_id, test_ids, emu, n_pix)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(1)
    wave, X, Y, model_id = load_grid(args.grid)
    if args.evaluate_only:
        from safetensors.numpy import load_file
        tensors = load_file(str(args.out / WEIGHTS_FILE))
        meta = json.loads((args.out / META_FILE).read_text())
    else:
        tensors, meta = train_and_describe(args, wave, X, Y, model_id)
    evaluate(tensors, meta, args, wave, X, Y, model_id)
    args.out.mkdir(parents=True, exist_ok=True)
    from safetensors.numpy import save_file
    save_file(tensors, str(args.out / WEIGHTS_FILE))
    (args.out / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
    write_readme(args.out, meta)
    print(json.dumps({"errors_test": meta["errors_test"], "mg_sensitivity_test": meta["mg_sensitivity_test"]},
                     indent=1))


if __name__ == "__main__":
    main()
