"""Rule collab_lr_find: the lr finder on the main collab settings, as a table and a plot."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import pandas as pd
import torch

from lesson5.data.collab_data import collab_tensors, read_split
from lesson5.experiments.collab import CollabSettings, build_model, make_learner
from lesson5.plots.training import plot_lr_find
from lesson5.runner import run_script, seed_everything


def main(smk):
    torch.set_num_threads(smk.threads)
    settings, seed = CollabSettings.from_config(smk.params.collab), smk.params.seed
    seed_everything(seed)
    data = collab_tensors(read_split(smk.input.split), settings.item_key, pd.read_parquet(smk.input.movies))
    sweep = make_learner(data, settings, build_model(settings, data, seed), seed).lr_find(**smk.params.lr_find)
    sweep.to_csv(smk.output.table, sep="\t", index=False)
    plot_lr_find(sweep, f"lr finder: dot product + biases, {settings.n_factors} factors, wd {settings.wd}",
                 smk.output.plot, skip_end=15)


run_script(snakemake, main)  # noqa: F821
