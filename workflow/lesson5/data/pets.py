"""Oxford-IIIT Pets for the lesson-scale transfer run (lesson 1: 37 breeds, labels from file names).

The canonical download goes through torchvision's OxfordIIITPet, which checks its md5; a local source
is a folder holding the ``*.jpg`` files (or an ``images/`` folder of them).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import torch
from torchvision.io import ImageReadMode, decode_image
from torchvision.transforms.v2 import functional as TF

from lesson5.errors import DataValidationError, SourceUnavailable

log = logging.getLogger(__name__)
LABEL = re.compile(r"([^/]+)_\d+\.jpg$")  # the lesson's from_name_re pattern


def fetch_pets(source: str, dest: str | Path) -> Path:
    """The folder of pet images: downloaded with torchvision (md5-checked) or found in ``source``."""
    dest = Path(dest)
    if source == "torchvision":
        from torchvision.datasets import OxfordIIITPet

        try:
            OxfordIIITPet(str(dest), download=True)
        except Exception as error:  # torchvision raises URLError, RuntimeError (bad md5) or OSError
            raise SourceUnavailable(
                f"could not download Oxford-IIIT Pets with torchvision ({error}); set pets.source to a "
                "folder holding the images (e.g. oxford-iiit-pet/images)") from error
        return dest / "oxford-iiit-pet" / "images"
    folder = Path(source)
    folder = folder / "images" if (folder / "images").is_dir() else folder
    if not any(folder.glob("*.jpg")):
        raise SourceUnavailable(f"{folder}: no .jpg files (expected Oxford-IIIT Pets images)")
    return folder


def list_images(folder: str | Path) -> tuple[list[Path], list[str]]:
    """Every labelled image, sorted by name, with its breed from the file name."""
    paths, labels = [], []
    for path in sorted(Path(folder).glob("*.jpg")):
        match = LABEL.search(path.name)
        if match is None:
            raise DataValidationError(f"{path}: name does not match {LABEL.pattern}")
        paths.append(path)
        labels.append(match.group(1))
    if not paths:
        raise DataValidationError(f"{folder}: no images")
    return paths, labels


def load_resized(paths: list[Path], size: int) -> np.ndarray:
    """uint8 [n, 3, size, size]: each image decoded as RGB and squished to size x size."""
    out = np.empty((len(paths), 3, size, size), dtype=np.uint8)
    for k, path in enumerate(paths):
        try:
            image = decode_image(str(path), mode=ImageReadMode.RGB)
        except RuntimeError as error:
            raise DataValidationError(f"{path}: not a readable image ({error})") from error
        out[k] = TF.resize(image, [size, size], antialias=True).numpy()
        if (k + 1) % 1000 == 0:
            log.info("decoded %d/%d images", k + 1, len(paths))
    return out


def random_valid_mask(n: int, valid_pct: float, seed: int) -> np.ndarray:
    order = np.random.default_rng(seed).permutation(n)
    mask = np.zeros(n, dtype=bool)
    mask[order[: int(valid_pct * n)]] = True
    return mask


class PetsAugment:
    """fastai's get_transforms() defaults, per image, with torchvision: flip, rotate ±10°, zoom up to
    1.1 and lighting 0.2 (each affine/lighting change with p=0.75), then a random crop to ``size``,
    and ImageNet normalisation."""

    def __init__(self, size: int, mean, std):
        self.size, self.mean, self.std = size, list(mean), list(std)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        out = []
        for image in batch:
            image = image.float().div(255)
            if torch.rand(()) < 0.5:
                image = TF.horizontal_flip(image)
            if torch.rand(()) < 0.75:
                angle = float(torch.empty(()).uniform_(-10, 10))
                zoom = float(torch.empty(()).uniform_(1.0, 1.1))
                image = TF.affine(image, angle=angle, translate=[0, 0], scale=zoom, shear=[0.0, 0.0])
            if torch.rand(()) < 0.75:
                image = TF.adjust_brightness(image, float(torch.empty(()).uniform_(0.8, 1.2)))
                image = TF.adjust_contrast(image, float(torch.empty(()).uniform_(0.8, 1.2)))
            top = int(torch.randint(0, image.shape[-2] - self.size + 1, ()))
            left = int(torch.randint(0, image.shape[-1] - self.size + 1, ()))
            out.append(TF.crop(image, top, left, self.size, self.size))
        return TF.normalize(torch.stack(out), self.mean, self.std)


class CenterCropNormalize:
    """Validation: centre crop to ``size`` and ImageNet normalisation."""

    def __init__(self, size: int, mean, std):
        self.size, self.mean, self.std = size, list(mean), list(std)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return TF.normalize(TF.center_crop(batch.float().div(255), [self.size, self.size]), self.mean, self.std)
