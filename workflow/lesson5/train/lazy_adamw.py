"""AdamW on the rows a sparse gradient holds (TensorFlow's LazyAdam), with index ops.

torch's SparseAdam does the same update, but builds a sparse tensor for each moment and adds them
back (sparse_mask, sparse add), and at ml-25m most of an epoch goes into that step (measured in
docs/benchmarks.md with ``benchmarks/movielens_scale.py --sizes 25M --collab step=autograd sparse_opt=sparse_adam``).
Here the touched rows are gathered once (``index_select``), updated densely and written back
(``index_copy_``). ``tests/test_collab_model.py`` checks it against SparseAdam + lazy decay.
"""

from __future__ import annotations

import math

import torch


class LazyAdamW(torch.optim.Optimizer):
    """For each row r of a parameter that the step's (sparse, row-wise) gradient g holds:

        m_r <- b1 m_r + (1 - b1) g_r,   v_r <- b2 v_r + (1 - b2) g_r^2
        p_r <- p_r (1 - lr wd) - lr sqrt(1 - b2^t) / (1 - b1^t) * m_r / (sqrt(v_r) + eps)

    with t the parameter's step count: SparseAdam's update, decoupled decay of the same rows.
    Rows the batch does not touch keep their value and moments."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if not p.grad.is_sparse:
                    raise RuntimeError("LazyAdamW takes sparse gradients (embeddings with sparse=True)")
                grad = p.grad.coalesce()  # each row once, its batch's contributions summed
                rows, values = grad.indices()[0], grad.values()
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                exp_avg = state["exp_avg"].index_select(0, rows).lerp_(values, 1 - beta1)
                exp_avg_sq = state["exp_avg_sq"].index_select(0, rows).mul_(beta2)
                exp_avg_sq.addcmul_(values, values, value=1 - beta2)
                state["exp_avg"].index_copy_(0, rows, exp_avg)
                state["exp_avg_sq"].index_copy_(0, rows, exp_avg_sq)
                weights = p.index_select(0, rows)
                if wd:
                    weights.mul_(1 - lr * wd)
                step_size = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
                weights.addcdiv_(exp_avg, exp_avg_sq.sqrt_().add_(eps), value=-step_size)
                p.index_copy_(0, rows, weights)
        return loss
