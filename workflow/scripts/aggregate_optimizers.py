"""Rule aggregate_optimizers: lr grids, ablation curves and table; weight-decay table and plot; the
sweeps whose best value sits on the grid's edge."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import pandas as pd

from lesson5.analysis.aggregate import format_mean_std, mean_std
from lesson5.analysis.sweeps import edge_optima, mark_best
from lesson5.plots.optimizers import plot_lr_grids, plot_optimizer_curves, plot_wd_sweep
from lesson5.runner import run_script

METRICS = ["valid_loss", "valid_accuracy", "test_accuracy", "seconds"]


def main(smk):
    grids = pd.concat([pd.read_csv(f, sep="\t") for f in smk.input.lr_grids])
    grids = mark_best(grids[["opt", "schedule", "lr", "valid_loss", "valid_accuracy"]], "lr", "valid_loss",
                      by=["opt", "schedule"])
    grids.to_csv(smk.output.lr_grid_table, sep="\t", index=False, float_format="%.5g")
    plot_lr_grids(grids, smk.params.dataset, smk.output.lr_grid_plot)

    runs = pd.concat([pd.read_csv(f, sep="\t") for f in smk.input.ablation_runs])
    table = mean_std(runs, ["opt", "schedule", "lr"], METRICS)
    for metric in ("valid_loss", "valid_accuracy"):
        table[metric] = format_mean_std(table, metric)
    table.to_csv(smk.output.ablation_table, sep="\t", index=False, float_format="%.4f")
    curves = pd.concat([pd.read_parquet(f) for f in smk.input.ablation_curves])
    plot_optimizer_curves(curves, table, smk.params.dataset, smk.output.ablation_plot)

    wd_runs = pd.concat([pd.read_csv(f, sep="\t") for f in smk.input.wd_runs])
    wd = mean_std(wd_runs, ["opt", "wd_mode", "wd"], METRICS).sort_values(["opt", "wd_mode", "wd"])
    wd = mark_best(wd, "wd", "valid_loss_mean", by=["opt", "wd_mode"])
    wd.to_csv(smk.output.wd_table, sep="\t", index=False, float_format="%.5f")
    plot_wd_sweep(wd, smk.params.dataset, smk.output.wd_plot)
    edges = edge_optima(grids, "optimizer lr grid (valid loss, seed 0)", "lr", by=["opt", "schedule"]) + \
        edge_optima(wd, "optimizer weight-decay sweep (valid loss)", "wd", by=["opt", "wd_mode"])
    pd.DataFrame({"sweep_edge": edges}).to_csv(smk.output.edges, sep="\t", index=False)


run_script(snakemake, main)  # noqa: F821
