"""Rule finetune: one label budget, every seed, for the pretrained strategies or for scratch.

A job killed part way continues from the seeds it finished (kept under checkpoints/ until its
outputs are written): each seed's runs are deterministic, so the tables come out the same."""

import sys
import time

IMPORTING = time.perf_counter()  # before the heavy imports: the log reports what they cost
sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lesson5.experiments.transfer import Finetune, finetune_budget, target_tasks
from lesson5.runner import run_script, seed_everything
from lesson5.train.checkpoint import atomic_save, remove_checkpoints
from lesson5.train.loop import resolve_device, resolve_precision


def main(smk):
    started = time.perf_counter()
    imports = started - IMPORTING
    torch.set_num_threads(smk.threads)
    cfg, family, budget = smk.params.job, smk.wildcards.family, int(smk.wildcards.budget)
    seeds = list(cfg["seeds"])
    seed_everything(seeds[0])
    with np.load(smk.input.data, allow_pickle=False) as npz:
        tasks = target_tasks(dict(npz), cfg["target_classes"], [budget], seeds, cfg["valid_per_class"],
                             smk.params.valid_seed, cfg["size"])
    prepared = time.perf_counter()
    progress = Path(smk.params.checkpoints)
    done = {int(p.stem.split("~")[1]): torch.load(p, weights_only=False) for p in sorted(progress.glob("seed~*.pt"))}
    device = resolve_device(cfg["device"])
    precision = resolve_precision(cfg["precision"], device)
    logging.getLogger("lesson5.finetune").info("training on %s in %s", device, precision)
    body = smk.input.body if family == "pretrained" and cfg["weights"] == "pretrained" else cfg["weights"]
    ft = Finetune.from_config(cfg["finetune"], cfg["lr_find"], precision)
    result = finetune_budget(family, {s: tasks[s][budget] for s in seeds}, body, ft, budget, str(device),
                             list(cfg["strategies"]), done=done,
                             on_seed=lambda seed, r, lrs: atomic_save((r, lrs), progress / f"seed~{seed}.pt"))
    trained = time.perf_counter()
    pd.DataFrame(result.runs).to_csv(smk.output.runs, sep="\t", index=False, float_format="%.6g")
    sweeps = pd.concat(result.sweeps) if result.sweeps else pd.DataFrame(columns=["lr", "loss", "smoothed_loss",
                                                                                  "budget", "finder", "suggested"])
    sweeps.to_csv(smk.output.lr_find, sep="\t", index=False, float_format="%.6g")
    pd.concat(result.iterations).to_parquet(smk.output.iterations, index=False)
    pd.concat(result.confusions).to_csv(smk.output.confusion, sep="\t", index=False)
    remove_checkpoints(progress)
    # where the job's time went: imports (numpy, pandas, torch, the package), data, training and evaluation, writing
    logging.getLogger("lesson5.finetune").info(
        "time: imports %.1f s, data %.1f s, lr finders + training + evaluation %.1f s, writing %.1f s",
        imports, prepared - started, trained - prepared, time.perf_counter() - trained)


run_script(snakemake, main)  # noqa: F821
