"""A fast training step for DotProductBias with Adam/AdamW and MSE: same math, less overhead.

Why by hand: at batch size 64 on a CPU, autograd's graph bookkeeping and ``Optimizer.step``'s
Python wrapper cost most of a step (measured here: ~450 us fwd+bwd and ~210 us AdamW.step). Here the
two embedding-table gradients are computed analytically in fifteen tensor ops writing into kept
buffers (~150 us a step in all on this VM), and handed to torch's own fused Adam/AdamW kernel, the
one ``AdamW(fused=True).step()`` runs (~40-70 us over the 108k floats of ml-100k's packed tables),
with lr and beta1 read from the optimizer's param group: torch's OneCycleLR drives this step exactly
as it drives ``opt.step()``. tests/test_collab_model.py checks that it matches the autograd path.
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

    u_rows: torch.Tensor  # where the user lookup writes: [u, b_u] of u_pad = [1, u, b_u]
    i_rows: torch.Tensor  # where the item lookup writes: [b_i, i] of i_pad = [b_i, i, 1]
    u_col: torch.Tensor  # u_pad as [n, 1, k + 2] and i_pad as [n, k + 2, 1]: their bmm is
    i_col: torch.Tensor  # u·i + b_u + b_i
    raw_col: torch.Tensor  # the bmm's output [n, 1, 1] and a flat view of it
    raw: torch.Tensor
    d_t: torch.Tensor  # [2, k + 1, n]: d raw / d [b_i, i] (= [1, u]) and d raw / d [u, b_u] (= [i, 1])
    g_t: torch.Tensor  # the same layout in the gradient rows: both sides in one mul
    g_flat: torch.Tensor  # the gradient rows [2, n, k + 1] (items', users'), flat
    index: torch.Tensor  # where each gradient entry goes in the flat buffer, [2, n, k + 1]
    index_flat: torch.Tensor
    r_alpha: float  # the residual's coefficient on s (see batches())
    loss_scale: torch.Tensor  # 0-d: turns the scaled residual's sum of squares into the mean loss


class DotBiasAdamStep:
    """Callable ``(xb, yb) -> loss`` doing one optimisation step of ``model`` with ``opt``'s state,
    on the batches ``batches()`` makes.

    Fifteen small tensor ops a step, each written into buffers kept between steps: at batch size 64
    a CPU step is made of per-op overhead (3-10 us each) plus the dense Adam update. The tables'
    gradient and Adam moments use the model's packed layout (``DotProductBias.packed``): the kernel
    runs once over one buffer, and one elementwise scatter fills the gradient of both tables.
    """

    def __init__(self, model: DotProductBias, opt: torch.optim.Optimizer, decay: ManualDecay | None = None):
        self.opt, self.k = opt, model.n_factors
        self.kernel = torch._fused_adamw_ if isinstance(opt, torch.optim.AdamW) else torch._fused_adam_
        tables = [model.users.weight, model.items.weight]
        ids = {id(p) for g in opt.param_groups for p in g["params"]}
        if len(opt.param_groups) != 1 or any(id(p) not in ids for p in tables):
            raise ValueError("the fast collab step needs one param group holding both tables")
        self.flat = model.packed()  # same storage; no autograd bookkeeping per op
        self.params = model.table_views(self.flat)
        self.flat_grad = torch.zeros_like(self.flat)  # one buffer: one zero_()
        # The state AdamW(fused=True) keeps, so either path can continue, in the packed layout.
        states = [opt.state[p] for p in tables]
        self.exp_avg, self.exp_avg_sq = (self._packed_state(model, states, key) for key in ("exp_avg", "exp_avg_sq"))
        self.step_pair = self._step_pair(states)  # both tables' step counts: one add_ a step
        self.steps = [states[0]["step"]]  # the kernel's count for the one packed buffer
        grid = self.flat.view(-1, self.k + 1)  # every bias in the last column, every factor in the others
        # Biases exempt from decay (a ManualDecay over the factor columns). Decoupled: the kernel still
        # decays the whole buffer and each step first scales the bias column by 1 / (1 - lr wd), which
        # cancels it up to rounding and costs less than decaying the strided factor columns by hand
        # (2.6k elements, not 105k). L2: wd p is added to the factor columns' gradient (cancelling
        # in the gradient instead would leave rounding residue where it should be 0, which Adam's
        # normalisation amplifies). A decay with no parts (the bias-only model's) leaves the kernel's
        # weight_decay at 0. benchmarks/collab_step_cost.py measures what the exemption costs.
        self.decay = decay if decay is not None and any(decay.groups) else None
        if self.decay is not None:
            if [decay.index.get(id(p)) for p in tables] != list(model.decayed_slices().values()):
                raise ValueError("the fast collab step decays all of each table or exactly its factor columns")
            self.bias_column = grid[:, self.k]
            self.factor_columns, self.factor_grads = grid[:, : self.k], self.flat_grad.view_as(grid)[:, : self.k]
        self.lo, self.scale = model.y_range
        self.scale -= self.lo
        # a table row's offset in the flat buffer is id * (k + 1) + its table's start (items', users')
        users_start, items_start = (t.storage_offset() - self.flat.storage_offset() for t in self.params)
        self.row_offsets = torch.tensor([[items_start], [users_start]], device=self.flat.device)
        self.columns = torch.arange(self.k + 1, device=self.flat.device)
        self.buffers: dict[int, _Buffers] = {}
        self.one = self.flat.new_ones(())  # 0-d tensors, not Python numbers: a scalar operand costs a conversion op

    def _packed_state(self, model: DotProductBias, states: list[dict], key: str) -> torch.Tensor:
        """The flat buffer of Adam state ``key`` for both tables: made (with any state already there
        copied in) and handed to the optimizer as the two tables' views, or found already packed."""
        old = [s.get(key) for s in states]
        if all(t is not None for t in old) and (flat := model.find_packed(*old)) is not None:
            return flat
        flat = torch.zeros_like(self.flat)
        for state, view, t in zip(states, model.table_views(flat), old):
            if t is not None:
                view.copy_(t)
            state[key] = view
        return flat

    def _step_pair(self, states: list[dict]) -> torch.Tensor:
        """Both tables' step counts (0-d float32 tensors, as torch's fused Adam keeps them) as the two
        entries of one vector, or that vector where a step made earlier on this optimizer left it."""
        old = [s.get("step") for s in states]
        pair = old[0]._base if old[0] is not None else None
        if pair is not None and pair.shape == (2,) and all(t is not None and t._base is pair for t in old):
            return pair
        counts = {float(t) for t in old if t is not None} or {0.0}
        if len(counts) > 1:
            raise ValueError(f"the two tables have taken different numbers of Adam steps: {sorted(counts)}")
        pair = torch.full((2,), counts.pop(), dtype=torch.float32, device=self.flat.device)
        for state, count in zip(states, pair.unbind()):
            state["step"] = count
        return pair

    def batches(self, x: torch.Tensor, y: torch.Tensor, order: torch.Tensor, bs: int):
        """One epoch's batches ``(xb, yb)`` for this step: rows ``order`` of the [N, 2] ids ``x`` and
        ratings ``y``. Work that ops would otherwise do every step is done here once for the epoch:
        xb = (users, items, starts) with starts the flat-buffer offsets of each batch's (item, user)
        table rows, and yb = alpha (y - lo) with alpha = -2 scale / n, the constant of d loss / d raw,
        so that the residual alpha (y - prediction) comes out of one op already scaled."""
        ids = x.T[:, order]  # [2, N]: each batch's users and items contiguous
        starts = ids.flip(0) * (self.k + 1) + self.row_offsets  # items' rows first, as the gradient rows
        ys = (y[order] - self.lo) * (-2 * self.scale / bs)
        if len(ys) % bs:  # a last, smaller batch has its own alpha
            ys[len(ys) - len(ys) % bs:] *= bs / (len(ys) % bs)
        return zip(zip(ids[0].split(bs), ids[1].split(bs), starts[:, :, None].split(bs, dim=1)), ys.split(bs))

    def _buffers(self, n: int) -> _Buffers:
        if n not in self.buffers:
            k = self.k
            # pads[0] is u_pad = [1, u, b_u], pads[1] i_pad = [b_i, i, 1]
            pads = self.flat.new_ones(2, n, k + 2)
            # the gradient rows pair each side with the other side's rows: [1, u] = pads[0, :, :k + 1]
            # for the items, [i, 1] = pads[1, :, 1:] for the users; one strided view of pads holds both
            d = pads.as_strided((2, n, k + 1), (n * (k + 2) + 1, k + 2, 1), pads.storage_offset())
            g_rows = self.flat.new_empty(2, n, k + 1)
            index = torch.empty(2, n, k + 1, dtype=torch.long, device=self.flat.device)
            raw_col = self.flat.new_empty(n, 1, 1)
            alpha = -2 * self.scale / n
            self.buffers[n] = _Buffers(pads[0, :, 1:], pads[1, :, : k + 1], pads[0].view(n, 1, k + 2),
                                       pads[1].view(n, k + 2, 1), raw_col, raw_col.view(n), d.transpose(1, 2),
                                       g_rows.transpose(1, 2), g_rows.view(-1), index, index.view(-1),
                                       -alpha * self.scale, self.flat.new_tensor(1 / (alpha * alpha * n)))
        return self.buffers[n]

    def __call__(self, xb: tuple[torch.Tensor, torch.Tensor, torch.Tensor], yb: torch.Tensor) -> torch.Tensor:
        """One step on a batch from ``batches()``; returns the batch's mean squared error."""
        (U, I), (users, items, starts) = self.params, xb
        n = len(yb)
        b = self.buffers.get(n) or self._buffers(n)
        torch.index_select(U, 0, users, out=b.u_rows)
        torch.index_select(I, 0, items, out=b.i_rows)
        torch.bmm(b.u_col, b.i_col, out=b.raw_col)
        s = b.raw.sigmoid_()
        # alpha (target - prediction) with prediction = lo + scale * s, and yb = alpha (target - lo)
        r = torch.add(yb, s, alpha=b.r_alpha)
        loss = torch.dot(r, r).mul_(b.loss_scale)
        # d loss / d raw = alpha * r * s (1 - s), times d raw / d (each table row) = the other side's row
        torch.mul(b.d_t, SIGMOID_BACKWARD(r, s), out=b.g_t)
        torch.add(starts, self.columns, out=b.index)
        self.flat_grad.zero_()
        # one elementwise scatter: index_add_ over table rows costs a small op per row (2.5x the time)
        self.flat_grad.scatter_add_(0, b.index_flat, b.g_flat)
        group = self.opt.param_groups[0]
        beta1, beta2 = group["betas"]
        wd = group["weight_decay"]
        if self.decay is not None:
            if self.decay.mode == "decoupled":
                wd = self.decay.wd
                self.bias_column.mul_(1 / (1 - group["lr"] * wd))
            else:
                self.factor_grads.add_(self.factor_columns, alpha=self.decay.wd)
        self.step_pair.add_(self.one)  # as torch.optim.adam._fused_adam does before the kernel
        self.kernel([self.flat], [self.flat_grad], [self.exp_avg], [self.exp_avg_sq], [], self.steps,
                    lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=wd,
                    eps=group["eps"], amsgrad=False, maximize=False)
        return loss
