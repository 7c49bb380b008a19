"""Optimizers of the lesson and the three ways to apply weight decay.

wd_mode:
  * "decoupled": p <- p * (1 - lr * wd) each step (fastai's true_wd). Adam uses torch's AdamW, which
    is exactly this; torch's SGD/RMSprop lack it, so ``ManualDecay`` applies it before their step.
  * "l2":        torch's own ``weight_decay`` argument (adds wd * p to the gradient).
  * "loss":      wd * sum(p^2) added to the loss, as the lesson's hand-written MNIST loop does.
For plain SGD the three coincide (up to the factor 2 of "loss"); for Adam they differ.

What decay reaches: every parameter (the lesson's and fastai v1's choice), or every parameter but the
bias terms (``bias_wd=False``, fastai v2's ``wd_bn_bias=False`` extended to the collab biases). The
exempt parameters go in param groups of their own with weight_decay 0, as fastai splits its groups.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from lesson5.errors import PipelineError
from lesson5.train.lazy_adamw import LazyAdamW

WD_MODES = ("decoupled", "l2", "loss")


def adam(groups, lr, wd_mode, betas, eps, momentum):
    """torch's Adam, or AdamW for decoupled decay, on the fused kernel where every parameter allows it."""
    fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for g in groups for p in g["params"])
    cls = torch.optim.AdamW if wd_mode == "decoupled" else torch.optim.Adam
    return cls(groups, lr=lr, betas=tuple(betas), eps=eps, fused=fused)


@dataclass(frozen=True)
class Optimizer:
    """One entry of the table: how to build it, whether its own weight_decay is decoupled decay, whether
    1cycle cycles its momentum (Adam's beta1, SGD's momentum), and the decay modes it takes."""

    build: Callable  # (param groups, lr, wd_mode, betas, eps, momentum) -> torch optimizer
    decoupled: bool
    cycles_momentum: bool
    wd_modes: tuple[str, ...] = WD_MODES


OPTIMIZERS = {
    "sgd": Optimizer(lambda g, lr, mode, betas, eps, mom: torch.optim.SGD(g, lr=lr), False, False),
    "momentum": Optimizer(lambda g, lr, mode, betas, eps, mom: torch.optim.SGD(g, lr=lr, momentum=mom), False, True),
    "rmsprop": Optimizer(lambda g, lr, mode, betas, eps, mom: torch.optim.RMSprop(g, lr=lr, alpha=0.99, eps=eps),
                         False, False),
    "adam": Optimizer(adam, True, True),
    "adamw": Optimizer(adam, True, True, ("decoupled",)),
    # Adam on the rows a sparse gradient holds (embeddings with sparse=True); torch's has no decay of its own
    "sparse_adam": Optimizer(lambda g, lr, mode, betas, eps, mom: torch.optim.SparseAdam(g, lr=lr, betas=tuple(betas),
                                                                                          eps=eps),
                             False, True, ("decoupled",)),
    # the same update and decay on index ops: faster on large tables
    "lazy_adamw": Optimizer(lambda g, lr, mode, betas, eps, mom: LazyAdamW(g, lr=lr, betas=tuple(betas), eps=eps),
                            True, True, ("decoupled",)),
}


def builtin_decay(name: str, wd_mode: str) -> bool:
    """Whether torch's optimizer applies this decay itself through its weight_decay argument
    (otherwise ManualDecay does: decoupled decay for SGD/RMSprop/SparseAdam, L2 in the loss)."""
    return wd_mode == "l2" or (wd_mode == "decoupled" and OPTIMIZERS[name].decoupled)


def make_optimizer(name: str, param_groups: list[dict], *, wd: float, wd_mode: str = "decoupled",
                   betas=(0.9, 0.99), eps: float = 1e-8, momentum: float = 0.9) -> torch.optim.Optimizer:
    """``param_groups`` are dicts with "params", "lr" and optionally "decay" (False: no weight decay
    for this group). Adam and AdamW use torch's fused kernel: one pass over all parameters, several
    times faster than the foreach version for ResNet-34 (benchmarks/resnet_throughput.py)."""
    if name not in OPTIMIZERS:
        raise PipelineError(f"unknown optimizer {name!r}; choose one of {tuple(OPTIMIZERS)}")
    if wd_mode not in WD_MODES:
        raise PipelineError(f"unknown wd_mode {wd_mode!r}; choose one of {WD_MODES}")
    if wd_mode not in OPTIMIZERS[name].wd_modes:
        raise PipelineError(f"{name} takes decoupled weight decay only; use adam for wd_mode l2/loss")
    builtin = builtin_decay(name, wd_mode)
    groups = [{"params": g["params"], "lr": g["lr"], "decay": g.get("decay", True),
               "weight_decay": wd if builtin and g.get("decay", True) else 0.0} for g in param_groups]
    return OPTIMIZERS[name].build(groups, groups[0]["lr"], wd_mode, betas, eps, momentum)


NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)


def exempt_from_decay(model: nn.Module) -> set[int]:
    """ids of the bias terms: parameters named ``bias``, norm-layer parameters, and those the model
    names in its ``no_weight_decay()`` (timm's convention; the collab model's bias embeddings)."""
    listed = model.no_weight_decay() if hasattr(model, "no_weight_decay") else set()
    exempt = {id(p) for name, p in model.named_parameters() if name in listed}
    exempt |= {id(p) for m in model.modules() for name, p in m.named_parameters(recurse=False)
               if name == "bias" or isinstance(m, NORM_TYPES)}
    return exempt


def decayed_params(model: nn.Module, params, bias_wd: bool = True) -> list[nn.Parameter]:
    """The parameters weight decay applies to: all of ``params``, or without bias_wd all but the
    bias terms (``exempt_from_decay``)."""
    exempt = set() if bias_wd else exempt_from_decay(model)
    return [p for p in params if id(p) not in exempt and p.numel()]  # (the bias-only model's factors are empty)


def decay_param_groups(model: nn.Module, groups: list[dict], bias_wd: bool) -> list[dict]:
    """Each {"params", "lr"} group as is (bias_wd), or split into its decayed parameters and its
    bias terms ("decay": False); empty parts are dropped (the bias-only model's empty factors)."""
    if bias_wd:
        return [{**g, "params": decayed_params(model, g["params"])} for g in groups]
    out = []
    for g in groups:
        decayed = decayed_params(model, g["params"], bias_wd=False)
        ids = {id(p) for p in decayed}
        exempt = [p for p in g["params"] if id(p) not in ids and p.numel()]
        out += [{**g, "params": params, "decay": decay} for params, decay in ((decayed, True), (exempt, False)) if params]
    return out


class ManualDecay:
    """Weight decay the trainer applies itself, where torch's optimizers cannot: decoupled decay for
    SGD, RMSprop and SparseAdam, and L2 in the loss. Only groups marked "decay" are decayed. A
    parameter with a sparse gradient is decayed lazily, on the rows the gradient holds (as
    TensorFlow's LazyAdam does): decaying every row each step would cost what sparsity saves."""

    def __init__(self, opt: torch.optim.Optimizer, wd: float, mode: str):
        self.opt, self.wd, self.mode = opt, wd, mode
        # detached aliases of the decayed parameters, made once, not every step
        self.views = [[p.detach() for p in g["params"]] if g.get("decay", True) else [] for g in opt.param_groups]

    @classmethod
    def for_optimizer(cls, opt, name: str, wd: float, mode: str) -> "ManualDecay | None":
        """The manual decay ``opt`` needs for ``name`` and ``mode``, or None (no decay, or torch's own)."""
        return None if not wd or builtin_decay(name, mode) else cls(opt, wd, mode)

    @torch.no_grad()
    def decay_(self):
        """Decoupled: p <- p * (1 - lr * wd), before the optimizer's step."""
        for group, views in zip(self.opt.param_groups, self.views):
            factor = 1 - group["lr"] * self.wd
            for param, view in zip(group["params"], views):
                grad = param.grad
                if grad is not None and grad.is_sparse:
                    rows = grad.coalesce().indices()[0]  # coalesced: each row once
                    view.index_copy_(0, rows, view.index_select(0, rows).mul_(factor))
                else:
                    view.mul_(factor)

    def penalty(self) -> torch.Tensor:
        """L2 in the loss: wd * sum of squares, as in the lesson's update()."""
        return self.wd * sum((p ** 2).sum() for g, views in zip(self.opt.param_groups, self.views)
                             for p in (g["params"] if views else []))


def supports_momentum_cycling(name: str) -> bool:
    """1cycle cycles Adam's beta1 or SGD's momentum; plain SGD and RMSprop keep theirs (zero)."""
    return OPTIMIZERS[name].cycles_momentum


@contextmanager
def optimizer_step_seconds():
    """Time spent inside every optimizer's ``step()`` while the block runs (torch's global step
    hooks, for benchmarks): yields a dict whose "seconds" grows with each step."""
    total, started = {"seconds": 0.0}, []

    def before(*_):
        started.append(time.perf_counter())

    def after(*_):
        total["seconds"] += time.perf_counter() - started.pop()

    handles = [register_optimizer_step_pre_hook(before), register_optimizer_step_post_hook(after)]
    try:
        yield total
    finally:
        for handle in handles:
            handle.remove()
