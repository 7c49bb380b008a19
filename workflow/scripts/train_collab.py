"""Rule train_collab: one collaborative-filtering run (model, settings, seed) on one split."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import pandas as pd
import torch

from lesson5.collab import CollabSettings, train
from lesson5.runner import run_script, seed_everything


def main(smk):
    torch.set_num_threads(smk.threads)
    torch.set_flush_denormal(True)  # Adam moments of rarely-seen rows decay into denormals: slow, not useful
    run = {k: (v.item() if hasattr(v, "item") else v) for k, v in smk.params.run.items()}
    settings = CollabSettings.from_config(smk.params.collab, **run, seed=int(smk.wildcards.seed))
    seed_everything(settings.seed)
    split, items = pd.read_parquet(smk.input.split), pd.read_parquet(smk.input.movies)
    learner, data, history = train(split, items, settings)
    history.to_csv(smk.output.history, sep="\t", index=False)
    pd.DataFrame(learner.iterations).to_parquet(smk.output.iterations, index=False)
    torch.save({"state_dict": learner.model.state_dict(), "settings": vars(settings),
                "users": data.users.tolist(), "items": data.items.tolist()}, smk.output.model)


run_script(snakemake, main)  # noqa: F821
