"""Rule opt_one_cycle: lr finder, fit_one_cycle(1, 1e-2), its schedule and smoothed losses."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import pandas as pd
import torch
from torch import nn

from lesson5.models.mnist import mnist_mlp
from lesson5.experiments.sgd import load_image_tensors
from lesson5.plots.training import plot_loss_curve, plot_lr_find, plot_schedule
from lesson5.runner import run_script, seed_everything
from lesson5.train.loop import Learner, Tensors
from lesson5.train.metrics import accuracy


def main(smk):
    torch.set_num_threads(smk.threads)
    p = smk.params.one_cycle
    data = load_image_tensors(smk.input.data)

    def learner():
        seed_everything(smk.params.seed)
        return Learner(mnist_mlp(), Tensors(data["x_train"], data["y_train"], data["x_valid"], data["y_valid"]),
                       loss_func=nn.CrossEntropyLoss(), metrics={"accuracy": accuracy}, opt="adam",
                       wd=p["wd"], wd_mode="decoupled", bs=smk.params.bs, seed=smk.params.seed)

    sweep = learner().lr_find()
    sweep.to_csv(smk.output.lr_find_table, sep="\t", index=False)
    plot_lr_find(sweep, f"lr finder: MLP 784-50-10, Adam, {smk.params.dataset}", smk.output.lr_find_plot)
    fitted = learner()
    history = fitted.fit_one_cycle(p["epochs"], p["lr"])
    history.to_csv(smk.output.table, sep="\t", index=False, float_format="%.6f")
    iterations = pd.DataFrame(fitted.iterations)
    plot_schedule(iterations, f"fit_one_cycle({p['epochs']}, {p['lr']}): lr and momentum per batch",
                  smk.output.schedule)
    plot_loss_curve(iterations, history, f"fit_one_cycle({p['epochs']}, {p['lr']}) on {smk.params.dataset}",
                    "cross-entropy loss", smk.output.losses)


run_script(snakemake, main)  # noqa: F821
