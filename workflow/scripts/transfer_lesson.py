"""Rule transfer_lesson: lesson 1's pets run at lesson scale, beside the lesson's published errors."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import numpy as np
import pandas as pd
import torch

from lesson5.runner import run_script, seed_everything
from lesson5.train.loop import resolve_device
from lesson5.transfer import lesson_scale

LESSON = {"frozen": 0.071042, "unfrozen": 0.062246}  # lesson1-pets, fastai 1.0.42, final epoch of each stage


def main(smk):
    torch.set_num_threads(smk.threads)
    cfg = smk.params.cfg
    seed_everything(smk.params.seed)
    with np.load(smk.input[0], allow_pickle=False) as npz:
        arrays = dict(npz)
    _, history = lesson_scale(arrays, cfg, smk.params.seed, str(resolve_device(cfg["device"])),
                              cache_dir="resources/torch")
    history.to_csv(smk.output.history, sep="\t", index=False, float_format="%.5f")
    last = history.groupby("stage").tail(1).set_index("stage")
    pd.DataFrame([{"stage": s, "error_rate": last.loc[s, "error_rate"], "lesson": LESSON[s],
                   "gap": last.loc[s, "error_rate"] - LESSON[s]} for s in ("frozen", "unfrozen")]).to_csv(
        smk.output.comparison, sep="\t", index=False, float_format="%.4f")


run_script(snakemake, main)  # noqa: F821
