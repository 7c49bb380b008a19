"""The collaborative-filtering experiments' tables, from every run's final metrics (runs.tsv): each run
carries the experiments it serves in ``roles`` (rules/common.smk)."""

from __future__ import annotations

import pandas as pd

from lesson5.analysis.aggregate import format_mean_std, mean_std
from lesson5.analysis.sweeps import edge_optima, mark_best

METRICS = ["valid_rmse", "valid_loss", "seconds"]


def with_role(runs: pd.DataFrame, name: str) -> pd.DataFrame:
    return runs[runs.roles.str.split(",").map(lambda roles: name in roles)]


def baselines_table(runs: pd.DataFrame) -> pd.DataFrame:
    table = mean_std(with_role(runs, "baselines"), ["model"], METRICS)
    return table.assign(valid_rmse=format_mean_std(table, "valid_rmse"))


def sweep_table(runs: pd.DataFrame, sweep: str) -> tuple[pd.DataFrame, list[str]]:
    """(mean ± std per swept value with the best marked, lines for a best value on the grid's edge)."""
    if sweep == "n_factors":
        table = mean_std(with_role(runs, "n_factors"), ["n_factors"], METRICS).sort_values("n_factors")
        table = mark_best(table, "n_factors", "valid_rmse_mean")
        return table, edge_optima(table, "collab n_factors sweep", "n_factors")
    # one series per mode's grid; the undecayed run (wd 0) belongs to every series
    modes = sorted({r.split("/")[1] for roles in runs.roles for r in roles.split(",") if r.startswith("wd/")})
    per_mode = pd.concat([with_role(runs, f"wd/{mode}").assign(wd_mode=mode) for mode in modes])
    table = mean_std(per_mode, ["wd_mode", "wd"], METRICS).sort_values(["wd_mode", "wd"])
    table = mark_best(table, "wd", "valid_rmse_mean", by=["wd_mode"])
    return table, edge_optima(table, "collab weight-decay sweep", "wd", by=["wd_mode"])


def bias_wd_table(runs: pd.DataFrame) -> pd.DataFrame:
    table = mean_std(with_role(runs, "bias_wd"), ["model", "bias_wd"], METRICS).sort_values(["model", "bias_wd"])
    return table.assign(valid_rmse=format_mean_std(table, "valid_rmse"))


def folds_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Each fold's mean over seeds, then the mean and std of those over the folds."""
    folds = with_role(runs, "folds").groupby("split")[["valid_rmse", "valid_loss", "seconds"]].mean().reset_index()
    stats = folds.drop(columns="split").agg(["mean", "std"]).reset_index(names="split")
    return pd.concat([folds, stats])
