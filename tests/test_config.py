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


@pytest.mark.parametrize("name", ["config.yaml", "tiny.yaml"])
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
])
def test_bad_values_are_rejected_naming_the_key(edit, fragment):
    config = copy.deepcopy(default_config())
    edit(config)
    with pytest.raises(WorkflowError) as info:
        validate(config, SCHEMA)
    assert fragment in str(info.value)


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
