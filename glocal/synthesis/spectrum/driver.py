"""The SPECTRUM engine's ``run``, its options and the binary (contract: ``glocal.synthesis.contract``)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..contract import EngineOptions, EngineResult
from .files import (
    molecule_d0,
    read_output,
    write_atom_file,
    write_isotope_file,
    write_kurucz_model,
    write_line_list,
    write_model,
)

__all__ = ["SpectrumOptions", "run", "find_binary", "build_spectrum", "binary_or_build", "engine_version", "SWITCHES",
           "DEFAULT_SWITCHES", "LINE_MARGIN"]

#: The paper's switches (§2.1) and the other accepted sets (see the package docstring).
DEFAULT_SWITCHES = "nita"
SWITCHES = ("nita", "nta", "nia", "na")
#: Lines within this margin (Å) of the synthesis range are written to SPECTRUM's line file.
LINE_MARGIN = 30.0


@dataclass(frozen=True)
class SpectrumOptions(EngineOptions):
    """Options of the SPECTRUM driver (``engine="spectrum"``).

    binary : str or None, default None
        Path of the SPECTRUM executable; None takes ``$GLOCAL_SPECTRUM_BIN``
        (:func:`build_spectrum` compiles one).  FileNotFoundError at run time when neither exists.
    dwave : float (Å), default 0.02, in (0, 1)
        SPECTRUM's output step (the paper's 0.02 Å); with a ``wave`` grid the output is linearly
        interpolated onto it.
    switches : str, default "nita"
        SPECTRUM's command-line switches, one of :data:`SWITCHES` (package docstring).
    timeout : float, default 3600 (seconds)
        Wall-clock limit of each SPECTRUM call (one per variant); a call that exceeds it is killed
        and the run raises RuntimeError.
    workdir : str or None, default None
        Folder for SPECTRUM's input and output files, kept after the run (for inspection); None: a
        temporary folder, removed after the run.
    """
    binary: str | None = None
    dwave: float = 0.02
    switches: str = DEFAULT_SWITCHES
    timeout: float = 3600.0
    workdir: str | None = None

    def __post_init__(self):
        if self.switches not in SWITCHES:
            raise ValueError(f"switches must be one of {SWITCHES}, got {self.switches!r}")
        if not (isinstance(self.dwave, (int, float)) and 0 < float(self.dwave) < 1):
            raise ValueError(f"dwave must be in (0, 1) Å, got {self.dwave!r}")
        if not (isinstance(self.timeout, (int, float)) and float(self.timeout) > 0):
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout!r}")
        for name in ("binary", "workdir"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, str(getattr(self, name)))


def engine_version() -> str:
    """The SPECTRUM release this driver writes its files for."""
    return "SPECTRUM v2.77 (Gray & Corbally 1994)"


def find_binary(binary=None) -> Path:
    """Path of the SPECTRUM executable (argument, else $GLOCAL_SPECTRUM_BIN)."""
    b = binary or os.environ.get("GLOCAL_SPECTRUM_BIN")
    if not b:
        raise FileNotFoundError("SPECTRUM binary not given: pass binary=... or set GLOCAL_SPECTRUM_BIN "
                                "(build it with glocal.synthesis.spectrum.build_spectrum)")
    p = Path(b)
    if not p.is_file() or not os.access(p, os.X_OK):
        raise FileNotFoundError(f"SPECTRUM binary {p} does not exist or is not executable")
    return p


def build_spectrum(source_dir, build_dir) -> Path:
    """Copy the SPECTRUM C sources to ``build_dir`` and run ``make``; returns the binary path."""
    src = Path(source_dir)
    if not (src / "Makefile").is_file() or not (src / "spectrum.c").is_file():
        raise FileNotFoundError(f"{src} does not hold the SPECTRUM sources (Makefile, spectrum.c)")
    dst = Path(build_dir)
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    for f in dst.iterdir():
        f.chmod(0o644 if f.is_file() else 0o755)
    r = subprocess.run(["make", "spectrum", "CFLAGS=-O2"], cwd=dst, capture_output=True, text=True, timeout=600)
    exe = dst / "spectrum"
    if r.returncode != 0 or not exe.is_file():
        raise RuntimeError(f"building SPECTRUM failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return exe


def binary_or_build(source_dir) -> Path:
    """``$GLOCAL_SPECTRUM_BIN`` when set, else SPECTRUM built from ``source_dir`` into a new temporary folder
    (:func:`build_spectrum`); FileNotFoundError when neither is there."""
    if os.environ.get("GLOCAL_SPECTRUM_BIN"):
        return Path(os.environ["GLOCAL_SPECTRUM_BIN"])
    if not Path(source_dir).is_dir():
        raise FileNotFoundError(f"SPECTRUM source not found at {source_dir} and GLOCAL_SPECTRUM_BIN unset")
    return build_spectrum(source_dir, Path(tempfile.mkdtemp(prefix="spectrum-build-")))


def _write_shared_inputs(tmp: Path, atmosphere, line_list, lo, hi, opts: SpectrumOptions, feh) -> dict:
    """Model, line list and (``i``) isotope file, common to all variants; returns the line counts,
    the isotope-file prompt answer and the molecules' dissociation energies."""
    use_t, use_i = "t" in opts.switches, "i" in opts.switches
    (write_kurucz_model if use_t else write_model)(atmosphere, tmp / "model.dat", feh=feh)
    info: dict = {}
    n_lines = write_line_list(line_list, tmp / "lines.lst", (lo - LINE_MARGIN, hi + LINE_MARGIN),
                              isotopes=use_i, info=info)
    if n_lines == 0:
        raise ValueError("no SPECTRUM-supported lines in range")
    if use_i:
        write_isotope_file(tmp / "isotopes.iso")
    return dict(info=info, iso_answer="isotopes.iso\n" if use_i else "", d0=molecule_d0(line_list))


def _run_variant(exe, tmp: Path, v: int, abund, feh, shared: dict, vt, lo, hi, opts: SpectrumOptions):
    """Atom file of variant ``v`` (Eq. 2: A_sun + [X/Fe]) and one SPECTRUM call: (λ, F/F_c)."""
    file_ab = np.array(abund, float)
    file_ab[2:] -= feh
    write_atom_file(tmp / f"atom{v}.dat", file_ab, d0=shared["d0"])
    out = tmp / f"out{v}.spc"
    # prompts of spectrum.c in order: model, line list, atom file (a), isotope file (i),
    # output, microturbulence, range, step
    stdin = (f"model.dat\nlines.lst\natom{v}.dat\n{shared['iso_answer']}{out.name}\n{vt:.4f}\n"
             f"{lo:.3f},{hi:.3f}\n{float(opts.dwave):.4f}\n")
    try:
        r = subprocess.run([str(exe), opts.switches], input=stdin, cwd=tmp, capture_output=True, text=True,
                           timeout=float(opts.timeout))
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"SPECTRUM ran longer than timeout = {opts.timeout} seconds (variant {v})") from None
    if r.returncode != 0:
        raise RuntimeError(f"SPECTRUM failed (rc={r.returncode}): {r.stdout[-1000:]} {r.stderr[-1000:]}")
    return read_output(out)


def run(atmosphere, abundances, line_list, wave_range, vturb, options: SpectrumOptions | None = None, *,
        wave=None) -> EngineResult:
    """F/F_c from SPECTRUM for each abundance row (engine contract, ``glocal.synthesis.contract``;
    inputs validated by ``glocal.synthesis.run_engine``).

    ``abundances`` (n_var, 99) log ε include [Fe/H] (Eq. 3); each variant's atom file receives
    A − [Fe/H] (Eq. 2) and the model header [M/H] = ``atmosphere.feh``.  The grid is SPECTRUM's, from
    min(wave_range[0], wave[0]) in steps of ``options.dwave``; with ``wave`` the output is linearly
    interpolated onto it.  Returns flux = F/F_c and continuum = 1 (``details["normalized_only"]``).
    """
    opts = SpectrumOptions() if options is None else options
    if not isinstance(opts, SpectrumOptions):
        raise TypeError(f"options must be SpectrumOptions, got {type(opts).__name__}")
    exe = find_binary(opts.binary)
    A = np.atleast_2d(np.asarray(abundances, float))
    lo, hi = (float(x) for x in wave_range)
    if wave is not None:
        wave = np.asarray(wave, float)
        lo, hi = min(lo, wave[0]), max(hi, wave[-1])
    feh = float(atmosphere.feh)
    tmp = Path(opts.workdir) if opts.workdir else Path(tempfile.mkdtemp(prefix="glocal-spectrum-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        shared = _write_shared_inputs(tmp, atmosphere, line_list, lo, hi, opts, feh)
        grid, fluxes = None, []
        for v, ab in enumerate(A):
            w, f = _run_variant(exe, tmp, v, ab, feh, shared, float(vturb), lo, hi, opts)
            if grid is None:
                grid = w
            elif w.shape != grid.shape:
                raise RuntimeError("SPECTRUM variants returned different grids")
            fluxes.append(f)
    finally:
        if opts.workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)
    flux = np.array(fluxes)
    if wave is not None:
        flux = np.array([np.interp(wave, grid, f) for f in flux])
        grid = wave
    details = {**shared["info"], "dwave": opts.dwave, "switches": opts.switches, "normalized_only": True,
               "model_format": "atlas9" if "t" in opts.switches else "simple", "molecule_d0": shared["d0"],
               "workdir": str(tmp)}
    return EngineResult(grid, flux, np.ones_like(flux), details)
