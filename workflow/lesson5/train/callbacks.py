"""What a fit does besides stepping, as fastai v1's callbacks: record, stop, validate, log, checkpoint.

``Learner.fit_one_cycle``, ``fit`` and ``lr_find`` each hand the loop a list of these; the loop calls
``begin_fit`` once, ``begin_epoch`` / ``after_epoch`` around each epoch and ``before_batch`` /
``after_batch`` around each step, in list order. Every event receives the ``Run``, the fit's state.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lesson5.errors import PipelineError
from lesson5.train.checkpoint import load_checkpoint, save_checkpoint, set_rng_state

log = logging.getLogger("lesson5.train.loop")  # the loop's lines, under the name they always had


@dataclass
class Run:
    """One fit's state, shared by the loop and its callbacks."""

    learner: object
    opt: torch.optim.Optimizer
    sched: object
    epochs: int
    records: list  # one row per batch and model (the learner's iterations, or the lr finder's own)
    first_epoch: int = 1
    epoch: int = 0
    batch: int = 0
    loss: torch.Tensor | None = None  # the last batch's loss, one per model
    rows: list = field(default_factory=list)  # one row per epoch and model: train loss, metrics, seconds
    stop: bool = False  # set by a callback: the fit ends after this batch's epoch

    @property
    def seeds(self) -> list:
        return self.learner.seeds


class Callback:
    def begin_fit(self, run: Run): ...

    def begin_epoch(self, run: Run): ...

    def before_batch(self, run: Run): ...

    def after_batch(self, run: Run): ...

    def after_epoch(self, run: Run): ...


class Recorder(Callback):
    """Per batch: the lr and momentum the step used and its loss; per epoch, into ``run.records``."""

    def begin_epoch(self, run):
        self.started, self.losses, self.lrs, self.moms = time.perf_counter(), [], [], []

    def before_batch(self, run):
        group = run.opt.param_groups[-1]
        mom = group.get("betas" if "betas" in run.opt.defaults else "momentum", 0.0)
        self.lrs.append(group["lr"])
        self.moms.append(mom[0] if isinstance(mom, tuple) else mom)

    def after_batch(self, run):
        self.losses.append(run.loss)

    def after_epoch(self, run):
        if not self.losses:
            raise PipelineError(f"epoch {run.epoch} has no training batches (the training set is empty)")
        self.epoch_losses = torch.stack(self.losses).cpu()  # [batches, models]
        base = len(run.records) // len(run.seeds)
        for k, seed in enumerate(run.seeds):
            run.records += [{"iteration": base + b, "epoch": run.epoch, "lr": self.lrs[b], "momentum": self.moms[b],
                             "loss": float(self.epoch_losses[b, k]), **({"seed": seed} if run.learner.stacked else {})}
                            for b in range(len(self.epoch_losses))]
        self.seconds = time.perf_counter() - self.started


class StopOnNonFinite(Callback):
    """A fit whose loss is not finite has diverged: say so, with the epoch and what to change."""

    def __init__(self, recorder: Recorder):
        self.recorder = recorder

    def after_epoch(self, run):
        if not torch.isfinite(self.recorder.epoch_losses).all():
            raise PipelineError(f"training diverged in epoch {run.epoch} (loss is not finite); lower the lr")


class StopAfter(Callback):
    """End the fit after ``max_steps`` batches, or at the first batch where ``when(loss)`` is true."""

    def __init__(self, max_steps: int | None = None, when=None):
        self.max_steps, self.when, self.taken = max_steps, when, 0

    def after_batch(self, run):
        self.taken += 1
        if (self.when is not None and self.when(float(run.loss[0]))) or \
                (self.max_steps is not None and self.taken >= self.max_steps):
            run.stop = True


def validation_due(run: Run, every: int) -> bool:
    """Whether the epoch just ended is validated: every ``every`` epochs and after the last (0: only the last)."""
    return run.epoch == run.epochs or bool(every and run.epoch % every == 0)


class PreciseBN(Callback):
    """Before each validation (it goes before the Validator), the learner's BatchNorm statistics
    recomputed on its training images (``Learner.recalibrate_bn``)."""

    def __init__(self, every: int = 1):
        self.every = every

    def after_epoch(self, run):
        if validation_due(run, self.every):
            run.learner.recalibrate_bn()


class Validator(Callback):
    """Valid loss and metrics every ``every`` epochs and after the last (0: only after the last); one
    row per model in ``run.rows``, with the epoch's train loss and training seconds."""

    def __init__(self, recorder: Recorder, every: int = 1):
        self.recorder, self.every = recorder, every

    def after_epoch(self, run):
        metrics = run.learner.validate() if validation_due(run, self.every) else [{} for _ in run.seeds]
        for k, (seed, valid) in enumerate(zip(run.seeds, metrics)):
            run.rows.append({"epoch": run.epoch, **({"seed": seed} if run.learner.stacked else {}),
                             "train_loss": float(self.recorder.epoch_losses[:, k].mean()), **valid,
                             "seconds": self.recorder.seconds})


class ProgressLog(Callback):
    """A log line every ``every`` batches (0: none), and one per epoch row."""

    def __init__(self, every: int = 0, n_batches: int = 0):
        self.every, self.n_batches = every, n_batches

    def begin_epoch(self, run):
        self.logged = len(run.rows)

    def after_batch(self, run):
        if self.every and (run.batch + 1) % self.every == 0:
            log.info("epoch %d batch %d/%d loss %.4f", run.epoch, run.batch + 1, self.n_batches, float(run.loss.mean()))

    def after_epoch(self, run):
        for row in run.rows[self.logged:]:
            values = " ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
                              if k != "epoch")
            log.info("epoch %d/%d %s", run.epoch, run.epochs, values)


class Checkpointer(Callback):
    """The state after each epoch saved at ``path``; a fit that finds it there continues from it."""

    def __init__(self, path: str | Path):
        self.path = path

    def begin_fit(self, run):
        if not Path(self.path).exists():
            return
        saved = load_checkpoint(self.path, run.learner.torch_device)
        run.learner.model.load_state_dict(saved["model"])
        run.opt.load_state_dict(saved["opt"])
        if run.sched is not None:
            run.sched.load_state_dict(saved["sched"])
        set_rng_state(saved["rng"], run.learner.generators)
        run.records[:] = saved["records"]
        run.first_epoch, run.rows = saved["epoch"] + 1, saved["rows"]
        log.info("resumed from %s after epoch %d", self.path, saved["epoch"])

    def after_epoch(self, run):
        save_checkpoint(self.path, epoch=run.epoch, model=run.learner.model, opt=run.opt, sched=run.sched,
                        generators=run.learner.generators, rows=run.rows, records=run.records)
