"""Transfer learning as the lesson does it, sized for a CPU: pretrain a ResNet-34 body on some classes
of an image dataset, then move it to the other classes with few labels and compare strategies."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn
from torchvision.transforms.v2 import functional as TF

from lesson5.errors import PipelineError
from lesson5.models.vision import IMAGENET_STATS, cnn_model, layer_groups
from lesson5.train.loop import Learner, Tensors, accuracy, error_rate

log = logging.getLogger(__name__)

STRATEGIES = ("head_only", "discriminative", "unfrozen_high_lr", "scratch")


def select_classes(x: np.ndarray, y: np.ndarray, classes, per_class: int | None, seed: int):
    """Up to ``per_class`` seeded examples of each class in ``classes``, labels renumbered 0..k-1."""
    rng = np.random.default_rng(seed)
    picked = []
    for k in classes:
        idx = np.flatnonzero(y == k)
        if per_class is not None:
            if len(idx) < per_class:
                raise PipelineError(f"class {k} has {len(idx)} examples, fewer than the {per_class} asked for")
            idx = rng.choice(idx, per_class, replace=False)
        picked.append(idx)
    order = np.sort(np.concatenate(picked))
    mapping = {k: i for i, k in enumerate(classes)}
    return x[order], np.array([mapping[v] for v in y[order]], dtype=np.int64)


def to_model_input(images: np.ndarray, size: int) -> torch.Tensor:
    """uint8 [n, 28, 28] -> float [n, 3, size, size], resized (antialiased) and ImageNet-normalised."""
    x = torch.from_numpy(images).float().div_(255).unsqueeze(1)
    x = TF.resize(x, [size, size], antialias=True)
    x = x.expand(-1, 3, -1, -1)
    x = TF.normalize(x, list(IMAGENET_STATS[0]), list(IMAGENET_STATS[1]))
    return x.contiguous(memory_format=torch.channels_last)  # oneDNN convolutions run faster on NHWC


def random_flip(x: torch.Tensor) -> torch.Tensor:
    """Horizontal flip of a random half of the batch (per image, from torch's seeded RNG)."""
    flip = torch.rand(x.shape[0], device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


@dataclass
class TaskData:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_valid: torch.Tensor
    y_valid: torch.Tensor
    classes: list[int] = field(default_factory=list)


def task_data(arrays: dict[str, np.ndarray], classes, per_class, valid_per_class, size, seed) -> TaskData:
    xt, yt = select_classes(arrays["x_train"], arrays["y_train"], classes, per_class, seed)
    xv, yv = select_classes(arrays["x_valid"], arrays["y_valid"], classes, valid_per_class, seed)
    return TaskData(to_model_input(xt, size), torch.from_numpy(yt), to_model_input(xv, size),
                    torch.from_numpy(yv), list(classes))


def make_learner(model: nn.Module, data: TaskData, *, bs: int, wd: float, lr_div: float, seed: int,
                 device: str, augment: bool = True) -> Learner:
    return Learner(model, Tensors(data.x_train, data.y_train, data.x_valid, data.y_valid),
                   loss_func=nn.CrossEntropyLoss(), metrics={"error_rate": error_rate, "accuracy": accuracy},
                   layer_groups=layer_groups(model), opt="adam", wd=wd, wd_mode="decoupled", bs=bs,
                   drop_last=False, seed=seed, device=device, lr_div=lr_div,
                   transform=random_flip if augment else None, valid_bs=256)


def run_strategy(strategy: str, data: TaskData, weights: str, cfg: dict, seed: int, device: str,
                 cache_dir: str | None = None):
    """Train one strategy; returns (learner, per-epoch history with a 'stage' column)."""
    if strategy not in STRATEGIES:
        raise PipelineError(f"unknown strategy {strategy!r}; choose one of {STRATEGIES}")
    torch.manual_seed(seed)
    model = cnn_model(len(data.classes), "scratch" if strategy == "scratch" else weights, cfg["ps"], cache_dir)
    model = model.to(memory_format=torch.channels_last)
    learner = make_learner(model, data, bs=cfg["bs"], wd=cfg["wd"], lr_div=cfg["lr_div"], seed=seed, device=device)
    e1, e2 = cfg["frozen_epochs"], cfg["unfrozen_epochs"]
    stages = []
    if strategy == "scratch":
        learner.unfreeze()
        stages.append(("unfrozen", learner.fit_one_cycle(e1 + e2, cfg["lr"])))
    else:
        learner.freeze()
        stages.append(("frozen", learner.fit_one_cycle(e1, cfg["lr"])))
        if strategy == "discriminative":
            learner.unfreeze()
            stages.append(("unfrozen", learner.fit_one_cycle(e2, list(cfg["lr_slice"]))))
        elif strategy == "unfrozen_high_lr":
            learner.unfreeze()
            stages.append(("unfrozen", learner.fit_one_cycle(e2, cfg["lr"])))
        else:  # head_only: the same number of epochs, body still frozen
            stages.append(("frozen", learner.fit_one_cycle(e2, cfg["lr"])))
    return learner, stage_history(stages)


def stage_history(stages: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """The fit histories of consecutive stages as one, with a 'stage' column and epochs counted on."""
    history = pd.concat([h.assign(stage=name) for name, h in stages], ignore_index=True)
    history["epoch"] = range(1, len(history) + 1)
    return history


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, n: int) -> np.ndarray:
    idx = target.cpu() * n + pred.argmax(1).cpu()
    return torch.bincount(idx, minlength=n * n).reshape(n, n).numpy()


def lesson_scale(arrays: dict, cfg: dict, seed: int, device: str, cache_dir: str | None = None):
    """Lesson 1's pets run: ImageNet body, fit_one_cycle(frozen_epochs, lr) frozen, then unfreeze and
    fit_one_cycle(unfrozen_epochs, slice(lo, hi)). Returns (learner, history with a 'stage' column)."""
    from lesson5.data.pets import CenterCropNormalize, PetsAugment

    valid = arrays["is_valid"]
    x, y = torch.from_numpy(arrays["images"]), torch.from_numpy(arrays["labels"].astype(np.int64))
    torch.manual_seed(seed)
    model = cnn_model(len(arrays["classes"]), cfg["weights"], cfg["ps"], cache_dir)
    model = model.to(memory_format=torch.channels_last)
    stats = IMAGENET_STATS
    learner = Learner(model, Tensors(x[~valid], y[~valid], x[valid], y[valid]), loss_func=nn.CrossEntropyLoss(),
                      metrics={"error_rate": error_rate}, layer_groups=layer_groups(model), opt="adam",
                      wd=cfg["wd"], wd_mode="decoupled", bs=cfg["bs"], drop_last=True, seed=seed, device=device,
                      lr_div=cfg["lr_div"], transform=PetsAugment(cfg["size"], *stats),
                      valid_transform=CenterCropNormalize(cfg["size"], *stats), valid_bs=cfg["bs"], log_every=20)
    learner.freeze()
    frozen = learner.fit_one_cycle(cfg["frozen_epochs"], list(cfg["lr"]))
    learner.unfreeze()
    unfrozen = learner.fit_one_cycle(cfg["unfrozen_epochs"], list(cfg["lr_slice"]))
    return learner, stage_history([("frozen", frozen), ("unfrozen", unfrozen)])
