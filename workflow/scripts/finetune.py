"""Rule finetune: one label budget, every seed, for the pretrained strategies or for scratch.

A job killed part way continues from the seeds it finished (kept under checkpoints/ until its
outputs are written): each seed's runs are deterministic, so the tables come out the same."""

import sys
import time

IMPORTING = time.perf_counter()  # before the heavy imports: the log reports what they cost
sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import logging

import numpy as np
import pandas as pd
import torch

from lesson5.experiments.transfer import Finetune, budget_tasks, finetune_budget
from lesson5.experiments.transfer_plan import SCRATCH
from lesson5.runner import run_script, seed_everything
from lesson5.train.checkpoint import atomic_save, checkpoints_for, remove_checkpoints
from lesson5.train.device import resolve_device, resolve_precision


def main(smk):
    started = time.perf_counter()
    imports = started - IMPORTING
    torch.set_num_threads(smk.threads)
    cfg, family, budget = smk.params.job, smk.wildcards.family, int(smk.wildcards.budget)
    seed_everything(cfg["seeds"][0])
    with np.load(smk.input.data, allow_pickle=False) as npz:
        tasks = budget_tasks(dict(npz), cfg, budget, smk.params.valid_seed)
    prepared = time.perf_counter()
    progress = checkpoints_for(smk.params.checkpoints, {"job": cfg, "valid_seed": smk.params.valid_seed})
    done = {int(p.stem.split("~")[1]): torch.load(p, weights_only=False) for p in sorted(progress.glob("seed~*.pt"))}
    device = resolve_device(cfg["device"])
    precision = resolve_precision(cfg["precision"], device)
    logging.getLogger("lesson5.finetune").info("training on %s in %s", device, precision)
    body = None if family == SCRATCH else smk.input.body or family  # this pipeline's body file, or imagenet
    ft = Finetune.from_config(cfg)
    result = finetune_budget(family, tasks, body, ft, budget, str(device),
                             list(cfg["strategies"]), done=done,
                             on_seed=lambda seed, r: atomic_save(r, progress / f"seed~{seed}.pt"))
    trained = time.perf_counter()
    for name, frame in result.tables(family).items():
        if name == "iterations":
            frame.to_parquet(smk.output[name], index=False)
        else:
            frame.to_csv(smk.output[name], sep="\t", index=False, float_format="%.6g")
    remove_checkpoints(progress)
    # where the job's time went: imports (numpy, pandas, torch, the package), data, training and evaluation, writing
    logging.getLogger("lesson5.finetune").info(
        "time: imports %.1f s, data %.1f s, lr finders + training + evaluation %.1f s, writing %.1f s",
        imports, prepared - started, trained - prepared, time.perf_counter() - trained)


run_script(snakemake, main)  # noqa: F821
