"""The collaborative-filtering experiment plan: every run the configured experiments need, each once,
with the experiments (roles) it serves. Snakemake turns the table into a Paramspace of jobs."""

from __future__ import annotations

import pandas as pd

RUN_KEYS = ["split", "model", "n_factors", "wd", "wd_mode", "bias_wd"]


def collab_run_table(cfg, folds):
    """Every (split, model, settings) the collab experiments need, with the experiments it serves."""
    base = cfg["model"]
    rows = []

    def add(role, split="random", model="dot", n_factors=None, wd=None, wd_mode=None, bias_wd=None):
        wd = 0.0 if model == "mean" else float(base["wd"] if wd is None else wd)
        undecayed = wd == 0  # no decay at all: the mode and what decay reaches make no difference
        rows.append(
            dict(
                split=split,
                model=model,
                n_factors=0 if model in ("mean", "bias") else n_factors or base["n_factors"],
                wd=wd,
                wd_mode=base["wd_mode"] if undecayed else wd_mode or base["wd_mode"],
                bias_wd=base["bias_wd"] if undecayed or bias_wd is None else bias_wd,
                role=role,
            )
        )

    for model in cfg["baselines"]:
        add("baselines", model=model)
    for n in cfg["sweeps"]["n_factors"]:
        add("n_factors", n_factors=n)
    for mode, grid in (cfg["sweeps"]["wd"] or {}).items():
        for wd in grid:
            add(f"wd/{mode}", wd=wd, wd_mode=mode)
    for model in ("bias", "dot"):
        for bias_wd in cfg["sweeps"]["bias_wd"]:
            add("bias_wd", model=model, bias_wd=bias_wd)
    for fold in folds if cfg["folds"] else []:
        add("folds", split=fold)
    add("main")
    table = pd.DataFrame(rows)
    roles = table.groupby(RUN_KEYS, sort=False)["role"].agg(",".join).rename("roles")
    return roles.reset_index()


def main_run(table: pd.DataFrame) -> dict:
    """The run keys of the main run (the row whose roles include "main")."""
    main = table[table.roles.str.split(",").map(lambda roles: "main" in roles)]
    row = main[RUN_KEYS].iloc[0].to_dict()
    return {k: v.item() if hasattr(v, "item") else v for k, v in row.items()}  # plain Python, as in a config
