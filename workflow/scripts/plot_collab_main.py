"""Rule plot_collab_main: per-epoch table, loss curve and 1cycle schedule of the main run."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import numpy as np
import pandas as pd

from lesson5.plots.training import plot_loss_curve, plot_schedule
from lesson5.runner import run_script


def main(smk):
    history = pd.read_csv(smk.input.history, sep="\t")
    iterations = pd.read_parquet(smk.input.iterations)
    table = history.assign(valid_rmse=np.sqrt(history.valid_loss))
    table.rename(columns={"train_loss": "train_mse", "valid_loss": "valid_mse"}).to_csv(
        smk.output.table, sep="\t", index=False, float_format="%.6f")
    s = smk.params.settings
    what = f"dot product + biases, {s['n_factors']} factors, wd {s['wd']}, lr {s['lr']}"
    plot_loss_curve(iterations, history, f"Training on {smk.params.release}: {what}", "MSE (stars²)", smk.output.curve)
    plot_schedule(iterations, f"1cycle schedule: {s['epochs']} epochs, max lr {s['lr']}", smk.output.schedule)


run_script(snakemake, main)  # noqa: F821
