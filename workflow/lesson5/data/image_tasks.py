"""Image classification tasks as tensors: a dataset part's images as model input, the source task
(every image of some classes) and the target tasks (nested label budgets per seed, one validation set)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

from lesson5.data.budgets import budget_indices, relabel, valid_indices
from lesson5.models.vision import IMAGENET_STATS
from lesson5.train.loop import Tensors


def to_model_input(images: np.ndarray, size: int) -> torch.Tensor:
    """uint8 [n, h, w] -> float [n, 3, size, size], resized (antialiased) and ImageNet-normalised."""
    x = torch.from_numpy(images).float().div_(255).unsqueeze(1)
    if x.shape[-2:] != (size, size):
        x = TF.resize(x, [size, size], antialias=True)
    x = x.expand(-1, 3, -1, -1)
    x = TF.normalize(x, list(IMAGENET_STATS[0]), list(IMAGENET_STATS[1]))
    return x.contiguous(memory_format=torch.channels_last)  # oneDNN convolutions run faster on NHWC


def random_flip(x: torch.Tensor) -> torch.Tensor:
    """Horizontal flip of a random half of the batch (per image, from torch's seeded RNG)."""
    flip = torch.rand(x.shape[0], device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


@dataclass(frozen=True)
class RandomAffine:
    """Flip, rotate, zoom and shift each image of a batch by its own draw from torch's seeded RNG.
    By hand because torchvision's transforms draw one set of parameters per call, which a whole batch
    would share; torch's affine_grid and grid_sample do the resampling. Pixels from outside the image
    repeat its border (the background of a centred image)."""

    degrees: float = 30.0
    scale: tuple[float, float] = (0.75, 1.25)  # zoom factor: > 1 enlarges the content
    translate: float = 0.1  # largest shift, as a share of the image's side

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        angle = torch.deg2rad((torch.rand(n) * 2 - 1) * self.degrees)
        zoom = torch.empty(n).uniform_(*self.scale)
        flip = torch.where(torch.rand(n) < 0.5, -1.0, 1.0)
        shift = (torch.rand(n, 2) * 2 - 1) * (2 * self.translate)  # affine_grid's coordinates span [-1, 1]
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom  # output -> input: the inverse zoom
        theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1),
                             torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1).to(x.device, x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return out.contiguous(memory_format=torch.channels_last)


# config transfer.pretrain.augment: each with a random horizontal flip
AUGMENTS = {"flip": random_flip, "shift": RandomAffine(degrees=0.0, scale=(1.0, 1.0), translate=0.1),
            "rotate": RandomAffine(degrees=180.0, scale=(1.0, 1.0), translate=0.0), "affine": RandomAffine()}


@dataclass
class TaskData(Tensors):
    """A task's tensors, with its dataset classes (in label order) and training rows."""

    classes: list[int] = field(default_factory=list)
    index: np.ndarray | None = None  # the training rows' indices in the dataset
    x_dev: torch.Tensor | None = None  # labelled images for choosing lrs, never the validation ones
    y_dev: torch.Tensor | None = None


def images_and_labels(x: np.ndarray, y: np.ndarray, index: np.ndarray, classes, size: int):
    """Model inputs and labels renumbered 0..k-1 for the rows ``index`` of a dataset part."""
    return to_model_input(x[index], size), torch.from_numpy(relabel(y[index], classes))


def source_task(arrays: dict, classes, size: int) -> TaskData:
    """Every training and validation image of the source classes (None: every class of the set)."""
    if classes is None:
        classes = np.unique(arrays["y_train"]).tolist()

    def rows(part):
        return images_and_labels(arrays[f"x_{part}"], arrays[f"y_{part}"],
                                 np.flatnonzero(np.isin(arrays[f"y_{part}"], classes)), classes, size)

    return TaskData(*rows("train"), *rows("valid"), list(classes))


def joint_task(tasks: list[TaskData]) -> TaskData:
    """Source tasks learnt as one: every task's images, its labels numbered after the tasks before it
    (no class shared), classes renumbered 0..k-1 in that order."""
    if len(tasks) == 1:
        return tasks[0]
    offsets = np.cumsum([0] + [len(t.classes) for t in tasks])

    def images(part):
        return torch.cat([getattr(t, f"x_{part}") for t in tasks])

    def labels(part):
        return torch.cat([getattr(t, f"y_{part}") + int(o) for t, o in zip(tasks, offsets)])

    return TaskData(images("train"), labels("train"), images("valid"), labels("valid"), list(range(int(offsets[-1]))))


def target_tasks(arrays: dict, classes, budgets, seeds, valid_per_class: int, valid_seed: int, size: int,
                 dev_per_class: int = 0):
    """{seed: {budget: TaskData}}: each seed's nested budgets, one fixed validation set for all, and
    (``dev_per_class`` > 0) one dev set of further held-out images for all."""
    def held_out(per_class, skip=0):
        index = valid_indices(arrays["y_valid"], classes, per_class, valid_seed, skip)
        return images_and_labels(arrays["x_valid"], arrays["y_valid"], index, classes, size)

    x_valid, y_valid = held_out(valid_per_class)
    x_dev, y_dev = held_out(dev_per_class, valid_per_class) if dev_per_class else (None, None)
    return {seed: {budget: TaskData(*images_and_labels(arrays["x_train"], arrays["y_train"], index, classes, size),
                                    x_valid, y_valid, list(classes), index, x_dev, y_dev)
                   for budget, index in budget_indices(arrays["y_train"], classes, budgets, seed).items()}
            for seed in seeds}
