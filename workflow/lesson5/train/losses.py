"""Softmax and cross-entropy written out as the lesson explains them (torch's are used for training;
tests check these equal torch's)."""

from __future__ import annotations

import torch


def softmax(logits: torch.Tensor) -> torch.Tensor:
    """e^z_i / sum_j e^z_j, shifted by the row max for stability (a constant shift changes nothing)."""
    shifted = logits - logits.max(dim=-1, keepdim=True).values
    exp = shifted.exp()
    return exp / exp.sum(dim=-1, keepdim=True)


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """log(softmax(z)) computed as z - max - log(sum e^(z - max)): log(softmax) itself underflows to
    log(0) = -inf once a logit trails the largest by more than ~100."""
    shifted = logits - logits.max(dim=-1, keepdim=True).values
    return shifted - shifted.exp().sum(dim=-1, keepdim=True).log()


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of -log(softmax probability of the true class): a lookup, not a sum over classes."""
    log_probs = log_softmax(logits)
    return -log_probs.gather(-1, target.unsqueeze(-1)).squeeze(-1).mean()
