"""Lesson 1's pets run at its own scale (ImageNet body, 224 px): off by default, needs a download and a GPU."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from lesson5.experiments.transfer import fresh_model, vision_learner
from lesson5.models.vision import IMAGENET_STATS
from lesson5.train.loop import Tensors


def stage_history(stages: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """The fit histories of consecutive stages as one, with a 'stage' column and epochs counted on."""
    history = pd.concat([h.assign(stage=name) for name, h in stages], ignore_index=True)
    history["epoch"] = range(1, len(history) + 1)
    return history


def lesson_scale(arrays: dict, cfg: dict, seed: int, device: str, cache_dir: str | None = None, checkpoints=None):
    """fit_one_cycle(frozen_epochs, lr) frozen, then unfreeze and fit_one_cycle(unfrozen_epochs, slice(lo, hi)).
    Returns (learner, history with a 'stage' column). ``checkpoints``: a folder for per-epoch checkpoints
    of both stages (a killed job resumes)."""
    from lesson5.data.pets import CenterCropNormalize, PetsAugment

    valid = arrays["is_valid"]
    x, y = torch.from_numpy(arrays["images"]), torch.from_numpy(arrays["labels"].astype(np.int64))
    model = fresh_model(len(arrays["classes"]), cfg["weights"], cfg["ps"], seed, cache_dir)
    learner = vision_learner(model, Tensors(x[~valid], y[~valid], x[valid], y[valid]), bs=cfg["bs"], wd=cfg["wd"],
                             lr_div=cfg["lr_div"], seed=seed, device=device, precision=cfg.get("precision", "auto"),
                             even_batches=False, transform=PetsAugment(cfg["size"], *IMAGENET_STATS),
                             valid_transform=CenterCropNormalize(cfg["size"], *IMAGENET_STATS), valid_bs=cfg["bs"],
                             log_every=20)
    saved = (lambda name: f"{checkpoints}/{name}.pt") if checkpoints else (lambda name: None)
    learner.freeze()
    frozen = learner.fit_one_cycle(cfg["frozen_epochs"], list(cfg["lr"]), checkpoint=saved("frozen"))
    learner.unfreeze()
    unfrozen = learner.fit_one_cycle(cfg["unfrozen_epochs"], list(cfg["lr_slice"]), checkpoint=saved("unfrozen"))
    return learner, stage_history([("frozen", frozen), ("unfrozen", unfrozen)])
