"""Figures of the book (paper Figs 1–5, 7–9 and the chapters' other figures).

Every function takes plain data (arrays, dicts, or a table with named columns such as a pandas
DataFrame), draws a new matplotlib figure (or on a given axes where it has an ``ax`` argument) and
returns the :class:`matplotlib.figure.Figure`; nothing is shown or saved, so the chapters stay thin
and the figures regenerate from data. Submodules follow the book: :mod:`.data` (grid, atmospheres,
spectra, Figs 1–5), :mod:`.engines` (synthesis-engine comparisons), :mod:`.networks` (the
architecture), :mod:`.results` (Figs 7–9, error tables as charts, attribution, new stars), :mod:`.real`
(real stars against synthetic spectra and the literature), :mod:`.learning` (learning curves).
"""
from ._base import BAND_STYLE, LABEL_TEX, label_tex
from .data import (
    atmosphere_structures,
    feature_depths,
    grid_coverage,
    microturbulence_maps,
    preset_nodes,
    resolution_pair,
    spectra,
    uv_sweep,
)
from .engines import (
    engine_agreement,
    oh_damping_responses,
    real_star_residuals,
    sampling_residuals,
    validation_residuals,
)
from .learning import learning_curves, paper_mae
from .networks import architecture, token_winners
from .real import labels_vs_literature, real_residuals, twin_window_offsets, uv_effect
from .results import (
    attribution,
    binned_error_panels,
    mae_by_band,
    mae_vs_snr,
    new_star_predictions,
    predicted_vs_true,
    predicted_vs_true_grid,
)

__all__ = [
    "BAND_STYLE", "LABEL_TEX", "label_tex",
    "grid_coverage", "preset_nodes", "microturbulence_maps", "atmosphere_structures", "spectra",
    "resolution_pair", "uv_sweep", "feature_depths",
    "sampling_residuals", "engine_agreement", "validation_residuals", "oh_damping_responses", "real_star_residuals",
    "learning_curves", "paper_mae",
    "architecture", "token_winners",
    "predicted_vs_true", "predicted_vs_true_grid", "binned_error_panels", "mae_vs_snr", "mae_by_band",
    "attribution", "new_star_predictions",
    "real_residuals", "labels_vs_literature", "uv_effect", "twin_window_offsets",
]
