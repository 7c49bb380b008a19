"""Optimizers of the lesson and the three ways to apply weight decay.

wd_mode:
  * "decoupled": p <- p * (1 - lr * wd) each step (fastai's true_wd). Adam uses torch's AdamW, which
    is exactly this; torch's SGD/RMSprop lack it, so `decoupled_decay_` applies it by hand.
  * "l2":        torch's own ``weight_decay`` argument (adds wd * p to the gradient).
  * "loss":      wd * sum(p^2) added to the loss, as the lesson's hand-written MNIST loop does.
For plain SGD the three coincide (up to the factor 2 of "loss"); for Adam they differ.

What decay reaches: every parameter (the lesson's and fastai v1's choice), or every parameter but the
bias terms (``bias_wd=False``, fastai v2's ``wd_bn_bias=False`` extended to the collab biases).
"""

from __future__ import annotations

import torch
from torch import nn

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
    builtin_wd = wd if builtin_decay(name, wd_mode) else 0.0
    groups = [{**g, "weight_decay": builtin_wd} for g in param_groups]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=groups[0]["lr"])
    if name == "momentum":
        return torch.optim.SGD(groups, lr=groups[0]["lr"], momentum=momentum)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=groups[0]["lr"], alpha=0.99, eps=eps)
    adam = torch.optim.AdamW if wd_mode == "decoupled" else torch.optim.Adam
    return adam(groups, lr=groups[0]["lr"], betas=tuple(betas), eps=eps)


def builtin_decay(name: str, wd_mode: str) -> bool:
    """Whether torch's optimizer applies this decay itself through its weight_decay argument
    (otherwise ManualDecay does: decoupled decay for SGD/RMSprop, L2 in the loss)."""
    return wd_mode == "l2" or (wd_mode == "decoupled" and name in ("adam", "adamw"))


NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)


def decayed_params(model: nn.Module, params, bias_wd: bool = True) -> list[nn.Parameter]:
    """The parameters weight decay applies to: all of ``params``, or, without bias_wd, all but the
    bias terms: parameters named ``bias``, norm-layer parameters, and those the model names in its
    ``no_weight_decay()`` (timm's convention; the collab model's bias embeddings)."""
    if bias_wd:
        return list(params)
    listed = model.no_weight_decay() if hasattr(model, "no_weight_decay") else set()
    exempt = {id(p) for name, p in model.named_parameters() if name in listed}
    exempt |= {id(p) for m in model.modules() for name, p in m.named_parameters(recurse=False)
               if name == "bias" or isinstance(m, NORM_TYPES)}
    return [p for p in params if id(p) not in exempt and p.numel()]  # (the bias-only model's factors are empty)


class ManualDecay:
    """Weight decay the trainer applies itself, where torch's optimizers cannot: decay of some
    parameters only (see ``decayed_params``), decoupled decay for SGD and RMSprop, and L2 in the loss."""

    def __init__(self, opt: torch.optim.Optimizer, params: list[nn.Parameter], wd: float, mode: str):
        self.ids = {id(p) for p in params}
        self.groups = [[p for p in g["params"] if id(p) in self.ids] for g in opt.param_groups]
        # detached aliases of the decayed parameters, made once, not every step
        self.views = [[p.detach() for p in params] for params in self.groups]
        self.opt, self.wd, self.mode = opt, wd, mode

    @torch.no_grad()
    def decay_(self):
        """Decoupled: p <- p * (1 - lr * wd), before the optimizer's step."""
        for group, views in zip(self.opt.param_groups, self.views):
            if views:
                torch._foreach_mul_(views, 1 - group["lr"] * self.wd)

    @torch.no_grad()
    def add_l2_(self):
        """L2 in the gradient: grad += wd * p, after backward."""
        for params, views in zip(self.groups, self.views):
            with_grad = [(p.grad, v) for p, v in zip(params, views) if p.grad is not None]
            if with_grad:
                grads, decayed = zip(*with_grad)
                torch._foreach_add_(list(grads), list(decayed), alpha=self.wd)

    def penalty(self) -> torch.Tensor:
        """L2 in the loss: wd * sum of squares, as in the lesson's update()."""
        return self.wd * sum((p ** 2).sum() for params in self.groups for p in params)

    def before_step(self):
        """What the mode needs between backward and the optimizer's step."""
        if self.mode == "decoupled":
            self.decay_()
        elif self.mode == "l2":
            self.add_l2_()


def supports_momentum_cycling(name: str) -> bool:
    """1cycle cycles Adam's beta1 or SGD's momentum; plain SGD and RMSprop keep theirs (zero)."""
    return name in ("momentum", "adam", "adamw")
