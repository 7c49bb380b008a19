"""The label-budget transfer experiment: sampling, lr picks, probes, strategies, aggregation."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from lesson5.analysis.probe import pooled_features, probe_error
from lesson5.analysis.transfer import budget_table, paired_differences, probe_paired, selection_edges, sign_test_p
from lesson5.data.budgets import budget_indices, relabel, valid_indices
from lesson5.errors import PipelineError
from lesson5.data.image_tasks import RandomAffine, TaskData, joint_task, source_task, target_tasks
from lesson5.experiments.transfer import (BudgetResult, Finetune, LearningRates, body_source, finetune_budget,
                                          finetune_from_body, select_by_dev, stage_epochs)
from lesson5.experiments.transfer_plan import dev_per_class, lead_strategy, lr_select_params
from lesson5.train.lr import suggest_lr


def labels(n_per_class=40, classes=10, seed=0):
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(classes), n_per_class))


def test_budgets_are_nested_class_balanced_and_differ_between_seeds():
    y = labels()
    picks = budget_indices(y, [5, 6, 7], [2, 5, 10], seed=3)
    for small, large in ((2, 5), (5, 10)):
        assert set(picks[small]) <= set(picks[large])  # nested: a larger budget adds labels
    for budget, index in picks.items():
        assert sorted(np.bincount(y[index], minlength=10)[[5, 6, 7]]) == [budget] * 3
        assert set(y[index]) == {5, 6, 7}
    assert np.array_equal(picks[10], budget_indices(y, [5, 6, 7], [2, 5, 10], seed=3)[10])  # deterministic
    assert not np.array_equal(picks[5], budget_indices(y, [5, 6, 7], [2, 5, 10], seed=4)[5])  # per seed
    with pytest.raises(PipelineError, match="fewer than the budget of 50"):
        budget_indices(y, [5], [50], seed=0)


def test_target_tasks_draw_train_and_valid_from_their_own_splits():
    """Every image is unique (it encodes its own index): no validation image is a training image,
    the validation set is the same for every seed and budget, and labels are renumbered 0..k-1."""
    y_train, y_valid = labels(20), labels(10, seed=1)
    ids = np.arange(len(y_train) + len(y_valid))
    images = np.stack([np.full((28, 28), 0, np.uint8) for _ in ids])
    images[:, 0, :2] = np.stack([ids // 256, ids % 256], 1)
    arrays = {"x_train": images[:len(y_train)], "y_train": y_train,
              "x_valid": images[len(y_train):], "y_valid": y_valid}
    tasks = target_tasks(arrays, [5, 9], [2, 4], [0, 1], valid_per_class=3, valid_seed=7, size=28)
    valid = tasks[0][2].x_valid
    for seed in (0, 1):
        for budget in (2, 4):
            task = tasks[seed][budget]
            assert torch.equal(task.x_valid, valid)
            train_keys = {tuple(row) for row in task.x_train[:, 0, 0, :2].tolist()}
            assert not train_keys & {tuple(row) for row in valid[:, 0, 0, :2].tolist()}
            assert sorted(task.y_train.tolist()) == [0] * budget + [1] * budget
    assert sorted(tasks[0][2].y_valid.tolist()) == [0, 0, 0, 1, 1, 1]
    assert set(tasks[0][2].index) <= set(tasks[0][4].index)
    with pytest.raises(PipelineError, match="fewer than the 50 validation images"):
        valid_indices(y_valid, [5], 50, 0)
    with pytest.raises(PipelineError, match="outside the classes"):
        relabel(np.array([1, 2]), [1])


def test_a_joint_source_task_keeps_every_image_and_numbers_each_task_s_classes_after_the_last():
    """The mixed body's source: the fractals' classes first, then the dataset's source classes."""
    rng = np.random.default_rng(0)

    def arrays(classes, n_train, n_valid):
        part = lambda n: (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.choice(classes, n))  # noqa: E731
        (x_train, y_train), (x_valid, y_valid) = part(n_train), part(n_valid)
        return {"x_train": x_train, "y_train": y_train, "x_valid": x_valid, "y_valid": y_valid}

    fractals, dataset = arrays([0, 1, 2], 12, 6), arrays([4, 7, 8, 9], 20, 8)
    a, b = source_task(fractals, None, 28), source_task(dataset, [7, 9], 28)
    joint = joint_task([a, b])
    assert joint.classes == [0, 1, 2, 3, 4] and len(joint.y_train) == len(a.y_train) + len(b.y_train)
    assert torch.equal(joint.x_train, torch.cat([a.x_train, b.x_train]))
    assert torch.equal(joint.y_train, torch.cat([a.y_train, b.y_train + 3]))
    assert torch.equal(joint.y_valid, torch.cat([a.y_valid, b.y_valid + 3]))
    assert set(joint.y_valid[len(a.y_valid):].tolist()) <= {3, 4}
    assert joint_task([b]) is b
    sources = {"fractal": fractals, "classes": dataset}
    named = {"mixed": "3 fractal classes + fashion_mnist classes [7, 9]", "fractal": "3 fractal classes",
             "classes": "fashion_mnist classes [7, 9]"}
    for body, expected in (("mixed", joint), ("fractal", a), ("classes", b)):  # what BODY_SOURCES says each learns
        task, name = body_source(body, sources, "fashion_mnist", [7, 9], 28)
        assert torch.equal(task.x_train, expected.x_train) and torch.equal(task.y_valid, expected.y_valid), body
        assert name == named[body]


def test_the_dev_set_is_held_out_beside_the_validation_set_and_leaves_it_as_it_was():
    y_train, y_valid = labels(20), labels(10, seed=1)
    ids = np.arange(len(y_train) + len(y_valid))
    images = np.zeros((len(ids), 28, 28), np.uint8)
    images[:, 0, :2] = np.stack([ids // 256, ids % 256], 1)
    arrays = {"x_train": images[:len(y_train)], "y_train": y_train,
              "x_valid": images[len(y_train):], "y_valid": y_valid}
    plain = target_tasks(arrays, [5, 9], [2], [0], valid_per_class=3, valid_seed=7, size=28)
    tasks = target_tasks(arrays, [5, 9], [2, 4], [0, 1], valid_per_class=3, valid_seed=7, size=28, dev_per_class=4)
    assert plain[0][2].x_dev is None
    task = tasks[0][2]
    assert torch.equal(task.x_valid, plain[0][2].x_valid)  # asking for a dev set changes no validation image

    def keys(x):
        return {tuple(row) for row in x[:, 0, 0, :2].tolist()}

    assert len(keys(task.x_dev)) == 8 and sorted(task.y_dev.tolist()) == [0] * 4 + [1] * 4
    assert not keys(task.x_dev) & keys(task.x_valid)
    assert not keys(task.x_dev) & keys(tasks[1][4].x_train)
    assert torch.equal(tasks[1][4].x_dev, task.x_dev)  # one dev set for every seed and budget
    with pytest.raises(PipelineError, match="fewer than the 13 validation and dev images"):
        target_tasks(arrays, [5, 9], [2], [0], valid_per_class=3, valid_seed=7, size=28, dev_per_class=10)


def synthetic_sweep(lrs, best=1e-2):
    """A finder-like curve: flat, then falling to its lowest at ``best``, then exploding."""
    x = np.log10(lrs)
    loss = 2.0 - 0.8 * np.exp(-((x - np.log10(best)) ** 2) / 0.5) + np.where(x > np.log10(best) + 0.5,
                                                                               (x - np.log10(best) - 0.5) ** 3, 0)
    return pd.DataFrame({"lr": lrs, "smoothed_loss": loss})


def test_lr_pick_rules_on_a_synthetic_curve():
    lrs = np.logspace(-7, 1, 100)
    sweep = synthetic_sweep(lrs, best=1e-2)
    assert suggest_lr(sweep, "minimum/10") == pytest.approx(1e-3, rel=0.25)
    steepest = suggest_lr(sweep, "steepest")
    assert 1e-4 < steepest < 1e-2  # on the falling side, before the minimum
    slope = np.gradient(sweep.smoothed_loss, np.log10(lrs))
    assert steepest == pytest.approx(lrs[10:95][np.argmin(slope[10:95])])
    assert suggest_lr(sweep, "rise/10") == pytest.approx(suggest_lr(sweep, "minimum/10"), rel=2.5)
    with pytest.raises(PipelineError, match="unknown lr pick"):
        suggest_lr(sweep, "valley")


@pytest.mark.parametrize("noise", [0.02, 0.15])
def test_rise_rule_reads_a_flat_then_rising_curve(noise):
    """A body unfrozen after its head trained: a flat, noisy loss (drifting up a little) that rises
    from 3e-4, smoothed as the lr finder smooths it (its moving average lags the rise by about a
    decade). The minimum sits in the flat part, so minimum/10 picks noise; rise/10 lands near the
    rise's start, also when the per-batch noise is near a real batch of 64's (0.15 here; 0.19 at 250 labels),
    where a 5% threshold reads the noise as the rise."""
    from lesson5.train.smoothing import smooth

    lrs = np.logspace(-7, 0, 100)
    raw = 0.45 + 0.002 * np.log10(lrs / 1e-7) + noise * np.random.default_rng(3).standard_normal(100)
    raw += np.where(lrs > 3e-4, 0.3 * np.log10(lrs / 3e-4), 0)
    sweep = pd.DataFrame({"lr": lrs, "smoothed_loss": smooth(raw)})
    assert suggest_lr(sweep, "minimum/10") < 1e-5  # the minimum rule picks the noise
    assert 1e-4 < suggest_lr(sweep, "rise/10") < 1e-3
    if noise > 0.1:
        assert suggest_lr(sweep, "rise/10", rise=0.05) < 1e-6


class ToyBody(nn.Sequential):
    """Eight children like a ResNet body's (stem x4, layer1..4), all keeping the image as it is."""

    def __init__(self):
        super().__init__(*[nn.Identity() for _ in range(8)])


def test_probe_separates_what_a_linear_model_can_and_not_what_it_cannot():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(60) % 3
    x = torch.randn(60, 3, 4, 4, generator=g) * 0.1
    x[torch.arange(60), y] += 1.0  # the class lights up its own channel: linearly separable pooled features
    features = pooled_features(ToyBody(), x)
    assert set(features) == {"layer2", "layer3", "layer4"} and features["layer4"].shape == (60, 6)
    train, valid = slice(0, 30), slice(30, 60)
    assert probe_error(features["layer4"][train], y[train].numpy(), features["layer4"][valid], y[valid].numpy()) == 0
    shuffled = y[torch.randperm(60, generator=g)].numpy()  # labels unrelated to the images
    assert probe_error(features["layer4"][train], shuffled[train], features["layer4"][valid], shuffled[valid]) > 0.3


def hand_made_runs():
    rows = []
    diffs = {5: [-0.2, -0.1, -0.15, -0.05, -0.1], 50: [0.02, -0.01, 0.03, -0.02, 0.0], 250: [0.05] * 5}
    for budget, ds in diffs.items():
        for seed, d in enumerate(ds):
            rows += [{"budget": budget, "seed": seed, "family": "scratch", "strategy": "scratch", "error_rate": 0.3},
                     {"budget": budget, "seed": seed, "family": "classes", "strategy": "discriminative",
                      "error_rate": 0.3 + d}]
    return pd.DataFrame(rows)


def test_paired_differences_and_verdicts_on_a_hand_made_table():
    paired = paired_differences(hand_made_runs()).set_index("budget")
    assert paired.loc[5, "mean"] == pytest.approx(-0.12) and paired.loc[5, "wins"] == 5
    assert paired.loc[5, "p"] == pytest.approx(1 / 32)
    assert "discriminative, classes body beats scratch" in paired.loc[5, "verdict"]
    assert "5 of 5 seeds" in paired.loc[5, "verdict"]
    assert "does not clearly beat" in paired.loc[50, "verdict"] and paired.loc[50, "wins"] == 2
    assert "loses to" in paired.loc[250, "verdict"] and paired.loc[250, "std"] == pytest.approx(0.0)
    assert paired.outcome.tolist() == ["beats", "does not clearly beat", "loses to"]
    assert paired.loc[5, "differences"] == "-0.200 -0.100 -0.150 -0.050 -0.100"
    assert sign_test_p(4, 5) == pytest.approx(6 / 32)


def test_probe_paired_compares_each_body_with_the_random_one_per_layer_and_seed():
    errors = {"fractal": {"layer2": [0.1, 0.2, 0.1, 0.2, 0.1], "layer3": [0.5] * 5},
              "random": {"layer2": [0.3] * 5, "layer3": [0.4, 0.6, 0.6, 0.6, 0.6]}}
    probes = pd.DataFrame([{"body": body, "layer": layer, "budget": 5, "seed": seed, "error_rate": e}
                           for body, layers in errors.items() for layer, es in layers.items()
                           for seed, e in enumerate(es)])
    paired = probe_paired(probes).set_index("a")
    layer2, layer3 = (paired.loc[f"linear probe, fractal body ({layer})"] for layer in ("layer2", "layer3"))
    assert layer2.b == "linear probe, random body (layer2)" and layer2.wins == 5 and layer2.outcome == "beats"
    assert layer2["mean"] == pytest.approx(-0.16)
    assert layer3.wins == 4 and layer3.differences == "+0.100 -0.100 -0.100 -0.100 -0.100"  # seed by seed
    assert layer3.outcome == "does not clearly beat" and layer3.p == pytest.approx(6 / 32)
    assert "random body" not in " ".join(paired.index)  # the random body is only ever the baseline


def test_budget_table_puts_strategies_and_probes_side_by_side():
    runs = hand_made_runs()
    probes = pd.DataFrame([{"body": b, "layer": layer, "budget": 5, "seed": s, "error_rate": e}
                           for b, e in (("classes", 0.4), ("random", 0.2)) for layer in ("layer3", "layer4")
                           for s in range(5)])
    table = budget_table(runs, probes).set_index(["budget", "method"])
    assert table.loc[(5, "discriminative, classes body"), "error_rate_mean"] == pytest.approx(0.18)
    assert table.loc[(5, "linear probe, random body (layer4)"), "error"] == "0.200 ± 0.000"
    assert (5, "linear probe, classes body (layer3)") not in table.index
    assert table.loc[(250, "scratch"), "n_seeds"] == 5
    assert table.frozen_error_rate_mean.isna().all()  # no frozen stage in these runs
    runs["frozen_error_rate"] = [None if s == "scratch" else 0.8 - 0.1 * (seed % 2)
                                 for s, seed in zip(runs.strategy, runs.seed)]
    table = budget_table(runs, probes).set_index(["budget", "method"])
    assert table.loc[(5, "discriminative, classes body"), "frozen_error_rate_mean"] == pytest.approx(0.76)
    assert table.loc[[(5, "scratch"), (5, "linear probe, random body (layer4)")], "frozen_error_rate_mean"].isna().all()
    assert list(table.columns[-3:]) == ["frozen_error_rate_mean", "n_seeds", "error"]


def tiny_task(seed=0, n=12):
    g = torch.Generator().manual_seed(seed)
    return TaskData(torch.randn(n, 3, 32, 32, generator=g), torch.arange(n) % 3,
                    torch.randn(6, 3, 32, 32, generator=g), torch.arange(6) % 3, [0, 1, 2], np.arange(n))


FIXED = Finetune(bs=4, frozen_epochs=1, unfrozen_epochs=1, min_steps=2, lr=1e-3, lr_slice=[1e-5, 1e-3],
                 scratch_lr=1e-3)


def test_a_branch_of_the_shared_frozen_stage_is_the_strategy_run_alone():
    together = finetune_from_body(tiny_task(), "scratch", FIXED, 4, 1, "cpu",
                                  ["head_only", "discriminative", "unfrozen_high_lr"])
    alone = finetune_from_body(tiny_task(), "scratch", FIXED, 4, 1, "cpu", ["discriminative"])
    assert [r["strategy"] for r in together.runs] == ["head_only", "discriminative", "unfrozen_high_lr"]
    assert together.lrs.columns() == {"head_lr": 1e-3, "slice_lo": 1e-5, "slice_hi": 1e-3}
    mine = next(r for r in together.runs if r["strategy"] == "discriminative")
    assert mine["error_rate"] == alone.runs[0]["error_rate"] and mine["valid_loss"] == alone.runs[0]["valid_loss"]
    assert len({r["frozen_error_rate"] for r in together.runs}) == 1  # one frozen stage, three continuations
    counts = together.confusions[0]
    assert counts["count"].sum() == 6 and len(counts) == 9


def test_precise_bn_stats_change_what_every_strategy_scores_and_not_how_it_trains():
    """finetune.bn_stats reaches each run's learner; precise recomputes BatchNorm's statistics after each
    stage, so every run is scored anew while its training losses stay the same."""
    strategies = ["head_only", "discriminative", "unfrozen_high_lr"]
    running_ft = Finetune(**{**FIXED.__dict__, "bn_stats": "running"})
    running = finetune_from_body(tiny_task(), "scratch", running_ft, 4, 1, "cpu", strategies)
    assert FIXED.bn_stats == "precise" and FIXED.learner(tiny_task(), "scratch", 1, "cpu").precise_bn
    assert not running_ft.learner(tiny_task(), "scratch", 1, "cpu").precise_bn
    precise = finetune_from_body(tiny_task(), "scratch", FIXED, 4, 1, "cpu", strategies)
    for a, b in zip(running.runs, precise.runs):
        assert a["valid_loss"] != b["valid_loss"], a["strategy"]
    pd.testing.assert_frame_equal(pd.concat(running.iterations), pd.concat(precise.iterations))
    common = {"lr_find": {}, "precision": "fp32", "conv": "plain", "cut": "layer4"}
    assert Finetune.from_config(common | {"finetune": {"bn_stats": "running"}}).bn_stats == "running"


def test_lr_finder_picks_the_lrs_once_per_budget_and_a_finished_seed_is_not_rerun():
    ft = Finetune(**{**FIXED.__dict__, "lr": "auto", "lr_slice": "auto", "scratch_lr": "auto",
                     "finder": {"start_lr": 1e-6, "end_lr": 1.0, "num_it": 12,
                                "pick": {"frozen": "minimum/10", "unfrozen": "rise/10"}}})
    tasks = {0: tiny_task(0), 1: tiny_task(1)}
    saved = {}
    full = finetune_budget("classes", tasks, "scratch", ft, 4, "cpu", ["discriminative"],
                           on_seed=lambda seed, r: saved.setdefault(seed, r))
    assert sorted(set(pd.concat(full.sweeps).finder)) == ["frozen", "unfrozen"]  # on the first seed only
    assert len({(r["head_lr"], r["slice_hi"]) for r in full.runs}) == 1
    resumed = finetune_budget("classes", tasks, "scratch", ft, 4, "cpu", ["discriminative"],
                              done={0: saved[0]})
    assert pd.DataFrame(resumed.runs).drop(columns="seconds").equals(pd.DataFrame(full.runs).drop(columns="seconds"))
    scratch = finetune_budget("scratch", tasks, None, ft, 4, "cpu", ["scratch"])
    assert list(pd.concat(scratch.sweeps).finder.unique()) == ["scratch"]
    given = finetune_budget("classes", tasks, "scratch", ft, 4, "cpu", ["discriminative"], lrs=full.lrs)
    assert given.sweeps == [] and given.lrs == full.lrs  # no finder ran: every seed at the lrs it was given
    assert pd.DataFrame(given.runs).drop(columns="seconds").equals(pd.DataFrame(full.runs).drop(columns="seconds"))


def with_dev(task: TaskData, seed: int) -> TaskData:
    g = torch.Generator().manual_seed(100 + seed)
    task.x_dev, task.y_dev = torch.randn(9, 3, 32, 32, generator=g), torch.arange(9) % 3
    return task


def test_dev_selection_keeps_the_scale_with_the_lowest_dev_error_for_every_seed():
    ft = Finetune(**{**FIXED.__dict__, "scales": (0.1, 1.0, 10.0)})
    tasks = {0: with_dev(tiny_task(0), 0), 1: with_dev(tiny_task(1), 1)}
    saved = {}
    full = finetune_budget("classes", tasks, "scratch", ft, 4, "cpu", ["head_only", "discriminative"],
                           on_seed=lambda seed, r: saved.setdefault(seed, r))
    tried = pd.DataFrame(full.selection)
    assert sorted(tried.lr_scale.unique()) == pytest.approx([0.1, 1.0, 10.0])
    assert set(tried.seed) == {0} and len(tried) == 6  # three scales, two strategies, first seed only
    lead = tried[tried.strategy == "discriminative"]
    kept = lead[lead.chosen]
    assert len(kept) == 1 and kept.dev_error_rate.iloc[0] == lead.dev_error_rate.min()
    scale = kept.lr_scale.iloc[0]
    runs = pd.DataFrame(full.runs)
    assert (runs.lr_scale == scale).all() and np.allclose(runs.head_lr, 1e-3)  # head: finder, the slice scales
    assert runs.slice_hi.iloc[0] == pytest.approx(1e-3 * scale) and runs.slice_lo.iloc[0] == pytest.approx(1e-5 * scale)
    first = runs[(runs.seed == 0) & (runs.strategy == "discriminative")].iloc[0]
    assert first.error_rate == kept.error_rate.iloc[0]  # the kept run is seed 0's run, not trained again
    resumed = finetune_budget("classes", tasks, "scratch", ft, 4, "cpu", ["head_only", "discriminative"],
                              done={0: saved[0]})
    assert pd.DataFrame(resumed.selection).equals(tried)
    assert pd.DataFrame(resumed.runs).drop(columns="seconds").equals(runs.drop(columns="seconds"))
    with pytest.raises(PipelineError, match="needs a dev set"):
        finetune_budget("scratch", {0: tiny_task(0)}, None, ft, 4, "cpu", ["scratch"])


@pytest.mark.parametrize("extend, tried, kept, edge", [
    (0, [1 / 3, 1, 3], 3, True),
    (1, [1 / 3, 1, 3, 9], 9, True),
    (2, [1 / 3, 1, 3, 9, 27], 9, False),  # stops once the best lies inside
    (5, [1 / 3, 1, 3, 9, 27], 9, False),
])
def test_dev_selection_steps_past_the_grid_edge_while_the_best_sits_on_it(extend, tried, kept, edge):
    """A dev error lowest at 9 times the finder's lrs, on the grid 1/3, 1, 3."""
    def run(lrs):
        lrs = lrs or LearningRates(head=1e-3)
        error = abs(np.log(lrs.scale / 9)) / 10
        return BudgetResult(runs=[{"budget": 5, "seed": 0, "strategy": "scratch", "lr_scale": lrs.scale,
                                   "dev_error_rate": error, "dev_loss": error, "error_rate": error}], lrs=lrs)

    ft = Finetune(scales=(1 / 3, 1.0, 3.0), extend=extend, scale_head=True)
    best = select_by_dev(run, ft, "scratch")
    table = pd.DataFrame(best.selection).assign(family="scratch")
    assert table.lr_scale.tolist() == pytest.approx(tried)
    assert best.lrs.scale == pytest.approx(kept) and best.lrs.head == pytest.approx(1e-3 * kept)
    assert table[table.chosen].lr_scale.tolist() == pytest.approx([kept])
    assert len(selection_edges(table)) == int(edge)


def test_the_lead_strategy_and_the_params_of_lr_selection():
    assert lead_strategy("scratch", ["scratch"]) == "scratch"
    assert lead_strategy("fractal", ["head_only", "discriminative"]) == "discriminative"
    assert lead_strategy("fractal", ["unfrozen_high_lr", "head_only"]) == "head_only"
    assert LearningRates(1e-3, (1e-5, 1e-3)).scaled(3).slice == pytest.approx((3e-5, 3e-3))
    kept_head = LearningRates(1e-3, (1e-5, 1e-3), scale=2).scaled(3, head=False)
    assert kept_head.head == 1e-3 and kept_head.slice == pytest.approx((3e-5, 3e-3)) and kept_head.scale == 6
    dev = {"lr_select": {"by": "dev", "scales": [0.5, 1, 2], "head": "finder", "dev_per_class": 7}}
    finder = {"lr_select": {"by": "finder", "scales": [0.5, 1, 2], "head": "finder", "dev_per_class": 7}}
    assert lr_select_params(finder, "fractal") == {"by": "finder"}  # scales unread: changing them reruns nothing
    assert lr_select_params(dev, "fractal") == dev["lr_select"]
    assert "head" not in lr_select_params(dev, "scratch")  # one lr: the head's scaling is not scratch's
    assert dev_per_class(dev) == 7 and dev_per_class({"lr_select": lr_select_params(finder, "classes")}) == 0
    common = {"finetune": {}, "lr_find": {}, "precision": "fp32", "conv": "plain", "cut": "layer4"}
    assert Finetune.from_config(common | dev).scales == (0.5, 1, 2)
    assert not Finetune.from_config(common | dev).scale_head
    assert Finetune.from_config(common | finder).scales == (1.0,)
    assert not Finetune.from_config(common | {"lr_select": {"by": "dev", "scales": [1, 2]}}).scale_head
    assert Finetune.from_config(common | {"lr_select": {"by": "dev", "scales": [1, 2], "head": "scaled"}}).scale_head


def test_with_the_head_at_the_finder_s_pick_the_scales_move_the_slice_alone():
    """lr_select.head: finder: every candidate trains the head at the base lr; the slice scales."""
    seen = []

    def run(lrs):
        lrs = lrs or LearningRates(head=1e-2, slice=(1e-6, 1e-4))
        seen.append(lrs)
        error = abs(np.log(lrs.scale / 3)) / 10
        return BudgetResult(runs=[{"budget": 5, "seed": 0, "strategy": "discriminative", "lr_scale": lrs.scale,
                                   "dev_error_rate": error, "dev_loss": error, "error_rate": error}], lrs=lrs)

    best = select_by_dev(run, Finetune(scales=(1 / 3, 1.0, 3.0), extend=1, scale_head=False), "discriminative")
    assert [lrs.head for lrs in seen] == [1e-2] * 4 and best.lrs.head == 1e-2
    assert [lrs.slice[1] for lrs in seen] == pytest.approx([1e-4, 1e-4 / 3, 3e-4, 9e-4])
    assert best.lrs.scale == pytest.approx(3) and best.lrs.slice == pytest.approx((3e-6, 3e-4))


def test_random_affine_draws_per_image_from_the_seed_and_its_identity_changes_nothing_but_flips():
    x = torch.randn(16, 3, 28, 28).contiguous(memory_format=torch.channels_last)
    aug = RandomAffine()
    torch.manual_seed(0)
    a = aug(x)
    torch.manual_seed(0)
    assert torch.equal(a, aug(x))  # the seed decides
    assert a.shape == x.shape and a.is_contiguous(memory_format=torch.channels_last)
    moved = (a - x).abs().flatten(1).mean(1)
    assert (moved > 0.05).all()  # every image changed, each by its own draw
    assert len(set(moved.round(decimals=4).tolist())) == len(x)
    torch.manual_seed(1)
    flips_only = RandomAffine(degrees=0.0, scale=(1.0, 1.0), translate=0.0)(x)
    as_is = torch.isclose(flips_only, x, atol=1e-5).flatten(1).all(1)
    flipped = torch.isclose(flips_only, x.flip(-1), atol=1e-5).flatten(1).all(1)
    assert (as_is ^ flipped).all() and as_is.any() and flipped.any()


def test_random_affine_zooms_and_shifts_as_asked():
    x = torch.zeros(1, 1, 28, 28)
    x[..., 12:16, 12:16] = 1.0  # a centred square
    torch.manual_seed(0)
    zoomed = RandomAffine(degrees=0.0, scale=(2.0, 2.0), translate=0.0)(x)
    assert float(zoomed.sum()) == pytest.approx(4 * float(x.sum()), rel=0.05)  # twice the side: four times the area
    shifted = RandomAffine(degrees=0.0, scale=(1.0, 1.0), translate=0.25)(x)
    assert torch.isclose(shifted.sum(), x.sum(), rtol=0.05) and not torch.allclose(shifted, x)


def test_tiny_budgets_get_at_least_min_steps():
    assert stage_epochs(4, n_batches=1, min_steps=20) == 20
    assert stage_epochs(4, n_batches=8, min_steps=20) == 4
    assert stage_epochs(2, n_batches=3, min_steps=20) == 7


def test_best_of_a_sweep_and_its_grid_edge_even_with_repeated_index_labels():
    from lesson5.analysis.sweeps import edge_optima, mark_best

    grids = pd.concat([pd.DataFrame({"opt": o, "lr": [0.01, 0.1, 1.0], "valid_loss": loss})
                       for o, loss in (("sgd", [0.5, 0.4, 0.6]), ("adam", [0.3, 0.4, 0.9]))])  # index 0,1,2 twice
    marked = mark_best(grids, "lr", "valid_loss", by=["opt"])
    assert marked.best.sum() == 2
    assert marked[marked.best].set_index("opt").lr.to_dict() == {"sgd": 0.1, "adam": 0.01}
    assert marked[marked.best_on_edge].opt.tolist() == ["adam"]
    lines = edge_optima(marked, "lr grid", "lr", by=["opt"])
    assert len(lines) == 1 and "opt adam" in lines[0] and "smallest" in lines[0]
