"""Chemical equilibrium of the built-in engine: conservation laws, Saha limit, Barklem & Collet
equilibrium constants against statistical mechanics, and ATLAS9 electron densities."""
import numpy as np
import pytest

from glocal.atmospheres import read_atmospheres
from glocal.constants import AMU, H_CGS, K_EV
from glocal.constants import K_BOLTZMANN as K_CGS
from glocal.synthesis.builtin.chemistry import (
    atomic_partition_functions,
    molecular_constants,
    parse_species,
    saha_factors,
    solve_chemistry,
)
from glocal.synthesis.builtin.tables import load_tables

KURUCZ = "atmospheres/kurucz1993/am20k2.dat"


def _model(shared_data, teff=5000, logg=4.5):
    return next(m for m in read_atmospheres(shared_data / KURUCZ) if m.teff == teff and m.logg == logg)


def test_saha_hydrogen_matches_formula():
    T = np.array([4000.0, 6000.0, 9000.0])
    U = atomic_partition_functions(T)
    phi1, _ = saha_factors(T, U)
    direct = (2 * np.pi * 9.1093837015e-28 * K_CGS * T / H_CGS**2) ** 1.5 * np.exp(-13.5984 / (K_EV * T))
    # 2 U(H II)/U(H I) = 2 * 1 / 2 = 1 at these temperatures
    assert np.allclose(phi1[0], direct, rtol=1e-3)


@pytest.mark.parametrize("mol, d0, atoms", [("H2", 4.4781, ("H", "H")), ("CO", 11.092, ("C", "O")),
                                            ("OH", 4.392, ("O", "H")), ("CH", 3.465, ("C", "H"))])
def test_equilibrium_constants_vs_statistical_mechanics(mol, d0, atoms):
    """Saha-like dissociation law K_n = prod[(2 pi m kT/h^2)^1.5 U] / [(2 pi M kT/h^2)^1.5 Q] e^{-D0/kT}
    with atomic U (NIST) and molecular Q (Barklem & Collet): the D0 implied by the tabulated K must be
    constant over 2500-10000 K (checks units, interpolation and the K/Q consistency) and agree with the
    spectroscopic D0 of Huber & Herzberg (1979) within 0.03 eV."""
    tab = load_tables()
    T = np.linspace(2500.0, 10000.0, 16)
    names, comps, lnKn, Q = molecular_constants(T)
    i = names.index(mol)
    U = atomic_partition_functions(T)
    z = {"H": 0, "C": 5, "O": 7}
    m = [tab["mass_amu"][z[a]] for a in atoms]

    def tr(mass):
        return (2 * np.pi * mass * AMU * K_CGS * T / H_CGS**2) ** 1.5

    base = (np.log(tr(m[0]) * tr(m[1]) / tr(sum(m))) + np.log(U[z[atoms[0]], 0] * U[z[atoms[1]], 0])
            - np.log(Q[i]))
    d0_implied = (base - lnKn[i]) * K_EV * T
    assert np.ptp(d0_implied) < 2e-3
    assert abs(np.mean(d0_implied) - d0) < 0.03


def test_conservation_and_neutrality(shared_data):
    atm = _model(shared_data)
    A = np.tile(atm.abundances[:92], (3, 1))
    A[1, 7] += 1.0
    A[2, 11] += 1.0
    ch = solve_chemistry(atm.T, atm.P, A, ne_guess=atm.xne)
    eps = 10 ** (A - 12)
    tot_atoms = ch.n_atoms.sum(axis=2)  # (nv, 92, nd)
    tab = load_tables()
    mol_count = np.zeros_like(tot_atoms)
    for k, comp in enumerate(tab["mol_components"]):
        for a in comp:
            zz = ["H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl",
                  "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe"].index(a.rstrip("+"))
            mol_count[:, zz] += ch.n_mol[:, k]
    mol_count[:, 0] += ch.n_Hminus
    for z in (0, 5, 7, 11, 25):  # H, C, O, Mg, Fe
        assert np.allclose(tot_atoms[:, z] + mol_count[:, z], eps[:, z, None] * ch.N_H, rtol=1e-7)
    charge = (ch.n_atoms[:, :, 1] + 2 * ch.n_atoms[:, :, 2]).sum(axis=1) - ch.n_Hminus
    charge += ch.n_mol[:, ch.mol_index["H2+"]]
    assert np.allclose(charge, ch.ne, rtol=1e-6)
    particles = tot_atoms.sum(axis=1) + ch.n_mol.sum(axis=1) + ch.n_Hminus + ch.ne
    assert np.allclose(particles, atm.P / (K_CGS * atm.T), rtol=1e-7)
    # Mg is the main electron donor at [Fe/H] = -2: +1 dex Mg raises n_e in the upper layers
    assert ch.ne[2, 10] > 2 * ch.ne[0, 10]
    # +1 dex O raises OH by 10-17x (more when part of the base O was locked in CO), and the mass-action
    # law n(OH) / (n(O I) n(H I)) = 1/K(T) is the same for both variants
    r = ch.density("OH")[1, 40] / ch.density("OH")[0, 40]
    assert 8 < r < 17
    k0 = ch.density("OH")[0] / (ch.n_atoms[0, 7, 0] * ch.n_atoms[0, 0, 0])
    k1 = ch.density("OH")[1] / (ch.n_atoms[1, 7, 0] * ch.n_atoms[1, 0, 0])
    assert np.allclose(k0, k1, rtol=1e-9)


@pytest.mark.parametrize("teff, logg", [(5000, 4.5), (3500, 0.0), (6500, 4.0)])
def test_electron_density_matches_atlas(shared_data, teff, logg):
    """n_e solved from T, P and the abundances agrees with Kurucz's ATLAS9 model n_e (an independent
    equation-of-state) to 3 %."""
    atm = _model(shared_data, teff, logg)
    ch = solve_chemistry(atm.T, atm.P, atm.abundances[:92], ne_guess=atm.xne * 3.0)
    assert np.max(np.abs(ch.ne[0] / atm.xne - 1)) < 0.03


def test_bad_inputs():
    T = np.full(5, 5000.0)
    P = np.full(5, 1e4)
    A = np.full(92, -20.0)
    A[0], A[1] = 12.0, 10.9
    with pytest.raises(ValueError):
        solve_chemistry(T, P[:4], A)
    with pytest.raises(ValueError):
        solve_chemistry(np.where(np.arange(5) == 2, np.nan, T), P, A)
    with pytest.raises(ValueError):
        solve_chemistry(T, P, A[:50])
    bad = A.copy()
    bad[7] = np.nan
    with pytest.raises(ValueError):
        solve_chemistry(T, P, bad)
    with pytest.raises(ValueError):
        solve_chemistry(T, P, A, electron_density="guess")
    with pytest.raises(ValueError):
        parse_species("Xx 1")
    assert parse_species("Fe 2") == ("Fe", 2) and parse_species("OH") == ("OH", None)


def test_cool_extrapolated_dwarf_converges_by_continuation():
    """The 4000 K, log g 5.0, [Fe/H] -3.8 node (its atmosphere extrapolated in log g, layers at ~1840 K):
    plain Newton from the free-atom guess does not converge in some layers; the continuation from the
    neighbouring converged layers must, and the solution must conserve particles and charge."""
    from glocal.abundances import abundance_pattern
    from glocal.atmospheres import grid_atmosphere
    atm = grid_atmosphere(4000.0, 5.0, -3.8)
    A = np.array([abundance_pattern(-3.8, {"O": 0.0, "Mg": 0.0}), abundance_pattern(-3.8, {"O": 1.2, "Mg": 0.0})])
    ch = solve_chemistry(atm.T, atm.P, A[:, :92], ne_guess=atm.xne)
    particles = ch.n_atoms.sum(axis=2).sum(axis=1) + ch.n_mol.sum(axis=1) + ch.n_Hminus + ch.ne
    assert np.allclose(particles, atm.P / (K_CGS * atm.T), rtol=1e-7)
    charge = (ch.n_atoms[:, :, 1] + 2 * ch.n_atoms[:, :, 2]).sum(axis=1) - ch.n_Hminus
    charge += ch.n_mol[:, ch.mol_index["H2+"]]
    assert np.allclose(charge, ch.ne, rtol=1e-6)
