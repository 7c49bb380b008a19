"""Rule opt_ablation: one optimizer and schedule: lr chosen on valid (seed 0), then every seed."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import pandas as pd
import torch

from lesson5.experiments.sgd import Run, choose_lr, iterations_frame, load_image_tensors, train_run
from lesson5.runner import run_script


def main(smk):
    torch.set_num_threads(smk.threads)
    p, w = smk.params, smk.wildcards
    data = load_image_tensors(smk.input.data)
    wd_mode = "decoupled" if w.opt == "adamw" else "l2"
    base = Run("mlp", w.opt, w.schedule, wd=p.wd, wd_mode=wd_mode, epochs=p.epochs, bs=p.bs, seed=p.seeds[0])
    best_lr, grid = choose_lr(base, p.lr_grid, data)
    grid.to_csv(smk.output.grid, sep="\t", index=False, float_format="%.5g")
    records, curves = [], []
    for seed in p.seeds:
        learner, record = train_run(Run(**{**vars(base), "lr": best_lr, "seed": seed}), data)
        records.append(record)
        curves.append(iterations_frame(learner, opt=w.opt, schedule=w.schedule, seed=seed))
    pd.DataFrame(records).to_csv(smk.output.runs, sep="\t", index=False, float_format="%.6g")
    pd.concat(curves).to_parquet(smk.output.curves, index=False)


run_script(snakemake, main)  # noqa: F821
