"""Rule pretrain_body: train ResNet-34 on every image of a body's source tasks and save its body."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import numpy as np
import torch

from lesson5.experiments.transfer import pretrain_own_body
from lesson5.experiments.transfer_plan import BODY_SOURCES, FRACTAL_SOURCE
from lesson5.models.vision import save_body
from lesson5.runner import run_script
from lesson5.train.checkpoint import checkpoints_for, remove_checkpoints
from lesson5.train.device import resolve_device

def load(path: str) -> dict:
    with np.load(path, allow_pickle=False) as npz:
        return dict(npz)


def main(smk):
    torch.set_num_threads(smk.threads)
    cfg, seed, source = smk.params.job, smk.params.seed, smk.wildcards.source
    arrays = {part: load(smk.input.fractals if part == FRACTAL_SOURCE else smk.input.dataset)
              for part in BODY_SOURCES[source]}
    checkpoint = checkpoints_for(smk.params.checkpoints, {"job": cfg, "seed": seed}) / "fit.pt"
    learner, history = pretrain_own_body(source, cfg, arrays, seed, str(resolve_device(cfg["device"])), checkpoint)
    history.to_csv(smk.output.history, sep="\t", index=False, float_format="%.5f")
    save_body(learner.model.cpu(), smk.output.body, source=history.source.iloc[0], size=cfg["size"],
              valid_error_rate=float(history.error_rate.iloc[-1]))
    remove_checkpoints(smk.params.checkpoints)


run_script(snakemake, main)  # noqa: F821
