"""Rule transfer_lesson: lesson 1's pets run at lesson scale, beside the lesson's published errors."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import numpy as np
import pandas as pd
import torch

from lesson5.analysis.summary import pets_comparison
from lesson5.experiments.lesson_scale import lesson_scale
from lesson5.runner import run_script, seed_everything
from lesson5.train.checkpoint import checkpoints_for, remove_checkpoints
from lesson5.train.device import resolve_device


def main(smk):
    torch.set_num_threads(smk.threads)
    cfg = smk.params.cfg
    seed_everything(smk.params.seed)
    with np.load(smk.input.data, allow_pickle=False) as npz:
        arrays = dict(npz)
    _, history = lesson_scale(arrays, cfg, smk.params.seed, str(resolve_device(cfg["device"])),
                              cache_dir="resources/torch",
                              checkpoints=checkpoints_for(smk.params.checkpoints, {"cfg": cfg, "seed": smk.params.seed}))
    history.to_csv(smk.output.history, sep="\t", index=False, float_format="%.5f")
    pets_comparison(history, pd.read_csv(smk.input.reference, sep="\t")).to_csv(
        smk.output.comparison, sep="\t", index=False, float_format="%.4f")
    remove_checkpoints(smk.params.checkpoints)


run_script(snakemake, main)  # noqa: F821
