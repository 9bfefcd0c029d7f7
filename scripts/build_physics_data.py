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
  H2+ bound-free/free-free fit (Kurucz 1970, SAO Spec. Rep. 309); He- free-free (Kurucz 1970);
  CH and OH photodissociation cross-sections (Kurucz, van Dishoeck & Tarafdar 1987, ApJ 322, 412; van
  Dishoeck & Dalgarno 1983, J. Chem. Phys. 79, 873) as tabulated in ATLAS9 (Kurucz 1993), 2-7 eV.

Two tables come from the data files shipped with the installed ``pysme`` package (SMElib, Piskunov &
Valenti 2017), read from its ``share/libsme`` directory (``--pysme-share``): the Fe I photoionisation
cross-sections of Zatsarinny et al. (2019, Phys. Rev. A 99, 023430; B-spline R-matrix, term-resolved)
and the NH photodissociation cross-sections of Stancil and collaborators. Their headers document the
processing; they are the tables SMElib itself uses.

H2O (not in Barklem & Collet, who treat diatomics only) gets a rigid-rotor/harmonic-oscillator
equilibrium constant from its rotational constants, vibrational fundamentals and atomisation energy
(Herzberg 1966; D0 = 9.511 eV, Ruscic et al. 2002).

Run: ``python scripts/build_physics_data.py [--shared ../shared/data] [--out glocal/data/physics_tables.h5]``.
Everything is stored float32 with gzip; the file must stay under 1.5 MB.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

import h5py
import numpy as np
from scipy.interpolate import CubicSpline

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from glocal.constants import C_CGS as C_LIGHT  # noqa: E402
from glocal.constants import EV_ERG as EV  # noqa: E402
from glocal.constants import H_CGS as H_P  # noqa: E402
from glocal.constants import K_BOLTZMANN as K_B  # noqa: E402
from glocal.elements import ELEMENTS as _ELEMENTS  # noqa: E402

#: The chemistry's elements, Z = 1…92 (H … U), from the package's element table.
ELEMENTS = _ELEMENTS[:92]
#: Atomic mass constant (g) as the committed tables were built with it: CODATA 2018 m_u rounded to 9
#: figures.  glocal.constants.AMU (1.66053906660e-24) moves one stored float32 value, H2O's log10 K_p at
#: one temperature, by one unit in the last place (7.5e-9 dex), so the rounded value stays for ``make data``
#: to rebuild the file identically.
AMU = 1.66053907e-24
# Standard atomic weights of Z = 1…92 in amu, as stored in the tables (``atoms/mass_amu``): IUPAC 2013
# (Meija et al. 2016, Pure Appl. Chem. 88, 265) in their abridged form (at most five significant
# figures), mass number of the most stable isotope for radioactive elements (Tc 98).  These are the
# data of the committed file and the built-in engine reads them from it; glocal.elements.ATOMIC_MASSES
# rounds differently (30 of the 92 differ in float32, e.g. He 4.003, Tc 97), so using it here would
# change the file and the engine's output.
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

# Kurucz (1993, ATLAS9/12) CH and OH photodissociation cross-sections, rows of log10(sigma / cm^2) on a
# 0.1 eV photon-energy grid (first row given by *_E0) for T = 2000, 2500, ..., 9000 K (15 columns); the
# LTE-averaged cross-section per molecule times Kurucz's partition function Q_K (KUR_*_PART, T = 1000,
# 1200, ..., 9000 K) is the Boltzmann sum over the molecule's states (ATLAS CHOP/OHOP). CH: Kurucz, van
# Dishoeck & Tarafdar (1987, ApJ 322, 412); OH: van Dishoeck & Dalgarno (1983, J. Chem. Phys. 79, 873)
# as extended by Kurucz (1993). Only photon energies 2.0 (CH) / 2.1 (OH) to 7.0 eV (1771-6199 A) are kept.
KUR_CH_E0 = 2.0
KUR_CH_LOG10 = """
-24.086 -23.222 -22.650 -22.246 -21.948 -21.722 -21.546 -21.407 -21.296 -21.205 -21.131 -21.070 -21.018 -20.974 -20.937
-23.850 -23.018 -22.472 -22.088 -21.805 -21.590 -21.422 -21.289 -21.182 -21.095 -21.024 -20.964 -20.914 -20.872 -20.835
-23.136 -22.445 -21.994 -21.676 -21.440 -21.259 -21.117 -21.004 -20.912 -20.837 -20.775 -20.723 -20.679 -20.642 -20.611
-23.199 -22.433 -21.927 -21.573 -21.314 -21.119 -20.969 -20.851 -20.758 -20.682 -20.621 -20.571 -20.529 -20.493 -20.463
-22.696 -22.020 -21.585 -21.286 -21.071 -20.912 -20.791 -20.697 -20.622 -20.563 -20.514 -20.475 -20.442 -20.414 -20.391
-22.119 -21.557 -21.194 -20.943 -20.761 -20.624 -20.518 -20.434 -20.367 -20.313 -20.268 -20.231 -20.201 -20.175 -20.153
-21.855 -21.300 -20.931 -20.673 -20.485 -20.344 -20.235 -20.151 -20.084 -20.031 -19.988 -19.953 -19.924 -19.900 -19.880
-21.126 -20.673 -20.382 -20.184 -20.044 -19.943 -19.868 -19.811 -19.769 -19.736 -19.710 -19.690 -19.674 -19.662 -19.652
-20.502 -20.150 -19.922 -19.766 -19.657 -19.578 -19.520 -19.478 -19.446 -19.422 -19.404 -19.390 -19.379 -19.371 -19.365
-20.030 -19.724 -19.530 -19.399 -19.309 -19.245 -19.199 -19.166 -19.142 -19.125 -19.112 -19.103 -19.096 -19.091 -19.088
-19.640 -19.364 -19.189 -19.074 -18.996 -18.943 -18.906 -18.881 -18.863 -18.852 -18.844 -18.839 -18.837 -18.836 -18.836
-19.333 -19.092 -18.939 -18.838 -18.770 -18.725 -18.695 -18.675 -18.662 -18.655 -18.651 -18.649 -18.649 -18.651 -18.653
-19.070 -18.880 -18.756 -18.674 -18.621 -18.585 -18.562 -18.548 -18.540 -18.536 -18.536 -18.537 -18.539 -18.542 -18.546
-18.851 -18.708 -18.617 -18.558 -18.521 -18.498 -18.484 -18.477 -18.475 -18.476 -18.478 -18.482 -18.487 -18.493 -18.498
-18.709 -18.599 -18.533 -18.494 -18.471 -18.459 -18.454 -18.454 -18.457 -18.462 -18.469 -18.476 -18.483 -18.490 -18.498
-18.656 -18.572 -18.524 -18.497 -18.485 -18.480 -18.482 -18.486 -18.493 -18.501 -18.510 -18.519 -18.527 -18.536 -18.544
-18.670 -18.613 -18.582 -18.566 -18.561 -18.562 -18.568 -18.575 -18.583 -18.592 -18.601 -18.610 -18.619 -18.627 -18.635
-18.728 -18.700 -18.687 -18.683 -18.685 -18.691 -18.698 -18.706 -18.715 -18.723 -18.731 -18.739 -18.745 -18.752 -18.758
-18.839 -18.835 -18.836 -18.842 -18.849 -18.857 -18.865 -18.872 -18.878 -18.883 -18.888 -18.892 -18.895 -18.898 -18.900
-19.034 -19.041 -19.049 -19.057 -19.064 -19.069 -19.071 -19.071 -19.070 -19.068 -19.065 -19.061 -19.058 -19.054 -19.051
-19.372 -19.378 -19.382 -19.380 -19.372 -19.359 -19.341 -19.321 -19.300 -19.280 -19.261 -19.243 -19.227 -19.212 -19.199
-19.780 -19.777 -19.763 -19.732 -19.686 -19.631 -19.573 -19.517 -19.465 -19.419 -19.379 -19.344 -19.314 -19.288 -19.265
-20.151 -20.133 -20.087 -20.009 -19.911 -19.810 -19.715 -19.631 -19.559 -19.497 -19.446 -19.402 -19.365 -19.333 -19.306
-20.525 -20.454 -20.312 -20.138 -19.970 -19.825 -19.705 -19.607 -19.528 -19.464 -19.411 -19.367 -19.330 -19.300 -19.274
-20.869 -20.655 -20.366 -20.104 -19.894 -19.731 -19.604 -19.505 -19.426 -19.363 -19.312 -19.271 -19.236 -19.208 -19.184
-21.179 -20.768 -20.380 -20.081 -19.856 -19.686 -19.556 -19.454 -19.375 -19.311 -19.260 -19.218 -19.184 -19.155 -19.131
-21.167 -20.601 -20.206 -19.925 -19.719 -19.565 -19.447 -19.355 -19.283 -19.226 -19.180 -19.143 -19.112 -19.087 -19.066
-20.918 -20.348 -19.976 -19.720 -19.536 -19.401 -19.299 -19.220 -19.159 -19.112 -19.073 -19.043 -19.018 -18.998 -18.981
-20.753 -20.204 -19.847 -19.602 -19.427 -19.299 -19.203 -19.129 -19.072 -19.028 -18.993 -18.965 -18.942 -18.924 -18.909
-20.456 -19.987 -19.677 -19.460 -19.302 -19.186 -19.098 -19.030 -18.978 -18.937 -18.904 -18.878 -18.857 -18.841 -18.827
-20.154 -19.734 -19.461 -19.272 -19.136 -19.035 -18.960 -18.902 -18.858 -18.824 -18.797 -18.775 -18.759 -18.745 -18.735
-19.941 -19.544 -19.288 -19.114 -18.992 -18.903 -18.837 -18.788 -18.751 -18.723 -18.701 -18.684 -18.671 -18.661 -18.654
-19.657 -19.321 -19.104 -18.956 -18.853 -18.779 -18.724 -18.684 -18.655 -18.632 -18.615 -18.602 -18.592 -18.585 -18.579
-19.388 -19.109 -18.930 -18.810 -18.725 -18.664 -18.620 -18.586 -18.562 -18.543 -18.529 -18.518 -18.510 -18.503 -18.498
-19.201 -18.953 -18.794 -18.686 -18.611 -18.556 -18.515 -18.485 -18.462 -18.446 -18.433 -18.423 -18.416 -18.410 -18.406
-18.923 -18.719 -18.588 -18.500 -18.439 -18.396 -18.365 -18.344 -18.328 -18.318 -18.311 -18.307 -18.304 -18.303 -18.302
-18.614 -18.458 -18.361 -18.298 -18.258 -18.232 -18.216 -18.206 -18.202 -18.201 -18.202 -18.205 -18.208 -18.213 -18.218
-18.419 -18.295 -18.222 -18.178 -18.153 -18.139 -18.132 -18.131 -18.133 -18.138 -18.143 -18.150 -18.157 -18.164 -18.172
-18.296 -18.201 -18.148 -18.118 -18.101 -18.094 -18.091 -18.093 -18.096 -18.101 -18.107 -18.113 -18.120 -18.126 -18.132
-18.021 -17.992 -17.977 -17.970 -17.967 -17.968 -17.970 -17.974 -17.978 -17.983 -17.989 -17.994 -18.000 -18.005 -18.011
-17.694 -17.686 -17.686 -17.691 -17.698 -17.708 -17.718 -17.729 -17.740 -17.750 -17.761 -17.771 -17.781 -17.790 -17.798
-17.374 -17.384 -17.400 -17.420 -17.440 -17.462 -17.483 -17.503 -17.523 -17.541 -17.558 -17.575 -17.590 -17.603 -17.616
-17.169 -17.199 -17.230 -17.262 -17.293 -17.323 -17.351 -17.378 -17.404 -17.427 -17.449 -17.469 -17.488 -17.505 -17.520
-17.151 -17.184 -17.217 -17.250 -17.282 -17.313 -17.342 -17.369 -17.395 -17.418 -17.440 -17.461 -17.480 -17.497 -17.513
-17.230 -17.260 -17.290 -17.320 -17.348 -17.375 -17.401 -17.425 -17.448 -17.469 -17.489 -17.508 -17.525 -17.541 -17.556
-17.379 -17.403 -17.425 -17.446 -17.467 -17.486 -17.505 -17.524 -17.541 -17.558 -17.574 -17.588 -17.602 -17.615 -17.627
-17.596 -17.604 -17.609 -17.612 -17.616 -17.622 -17.628 -17.636 -17.644 -17.652 -17.661 -17.670 -17.679 -17.687 -17.695
-17.846 -17.823 -17.795 -17.770 -17.750 -17.735 -17.725 -17.719 -17.716 -17.715 -17.716 -17.719 -17.722 -17.726 -17.730
-18.089 -18.015 -17.942 -17.882 -17.836 -17.802 -17.777 -17.760 -17.748 -17.740 -17.736 -17.734 -17.733 -17.734 -17.736
-18.299 -18.156 -18.038 -17.947 -17.881 -17.833 -17.798 -17.774 -17.757 -17.745 -17.738 -17.733 -17.730 -17.729 -17.729
-18.441 -18.243 -18.096 -17.991 -17.915 -17.860 -17.821 -17.792 -17.772 -17.757 -17.746 -17.738 -17.733 -17.730 -17.728
"""
KUR_CH_PART = [203.741, 249.643, 299.341, 353.477, 412.607, 477.237, 547.817, 624.786, 708.543, 799.463,
               897.912, 1004.227, 1118.738, 1241.761, 1373.588, 1514.481, 1664.677, 1824.394, 1993.801,
               2173.050, 2362.234, 2561.424, 2770.674, 2989.930, 3219.204, 3458.378, 3707.355, 3966.005,
               4234.155, 4511.604, 4798.135, 5093.554, 5397.593, 5709.948, 6030.401, 6358.646, 6694.379,
               7037.313, 7387.147, 7743.579, 8106.313]
KUR_OH_E0 = 2.1
KUR_OH_LOG10 = """
-30.855 -29.121 -27.976 -27.166 -26.566 -26.106 -25.742 -25.448 -25.207 -25.006 -24.836 -24.691 -24.566 -24.457 -24.363
-30.494 -28.760 -27.615 -26.806 -26.206 -25.745 -25.381 -25.088 -24.846 -24.645 -24.475 -24.330 -24.205 -24.097 -24.002
-30.157 -28.425 -27.280 -26.472 -25.872 -25.411 -25.048 -24.754 -24.513 -24.312 -24.142 -23.997 -23.872 -23.764 -23.669
-29.848 -28.117 -26.974 -26.165 -25.566 -25.105 -24.742 -24.448 -24.207 -24.006 -23.836 -23.692 -23.567 -23.458 -23.364
-29.567 -27.837 -26.693 -25.885 -25.286 -24.826 -24.462 -24.169 -23.928 -23.727 -23.557 -23.412 -23.287 -23.179 -23.084
-29.307 -27.578 -26.436 -25.628 -25.029 -24.569 -24.205 -23.912 -23.671 -23.470 -23.300 -23.155 -23.031 -22.922 -22.828
-29.068 -27.341 -26.199 -25.391 -24.792 -24.332 -23.969 -23.676 -23.435 -23.234 -23.064 -22.920 -22.795 -22.687 -22.592
-28.820 -27.115 -25.978 -25.172 -24.574 -24.115 -23.752 -23.459 -23.218 -23.017 -22.848 -22.703 -22.579 -22.470 -22.376
-28.540 -26.891 -25.768 -24.968 -24.372 -23.914 -23.552 -23.259 -23.019 -22.818 -22.649 -22.504 -22.380 -22.272 -22.177
-28.275 -26.681 -25.574 -24.779 -24.186 -23.729 -23.368 -23.076 -22.836 -22.636 -22.467 -22.322 -22.198 -22.090 -21.996
-27.993 -26.470 -25.388 -24.602 -24.014 -23.560 -23.200 -22.909 -22.669 -22.470 -22.301 -22.157 -22.033 -21.925 -21.831
-27.698 -26.252 -25.204 -24.433 -23.851 -23.401 -23.043 -22.754 -22.515 -22.316 -22.148 -22.005 -21.881 -21.773 -21.679
-27.398 -26.026 -25.019 -24.267 -23.696 -23.251 -22.896 -22.609 -22.372 -22.174 -22.007 -21.864 -21.741 -21.634 -21.540
-27.100 -25.791 -24.828 -24.102 -23.543 -23.106 -22.756 -22.472 -22.238 -22.041 -21.875 -21.733 -21.611 -21.504 -21.411
-26.807 -25.549 -24.631 -23.933 -23.391 -22.964 -22.621 -22.341 -22.109 -21.915 -21.751 -21.610 -21.488 -21.383 -21.290
-26.531 -25.310 -24.431 -23.761 -23.238 -22.823 -22.488 -22.214 -21.986 -21.795 -21.633 -21.494 -21.374 -21.269 -21.178
-26.239 -25.066 -24.225 -23.585 -23.082 -22.681 -22.356 -22.089 -21.866 -21.679 -21.520 -21.383 -21.265 -21.162 -21.072
-25.945 -24.824 -24.017 -23.405 -22.923 -22.538 -22.223 -21.964 -21.748 -21.565 -21.410 -21.276 -21.160 -21.059 -20.970
-25.663 -24.587 -23.810 -23.222 -22.761 -22.391 -22.088 -21.838 -21.629 -21.452 -21.300 -21.170 -21.057 -20.958 -20.872
-25.372 -24.350 -23.603 -23.038 -22.596 -22.241 -21.950 -21.710 -21.508 -21.337 -21.190 -21.064 -20.954 -20.858 -20.774
-25.076 -24.111 -23.396 -22.853 -22.429 -22.088 -21.809 -21.578 -21.384 -21.220 -21.078 -20.957 -20.851 -20.758 -20.676
-24.779 -23.870 -23.189 -22.669 -22.261 -21.934 -21.667 -21.445 -21.259 -21.101 -20.965 -20.848 -20.746 -20.656 -20.578
-24.486 -23.629 -22.983 -22.486 -22.095 -21.781 -21.524 -21.311 -21.132 -20.980 -20.850 -20.737 -20.639 -20.553 -20.478
-24.183 -23.382 -22.774 -22.302 -21.928 -21.627 -21.381 -21.177 -21.005 -20.859 -20.734 -20.625 -20.531 -20.449 -20.376
-23.867 -23.127 -22.561 -22.116 -21.761 -21.474 -21.238 -21.043 -20.878 -20.738 -20.617 -20.513 -20.423 -20.344 -20.274
-23.538 -22.862 -22.340 -21.926 -21.592 -21.320 -21.096 -20.909 -20.751 -20.617 -20.502 -20.402 -20.315 -20.239 -20.172
-23.234 -22.604 -22.120 -21.734 -21.422 -21.166 -20.953 -20.776 -20.625 -20.497 -20.387 -20.291 -20.208 -20.135 -20.071
-22.934 -22.347 -21.898 -21.541 -21.250 -21.010 -20.811 -20.643 -20.500 -20.378 -20.273 -20.182 -20.102 -20.033 -19.971
-22.637 -22.092 -21.676 -21.345 -21.075 -20.853 -20.666 -20.508 -20.374 -20.259 -20.159 -20.073 -19.997 -19.931 -19.872
-22.337 -21.835 -21.452 -21.147 -20.899 -20.693 -20.520 -20.373 -20.247 -20.139 -20.046 -19.964 -19.892 -19.830 -19.774
-22.049 -21.584 -21.230 -20.950 -20.721 -20.531 -20.372 -20.236 -20.119 -20.019 -19.931 -19.855 -19.788 -19.729 -19.676
-21.768 -21.337 -21.011 -20.754 -20.544 -20.370 -20.223 -20.098 -19.991 -19.898 -19.817 -19.746 -19.683 -19.628 -19.579
-21.494 -21.096 -20.796 -20.559 -20.367 -20.208 -20.074 -19.960 -19.861 -19.776 -19.701 -19.636 -19.578 -19.527 -19.482
-21.233 -20.861 -20.585 -20.368 -20.193 -20.048 -19.926 -19.821 -19.732 -19.654 -19.586 -19.526 -19.473 -19.426 -19.384
-20.983 -20.635 -20.380 -20.181 -20.021 -19.889 -19.778 -19.683 -19.602 -19.531 -19.469 -19.415 -19.367 -19.324 -19.286
-20.743 -20.418 -20.182 -19.999 -19.853 -19.733 -19.633 -19.547 -19.474 -19.410 -19.354 -19.305 -19.261 -19.223 -19.189
-20.515 -20.210 -19.991 -19.824 -19.690 -19.581 -19.490 -19.413 -19.347 -19.290 -19.240 -19.196 -19.157 -19.122 -19.092
-20.297 -20.011 -19.808 -19.654 -19.532 -19.434 -19.352 -19.282 -19.223 -19.172 -19.127 -19.088 -19.054 -19.023 -18.996
-20.090 -19.822 -19.633 -19.491 -19.381 -19.291 -19.218 -19.156 -19.103 -19.057 -19.018 -18.983 -18.952 -18.925 -18.901
-19.893 -19.642 -19.467 -19.337 -19.236 -19.155 -19.089 -19.034 -18.987 -18.946 -18.912 -18.881 -18.854 -18.831 -18.810
-19.705 -19.472 -19.309 -19.190 -19.098 -19.025 -18.966 -18.917 -18.876 -18.840 -18.810 -18.783 -18.760 -18.739 -18.721
-19.527 -19.310 -19.161 -19.051 -18.968 -18.903 -18.851 -18.807 -18.771 -18.740 -18.713 -18.690 -18.670 -18.653 -18.637
-19.357 -19.159 -19.022 -18.922 -18.847 -18.789 -18.743 -18.704 -18.673 -18.646 -18.623 -18.603 -18.586 -18.571 -18.558
-19.195 -19.016 -18.892 -18.803 -18.736 -18.684 -18.643 -18.610 -18.583 -18.560 -18.540 -18.523 -18.509 -18.496 -18.485
-19.042 -18.883 -18.772 -18.693 -18.634 -18.589 -18.553 -18.525 -18.501 -18.481 -18.465 -18.451 -18.438 -18.428 -18.419
-18.894 -18.758 -18.662 -18.593 -18.542 -18.503 -18.473 -18.448 -18.428 -18.412 -18.398 -18.386 -18.376 -18.367 -18.359
-18.752 -18.639 -18.559 -18.501 -18.458 -18.426 -18.400 -18.380 -18.363 -18.350 -18.338 -18.328 -18.320 -18.313 -18.306
-18.611 -18.523 -18.460 -18.415 -18.381 -18.355 -18.334 -18.318 -18.304 -18.293 -18.284 -18.276 -18.269 -18.263 -18.258
-18.471 -18.408 -18.362 -18.329 -18.304 -18.285 -18.269 -18.257 -18.247 -18.238 -18.231 -18.224 -18.219 -18.214 -18.210
-18.330 -18.290 -18.261 -18.239 -18.223 -18.211 -18.201 -18.192 -18.185 -18.179 -18.174 -18.169 -18.165 -18.162 -18.159
"""
KUR_OH_PART = [145.979, 178.033, 211.618, 247.053, 284.584, 324.398, 366.639, 411.425, 458.854, 509.012,
               561.976, 617.823, 676.626, 738.448, 803.363, 871.437, 942.735, 1017.330, 1095.284, 1176.654,
               1261.510, 1349.898, 1441.875, 1537.483, 1636.753, 1739.733, 1846.434, 1956.883, 2071.080,
               2189.029, 2310.724, 2436.155, 2565.283, 2698.103, 2834.571, 2974.627, 3118.242, 3265.366,
               3415.912, 3569.837, 3727.077]

PYSME_FE1_FILE = "Fe1_Zatsarinny2019.dat.INTEL"
PYSME_NH_FILE = "NH_Stancil2018.dat.INTEL"
FE1_WN_MAX = 56000.0  # cm^-1: keep the Fe I table up to 1786 A (the engine starts at 1823 A)
NH_WAVE = (1800.0, 5200.0)  # A: NH table range kept (the source ends at 5200 A)
NH_BIN = 2  # source points (1 A each) averaged per stored point


def pysme_share() -> Path:
    """Directory of the data files shipped inside the installed ``pysme`` package (SMElib's tables)."""
    import importlib.util
    spec = importlib.util.find_spec("pysme")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the pysme package (pysme-astro) is needed for the Fe I and NH tables")
    return Path(list(spec.submodule_search_locations)[0]) / "share" / "libsme"


def _read_header(buf: bytes) -> tuple[str, int]:
    n = int(np.frombuffer(buf[:4], "<i4")[0])
    return buf[4:4 + n].split(b"\0")[0].decode("latin1"), 4 + n


def read_fe1_rmatrix(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Fe I term-resolved photoionisation cross-sections of Zatsarinny, Bartschat, Fernandez-Menchero &
    Tayal (2019, Phys. Rev. A 99, 023430; B-spline R-matrix) as packaged for SMElib (J. Valenti 2022:
    NIST energies for the 44 LS terms, Gaussian-smoothed with sigma/wn = 0.01, 100 cm^-1 grid).
    Returns (term energies eV (n_term,), wavenumbers cm^-1 (nw,), g*sigma cm^2 (n_term, nw), delta)."""
    buf = path.read_bytes()
    head, o = _read_header(buf)
    if "Fe 1 photoionization" not in head:
        raise ValueError(f"{path} is not an SMElib Fe I photoionisation table")
    delta = float(np.frombuffer(buf[o:o + 4], "<f4")[0])
    o += 4
    ne = int(np.frombuffer(buf[o:o + 4], "<i4")[0])
    o += 4
    E = np.frombuffer(buf[o:o + 8 * ne], "<f8").copy()
    o += 8 * ne
    nw = int(np.frombuffer(buf[o:o + 4], "<i4")[0])
    o += 4
    wn0, dwn = np.frombuffer(buf[o:o + 16], "<f8")
    o += 16
    gs = np.frombuffer(buf[o:o + 8 * ne * nw], "<f8")
    if gs.size != ne * nw:
        raise ValueError(f"{path}: truncated")
    return E, wn0 + dwn * np.arange(nw), gs.reshape(nw, ne).T.copy(), delta  # Fortran order [ne, nw]


def read_nh_stancil(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NH photodissociation cross-sections per molecule (LTE level populations: sigma x Boltzmann factor x
    g / Q summed over levels) of Stancil and collaborators (Shen et al., ApJ, as packaged for SMElib,
    2018): three electronic transitions (the third stored as log10). Returns (T (15,), wavelength A
    (nw,), summed cross-section cm^2 (15, nw))."""
    buf = path.read_bytes()
    head, o = _read_header(buf)
    if "NH photo" not in head:
        raise ValueError(f"{path} is not the Stancil NH table")
    o += 4  # FWHM of the smoothing kernel (km/s)
    ntr, nt, nw = (int(x) for x in np.frombuffer(buf[o:o + 12], "<i4"))
    o += 12
    w0, dw = np.frombuffer(buf[o:o + 16], "<f8")
    o += 16
    T = np.frombuffer(buf[o:o + 4 * nt], "<f4").astype(float)
    o += 4 * nt
    d = np.frombuffer(buf[o:o + 8 * ntr * nt * nw], "<f8").reshape(nw, nt, ntr)  # Fortran [3, 15, nw]
    sig = d[:, :, 0] + d[:, :, 1] + 10.0 ** d[:, :, 2]
    return T, w0 + dw * np.arange(nw), sig.T.copy()


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


def build(shared: Path, out: Path, pysme_dir: Path | None = None) -> dict:
    tables = shared / "tables"
    pysme_dir = Path(pysme_dir) if pysme_dir is not None else pysme_share()
    for f in (PYSME_FE1_FILE, PYSME_NH_FILE):
        if not (pysme_dir / f).is_file():
            raise FileNotFoundError(f"missing source table {pysme_dir / f}")
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
        h5.attrs["created"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        h5.attrs["builder"] = "scripts/build_physics_data.py"
        h5.attrs["citations"] = (
            "Wheeler et al. 2023 AJ 165 68 (Korg, NIST partition functions); Barklem & Collet 2016 A&A 588 "
            "A96; McLaughlin et al. 2017 JPhysB 50 114001; van Hoof et al. 2014 MNRAS 444 420; Stehle & "
            "Hutcheon 1999 A&AS 140 93; Bell & Berrington 1987 JPhysB 20 801; Peach 1970 MmRAS 73 1; "
            "Kurucz 1970 SAO Spec Rep 309; Kurucz 1993 ATLAS9 CD-ROM 13; Zatsarinny et al. 2019 PRA 99 "
            "023430 (Fe I); Kurucz, van Dishoeck & Tarafdar 1987 ApJ 322 412 (CH); van Dishoeck & "
            "Dalgarno 1983 (OH); Stancil et al. (NH, via SMElib)")
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
        E_fe, wn_fe, gs_fe, delta_fe = read_fe1_rmatrix(pysme_dir / PYSME_FE1_FILE)
        keep = wn_fe <= FE1_WN_MAX
        fe = cg.create_dataset("fe1_zatsarinny2019", data=gs_fe[:, keep].astype(np.float32), **comp)
        fe.attrs["term_E_eV"] = E_fe
        fe.attrs["wavenumber_cm"] = wn_fe[keep]
        fe.attrs["rows"] = "LS terms of Fe I; values g*sigma (cm^2) on the wavenumber grid"
        fe.attrs["smoothing"] = f"Gaussian, sigma/wavenumber = {delta_fe}"
        fe.attrs["source"] = ("Zatsarinny et al. 2019 (PRA 99, 023430) Fe I photoionisation (data by A. "
                              "Amarsi), as packaged for SMElib by J. Valenti (pysme share/libsme/"
                              + PYSME_FE1_FILE + ")")
        T_nh, w_nh, s_nh = read_nh_stancil(pysme_dir / PYSME_NH_FILE)
        sel = (w_nh >= NH_WAVE[0]) & (w_nh < NH_WAVE[1])
        nb = sel.sum() // NH_BIN
        s_sel = s_nh[:, sel][:, :nb * NH_BIN].reshape(len(T_nh), nb, NH_BIN).mean(axis=2)
        w_sel = w_nh[sel][:nb * NH_BIN].reshape(nb, NH_BIN).mean(axis=1)
        nh = cg.create_dataset("nh_stancil", data=np.log10(np.maximum(s_sel, 1e-40)).astype(np.float32), **comp)
        nh.attrs["T"] = T_nh
        nh.attrs["wave_A"] = w_sel
        nh.attrs["units"] = f"log10 cross-section per NH molecule (cm^2), LTE levels, mean over {NH_BIN} A"
        nh.attrs["source"] = ("Stancil et al. NH photodissociation (Shen, Kuri, Fontenla, Stancil & Wang), "
                              "as packaged for SMElib (pysme share/libsme/" + PYSME_NH_FILE + ")")
        for name, block, e0, part, ref in (
                ("ch_kurucz", KUR_CH_LOG10, KUR_CH_E0, KUR_CH_PART, "Kurucz, van Dishoeck & Tarafdar 1987"),
                ("oh_kurucz", KUR_OH_LOG10, KUR_OH_E0, KUR_OH_PART, "van Dishoeck & Dalgarno 1983")):
            tab = _parse(block)
            dm = cg.create_dataset(name, data=tab.astype(np.float32))
            dm.attrs["E_eV"] = (e0 + 0.1 * np.arange(tab.shape[0])).astype(np.float32)
            dm.attrs["T"] = np.arange(2000.0, 9001.0, 500.0).astype(np.float32)
            dm.attrs["partition_T"] = np.arange(1000.0, 9001.0, 200.0).astype(np.float32)
            dm.attrs["partition"] = np.array(part, np.float32)
            dm.attrs["units"] = "log10 LTE-averaged cross-section per molecule (cm^2); Kurucz partition fn"
            dm.attrs["source"] = f"{ref}, as tabulated by Kurucz 1993 (ATLAS9 CHOP/OHOP)"
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
    ap.add_argument("--pysme-share", type=Path, default=None,
                    help="directory with SMElib's Fe1_Zatsarinny2019/NH_Stancil2018 files (default: installed pysme)")
    a = ap.parse_args(argv)
    rep = build(a.shared, a.out, a.pysme_share)
    for k, v in rep.items():
        print(k, v)
    if rep["size_bytes"] > 1.5e6:
        raise SystemExit(f"{a.out} is {rep['size_bytes']} bytes (> 1.5 MB)")


if __name__ == "__main__":
    main()
