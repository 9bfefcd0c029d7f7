"""Driver for R. O. Gray's SPECTRUM v2.77 (Gray & Corbally 1994, AJ 107, 742), the paper's code (§2.1).

``run`` writes, in a scratch directory, for each abundance variant:

* the model atmosphere in SPECTRUM's simple-header format (``inmodel6.c``): a line
  ``Teff log g [M/H] N`` and N rows ``rhox T P n_e κ_R 0``.  [M/H] is the model's [Fe/H], which
  SPECTRUM adds to every metal (Eq. 1);
* an atom file in ``stdatom.dat`` format (``inatom2.c``): a comment line, then NATOM − NMOL = 92
  element rows ``Z log(N_X/N_tot) mass I1 I2 I3 I4 maxcharge`` followed by NMOL = 15 molecule rows
  (the molecules ``pop13.c`` knows).  The element abundances are the solar mixture plus the [X/Fe]
  offsets of the variant — Eq. 2 (A_X^file = A_X⊙ + [X/Fe]); SPECTRUM then adds [M/H] (Eq. 3).
  Ionisation energies and masses come from ``glocal/data/physics_tables.h5``; triply ionised
  stages are not tabulated there, so ``maxcharge`` ≤ 2;
* the line list in ``luke.lst`` style (``linelst12b.c``): ``λ code E_low E_up log gf fac type …``
  with energies in cm⁻¹, species SPECTRUM does not support dropped, isotope fractions folded into
  log gf (so the ``i`` switch and ``luke.iso.lst`` are not needed), transition type ``GA`` with the
  log10 damping constants when the list has all three, else ``99`` (SPECTRUM's approximations);

and runs SPECTRUM with the paper's switches minus ``t`` and ``i`` (``na``: silent, atom file given;
no ``f``: the output is the normalised intensity F/F_c of §2.1).  The output (λ, F/F_c) is parsed
and returned as flux = F/F_c, continuum = 1.  The binary comes from the ``binary`` argument or the
``GLOCAL_SPECTRUM_BIN`` environment variable; :func:`build_spectrum` compiles the C sources.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..constants import EV_TO_CM1

__all__ = ["run", "build_spectrum", "write_model", "write_atom_file", "write_line_list", "read_output",
           "SPECTRUM_MOLECULES", "find_binary"]

#: The NMOL = 15 molecules of SPECTRUM's ``pop13.c`` with their constituent atoms (Z).
SPECTRUM_MOLECULES = {101: (1, 1), 106: (1, 6), 107: (1, 7), 108: (1, 8), 112: (1, 12), 113: (1, 13),
                      114: (1, 14), 120: (1, 20), 606: (6, 6), 607: (6, 7), 608: (6, 8), 813: (8, 13),
                      814: (8, 14), 822: (8, 22), 840: (8, 40)}
#: Dissociation energies D0 (eV) for the atom-file molecule rows (Huber & Herzberg 1979 compilation
#: values, rounded); overridden by the line list's own ``d0`` where it has one (as for OH, 4.391).
MOLECULE_D0_EV = {101: 4.478, 106: 3.465, 107: 3.47, 108: 4.392, 112: 1.34, 113: 3.06, 114: 3.06,
                  120: 1.70, 606: 6.21, 607: 7.72, 608: 11.09, 813: 5.27, 814: 8.26, 822: 6.87, 840: 7.85}
N_ELEMENTS_SPECTRUM = 92
ABSENT_LOG = -20.0


def _top_stage(z: int) -> int:
    """Highest ionisation stage (0 = neutral) for which SPECTRUM 2.77 tabulates partition functions
    (its ``pfinit5.c`` species list): C, N, O, Na–Si, S, K, Ca, Fe up to IV ionised (stage 4), P,
    Sc–Mn, Co–Ge stage 3, H stage 0, every other element up to Z = 92 stage 2."""
    if z == 1:
        return 0
    if z in (6, 7, 8, 11, 12, 13, 14, 16, 19, 20, 26):
        return 4
    if z == 15 or 21 <= z <= 25 or 27 <= z <= 32:
        return 3
    return 2


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


def _tables():
    import h5py
    path = Path(__file__).resolve().parents[1] / "data" / "physics_tables.h5"
    if not path.is_file():
        raise FileNotFoundError(f"{path} (ionisation energies, masses) not found")
    with h5py.File(path, "r") as f:
        chi = np.asarray(f["atoms/chi_eV"][()], float)
        mass = np.asarray(f["atoms/mass_amu"][()], float)
    if chi.shape[0] < N_ELEMENTS_SPECTRUM or mass.shape[0] < N_ELEMENTS_SPECTRUM:
        raise ValueError(f"{path}: atom tables cover fewer than {N_ELEMENTS_SPECTRUM} elements")
    return chi[:N_ELEMENTS_SPECTRUM], mass[:N_ELEMENTS_SPECTRUM]


def write_model(atmosphere, path, feh=None) -> None:
    """SPECTRUM simple-header model: ``Teff logg [M/H] N`` + rows ``rhox T P Ne abross accrad``."""
    rhox, T, P, xne = (np.asarray(getattr(atmosphere, k), float) for k in ("rhox", "T", "P", "xne"))
    kap = np.asarray(getattr(atmosphere, "abross", np.zeros_like(rhox)), float)
    mh = float(atmosphere.feh if feh is None else feh)
    n = rhox.size
    if any(a.shape != (n,) for a in (T, P, xne, kap)) or n < 5:
        raise ValueError("atmosphere depth arrays must be 1-D with the same >= 5 points")
    if not all(np.all(np.isfinite(a)) for a in (rhox, T, P, xne, kap)):
        raise ValueError("atmosphere contains NaN/inf")
    lines = [f"{float(atmosphere.teff):.1f} {float(atmosphere.logg):.4f} {mh:.4f} {n}"]
    lines += [f"{r:.8E} {t:9.2f} {p:.6E} {e:.6E} {k:.6E} 0.000E+00" for r, t, p, e, k in zip(rhox, T, P, xne, kap)]
    Path(path).write_text("\n".join(lines) + "\n")


def write_atom_file(path, logeps_file, d0=None) -> None:
    """``stdatom.dat``: 92 element rows with log10(N_X/N_tot) of ``logeps_file`` (Eq. 2, before the
    [M/H] scaling SPECTRUM applies), then the 15 molecule rows, whose columns ``pop13.c`` reads as
    D0 (eV), reduced mass (amu) and a gf factor (1); ``d0`` overrides :data:`MOLECULE_D0_EV`."""
    d0s = dict(MOLECULE_D0_EV)
    d0s.update({int(k): float(v) for k, v in (d0 or {}).items() if np.isfinite(v) and v > 0})
    a = np.asarray(logeps_file, float)
    if a.shape[0] < N_ELEMENTS_SPECTRUM or not np.all(np.isfinite(a[:N_ELEMENTS_SPECTRUM])):
        raise ValueError("logeps_file must hold finite log eps for Z = 1..92")
    chi, mass = _tables()
    n = 10.0 ** (a[:N_ELEMENTS_SPECTRUM] - 12.0)
    n[a[:N_ELEMENTS_SPECTRUM] <= ABSENT_LOG + 1e-9] = 0.0
    frac = n / n.sum()
    rows = ["# glocal atom file (Z logN/Ntot mass I1-I4 maxch)"]  # inatom2.c reads <= 79 chars
    for z in range(1, N_ELEMENTS_SPECTRUM + 1):
        c = chi[z - 1]
        ok = np.isfinite(c) & (c > 0)
        # popinit needs the partition function one stage above maxcharge; I4 is not tabulated here
        maxcharge = int(max(0, min(2, ok.sum(), _top_stage(z) - 1)))
        I = [float(c[k]) if ok[k] else 0.0 for k in range(3)] + [0.0]
        lab = np.log10(frac[z - 1]) if frac[z - 1] > 0 else ABSENT_LOG
        rows.append(f"{z:3d} {lab:9.4f} {mass[z - 1]:9.4f} {I[0]:8.4f} {I[1]:8.4f} {I[2]:8.4f} {I[3]:8.4f} {maxcharge:d}")
    for code, (z1, z2) in SPECTRUM_MOLECULES.items():
        m1, m2 = mass[z1 - 1], mass[z2 - 1]
        rows.append(f"{code:3d} {0.0:9.4f} {m1 + m2:9.4f} {d0s[code]:8.4f} {m1 * m2 / (m1 + m2):8.4f} "
                    f"{1.0:8.4f} {0.0:8.4f} 0")
    Path(path).write_text("\n".join(rows) + "\n")


def molecule_d0(line_list) -> dict[int, float]:
    """Median dissociation energy per SPECTRUM molecule code found in the line list's ``d0``."""
    d = line_list.data
    code = np.rint(np.asarray(d["code"], float)).astype(int)
    out = {}
    for c in SPECTRUM_MOLECULES:
        v = np.asarray(d["d0"], float)[code == c]
        v = v[np.isfinite(v) & (v > 0)]
        if v.size:
            out[c] = float(np.median(v))
    return out


def write_line_list(line_list, path, wave_range=None) -> int:
    """Line list in SPECTRUM's ``luke.lst`` format; returns the number of lines written."""
    from ..linelists import air_to_vacuum
    d = line_list.data
    if getattr(line_list, "medium", "air") != "air":
        raise ValueError("SPECTRUM line lists are in air wavelengths")
    if wave_range is not None:
        d = d[(d["wave"] >= wave_range[0]) & (d["wave"] <= wave_range[1])]
    d = d[np.argsort(d["wave"], kind="stable")]
    code = np.asarray(d["code"], float)
    ion = np.asarray(d["ion"], int)
    mol = code >= 100
    atom_ok = (~mol) & (np.floor(code) <= N_ELEMENTS_SPECTRUM) & (ion <= 3) & (np.floor(code) >= 1)
    mol_ok = mol & np.isin(np.rint(code).astype(int), list(SPECTRUM_MOLECULES))
    d, code, mol = d[atom_ok | mol_ok], code[atom_ok | mol_ok], mol[atom_ok | mol_ok]
    loggf = np.asarray(d["loggf"], float)
    if not getattr(line_list, "isotopes_applied", True):
        loggf = loggf + np.log10(np.asarray(d["isotope_fraction"], float))
    el = np.asarray(d["elow"], float) * EV_TO_CM1
    eu = el + 1e8 / air_to_vacuum(np.asarray(d["wave"], float))
    spc_code = np.where(mol, np.rint(code), np.floor(code) + 0.1 * (np.asarray(d["ion"], int) - 1))
    g = np.stack([np.asarray(d[k], float) for k in ("gamma_rad", "gamma_stark", "gamma_vdw")], axis=1)
    have_ga = np.all(np.isfinite(g), axis=1) & (g[:, 2] < 0)   # ABO-packed van der Waals not supported
    out = []
    for w, c, e1, e2, gf, ga, gg in zip(d["wave"], spc_code, el, eu, loggf, have_ga, g):
        if ga:
            out.append(f"{w:10.4f} {c:7.1f} {e1:11.3f} {e2:11.3f} {gf:7.3f} 1.0 GA {gg[0]:.3f} {gg[1]:.3f} {gg[2]:.3f} 0")
        else:
            out.append(f"{w:10.4f} {c:7.1f} {e1:11.3f} {e2:11.3f} {gf:7.3f} 1.0 99 0")
    Path(path).write_text("\n".join(out) + "\n")
    return len(out)


def read_output(path) -> tuple[np.ndarray, np.ndarray]:
    """Parse SPECTRUM's ASCII output (λ, F/F_c); raises ValueError on empty/corrupt output."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"SPECTRUM output {p} not found")
    try:
        arr = np.loadtxt(p, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"{p}: corrupt SPECTRUM output ({exc})") from exc
    if arr.shape[0] < 2 or arr.shape[1] != 2 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{p}: SPECTRUM output has {arr.shape} values or NaN")
    return arr[:, 0], arr[:, 1]


def run(atmosphere, abundances_list, line_list, wave_range, vturb, *, binary=None, dwave: float = 0.02,
        wave=None, timeout: float = 3600.0, workdir=None, keep_files: bool = False,
        return_details: bool = False):
    """Engine interface (see ``glocal.synthesis``): F/F_c from SPECTRUM for each abundance set.

    ``abundances_list`` (n_var, 99) log ε include [Fe/H] (Eq. 3); the atom file receives
    A − [Fe/H] (Eq. 2) and the model header [M/H] = [Fe/H].  Returns (wave, F/F_c, ones).
    With ``wave`` the output is linearly interpolated onto it.
    """
    exe = find_binary(binary)
    A = np.atleast_2d(np.asarray(abundances_list, float))
    if A.ndim != 2 or A.shape[1] != 99 or not np.all(np.isfinite(A)):
        raise ValueError(f"abundances_list must be finite (n_var, 99) log eps, got {A.shape}")
    lo, hi = (float(x) for x in wave_range)
    if wave is not None:
        wave = np.asarray(wave, float)
        if wave.ndim != 1 or np.any(np.diff(wave) <= 0) or not np.all(np.isfinite(wave)):
            raise ValueError("wave must be 1-D, finite, strictly increasing")
        lo, hi = min(lo, wave[0]), max(hi, wave[-1])
    if not (0 < lo < hi) or not np.isfinite(hi):
        raise ValueError(f"bad wave_range {wave_range!r}")
    dwave = float(dwave)
    if not 0 < dwave < 1:
        raise ValueError(f"dwave must be in (0, 1) Å, got {dwave}")
    vt = float(vturb)
    if not np.isfinite(vt) or vt < 0:
        raise ValueError(f"vturb must be finite and >= 0, got {vturb!r}")
    feh = float(atmosphere.feh)
    tmp = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="glocal-spectrum-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        write_model(atmosphere, tmp / "model.dat", feh=feh)
        n_lines = write_line_list(line_list, tmp / "lines.lst", (lo - 30.0, hi + 30.0))
        if n_lines == 0:
            raise ValueError("no SPECTRUM-supported lines in range")
        d0 = molecule_d0(line_list)
        fluxes, grid = [], None
        for v, ab in enumerate(A):
            file_ab = ab.copy()
            file_ab[2:] -= feh                      # Eq. 2: the file holds A_sun + [X/Fe]
            write_atom_file(tmp / f"atom{v}.dat", file_ab, d0=d0)
            out = tmp / f"out{v}.spc"
            stdin = f"model.dat\nlines.lst\natom{v}.dat\n{out.name}\n{vt:.4f}\n{lo:.3f},{hi:.3f}\n{dwave:.4f}\n"
            r = subprocess.run([str(exe), "na"], input=stdin, cwd=tmp, capture_output=True, text=True,
                               timeout=timeout)
            if r.returncode != 0:
                raise RuntimeError(f"SPECTRUM failed (rc={r.returncode}): {r.stdout[-1000:]} {r.stderr[-1000:]}")
            w, f = read_output(out)
            if grid is None:
                grid = w
            elif w.shape != grid.shape:
                raise RuntimeError("SPECTRUM variants returned different grids")
            fluxes.append(f)
        flux = np.array(fluxes)
        if wave is not None:
            flux = np.array([np.interp(wave, grid, f) for f in flux])
            grid = wave
        if return_details:
            return grid, flux, np.ones_like(flux), {"n_lines_written": n_lines, "dwave": dwave,
                                                    "switches": "na", "molecule_d0": d0}
        return grid, flux, np.ones_like(flux)
    finally:
        if not keep_files and workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)
