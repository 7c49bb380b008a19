"""Rule opt_manual: the lesson's hand-written loop (SGD, L2 in the loss; then the MLP with Adam)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import pandas as pd
import torch

from lesson5.optimizers import Run, iterations_frame, load_image_tensors, train_run
from lesson5.plots.optimizers import plot_manual_losses
from lesson5.runner import run_script


def main(smk):
    torch.set_num_threads(smk.threads)
    p = smk.params.manual
    data = load_image_tensors(smk.input.data)
    runs = {
        "logistic + SGD": Run("logistic", "sgd", lr=p["lr"], wd=p["wd"], wd_mode="loss", bs=smk.params.bs),
        "MLP + SGD": Run("mlp", "sgd", lr=p["lr"], wd=p["wd"], wd_mode="loss", bs=smk.params.bs),
        "MLP + Adam": Run("mlp", "adam", lr=p["adam_lr"], wd=0.0, wd_mode="loss", bs=smk.params.bs),
    }
    curves, records = [], []
    for name, run in runs.items():
        learner, record = train_run(run, data)
        curves.append(iterations_frame(learner, run=name))
        records.append({"run": name, **record})
    pd.DataFrame(records).to_csv(smk.output.table, sep="\t", index=False, float_format="%.4f")
    curves = pd.concat(curves)
    curves.to_parquet(smk.output.losses, index=False)
    plot_manual_losses(curves, smk.params.dataset, smk.output.plot)


run_script(snakemake, main)  # noqa: F821
