"""Rule pretrain_body: train ResNet-34 on every image of a body's source tasks and save its body."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import logging

import numpy as np
import torch

from lesson5.experiments.transfer import body_source, describe_source, pretrain
from lesson5.experiments.transfer_plan import BODY_SOURCES, FRACTAL_SOURCE
from lesson5.models.vision import save_body
from lesson5.runner import run_script, seed_everything
from lesson5.train.checkpoint import checkpoints_for, remove_checkpoints
from lesson5.train.device import resolve_device, resolve_precision

log = logging.getLogger("lesson5.pretrain_body")


def load(path: str) -> dict:
    with np.load(path, allow_pickle=False) as npz:
        return dict(npz)


def main(smk):
    torch.set_num_threads(smk.threads)
    cfg, seed, source = smk.params.job, smk.params.seed, smk.wildcards.source
    seed_everything(seed)
    arrays = {part: load(smk.input.fractals if part == FRACTAL_SOURCE else smk.input.dataset)
              for part in BODY_SOURCES[source]}
    data = body_source(source, arrays, cfg.get("source_classes"), cfg["size"])
    described = describe_source(source, arrays, cfg.get("dataset"), cfg.get("source_classes"))
    device = resolve_device(cfg["device"])
    precision = resolve_precision(cfg["precision"], device)
    log.info("%s body's source, %s: %d classes, %d training images; training on %s in %s", source, described,
             len(data.classes), len(data.y_train), device, precision)
    learner, history = pretrain(data, cfg["pretrain"], cfg["ps"], seed, str(device),
                                checkpoint=checkpoints_for(smk.params.checkpoints, {"job": cfg, "seed": seed}) / "fit.pt", precision=precision, conv=cfg["conv"])
    history = history.assign(train_images=len(data.y_train), valid_images=len(data.y_valid), classes=len(data.classes),
                             source=described)  # the aggregation's name for this source task
    history.to_csv(smk.output.history, sep="\t", index=False, float_format="%.5f")
    save_body(learner.model.cpu(), smk.output.body, source=described, size=cfg["size"],
              valid_error_rate=float(history.error_rate.iloc[-1]))
    remove_checkpoints(smk.params.checkpoints)


run_script(snakemake, main)  # noqa: F821
