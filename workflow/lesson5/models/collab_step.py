"""A hand-derived training step for the dot-product model (one, or K seeds stacked): its gradient
written straight into ``p.grad``, then the optimizer's public ``step()``. Same numbers as autograd
(tests/test_collab_model.py), without building and walking a graph of ~20 nodes per batch, and on
large data without torch coalescing four sparse gradients (benchmarks/collab_speed.py and
benchmarks/movielens_scale.py time both steps).

For model k and a batch of B (user u, item i, rating y), with z = U_u·I_i + b_u + b_i,
p = lo + (hi − lo)·σ(z) and loss_k = mean_b (p − y)², the gradient is

    g = ∂loss_k/∂z = 2 (p − y) (p − lo) (hi − p) / ((hi − lo) B)

    ∂/∂U_u += g·I_i,   ∂/∂I_i += g·U_u,   ∂/∂b_u += g,   ∂/∂b_i += g

summed over the batch rows that share a user or an item (``index_add_``). Embeddings with sparse
gradients get them as coalesced sparse tensors over the rows the batch touches: one ``unique`` of
the users serves both user tables, one of the items both item tables.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from lesson5.models.collab import TABLES, DotProductBias, StackedDotProductBias, flat_rows
from lesson5.train.loop import autograd_step

log = logging.getLogger(__name__)


def tables(model: nn.Module) -> list[nn.Parameter]:
    """The four [K, n, d] (stacked) or [n, d] tables: user and item factors, user and item biases."""
    if isinstance(model, StackedDotProductBias):
        return [getattr(model, name) for name in TABLES]
    return [getattr(model, name).weight for name in TABLES]


def fast_path_gap(learner, opt) -> str | None:
    """Why the analytic step cannot serve this learner (None: it can)."""
    model = learner.model
    if type(model) not in (DotProductBias, StackedDotProductBias):
        return f"the model is a {type(model).__name__}, not DotProductBias"
    if model.y_range is None:
        return "the model has no y_range"
    if type(learner.loss_func) is not nn.MSELoss or learner.loss_func.reduction != "mean":
        return f"the loss is {learner.loss_func!r}, not MSELoss(reduction='mean')"
    if learner.manual_decay(opt) is not None:
        return f"weight decay {learner.wd_mode!r} is applied by the trainer, not by {type(opt).__name__}"
    if learner.transform is not None or learner.precision != "fp32":
        return "the batches are transformed or autocast"
    sparse = isinstance(model, DotProductBias) and model.u_weight.sparse
    if sparse and learner.opt != "lazy_adamw":
        return f"sparse embeddings with {learner.opt!r} (the analytic sparse step serves lazy_adamw)"
    return None


def sparse_grads(index: torch.Tensor, parts, table_params):
    """Each part's rows summed per distinct index, as coalesced sparse gradients of the tables."""
    touched, inverse = torch.unique(index, return_inverse=True)
    for part, p in zip(parts, table_params):
        summed = part.new_zeros(len(touched), part.shape[1]).index_add_(0, inverse, part)
        # valid by construction (unique's sorted distinct rows): torch's invariant check is skipped
        p.grad = torch.sparse_coo_tensor(touched[None], summed, p.shape, is_coalesced=True, check_invariants=False)


class AnalyticStep:
    """The step for one learner and optimizer: forward, the gradient above into ``p.grad``, ``opt.step()``."""

    def __init__(self, learner, opt: torch.optim.Optimizer):
        model = learner.model
        self.opt, (self.lo, self.hi) = opt, model.y_range
        self.params = tables(model)
        self.stacked = isinstance(model, StackedDotProductBias)
        self.sparse = not self.stacked and model.u_weight.sparse
        if self.stacked:
            self.user_offset, self.item_offset = model.row_offsets(learner.torch_device)
        self.flat = [self.rows(p.detach()) for p in self.params]
        if not self.sparse:
            for p in self.params:
                p.grad = torch.zeros_like(p)
            self.grads = [self.rows(p.grad) for p in self.params]

    def rows(self, t: torch.Tensor) -> torch.Tensor:
        """One [K * n, d] table for the stacked models' [K, n, d]."""
        return flat_rows(t) if self.stacked else t

    def ids(self, xb: torch.Tensor):
        """(users, items) as rows of the flat tables."""
        if self.stacked:
            return (xb[..., 0] + self.user_offset).reshape(-1), (xb[..., 1] + self.item_offset).reshape(-1)
        return xb[:, 0], xb[:, 1]

    @torch.no_grad()
    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        (users, items), flat, lo, hi = self.ids(xb), self.flat, self.lo, self.hi
        u, i = flat[0].index_select(0, users), flat[1].index_select(0, items)
        z = (u * i).sum(-1) + flat[2].index_select(0, users)[:, 0] + flat[3].index_select(0, items)[:, 0]
        pred = torch.sigmoid(z).mul_(hi - lo).add_(lo).view_as(yb)
        err = pred - yb
        losses = err.square().mean(-1).reshape(-1)
        g = (err * (pred - lo) * (hi - pred)).mul_(2 / ((hi - lo) * yb.shape[-1])).view(-1, 1)
        self.write_grads(users, items, u, i, g)
        self.opt.step()
        return losses

    def write_grads(self, users, items, u, i, g):
        if self.sparse:
            sparse_grads(users, (g * i, g), (self.params[0], self.params[2]))
            sparse_grads(items, (g * u, g), (self.params[1], self.params[3]))
            return
        for grad in self.grads:
            grad.zero_()
        self.grads[0].index_add_(0, users, g * i)
        self.grads[1].index_add_(0, items, g * u)
        self.grads[2].index_add_(0, users, g)
        self.grads[3].index_add_(0, items, g)


def dot_step(learner, opt: torch.optim.Optimizer):
    """The Learner step (``make_step``) for DotProductBias (one or stacked) with MSE; falls back to
    autograd (and says so in the log) for any other model, loss or decay."""
    gap = fast_path_gap(learner, opt)
    if gap is not None:
        log.info("analytic collab step not used: %s; autograd computes the gradient", gap)
        return autograd_step(learner, opt)
    return AnalyticStep(learner, opt)
