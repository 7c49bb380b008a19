"""Rule opt_manual: the lesson's hand-written loop (SGD, L2 in the loss; then the MLP with Adam)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import time

import pandas as pd
import torch

from lesson5.experiments.sgd import load_image_tensors, manual_epoch
from lesson5.plots.optimizers import plot_manual_losses
from lesson5.runner import run_script


def main(smk):
    torch.set_num_threads(smk.threads)
    p, bs, seed = smk.params.manual, smk.params.bs, smk.params.seed
    data = load_image_tensors(smk.input.data)
    runs = {  # name: (model, lr, wd, adam)
        "logistic + SGD": ("logistic", p["lr"], p["wd"], False),
        "MLP + SGD": ("mlp", p["lr"], p["wd"], False),
        "MLP + Adam": ("mlp", p["adam_lr"], 0.0, True),
    }
    curves, records = [], []
    for name, (model, lr, wd, adam) in runs.items():
        start = time.perf_counter()
        losses, metrics = manual_epoch(model, data, lr=lr, bs=bs, seed=seed, wd=wd, adam=adam)
        records.append({"run": name, "model": model, "lr": lr, "wd": wd, **metrics,
                        "seconds": time.perf_counter() - start})
        curves.append(pd.DataFrame({"iteration": range(len(losses)), "loss": losses, "run": name}))
    pd.DataFrame(records).to_csv(smk.output.table, sep="\t", index=False, float_format="%.4f")
    curves = pd.concat(curves)
    curves.to_parquet(smk.output.losses, index=False)
    plot_manual_losses(curves, smk.params.dataset, smk.output.plot)


run_script(snakemake, main)  # noqa: F821
