"""Variants that move [C/Fe] in cool atmospheres: carbon takes the oxygen into CO, so the OH/CH
photodissociation continuum and the TiO, OH, CN and C2 densities change by decades between the variants of
one model.  Both ways the engine shares work across variants must survive that (the realstars-carbon grid
draws [C/Fe] per variant)."""
import numpy as np
import pytest

from glocal.degrade import degrade
from glocal.grid import joint_variants, parse_joint
from glocal.synthesis import synthesize_variants

OPTIONS = {"resolution": 40000.0, "threshold": 1e-3}


def _r200(vs, lo, hi):
    grid = np.exp(np.arange(np.log(lo), np.log(hi), np.log(1 + 1 / 200)))
    return np.atleast_2d(degrade(vs.wave, vs.normalized, R=200, grid=grid)[1])


def test_member_variant_with_another_continuum_stays_an_absorption_spectrum():
    """One n_e class, two variants ([C/Fe] 0 and +0.5) of a 3772 K dwarf: the member's continuum differs
    from its representative's by far more than a linear term can carry (it used to give F/F_c = 1.5 at
    3539 Å); the member must match its own single-variant synthesis."""
    variants = [{"O": 0.0, "Mg": 0.0, "C": 0.0}, {"O": 0.0, "Mg": 0.0, "C": 0.5}]
    args = (3772.0, 3.9, -1.89)
    batch = synthesize_variants(*args, variants, wave_range=(3450.0, 3650.0), **OPTIONS)
    assert batch.details["n_classes"] == 1 and "OH" in batch.details["variant_specific_species"]
    assert batch.normalized.max() < 1.0 + 1e-4
    alone = synthesize_variants(*args, variants[1:], wave_range=(3450.0, 3650.0), **OPTIONS)
    a, b = _r200(batch, 3480.0, 3620.0)[1], _r200(alone, 3480.0, 3620.0)[0]
    assert np.max(np.abs(a - b)) < 5e-3


@pytest.mark.parametrize("model", [(4308.0, 0.95, -1.3), (3772.0, 3.9, -1.89)])
def test_twenty_carbon_variants_share_work_without_negative_opacity(model):
    """The realstars-carbon preset's 20 joint ([O/Fe], [Mg/Fe], [C/Fe]) draws: every variant its own n_e class,
    the classes' molecules summed on a truncated basis; species the basis cannot hold to a few per cent
    of their own density must be summed exactly (they used to give F/F_c ~ 1e292).  Each variant agrees
    with its own single-variant synthesis at R = 200."""
    n, ranges = parse_joint("joint:20+C")
    variants = joint_variants(n, rng=np.random.default_rng([0, 11]), ranges=ranges)
    lo, hi = 3000.0, 4400.0
    batch = synthesize_variants(*model, variants, wave_range=(lo, hi), **OPTIONS)
    assert np.all(np.isfinite(batch.normalized)) and batch.normalized.max() < 1.0 + 1e-4
    low = _r200(batch, lo + 30, hi - 30)
    for i in (0, 7):
        alone = _r200(synthesize_variants(*model, variants[i:i + 1], wave_range=(lo, hi), **OPTIONS),
                      lo + 30, hi - 30)[0]
        assert np.max(np.abs(low[i] - alone)) < 5e-3


def test_class_opacity_never_rounds_below_zero():
    """A realstars-carbon atmosphere (4334 K, log g 1.421, [Fe/H] −2.295, its 20 seeded draws): the float32 sum of
    the classes' basis terms rounded a few line opacities below zero, which in the top layers (ρ ~ 1e-10)
    outweighed the continuum and sent three variants' flux to −1e293 near 9250 Å.  Every variant must stay
    an absorption spectrum, and the worst one must match its single-variant synthesis."""
    n, ranges = parse_joint("joint:20+C")
    variants = joint_variants(n, rng=np.random.default_rng([0, 1000139]), ranges=ranges)
    model = (4334.0, 1.421, -2.295)
    batch = synthesize_variants(*model, variants, wave_range=(2550.0, 10000.0), **OPTIONS)
    assert np.all(np.isfinite(batch.normalized))
    assert batch.normalized.min() >= 0 and batch.normalized.max() < 1.0 + 1e-4
    alone = synthesize_variants(*model, variants[9:10], wave_range=(2550.0, 10000.0), **OPTIONS)
    a, b = _r200(batch, 2600.0, 9950.0)[9], _r200(alone, 2600.0, 9950.0)[0]
    assert np.max(np.abs(a - b)) < 5e-3
