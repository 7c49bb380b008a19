"""The transfer stage's plan: families, the jobs and their strategies, what each rule reads, the verdicts."""

import pandas as pd
import pytest

from lesson5.analysis.summary import transfer_gaps
from lesson5.analysis.transfer import all_paired
from lesson5.config_checks import config_problems
from lesson5.experiments.transfer_plan import (BODY_SOURCES, OWN_BODIES, comparisons, families, finetune_params,
                                               job_strategies, jobs, pretrain_params, pretrain_recipe, probe_params)
from test_config import SCHEMA, default_config, validate


def validated():
    config = default_config()
    validate(config, SCHEMA)  # fills the schema's defaults
    return config


def transfer(**changes):
    return {**validated()["transfer"], **changes}


def test_default_plan_fine_tunes_both_bodies_beside_scratch():
    t = transfer()
    assert families(t) == ["fractal", "classes", "scratch"]
    assert job_strategies(t, "fractal", 10) == ["head_only", "discriminative", "unfrozen_high_lr"]
    assert job_strategies(t, "fractal", 25) == ["head_only", "discriminative"]  # high lr at 10 and 100 only
    assert job_strategies(t, "classes", 25) == ["discriminative"] and job_strategies(t, "scratch", 5) == ["scratch"]
    assert len(jobs(t)) == 3 * len(t["budgets"])


def test_a_family_without_strategies_or_body_has_no_jobs():
    t = transfer(bodies=["classes"], strategies={**transfer()["strategies"], "scratch": []})
    assert families(t) == ["classes"] and {f for f, _ in jobs(t)} == {"classes"}
    only = transfer(strategies={**transfer()["strategies"], "classes": ["unfrozen_high_lr"]})
    assert ("classes", 25) not in jobs(only) and ("classes", 10) in jobs(only)  # nothing to train at 25


def test_each_rule_gets_only_what_it_reads():
    t = transfer()
    body, scratch = finetune_params(t, "fractal", 10), finetune_params(t, "scratch", 10)
    assert "lr_slice" in body["finetune"] and "scratch_lr" not in body["finetune"]
    assert "scratch_lr" in scratch["finetune"] and "lr_slice" not in scratch["finetune"]
    assert set(body["lr_find"]["pick"]) == {"frozen", "unfrozen"} and set(scratch["lr_find"]["pick"]) == {"scratch"}
    assert finetune_params(t, "fractal", 25)["strategies"] == ["head_only", "discriminative"]
    for params in (body, scratch):
        assert not {"probe", "threads", "budgets", "pretrain", "fractal", "bodies", "confusion_budget"} & set(params)
    assert "source_classes" in pretrain_params(t, "classes") and "source_classes" not in pretrain_params(t, "fractal")
    assert not {"finetune", "probe", "budgets", "fractal"} & set(pretrain_params(t, "fractal"))
    assert probe_params(t)["c"] == t["probe"]["c"] and "finetune" not in probe_params(t)


def test_a_body_s_own_pretraining_keys_replace_the_shared_ones_for_it_alone():
    t = transfer()
    shared = t["pretrain"]
    assert pretrain_recipe(t, "classes") == shared == pretrain_recipe(t, "fractal")
    changed = transfer(pretrain={**t["pretrain"], "fractal": {"epochs": 2, "augment": "shift"}})
    assert pretrain_recipe(changed, "fractal") == {**shared, "epochs": 2, "augment": "shift"}
    assert pretrain_params(changed, "fractal") != pretrain_params(t, "fractal")
    assert pretrain_params(changed, "classes") == pretrain_params(t, "classes")  # the narrow body is not rerun
    assert pretrain_params(changed, "mixed") == pretrain_params(t, "mixed")  # nor the mixed one


def test_the_mixed_body_reads_what_both_of_its_sources_read():
    t = transfer()
    mixed, classes = pretrain_params(t, "mixed"), pretrain_params(t, "classes")
    assert mixed == classes  # the source classes and their dataset; the fractals' keys are fractal_images'
    moved = transfer(source_classes=[1, 2, 3])
    assert pretrain_params(moved, "mixed") != mixed and pretrain_params(moved, "fractal") == pretrain_params(t, "fractal")
    own = transfer(pretrain={**t["pretrain"], "mixed": {"epochs": 6}})
    assert pretrain_recipe(own, "mixed")["epochs"] == 6 and pretrain_params(own, "classes") == classes
    assert BODY_SOURCES["mixed"] == BODY_SOURCES["fractal"] + BODY_SOURCES["classes"]


def test_a_body_s_override_offers_the_shared_pretraining_keys_without_their_defaults():
    import yaml

    schema = yaml.safe_load(open(SCHEMA))
    shared = schema["properties"]["transfer"]["properties"]["pretrain"]["properties"]
    override = schema["definitions"]["pretrain_override"]["properties"]
    assert set(override) == set(shared) - set(OWN_BODIES)
    assert all("default" not in spec for spec in override.values())  # a default would replace the shared key
    for key, spec in override.items():
        assert {k: v for k, v in spec.items() if k != "description"} == \
            {k: v for k, v in shared[key].items() if k not in ("description", "default")}, key


def test_comparisons_put_each_body_against_scratch_and_the_broad_against_the_narrow():
    assert comparisons(transfer()) == [(("fractal", "discriminative"), ("scratch", "scratch")),
                                       (("classes", "discriminative"), ("scratch", "scratch")),
                                       (("fractal", "discriminative"), ("classes", "discriminative"))]


def test_verdicts_and_summary_lines_per_body():
    rows = []
    for budget, (broad, narrow) in {5: (-0.1, 0.05), 50: (-0.05, 0.02), 250: (0.0, 0.04)}.items():
        for seed in range(5):  # at 250 the broad body wins on 2 seeds of 5 and loses on 3
            rows += [{"budget": budget, "seed": seed, "family": "scratch", "strategy": "scratch", "error_rate": 0.3},
                     {"budget": budget, "seed": seed, "family": "fractal", "strategy": "discriminative",
                      "error_rate": 0.3 + broad + 0.001 * (seed - 1.5)},
                     {"budget": budget, "seed": seed, "family": "classes", "strategy": "discriminative",
                      "error_rate": 0.3 + narrow}]
    paired = all_paired(pd.DataFrame(rows), comparisons(transfer()))
    assert len(paired) == 9 and paired.groupby(["a", "b"]).size().tolist() == [3, 3, 3]
    figures = transfer_gaps(paired)
    broad = figures["transfer: share of label budgets where discriminative, fractal body beats scratch"]
    assert broad[0] == pytest.approx(2 / 3) and "beats it at [5, 50]" in broad[2] and "loses at none" in broad[2]
    narrow = figures["transfer: share of label budgets where discriminative, classes body beats scratch"]
    assert narrow[0] == 0 and "loses at [5, 50, 250]" in narrow[2]
    gap = figures["transfer error, discriminative, fractal body minus scratch, 5 labels/class"]
    assert gap[0] == pytest.approx(-0.0995)


def test_config_checks_name_a_strategy_budget_outside_the_budgets():
    config = validated()
    config["transfer"]["strategy_budgets"] = {"unfrozen_high_lr": [10, 7]}
    assert any("strategy_budgets.unfrozen_high_lr: [7]" in p for p in config_problems(config))
