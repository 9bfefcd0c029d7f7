"""Results tables of ``glocal predict`` and ``glocal fit``: a CSV file, or a readable table on the terminal.

Both commands build one ``pandas.DataFrame`` row per spectrum with, for each label ``L``, the columns ``L``
and ``L_std`` (1σ). :func:`deliver` writes it to a CSV file atomically when an output path is given and
otherwise prints :func:`label_table`: one line per spectrum with ``value ± 1σ`` (``L_std_real`` where the
table has it, else ``L_std``; Teff in K with no decimals,
log g and abundances in dex with two) and the flag column, so that ``glocal predict star.fits`` answers
on the terminal with no option at all.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["label_table", "deliver", "DISPLAY_LABELS"]

#: Labels shown on the terminal, with their format and unit.
DISPLAY_LABELS = {"teff": ("{:.0f}", "K"), "logg": ("{:.2f}", "dex"), "feh": ("{:.2f}", "dex"),
                  "mgfe": ("{:.2f}", "dex"), "ofe": ("{:.2f}", "dex"), "ebv": ("{:.3f}", "mag")}


def _cell(value: float, std: float, fmt: str) -> str:
    if not np.isfinite(value):
        return "—"
    text = fmt.format(value)
    return text + (" ± " + fmt.format(std) if np.isfinite(std) else " (held)")


def label_table(df) -> str:
    """The rows of ``df`` as aligned text: name, band, ``L ± σ`` for the labels present, flag; σ is
    ``L_std_real`` (with the real-star systematic term, :mod:`glocal.observed.systematics`) where it is
    finite, else ``L_std``.

    A label is shown when ``df`` has its column and at least one finite value; a NaN value prints "—"
    (refused), a value without a finite ``L_std`` prints "(held)" (a label ``glocal fit`` held fixed, or a
    column with no ``_std``).
    """
    import pandas as pd
    shown = [lab for lab in DISPLAY_LABELS if lab in df and np.isfinite(df[lab].to_numpy(float)).any()]
    out = pd.DataFrame({"name": df["name"].astype(str) if "name" in df else df.index.astype(str)})
    if "band" in df:
        out["band"] = df["band"].astype(str)
    for lab in shown:
        fmt, unit = DISPLAY_LABELS[lab]
        stds = df[f"{lab}_std"].to_numpy(float) if f"{lab}_std" in df else np.full(len(df), np.nan)
        if f"{lab}_std_real" in df:            # the real-star interval where the run or emulator has one
            real = df[f"{lab}_std_real"].to_numpy(float)
            stds = np.where(np.isfinite(real), real, stds)
        out[f"{lab} [{unit}]"] = [_cell(float(v), float(s), fmt) for v, s in zip(df[lab], stds)]
    if "flag" in df:
        out["flag"] = df["flag"].fillna("").astype(str).replace("", "-")
    return out.to_string(index=False)


def deliver(df, output, *, done: str) -> None:
    """Write ``df`` to ``output`` (CSV, atomically) or, when ``output`` is None, print :func:`label_table`.

    ``done`` says how many rows got a result, for the summary line (e.g. "7 predicted, 2 refused").
    """
    if output is None:
        print(label_table(df))
        print(f"{len(df)} spectra ({done}; see the flag column; -o FILE.csv writes every column)")
        return
    from ._io import atomic_write_text
    atomic_write_text(Path(output), df.to_csv(index=False))
    print(f"{len(df)} spectra -> {output} ({done}; see the flag column)")
