"""fastai's debiased exponential moving average of the loss (no torch: the plots use it too)."""

from __future__ import annotations

import math

import numpy as np


class LossSmoother:
    """The moving average one loss at a time, with the lr finder's stop rule."""

    def __init__(self, beta: float = 0.98):
        self.beta, self.avg, self.n, self.best, self.last = beta, 0.0, 0, math.inf, math.nan

    def add(self, loss: float) -> bool:
        """Take one loss; True once the smoothed loss is above 4x its best or not a number."""
        self.n += 1
        self.avg = self.beta * self.avg + (1 - self.beta) * loss
        self.last = self.avg / (1 - self.beta ** self.n)
        self.best = min(self.best, self.last)
        return self.last > 4 * self.best or math.isnan(self.last)


def smooth(values, beta: float = 0.98) -> np.ndarray:
    """The smoothed curve of a whole sequence of losses."""
    smoother, out = LossSmoother(beta), np.empty(len(values))
    for i, value in enumerate(values):
        smoother.add(float(value))
        out[i] = smoother.last
    return out
