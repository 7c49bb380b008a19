"""Transfer learning as the lesson does it, sized for a CPU: pretrain a ResNet-34 on a source task,
then move its body to target classes with few labels and compare strategies
(``transfer_plan.STRATEGIES``):

  * head_only:        body frozen (BatchNorm still trains), head trained for both stages' epochs
  * discriminative:   frozen stage, then unfrozen with slice(lo, hi) over the three layer groups
  * unfrozen_high_lr: frozen stage, then unfrozen with the head's lr for every group (the lesson's
                      "worse" case)
  * scratch:          the same network from random weights, unfrozen for both stages' epochs

A body's strategies share their frozen stage: it is trained once per seed and each continues from a
copy of it (model and random streams), exactly as if it ran alone.

Learning rates come from the lr finder, as the lesson picks them: on the frozen model for the head's
lr, again after the frozen stage with the body unfrozen for the top of the slice, and on the random
network for scratch. The budget's first seed chooses them (``LearningRates``); every later seed is
handed the same value. With ``lr_select.by: dev`` the first seed also trains at the finder's lrs times
each other scale, and the scale whose run scores the lowest error on a dev set (held-out images that
are not the validation set) is the one every seed uses: the finder's pick on a flat-bottomed curve
is noise, and a scored comparison of two arms should not hang on it. A body's head keeps the
finder's pick under every scale (``lr_select.head: finder``), so each strategy starts from a trained
head; with ``scaled`` the scale multiplies the head's lr too.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn

from lesson5.data.image_tasks import AUGMENTS, TaskData, joint_task, random_flip, source_task, target_tasks
from lesson5.errors import PipelineError
from lesson5.experiments.transfer_plan import (BODY_SOURCES, DISCRIMINATIVE, FRACTAL_SOURCE, FROM_BODY, HEAD_ONLY, SCRATCH,
                                              beyond_edge, dev_per_class, lead_strategy)
from lesson5.models.vision import cnn_model, layer_groups
from lesson5.runner import seed_everything
from lesson5.train.checkpoint import rng_state, set_rng_state
from lesson5.train.device import resolve_precision
from lesson5.train.loop import Learner, Tensors
from lesson5.train.lr import suggest_lr
from lesson5.train.metrics import accuracy, confusion_matrix, error_rate

log = logging.getLogger(__name__)


def vision_learner(model: nn.Module, data: Tensors, *, bs: int, wd: float, lr_div: float, seed: int, device: str,
                   precision: str = "fp32", even_batches: bool = True, transform=random_flip, **options) -> Learner:
    """The one Learner of every ResNet run: cross-entropy, Adam with decoupled decay, the model's layer
    groups. ``even_batches``: batches of about ``bs`` that split the training images evenly (drop_last
    then drops fewer images than there are batches; a reshuffle each epoch uses them all)."""
    n = len(data.y_train)
    bs = max(1, n // math.ceil(n / bs)) if even_batches else bs
    return Learner(model, data, loss_func=nn.CrossEntropyLoss(),
                   metrics={"error_rate": error_rate, "accuracy": accuracy}, layer_groups=layer_groups(model),
                   opt="adam", wd=wd, wd_mode="decoupled", bs=bs, drop_last=True, seed=seed, device=device,
                   lr_div=lr_div, transform=transform, precision=precision, **{"valid_bs": 500, **options})


def fresh_model(n_classes: int, weights: str, ps: float, seed: int, cache_dir=None, conv: str = "plain",
                cut: str = "layer4") -> nn.Module:
    torch.manual_seed(seed)
    return cnn_model(n_classes, weights, ps, cache_dir, conv, cut).to(memory_format=torch.channels_last)


# ----- source task ----------------------------------------------------------------------------------
def body_source(body: str, arrays: dict[str, dict], dataset: str | None, source_classes, size: int
                ) -> tuple[TaskData, str]:
    """The source task an own body learns: each of its sources (``BODY_SOURCES``) from its arrays in
    ``arrays`` (every generated fractal class, or the ``dataset``'s ``source_classes``), joined as one
    task; and its name, e.g. "100 fractal classes + fashion_mnist classes [0, 1, 2, 3, 4]"."""
    parts = {part: source_task(arrays[part], None if part == FRACTAL_SOURCE else source_classes, size)
             for part in BODY_SOURCES[body]}
    name = " + ".join(f"{len(task.classes)} fractal classes" if part == FRACTAL_SOURCE
                      else f"{dataset} classes {source_classes}" for part, task in parts.items())
    return joint_task(list(parts.values())), name


def pretrain_own_body(body: str, cfg: dict, arrays: dict[str, dict], seed: int, device: str, checkpoint=None):
    """An own body pretrained as rule pretrain_body does it (``cfg``: its job's ``pretrain_params``):
    (learner, history), the history with the source task's size and name (its ``source`` column)."""
    seed_everything(seed)
    data, name = body_source(body, arrays, cfg.get("dataset"), cfg.get("source_classes"), cfg["size"])
    precision = resolve_precision(cfg["precision"], torch.device(device))
    log.info("%s body's source, %s: %d classes, %d training images; training on %s in %s", body, name,
             len(data.classes), len(data.y_train), device, precision)
    learner, history = pretrain(data, cfg["pretrain"], cfg["ps"], seed, device, checkpoint=checkpoint,
                                precision=precision, conv=cfg["conv"])
    return learner, history.assign(train_images=len(data.y_train), valid_images=len(data.y_valid),
                                   classes=len(data.classes), source=name)


def pretrain(data: TaskData, cfg: dict, ps: float, seed: int, device: str, checkpoint=None, precision="fp32",
             conv="plain"):
    """fit_one_cycle of a ResNet-34 from random weights on the source task; (learner, history)."""
    model = fresh_model(len(data.classes), "scratch", ps, seed, conv=conv)
    learner = vision_learner(model, data, bs=cfg["bs"], wd=cfg["wd"], lr_div=1.0, seed=seed, device=device,
                             precision=precision, log_every=20, transform=AUGMENTS[cfg["augment"]])
    return learner, learner.fit_one_cycle(cfg["epochs"], cfg["lr"], checkpoint=checkpoint)


# ----- target task ----------------------------------------------------------------------------------
def stage_epochs(epochs: int, n_batches: int, min_steps: int) -> int:
    """A stage's epochs: as configured, or more when a tiny budget makes them shorter than min_steps
    batches in all (5 labels of 5 classes is one batch an epoch)."""
    return max(epochs, math.ceil(min_steps / n_batches))


@dataclass
class Finetune:
    """The target-task recipe (config ``transfer.finetune``) and the lr finder's settings."""

    bs: int = 64
    frozen_epochs: int = 4
    unfrozen_epochs: int = 2
    min_steps: int = 20
    lr: float | str = "auto"  # the head's lr; "auto": from the lr finder on the frozen model
    lr_slice: list | str = "auto"  # [lo, hi] after unfreezing; "auto": hi from the lr finder, lo = hi / slice_ratio
    slice_ratio: float = 100.0
    scratch_lr: float | str = "auto"
    lr_div: float = 10.0
    wd: float = 0.01
    ps: float = 0.5
    bn_stats: str = "precise"  # BatchNorm's statistics at evaluation: precise (recomputed), running (fastai's)
    finder: dict = field(default_factory=dict)  # lr_find's start_lr, end_lr, num_it and the pick rule
    precision: str = "fp32"  # the transfer stage's fp32 | bf16 | auto (the Learner resolves auto)
    conv: str = "plain"  # the transfer stage's centre_tap | plain (models.vision.CONVS)
    cut: str = "layer4"  # where every fine-tuned network's body ends (models.vision.CUTS), scratch's too
    scales: tuple[float, ...] = (1.0,)  # multiples of the first seed's lrs it tries, scored on the dev set
    extend: int = 0  # further scales it may try beyond the grid's edge while the best sits on it
    scale_head: bool = False  # the scales move the slice alone (lr_select.head: finder) or the head's lr too (scaled)

    @classmethod
    def from_config(cls, transfer: dict) -> "Finetune":
        """From the transfer section (or a fine-tuning job's params): its finetune recipe, lr finder,
        lr selection, precision, conv and cut."""
        keys = cls.__dataclass_fields__
        select = transfer.get("lr_select", {})
        dev = select.get("by") == "dev"
        return cls(**{k: v for k, v in transfer["finetune"].items() if k in keys}, finder=dict(transfer["lr_find"]),
                   precision=transfer["precision"], conv=transfer["conv"], cut=transfer["cut"],
                   scales=tuple(select["scales"]) if dev else (1.0,), extend=select.get("extend", 0) if dev else 0,
                   scale_head=select.get("head", "finder") == "scaled")

    def epochs(self, n_batches: int) -> tuple[int, int]:
        """(frozen, unfrozen) stage epochs for a sample of ``n_batches`` batches."""
        return (stage_epochs(self.frozen_epochs, n_batches, self.min_steps),
                stage_epochs(self.unfrozen_epochs, n_batches, self.min_steps))

    def learner(self, data: TaskData, weights: str, seed: int, device: str) -> Learner:
        model = fresh_model(len(data.classes), weights, self.ps, seed, conv=self.conv, cut=self.cut)
        return vision_learner(model, data, bs=self.bs, wd=self.wd, lr_div=self.lr_div, seed=seed, device=device,
                              valid_every=0, precision=self.precision, precise_bn=self.bn_stats == "precise")


@dataclass(frozen=True)
class LearningRates:
    """The lrs of one budget, chosen on its first seed: the head's, the slice after unfreezing, scratch's;
    ``scale``: their multiple of the finder's (or the config's) lrs."""

    head: float | None = None
    slice: tuple[float, float] | None = None
    scratch: float | None = None
    scale: float = 1.0

    def scaled(self, m: float, head: bool = True) -> "LearningRates":
        """``m`` times these lrs; ``head`` False keeps the head's lr (the scale then applies to the slice)."""
        times = (lambda lr: None if lr is None else lr * m)
        return LearningRates(times(self.head) if head else self.head,
                             None if self.slice is None else tuple(lr * m for lr in self.slice),
                             times(self.scratch), self.scale * m)

    def columns(self) -> dict:
        named = {"head_lr": self.head, "scratch_lr": self.scratch}
        if self.slice is not None:
            named |= {"slice_lo": self.slice[0], "slice_hi": self.slice[1]}
        return {k: v for k, v in named.items() if v is not None}


@dataclass
class BudgetResult:
    """What a fine-tuning job records: one row per (seed, strategy) in ``runs``, plus the lr finder
    sweeps, per-batch training losses and valid confusion counts, the lrs its runs used, and the runs
    that chose them (``selection``: every scale the first seed tried, ``chosen`` marking the kept one)."""

    runs: list[dict] = field(default_factory=list)
    sweeps: list[pd.DataFrame] = field(default_factory=list)
    iterations: list[pd.DataFrame] = field(default_factory=list)
    confusions: list[pd.DataFrame] = field(default_factory=list)
    selection: list[dict] = field(default_factory=list)
    lrs: LearningRates | None = None

    def extend(self, other: "BudgetResult"):
        for name in ("runs", "sweeps", "iterations", "confusions", "selection"):
            getattr(self, name).extend(getattr(other, name))
        self.lrs = other.lrs

    def tables(self, family: str) -> dict[str, pd.DataFrame]:
        """The job's five outputs, each row tagged with its family."""
        sweeps = pd.concat(self.sweeps) if self.sweeps else pd.DataFrame(
            columns=["lr", "loss", "smoothed_loss", "budget", "finder", "suggested"])
        frames = {"runs": pd.DataFrame(self.runs), "lr_find": sweeps, "iterations": pd.concat(self.iterations),
                  "confusion": pd.concat(self.confusions),
                  "lr_select": pd.DataFrame(self.selection, columns=SELECTION_COLUMNS)}
        return {name: frame.assign(family=family) for name, frame in frames.items()}


SELECTION_COLUMNS = ["budget", "seed", "strategy", "lr_scale", "dev_error_rate", "dev_loss", "error_rate", "chosen"]


def find_lr(learner: Learner, ft: Finetune, finder: str, budget: int, result: BudgetResult) -> float:
    """Run the lr finder, keep its sweep, and return the lr its pick rule suggests."""
    settings = {k: v for k, v in ft.finder.items() if k not in ("pick", "rise")}
    sweep = learner.lr_find(**settings)
    lr = suggest_lr(sweep, ft.finder.get("pick", {}).get(finder, "minimum/10"), rise=ft.finder.get("rise", 0.2))
    log.info("budget %d: lr finder on the %s model suggests %.3g", budget, finder, lr)
    result.sweeps.append(sweep.assign(budget=budget, finder=finder, suggested=lr))
    return lr


def chosen_lr(learner: Learner, ft: Finetune, finder: str, fixed, budget: int, result: BudgetResult) -> float:
    """The config's lr, or the finder's pick where the config says auto."""
    return find_lr(learner, ft, finder, budget, result) if fixed == "auto" else float(fixed)


def slice_lrs(learner: Learner, ft: Finetune, budget: int, result: BudgetResult) -> tuple[float, float]:
    """slice(lo, hi) after unfreezing: fixed by the config, or hi from the finder and lo = hi / slice_ratio."""
    if ft.lr_slice == "auto":
        learner.unfreeze()
        hi = find_lr(learner, ft, "unfrozen", budget, result)
        return hi / ft.slice_ratio, hi
    lo, hi = ft.lr_slice if len(ft.lr_slice) == 2 else (ft.lr_slice[0] / ft.slice_ratio, ft.lr_slice[0])
    return float(lo), float(hi)


class Snapshot:
    """A learner's model and random streams at one point, to branch several continuations from."""

    def __init__(self, learner: Learner):
        self.state, self.rng = copy.deepcopy(learner.model.state_dict()), rng_state(learner.generators)
        self.iterations = list(learner.iterations)

    def restore(self, learner: Learner):
        learner.model.load_state_dict(self.state)
        set_rng_state(self.rng, learner.generators)
        learner.iterations = list(self.iterations)


def timed(fit, *args):
    start = time.perf_counter()
    return fit(*args), time.perf_counter() - start


def record(result: BudgetResult, learner: Learner, data: TaskData, *, budget, seed, strategy, stages, seconds,
           frozen=None):
    """Append one run's final metrics (its dev set's too, where the task has one), its per-batch losses
    and its valid confusion counts."""
    final, epochs, n = stages[-1][1].iloc[-1], sum(len(h) for _, h in stages), len(data.classes)
    dev = learner.evaluate(data.x_dev, data.y_dev)[0] if data.x_dev is not None else None
    result.runs.append({"budget": budget, "seed": seed, "strategy": strategy, **result.lrs.columns(),
                        "lr_scale": result.lrs.scale, "frozen_error_rate": frozen, "error_rate": final.error_rate,
                        "valid_loss": final.valid_loss, "epochs": epochs, "steps": epochs * learner.n_batches(),
                        "seconds": seconds} | ({"dev_error_rate": dev["error_rate"], "dev_loss": dev["valid_loss"]}
                                               if dev else {}))
    stage_of = [name for name, h in stages for _ in range(len(h) * learner.n_batches())]
    result.iterations.append(pd.DataFrame(learner.iterations).assign(
        budget=budget, seed=seed, strategy=strategy, stage=stage_of[:len(learner.iterations)]))
    counts = confusion_matrix(learner.valid_pred, learner.data.y_valid, n)  # the fit's last validation
    result.confusions.append(pd.DataFrame([{"budget": budget, "seed": seed, "strategy": strategy, "true": t,
                                            "predicted": p, "count": int(counts[t, p])}
                                           for t in range(n) for p in range(n)]))


def continue_from_frozen(learner: Learner, strategy: str, epochs: int, lrs: LearningRates):
    """The second stage of a body strategy: (stage name, history)."""
    if strategy == HEAD_ONLY:
        learner.freeze()
        return "frozen", learner.fit_one_cycle(epochs, lrs.head)
    learner.unfreeze()
    return "unfrozen", learner.fit_one_cycle(epochs, list(lrs.slice) if strategy == DISCRIMINATIVE else lrs.head)


def finetune_from_body(data: TaskData, body: str, ft: Finetune, budget: int, seed: int, device: str, strategies,
                       lrs: LearningRates | None = None) -> BudgetResult:
    """A body's strategies for one seed, sharing one frozen stage. ``lrs`` None: this seed chooses them."""
    result = BudgetResult()
    learner = ft.learner(data, body, seed, device)
    frozen_epochs, unfrozen_epochs = ft.epochs(learner.n_batches())
    learner.freeze()
    head = lrs.head if lrs else chosen_lr(learner, ft, "frozen", ft.lr, budget, result)
    frozen, frozen_seconds = timed(learner.fit_one_cycle, frozen_epochs, head)
    snapshot = Snapshot(learner)
    result.lrs = lrs or LearningRates(head=head, slice=slice_lrs(learner, ft, budget, result))
    for strategy in (s for s in FROM_BODY if s in strategies):
        snapshot.restore(learner)
        stage, seconds = timed(continue_from_frozen, learner, strategy, unfrozen_epochs, result.lrs)
        record(result, learner, data, budget=budget, seed=seed, strategy=strategy, stages=[("frozen", frozen), stage],
               seconds=frozen_seconds + seconds, frozen=frozen.error_rate.iloc[-1])
    return result


def finetune_scratch(data: TaskData, ft: Finetune, budget: int, seed: int, device: str,
                     lrs: LearningRates | None = None) -> BudgetResult:
    """The same network from random weights, unfrozen for both stages' epochs."""
    result = BudgetResult()
    learner = ft.learner(data, "scratch", seed, device)
    learner.unfreeze()
    epochs = sum(ft.epochs(learner.n_batches()))
    result.lrs = lrs or LearningRates(scratch=chosen_lr(learner, ft, "scratch", ft.scratch_lr, budget, result))
    history, seconds = timed(learner.fit_one_cycle, epochs, result.lrs.scratch)
    record(result, learner, data, budget=budget, seed=seed, strategy=SCRATCH, stages=[("unfrozen", history)],
           seconds=seconds)
    return result


def select_by_dev(run, ft: Finetune, lead: str) -> BudgetResult:
    """The first seed at the finder's lrs (``run(None)``), then at each other of ``ft.scales`` times them,
    and (up to ``ft.extend`` times) one step further while the best sits on the grid's edge; the
    candidate whose ``lead`` run scores the lowest dev error (then dev loss) is kept as the seed's
    result, with every candidate's rows in its ``selection``."""
    base = run(None)
    candidates = [base] + [run(base.lrs.scaled(m, ft.scale_head)) for m in ft.scales if m != 1]

    def dev_score(candidate):
        row = next(r for r in candidate.runs if r["strategy"] == lead)
        return row["dev_error_rate"], row["dev_loss"]

    for _ in range(ft.extend):
        further = beyond_edge([c.lrs.scale for c in candidates], min(candidates, key=dev_score).lrs.scale)
        if further is None:
            break
        candidates.append(run(base.lrs.scaled(further, ft.scale_head)))
    best = min(candidates, key=dev_score)
    best.sweeps = base.sweeps  # the finders ran at scale 1
    best.selection = [{**{k: r.get(k) for k in SELECTION_COLUMNS}, "chosen": c is best}
                      for c in sorted(candidates, key=lambda c: c.lrs.scale) for r in c.runs]
    log.info("lr scale %g chosen on the dev set (%s)", best.lrs.scale,
             ", ".join(f"x{c.lrs.scale:g}: {dev_score(c)[0]:.3f}" for c in candidates))
    return best


def budget_tasks(arrays: dict, job: dict, budget: int, valid_seed: int) -> dict[int, TaskData]:
    """{seed: TaskData} of one label budget as a fine-tuning job (its params) reads it: every seed's
    labelled images, the validation set and, where the job chooses lrs on one, the dev set."""
    seeds = list(job["seeds"])
    tasks = target_tasks(arrays, job["target_classes"], [budget], seeds, job["valid_per_class"], valid_seed,
                         job["size"], dev_per_class(job))
    return {seed: tasks[seed][budget] for seed in seeds}


def finetune_budget(family: str, tasks: dict[int, TaskData], body: str | None, ft: Finetune, budget: int,
                    device: str, strategies, done: dict | None = None, on_seed=None,
                    lrs: LearningRates | None = None) -> BudgetResult:
    """Every seed of one label budget for a body's strategies (``body``: its weights) or scratch
    (family "scratch"). ``done`` holds seeds finished by an earlier, interrupted job ({seed: BudgetResult});
    ``on_seed(seed, result)`` is called after each new seed (to save progress). ``lrs``: the budget's
    lrs, known already (a benchmark repeating a finished stage), for every seed; None: the first seed
    chooses them."""
    if family != SCRATCH and body is None:
        raise PipelineError(f"family {family!r} fine-tunes a body, and none was given")
    if len(ft.scales) > 1 and any(d.x_dev is None for d in tasks.values()):
        raise PipelineError(f"choosing among lr scales {list(ft.scales)} needs a dev set (lr_select.dev_per_class)")
    done, total = done or {}, BudgetResult(lrs=lrs)
    for seed, data in tasks.items():
        result = done.get(seed)
        if result is None:
            def run(lrs, data=data, seed=seed):
                return (finetune_scratch(data, ft, budget, seed, device, lrs) if family == SCRATCH else
                        finetune_from_body(data, body, ft, budget, seed, device, strategies, lrs))
            choose = total.lrs is None and len(ft.scales) > 1
            result = select_by_dev(run, ft, lead_strategy(family, strategies)) if choose else run(total.lrs)
            if on_seed is not None:
                on_seed(seed, result)
        total.extend(result)
        log.info("budget %d, seed %d: %s", budget, seed,
                 ", ".join(f"{r['strategy']} {r['error_rate']:.3f}" for r in result.runs))
    return total
