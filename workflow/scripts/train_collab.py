"""Rule train_collab: one collaborative-filtering setting on one split, every seed in one job."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import pandas as pd
import torch

from lesson5.data.collab_data import collab_tensors, read_split
from lesson5.experiments.collab import CollabSettings, train_on
from lesson5.runner import run_script


def main(smk):
    torch.set_num_threads(smk.threads)
    torch.set_flush_denormal(True)  # Adam moments of rarely-seen rows decay into denormals: slow, not useful
    run = {k: (v.item() if hasattr(v, "item") else v) for k, v in smk.params.run.items()}
    settings = CollabSettings.from_config(smk.params.collab, **run)
    seeds = list(smk.params.seeds)
    split = read_split(smk.input.split)
    data = collab_tensors(split, settings.item_key, pd.read_parquet(smk.input.movies))
    del split  # 25 million ratings: the tensors are all training needs
    data, runs = train_on(data, settings, seeds)
    for r, history, iterations, model in zip(runs, smk.output.history, smk.output.iterations, smk.output.model):
        r.history.to_csv(history, sep="\t", index=False)
        r.iterations.to_parquet(iterations, index=False)
        torch.save({"state_dict": r.model.state_dict(), "settings": vars(settings), "seed": r.seed,
                    "users": data.users.tolist(), "items": data.items.tolist()}, model)


run_script(snakemake, main)  # noqa: F821
