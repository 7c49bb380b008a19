"""A hand-derived training step for the stacked dot-product model: its gradient written straight
into ``p.grad``, then the optimizer's public ``step()``. Same numbers as autograd (a test checks),
without building and walking a graph of ~20 nodes for a batch of 64 (benchmarks/collab_speed.py
times both).

For model k and a batch of B (user u, item i, rating y), with z = U_u·I_i + b_u + b_i,
p = lo + (hi − lo)·σ(z) and loss_k = mean_b (p − y)², the gradient is

    g = ∂loss_k/∂z = 2 (p − y) (p − lo) (hi − p) / ((hi − lo) B)

    ∂/∂U_u += g·I_i,   ∂/∂I_i += g·U_u,   ∂/∂b_u += g,   ∂/∂b_i += g

summed over the batch rows that share a user or an item (``index_add_``).
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from lesson5.models.collab import StackedDotProductBias
from lesson5.train.loop import autograd_step

log = logging.getLogger(__name__)


def fast_path_gap(learner, opt) -> str | None:
    """Why the analytic step cannot serve this learner (None: it can)."""
    if not isinstance(learner.model, StackedDotProductBias):
        return f"the model is a {type(learner.model).__name__}, not StackedDotProductBias"
    if learner.model.y_range is None:
        return "the model has no y_range"
    if type(learner.loss_func) is not nn.MSELoss or learner.loss_func.reduction != "mean":
        return f"the loss is {learner.loss_func!r}, not MSELoss(reduction='mean')"
    if learner.manual_decay(opt) is not None:
        return f"weight decay {learner.wd_mode!r} is applied by the trainer, not by {type(opt).__name__}"
    if learner.transform is not None or learner.precision != "fp32":
        return "the batches are transformed or autocast"
    return None


def dot_step(learner, opt: torch.optim.Optimizer):
    """The Learner step (``make_step``) for StackedDotProductBias with MSE; falls back to autograd
    (and says so in the log) for any other model, loss or decay."""
    gap = fast_path_gap(learner, opt)
    if gap is not None:
        log.info("analytic collab step not used: %s; autograd computes the gradient", gap)
        return autograd_step(learner, opt)
    model = learner.model
    lo, hi = model.y_range
    k, n_users, n_items = len(model.u_weight), model.u_weight.shape[1], model.i_weight.shape[1]
    offset = torch.arange(k, device=learner.torch_device)[:, None]
    params = (model.u_weight, model.i_weight, model.u_bias, model.i_bias)
    for p in params:
        p.grad = torch.zeros_like(p)

    def rows(t):  # [K, n, d] -> [K * n, d]: model k's rows start at k * n (d may be 0: the bias-only model)
        return t.view(t.shape[0] * t.shape[1], t.shape[2])

    flat = [rows(p.detach()) for p in params]
    grads = [rows(p.grad) for p in params]

    @torch.no_grad()
    def step(xb, yb):
        users = (xb[..., 0] + offset * n_users).reshape(-1)
        items = (xb[..., 1] + offset * n_items).reshape(-1)
        u, i = flat[0].index_select(0, users), flat[1].index_select(0, items)
        z = (u * i).sum(-1) + flat[2].index_select(0, users)[:, 0] + flat[3].index_select(0, items)[:, 0]
        pred = torch.sigmoid(z).mul_(hi - lo).add_(lo).view_as(yb)
        err = pred - yb
        losses = err.square().mean(-1)
        g = (err * (pred - lo) * (hi - pred)).mul_(2 / ((hi - lo) * yb.shape[-1])).view(-1, 1)
        for grad in grads:
            grad.zero_()
        grads[0].index_add_(0, users, g * i)
        grads[1].index_add_(0, items, g * u)
        grads[2].index_add_(0, users, g)
        grads[3].index_add_(0, items, g)
        opt.step()
        return losses

    return step
