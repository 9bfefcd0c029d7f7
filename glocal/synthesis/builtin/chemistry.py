
"""LTE chemical equilibrium: Saha ionisation (I, II, III), molecular dissociation equilibrium and the
electron density, vectorised over depth and over abundance variants.

Physics (see e.g. Gray 2005, *The Observation and Analysis of Stellar Photospheres*, ch. 1 and 8;
Korg, Wheeler et al. 2023, §2.1):

* Saha: n_{i+1} n_e / n_i = Phi_i(T) = 2 U_{i+1}/U_i (2 pi m_e k T / h^2)^{3/2} exp(-chi_i / kT)   (Eq. S1)
* molecules AB...: n_A n_B ... / n_AB = K_n(T) = K_p(T) / (kT)^{N_atoms - 1}                    (Eq. S2)
  with K_p from Barklem & Collet (2016) (H2O: rigid rotor/harmonic oscillator), plus H- from
  Saha with chi = 0.754 eV and U(H-) = 1, and H2+ (K_p defined with p_H p_H+).
* conservation of nuclei for every molecule-forming element X (H C N O Mg Al Si Ca Ti Fe):
  eps_X N_H = n_X,0 (1 + r1 + r1 r2) + sum_m nu_{m,X} n_m,  r_i = Phi_i / n_e                      (Eq. S3)
* particle count: P / kT = sum(atoms and ions) + sum(molecules) + n_e                              (Eq. S4)
* charge: n_e = sum(ion charges) + n(H2+) - n(H-)                                                   (Eq. S5)

Unknowns ln n_X,0, ln N_H and ln n_e are found by a damped Newton iteration with the analytic
Jacobian, batched over (variant, depth). With ``electron_density="atmosphere"`` the model's n_e is
kept and Eq. S5 dropped (useful to compare with codes that take n_e from the model).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from glocal.constants import AMU, K_EV
from glocal.constants import K_BOLTZMANN as K_CGS

from .tables import ATOMIC_NUMBER, SAHA_CONST, interp_rows, load_tables

HMINUS_CHI_EV = 0.754195  # H- binding energy, Lykke et al. (1991)


def atomic_partition_functions(T: np.ndarray) -> np.ndarray:
    """U[Z-1, stage, depth] for Z = 1..92 and stages I, II, III (Korg/NIST tables), shape (92, 3, nd)."""
    tab = load_tables()
    return 10 ** interp_rows(tab["atom_log10_T"], tab["atom_log10_U"], np.log10(T))


def saha_factors(T: np.ndarray, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Phi_1, Phi_2 (cm^-3) of Eq. S1 for all elements, shape (92, nd); zero where chi is unknown."""
    chi = load_tables()["chi_eV"]
    kT = K_EV * T
    trans = SAHA_CONST * T**1.5
    with np.errstate(over="ignore", invalid="ignore"):
        phi1 = 2 * U[:, 1] / U[:, 0] * trans * np.exp(-chi[:, 0:1] / kT)
        phi2 = 2 * U[:, 2] / U[:, 1] * trans * np.exp(-chi[:, 1:2] / kT)
    return np.nan_to_num(phi1), np.nan_to_num(phi2)


def molecular_constants(T: np.ndarray) -> tuple[list[str], list[list[str]], np.ndarray, np.ndarray]:
    """(names, components, ln K_n [n_mol, nd] in cm^-3 powers, partition functions Q [n_mol, nd])."""
    tab = load_tables()
    lg = np.log10(T)
    log10_Kp = interp_rows(tab["mol_log10_T"], tab["mol_log10_Kp"], lg)
    log10_Q = interp_rows(tab["mol_log10_T"], tab["mol_log10_Q"], lg)
    natoms = np.array([len(c) for c in tab["mol_components"]])
    lnKn = log10_Kp * np.log(10) - (natoms[:, None] - 1) * np.log(K_CGS * T)[None, :]
    return tab["mol_names"], tab["mol_components"], lnKn, 10**log10_Q


@dataclass
class Chemistry:
    """Result of :func:`solve_chemistry`. Number densities in cm^-3; arrays are (n_var, ..., n_depth)."""

    T: np.ndarray
    ne: np.ndarray  # (nv, nd)
    N_H: np.ndarray  # total hydrogen nuclei (nv, nd)
    n_atoms: np.ndarray  # (nv, 92, 3, nd): neutral, singly, doubly ionised
    U: np.ndarray  # (92, 3, nd)
    mol_names: list
    n_mol: np.ndarray  # (nv, n_mol, nd)
    Q_mol: np.ndarray  # (n_mol, nd)
    n_Hminus: np.ndarray  # (nv, nd)
    rho: np.ndarray  # (nv, nd) g cm^-3
    iterations: int = 0
    mol_index: dict = field(default_factory=dict)

    def _molecule(self, name: str) -> int:
        if name not in self.mol_index:
            raise ValueError(f"molecule {name!r} is not in the chemical equilibrium")
        return self.mol_index[name]

    def density(self, species: str) -> np.ndarray:
        """Number density of ``"Fe 1"``-style atoms/ions or a molecule name, shape (nv, nd)."""
        el, stage = parse_species(species)
        if stage is None:
            return self.n_mol[:, self._molecule(el)]
        if stage > 3:
            raise ValueError(f"ionisation stage {stage} of {el} is not modelled (only I-III)")
        return self.n_atoms[:, ATOMIC_NUMBER[el] - 1, stage - 1]

    def vdw_perturbers(self, v: int = 0) -> np.ndarray:
        """Van der Waals perturber density of variant ``v`` in hydrogen-atom equivalents (cm^-3),
        n(H I) + 0.42 n(He I) + 0.85 n(H2), shape (nd,).

        The weights scale the Unsoeld gamma_6 ~ alpha_p^(2/5) mu^(-3/10) (polarisability alpha_p,
        reduced mass mu) from H to He and H2 perturbers, as in Kurucz's SYNTHE (Kurucz & Avrett 1981,
        SAO Special Report 391) and SME's ``h2broad``; H2 outnumbers H I in the deep layers of cool
        dwarfs (3500/5.0/-1.0: Na D at R = 200 is 0.1 deeper with it, as SME)."""
        n = self.n_atoms[v, 0, 0] + 0.42 * self.n_atoms[v, 1, 0]
        if "H2" in self.mol_index:
            n = n + 0.85 * self.n_mol[v, self.mol_index["H2"]]
        return n

    def partition(self, species: str) -> np.ndarray:
        """Partition function of a species, shape (nd,)."""
        el, stage = parse_species(species)
        if stage is None:
            return self.Q_mol[self._molecule(el)]
        return self.U[ATOMIC_NUMBER[el] - 1, stage - 1]


def parse_species(species: str) -> tuple[str, int | None]:
    """``"Fe 1"`` -> ("Fe", 1); ``"Mg 2"`` -> ("Mg", 2); ``"OH"`` -> ("OH", None).

    Raises ValueError for an unknown element or an unparsable name."""
    if not isinstance(species, str) or not species.strip():
        raise ValueError(f"species must be a non-empty string, got {species!r}")
    parts = species.split()
    if len(parts) == 2 and parts[0] in ATOMIC_NUMBER:
        try:
            stage = int(parts[1])
        except ValueError as exc:
            raise ValueError(f"bad ionisation stage in species {species!r}") from exc
        if stage < 1:
            raise ValueError(f"bad ionisation stage in species {species!r}")
        return parts[0], stage
    if len(parts) == 1:
        if parts[0] in ATOMIC_NUMBER:
            return parts[0], 1
        return parts[0], None
    raise ValueError(f"cannot parse species {species!r}")


def _continuation_order(done, nv, nd):
    """Failed (variant, layer) batch indices ordered by their distance to a converged layer of the same
    variant, so each one can start from a freshly converged neighbour."""
    out = []
    for v in range(nv):
        d_ok = np.where(done[v * nd:(v + 1) * nd])[0]
        d_bad = np.where(~done[v * nd:(v + 1) * nd])[0]
        if d_ok.size == 0:
            continue
        dist = np.min(np.abs(d_bad[:, None] - d_ok[None, :]), axis=1)
        out += [v * nd + d for d in d_bad[np.argsort(dist, kind="stable")]]
    return out


def _check_inputs(T, P, abundances, ne_guess, electron_density):
    """Validated (T, P, A (nv, 92) with A_H = 12 and -20 for missing elements, ne_guess (nd,))."""
    T = np.asarray(T, float)
    P = np.asarray(P, float)
    if T.ndim != 1 or P.shape != T.shape:
        raise ValueError(f"T and P must be 1-D arrays of equal length, got {T.shape} and {P.shape}")
    if not (np.all(np.isfinite(T)) and np.all(np.isfinite(P))) or np.any(T <= 0) or np.any(P <= 0):
        raise ValueError("T and P must be finite and positive")
    if electron_density not in ("solve", "atmosphere"):
        raise ValueError(f"electron_density must be 'solve' or 'atmosphere', got {electron_density!r}")
    A = np.atleast_2d(np.asarray(abundances, float))
    if A.ndim != 2 or A.shape[1] < 92:
        raise ValueError(f"abundances must have >= 92 entries per variant (Z=1..92), got {A.shape}")
    A = A[:, :92].copy()
    A[:, 0] = 12.0
    if np.any(np.isnan(A[:, :30])):
        raise ValueError("abundances of Z <= 30 contain NaN")
    A = np.where(np.isfinite(A), A, -20.0)
    if ne_guess is None:
        if electron_density == "atmosphere":
            raise ValueError("electron_density='atmosphere' needs ne_guess (the model's xne)")
        ne_guess = 1e-4 * P / (K_CGS * T)
    ne_guess = np.asarray(ne_guess, float)
    if ne_guess.shape != T.shape or np.any(~np.isfinite(ne_guess)) or np.any(ne_guess <= 0):
        raise ValueError("ne_guess must be positive, finite and shaped like T")
    return T, P, A, ne_guess


def _stoichiometry(T, U, phi1):
    """Molecule-forming elements and the reactions of Eqs. S2-S3, H- appended as a pseudo-molecule:
    (names, Q (n_mol, nd), element symbols, their Z - 1, S (nm, m) atoms per molecule, e_ne (nm,) power
    of n_e, q (nm,) charge, ln K (nm, nd))."""
    names, comps, lnKn, Qm = molecular_constants(T)
    mol_el = []
    for c in comps:
        for a in c:
            a = a.rstrip("+")
            if a not in mol_el:
                mol_el.append(a)
    zM = np.array([ATOMIC_NUMBER[a] - 1 for a in mol_el])
    nd = T.size
    m = len(mol_el)
    nm = len(names) + 1
    S = np.zeros((nm, m))
    e_ne = np.zeros(nm)
    q = np.zeros(nm)
    lnK = np.zeros((nm, nd))
    for i, (nme, c) in enumerate(zip(names, comps)):
        for a in c:
            S[i, mol_el.index(a.rstrip("+"))] += 1
        lnK[i] = lnKn[i]
        if nme == "H2+":  # n = n_H n_H+ / K = n_H^2 (Phi_H / n_e) / K
            e_ne[i], q[i] = -1.0, 1.0
            lnK[i] = lnKn[i] - np.log(np.maximum(phi1[0], 1e-300))
    iH = mol_el.index("H")
    S[-1, iH] = 1.0
    e_ne[-1], q[-1] = 1.0, -1.0
    # Saha for H-: n_H n_e / n_H- = 2 U_H / U_H- (2 pi m_e k T/h^2)^1.5 exp(-chi/kT), U_H- = 1
    lnK[-1] = np.log(2.0 * U[0, 0] * SAHA_CONST * T**1.5) - HMINUS_CHI_EV / (K_EV * T)
    return names, Qm, mol_el, zM, S, e_ne, q, lnK


@dataclass
class _System:
    """Eqs. S3-S5 for a batch of B = nv x nd (variant-major) layer-variants: unknowns x = (ln n_X,0 of the
    m molecule-forming elements, ln N_H, ln n_e); the first ``nunk`` are solved for."""
    S: np.ndarray  # (nm, m)
    e_ne: np.ndarray  # (nm,)
    q: np.ndarray  # (nm,)
    zM: np.ndarray  # (m,)
    notM: np.ndarray  # (92,) bool
    phi1b: np.ndarray  # (B, 92)
    phi2b: np.ndarray  # (B, 92)
    lnKb: np.ndarray  # (B, nm)
    epsb: np.ndarray  # (B, 92)
    n_part: np.ndarray  # (B,) P / kT
    nunk: int
    tol: float

    @property
    def m(self) -> int:
        return self.zM.size

    def unpack(self, x, rows=slice(None)):
        """Unknowns -> n_X,0 (b, m), N_H, n_e (b,) and the ionisation ratios r1, r2 (b, 92) of Eq. S3."""
        m = self.m
        ne = np.exp(x[:, m + 1])
        return (np.exp(x[:, :m]), np.exp(x[:, m]), ne, self.phi1b[rows] / ne[:, None],
                self.phi2b[rows] / ne[:, None])


def _residual_jacobian(sy: _System, x, rows):
    """Residuals F (b, m + 2) of Eqs. S3-S5 and their Jacobian J (b, m + 2, m + 2) in x, and the row
    scales (b, m + 2) for conditioning."""
    S, e_ne, q, zM, notM, m = sy.S, sy.e_ne, sy.q, sy.zM, sy.notM, sy.m
    eps_notM, epsM, lnKr, npart = sy.epsb[rows][:, notM], sy.epsb[rows][:, zM], sy.lnKb[rows], sy.n_part[rows]
    b = x.shape[0]
    n0, NH, ne, r1, r2 = sy.unpack(x, rows)
    fM = 1 + r1[:, zM] + r1[:, zM] * r2[:, zM]
    cM = r1[:, zM] + 2 * r1[:, zM] * r2[:, zM]
    dfM = -r1[:, zM] - 2 * r1[:, zM] * r2[:, zM]
    dcM = -r1[:, zM] - 4 * r1[:, zM] * r2[:, zM]
    nmol = np.exp(np.clip(x[:, :m] @ S.T + np.log(ne)[:, None] * e_ne - lnKr, -700, 700))
    F = np.empty((b, m + 2))
    F[:, :m] = n0 * fM + nmol @ S - epsM * NH[:, None]
    F[:, m] = (n0 * fM).sum(1) + nmol.sum(1) + NH * eps_notM.sum(1) + ne - npart
    rn1, rn2 = r1[:, notM], r2[:, notM]
    fN = 1 + rn1 + rn1 * rn2
    cN = rn1 + 2 * rn1 * rn2
    F[:, m + 1] = (n0 * cM).sum(1) + NH * (eps_notM * cN / fN).sum(1) + nmol @ q - ne
    J = np.zeros((b, m + 2, m + 2))
    # element rows
    J[:, :m, :m] = np.einsum("bk,ki,kj->bij", nmol, S, S)
    J[:, np.arange(m), np.arange(m)] += n0 * fM
    J[:, :m, m] = -epsM * NH[:, None]
    J[:, :m, m + 1] = n0 * dfM + (nmol * e_ne) @ S
    # particle row
    J[:, m, :m] = n0 * fM + nmol @ S
    J[:, m, m] = NH * eps_notM.sum(1)
    J[:, m, m + 1] = (n0 * dfM).sum(1) + nmol @ e_ne + ne
    # charge row
    J[:, m + 1, :m] = n0 * cM + (nmol * q) @ S
    J[:, m + 1, m] = NH * (eps_notM * cN / fN).sum(1)
    dcN = -rn1 - 4 * rn1 * rn2
    dfN = -rn1 - 2 * rn1 * rn2
    J[:, m + 1, m + 1] = ((n0 * dcM).sum(1) + NH * (eps_notM * (dcN * fN - cN * dfN) / fN**2).sum(1)
                          + nmol @ (q * e_ne) - ne)
    scale = np.concatenate([epsM * NH[:, None], npart[:, None], ne[:, None]], axis=1)
    return F, J, scale


def _newton(sy: _System, x, rows, n_iter):
    """Damped Newton iterations on the batch ``rows`` (steps capped at 1 in every ln n); returns x, a
    per-row converged mask and the number of iterations."""
    nunk = sy.nunk
    b = x.shape[0]
    done = np.zeros(b, bool)
    last = np.full(b, np.inf)
    k = 0
    for k in range(1, n_iter + 1):
        F, J, scale = _residual_jacobian(sy, x, rows)
        with np.errstate(over="ignore", invalid="ignore"):
            Fs = F[:, :nunk] / scale[:, :nunk]
            Js = J[:, :nunk, :nunk] / scale[:, :nunk, None]
        try:
            dx = np.linalg.solve(Js, -Fs[..., None])[..., 0]
        except np.linalg.LinAlgError:
            dx = np.full((b, nunk), np.nan)
        big = np.max(np.abs(dx), axis=1)
        bad = ~np.isfinite(big)
        dx[bad] = 0.0
        dx = dx * np.minimum(1.0, 1.0 / np.maximum(big, 1e-300))[:, None]
        dx[done] = 0.0
        x[:, :nunk] += dx
        done |= (big < sy.tol) & ~bad
        stuck = ~done & (bad | (big >= last))
        last = np.where(done, last, big)
        if done.all() or (np.all(done | stuck) and k > 20):
            break
    return x, done, k


def _continue_failed(sy: _System, x, done, nv, nd, max_iter, T, P):
    """Start each failed layer from the solution of its nearest converged layer of the same variant
    (neighbouring layers differ little in T and P), walking away from the converged ones; ValueError
    if any layer still fails."""
    rows_all = np.arange(nv * nd)
    for r in _continuation_order(done, nv, nd):
        v0, d0 = divmod(r, nd)
        ok = np.where(done[v0 * nd:(v0 + 1) * nd])[0]
        if ok.size == 0:
            break
        src = v0 * nd + ok[np.argmin(np.abs(ok - d0))]
        xr, dr, _ = _newton(sy, x[src:src + 1].copy(), rows_all[r:r + 1], max_iter)
        if dr[0]:
            x[r], done[r] = xr[0], True
    if not done.all():
        v0, d0 = divmod(int(np.where(~done)[0][0]), nd)
        raise ValueError(f"chemical equilibrium did not converge in {max_iter} iterations "
                         f"({int((~done).sum())} of {nv * nd} layer-variants failed, first: variant {v0}, "
                         f"layer {d0}, T = {T[d0]:.0f} K, P = {P[d0]:.3g} dyn cm^-2)")


def solve_chemistry(T, P, abundances, ne_guess=None, electron_density: str = "solve",
                    tol: float = 1e-9, max_iter: int = 100) -> Chemistry:
    """Solve Eqs. S1-S5 for every depth and abundance variant.

    T, P: temperature (K) and gas pressure (dyn cm^-2), shape (nd,). ``abundances``: log eps
    (A_X = 12 + log N_X/N_H) for Z = 1..92 (extra entries ignored), shape (92,) or (nv, >=92).
    ``ne_guess``: model electron density (nd,), used as the initial guess, or kept fixed when
    ``electron_density="atmosphere"``. ``tol``: convergence of the largest Newton step in ln n.
    ValueError if a layer does not converge in ``max_iter`` iterations.
    """
    T, P, A, ne_guess = _check_inputs(T, P, abundances, ne_guess, electron_density)
    nv, nd = A.shape[0], T.size
    eps = 10.0 ** (A - 12.0)  # (nv, 92)
    U = atomic_partition_functions(T)
    phi1, phi2 = saha_factors(T, U)  # (92, nd)
    names, Qm, mol_el, zM, S, e_ne, q, lnK = _stoichiometry(T, U, phi1)
    m = len(mol_el)
    notM = np.ones(92, bool)
    notM[zM] = False
    # broadcast helpers to the batch (variant-major)
    Tb, Pb = np.tile(T, nv), np.tile(P, nv)
    epsb = np.repeat(eps, nd, axis=0)  # (B, 92)
    sy = _System(S=S, e_ne=e_ne, q=q, zM=zM, notM=notM, phi1b=np.tile(phi1, (1, nv)).T,
                 phi2b=np.tile(phi2, (1, nv)).T, lnKb=np.tile(lnK, (1, nv)).T, epsb=epsb,
                 n_part=Pb / (K_CGS * Tb), nunk=m + 2 if electron_density == "solve" else m + 1, tol=tol)
    ne = np.tile(ne_guess, nv)
    r1 = sy.phi1b / ne[:, None]
    r2 = sy.phi2b / ne[:, None]
    f_all = 1 + r1 + r1 * r2
    NH = (sy.n_part - ne) / np.sum(epsb, axis=1)
    n0 = epsb[:, zM] * NH[:, None] / f_all[:, zM]
    x = np.concatenate([np.log(n0), np.log(NH)[:, None], np.log(ne)[:, None]], axis=1)
    x, done, it = _newton(sy, x, np.arange(nv * nd), max_iter)
    if not done.all():
        _continue_failed(sy, x, done, nv, nd, max_iter, T, P)
    if not np.all(np.isfinite(x)):
        raise ValueError("chemical equilibrium diverged (non-finite densities)")
    return _result(sy, x, T, U, names, Qm, nv, nd, it)


def _result(sy: _System, x, T, U, names, Qm, nv, nd, iterations) -> Chemistry:
    """The ``Chemistry`` of the converged unknowns ``x`` (B, m + 2)."""
    n0, NH, ne, r1, r2 = sy.unpack(x)
    f_all = 1 + r1 + r1 * r2
    neutral = sy.epsb * NH[:, None] / f_all
    neutral[:, sy.zM] = n0
    n_atoms = np.stack([neutral, neutral * r1, neutral * r1 * r2], axis=2)  # (B, 92, 3)
    nmol = np.exp(np.clip(x[:, :sy.m] @ sy.S.T + np.log(ne)[:, None] * sy.e_ne - sy.lnKb, -700, 700))
    mass = load_tables()["mass_amu"] * AMU
    rho = NH * (sy.epsb @ mass)

    def unb(a):  # (B, ...) -> (nv, ..., nd)
        a = a.reshape((nv, nd) + a.shape[1:])
        return np.moveaxis(a, 1, -1)

    return Chemistry(T=T, ne=unb(ne), N_H=unb(NH), n_atoms=unb(n_atoms), U=U, mol_names=list(names),
                     n_mol=unb(nmol[:, :-1]), Q_mol=Qm, n_Hminus=unb(nmol[:, -1]), rho=unb(rho),
                     iterations=iterations, mol_index={n: i for i, n in enumerate(names)})
