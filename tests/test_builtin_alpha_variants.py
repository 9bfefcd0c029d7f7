"""Variants that move the other α elements (Ne, Si, S, Ar, Ca, Ti) together with O and Mg, as the
realstars-alpha grid draws them: Si, Ca and Ti are electron donors and carry strong R = 200 features (Ca II
H&K and the triplet, Si I 3905, the Ti II forest of the near UV).  Shared work across the 20 variants of one
atmosphere must give each variant its own single-variant spectrum, and the α group must actually move it."""
import numpy as np
import pytest

from glocal.degrade import degrade
from glocal.grid import JOINT_GROUPS, joint_variants, parse_joint
from glocal.synthesis import synthesize_variants

OPTIONS = {"resolution": 40000.0, "threshold": 1e-3}


def _r200(vs, lo, hi):
    grid = np.exp(np.arange(np.log(lo), np.log(hi), np.log(1 + 1 / 200)))
    return np.atleast_2d(degrade(vs.wave, vs.normalized, R=200, grid=grid)[1])


def test_alpha_group_is_one_draw_for_every_member_and_keeps_the_o_mg_draws():
    n, ranges = parse_joint("joint:20+alpha")
    with_alpha = joint_variants(n, rng=np.random.default_rng([0, 5]), ranges=ranges)
    n_plain, plain_ranges = parse_joint("joint:20")
    plain = joint_variants(n_plain, rng=np.random.default_rng([0, 5]), ranges=plain_ranges)
    for v, p in zip(with_alpha, plain):
        assert (v["O"], v["Mg"]) == (p["O"], p["Mg"])
        assert len({v[el] for el in JOINT_GROUPS["alpha"]}) == 1
    values = np.array([v["Ca"] for v in with_alpha])
    assert values.min() >= -0.1 and values.max() <= 0.6 and np.ptp(values) > 0.5
    with pytest.raises(ValueError, match="drawn twice"):
        joint_variants(4, ranges={"alpha": (0.0, 0.4), "Ca": (0.0, 0.4)})


@pytest.mark.parametrize("model", [(4600.0, 1.1, -2.7), (6000.0, 4.2, -1.6)])
def test_twenty_alpha_variants_match_their_single_variant_synthesis(model):
    """A halo giant and a turn-off dwarf over 3300-4400 A (Ca II H&K, the Balmer jump, the near-UV Ti II and
    Fe lines): the variants with the lowest and highest [alpha/Fe] agree with their own synthesis at R = 200
    to 5e-3, and the two differ from each other by far more (the group is not lost on the way)."""
    n, ranges = parse_joint("joint:20+alpha")
    variants = joint_variants(n, rng=np.random.default_rng([0, 17]), ranges=ranges)
    lo, hi = 3300.0, 4400.0
    batch = synthesize_variants(*model, variants, wave_range=(lo, hi), **OPTIONS)
    assert np.all(np.isfinite(batch.normalized)) and batch.normalized.max() < 1.0 + 1e-4
    low = _r200(batch, lo + 30, hi - 30)
    ca = np.array([v["Ca"] for v in variants])
    picks = (int(np.argmin(ca)), int(np.argmax(ca)))
    for i in picks:
        alone = _r200(synthesize_variants(*model, variants[i:i + 1], wave_range=(lo, hi), **OPTIONS),
                      lo + 30, hi - 30)[0]
        assert np.max(np.abs(low[i] - alone)) < 5e-3
    assert np.max(np.abs(low[picks[0]] - low[picks[1]])) > 0.02
