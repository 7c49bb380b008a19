"""The lesson's collab models and the trainer's 1cycle, weight-decay and fast-path behaviour."""

import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from lesson5.analysis.interpret import pca
from lesson5.experiments.collab import CollabSettings, train
from lesson5.data.collab_data import collab_tensors
from lesson5.models.collab import (DotProductBias, EmbeddingMLP, GlobalMean, StackedDotProductBias,
                                   trunc_normal_embedding)
from lesson5.train.loop import Learner, Tensors


def random_data(n_users=30, n_items=40, n=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.stack([torch.randint(1, n_users, (n,), generator=g), torch.randint(1, n_items, (n,), generator=g)], 1)
    y = torch.randint(1, 6, (n,), generator=g).float()
    return Tensors(x[:448], y[:448], x[448:], y[448:])


def test_shapes_and_y_range_bounds():
    torch.manual_seed(0)
    model = DotProductBias(944, 1654, 40)
    assert model.u_weight.weight.shape == (944, 40) and model.i_bias.weight.shape == (1654, 1)
    assert model.user_factors.shape == (944, 40) and model.item_bias.shape == (1654,)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1000)  # push raw scores far beyond the sigmoid's knees
    x = torch.stack([torch.randint(0, 944, (256,)), torch.randint(0, 1654, (256,))], 1)
    out = model(x)
    assert out.shape == (256,) and out.min() >= 0 and out.max() <= 5.5
    assert EmbeddingMLP(944, 1654)(x).shape == (256,)
    assert torch.all(GlobalMean(3.5)(x) == 3.5)


def test_fastai_init_wraps_into_minus_two_two_times_001():
    torch.manual_seed(0)
    w = trunc_normal_embedding(5000, 40).weight
    assert w.abs().max() < 0.02 + 1e-7
    assert abs(float(w.detach().std()) - 0.0094) < 0.001  # std of N(0,1) fmod 2 is ~0.94


def test_embedding_lookup_equals_one_hot_matmul():
    emb = trunc_normal_embedding(20, 6)
    idx = torch.tensor([3, 0, 19, 3])
    one_hot = nn.functional.one_hot(idx, 20).float()
    assert torch.allclose(one_hot @ emb.weight, emb(idx))


def test_dot_product_formula():
    model = DotProductBias(3, 4, 2, y_range=(0, 5.5))
    x = torch.tensor([[1, 2]])
    u, i = model.u_weight.weight[1], model.i_weight.weight[2]
    expected = torch.sigmoid(u @ i + model.u_bias.weight[1, 0] + model.i_bias.weight[2, 0]) * 5.5
    assert torch.allclose(model(x), expected)
    assert torch.equal(model.item_bias[2], model.i_bias.weight[2, 0]) and torch.equal(model.item_factors[2], i)
    assert torch.equal(model.user_bias[1], model.u_bias.weight[1, 0]) and torch.equal(model.user_factors[1], u)


def test_one_cycle_schedule_start_peak_end():
    data = random_data()
    learner = Learner(DotProductBias(30, 40, 4), data, bs=16, device="cpu")
    learner.fit_one_cycle(10, 5e-3)
    it = pd.DataFrame(learner.iterations)
    n = len(it)
    assert n == 10 * (448 // 16)
    assert it.lr.iloc[0] == pytest.approx(5e-3 / 25)
    peak = it.lr.idxmax()
    assert it.lr.max() == pytest.approx(5e-3, rel=1e-3)
    assert abs(peak - 0.3 * n) <= 1
    assert it.momentum.iloc[0] == pytest.approx(0.95) and it.momentum.iloc[peak] == pytest.approx(0.85, abs=1e-3)
    # the last batch runs one step before the end of the cosine: close to max / 2.5e5
    assert it.lr.iloc[-1] < 5e-3 / 1e4 and it.momentum.iloc[-1] == pytest.approx(0.95, abs=1e-3)


def l2_vs_decoupled(opt, steps=5):
    """Train twice from the same start: decoupled decay wd vs L2 in the gradient; final params."""
    torch.manual_seed(0)
    start = DotProductBias(30, 40, 4).state_dict()
    results = []
    for mode in ("decoupled", "l2"):
        model = DotProductBias(30, 40, 4)
        model.load_state_dict(start)
        learner = Learner(model, random_data(), opt=opt, wd=0.1, wd_mode=mode, bs=32, device="cpu", seed=1)
        learner.fit(1, 1e-2)
        results.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    return results


def test_decoupled_wd_equals_l2_for_plain_sgd():
    decoupled, l2 = l2_vs_decoupled("sgd")
    assert torch.allclose(decoupled, l2, atol=1e-6)


def test_decoupled_wd_differs_from_l2_for_adam():
    decoupled, l2 = l2_vs_decoupled("adam")
    assert (decoupled - l2).abs().max() > 1e-3


def test_l2_in_the_loss_is_twice_the_gradient_l2_for_sgd():
    torch.manual_seed(0)
    start = DotProductBias(30, 40, 4).state_dict()
    out = []
    for mode, wd in (("loss", 0.05), ("l2", 0.1)):
        model = DotProductBias(30, 40, 4)
        model.load_state_dict(start)
        Learner(model, random_data(), opt="sgd", wd=wd, wd_mode=mode, bs=32, device="cpu", seed=1).fit(1, 1e-2)
        out.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.allclose(out[0], out[1], atol=1e-6)


@pytest.mark.parametrize("wd_mode, bias_wd, n_factors, y_range, bs, drop_last", [
    ("decoupled", True, 8, (0.0, 5.5), 16, True),
    ("l2", True, 8, (0.0, 5.5), 16, True),
    ("decoupled", False, 8, (0.0, 5.5), 16, True),
    ("decoupled", True, 0, (0.5, 5.5), 30, False),  # bias only, lo != 0, a last batch of 28
])
def test_stacked_seeds_train_exactly_like_separate_runs(wd_mode, bias_wd, n_factors, y_range, bs, drop_last):
    """K models stacked in one [K, n, k] model, one shuffle per seed, give each seed's separate run."""
    seeds = [3, 5, 11]

    def model(seed):
        torch.manual_seed(seed)
        return DotProductBias(30, 40, n_factors, y_range)

    kw = dict(wd=0.1, wd_mode=wd_mode, bias_wd=bias_wd, bs=bs, drop_last=drop_last, device="cpu")
    stacked = StackedDotProductBias([model(s) for s in seeds])
    together = Learner(stacked, random_data(), seed=seeds, **kw).fit_one_cycle(3, 1e-2)
    assert list(together.seed.unique()) == seeds
    for seed, trained in zip(seeds, stacked.unstack()):
        alone = Learner(model(seed), random_data(), seed=seed, **kw)
        history = alone.fit_one_cycle(3, 1e-2)
        mine = together[together.seed == seed].reset_index(drop=True)
        assert np.allclose(mine.valid_loss, history.valid_loss, atol=1e-6)
        assert np.allclose(mine.train_loss, history.train_loss, atol=1e-6)
        for a, b in zip(trained.parameters(), alone.model.parameters()):
            assert torch.allclose(a, b, atol=1e-6)


def test_stacked_models_differ_from_each_other():
    """The stacked seeds are independent models: different draws, different valid losses."""
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        models.append(DotProductBias(30, 40, 4))
    stacked = StackedDotProductBias(models)
    history = Learner(stacked, random_data(), seed=[0, 1], bs=16, device="cpu").fit_one_cycle(2, 1e-2)
    last = history[history.epoch == 2].valid_loss.to_numpy()
    assert last[0] != last[1]
    with pytest.raises(ValueError, match="same numbers"):
        StackedDotProductBias([DotProductBias(30, 40, 4), DotProductBias(31, 40, 4)])


def biases_after(bias_wd, wd, wd_mode="decoupled", opt="adam", lr=1e-2):
    """Train from one seeded start for one epoch; return (user biases, user factors)."""
    torch.manual_seed(0)
    model = DotProductBias(30, 40, 4)
    learner = Learner(model, random_data(), opt=opt, wd=wd, wd_mode=wd_mode, bias_wd=bias_wd, bs=32,
                      device="cpu", seed=1)
    learner.fit(1, lr)
    return model.user_bias.detach().clone(), model.user_factors.detach().clone()


@pytest.mark.parametrize("wd_mode, opt", [("decoupled", "adam"), ("l2", "adam"), ("loss", "adam"),
                                          ("decoupled", "sgd")])
def test_bias_wd_false_leaves_the_biases_out_of_decay(wd_mode, opt):
    """Without bias_wd the factors are decayed and the biases train (nearly) as with wd 0."""
    b_exempt, f_exempt = biases_after(False, 0.5, wd_mode, opt)
    b_none, f_none = biases_after(True, 0.0, wd_mode, opt)
    b_all, f_all = biases_after(True, 0.5, wd_mode, opt)
    assert not torch.allclose(f_exempt, f_none, atol=1e-4)  # the factors are decayed
    assert not torch.allclose(b_all, b_none, atol=1e-4)  # (the decay is strong enough to show)
    # a bias's gradient depends on the factors, so its path differs slightly from the no-decay run,
    # but far less than under full decay
    assert (b_exempt - b_none).abs().max() < 0.2 * (b_all - b_none).abs().max()


def test_decayed_params_leave_out_biases_and_norm_layers():
    from lesson5.train.optim import decayed_params

    mlp = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    params = list(mlp.parameters())
    assert decayed_params(mlp, params, bias_wd=True) == params
    assert decayed_params(mlp, params, bias_wd=False) == [mlp[0].weight, mlp[2].weight]
    dot = DotProductBias(5, 6, 3)
    assert decayed_params(dot, list(dot.parameters()), bias_wd=False) == [dot.u_weight.weight, dot.i_weight.weight]
    bias_only = DotProductBias(5, 6, 0)
    assert decayed_params(bias_only, list(bias_only.parameters()), bias_wd=False) == []


@pytest.mark.parametrize("swept", [[True, False], [False]])
def test_summary_has_the_lesson_decay_row_only_where_it_ran(swept):
    from lesson5.analysis.summary import COLLAB_LESSON_DECAY, COLLAB_MAIN, key_figures

    rmse = {False: 0.8886, True: 0.8903}
    bias_wd = pd.DataFrame([{"model": "dot", "bias_wd": b, "valid_rmse_mean": rmse[b], "valid_rmse_std": 0.0}
                            for b in swept])
    baselines = pd.DataFrame([{"model": "dot", "valid_rmse_mean": 0.8886, "valid_rmse_std": 0.0}])
    folds = pd.DataFrame({"split": ["u1", "mean", "std"], "valid_rmse": [0.9, 0.9, 0.0]})
    transfer = pd.DataFrame([{"budget": 5, "family": "scratch", "strategy": "scratch", "method": "scratch",
                              "error_rate_mean": 0.1, "error_rate_std": 0.0}])
    figures = key_figures(baselines, bias_wd, folds, pd.DataFrame({"accuracy": [0.86]}), transfer)
    assert figures[COLLAB_MAIN][0] == 0.8886
    if True in swept:
        assert list(figures)[:2] == [COLLAB_MAIN, COLLAB_LESSON_DECAY] and figures[COLLAB_LESSON_DECAY][0] == 0.8903
    else:
        assert COLLAB_LESSON_DECAY not in figures


def test_pca_finds_planted_directions_in_order():
    """Points spread along two known orthogonal directions (variance 9 and 1) plus small noise, offset
    from the origin: the first component is the wide direction, the second the narrow one, the
    projections are centred and uncorrelated, and they match an eigendecomposition of the covariance."""
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(10, 10)))[0]
    wide, narrow = rng.normal(0, 3, 500), rng.normal(0, 1, 500)
    x = 7.0 + np.outer(wide, basis[:, 0]) + np.outer(narrow, basis[:, 1]) + rng.normal(0, 0.01, (500, 10))
    proj = pca(x, 2)
    assert abs(np.corrcoef(proj[:, 0], wide)[0, 1]) > 0.999 and abs(np.corrcoef(proj[:, 1], narrow)[0, 1]) > 0.999
    assert np.allclose(proj.mean(0), 0, atol=1e-9) and abs(np.corrcoef(proj.T)[0, 1]) < 1e-8
    values, vectors = np.linalg.eigh(np.cov(x.T))
    top = vectors[:, ::-1][:, :2]
    assert np.allclose(np.abs(proj), np.abs((x - x.mean(0)) @ top), atol=1e-8)  # each axis up to its sign
    assert np.allclose(proj.var(0, ddof=1), values[::-1][:2])


def split_frame(tiny_ml):
    from lesson5.data.movielens import get_release
    from lesson5.data.schemas import parse_release
    from lesson5.data.splits import random_split

    ratings, items = parse_release(get_release("ml-100k"), tiny_ml / "u.data", tiny_ml / "u.item", tiny_ml / "u.user")
    return random_split(ratings.reset_index(drop=True), 0.2, 42), items


def test_categories_are_learned_on_train_only(tiny_ml):
    split, items = split_frame(tiny_ml)
    data = collab_tensors(split, "item", items)
    train_items = set(split.loc[~split.is_valid, "item"])
    assert data.n_items == len(train_items) + 1
    unseen = ~split.loc[split.is_valid, "item"].isin(train_items).to_numpy()
    assert (data.x_valid[:, 1].numpy() == 0).tolist() == unseen.tolist()
    assert data.x_train[:, 1].min() >= 1


@pytest.mark.parametrize("model", ["mean", "bias", "dot", "mlp"])
def test_training_is_deterministic_by_seed_and_learns(tiny_ml, model):
    split, items = split_frame(tiny_ml)
    settings = CollabSettings(model=model, n_factors=5, epochs=3, lr=1e-2, bs=32)
    first = train(split, items, settings, [7, 8])[1]
    second = train(split, items, settings, [7, 8])[1]
    assert [r.seed for r in first] == [7, 8]
    for a, b in zip(first, second):
        pd.testing.assert_frame_equal(a.history.drop(columns="seconds"), b.history.drop(columns="seconds"))
        assert math.isfinite(a.history.valid_rmse.iloc[-1])
    if model != "mean":
        assert not first[0].history.valid_rmse.equals(first[1].history.valid_rmse)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("analytic", [False, True])
def test_stacked_collab_trains_on_cuda_like_on_cpu(analytic):
    """(run by CI only where a GPU is present)"""
    from lesson5.models.collab_step import dot_step

    step = {"make_step": dot_step} if analytic else {}
    histories = []
    for device in ("cuda", "cpu"):
        models = []
        for seed in (0, 1):
            torch.manual_seed(seed)
            models.append(DotProductBias(30, 40, 8))
        learner = Learner(StackedDotProductBias(models), random_data(), wd=0.1, bs=16, device=device, seed=[0, 1],
                          **step)
        histories.append(learner.fit_one_cycle(2, 1e-2))
    assert np.allclose(histories[0].valid_loss, histories[1].valid_loss, atol=1e-4)


def test_lr_find_is_an_exponential_schedule_that_stops_at_divergence_and_restores_the_model():
    torch.manual_seed(0)  # no y_range: the raw dot product's loss is unbounded and can diverge
    learner = Learner(DotProductBias(30, 40, 4, y_range=None), random_data(), bs=16, device="cpu", seed=1)
    before = copy.deepcopy(learner.model.state_dict())
    sweep = learner.lr_find(1e-5, 10.0, num_it=60)
    # lr_i = start * (end / start)^(i / num_it), i = 0, 1, ...
    expected = [1e-5 * (10.0 / 1e-5) ** (i / 60) for i in range(len(sweep))]
    assert np.allclose(sweep.lr, expected, rtol=1e-9)
    assert len(sweep) < 60  # the smoothed loss passed 4x its best before lr 10: stopped
    assert sweep.smoothed_loss.iloc[-1] > 4 * sweep.smoothed_loss.min()
    assert all(torch.equal(a, b) for a, b in zip(before.values(), learner.model.state_dict().values()))
    assert learner.iterations == []  # the sweep is not part of the training record


@pytest.mark.parametrize("bias_wd", [False, True])
def test_lazy_adamw_equals_sparse_adam_with_lazy_decay(bias_wd):
    """The fast sparse optimizer against torch's SparseAdam plus the trainer's lazy decoupled decay
    (its reference): same parameters and moments after 1cycle (which cycles beta1), and rows no
    batch touched (users 20-29, items 30-39: never rated) keep their initial values in both."""
    data = random_data()
    keep = (data.x_train[:, 0] < 20) & (data.x_train[:, 1] < 30)
    data = Tensors(data.x_train[keep], data.y_train[keep], data.x_valid, data.y_valid)

    def trained(opt):
        torch.manual_seed(0)
        model = DotProductBias(30, 40, 8, sparse=True)
        learner = Learner(model, data, opt=opt, wd=0.3, wd_mode="decoupled", bias_wd=bias_wd, bs=16,
                          device="cpu", seed=1)
        history = learner.fit_one_cycle(3, 3e-2)
        return model, history

    torch.manual_seed(0)
    initial = DotProductBias(30, 40, 8, sparse=True)
    lazy, lazy_history = trained("lazy_adamw")
    reference, reference_history = trained("sparse_adam")
    assert np.allclose(lazy_history.valid_loss, reference_history.valid_loss, atol=1e-6)
    for (name, a), b, start in zip(lazy.named_parameters(), reference.parameters(), initial.parameters()):
        assert torch.allclose(a, b, atol=1e-6), name
        assert not torch.equal(a[:20 if "u_" in name else 30], start[:20 if "u_" in name else 30]), name
        assert torch.equal(a[20 if "u_" in name else 30:], start[20 if "u_" in name else 30:]), name


@pytest.mark.parametrize("opt, wd_mode, bias_wd, n_factors, y_range, bs, drop_last, form", [
    ("adam", "decoupled", False, 8, (0.0, 5.5), 16, True, "stacked"),
    ("adam", "l2", True, 8, (0.0, 5.5), 16, True, "stacked"),
    ("adam", "decoupled", True, 0, (0.5, 5.5), 30, False, "stacked"),  # bias only, lo != 0, a last batch of 28
    ("sgd", "l2", True, 8, (0.5, 5.5), 30, False, "stacked"),  # SGD: a gradient off by a factor shows (Adam hides it)
    ("sgd", "l2", True, 0, (0.0, 5.5), 16, True, "stacked"),
    ("sgd", "l2", True, 8, (0.5, 5.5), 30, False, "one"),  # one DotProductBias (the lr finder's model)
    ("lazy_adamw", "decoupled", False, 8, (0.5, 5.5), 30, False, "sparse"),  # large data: sparse gradients
    ("lazy_adamw", "decoupled", True, 0, (0.0, 5.5), 16, True, "sparse"),
])
def test_analytic_dot_step_equals_autograd(opt, wd_mode, bias_wd, n_factors, y_range, bs, drop_last, form):
    """The hand-derived gradient trains the model to autograd's numbers: every epoch's losses and
    every trained parameter, through 1cycle and both decays, for stacked seeds, one model, and
    sparse embeddings with lazy AdamW."""
    from lesson5.models.collab_step import dot_step

    seeds = [3, 5] if form == "stacked" else [3]

    def fitted(**step):
        models = []
        for seed in seeds:
            torch.manual_seed(seed)
            models.append(DotProductBias(30, 40, n_factors, y_range, sparse=form == "sparse"))
        model = StackedDotProductBias(models) if form == "stacked" else models[0]
        learner = Learner(model, random_data(), opt=opt, wd=0.1, wd_mode=wd_mode, bias_wd=bias_wd, bs=bs,
                          drop_last=drop_last, device="cpu", seed=seeds if form == "stacked" else seeds[0], **step)
        lr = 0.5 if opt == "sgd" else 1e-2
        return learner.fit_one_cycle(3, lr), model, pd.DataFrame(learner.iterations)

    (h_auto, m_auto, it_auto), (h_fast, m_fast, it_fast) = fitted(), fitted(make_step=dot_step)
    for column in ("train_loss", "valid_loss"):
        assert np.allclose(h_auto[column], h_fast[column], atol=1e-6)
    assert np.allclose(it_auto.loss, it_fast.loss, atol=1e-6)
    for a, b in zip(m_auto.parameters(), m_fast.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_analytic_dot_step_says_when_autograd_serves_instead(caplog):
    """Another loss, a decay the trainer applies, or a model that is not the stacked dot product
    leave the analytic step: the log says why, and the run still trains (through autograd)."""
    from lesson5.models.collab_step import dot_step

    def stacked():
        torch.manual_seed(0)
        return StackedDotProductBias([DotProductBias(30, 40, 4)])

    cases = [(dict(model=stacked(), loss_func=nn.L1Loss()), "L1Loss"),
             (dict(model=stacked(), wd_mode="loss"), "weight decay 'loss'"),
             (dict(model=EmbeddingMLP(30, 40), seed=0), "EmbeddingMLP"),
             (dict(model=DotProductBias(30, 40, 4, sparse=True), seed=0, opt="sparse_adam"), "SparseAdam")]
    for kw, why in cases:
        kw = {"seed": [0], **kw}
        caplog.clear()
        with caplog.at_level("INFO", logger="lesson5.models.collab_step"):
            history = Learner(data=random_data(), bs=16, device="cpu", make_step=dot_step, **kw).fit(1, 1e-2)
        assert "analytic collab step not used" in caplog.text and why in caplog.text
        assert math.isfinite(history.valid_loss.iloc[-1])


def test_embedding_mlp_is_built_by_fastai_v1s_block_rule():
    """TabularModel: zip(sizes[:-1], sizes[1:], [0.] + ps, actns) through bn_drop_lin, BN on every block
    but the first, no Dropout where p is 0, ReLU after every Linear but the last."""
    from torch import nn

    def kinds(model):
        return [(type(m).__name__, getattr(m, "p", None) or getattr(m, "num_features", None) or
                 getattr(m, "out_features", None)) for m in model.mlp]

    one = EmbeddingMLP(944, 1654, layers=(100,), ps=(0.3,))
    width = one.user_emb.embedding_dim + one.item_emb.embedding_dim
    assert kinds(one) == [("Linear", 100), ("ReLU", None), ("BatchNorm1d", 100), ("Dropout", 0.3), ("Linear", 1)]
    assert one.mlp[0].in_features == width
    two = EmbeddingMLP(944, 1654, layers=(200, 50), ps=(0.0, 0.2))
    assert kinds(two) == [("Linear", 200), ("ReLU", None), ("BatchNorm1d", 200), ("Linear", 50), ("ReLU", None),
                          ("BatchNorm1d", 50), ("Dropout", 0.2), ("Linear", 1)]
    assert not any(isinstance(m, nn.Dropout) for m in EmbeddingMLP(30, 40, ps=(0.0,)).mlp)
