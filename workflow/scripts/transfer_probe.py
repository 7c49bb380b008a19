"""Rule transfer_probe: linear probes of every body and of a random body at every budget."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lesson5.analysis.probe import pooled_features, probe_error
from lesson5.data.budgets import budget_indices
from lesson5.data.image_tasks import target_tasks
from lesson5.experiments.transfer_plan import RANDOM
from lesson5.models.vision import resnet34_body
from lesson5.runner import run_script, seed_everything

log = logging.getLogger("lesson5.transfer_probe")


def main(smk):
    torch.set_num_threads(smk.threads)
    cfg = smk.params.probe
    seeds, budgets = list(cfg["seeds"]), list(cfg["budgets"])
    seed_everything(seeds[0])
    with np.load(smk.input.data, allow_pickle=False) as npz:
        arrays = dict(npz)
    # budgets are nested: images of the largest only, one feature pass; the smaller ones are subsets
    tasks = target_tasks(arrays, cfg["target_classes"], [max(budgets)], seeds, cfg["valid_per_class"],
                         smk.params.valid_seed, cfg["size"])
    made = {Path(f).parent.name: f for f in smk.input.bodies}  # this pipeline's: transfer/bodies/<name>/body.pt
    weights = {b: made.get(b, b) for b in cfg["bodies"]}  # else torchvision's (imagenet)
    torch.manual_seed(smk.params.seed)  # the random body: one fixed draw
    conv = cfg["conv"]
    bodies = {RANDOM: resnet34_body("scratch", conv=conv)} | \
        {b: resnet34_body(w, "resources/torch", conv) for b, w in weights.items()}
    subsets = {seed: budget_indices(arrays["y_train"], cfg["target_classes"], budgets, seed) for seed in seeds}
    valid = tasks[seeds[0]][max(budgets)]
    rows = []
    for name, body in bodies.items():
        valid_features, y_valid = pooled_features(body, valid.x_valid), valid.y_valid.numpy()
        for seed in seeds:
            largest = tasks[seed][max(budgets)]
            features = pooled_features(body, largest.x_train)
            for budget in budgets:
                keep = np.isin(largest.index, subsets[seed][budget])
                for layer, train_x in features.items():
                    error = probe_error(train_x[keep], largest.y_train.numpy()[keep], valid_features[layer],
                                        y_valid, c=cfg["c"])
                    rows.append({"body": name, "layer": layer, "budget": budget, "seed": seed, "error_rate": error})
            log.info("%s body, seed %d: %s", name, seed,
                     ", ".join(f"{r['layer']}@{r['budget']} {r['error_rate']:.3f}" for r in rows[-len(budgets) * 3:]))
    pd.DataFrame(rows).to_csv(smk.output[0], sep="\t", index=False, float_format="%.6g")


run_script(snakemake, main)  # noqa: F821
