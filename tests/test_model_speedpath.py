"""The fast SPT / SPT-GloCal implementation computes what the previous one computed.

The reference is the frozen copy of the backbone and attention at commit b7eaceb
(``benchmarks/reference_models.py``, also the yardstick of ``benchmarks/train.py``). With the same
weights (the reference's ``state_dict`` loaded into the new model, strictly) both must give the
same outputs and gradients up to float32 rounding, identical winner masks, and in float64 the same
numbers to ~1e-12. The attention pieces are also checked against straightforward formulas.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from glocal.models import build
from glocal.models import glocal_attention as ga
from glocal.models.competition import compete, competitive_filter

REF_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "reference_models.py"
if not REF_PATH.exists():
    pytest.skip(f"reference implementation {REF_PATH} is absent: nothing to compare against",
                allow_module_level=True)
_spec = importlib.util.spec_from_file_location("glocal_reference_models", REF_PATH)
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)

SMALL = dict(dim=32, depth=2, heads=4, mlp_ratio=2.0, patch_size=8, window=4, n_window_layers=2,
             p=3, alpha=0.9, gamma=2, dropout=0.0)


def _pair(name, config, n_pixels, dtype=torch.float32, seed=0):
    """Reference and new model with the same (perturbed, so that gates and Ψ temperatures are not
    at their initial values) weights."""
    torch.manual_seed(seed)
    old = ref.build(name, config, n_pixels=n_pixels)
    with torch.no_grad():
        for p in old.parameters():
            p.add_(0.05 * torch.randn_like(p))
    new = build(name, config, n_pixels=n_pixels)
    assert list(new.state_dict()) == list(old.state_dict())
    new.load_state_dict(old.state_dict(), strict=True)
    return old.to(dtype), new.to(dtype)


def _rel(a, b):
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


@pytest.mark.parametrize("name", ["spt-glocal", "spt"])
@pytest.mark.parametrize("config,n_pixels", [("cpu", 274), (dict(SMALL, pool="cls"), 61)])
def test_same_outputs_and_gradients_float32(name, config, n_pixels):
    old, new = _pair(name, config, n_pixels)
    x = torch.rand(12, n_pixels, generator=torch.Generator().manual_seed(1))
    old.eval(), new.eval()
    with torch.no_grad():
        y_old, y_new = old(x), new(x)
    assert _rel(y_new, y_old) < 1e-5
    if name == "spt-glocal":
        for w_old, w_new in zip(old.winner_masks(), new.winner_masks()):
            assert w_new.shape == w_old.shape and torch.equal(w_new, w_old)
        assert torch.equal(new.winner_fraction(), old.winner_fraction())
    # gradients, train mode without dropout (the "cpu" config's dropout switched off)
    for m in (old, new):
        m.train()
        for mod in m.modules():
            if isinstance(mod, torch.nn.Dropout):
                mod.p = 0.0
    target = torch.randn(12, old.head.out_features, generator=torch.Generator().manual_seed(2))
    for m in (old, new):
        torch.nn.functional.mse_loss(m(x), target).backward()
    for (key, p_old), p_new in zip(old.named_parameters(), new.parameters()):
        assert _rel(p_new.grad, p_old.grad) < 5e-5, key


@pytest.mark.parametrize("name", ["spt-glocal", "spt"])
def test_same_numbers_float64(name):
    old, new = _pair(name, dict(SMALL, pool="mean"), 45, dtype=torch.float64, seed=3)
    x = torch.rand(5, 45, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    y_old, y_new = old(x), new(x)
    assert _rel(y_new, y_old) < 1e-12
    y_old.square().sum().backward()
    y_new.square().sum().backward()
    for (key, p_old), p_new in zip(old.named_parameters(), new.parameters()):
        assert _rel(p_new.grad, p_old.grad) < 1e-10, key


def test_hsa_matches_direct_formula_with_gradients():
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(2, 3, 11, 5, dtype=torch.float64, generator=g, requires_grad=True)
               for _ in range(3))
    beta = (1 + torch.rand(3, dtype=torch.float64, generator=g)).requires_grad_()
    direct = ga.hadamard_attention_reference(q, k, v, beta)     # softmax over explicit T×T×d* maps
    fast = ga.hadamard_attention(q, k, v, beta)
    assert torch.allclose(fast, direct, rtol=0, atol=1e-12)
    w = torch.randn(direct.shape, dtype=torch.float64, generator=g)
    for a, b in zip(torch.autograd.grad((fast * w).sum(), (q, k, v, beta)),
                    torch.autograd.grad((direct * w).sum(), (q, k, v, beta))):
        assert torch.allclose(a, b, rtol=0, atol=1e-10)


def test_hsa_large_exponents_take_the_shifted_path():
    """Scores beyond the unshifted range (|β d* q̂ k̂| large) still give the softmax, no inf/NaN."""
    q = torch.randn(1, 1, 6, 64, dtype=torch.float64)
    k, v = q.clone(), torch.randn(1, 1, 6, 64, dtype=torch.float64)
    beta = torch.tensor([40.0], dtype=torch.float64)           # exponents up to ~40·64/ln 2 bits
    fast = ga.hadamard_attention(q, k, v, beta)
    assert torch.isfinite(fast).all()
    assert torch.allclose(fast, ga.hadamard_attention_reference(q, k, v, beta), rtol=0, atol=1e-12)


@pytest.mark.parametrize("window,n_layers,T", [(8, 2, 35), (4, 3, 9), (5, 1, 10), (3, 2, 1)])
def test_flow_matches_reference_and_its_gradients(window, n_layers, T):
    g = torch.Generator().manual_seed(6)
    q, k, v = (torch.randn(3, 2, T, 4, dtype=torch.float64, generator=g, requires_grad=True)
               for _ in range(3))
    beta = (1 + torch.rand(2, dtype=torch.float64, generator=g)).requires_grad_()
    kw = dict(window=window, n_window_layers=n_layers, alpha=0.8, gamma=2, p=3)
    out, win = ga.score_aware_flow(q, k, v, beta, **kw)
    out_ref, win_ref = ref.score_aware_flow(q, k, v, beta, **kw)
    assert torch.equal(win, win_ref)
    assert torch.allclose(out, out_ref, rtol=0, atol=1e-12)
    w = torch.randn(out.shape, dtype=torch.float64, generator=g)
    for a, b in zip(torch.autograd.grad((out * w).sum(), (q, k, v, beta)),
                    torch.autograd.grad((out_ref * w).sum(), (q, k, v, beta))):
        assert torch.allclose(a, b, rtol=0, atol=1e-10)


def _scores(shape, dtype, seed):
    """Softmax scores with many exact ties (ReLU zeros, as in Eq. 13) and some masked candidates."""
    g = torch.Generator().manual_seed(seed)
    lg = torch.relu(torch.randn(shape, generator=g)) * torch.relu(torch.randn(shape, generator=g)) * 20
    valid = torch.rand(shape, generator=g) > 0.15
    valid[..., 0] = True
    return ref.enhanced_softmax(lg.to(dtype), 1.0, mask=valid), valid


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("alpha,gamma,p", [(0.9, 2, 3), (0.5, 1, 2), (0.7, 3, 1), (0.9, 2, 0), (0.3, 2, 5)])
def test_competitive_filter_identical_to_sorting_definition(dtype, alpha, gamma, p):
    probs, valid = _scores((40, 7, 8), dtype, seed=7)
    expect = ref.competitive_filter(probs, valid, alpha=alpha, gamma=gamma, p=p)
    assert torch.equal(competitive_filter(probs, valid, alpha=alpha, gamma=gamma, p=p), expect)
    # the flow's layout: candidates on axis 2 of (G, W, n, C)
    got = compete(probs.permute(0, 1, 2).reshape(5, 8, 7, 8).transpose(2, 3),
                  valid.reshape(5, 8, 7, 8).transpose(2, 3), alpha, gamma, p)
    assert torch.equal(got.transpose(2, 3).reshape(40, 7, 8), expect)


def test_competitive_filter_sorting_path_for_other_dtypes():
    """Dtypes the kernel does not take (and other devices) go through the sorting definition."""
    probs, valid = _scores((30, 6), torch.float32, seed=8)
    probs = probs.to(torch.bfloat16)
    expect = ref.competitive_filter(probs, valid, alpha=0.8, gamma=2, p=2)
    got = competitive_filter(probs, valid, alpha=0.8, gamma=2, p=2)
    assert got.dtype == torch.bool and torch.equal(got, expect)
    assert ga.competitive_filter is competitive_filter


def test_dropout_masks_and_scaling():
    """Mask from 16 random bits per entry: keep probability round((1 − p)·2¹⁶)/2¹⁶ (within 2⁻¹⁷ of
    1 − p), kept entries scaled by 1/(1 − p), reproducible under the seed, identity in eval."""
    x = torch.randn(64, 35, 96, requires_grad=True)
    drop = ga.Dropout(0.1)
    torch.manual_seed(11)
    y = drop(x)
    kept = y != 0
    assert torch.allclose(y[kept], x[kept] / 0.9, rtol=1e-6, atol=0)
    y.backward(torch.ones_like(y))
    assert torch.equal(x.grad, kept.float() / 0.9)
    torch.manual_seed(11)
    assert torch.equal(drop(x), y)
    ones = torch.ones(4_000_001)                      # odd size: not a multiple of 4 draws
    for p in (0.1, 0.3, 0.5):
        t = ga._keep_threshold(p)
        q = (t + 32768) / 65536
        assert abs(q - (1 - p)) <= 2.0 ** -17
        frac = float((ga.Dropout(p)(ones) != 0).double().mean())
        assert abs(frac - q) < 5 * (q * (1 - q) / ones.numel()) ** 0.5, (p, frac, q)
    assert torch.equal(ga.Dropout(1e-7)(x), x / (1 - 1e-7))   # p < 2⁻¹⁷: all kept
    drop.eval()
    assert drop(x) is x


def test_normalise_function_gradients():
    """The hand-written normalisation backward, including rows clamped at ‖x‖ = 1e-6."""
    x = torch.randn(3, 5, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ga._normalise, (x,))
    x = x.detach().clone()
    x[0, 1] = 1e-8                                        # clamped row: x / 1e-6
    x.requires_grad_()
    direct = x / (x * x).sum(-1, keepdim=True).sqrt().clamp_min(1e-6)
    assert torch.allclose(ga._normalise(x), direct, rtol=0, atol=1e-15)
    w = torch.randn(x.shape, dtype=torch.float64)
    g1, = torch.autograd.grad((ga._normalise(x) * w).sum(), x)
    g2, = torch.autograd.grad((direct * w).sum(), x)
    assert torch.allclose(g1, g2, rtol=0, atol=1e-12)
