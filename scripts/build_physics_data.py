#!/usr/bin/env python
"""Build ``glocal/data/physics_tables.h5``: the compact physics tables of the built-in engine.

Sources (all mirrored in ``../shared/data/tables``; cite them when the engine is used):

* atomic partition functions from NIST levels as tabulated by Korg (Wheeler et al. 2023, AJ 165, 68),
  on T = 10**(0.025 i) K, i = 0..200;
* first three ionisation energies, diatomic equilibrium constants and molecular partition functions of
  Barklem & Collet (2016, A&A 588, A96);
* H- photodetachment cross-section of McLaughlin et al. (2017, J. Phys. B 50, 114001);
* non-relativistic thermally averaged free-free Gaunt factors of van Hoof et al. (2014, MNRAS 444, 420);
* Stark-broadened hydrogen profiles of Stehle & Hutcheon (1999, A&AS 140, 93), Korg repackaging;
* published fits/tables typed in below (facts with citations): H- free-free of Bell & Berrington (1987,
  J. Phys. B 20, 801); Mg I and Si I photoionisation (Peach 1970, via Kurucz 1970/1993 ATLAS);
  Fe I pseudo-level photoionisation (Kurucz 1993, ATLAS9); Al I ground state (Kurucz 1970);
  H2+ bound-free/free-free fit (Kurucz 1970, SAO Spec. Rep. 309); He- free-free (Kurucz 1970).

H2O (not in Barklem & Collet, who treat diatomics only) gets a rigid-rotor/harmonic-oscillator
equilibrium constant from its rotational constants, vibrational fundamentals and atomisation energy
(Herzberg 1966; D0 = 9.511 eV, Ruscic et al. 2002).

Run: ``python scripts/build_physics_data.py [--shared ../shared/data] [--out glocal/data/physics_tables.h5]``.
Everything is stored float32 with gzip; the file must stay under 1.5 MB.
"""
from __future__ import annotations

import argparse
import datetime as _dt
from pathlib import Path

import h5py
import numpy as np
from scipy.interpolate import CubicSpline

ROOT = Path(__file__).resolve().parents[1]

ELEMENTS = ("H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se "
            "Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb "
            "Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U").split()
# standard atomic weights (IUPAC 2013, rounded; most stable isotope for radioactive elements), amu
MASSES = [1.008, 4.0026, 6.94, 9.0122, 10.81, 12.011, 14.007, 15.999, 18.998, 20.180, 22.990, 24.305,
          26.982, 28.085, 30.974, 32.06, 35.45, 39.948, 39.098, 40.078, 44.956, 47.867, 50.942, 51.996,
          54.938, 55.845, 58.933, 58.693, 63.546, 65.38, 69.723, 72.630, 74.922, 78.971, 79.904, 83.798,
          85.468, 87.62, 88.906, 91.224, 92.906, 95.95, 98.0, 101.07, 102.91, 106.42, 107.87, 112.41,
          114.82, 118.71, 121.76, 127.60, 126.90, 131.29, 132.91, 137.33, 138.91, 140.12, 140.91, 144.24,
          145.0, 150.36, 151.96, 157.25, 158.93, 162.50, 164.93, 167.26, 168.93, 173.05, 174.97, 178.49,
          180.95, 183.84, 186.21, 190.23, 192.22, 195.08, 196.97, 200.59, 204.38, 207.2, 208.98, 209.0,
          210.0, 222.0, 223.0, 226.0, 227.0, 232.04, 231.04, 238.03]

# Molecules solved in the chemical equilibrium (Barklem & Collet names) and their constituent atoms.
MOLECULES = {
    "H2": ("H", "H"), "C2": ("C", "C"), "N2": ("N", "N"), "O2": ("O", "O"), "CH": ("C", "H"),
    "NH": ("N", "H"), "OH": ("O", "H"), "MgH": ("Mg", "H"), "AlH": ("Al", "H"), "SiH": ("Si", "H"),
    "CaH": ("Ca", "H"), "FeH": ("Fe", "H"), "CN": ("C", "N"), "CO": ("C", "O"), "NO": ("N", "O"),
    "MgO": ("Mg", "O"), "SiO": ("Si", "O"), "CaO": ("Ca", "O"), "TiO": ("Ti", "O"), "H2+": ("H", "H+"),
}

# H2O: rotational constants A, B, C (cm-1), fundamentals (cm-1), symmetry number, D0 (eV)
H2O_CONST = dict(A=27.877, B=14.512, C=9.285, nu=(3657.05, 1594.75, 3755.93), sigma=2, D0=9.511)

K_B = 1.380649e-16
H_P = 6.62607015e-27
AMU = 1.66053907e-24
C_LIGHT = 2.99792458e10
EV = 1.602176634e-12

# ---------------------------------------------------------------- published small tables (facts)
# Bell & Berrington (1987) H- free-free, units 1e-26 cm^4 dyn^-1 per H atom (stimulated emission incl.)
BB_THETA = [0.5, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.8, 3.6]
BB_WAVE_A = [1823, 2278, 2604, 3038, 3645, 4557, 5063, 5696, 6510, 7595, 9113, 10126, 11392, 13019,
             15189, 18227, 22784, 30378, 45567, 91134, 113918, 151890]
BB_TABLE = """
.0178 .0222 .0308 .0402 .0498 .0596 .0695 .0795 .0896 .131 .172
.0228 .0280 .0388 .0499 .0614 .0732 .0851 .0972 .110 .160 .211
.0277 .0342 .0476 .0615 .0760 .0908 .105 .121 .136 .199 .262
.0364 .0447 .0616 .0789 .0966 .114 .132 .150 .169 .243 .318
.0520 .0633 .0859 .108 .131 .154 .178 .201 .225 .321 .418
.0791 .0959 .129 .161 .194 .227 .260 .293 .327 .463 .602
.0965 .117 .157 .195 .234 .272 .311 .351 .390 .549 .711
.121 .146 .195 .241 .288 .334 .381 .428 .475 .667 .861
.154 .188 .249 .309 .367 .424 .482 .539 .597 .830 1.07
.208 .250 .332 .409 .484 .557 .630 .702 .774 1.06 1.36
.293 .354 .468 .576 .677 .777 .874 .969 1.06 1.45 1.83
.358 .432 .572 .702 .825 .943 1.06 1.17 1.28 1.73 2.17
.448 .539 .711 .871 1.02 1.16 1.29 1.43 1.57 2.09 2.60
.579 .699 .924 1.13 1.33 1.51 1.69 1.86 2.02 2.67 3.31
.781 .940 1.24 1.52 1.78 2.02 2.26 2.48 2.69 3.52 4.31
1.11 1.34 1.77 2.17 2.53 2.87 3.20 3.51 3.80 4.92 5.97
1.73 2.08 2.74 3.37 3.90 4.50 5.01 5.50 5.95 7.59 9.06
3.04 3.65 4.80 5.86 6.86 7.79 8.67 9.50 10.3 13.2 15.6
6.79 8.16 10.7 13.1 15.3 17.4 19.4 21.2 23.0 29.5 35.0
27.0 32.4 42.6 51.9 60.7 68.9 76.8 84.2 91.4 117. 140.
42.3 50.6 66.4 80.8 94.5 107. 120. 131. 142. 183. 219.
75.1 90.0 118. 144. 168. 191. 212. 234. 253. 325. 388.
"""

# Peach (1970) Mg I photoionisation, sum_i g_i sigma_i exp(-E_i/kT) (cm^2), natural log, as tabulated by
# Kurucz (1970, 1993) at T = 4000..10000 K; rows at the listed wavelengths (edges doubled).
MG1_T = [4000, 5000, 6000, 7000, 8000, 9000, 10000]
MG1_WAVE = [1500, 1550, 1621, 1622, 2513, 2514, 3756, 3757, 6549, 6550, 7234, 7235, 7291, 7292, 9000]
MG1_LN = """
-42.474 -42.350 -42.109 -41.795 -41.467 -41.159 -40.883
-41.808 -41.735 -41.582 -41.363 -41.115 -40.866 -40.631
-41.273 -41.223 -41.114 -40.951 -40.755 -40.549 -40.347
-45.583 -44.008 -42.957 -42.205 -41.639 -41.198 -40.841
-44.324 -42.747 -41.694 -40.939 -40.370 -39.925 -39.566
-50.969 -48.388 -46.630 -45.344 -44.355 -43.568 -42.924
-50.633 -48.026 -46.220 -44.859 -43.803 -42.957 -42.264
-53.028 -49.643 -47.367 -45.729 -44.491 -43.520 -42.736
-51.785 -48.352 -46.050 -44.393 -43.140 -42.157 -41.363
-52.285 -48.797 -46.453 -44.765 -43.486 -42.480 -41.668
-52.028 -48.540 -46.196 -44.507 -43.227 -42.222 -41.408
-52.384 -48.876 -46.513 -44.806 -43.509 -42.488 -41.660
-52.363 -48.856 -46.493 -44.786 -43.489 -42.467 -41.639
-54.704 -50.772 -48.107 -46.176 -44.707 -43.549 -42.611
-54.359 -50.349 -47.643 -45.685 -44.198 -43.027 -42.418
"""
# Peach (1970) Si I, same layout; stored as -ln(sum g sigma e^{-E/kT} / 9) (Kurucz convention)
SI1_T = [4000, 5000, 6000, 7000, 8000, 9000, 10000, 11000, 12000]
SI1_WAVE = [1200, 1400, 1519, 1520, 1676, 1677, 1978, 1979, 5379, 5380, 5624, 5625, 6260, 6261, 6349,
            6350, 6491, 6492, 6900]
SI1_NEGLN = """
38.136 38.138 38.140 38.141 38.143 38.144 38.144 38.145 38.145
37.834 37.839 37.843 37.847 37.850 37.853 37.855 37.857 37.858
37.898 37.898 37.897 37.897 37.897 37.896 37.895 37.895 37.894
40.737 40.319 40.047 39.855 39.714 39.604 39.517 39.445 39.385
40.581 40.164 39.893 39.702 39.561 39.452 39.366 39.295 39.235
45.521 44.456 43.753 43.254 42.878 42.580 42.332 42.119 41.930
45.520 44.455 43.752 43.251 42.871 42.569 42.315 42.094 41.896
55.068 51.783 49.553 47.942 46.723 45.768 44.997 44.360 43.823
53.868 50.369 48.031 46.355 45.092 44.104 43.308 42.652 42.100
54.133 50.597 48.233 46.539 45.261 44.262 43.456 42.790 42.230
54.051 50.514 48.150 46.454 45.176 44.175 43.368 42.702 42.141
54.442 50.854 48.455 46.733 45.433 44.415 43.592 42.912 42.340
54.320 50.722 48.313 46.583 45.277 44.251 43.423 42.738 42.160
55.691 51.965 49.444 47.615 46.221 45.119 44.223 43.478 42.848
55.661 51.933 49.412 47.582 46.188 45.085 44.189 43.445 42.813
55.973 52.193 49.630 47.769 46.349 45.226 44.314 43.555 42.913
55.922 52.141 49.577 47.715 46.295 45.172 44.259 43.500 42.858
56.828 52.821 50.110 48.146 46.654 45.477 44.522 43.730 43.061
56.657 52.653 49.944 47.983 46.491 45.315 44.360 43.569 42.901
"""
# Kurucz (1993) Fe I pseudo-levels: statistical weight, energy (cm-1), threshold wavenumber (cm-1);
# sigma = 3e-18 / (1 + ((w_i + 3000 - w)/w_i/0.1)^4) for w > w_i.
FE1_G = [25, 35, 21, 15, 9, 35, 33, 21, 27, 49, 9, 21, 27, 9, 9, 25, 33, 15, 35, 3, 5, 11, 15, 13, 15,
         9, 21, 15, 21, 25, 35, 9, 5, 45, 27, 21, 15, 21, 15, 25, 21, 35, 5, 15, 45, 35, 55, 25]
FE1_E = [500, 7500, 12500, 17500, 19000, 19500, 19500, 21000, 22000, 23000, 23000, 24000, 24000, 24500,
         24500, 26000, 26500, 26500, 27000, 27500, 28500, 29000, 29500, 29500, 29500, 30000, 31500,
         31500, 33500, 33500, 34000, 34500, 34500, 35000, 35500, 37000, 37000, 37000, 38500, 40000,
         40000, 41000, 41000, 43000, 43000, 43000, 43000, 44000]
FE1_W = [63500, 58500, 53500, 59500, 45000, 44500, 44500, 43000, 58000, 41000, 54000, 40000, 40000,
         57500, 55500, 38000, 57500, 57500, 37000, 54500, 53500, 55000, 34500, 34500, 34500, 34000,
         32500, 32500, 32500, 32500, 32000, 29500, 29500, 31000, 30500, 29000, 27000, 54000, 27500,
         24000, 47000, 23000, 44000, 42000, 42000, 21000, 42000, 42000]
# Ca I excited levels that ionise redward of 2550 A (NIST ASD energies, eV; statistical weights), used
# with a Kramers/hydrogenic cross-section with effective quantum number (documented approximation).
CA1_LEVELS = [(1.886, 9), (2.523, 15), (2.709, 5), (2.933, 3), (3.910, 3), (4.131, 9), (4.430, 15)]
# Excited levels of C I and Al I ionising redward of 2550 A (NIST ASD; E in eV, g), same treatment.
# (Their ground terms and the C I 2p2 1D/1S levels ionise below 2100 A, outside the CSST range.)
HYDROGENIC_LEVELS = ([(6, e, g) for e, g in [(7.482, 9), (7.685, 3), (8.537, 3), (8.640, 15), (8.771, 3),
                                             (8.848, 9), (9.002, 5)]]
                     + [(13, e, g) for e, g in [(3.143, 2), (4.021, 10), (4.085, 6), (4.673, 2), (4.827, 10),
                                                (5.107, 14)]]
                     + [(20, e, g) for e, g in CA1_LEVELS])


def _parse(block: str) -> np.ndarray:
    return np.array([[float(x) for x in row.split()] for row in block.strip().splitlines()])


def read_barklem(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Read a Barklem & Collet (2016) table: returns (T grid, {name: values})."""
    T = None
    out = {}
    with open(path) as fh:
        for line in fh:
            if line.startswith("# T [K]"):
                T = np.array([float(x) for x in line.split()[3:]])
            elif line.startswith("#") or not line.strip():
                continue
            else:
                parts = line.split()
                out[parts[0]] = np.array([float(x) for x in parts[1:]])
    if T is None:
        raise ValueError(f"{path}: no temperature header found")
    return T, out


def translational(mass_amu, T):
    return (2 * np.pi * mass_amu * AMU * K_B * T / H_P**2) ** 1.5


def h2o_log10_kn(T, U_H, U_O):
    """log10 K_n = n_H^2 n_O / n_H2O (cm^-6) for H2O from RRHO partition functions (Herzberg 1966)."""
    c = H2O_CONST
    kT_hc = K_B * T / (H_P * C_LIGHT)
    q_rot = np.sqrt(np.pi) / c["sigma"] * kT_hc**1.5 / np.sqrt(c["A"] * c["B"] * c["C"])
    q_vib = np.prod([1.0 / (1.0 - np.exp(-nu / kT_hc)) for nu in c["nu"]], axis=0)
    m_h, m_o = MASSES[0], MASSES[7]
    tr = translational(m_h, T) ** 2 * translational(m_o, T) / translational(2 * m_h + m_o, T)
    lnk = np.log(tr) + 2 * np.log(U_H) + np.log(U_O) - np.log(q_rot * q_vib) - c["D0"] * EV / (K_B * T)
    return lnk / np.log(10)


def build(shared: Path, out: Path) -> dict:
    tables = shared / "tables"
    for f in ("partition_funcs.h5", "BarklemCollet2016-equilibrium_constants.dat",
              "BarklemCollet2016-molecular_partition.dat", "BarklemCollet2016-ionization_energies.dat",
              "McLaughlin2017Hminusbf.dat", "vanHoof2014-nr-gauntff.dat",
              "Stehle-Hutchson-hydrogen-profiles.h5"):
        if not (tables / f).is_file():
            raise FileNotFoundError(f"missing source table {tables / f}")
    report = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    comp = dict(compression="gzip", compression_opts=9, shuffle=True)
    with h5py.File(out, "w") as h5:
        h5.attrs["title"] = "glocal built-in LTE engine physics tables"
        h5.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        h5.attrs["builder"] = "scripts/build_physics_data.py"
        h5.attrs["citations"] = (
            "Wheeler et al. 2023 AJ 165 68 (Korg, NIST partition functions); Barklem & Collet 2016 A&A 588 "
            "A96; McLaughlin et al. 2017 JPhysB 50 114001; van Hoof et al. 2014 MNRAS 444 420; Stehle & "
            "Hutcheon 1999 A&AS 140 93; Bell & Berrington 1987 JPhysB 20 801; Peach 1970 MmRAS 73 1; "
            "Kurucz 1970 SAO Spec Rep 309; Kurucz 1993 ATLAS9 CD-ROM 13")
        # ---- atoms
        g = h5.create_group("atoms")
        with h5py.File(tables / "partition_funcs.h5") as pf:
            U = np.ones((92, 3, 201))
            for z, el in enumerate(ELEMENTS):
                for s, roman in enumerate(("I", "II", "III")):
                    key = f"{el} {roman}"
                    if key in pf:
                        U[z, s] = pf[key][:]
        U[U <= 0] = 1.0
        g.create_dataset("log10_T", data=(0.025 * np.arange(201)).astype(np.float32))
        g.create_dataset("log10_U", data=np.log10(U).astype(np.float32), **comp)
        g["log10_U"].attrs["source"] = "Korg partition_funcs.h5 (NIST levels), T = 10**(0.025 i)"
        ion = np.full((92, 3), np.nan)
        for line in open(tables / "BarklemCollet2016-ionization_energies.dat"):
            if line.startswith("#") or not line.strip():
                continue
            p = line.split()
            z = int(p[0])
            if z <= 92:
                ion[z - 1] = [float(x) for x in p[2:5]]
        ion[ion < 0] = np.nan
        g.create_dataset("chi_eV", data=ion.astype(np.float32))
        g["chi_eV"].attrs["source"] = "Barklem & Collet 2016, first three ionisation energies (eV)"
        g.create_dataset("mass_amu", data=np.array(MASSES, dtype=np.float32))
        g.attrs["symbols"] = " ".join(ELEMENTS)
        # ---- molecules: log10 K_p (dyn cm^-2) on a fine log T grid, interpolated with a cubic spline in
        #      theta = 5040/T from the Barklem & Collet nodes (T >= 1000 K), linear in theta beyond 10^4 K
        Tb, logK = read_barklem(tables / "BarklemCollet2016-equilibrium_constants.dat")
        Tq, logQ = read_barklem(tables / "BarklemCollet2016-molecular_partition.dat")
        sel = Tb >= 1000
        log10_T = np.arange(np.log10(1000.0), np.log10(20000.0) + 1e-9, 0.004)
        Tf = 10**log10_T
        th_nodes = 5040.0 / Tb[sel]
        names = list(MOLECULES)
        lk = np.zeros((len(names) + 1, Tf.size))
        lq = np.zeros((len(names) + 1, Tf.size))
        loo = {}
        for i, name in enumerate(names):
            # Barklem & Collet tabulate log10 of K_p in SI (Pa); 1 Pa = 10 dyn cm^-2 per pressure factor
            vals = logK[name][sel] + 1.0
            spl = CubicSpline(th_nodes[::-1], vals[::-1])
            th = 5040.0 / Tf
            inside = th >= th_nodes.min()
            lk[i] = np.where(inside, spl(np.clip(th, th_nodes.min(), None)), 0)
            slope = (vals[-1] - vals[-2]) / (th_nodes[-1] - th_nodes[-2])
            lk[i, ~inside] = vals[-1] + slope * (th[~inside] - th_nodes[-1])
            qs = CubicSpline(np.log10(Tq[Tq >= 1000]), np.log10(logQ[name][Tq >= 1000]))
            lq[i] = qs(np.minimum(log10_T, np.log10(Tq.max()))) + np.where(
                log10_T > np.log10(Tq.max()), 0.0, 0.0)
            # leave-one-out interpolation error at the nodes inside 2500-10000 K
            errs = []
            for j in np.where((Tb[sel] >= 2500) & (Tb[sel] <= 10000))[0]:
                if j == 0 or j == sel.sum() - 1:
                    continue
                keep = np.ones(sel.sum(), bool)
                keep[j] = False
                s2 = CubicSpline(th_nodes[keep][::-1], vals[keep][::-1])
                errs.append(abs(float(s2(th_nodes[j])) - vals[j]))
            loo[name] = max(errs) if errs else 0.0
        # H2O from RRHO, stored as log10 K_p as well: K_p = K_n (kT)^(n_atoms-1)
        U_H = 10 ** np.interp(log10_T, 0.025 * np.arange(201), np.log10(U[0, 0]))
        U_O = 10 ** np.interp(log10_T, 0.025 * np.arange(201), np.log10(U[7, 0]))
        lk[-1] = h2o_log10_kn(Tf, U_H, U_O) + 2 * np.log10(K_B * Tf)
        c = H2O_CONST
        kT_hc = K_B * Tf / (H_P * C_LIGHT)
        lq[-1] = np.log10(np.sqrt(np.pi) / c["sigma"] * kT_hc**1.5 / np.sqrt(c["A"] * c["B"] * c["C"])
                          * np.prod([1 / (1 - np.exp(-nu / kT_hc)) for nu in c["nu"]], axis=0))
        names.append("H2O")
        comps = [" ".join(MOLECULES[n]) for n in names[:-1]] + ["H H O"]
        m = h5.create_group("molecules")
        m.attrs["names"] = " ".join(names)
        m.attrs["components"] = ";".join(comps)
        m.attrs["K_definition"] = ("K_p = prod(p_atoms)/p_molecule in dyn cm^-2 (H2+: p_H p_H+ / p_H2+); "
                                   "Barklem & Collet 2016 converted from Pa; H2O from RRHO (Herzberg 1966)")
        m.create_dataset("log10_T", data=log10_T.astype(np.float32))
        m.create_dataset("log10_Kp", data=lk.astype(np.float32), **comp)
        m.create_dataset("log10_Q", data=lq.astype(np.float32), **comp)
        report["logK_leave_one_out_max_dex"] = loo
        # ---- continuum
        cg = h5.create_group("continuum")
        d = np.loadtxt(tables / "McLaughlin2017Hminusbf.dat", comments="#")
        E, sig = d[:, 0], d[:, 1] * 1e-18
        keep = E <= 7.0
        E, sig = E[keep], sig[keep]
        Eg = np.concatenate([E[:40], np.geomspace(E[40], E[-1], 1200)])
        sg = np.interp(Eg, E, sig)
        report["hminus_bf_resample_max_rel_err"] = float(np.max(np.abs(np.interp(E, Eg, sg) - sig)
                                                                / np.maximum(sig, 1e-3 * sig.max())))
        hb = cg.create_dataset("hminus_bf", data=np.vstack([Eg, sg]).astype(np.float32), **comp)
        hb.attrs["rows"] = "photon energy (eV); cross-section (cm^2)"
        hb.attrs["source"] = "McLaughlin et al. 2017, resampled (E <= 7 eV)"
        bb = cg.create_dataset("hminus_ff_bell_berrington", data=_parse(BB_TABLE).astype(np.float32))
        bb.attrs["wave_A"] = np.array(BB_WAVE_A, dtype=np.float32)
        bb.attrs["theta"] = np.array(BB_THETA, dtype=np.float32)
        bb.attrs["units"] = "1e-26 cm^4 dyn^-1 per H atom (multiply by P_e n_HI), stimulated emission incl."
        bb.attrs["source"] = "Bell & Berrington 1987, J. Phys. B 20, 801, Table 1"
        rows = []
        for line in open(tables / "vanHoof2014-nr-gauntff.dat"):
            s = line.strip()
            if not s or s.startswith("#"):
                if rows and len(rows) >= 146:
                    break
                continue
            vals = s.split("#")[0].split()
            if len(vals) == 81:
                rows.append([float(x) for x in vals])
        gff = np.array(rows[:146])
        if gff.shape != (146, 81):
            raise ValueError(f"van Hoof table has shape {gff.shape}, expected (146, 81)")
        gd = cg.create_dataset("gaunt_ff_vanhoof", data=gff.astype(np.float32), **comp)
        gd.attrs["axes"] = "rows: log10 u = -16 + 0.2 i; columns: log10 gamma^2 = -6 + 0.2 j"
        gd.attrs["source"] = "van Hoof et al. 2014, non-relativistic thermally averaged Gaunt factors"
        mg = cg.create_dataset("mg1_peach_ln", data=_parse(MG1_LN).astype(np.float32))
        mg.attrs["wave_A"] = np.array(MG1_WAVE, dtype=np.float32)
        mg.attrs["T"] = np.array(MG1_T, dtype=np.float32)
        mg.attrs["source"] = "Peach 1970 via Kurucz 1970/1993 (ATLAS MG1OP): ln(sum g sigma e^-E/kT)"
        si = cg.create_dataset("si1_peach_negln", data=_parse(SI1_NEGLN).astype(np.float32))
        si.attrs["wave_A"] = np.array(SI1_WAVE, dtype=np.float32)
        si.attrs["T"] = np.array(SI1_T, dtype=np.float32)
        si.attrs["source"] = "Peach 1970 via Kurucz 1970/1993 (ATLAS SI1OP): -ln(sum g sigma e^-E/kT / 9)"
        fe = cg.create_dataset("fe1_pseudo_levels", data=np.array([FE1_G, FE1_E, FE1_W], np.float32))
        fe.attrs["rows"] = "g; E (cm-1); threshold wavenumber (cm-1)"
        fe.attrs["source"] = "Kurucz 1993 ATLAS9 FE1OP pseudo-levels"
        ca = cg.create_dataset("hydrogenic_levels", data=np.array(HYDROGENIC_LEVELS, np.float32))
        ca.attrs["columns"] = ("Z, E (eV), g of neutral C, Al, Ca excited levels (NIST ASD); used with "
                               "Kramers cross-sections and effective quantum numbers (approximation)")
        # ---- hydrogen Stark profiles (Balmer and Paschen series)
        hg = h5.create_group("hydrogen_stark")
        hg.attrs["source"] = "Stehle & Hutcheon 1999 (A&AS 140, 93), Korg repackaging; log10 profiles"
        with h5py.File(tables / "Stehle-Hutchson-hydrogen-profiles.h5") as sh:
            for key in sh:
                lo, up = (int(x) for x in key.split("_"))
                if lo not in (2, 3):
                    continue
                src = sh[key]
                dst = hg.create_group(key)
                for a in ("lower", "upper", "log_gf"):
                    dst.attrs[a] = src.attrs[a]
                dst.create_dataset("log10_dnu_over_F0",
                                   data=np.log10(np.maximum(src["delta_nu_over_F0"][:], 1e-30))
                                   .astype(np.float32))
                dst.create_dataset("log10_ne", data=np.log10(src["electron_number_densities"][:])
                                   .astype(np.float32))
                dst.create_dataset("log10_T", data=np.log10(src["temps"][:]).astype(np.float32))
                dst.create_dataset("lambda0", data=src["lambda0"][:].astype(np.float32))
                dst.create_dataset("log10_profile",
                                   data=np.log10(np.maximum(src["profile"][:], 1e-300)).clip(-99)
                                   .astype(np.float32), **comp)
    report["size_bytes"] = out.stat().st_size
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "glocal" / "data" / "physics_tables.h5")
    a = ap.parse_args(argv)
    rep = build(a.shared, a.out)
    for k, v in rep.items():
        print(k, v)
    if rep["size_bytes"] > 1.5e6:
        raise SystemExit(f"{a.out} is {rep['size_bytes']} bytes (> 1.5 MB)")


if __name__ == "__main__":
    main()
