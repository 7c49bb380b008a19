"""Rule aggregate_collab: every collab run's final metrics, then baselines, sweeps and folds tables.

Each run in params.runs carries the experiments it belongs to (``roles``), decided in rules/common.smk.
"""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import pandas as pd

from lesson5.analysis.aggregate import final_rows, format_mean_std, mean_std
from lesson5.analysis.sweeps import edge_optima, mark_best
from lesson5.plots.collab import plot_sweep
from lesson5.runner import run_script

KEYS = ["split", "model", "n_factors", "wd", "wd_mode", "bias_wd", "seed", "roles"]
METRICS = ["valid_rmse", "valid_loss", "seconds"]


def main(smk):
    histories = {tuple(run[k] for k in KEYS): pd.read_csv(path, sep="\t")
                 for run, path in zip(smk.params.runs, smk.input.histories)}
    runs = final_rows(histories, KEYS)
    runs.to_csv(smk.output.runs, sep="\t", index=False, float_format="%.6f")
    base = smk.params.base
    biases = "biases decayed too" if base["bias_wd"] else "biases not decayed"

    def role(name):
        return runs[runs.roles.str.split(",").map(lambda r: name in r)]

    baselines = mean_std(role("baselines"), ["model"], METRICS)
    baselines.assign(valid_rmse=format_mean_std(baselines, "valid_rmse")).to_csv(
        smk.output.baselines, sep="\t", index=False, float_format="%.4f")

    nf = mean_std(role("n_factors"), ["n_factors"], METRICS).sort_values("n_factors")
    nf = mark_best(nf, "n_factors", "valid_rmse_mean")
    nf.to_csv(smk.output.n_factors, sep="\t", index=False, float_format="%.5f")
    plot_sweep(nf, "n_factors", None, f"Number of factors (wd {base['wd']}, {base['wd_mode']} decay, {biases})",
               "n_factors", smk.output.n_factors_plot)

    # one series per mode's grid; the undecayed run (wd 0) belongs to every series
    modes = sorted({r.split("/")[1] for roles in runs.roles for r in roles.split(",") if r.startswith("wd/")})
    per_mode = pd.concat([role(f"wd/{mode}").assign(wd_mode=mode) for mode in modes])
    wd = mean_std(per_mode, ["wd_mode", "wd"], METRICS).sort_values(["wd_mode", "wd"])
    wd = mark_best(wd, "wd", "valid_rmse_mean", by=["wd_mode"])
    wd.to_csv(smk.output.wd, sep="\t", index=False, float_format="%.5f")
    edges = edge_optima(nf, "collab n_factors sweep", "n_factors") + edge_optima(wd, "collab weight-decay sweep",
                                                                                 "wd", by=["wd_mode"])
    pd.DataFrame({"sweep_edge": edges}).to_csv(smk.output.edges, sep="\t", index=False)
    plot_sweep(wd, "wd", "wd_mode", f"Weight decay with Adam: decoupled vs L2 ({base['n_factors']} factors, {biases})",
               "weight decay (symlog scale)", smk.output.wd_plot, log_x=True)

    bias_wd = mean_std(role("bias_wd"), ["model", "bias_wd"], METRICS).sort_values(["model", "bias_wd"])
    bias_wd.assign(valid_rmse=format_mean_std(bias_wd, "valid_rmse")).to_csv(
        smk.output.bias_wd, sep="\t", index=False, float_format="%.5f")

    # each fold's mean over seeds, then the mean and std of those over the folds
    folds = role("folds").groupby("split")[["valid_rmse", "valid_loss", "seconds"]].mean().reset_index()
    stats = folds.drop(columns="split").agg(["mean", "std"]).reset_index(names="split")
    pd.concat([folds, stats]).to_csv(smk.output.folds, sep="\t", index=False, float_format="%.4f")


run_script(snakemake, main)  # noqa: F821
