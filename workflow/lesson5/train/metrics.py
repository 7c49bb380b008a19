"""Metrics of a fit: each takes predictions and targets and returns a float."""

from __future__ import annotations

import math

import numpy as np
import torch


def mse(pred, target) -> float:
    return float(((pred - target) ** 2).mean())


def rmse(pred, target) -> float:
    return math.sqrt(mse(pred, target))


def accuracy(pred, target) -> float:
    return float((pred.argmax(-1) == target).float().mean())


def error_rate(pred, target) -> float:
    return 1.0 - accuracy(pred, target)


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, n: int) -> np.ndarray:
    """Counts [true, predicted] of a classifier's predictions (scores [rows, n])."""
    idx = target.cpu() * n + pred.argmax(1).cpu()
    return torch.bincount(idx, minlength=n * n).reshape(n, n).numpy()
