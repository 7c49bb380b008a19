"""One trainer for every model of the pipeline: fit with 1cycle or a constant lr, and an lr finder.

Data lives in tensors (no per-row Dataset or collate): a batch is an index slice of a seeded
permutation, which keeps the collaborative-filtering epochs cheap on a CPU.
"""

from __future__ import annotations

import copy
import logging
import math
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn

from lesson5.errors import PipelineError
from lesson5.train.fast_collab import DotBiasAdamStep, supports_fast_step
from lesson5.train.lr import expand_lr_spec
from lesson5.train.optim import (
    ManualDecay,
    builtin_decay,
    decayed_params,
    make_optimizer,
    supports_momentum_cycling,
)

log = logging.getLogger(__name__)
# The fast collab step advances torch's optimizer state without calling opt.step(), which makes
# OneCycleLR believe its first step came before the optimizer's.
warnings.filterwarnings("ignore", message=re.escape("Detected call of `lr_scheduler.step()` before"))

Metric = Callable[[torch.Tensor, torch.Tensor], float]


def mse(pred, target) -> float:
    return float(((pred - target) ** 2).mean())


def rmse(pred, target) -> float:
    return math.sqrt(mse(pred, target))


def accuracy(pred, target) -> float:
    return float((pred.argmax(1) == target).float().mean())


def error_rate(pred, target) -> float:
    return 1.0 - accuracy(pred, target)


@dataclass
class Tensors:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_valid: torch.Tensor
    y_valid: torch.Tensor


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise PipelineError("device 'cuda' was asked for but torch sees no GPU; use device: auto or cpu")
    return torch.device(name)


@dataclass
class Learner:
    """A model, its data and how to optimise it (fastai's Learner in the small).

    ``layer_groups`` are lists of modules, earliest first; they get their own lrs from an lr spec
    and are what ``freeze``/``unfreeze`` act on. Default: the whole model is one group.
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
    seed: int = 0
    device: str = "auto"
    lr_div: float = 10.0  # slice(hi): earlier groups get hi / lr_div
    train_bn: bool = True  # freeze() keeps BatchNorm layers trainable (fastai's default)
    transform: Callable | None = None  # applied to each training batch of x (augmentation)
    valid_transform: Callable | None = None  # applied to each batch of x before prediction
    log_every: int = 0  # log a progress line every N batches (0: once per epoch)
    fast_step: bool = True  # use the hand-written collab step where it applies (same math as autograd)

    def __post_init__(self):
        self.torch_device = resolve_device(self.device)
        self.model.to(self.torch_device)
        self.data = Tensors(*(t.to(self.torch_device) for t in
                              (self.data.x_train, self.data.y_train, self.data.x_valid, self.data.y_valid)))
        if self.layer_groups is None:
            self.layer_groups = [[self.model]]
        self.generator = torch.Generator().manual_seed(self.seed)
        self.iterations: list[dict] = []  # one row per training batch: lr, momentum, loss

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
    def _optimizer(self, lrs: list[float]) -> torch.optim.Optimizer:
        groups = [{"params": [p for p in self._group_params(g) if p.requires_grad], "lr": lr}
                  for g, lr in zip(self.layer_groups, lrs)]
        groups = [g for g in groups if g["params"]]
        # without bias_wd, ManualDecay decays some of the parameters: the optimizer's own decay stays off
        return make_optimizer(self.opt, groups, wd=self.wd if self.bias_wd else 0.0, wd_mode=self.wd_mode)

    def _manual_decay(self, opt) -> ManualDecay | None:
        """The decay this trainer applies itself; None where the optimizer's weight_decay does it all."""
        if not self.wd or (self.bias_wd and builtin_decay(self.opt, self.wd_mode)):
            return None
        params = [p for g in opt.param_groups for p in g["params"]]
        return ManualDecay(opt, decayed_params(self.model, params, self.bias_wd), self.wd, self.wd_mode)

    def _lrs(self, spec) -> list[float]:
        return expand_lr_spec(spec, len(self.layer_groups), self.lr_div)

    def _order(self) -> torch.Tensor:
        """One epoch's shuffled row order, cut to whole batches where drop_last."""
        n = len(self.data.y_train)
        order = torch.randperm(n, generator=self.generator).to(self.torch_device)
        return order[: n - n % self.bs] if self.drop_last and n >= self.bs else order

    def _batches(self):
        """Shuffled (x, y) batches: one gather per epoch, then each batch is a view."""
        order, x = self._order(), self.data.x_train
        # Index tuples (collab's [n, 2] user/item ids) are gathered column-major, so each column of
        # a batch is contiguous: lookups with a strided index would copy it first.
        xs = x.T[:, order].T if x.ndim == 2 and not x.is_floating_point() else x[order]
        return zip(xs.split(self.bs), self.data.y_train[order].split(self.bs))

    def n_batches(self) -> int:
        n = len(self.data.y_train)
        return n // self.bs if self.drop_last and n >= self.bs else math.ceil(n / self.bs)

    def _autograd_step(self, opt):
        """``(xb, yb) -> loss``: one step through autograd and ``opt``, with the decay its mode needs."""
        decay = self._manual_decay(opt)
        return lambda xb, yb: self._train_step(opt, xb, yb, decay)

    def _train_step(self, opt, xb, yb, decay: ManualDecay | None) -> torch.Tensor:
        if self.transform is not None:
            xb = self.transform(xb)
        loss = self.loss_func(self.model(xb), yb)
        total = loss + decay.penalty() if decay is not None and decay.mode == "loss" else loss
        opt.zero_grad(set_to_none=True)
        total.backward()
        if decay is not None:
            decay.before_step()
        opt.step()
        return loss.detach()

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        prepare = self.valid_transform or (lambda batch: batch)
        return torch.cat([self.model(prepare(x[i:i + self.valid_bs])) for i in range(0, len(x), self.valid_bs)])

    def validate(self) -> dict[str, float]:
        pred = self.predict(self.data.x_valid)
        result = {"valid_loss": float(self.loss_func(pred, self.data.y_valid))}
        for name, metric in self.metrics.items():
            result[name] = metric(pred, self.data.y_valid)
        return result

    def fit_one_cycle(self, epochs: int, lr=3e-3, *, pct_start=0.3, div_factor=25.0,
                      final_div_factor=1e4, moms=(0.95, 0.85)) -> pd.DataFrame:
        """fastai's fit_one_cycle through torch's OneCycleLR: cosine warm-up over pct_start of the
        steps from max/div to max, cosine down to max/div/final_div; momentum (Adam's beta1)
        cycled inversely. Each layer group follows the same curve scaled to its own max lr."""
        lrs = self._lrs(lr)
        opt = self._optimizer(lrs)
        cycle = supports_momentum_cycling(self.opt)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=[g["lr"] for g in opt.param_groups], total_steps=epochs * self.n_batches(),
            pct_start=pct_start, anneal_strategy="cos", cycle_momentum=cycle,
            base_momentum=moms[1], max_momentum=moms[0], div_factor=div_factor,
            final_div_factor=final_div_factor)
        return self._fit(epochs, opt, sched)

    def fit(self, epochs: int, lr=1e-3) -> pd.DataFrame:
        """Constant learning rate(s)."""
        return self._fit(epochs, self._optimizer(self._lrs(lr)), None)

    def _fit(self, epochs, opt, sched) -> pd.DataFrame:
        mom_key = "betas" if "betas" in opt.defaults else "momentum"
        fast = self.fast_step and supports_fast_step(self.model, self.opt, self.wd_mode, self.loss_func,
                                                     self.transform)
        step = DotBiasAdamStep(self.model, opt, self._manual_decay(opt)) if fast else self._autograd_step(opt)
        rows, n_batches = [], self.n_batches()
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            self.model.train()
            losses = []
            lr_trace, mom_trace = [], []
            batches = step.batches(self.data.x_train, self.data.y_train, self._order(), self.bs) if fast \
                else self._batches()
            for i, (xb, yb) in enumerate(batches):
                group = opt.param_groups[-1]
                lr_trace.append(group["lr"])
                mom = group.get(mom_key, 0.0)
                mom_trace.append(mom[0] if isinstance(mom, tuple) else mom)
                losses.append(step(xb, yb))
                if sched is not None:
                    sched.step()
                if self.log_every and (i + 1) % self.log_every == 0:
                    log.info("epoch %d batch %d/%d loss %.4f", epoch, i + 1, n_batches, float(losses[i]))
            losses = torch.stack(losses).cpu()
            if not torch.isfinite(losses).all():
                raise PipelineError(f"training diverged in epoch {epoch} (loss is not finite); lower the lr")
            base = len(self.iterations)
            self.iterations += [{"iteration": base + k, "epoch": epoch, "lr": lr_trace[k],
                                 "momentum": mom_trace[k], "loss": float(losses[k])}
                                for k in range(n_batches)]
            train_seconds = time.perf_counter() - start
            row = {"epoch": epoch, "train_loss": float(losses.mean()), **self.validate(),
                   "seconds": train_seconds}
            rows.append(row)
            log.info("epoch %d/%d " + " ".join(f"{k} %.4f" for k in list(row)[1:]), epoch, epochs,
                     *list(row.values())[1:])
        return pd.DataFrame(rows)

    def lr_find(self, start_lr=1e-7, end_lr=10.0, num_it=100, stop_div=True, beta=0.98) -> pd.DataFrame:
        """Exponential lr sweep; stops once the smoothed loss passes 4x its best. Model restored after."""
        state = copy.deepcopy(self.model.state_dict())
        opt = self._optimizer(self._lrs(start_lr))
        ratios = [g["lr"] / start_lr for g in opt.param_groups]
        step = self._autograd_step(opt)
        rows, avg, best, it = [], 0.0, math.inf, 0
        self.model.train()
        while it < num_it:
            for xb, yb in self._batches():
                lr = start_lr * (end_lr / start_lr) ** (it / num_it)
                for g, r in zip(opt.param_groups, ratios):
                    g["lr"] = lr * r
                loss = float(step(xb, yb))
                avg = beta * avg + (1 - beta) * loss
                smooth = avg / (1 - beta ** (it + 1))
                rows.append({"lr": lr, "loss": loss, "smoothed_loss": smooth})
                best = min(best, smooth)
                it += 1
                if it >= num_it or (stop_div and (smooth > 4 * best or math.isnan(smooth))):
                    it = num_it
                    break
        self.model.load_state_dict(state)
        return pd.DataFrame(rows)
