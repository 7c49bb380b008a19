"""Rule pretrain_body: train ResNet-34 on the source classes and save its body as a checkpoint."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import numpy as np
import torch

from lesson5.models.vision import cnn_model, save_body
from lesson5.runner import run_script, seed_everything
from lesson5.train.loop import resolve_device
from lesson5.transfer import make_learner, task_data


def main(smk):
    torch.set_num_threads(smk.threads)
    cfg, pre = smk.params.transfer, smk.params.transfer["pretrain"]
    seed_everything(smk.params.seed)
    with np.load(smk.input.data, allow_pickle=False) as npz:
        arrays = dict(npz)
    data = task_data(arrays, cfg["source_classes"], pre["per_class"], pre["valid_per_class"], cfg["size"],
                     smk.params.seed)
    device = str(resolve_device(cfg["device"]))
    model = cnn_model(len(data.classes), "scratch", smk.params.ps).to(memory_format=torch.channels_last)
    learner = make_learner(model, data, bs=pre["bs"], wd=pre["wd"], lr_div=1.0, seed=smk.params.seed,
                           device=device)
    learner.log_every = 20
    history = learner.fit_one_cycle(pre["epochs"], pre["lr"])
    history.to_csv(smk.output.history, sep="\t", index=False, float_format="%.5f")
    save_body(learner.model.cpu(), smk.output.body, source=f"{smk.params.dataset} classes {cfg['source_classes']}",
              size=cfg["size"], valid_error_rate=float(history.error_rate.iloc[-1]))


run_script(snakemake, main)  # noqa: F821
