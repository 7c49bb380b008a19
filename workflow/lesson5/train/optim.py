"""Optimizers of the lesson and the three ways to apply weight decay.

wd_mode:
  * "decoupled": p <- p * (1 - lr * wd) each step (fastai's true_wd). Adam uses torch's AdamW, which
    is exactly this; torch's SGD/RMSprop lack it, so `decoupled_decay_` applies it by hand.
  * "l2":        torch's own ``weight_decay`` argument (adds wd * p to the gradient).
  * "loss":      wd * sum(p^2) added to the loss, as the lesson's hand-written MNIST loop does.
For plain SGD the three coincide (up to the factor 2 of "loss"); for Adam they differ.
"""

from __future__ import annotations

import torch

from lesson5.errors import PipelineError

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam", "adamw")
WD_MODES = ("decoupled", "l2", "loss")


def make_optimizer(name: str, param_groups: list[dict], *, wd: float, wd_mode: str = "decoupled",
                   betas=(0.9, 0.99), eps: float = 1e-8, momentum: float = 0.9) -> torch.optim.Optimizer:
    """``param_groups`` are dicts with "params" and "lr"; decay is set per group as "weight_decay"."""
    if name not in OPTIMIZERS:
        raise PipelineError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")
    if wd_mode not in WD_MODES:
        raise PipelineError(f"unknown wd_mode {wd_mode!r}; choose one of {WD_MODES}")
    if name == "adamw" and wd_mode != "decoupled":
        raise PipelineError("adamw is Adam with decoupled weight decay; use adam for wd_mode l2/loss")
    builtin_wd = wd if (wd_mode == "l2" or (wd_mode == "decoupled" and name in ("adam", "adamw"))) else 0.0
    groups = [{**g, "weight_decay": builtin_wd * g.get("wd_mult", 1.0)} for g in param_groups]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=groups[0]["lr"])
    if name == "momentum":
        return torch.optim.SGD(groups, lr=groups[0]["lr"], momentum=momentum)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=groups[0]["lr"], alpha=0.99, eps=eps)
    adam = torch.optim.AdamW if wd_mode == "decoupled" else torch.optim.Adam
    return adam(groups, lr=groups[0]["lr"], betas=tuple(betas), eps=eps)


def needs_manual_decay(name: str, wd_mode: str, wd: float) -> bool:
    return wd > 0 and wd_mode == "decoupled" and name in ("sgd", "momentum", "rmsprop")


@torch.no_grad()
def decoupled_decay_(optimizer: torch.optim.Optimizer, wd: float):
    """p <- p * (1 - lr * wd) for optimizers torch gives no decoupled decay (SGD, RMSprop)."""
    for group in optimizer.param_groups:
        factor = 1 - group["lr"] * wd * group.get("wd_mult", 1.0)
        torch._foreach_mul_(group["params"], factor)


def l2_penalty(params, wd: float) -> torch.Tensor:
    """wd * sum of squares of every parameter (bias included), as in the lesson's update()."""
    return wd * sum((p**2).sum() for p in params)


def supports_momentum_cycling(name: str) -> bool:
    """1cycle cycles Adam's beta1 or SGD's momentum; plain SGD and RMSprop keep theirs (zero)."""
    return name in ("momentum", "adam", "adamw")
