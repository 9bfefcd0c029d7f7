"""SPECTRUM's input files (model, atom, isotope and line files) and its output, as ``spectrum.c`` and its
readers (``inmodel6.c``, ``inatom2.c``, ``inisotope.c``, ``linelst12b.c``, ``pop13.c``) expect them.

The formats and the choices made in them are described in ``glocal.synthesis.spectrum``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...constants import EV_TO_CM1

__all__ = ["write_model", "write_kurucz_model", "write_atom_file", "write_isotope_file", "write_line_list",
           "read_output", "spectrum_isotopes", "isotope_table", "molecule_d0", "SPECTRUM_MOLECULES",
           "SPECTRUM_NTAU", "SPECTRUM_REQUIRED_ISOTOPES", "SPECTRUM_ISOTOPOLOGUES", "MOLECULE_D0_EV",
           "CA_ISOTOPE_FRACTIONS", "ISOTOPE_MASSES", "N_ELEMENTS_SPECTRUM", "ABSENT_LOG"]

#: NTAU of SPECTRUM's ``spectrum.h``: the most depth points a model may have.
SPECTRUM_NTAU = 100

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

#: The (Z, A) whose relative abundances ``isorelabun.c`` looks up at start-up: with ``i`` the
#: isotope file must hold every one of them, or SPECTRUM stops ("isotope not recognized").
SPECTRUM_REQUIRED_ISOTOPES = (
    (1, 1), (1, 2), (6, 12), (6, 13), (7, 14), (7, 15), (8, 16), (8, 17), (8, 18),
    (12, 24), (12, 25), (12, 26), (14, 28), (14, 29), (14, 30),
    (20, 40), (20, 42), (20, 43), (20, 44), (20, 46), (20, 48),
    (22, 46), (22, 47), (22, 48), (22, 49), (22, 50))
#: Solar Ca isotopic fractions (Asplund et al. 2009, ARA&A 47, 481, Table 3), needed by
#: ``isorelabun.c`` but absent from ``glocal.linelists.SOLAR_ISOTOPE_FRACTIONS`` (no list resolves Ca).
CA_ISOTOPE_FRACTIONS = {(20, 40): 0.96941, (20, 42): 0.00647, (20, 43): 0.00135, (20, 44): 0.02086,
                        (20, 46): 0.00004, (20, 48): 0.00187}
#: Atomic masses (u) of the isotopes in the isotope file (AME2016, Wang et al. 2017, CPC 41, 030003);
#: an isotope not listed gets its mass number.  SPECTRUM uses them for atomic Doppler widths.
ISOTOPE_MASSES = {
    (1, 1): 1.00782503, (1, 2): 2.01410178, (3, 6): 6.01512289, (3, 7): 7.01600344,
    (6, 12): 12.0, (6, 13): 13.00335484, (7, 14): 14.00307400, (7, 15): 15.00010890,
    (8, 16): 15.99491462, (8, 17): 16.99913176, (8, 18): 17.99915961, (9, 19): 18.99840316,
    (12, 24): 23.98504170, (12, 25): 24.98583698, (12, 26): 25.98259297,
    (14, 28): 27.97692653, (14, 29): 28.97649466, (14, 30): 29.97377014,
    (17, 35): 34.96885268, (17, 37): 36.96590260,
    (20, 40): 39.96259086, (20, 42): 41.95861783, (20, 43): 42.95876644, (20, 44): 43.95548156,
    (20, 46): 45.95368900, (20, 48): 47.95252276,
    (22, 46): 45.95262772, (22, 47): 46.95175879, (22, 48): 47.94794198, (22, 49): 48.94786568,
    (22, 50): 49.94478689, (26, 54): 53.93960899, (26, 56): 55.93493633, (26, 57): 56.93539284,
    (26, 58): 57.93327443}
#: Isotopologues whose populations ``pop13.c`` scales with the isotope file (``i`` switch): for each
#: molecule code, (A1, A2) of its two atoms in MOOG order (lower Z first, as in the line lists'
#: isotope digits: 106.00113 → (1, 13)) → SPECTRUM's isotope number.  Other molecules ignore it.
SPECTRUM_ISOTOPOLOGUES = {
    106: {(1, 12): 12, (1, 13): 13, (2, 12): 2},
    107: {(1, 14): 14, (1, 15): 15, (2, 14): 2},
    108: {(1, 16): 16, (1, 17): 17, (1, 18): 18, (2, 16): 2},
    112: {(1, 24): 24, (1, 25): 25, (1, 26): 26, (2, 24): 2},
    114: {(1, 28): 28, (1, 29): 29, (1, 30): 30, (2, 28): 2},
    120: {(1, 40): 40, (1, 42): 42, (1, 43): 43, (1, 44): 44, (1, 46): 46, (1, 48): 48, (2, 40): 2},
    606: {(12, 12): 12, (12, 13): 13, (13, 12): 13, (13, 13): 33},
    607: {(12, 14): 12, (13, 14): 13, (12, 15): 15},
    608: {(12, 16): 12, (13, 16): 13, (12, 17): 17, (12, 18): 18},
    814: {(16, 28): 16, (17, 28): 17, (18, 28): 18, (16, 29): 29, (16, 30): 30},
}


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


def _tables():
    import h5py
    path = Path(__file__).resolve().parents[2] / "data" / "physics_tables.h5"
    if not path.is_file():
        raise FileNotFoundError(f"{path} (ionisation energies, masses) not found")
    with h5py.File(path, "r") as f:
        chi = np.asarray(f["atoms/chi_eV"][()], float)
        mass = np.asarray(f["atoms/mass_amu"][()], float)
    if chi.shape[0] < N_ELEMENTS_SPECTRUM or mass.shape[0] < N_ELEMENTS_SPECTRUM:
        raise ValueError(f"{path}: atom tables cover fewer than {N_ELEMENTS_SPECTRUM} elements")
    return chi[:N_ELEMENTS_SPECTRUM], mass[:N_ELEMENTS_SPECTRUM]


def _depth_arrays(atmosphere):
    rhox, T, P, xne = (np.asarray(getattr(atmosphere, k), float) for k in ("rhox", "T", "P", "xne"))
    kap = np.asarray(getattr(atmosphere, "abross", np.zeros_like(rhox)), float)
    n = rhox.size
    if any(a.shape != (n,) for a in (T, P, xne, kap)) or not 5 <= n <= SPECTRUM_NTAU:
        raise ValueError(f"atmosphere depth arrays must be 1-D with the same 5..{SPECTRUM_NTAU} points")
    if not all(np.all(np.isfinite(a)) for a in (rhox, T, P, xne, kap)):
        raise ValueError("atmosphere contains NaN/inf")
    return rhox, T, P, xne, kap


def _depth_rows(rhox, T, P, xne, kap, vturb_cms=None) -> list[str]:
    """``rhox T P Ne abross accrad [vturb]`` rows, the same digits for both model formats."""
    tail = "" if vturb_cms is None else f" {vturb_cms:.3E}"
    return [f"{r:.8E} {t:9.2f} {p:.6E} {e:.6E} {k:.6E} 0.000E+00{tail}" for r, t, p, e, k in zip(rhox, T, P, xne, kap)]


def write_model(atmosphere, path, feh=None) -> None:
    """SPECTRUM simple-header model (read without ``t``): ``Teff logg [M/H] N`` + rows
    ``rhox T P Ne abross accrad``."""
    rows = _depth_arrays(atmosphere)
    mh = float(atmosphere.feh if feh is None else feh)
    lines = [f"{float(atmosphere.teff):.1f} {float(atmosphere.logg):.4f} {mh:.4f} {rows[0].size}"]
    Path(path).write_text("\n".join(lines + _depth_rows(*rows)) + "\n")


def write_kurucz_model(atmosphere, path, feh=None) -> None:
    """ATLAS9 ``READ DECK6`` model for SPECTRUM's ``t`` switch (``inmodel6.c``, see module doc).

    ``TEFF … GRAVITY …``, ``ABUNDANCE SCALE 10^[M/H]`` with the ``ABUNDANCE CHANGE`` lines of the
    atmosphere's mixture (H, He: N/N_tot; Z ≥ 3: log10(N/N_tot) before the scale, ≥ −20), ``READ
    DECK6 N RHOX,T,P,XNE,ABROSS,ACCRAD,VTURB``, N rows (ACCRAD 0, VTURB the model's, cm/s) and a
    closing ``PRADK`` line (value unknown, written 0), so that ``glocal.atmospheres`` reads it back.
    """
    rows = _depth_arrays(atmosphere)
    mh = float(atmosphere.feh if feh is None else feh)
    scale = 10.0 ** mh
    if not np.isfinite(scale) or scale <= 0 or f"{scale:.10f}" == f"{0.0:.10f}":
        raise ValueError(f"[M/H] = {mh} cannot be written as an ABUNDANCE SCALE")
    ab = np.asarray(atmosphere.abundances, float)
    if ab.ndim != 1 or ab.size < 2 or not np.all(np.isfinite(ab)):
        raise ValueError("atmosphere abundances must be finite log eps values")
    n_rel = 10.0 ** (ab - 12.0)                      # N_X / N_H (ab[0] = 12)
    f_h = 1.0 / n_rel.sum()
    vt = float(getattr(atmosphere, "vturb", 0.0))
    lines = [f"TEFF {float(atmosphere.teff):8.1f}  GRAVITY {float(atmosphere.logg):.5f} LTE",
             f"TITLE glocal.synthesis.spectrum deck: [M/H] = {mh:+.4f}, vturb = {vt:.2f} km/s",
             f"ABUNDANCE SCALE {scale:.10f} ABUNDANCE CHANGE 1 {f_h:.7f} 2 {n_rel[1] * f_h:.7f}"]
    with np.errstate(divide="ignore"):
        log_frac = np.log10(n_rel * f_h) - mh
    change = [(z, max(ABSENT_LOG, float(log_frac[z - 1]))) for z in range(3, ab.size + 1)]
    for i in range(0, len(change), 6):
        lines.append(" ABUNDANCE CHANGE" + "".join(f" {z:2d} {v:8.4f}" for z, v in change[i:i + 6]))
    lines.append(f"READ DECK6 {rows[0].size} RHOX,T,P,XNE,ABROSS,ACCRAD,VTURB")
    lines += [" " + r for r in _depth_rows(*rows, vturb_cms=vt * 1e5)]
    lines.append("PRADK 0.0000E+00")
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
        rows.append(f"{z:3d} {lab:9.4f} {mass[z - 1]:9.4f} {I[0]:8.4f} {I[1]:8.4f} {I[2]:8.4f} {I[3]:8.4f} "
                    f"{maxcharge:d}")
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


def isotope_table() -> dict[tuple[int, int], float]:
    """(Z, A) → solar isotopic fraction written to the isotope file: the fractions the line lists
    use (``glocal.linelists.SOLAR_ISOTOPE_FRACTIONS``) plus :data:`CA_ISOTOPE_FRACTIONS`."""
    from ...linelists import SOLAR_ISOTOPE_FRACTIONS
    table = dict(CA_ISOTOPE_FRACTIONS)
    table.update(SOLAR_ISOTOPE_FRACTIONS)
    return table


def write_isotope_file(path, table=None) -> int:
    """SPECTRUM isotope file (``inisotope.c``, ``i`` switch): rows ``Z.0 A mass relabund`` for every
    (Z, A) of ``table`` (default :func:`isotope_table`); returns the number of rows."""
    table = isotope_table() if table is None else dict(table)
    missing = [k for k in SPECTRUM_REQUIRED_ISOTOPES if k not in table]
    if missing:
        raise ValueError(f"isotope table lacks {missing}, which SPECTRUM's isorelabun.c requires")
    if len(table) > 490:                                  # spectrum.c allocates 500 isodata
        raise ValueError("too many isotopes for SPECTRUM (at most 490)")
    rows = []
    for (z, a), f in sorted(table.items()):
        if not (np.isfinite(f) and 0 < f <= 1):
            raise ValueError(f"isotopic fraction of Z={z}, A={a} must be in (0, 1], got {f}")
        rows.append(f"{z:.1f} {a:d} {ISOTOPE_MASSES.get((z, a), float(a)):.8f} {f:.10g}")
    Path(path).write_text("\n".join(rows) + "\n")
    return len(rows)


def spectrum_isotopes(data, table=None, rtol: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """SPECTRUM isotope numbers of line-list rows (structured array with ``code``,
    ``isotope_code``, ``isotope_fraction``) and whether SPECTRUM, run with ``i`` and the isotope
    file of ``table``, applies the row's ``isotope_fraction`` itself.

    Atoms: number A when (Z, A) is in the file with the row's fraction (``inline8.c``: gf ×
    relabund).  Molecules: the number ``pop13.c`` uses for that isotopologue
    (:data:`SPECTRUM_ISOTOPOLOGUES`) when the product of the two atoms' file fractions — times 2
    for ¹²C¹³C, as ``pop13.c`` counts it — equals the row's fraction.  Otherwise 0 and False:
    the caller folds the fraction into log gf.
    """
    table = isotope_table() if table is None else dict(table)
    code = np.asarray(data["code"], float)
    kiso = np.asarray(data["isotope_code"], int)
    frac = np.asarray(data["isotope_fraction"], float)
    iso = np.zeros(code.size, int)
    applied = np.zeros(code.size, bool)
    keys, inv = np.unique(np.stack([np.floor(code + 1e-9), kiso, frac], 1), axis=0, return_inverse=True)
    for j, (zc, k, f) in enumerate(keys):
        zc, k = int(zc), int(k)
        if k <= 0:
            continue
        if zc < 100:
            n, factor = k, table.get((zc, k))
        else:
            a1, a2 = divmod(k, 100)
            n = SPECTRUM_ISOTOPOLOGUES.get(zc, {}).get((a1, a2))
            factor = None
            if n is not None:
                z1, z2 = SPECTRUM_MOLECULES[zc]
                if (z1, a1) in table and (z2, a2) in table:
                    factor = table[(z1, a1)] * table[(z2, a2)] * (2.0 if (zc, n) == (606, 13) else 1.0)
        if factor is not None and np.isclose(factor, f, rtol=rtol, atol=0.0):
            sel = inv.ravel() == j
            iso[sel], applied[sel] = n, True
    return iso, applied


def write_line_list(line_list, path, wave_range=None, isotopes: bool = False, table=None,
                    info: dict | None = None) -> int:
    """Line list in SPECTRUM's ``luke.lst`` format; returns the number of lines written.

    ``isotopes=False`` (no ``i`` switch): every isotopic fraction folded into log gf.
    ``isotopes=True``: an isotope-number column after the code (:func:`spectrum_isotopes`); rows
    whose fraction SPECTRUM applies carry the unscaled log gf, the others isotope number 0 and
    the fraction folded in — never both.  ``info`` (a dict) receives the counts.
    """
    from ...linelists import air_to_vacuum
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
    frac = np.asarray(d["isotope_fraction"], float)
    if not np.all(np.isfinite(frac) & (frac > 0)):
        raise ValueError("isotope_fraction must be finite and > 0")
    loggf = np.asarray(d["loggf"], float)
    if getattr(line_list, "isotopes_applied", True):
        loggf = loggf - np.log10(frac)                 # back to the unscaled log gf
    if isotopes:
        iso, applied = spectrum_isotopes(d, table)
    else:
        iso, applied = np.zeros(d.size, int), np.zeros(d.size, bool)
    loggf = loggf + np.where(applied, 0.0, np.log10(frac))
    el = np.asarray(d["elow"], float) * EV_TO_CM1
    eu = el + 1e8 / air_to_vacuum(np.asarray(d["wave"], float))
    spc_code = np.where(mol, np.rint(code), np.floor(code) + 0.1 * (np.asarray(d["ion"], int) - 1))
    g = np.stack([np.asarray(d[k], float) for k in ("gamma_rad", "gamma_stark", "gamma_vdw")], axis=1)
    have_ga = np.all(np.isfinite(g), axis=1) & (g[:, 2] < 0)   # ABO-packed van der Waals not supported
    out = []
    for w, c, n, e1, e2, gf, ga, gg in zip(d["wave"], spc_code, iso, el, eu, loggf, have_ga, g):
        head = f"{w:10.4f} {c:7.1f} {n:2d}" if isotopes else f"{w:10.4f} {c:7.1f}"
        if ga:
            out.append(f"{head} {e1:11.3f} {e2:11.3f} {gf:8.4f} 1.0 GA {gg[0]:.3f} {gg[1]:.3f} {gg[2]:.3f} 0")
        else:
            out.append(f"{head} {e1:11.3f} {e2:11.3f} {gf:8.4f} 1.0 99 0")
    Path(path).write_text("\n".join(out) + "\n")
    if info is not None:
        info.update(n_lines_written=len(out), n_isotope_lines=int(applied.sum()),
                    n_fraction_folded=int(np.sum(~applied & (np.abs(np.log10(frac)) > 0))))
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
