"""Shared labels, styles and the figure/axes helper of :mod:`glocal.plots`."""
from __future__ import annotations

import matplotlib.pyplot as plt

LABEL_TEX = {"ofe": "[O/Fe]", "mgfe": "[Mg/Fe]", "teff": r"$T_{\rm eff}$ (K)", "logg": r"$\log g$",
             "feh": "[Fe/H]", "cfe": "[C/Fe]", "cafe": "[Ca/Fe]"}
BAND_STYLE = {"full": dict(color="tab:red", ls="-", label="2550–10000 Å (with UV)"),
              "optical": dict(color="tab:blue", ls="--", label="4000–10000 Å (optical)"),
              "uv": dict(color="tab:purple", ls=":", label="2550–4000 Å (UV)")}
WAVE_AIR = "wavelength (Å, air)"


def label_tex(name: str) -> str:
    """Axis label of a stellar parameter or abundance ratio (``name`` itself when it has none)."""
    return LABEL_TEX.get(name, name)


def fig_ax(ax, size):
    """``(figure, axes)``: a new single-axes figure of ``size`` (inches) when ``ax`` is None, else ``ax``'s."""
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
    else:
        fig = ax.figure
    return fig, ax
