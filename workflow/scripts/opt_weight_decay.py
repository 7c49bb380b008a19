"""Rule opt_weight_decay: one optimizer and wd mode over the wd sweep, every seed."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import pandas as pd
import torch

from lesson5.experiments.sgd import Run, load_image_tensors, train_run
from lesson5.runner import run_script


def main(smk):
    torch.set_num_threads(smk.threads)
    p, w = smk.params, smk.wildcards
    data = load_image_tensors(smk.input.data)
    records = [train_run(Run("mlp", w.opt, "constant", lr=p.lr, wd=wd, wd_mode=w.wd_mode,
                             epochs=p.epochs, bs=p.bs, seed=seed), data)[1]
               for wd in p.values for seed in p.seeds]
    pd.DataFrame(records).to_csv(smk.output[0], sep="\t", index=False, float_format="%.6g")


run_script(snakemake, main)  # noqa: F821
