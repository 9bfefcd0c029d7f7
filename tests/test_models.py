"""Tests of the GloCal attention mechanism, the backbones and the tree baselines (paper §3)."""
import math

import numpy as np
import pytest
import torch

from glocal.models import (
    CONFIGS,
    NotFittedError,
    build,
    competitive_filter,
    count_parameters,
    enhanced_softmax,
    estimator,
    hadamard_attention,
    load,
    mc_dropout_predict,
    resolve_config,
    score_aware_flow,
)
from glocal.models.glocal_attention import hadamard_attention_reference

torch.set_num_threads(2)
TINY = dict(dim=16, depth=2, heads=2, mlp_ratio=2.0, patch_size=4, window=4,
            n_window_layers=2, p=2, alpha=0.8, gamma=2)


# ----------------------------------------------------------------------------- competition
def test_competitive_filter_hand_computed():
    # sorted scores .4 .3 .15 .1 .05; mass ranked strictly above each: 0 .4 .7 .85 .95
    # alpha=.8, layer 1 keeps {0,1,2}; layer 2 renormalises .4 .3 .15 by .85 ->
    # .4706 .3529 .1765, mass above 0 .4706 .8235 -> keeps {0,1}; layer 3: .5714 .4286 -> both.
    s = torch.tensor([[0.15, 0.4, 0.05, 0.3, 0.1]])      # shuffled order: 0.4 is index 1
    m1 = competitive_filter(s, alpha=0.8, gamma=2, p=1)
    assert m1.tolist() == [[True, True, False, True, False]]
    m3 = competitive_filter(s, alpha=0.8, gamma=2, p=3)
    assert m3.tolist() == [[False, True, False, True, False]]
    # gamma=4: after layer 1 only 3 candidates remain (< 4) so the competition stops there
    m_gamma = competitive_filter(s, alpha=0.8, gamma=4, p=3)
    assert m_gamma.tolist() == m1.tolist()
    # p=0: no competitive layer, everything survives
    assert competitive_filter(s, alpha=0.8, gamma=2, p=0).all()


def test_competitive_filter_respects_valid_and_top1():
    s = torch.tensor([0.4, 0.3, 0.15, 0.1, 0.05])
    valid = torch.tensor([True, False, True, True, True])
    # renormalised without index 1: .5714 .2143 .1429 .0714; mass above: 0 .5714 .7857 .9286
    m = competitive_filter(s, valid, alpha=0.8, gamma=2, p=1)
    assert m.tolist() == [True, False, True, True, False]
    # a dominant element already holds >= alpha on its own: it alone survives
    assert competitive_filter(torch.tensor([0.05, 0.9, 0.05]), alpha=0.5, gamma=1,
                              p=1).tolist() == [False, True, False]
    # independent rows are independent competitions
    rows = torch.stack([s, torch.tensor([0.2, 0.2, 0.2, 0.2, 0.2])])
    m = competitive_filter(rows, alpha=0.5, gamma=1, p=1)
    assert m[0].tolist() == [True, True, False, False, False]     # above: 0, .4 | .7 ...
    assert m[1].tolist() == [True, True, True, False, False]      # above: 0 .2 .4 | .6 .8


@pytest.mark.parametrize("kw", [dict(alpha=0.0, gamma=1, p=1), dict(alpha=1.5, gamma=1, p=1),
                                dict(alpha=0.5, gamma=0, p=1), dict(alpha=0.5, gamma=1, p=-1)])
def test_competitive_filter_rejects_bad_hyperparameters(kw):
    with pytest.raises(ValueError):
        competitive_filter(torch.ones(3), **kw)


def test_enhanced_softmax_properties():
    x = torch.tensor([1.0, 2.0, 0.5])
    assert torch.allclose(enhanced_softmax(x, 1.0), torch.softmax(x, 0))
    sharp = enhanced_softmax(x, 3.0)
    assert sharp.max() > torch.softmax(x, 0).max()
    assert torch.isclose(sharp.sum(), torch.tensor(1.0))
    masked = enhanced_softmax(x, 1.0, mask=torch.tensor([True, False, True]))
    assert masked[1] == 0
    e = np.exp([1.0, 0.5])
    assert np.allclose(masked[[0, 2]].numpy(), e / e.sum())


# ----------------------------------------------------------------------------- HSA
def test_hsa_fused_matches_direct_equations_and_gradcheck():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 6, 4, dtype=torch.double, generator=g) for _ in range(3))
    beta = 1 + torch.rand(3, dtype=torch.double, generator=g)
    assert torch.allclose(hadamard_attention(q, k, v, beta),
                          hadamard_attention_reference(q, k, v, beta), atol=1e-12)
    args = [t[:1, :2, :4, :3].clone().requires_grad_() for t in (q, k, v)]
    args.append(beta[:2].clone().requires_grad_())
    assert torch.autograd.gradcheck(hadamard_attention, args)


def test_hsa_identical_keys_gives_mean_of_values():
    # if all keys are equal the scores do not depend on j: Ψ is uniform, output = mean of V
    q = torch.randn(1, 2, 5, 3)
    k = torch.randn(1, 2, 1, 3).expand(1, 2, 5, 3)
    v = torch.randn(1, 2, 5, 3)
    out = hadamard_attention(q, k, v, torch.ones(2))
    assert torch.allclose(out, v.mean(2, keepdim=True).expand_as(out), atol=1e-6)


def test_hsa_is_permutation_equivariant():
    q, k, v = (torch.randn(2, 2, 7, 4) for _ in range(3))
    perm = torch.randperm(7)
    beta = torch.tensor([1.3, 2.0])
    out = hadamard_attention(q, k, v, beta)
    outp = hadamard_attention(q[:, :, perm], k[:, :, perm], v[:, :, perm], beta)
    assert torch.allclose(outp, out[:, :, perm], atol=1e-6)


# ----------------------------------------------------------------------------- flow
def _flow_reference(q, k, v, beta, window, n_layers, alpha, gamma, p):
    """Loop-by-loop implementation of Eqs 13–16 straight from the docstring's reading."""
    B, H, T, d = q.shape
    qn = q / q.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    kn = k / k.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    out = np.zeros((B, H, T, d))
    for layer in range(n_layers):
        shift = layer * window // n_layers
        starts = range(-shift, T, window)
        for b in range(B):
            for h in range(H):
                for f in range(d):
                    for s0 in starts:
                        idx = [j for j in range(s0, s0 + window) if 0 <= j < T]
                        logit = {j: beta[h].item() * d * max(qn[b, h, j, f].item(), 0)
                                 * max(kn[b, h, j, f].item(), 0) for j in idx}
                        cand = list(idx)
                        for _ in range(p):
                            if len(cand) < gamma:
                                break
                            w = {j: math.exp(logit[j]) for j in cand}
                            tot = sum(w.values())
                            ranked = sorted(cand, key=lambda j: (-w[j], j))
                            keep, acc = [], 0.0
                            for j in ranked:
                                if acc < alpha:
                                    keep.append(j)
                                acc += w[j] / tot
                            cand = sorted(keep)
                        w = {j: math.exp(logit[j]) for j in cand}
                        tot = sum(w.values())
                        pooled = sum(w[j] / tot * v[b, h, j, f].item() for j in cand)
                        for j in idx:
                            out[b, h, j, f] += pooled / n_layers
    return out


@pytest.mark.parametrize("window,n_layers,p,gamma", [(4, 1, 2, 2), (4, 2, 3, 2), (3, 3, 1, 3)])
def test_flow_matches_loop_reference(window, n_layers, p, gamma):
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 2, 9, 3, dtype=torch.double, generator=g) for _ in range(3))
    beta = torch.tensor([1.0, 1.7], dtype=torch.double)
    out, winners = score_aware_flow(q, k, v, beta, window=window, n_window_layers=n_layers,
                                    alpha=0.7, gamma=gamma, p=p)
    ref = _flow_reference(q, k, v, beta, window, n_layers, 0.7, gamma, p)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-10)
    assert winners.shape == (1, n_layers, 2, 9, 3) and winners.dtype == torch.bool


def test_flow_permutation_within_but_not_across_windows():
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(1, 1, 8, 4, generator=g) for _ in range(3))
    kw = dict(window=4, n_window_layers=1, alpha=0.9, gamma=2, p=2)
    beta = torch.ones(1)
    out, win = score_aware_flow(q, k, v, beta, **kw)
    within = torch.tensor([2, 0, 3, 1, 5, 7, 4, 6])          # shuffles inside each window
    outw, winw = score_aware_flow(q[:, :, within], k[:, :, within], v[:, :, within], beta, **kw)
    assert torch.allclose(outw, out[:, :, within], atol=1e-6)
    assert torch.equal(winw, win[:, :, :, within])
    across = torch.tensor([4, 1, 2, 3, 0, 5, 6, 7])          # swaps tokens 0 and 4
    outa, _ = score_aware_flow(q[:, :, across], k[:, :, across], v[:, :, across], beta, **kw)
    assert not torch.allclose(outa, out[:, :, across], atol=1e-4)


# ----------------------------------------------------------------------------- full models
@pytest.mark.parametrize("name", ["spt-glocal", "spt"])
@pytest.mark.parametrize("pool", ["mean", "cls"])
def test_gradients_reach_every_parameter(name, pool):
    torch.manual_seed(0)
    model = build(name, dict(TINY, pool=pool, dropout=0.0), n_pixels=30)
    x = torch.rand(6, 30)
    loss = (model(x) - torch.randn(6, 2)).pow(2).mean()
    loss.backward()
    for pname, prm in model.named_parameters():
        assert prm.grad is not None, pname
        assert torch.isfinite(prm.grad).all(), pname
        assert prm.grad.abs().sum() > 0, pname


def test_outputs_finite_gates_and_winners():
    model = build("spt-glocal", dict(TINY, n_outputs=5), n_pixels=37)     # 37 -> padded to 40
    model.eval()
    x = torch.rand(4, 37)
    y = model(x)
    assert y.shape == (4, 5) and torch.isfinite(y).all()
    assert torch.isfinite(model(torch.zeros(4, 37))).all()
    for blk in model.blocks:                  # gates stay in [0, 1] whatever the parameter
        with torch.no_grad():
            blk.attn.gate_logits.copy_(torch.tensor([60.0, -60.0]))
    gates = model.gates()
    assert gates.shape == (2, 2) and (gates >= 0).all() and (gates <= 1).all()
    model(x)
    frac = model.winner_fraction()
    assert frac.shape == (2, 4, 10) and (frac > 0).any() and (frac <= 1).all()
    masks = model.winner_masks()
    assert masks[0].shape == (4, 2, 2, 10, 8)
    spt = build("spt", TINY, n_pixels=37)
    assert torch.equal(spt.gates()[:, 1], torch.zeros(2))


def test_input_normalisation_buffers():
    torch.manual_seed(0)
    model = build("spt", TINY, n_pixels=30).eval()
    x = torch.rand(3, 30)
    mean, scale = torch.linspace(0.5, 1.0, 30), 0.2
    with torch.no_grad():
        ref = model((x - mean) / scale)
        model.set_input_normalisation(mean, scale)
        torch.testing.assert_close(model(x), ref)
    assert "input_mean" in model.state_dict() and "input_scale" in model.state_dict()
    with pytest.raises(ValueError, match="scale"):
        model.set_input_normalisation(mean, 0.0)
    with pytest.raises(ValueError, match="shape"):
        model.set_input_normalisation(mean[:5], 1.0)


def test_paper_config_parameter_count():
    with torch.device("meta"):          # shapes only: no 85 M-parameter initialisation
        model = build("spt-glocal", "paper", n_pixels=274)
        spt = build("spt", "paper", n_pixels=274)
    n = count_parameters(model)
    print(f"SPT-GloCal paper config: {n} trainable parameters (paper: ~85.2 M)")
    assert abs(n - 85.2e6) / 85.2e6 < 0.05
    # the shared Q/K/V projection means GloCal adds only 2 gates per block over SPT
    assert n - count_parameters(spt) == 2 * 12


def test_bad_inputs_raise():
    model = build("spt", TINY, n_pixels=20)
    with pytest.raises(ValueError, match="shape"):
        model(torch.rand(3, 21))
    with pytest.raises(ValueError, match="shape"):
        model(torch.rand(20))
    x = torch.rand(2, 20)
    x[0, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(x)
    with pytest.raises(TypeError):
        model(np.ones((2, 20)))
    with pytest.raises(ValueError, match="unknown model config key"):
        build("spt", {"dims": 3}, n_pixels=20)
    with pytest.raises(ValueError, match="unknown model"):
        build("vit", "cpu", n_pixels=20)
    with pytest.raises(ValueError, match="unknown model config"):
        build("spt", "huge", n_pixels=20)
    with pytest.raises(ValueError, match="divisible"):
        build("spt", dict(TINY, heads=3), n_pixels=20)
    with pytest.raises(ValueError):
        build("spt", "cpu", n_pixels=None)
    assert resolve_config({"base": "paper", "depth": 2})["dim"] == CONFIGS["paper"]["dim"]


def test_mc_dropout_spread():
    torch.manual_seed(0)
    x = np.random.default_rng(0).random((5, 30)).astype(np.float32)
    model = build("spt-glocal", dict(TINY, dropout=0.3), n_pixels=30)
    mean, std = mc_dropout_predict(model, x, T=8, seed=1)
    assert mean.shape == std.shape == (5, 2) and (std > 0).all()
    mean2, _ = mc_dropout_predict(model, x, T=8, seed=1)
    np.testing.assert_array_equal(mean, mean2)                  # seeded
    assert model.training                                       # mode restored
    det = build("spt", dict(TINY, dropout=0.0), n_pixels=30)
    m, s = mc_dropout_predict(det, x, T=3)
    np.testing.assert_allclose(s, 0, atol=1e-6)
    with torch.no_grad():
        det.eval()
        np.testing.assert_allclose(m, det(torch.as_tensor(x)).numpy(), atol=1e-5)


# ----------------------------------------------------------------------------- trees
TREE_SETTINGS = {"xgboost": dict(max_depth=3, colsample=1.0), "lightgbm": dict(num_leaves=8, colsample=1.0),
                 "catboost": dict(max_depth=3)}


@pytest.mark.parametrize("kind", ["xgboost", "lightgbm", "catboost"])
def test_tree_estimators_fit_save_load(kind, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((200, 12)).astype(np.float32)
    Y = np.stack([2 * X[:, 0] - X[:, 3], X[:, 5] ** 2], axis=1)
    model = estimator(kind, n_estimators=60, learning_rate=0.2, **TREE_SETTINGS[kind]).fit(X[:150], Y[:150])
    pred = model.predict(X[150:])
    assert pred.shape == (50, 2)
    for j in range(2):               # far better than predicting the training mean
        mse = np.mean((pred[:, j] - Y[150:, j]) ** 2)
        assert mse < 0.3 * np.var(Y[150:, j])
    model.save(tmp_path)
    assert not list(tmp_path.glob("*.pkl"))
    ext = {"xgboost": "json", "lightgbm": "txt", "catboost": "cbm"}[kind]
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        ["estimator.json", f"tree_{kind}_0.{ext}", f"tree_{kind}_1.{ext}"]
    again = load(tmp_path)
    np.testing.assert_array_equal(again.predict(X[150:]), pred)
    assert again.get_params() == model.get_params()


def test_tree_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown estimator"):
        estimator("randomforest")
    with pytest.raises(TypeError, match="unknown hyper-parameter.*depth.*valid"):
        estimator("xgboost", depth=3)
    with pytest.raises(TypeError, match="num_leaves"):
        estimator("catboost", num_leaves=8)              # a LightGBM setting
    with pytest.raises(ValueError, match="learning_rate"):
        estimator("lightgbm", learning_rate=0.0)
    with pytest.raises(ValueError, match="subsample"):
        estimator("xgboost", subsample=1.5)
    X = np.ones((4, 3))
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        estimator("xgboost").fit(X, np.ones(4))
    with pytest.raises(NotFittedError, match="not fitted"):
        estimator("xgboost").predict(np.ones((2, 3)))
    with pytest.raises(FileNotFoundError):
        load(tmp_path)
    (tmp_path / "estimator.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupt"):
        load(tmp_path)


def test_tree_files_are_checked_on_load(tmp_path):
    X = np.random.default_rng(1).random((40, 5))
    est = estimator("xgboost", n_estimators=5).fit(X, X[:, :2])
    est.save(tmp_path)
    (tmp_path / "tree_xgboost_1.json").unlink()
    with pytest.raises(FileNotFoundError, match="tree_xgboost_1.json"):
        load(tmp_path)
    (tmp_path / "tree_xgboost_1.json").write_text("garbage")
    with pytest.raises(ValueError, match="could not read xgboost"):
        load(tmp_path)
