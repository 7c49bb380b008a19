"""Rule finetune: one transfer strategy and seed on the target classes with few labels."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import numpy as np
import pandas as pd
import torch

from lesson5.runner import run_script, seed_everything
from lesson5.train.loop import resolve_device
from lesson5.transfer import confusion_matrix, run_strategy, task_data


def main(smk):
    torch.set_num_threads(smk.threads)
    cfg, ft = smk.params.transfer, smk.params.transfer["finetune"]
    seed = int(smk.wildcards.seed)
    seed_everything(seed)
    with np.load(smk.input.data, allow_pickle=False) as npz:
        arrays = dict(npz)
    data = task_data(arrays, cfg["target_classes"], ft["per_class"], ft["valid_per_class"], cfg["size"], seed)
    weights = smk.input.body if cfg["weights"] == "pretrained" else cfg["weights"]
    learner, history = run_strategy(smk.wildcards.strategy, data, weights, ft, seed,
                                    str(resolve_device(cfg["device"])), cache_dir="resources/torch")
    history.assign(strategy=smk.wildcards.strategy, seed=seed).to_csv(
        smk.output.history, sep="\t", index=False, float_format="%.5f")
    pred = learner.predict(learner.data.x_valid)
    cm = confusion_matrix(pred, learner.data.y_valid, len(data.classes))
    pd.DataFrame(cm, index=cfg["target_classes"], columns=cfg["target_classes"]).to_csv(
        smk.output.confusion, sep="\t")


run_script(snakemake, main)  # noqa: F821
