"""What each rule reads (lesson5.params), the collab plan, and the comparison of experiments."""

import pandas as pd
import pytest
import yaml

from conftest import ROOT
from lesson5.analysis.compare import differing_keys, key_figures_table, main_rmse, parse_measured
from lesson5.errors import PipelineError
from lesson5.experiments.plan import RUN_KEYS, collab_run_table, main_run
from lesson5.params import collab_model_params, experiment_name, tracked_config, untracked


def test_experiment_is_named_by_the_key_else_by_the_last_config_file(tmp_path):
    own, named = tmp_path / "my-run.yaml", tmp_path / "named.yaml"
    # the command line's config: Snakemake's merge of the --configfile files and --config
    assert experiment_name({"experiment": "ml-100k"}, {}, []) == "ml-100k"
    assert experiment_name({"experiment": "ml-100k"}, {"seed": 1}, [own]) == "my-run"  # never the default's folder
    assert experiment_name({"experiment": "big"}, {"seed": 1, "experiment": "big"}, [own, named]) == "big"
    assert experiment_name({"experiment": "x"}, {"experiment": "x"}, [own]) == "x"
    with pytest.raises(PipelineError, match="reserved"):
        experiment_name({"experiment": "data"}, {"experiment": "data"}, [])


def test_tracked_config_drops_untracked_keys_and_sorts():
    config = {"movielens": {"valid_pct": 0.1, "max_problems_per_check": 3}, "download": {"timeout_s": 5},
              "a": 1}
    tracked = tracked_config(config)
    assert tracked == {"a": 1, "download": {}, "movielens": {"valid_pct": 0.1}}
    assert list(tracked) == ["a", "download", "movielens"]
    assert config["movielens"]["max_problems_per_check"] == 3  # the config itself is left alone


def test_untracked_refuses_a_tracked_key():
    class Job:
        config = {"movielens": {"max_problems_per_check": 4, "valid_pct": 0.1}}

    assert untracked(Job, "movielens.max_problems_per_check") == 4
    with pytest.raises(PipelineError, match="not an untracked key"):
        untracked(Job, "movielens.valid_pct")


def default_config():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_each_collab_model_gets_the_keys_it_reads():
    model = default_config()["collab"]["model"]
    assert "mlp_layers" in collab_model_params(model, "mlp") and "step" not in collab_model_params(model, "mlp")
    assert "mlp_layers" not in collab_model_params(model, "dot") and "step" in collab_model_params(model, "dot")
    assert set(collab_model_params({**model, "valid_bs": 10}, "mean")) == {"item_key", "device", "valid_bs"}
    assert "sparse_opt" not in collab_model_params(model, "dot")  # read only with sparse embeddings
    assert "sparse_opt" in collab_model_params({**model, "sparse": True, "sparse_opt": "lazy_adamw"}, "dot")
    assert not set(RUN_KEYS) & set(collab_model_params(model, "dot"))  # those come from the run's path


def tiny_collab():
    merged = default_config()["collab"]
    tiny = yaml.safe_load((ROOT / "config" / "tiny.yaml").read_text())["collab"]
    for key, value in tiny.items():
        merged[key] = {**merged[key], **value} if isinstance(value, dict) and merged.get(key) else value
    return merged


def test_tiny_plan_trains_each_setting_once_with_its_roles():
    table = collab_run_table(tiny_collab(), ["u1", "u2", "u3", "u4", "u5"])
    assert len(table) == 14 and not table.duplicated(RUN_KEYS).any()
    assert (table.split == "random").sum() == 9 and table.model.isin(["bias", "dot"]).sum() == 12
    main = main_run(table)
    assert main == {"split": "random", "model": "dot", "n_factors": 8, "wd": 0.1, "wd_mode": "decoupled",
                    "bias_wd": False}
    assert all(type(v) in (str, int, float, bool) for v in main.values())
    roles = table.set_index(RUN_KEYS).roles[tuple(main.values())].split(",")
    assert {"baselines", "n_factors", "wd/decoupled", "bias_wd", "main"} <= set(roles)
    # undecayed runs are one setting whatever the mode: wd 0 is on both wd grids
    assert table[(table.model == "dot") & (table.wd == 0)].shape[0] == 1


def test_comparison_lists_each_experiment_and_the_keys_that_differ():
    summary = pd.DataFrame({"experiment": ["collab valid RMSE (random 90/10 split)"] * 2
                            + ["sweep whose best value is on the grid's edge"],
                            "measured": ["0.8884 ± 0.0027", "0.8884 ± 0.0027", ""],
                            "what": ["dot", "dot", "none: every sweep's best value lies inside its grid"]})
    other = summary.assign(measured=["0.6300 ± 0.0000", "0.6300 ± 0.0000", ""])
    reference = pd.DataFrame({"experiment": ["collab valid RMSE (random 90/10 split)"],
                              "reference": ["lesson notebook"], "value": [0.9026]})
    table = key_figures_table({"ml-100k": summary, "ml-25m": other}, reference)
    assert list(table.columns) == ["figure", "lesson", "ml-100k", "ml-25m"]
    assert table.iloc[0].tolist() == ["collab valid RMSE (random 90/10 split)", 0.9026, "0.8884 ± 0.0027",
                                      "0.6300 ± 0.0000"]
    assert table.iloc[1][["ml-100k", "ml-25m"]].tolist() == ["0", "0"]
    keys = differing_keys({"ml-100k": {"movielens": {"release": "ml-100k"}, "seed": 42},
                           "ml-25m": {"movielens": {"release": "ml-25m"}, "seed": 42, "stages": ["collab"]}})
    assert keys.key.tolist() == ["movielens.release", "stages"]
    assert main_rmse({"ml-25m": other}).valid_rmse.tolist() == [0.63]
    assert parse_measured("1.0000") == (1.0, pytest.approx(float("nan"), nan_ok=True))
