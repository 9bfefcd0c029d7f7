"""Loading SMElib through pysme (``pysme-astro``) and the process-wide lock around it.

SMElib keeps its state (model, abundances, line list, opacities) in global variables: one synthesis
per process at a time.  Every call sequence runs under :data:`LOCK`; parallel work uses processes.
"""
from __future__ import annotations

import logging
import os
import tempfile
import threading

__all__ = ["LOCK", "dll", "lib", "smelib_path", "engine_version"]

#: Held around every SMElib call sequence (SMElib is not re-entrant).
LOCK = threading.RLock()
_DLL = None


def _ensure_home() -> None:
    """pysme writes its config to ~/.sme at import: use a private temp HOME if ~ is read-only."""
    home = os.path.expanduser("~")
    if not (os.path.isdir(home) and os.access(home, os.W_OK)):
        alt = os.path.join(tempfile.gettempdir(), f"glocal-sme-home-{os.getuid()}")
        os.makedirs(alt, exist_ok=True)
        os.environ["HOME"] = alt


def dll():
    """The process's ``pysme.sme_synth.SME_DLL`` (created at first use); ImportError without pysme."""
    global _DLL
    if _DLL is None:
        _ensure_home()
        try:
            from pysme.sme_synth import SME_DLL
        except ImportError as exc:  # pragma: no cover - dependency missing
            raise ImportError("engine='sme' needs the 'pysme-astro' package (import name pysme)") from exc
        logging.getLogger("pysme").setLevel(logging.ERROR)
        _DLL = SME_DLL()
    return _DLL


def lib():
    """pysme's low-level SMElib module (``InputLineList`` and ``InputAbund`` with raw arrays)."""
    dll()
    import pysme.sme_synth as ss
    return ss._smelib


def smelib_path() -> str:
    """Path of the compiled SME library that pysme loads (for routines called directly, e.g. HLINOP)."""
    _ensure_home()
    try:
        from pysme.smelib.libtools import get_full_libfile
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise ImportError("SMElib's routines need the 'pysme-astro' package (import name pysme)") from exc
    return get_full_libfile()


def engine_version() -> str:
    """'pysme <version>, SMElib <version>'."""
    import pysme
    try:
        version = dll().SMELibraryVersion()
    except Exception:  # pragma: no cover - an old SMElib without the call
        version = "unknown"
    return f"pysme {getattr(pysme, '__version__', 'unknown')}, SMElib {version}"
