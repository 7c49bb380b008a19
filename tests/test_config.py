"""Config validation: the schema fills defaults and rejects unknown keys, wrong types and ranges."""

import copy

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from conftest import ROOT, snakemake

SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


def default_config():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "config").glob("*.yaml")))
def test_shipped_configs_are_valid(name):
    validate(yaml.safe_load((ROOT / "config" / name).read_text()), SCHEMA)


def test_defaults_are_filled_in():
    config = {"movielens": {"source": "/data/ml-100k"}}
    validate(config, SCHEMA)
    assert config["movielens"]["release"] == "ml-100k"
    assert config["collab"]["model"]["n_factors"] == 40
    assert config["download"]["retries"] == 3


@pytest.mark.parametrize("edit, fragment", [
    (lambda c: c.update(colab={}), "colab"),
    (lambda c: c["collab"]["model"].update(n_factor=3), "n_factor"),
    (lambda c: c["collab"]["model"].update(epochs="five"), "five"),
    (lambda c: c["movielens"].update(valid_pct=1.5), "1.5"),
    (lambda c: c["collab"]["model"].update(wd_mode="l1"), "l1"),
    (lambda c: c["movielens"]["checksums"].update({"u.data": "xyz"}), "xyz"),
    (lambda c: c["transfer"]["lr_select"].update(scales=[0.5, 2.0]), "[0.5, 2.0]"),  # the finder's own pick (1) is one
    (lambda c: c["transfer"]["lr_select"].update(by="valid"), "valid"),
    (lambda c: c["transfer"]["pretrain"].update(augment="mixup"), "mixup"),
    (lambda c: c["transfer"]["pretrain"].update(fractal={"epoch": 8}), "epoch"),
    (lambda c: c["transfer"]["pretrain"].update(bs=1), "minimum of 2"),  # the ranges the override shares (<<)
    (lambda c: c["transfer"]["pretrain"].update(classes={"bs": 1}), "minimum of 2"),
])
def test_bad_values_are_rejected_naming_the_key(edit, fragment):
    config = copy.deepcopy(default_config())
    edit(config)
    with pytest.raises(WorkflowError) as info:
        validate(config, SCHEMA)
    assert fragment in str(info.value)


def test_the_schema_offers_exactly_the_augmentations_the_code_has():
    from lesson5.data.image_tasks import AUGMENTS

    schema = yaml.safe_load(open(SCHEMA))
    augment = schema["properties"]["transfer"]["properties"]["pretrain"]["properties"]["augment"]
    assert set(augment["enum"]) == set(AUGMENTS) and augment["default"] in AUGMENTS


def test_bad_config_fails_the_dry_run_with_the_key(tmp_path):
    proc = snakemake("-n", "--config", "collab={'model': {'epochs': 0}}", cwd=ROOT)
    assert proc.returncode != 0
    assert "epochs" in proc.stdout and "minimum" in proc.stdout


def test_config_readme_is_generated_from_the_schema():
    from lesson5.configdoc import render

    assert (ROOT / "config" / "README.md").read_text() == render(), "run: python -m lesson5.configdoc > config/README.md"


def test_nested_numeric_overrides_on_the_command_line_are_typed():
    proc = snakemake("data", "-n", "--config", 'download={"retries": 1, "timeout_s": 2.5}', cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_null_on_the_command_line_is_none_and_an_empty_string_stays():
    from lesson5.cli_config import typed

    # Snakemake's BaseLoader hands every nested scalar over as a string
    assert typed({"wd": "null", "a": "~", "b": "", "c": "none", "d": "2"}) == {"wd": None, "a": None, "b": "",
                                                                                "c": "none", "d": 2}
    proc = snakemake("collab", "-n", "--config", "collab={'sweeps': {'wd': null}}", cwd=ROOT)
    assert proc.returncode == 0 and "collab_sweep" in proc.stdout, proc.stdout[-2000:]


@pytest.mark.parametrize("edit, fragment", [
    (lambda c: c["collab"]["model"].update(y_range=[5.5, 0.0]), "collab.model.y_range"),
    (lambda c: c["transfer"]["lr_find"].update(start_lr=100.0), "transfer.lr_find.start_lr"),
    (lambda c: c["transfer"]["finetune"].update(lr_slice=[1e-3, 1e-5]), "transfer.finetune.lr_slice"),
    (lambda c: c["transfer"].update(target_classes=[4, 5, 6]), "share [4]"),
    (lambda c: c["transfer"].update(confusion_budget=7), "transfer.confusion_budget"),
    (lambda c: c["optimizers"]["ablation"]["lr_grid"].pop("sgd"), "no grid for 'sgd'"),
])
def test_rules_the_schema_cannot_state_are_checked_naming_the_key(edit, fragment):
    from lesson5.config_checks import config_problems

    config = copy.deepcopy(default_config())
    validate(config, SCHEMA)
    assert config_problems(config) == []
    edit(config)
    assert any(fragment in problem for problem in config_problems(config)), config_problems(config)


def test_a_bad_order_fails_the_dry_run_before_any_job():
    proc = snakemake("-n", "--config", "collab={'model': {'y_range': [5.5, 0.0]}}", cwd=ROOT)
    assert proc.returncode != 0 and "collab.model.y_range" in proc.stdout
