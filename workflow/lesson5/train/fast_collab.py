"""A fast training step for DotProductBias with Adam/AdamW and MSE: same math, less overhead.

Why by hand: at batch size 64 on a CPU, autograd's graph bookkeeping and ``Optimizer.step``'s
Python wrapper cost most of a step (measured here: ~450 us fwd+bwd and ~210 us AdamW.step). Here the
two embedding-table gradients are computed analytically in about fifteen tensor ops writing into
kept buffers (~150 us a step in all on this VM), and handed to torch's own fused Adam/AdamW kernel,
the one ``AdamW(fused=True).step()`` runs (~40-70 us over the 106k parameters of ml-100k), with lr
and beta1 read from the optimizer's param group: torch's OneCycleLR drives this step exactly as it
drives ``opt.step()``. tests/test_collab_model.py checks that it matches the autograd path."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from lesson5.models.collab import DotProductBias
from lesson5.train.optim import ManualDecay

SIGMOID_BACKWARD = torch.ops.aten.sigmoid_backward.default  # grad * s * (1 - s) in one op


def supports_fast_step(model: nn.Module, opt_name: str, wd_mode: str, loss_func, transform) -> bool:
    return (
        type(model) is DotProductBias
        and model.y_range is not None
        and opt_name in ("adam", "adamw")
        and wd_mode in ("decoupled", "l2")
        and isinstance(loss_func, nn.MSELoss)
        and loss_func.reduction == "mean"
        and transform is None
    )


class _Buffers(NamedTuple):
    """A batch size's scratch tensors, kept between steps (outputs written in place)."""

    u_pad: torch.Tensor  # [1, u, b_u] per row: the lookup fills all but column 0
    i_pad: torch.Tensor  # [b_i, i, 1] per row: the lookup fills all but the last column; u_pad·i_pad = u·i + b_u + b_i
    u_rows: torch.Tensor  # view of u_pad the user lookup writes
    i_rows: torch.Tensor  # view of i_pad the item lookup writes
    d_u_t: torch.Tensor  # [i, 1] = d raw / d [u, b_u], transposed (broadcasts fastest)
    d_i_t: torch.Tensor  # [1, u] = d raw / d [b_i, i], transposed
    g_u: torch.Tensor  # gradient rows for the user table
    g_i: torch.Tensor  # gradient rows for the item table
    g_u_t: torch.Tensor  # transposed views of the two above
    g_i_t: torch.Tensor
    inv_n: torch.Tensor  # 1 / batch size as a 0-d tensor


class DotBiasAdamStep:
    """Callable ``(xb, yb) -> loss`` doing one optimisation step of ``model`` with ``opt``'s state.

    About fifteen small tensor ops a step, each written into buffers kept between steps: at batch
    size 64 a CPU step is made of per-op overhead (3-10 us each) plus the dense Adam update.
    """

    def __init__(self, model: DotProductBias, opt: torch.optim.Optimizer, decay: ManualDecay | None = None):
        self.opt, self.k = opt, model.n_factors
        self.kernel = torch._fused_adamw_ if isinstance(opt, torch.optim.AdamW) else torch._fused_adam_
        tables = [model.users.weight, model.items.weight]
        ids = {id(p) for g in opt.param_groups for p in g["params"]}
        if len(opt.param_groups) != 1 or any(id(p) not in ids for p in tables):
            raise ValueError("the fast collab step needs one param group holding both tables")
        self.params = [p.detach() for p in tables]  # same storage; no autograd bookkeeping per op
        n_users = len(self.params[0])
        self.grad = self.params[0].new_zeros(n_users + len(self.params[1]), self.k + 1)  # one buffer: one zero_()
        self.grads = [self.grad[:n_users], self.grad[n_users:]]
        for p in tables:  # the same state AdamW(fused=True) keeps, so either path can continue
            state = opt.state[p]
            if not state:
                state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                state["exp_avg"] = torch.zeros_like(p)
                state["exp_avg_sq"] = torch.zeros_like(p)
        states = [opt.state[p] for p in tables]
        self.exp_avgs = [s["exp_avg"] for s in states]
        self.exp_avg_sqs = [s["exp_avg_sq"] for s in states]
        self.steps = [s["step"] for s in states]
        # Biases exempt from decay (a ManualDecay over the factor columns). Decoupled: the kernel still
        # decays whole tables and each step first scales the bias columns by 1 / (1 - lr wd), which
        # cancels it up to rounding and costs less than decaying the strided factor columns by hand
        # (2.6k elements, not 105k). L2: wd p is added to the factor columns' gradient (cancelling
        # in the gradient instead would leave rounding residue where it should be 0, which Adam's
        # normalisation amplifies). A decay with no parts (the bias-only model's) leaves the kernel's
        # weight_decay at 0. benchmarks/collab_step_cost.py measures what the exemption costs.
        self.decay = decay if decay is not None and any(decay.groups) else None
        if self.decay is not None:
            index = [decay.index.get(id(p)) for p in tables]
            if index != list(model.decayed_slices().values()):
                raise ValueError("the fast collab step decays all of each table or exactly its factor columns")
            self.bias_views = [self.params[0][:, self.k], self.params[1][:, 0]]
            self.factor_views = [p[i] for p, i in zip(self.params, index)]
            self.factor_grads = [g[i] for g, i in zip(self.grads, index)]
        self.lo, self.scale = model.y_range
        self.scale -= self.lo
        self.buffers: dict[int, tuple] = {}
        self.one = self.params[0].new_ones(())  # 0-d tensors, not Python numbers: a scalar operand costs a conversion op

    def _buffers(self, n: int) -> "_Buffers":
        if n not in self.buffers:
            k = self.k
            like = self.params[0]  # buffers on the tables' device and dtype
            u_pad, i_pad = like.new_ones(n, k + 2), like.new_ones(n, k + 2)
            g_u, g_i = like.new_empty(n, k + 1), like.new_empty(n, k + 1)
            self.buffers[n] = _Buffers(u_pad, i_pad, u_pad[:, 1:], i_pad[:, : k + 1], i_pad[:, 1:].T,
                                       u_pad[:, : k + 1].T, g_u, g_i, g_u.T, g_i.T, like.new_tensor(1 / n))
        return self.buffers[n]

    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        (U, I), (gU, gI) = self.params, self.grads
        n = len(yb)
        b = self._buffers(n)
        users, items = xb.unbind(1)
        torch.index_select(U, 0, users, out=b.u_rows)
        torch.index_select(I, 0, items, out=b.i_rows)
        s = torch.linalg.vecdot(b.u_pad, b.i_pad).sigmoid_()
        # residual, sign flipped: target - prediction, with prediction = lo + scale * s
        r = torch.add(yb if self.lo == 0 else yb - self.lo, s, alpha=-self.scale)
        loss = torch.dot(r, r).mul_(b.inv_n)
        # d mean((pred - y)^2) / d raw = -2 scale / n * r * s (1 - s); the constant goes to index_add_
        g = SIGMOID_BACKWARD(r, s)
        torch.mul(b.d_u_t, g, out=b.g_u_t)  # d raw / d [u, b_u] = [i, 1]
        torch.mul(b.d_i_t, g, out=b.g_i_t)  # d raw / d [b_i, i] = [1, u]
        alpha = -2 * self.scale / n
        self.grad.zero_()
        gU.index_add_(0, users, b.g_u, alpha=alpha)
        gI.index_add_(0, items, b.g_i, alpha=alpha)
        group = self.opt.param_groups[0]
        beta1, beta2 = group["betas"]
        wd = group["weight_decay"]
        if self.decay is not None:
            if self.decay.mode == "decoupled":
                wd = self.decay.wd
                torch._foreach_mul_(self.bias_views, 1 / (1 - group["lr"] * wd))
            else:
                torch._foreach_add_(self.factor_grads, self.factor_views, alpha=self.decay.wd)
        torch._foreach_add_(self.steps, self.one)  # as torch.optim.adam._fused_adam does before the kernel
        self.kernel(self.params, self.grads, self.exp_avgs, self.exp_avg_sqs, [], self.steps,
                    lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=wd,
                    eps=group["eps"], amsgrad=False, maximize=False)
        return loss
