"""A fast training step for DotProductBias with Adam/AdamW and MSE: same math, less overhead.

Why by hand: at batch size 64 on a CPU, autograd's graph bookkeeping and ``Optimizer.step``'s
Python wrapper cost most of a step (measured here: ~450 us fwd+bwd and ~210 us AdamW.step). Here the
embedding tables' gradient is computed analytically in twelve tensor ops writing into kept buffers
(~150 us a step in all on this VM), and handed to torch's own fused Adam/AdamW kernel, the one
``AdamW(fused=True).step()`` runs (~40-70 us over the 108k parameters of ml-100k), with lr and
beta1 read from the optimizer's param group: torch's OneCycleLR drives this step exactly as it
drives ``opt.step()``. tests/test_collab_model.py checks that it matches the autograd path.
benchmarks/collab_speed.py times it; benchmarks/collab_step_cost.py compares step variants."""

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

    rows: torch.Tensor  # [2, n, k + 1] view of the pads the gather fills: items' [b_i, i], users' [u, b_u]
    u_col: torch.Tensor  # u_pad = [1, u, b_u] as [n, 1, k + 2] and i_pad = [b_i, i, 1] as
    i_col: torch.Tensor  # [n, k + 2, 1]: their bmm is u·i + b_u + b_i
    raw_col: torch.Tensor  # the bmm's output [n, 1, 1] and a flat view of it
    raw: torch.Tensor
    d_t: torch.Tensor  # [2, k + 1, n]: d raw / d [u, b_u] (= [i, 1]) and d raw / d [b_i, i] (= [1, u])
    g_t: torch.Tensor  # the same layout in the gradient rows: both sides in one mul
    g_flat: torch.Tensor  # the gradient rows [2, n, k + 1] (users', items'), flat
    index: torch.Tensor  # [3 n, k + 1]: each row entry's place in the flat buffer, for users, items, users
    gather_index: torch.Tensor  # its (items, users) planes, in the order of ``rows``
    scatter_index: torch.Tensor  # its (users, items) planes, flat, in the order of the gradient rows
    r_alpha: float  # the residual's coefficient on s (see batches())
    loss_scale: torch.Tensor  # 0-d: turns the scaled residual's sum of squares into the mean loss


class DotBiasAdamStep:
    """Callable ``(xb, yb) -> loss`` doing one optimisation step of ``model`` with ``opt``'s state,
    on the batches ``batches()`` makes.

    Twelve small tensor ops and the kernel a step, written into buffers kept between steps: at
    batch size 64 a CPU step is made of per-op overhead (3-10 us each) plus the dense Adam update.
    The tables, their gradient and Adam moments use the model's packed layout (``packed()``): one
    ``take`` gathers a batch's factor and bias rows from all four tables, one elementwise
    ``scatter_add_`` fills their gradient, and the kernel runs once over the whole buffer, or, with
    the biases exempt from decay, once over the factors and once over the biases.
    """

    def __init__(self, model: DotProductBias, opt: torch.optim.Optimizer, decay: ManualDecay | None = None):
        self.opt, self.k = opt, model.n_factors
        self.kernel = torch._fused_adamw_ if isinstance(opt, torch.optim.AdamW) else torch._fused_adam_
        tables = model.tables()
        ids = {id(p) for g in opt.param_groups for p in g["params"]}
        if len(opt.param_groups) != 1 or any(id(p) not in ids for p in tables):
            raise ValueError("the fast collab step needs one param group holding the model's four tables")
        self.flat = model.packed()  # same storage; no autograd bookkeeping per op
        self.flat_grad = torch.zeros_like(self.flat)  # one buffer: one zero_()
        # The state AdamW(fused=True) keeps, so either path can continue, in the packed layout.
        states = [opt.state[p] for p in tables]
        moments = [self._packed_state(model, states, key) for key in ("exp_avg", "exp_avg_sq")]
        self.step_counts = self._step_counts(states)  # the four tables' step counts: one add_ a step
        self.steps = [states[0]["step"]]  # the kernel's count for each of its calls
        buffers = [self.flat, self.flat_grad, *moments]
        n_factors = self.k * (len(tables[0]) + len(tables[1]))
        # (buffers, weight decay) per kernel call; None: the param group's weight_decay (the lesson's
        # decay of every parameter, or none). Biases exempt (a ManualDecay over the factor tables):
        # the factors and the biases are two contiguous regions, updated by two calls.
        if decay is None or not any(decay.groups):
            self.updates = [(tuple([b] for b in buffers), None)]
        elif decay.ids == {id(p) for p in tables[:2]}:
            self.updates = [(tuple([b[:n_factors]] for b in buffers), decay.wd),
                            (tuple([b[n_factors:]] for b in buffers), 0.0)]
        else:
            raise ValueError("the fast collab step decays all four tables or exactly the two factor tables")
        self.lo, self.scale = model.y_range
        self.scale -= self.lo
        # Where each entry of a user's [u, b_u] and an item's [b_i, i] sits in the flat buffer, one
        # row per user, then per item: a batch's index is one lookup in this table (an integer
        # addcmul over the batch costs 3.6x as long: benchmarks/collab_op_costs.py).
        ids = [torch.arange(len(t), device=self.flat.device)[:, None] for t in tables[:2]]
        starts = [t.storage_offset() - self.flat.storage_offset() for t in model.table_views(self.flat)]
        cols = torch.arange(self.k, device=self.flat.device)
        self.n_users = len(tables[0])
        self.positions = torch.cat([torch.cat([starts[0] + ids[0] * self.k + cols, starts[2] + ids[0]], 1),
                                    torch.cat([starts[3] + ids[1], starts[1] + ids[1] * self.k + cols], 1)])
        self.buffers: dict[int, _Buffers] = {}
        self.one = self.step_counts.new_ones(())  # 0-d, not a Python number: a scalar operand costs a conversion op

    def _packed_state(self, model: DotProductBias, states: list[dict], key: str) -> torch.Tensor:
        """The flat buffer of Adam state ``key`` for the four tables: made (with any state already
        there copied in) and handed to the optimizer as the tables' views, or found already packed."""
        old = [s.get(key) for s in states]
        if all(t is not None for t in old) and (flat := model.find_packed(old)) is not None:
            return flat
        flat = torch.zeros_like(self.flat)
        for state, view, t in zip(states, model.table_views(flat), old):
            if t is not None:
                view.copy_(t)
            state[key] = view
        return flat

    def _step_counts(self, states: list[dict]) -> torch.Tensor:
        """The tables' step counts (0-d float32 tensors, as torch's fused Adam keeps them) as the
        entries of one vector, or that vector where a step made earlier on this optimizer left it."""
        old = [s.get("step") for s in states]
        counts = old[0]._base if old[0] is not None else None
        if counts is not None and counts.shape == (len(old),) and all(t is not None and t._base is counts for t in old):
            return counts
        values = {float(t) for t in old if t is not None} or {0.0}
        if len(values) > 1:
            raise ValueError(f"the tables have taken different numbers of Adam steps: {sorted(values)}")
        counts = torch.full((len(old),), values.pop(), dtype=torch.float32, device=self.flat.device)
        for state, count in zip(states, counts.unbind()):
            state["step"] = count
        return counts

    def batches(self, x: torch.Tensor, y: torch.Tensor, order: torch.Tensor, bs: int):
        """One epoch's batches ``(xb, yb)`` for this step: rows ``order`` of the [N, 2] ids ``x`` and
        ratings ``y``. Work that ops would otherwise do every step is done here once for the epoch:
        xb = the batch's users, items and users again, as rows of the ``positions`` table (items
        after the users), the layout of _Buffers.index; yb = alpha (y - lo) with alpha = -2 scale / n,
        the constant of d loss / d raw, so that the residual alpha (y - prediction) comes out of one
        op already scaled."""
        users, items = x.T[:, order]
        items = items + self.n_users
        full = len(users) - len(users) % bs
        whole = [t[:full].view(-1, bs) for t in (users, items, users)]
        xbs = list(torch.stack(whole, 1).view(len(whole[0]), 3 * bs).unbind())
        if full < len(users):
            xbs.append(torch.cat([users[full:], items[full:], users[full:]]))
        ys = (y[order] - self.lo) * (-2 * self.scale / bs)
        if full < len(ys):  # a last, smaller batch has its own alpha
            ys[full:] *= bs / (len(ys) - full)
        return zip(xbs, ys.split(bs))

    def _buffers(self, n: int) -> _Buffers:
        if n not in self.buffers:
            k = self.k
            # pads[0] is i_pad = [b_i, i, 1], pads[1] u_pad = [1, u, b_u]; strided views of pads
            # name the gathered rows (items', users') and the gradient rows' factors (users', items')
            pads = self.flat.new_ones(2, n, k + 2)
            rows = pads.as_strided((2, n, k + 1), (n * (k + 2) + 1, k + 2, 1), pads.storage_offset())
            d = pads.as_strided((2, n, k + 1), (n * (k + 2) - 1, k + 2, 1), pads.storage_offset() + 1)
            g_rows = self.flat.new_empty(2, n, k + 1)
            index = torch.empty(3, n, k + 1, dtype=torch.long, device=self.flat.device)
            index_rows = index.view(3 * n, k + 1)
            raw_col = self.flat.new_empty(n, 1, 1)
            alpha = -2 * self.scale / n
            self.buffers[n] = _Buffers(rows, pads[1].view(n, 1, k + 2), pads[0].view(n, k + 2, 1), raw_col,
                                       raw_col.view(n), d.transpose(1, 2), g_rows.transpose(1, 2),
                                       g_rows.view(-1), index_rows, index[1:], index[:2].view(-1),
                                       -alpha * self.scale, self.flat.new_tensor(1 / (alpha * alpha * n)))
        return self.buffers[n]

    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        """One step on a batch from ``batches()``; returns the batch's mean squared error."""
        n = len(yb)
        b = self.buffers.get(n) or self._buffers(n)
        torch.index_select(self.positions, 0, xb, out=b.index)
        torch.take(self.flat, b.gather_index, out=b.rows)
        torch.bmm(b.u_col, b.i_col, out=b.raw_col)
        s = b.raw.sigmoid_()
        # alpha (target - prediction) with prediction = lo + scale * s, and yb = alpha (target - lo)
        r = torch.add(yb, s, alpha=b.r_alpha)
        loss = torch.dot(r, r).mul_(b.loss_scale)
        # d loss / d raw = alpha * r * s (1 - s), times d raw / d (each table row) = the other side's row
        torch.mul(b.d_t, SIGMOID_BACKWARD(r, s), out=b.g_t)
        self.flat_grad.zero_()
        # one elementwise scatter: index_add_ runs a small op per table row (4x: collab_op_costs.py)
        self.flat_grad.scatter_add_(0, b.scatter_index, b.g_flat)
        group = self.opt.param_groups[0]
        beta1, beta2 = group["betas"]
        self.step_counts.add_(self.one)  # as torch.optim.adam._fused_adam does before the kernel
        for (params, grads, exp_avgs, exp_avg_sqs), wd in self.updates:
            self.kernel(params, grads, exp_avgs, exp_avg_sqs, [], self.steps, lr=group["lr"], beta1=beta1,
                        beta2=beta2, weight_decay=group["weight_decay"] if wd is None else wd,
                        eps=group["eps"], amsgrad=False, maximize=False)
        return loss
