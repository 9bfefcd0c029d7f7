"""glocal — executable companion to SPT-GloCal (Zhang et al. 2025, A&A).

Synthetic spectra of metal-poor stars (synthesis wrappers around SME, SPECTRUM and a
built-in LTE engine), CSST R≈200 degradation (paper §2.2), the GloCal attention
transformer and its baselines (§3), and the experiments of §4.
"""

__version__ = "0.1.0"
