"""One trainer for every model of the pipeline: fit with 1cycle or a constant lr, and the lr finder,
all three on one loop that knows no particular model.

Data lives in tensors (no per-row Dataset or collate): a batch is an index slice of a seeded
permutation, which keeps the collaborative-filtering epochs cheap on a CPU. ``seed`` may be a list:
then the model is K stacked models (its output has a leading axis of K, e.g.
``StackedDotProductBias``), each trained on its own seed's shuffle exactly as it would be alone.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from lesson5.errors import PipelineError
from lesson5.train.device import resolve_device, resolve_precision
from lesson5.train.callbacks import (Callback, Checkpointer, PreciseBN, ProgressLog, Recorder, Run, StopAfter,
                                     StopOnNonFinite, Validator)
from lesson5.train.checkpoint import rng_state, set_rng_state
from lesson5.train.lr import expand_lr_spec
from lesson5.train.optim import ManualDecay, decay_param_groups, make_optimizer, supports_momentum_cycling
from lesson5.train.smoothing import LossSmoother


Metric = Callable[[torch.Tensor, torch.Tensor], float]
Step = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (xb, yb) -> loss per model, detached


@dataclass
class Tensors:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_valid: torch.Tensor
    y_valid: torch.Tensor


def autograd_step(learner: "Learner", opt: torch.optim.Optimizer) -> Step:
    """The default step: forward, loss (+ the L2 term where decay lives in the loss), backward,
    the decay torch's optimizer cannot apply itself, ``opt.step()``."""
    decay = learner.manual_decay(opt)

    def step(xb, yb):
        if learner.transform is not None:
            xb = learner.transform(xb)
        with learner.autocast():
            losses = learner.losses(learner.model(xb), yb)
        total = losses.sum()  # stacked models: each model's gradient is its own loss's
        if decay is not None and decay.mode == "loss":
            total = total + decay.penalty()
        opt.zero_grad(set_to_none=True)
        total.backward()
        if decay is not None and decay.mode == "decoupled":
            decay.decay_()
        opt.step()
        return losses.detach()

    return step


@dataclass
class Learner:
    """A model, its data and how to optimise it (fastai's Learner in the small).

    ``layer_groups`` are lists of modules, earliest first; they get their own lrs from an lr spec
    and are what ``freeze``/``unfreeze`` act on. Default: the whole model is one group.
    ``make_step(learner, opt)`` builds the per-batch step (default ``autograd_step``).
    """

    model: nn.Module
    data: Tensors
    loss_func: Callable = nn.MSELoss()
    metrics: dict[str, Metric] = field(default_factory=dict)
    layer_groups: Sequence[Sequence[nn.Module]] | None = None
    opt: str = "adam"
    wd: float = 0.01
    wd_mode: str = "decoupled"
    bias_wd: bool = True  # decay bias terms too (the lesson); False leaves them out (see optim.decayed_params)
    bs: int = 64
    valid_bs: int = 4096
    drop_last: bool = True
    seed: int | Sequence[int] = 0  # a list: the model is len(seed) stacked models, one per seed
    device: str = "auto"
    lr_div: float = 10.0  # slice(hi): earlier groups get hi / lr_div
    train_bn: bool = True  # freeze() keeps BatchNorm layers trainable (fastai's default)
    transform: Callable | None = None  # applied to each training batch of x (augmentation)
    valid_transform: Callable | None = None  # applied to each batch of x before prediction
    log_every: int = 0  # log a progress line every N batches (0: once per epoch)
    valid_every: int = 1  # validate every N epochs and after the last (0: only after the last)
    make_step: Callable[["Learner", torch.optim.Optimizer], Step] = autograd_step
    precision: str = "fp32"  # bf16: forward passes autocast to bfloat16; weights, grads, optimizer state stay fp32
    precise_bn: bool = False  # recompute BatchNorm statistics on the training images before each validation

    def __post_init__(self):
        self.torch_device = resolve_device(self.device)
        self.model.to(self.torch_device)
        self.precision = resolve_precision(self.precision, self.torch_device)
        self.data = Tensors(*(t.to(self.torch_device) for t in
                              (self.data.x_train, self.data.y_train, self.data.x_valid, self.data.y_valid)))
        if self.layer_groups is None:
            self.layer_groups = [[self.model]]
        self.stacked = not isinstance(self.seed, int)
        self.seeds = list(self.seed) if self.stacked else [self.seed]
        self.generators = [torch.Generator().manual_seed(s) for s in self.seeds]
        self.iterations: list[dict] = []  # one row per training batch (and model): lr, momentum, loss
        self.valid_pred: torch.Tensor | None = None  # the last validation's predictions
        if self.precise_bn and self.stacked:
            raise PipelineError("precise_bn recomputes one model's BatchNorm statistics, not stacked seeds'")

    # ----- layer groups -------------------------------------------------------------------------
    def _group_params(self, group) -> list[nn.Parameter]:
        seen, params = set(), []
        for module in group:
            for p in module.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        return params

    def freeze_to(self, n: int):
        """Train only groups[n:], except that BatchNorm layers stay trainable if train_bn."""
        for k, group in enumerate(self.layer_groups):
            trainable = k >= (n % len(self.layer_groups) if n < 0 else n)
            for module in group:
                for sub in module.modules():
                    is_bn = isinstance(sub, nn.modules.batchnorm._BatchNorm)
                    for p in sub.parameters(recurse=False):
                        p.requires_grad_(trainable or (is_bn and self.train_bn))

    def freeze(self):
        self.freeze_to(-1)

    def unfreeze(self):
        self.freeze_to(0)

    # ----- optimisation -------------------------------------------------------------------------
    def optimizer(self, lrs: list[float]) -> torch.optim.Optimizer:
        """One param group per layer group and lr, split where decay reaches only some parameters."""
        groups = [{"params": [p for p in self._group_params(g) if p.requires_grad], "lr": lr}
                  for g, lr in zip(self.layer_groups, lrs)]
        groups = decay_param_groups(self.model, [g for g in groups if g["params"]], self.bias_wd)
        return make_optimizer(self.opt, groups, wd=self.wd, wd_mode=self.wd_mode)

    def manual_decay(self, opt) -> ManualDecay | None:
        """The decay this trainer applies itself; None where the optimizer's weight_decay does it all."""
        return ManualDecay.for_optimizer(opt, self.opt, self.wd, self.wd_mode)

    def autocast(self):
        """Mixed precision where asked (torch's autocast: matmuls and convolutions in bf16)."""
        return torch.autocast(self.torch_device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def lrs(self, spec) -> list[float]:
        return expand_lr_spec(spec, len(self.layer_groups), self.lr_div)

    def losses(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of each model: shape [K] for stacked models, [1] for one."""
        if not self.stacked:
            return self.loss_func(pred, target).reshape(1)
        return torch.stack([self.loss_func(p, t) for p, t in zip(pred, target)])

    def n_batches(self) -> int:
        n = len(self.data.y_train)
        return n // self.bs if self.drop_last and n >= self.bs else math.ceil(n / self.bs)

    def _batches(self):
        """One epoch of shuffled (x, y) batches: one gather per epoch, then each batch is a view.
        Stacked models get [K, batch, ...]: row k is seed k's batch."""
        n = len(self.data.y_train)
        keep = n - n % self.bs if self.drop_last and n >= self.bs else n
        orders = [torch.randperm(n, generator=g)[:keep] for g in self.generators]
        orders = (torch.stack(orders) if self.stacked else orders[0]).to(self.torch_device)
        x, y = self.data.x_train, self.data.y_train
        # Index tuples (collab's [n, 2] user/item ids) are gathered column-major, so each column of a
        # batch is contiguous: an embedding lookup with a strided index would copy it first.
        xs = x.T[:, orders].movedim(0, -1) if x.ndim == 2 and not x.is_floating_point() else x[orders]
        dim = 1 if self.stacked else 0
        return zip(xs.split(self.bs, dim), y[orders].split(self.bs, dim))

    # ----- prediction ---------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions in eval mode; stacked models give [K, n, ...] (every model sees all of x)."""
        self.model.eval()
        prepare = self.valid_transform or (lambda batch: batch)
        parts = []
        for i in range(0, len(x), self.valid_bs):
            batch = prepare(x[i:i + self.valid_bs])
            if self.stacked:
                batch = batch.expand(len(self.seeds), *batch.shape)
            with self.autocast():
                parts.append(self.model(batch).float())
        return torch.cat(parts, dim=1 if self.stacked else 0)

    def recalibrate_bn(self):
        """Precise BatchNorm (Wu & Johnson 2021, "Rethinking 'Batch' in BatchNorm"): each BatchNorm
        layer's running statistics, an average that lags weights which moved fast (a short fit at a high
        lr), are replaced by their mean over the training images as eval sees them (no augmentation), in
        the fit's batches of equal size. torch's ``update_bn`` makes the pass (without gradients); the
        global RNG that its train-mode dropout draws from is restored, so training after it goes on as it
        would without."""
        prepare = self.valid_transform or (lambda batch: batch)
        batches = (prepare(x) for x in self.data.x_train.tensor_split(self.n_batches()))
        cuda = [self.torch_device] if self.torch_device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda), self.autocast():
            torch.optim.swa_utils.update_bn(batches, self.model)

    def validate(self) -> list[dict[str, float]]:
        """Valid loss and metrics, one dict per model. The predictions stay in ``valid_pred`` (after a
        fit: the trained model's, for a confusion matrix without predicting again)."""
        pred = self.valid_pred = self.predict(self.data.x_valid)
        return self.scores(pred, self.data.y_valid)

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> list[dict[str, float]]:
        """Loss and metrics on other labelled images than the validation set, one dict per model."""
        return self.scores(self.predict(x.to(self.torch_device)), y.to(self.torch_device))

    def scores(self, pred: torch.Tensor, y: torch.Tensor) -> list[dict[str, float]]:
        out = []
        for p in pred.unbind(0) if self.stacked else [pred]:
            row = {"valid_loss": float(self.loss_func(p, y))}
            row.update({name: metric(p, y) for name, metric in self.metrics.items()})
            out.append(row)
        return out

    # ----- the three uses of the loop -------------------------------------------------------------
    def fit_one_cycle(self, epochs: int, lr=3e-3, *, pct_start=0.3, div_factor=25.0, final_div_factor=1e4,
                      moms=(0.95, 0.85), checkpoint: str | Path | None = None) -> pd.DataFrame:
        """fastai's fit_one_cycle through torch's OneCycleLR: cosine warm-up over pct_start of the
        steps from max/div to max, cosine down to max/div/final_div; momentum (Adam's beta1)
        cycled inversely. Each layer group follows the same curve scaled to its own max lr."""
        opt = self.optimizer(self.lrs(lr))
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=[g["lr"] for g in opt.param_groups], total_steps=epochs * self.n_batches(),
            pct_start=pct_start, anneal_strategy="cos", cycle_momentum=supports_momentum_cycling(self.opt),
            base_momentum=moms[1], max_momentum=moms[0], div_factor=div_factor, final_div_factor=final_div_factor)
        return self._fit(Run(self, opt, sched, epochs, self.iterations), self.fit_callbacks(checkpoint))

    def fit(self, epochs: int, lr=1e-3, checkpoint: str | Path | None = None) -> pd.DataFrame:
        """Constant learning rate(s)."""
        run = Run(self, self.optimizer(self.lrs(lr)), None, epochs, self.iterations)
        return self._fit(run, self.fit_callbacks(checkpoint))

    def fit_callbacks(self, checkpoint=None) -> list[Callback]:
        recorder = Recorder()
        precise_bn = [PreciseBN(self.valid_every)] if self.precise_bn else []
        return [recorder, StopOnNonFinite(recorder), *precise_bn, Validator(recorder, self.valid_every),
                ProgressLog(self.log_every, self.n_batches())] + ([Checkpointer(checkpoint)] if checkpoint else [])

    def lr_find(self, start_lr=1e-7, end_lr=10.0, num_it=100, stop_div=True, beta=0.98) -> pd.DataFrame:
        """fastai's lr finder: the lr grows exponentially from start_lr to end_lr over num_it batches
        (torch's ExponentialLR on the same loop); stops once the smoothed loss passes 4x its best.
        The model, and the shuffling and global RNG streams, are restored afterwards."""
        if self.stacked:
            raise PipelineError("the lr finder runs on one model, not on stacked seeds")
        state, rng = copy.deepcopy(self.model.state_dict()), rng_state(self.generators)
        opt = self.optimizer(self.lrs(start_lr))
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=(end_lr / start_lr) ** (1 / num_it))
        smoother, curve = LossSmoother(beta), []

        def diverged(loss: float) -> bool:  # called once per batch: the smoothed curve is the table's too
            above = smoother.add(loss)
            curve.append(smoother.last)
            return stop_div and above

        run = Run(self, opt, sched, math.ceil(num_it / self.n_batches()), records=[])
        self._fit(run, [Recorder(), StopAfter(num_it, diverged), ProgressLog(self.log_every, self.n_batches())])
        self.model.load_state_dict(state)
        set_rng_state(rng, self.generators)
        return pd.DataFrame(run.records)[["lr", "loss"]].assign(smoothed_loss=curve)

    # ----- the loop -----------------------------------------------------------------------------
    def _fit(self, run: Run, callbacks: list[Callback]) -> pd.DataFrame:
        """fastai's fit: epochs of batches, each a step and a scheduler step, the rest in callbacks.
        Returns one row per epoch and model (the rows a Validator wrote)."""
        def event(name):
            for callback in callbacks:
                getattr(callback, name)(run)

        event("begin_fit")
        step = self.make_step(self, run.opt)
        for run.epoch in range(run.first_epoch, run.epochs + 1):
            self.model.train()
            event("begin_epoch")
            for run.batch, (xb, yb) in enumerate(self._batches()):
                event("before_batch")
                run.loss = step(xb, yb)
                if run.sched is not None:
                    run.sched.step()
                event("after_batch")
                if run.stop:
                    break
            xb = yb = None  # the epoch's gathered batches go before the next epoch gathers its own
            event("after_epoch")
            if run.stop:
                break
        return pd.DataFrame(run.rows)
