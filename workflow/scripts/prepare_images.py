"""Rule prepare_images: IDX files -> checked uint8 arrays split into train / valid / test (.npz)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import logging
from pathlib import Path

import numpy as np

from lesson5.data.idx import load_idx_dataset, split_train_valid
from lesson5.runner import run_script

log = logging.getLogger("lesson5.prepare_images")


def main(smk):
    arrays = split_train_valid(load_idx_dataset(Path(smk.input[0]).parent), smk.params.n_valid, smk.params.seed)
    log.info(", ".join(f"{k}: {v.shape}" for k, v in arrays.items()))
    np.savez_compressed(smk.output[0], **arrays)


run_script(snakemake, main)  # noqa: F821
