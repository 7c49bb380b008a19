"""Transfer learning as the lesson does it, sized for a CPU: pretrain a ResNet-34 body on some classes
of an image dataset, then move it to the other classes with few labels and compare strategies.

Strategies (each seed and label budget):
  * head_only:        body frozen (BatchNorm still trains), head trained for both stages' epochs
  * discriminative:   frozen stage, then unfrozen with slice(lo, hi) over the three layer groups
  * unfrozen_high_lr: frozen stage, then unfrozen with the head's lr for every group (the lesson's
                      "worse" case)
  * scratch:          the same network from random weights, unfrozen for both stages' epochs
The three pretrained strategies share their frozen stage: it is trained once per seed and each
continues from a copy of it (model and random streams), exactly as if it ran alone.

Learning rates come from the lr finder, as the lesson picks them: on the frozen model for the head's
lr, again after the frozen stage with the body unfrozen for the top of the slice, and on the random
network for scratch; each on the budget's first seed, used for all its seeds.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn
from torchvision.transforms.v2 import functional as TF

from lesson5.data.budgets import budget_indices, relabel, valid_indices
from lesson5.errors import PipelineError
from lesson5.models.vision import IMAGENET_STATS, cnn_model, layer_groups
from lesson5.train.checkpoint import rng_state, set_rng_state
from lesson5.train.loop import Learner, Tensors, accuracy, error_rate
from lesson5.train.lr import suggest_lr

log = logging.getLogger(__name__)

STRATEGIES = ("head_only", "discriminative", "unfrozen_high_lr", "scratch")
PRETRAINED = STRATEGIES[:3]


def to_model_input(images: np.ndarray, size: int) -> torch.Tensor:
    """uint8 [n, h, w] -> float [n, 3, size, size], resized (antialiased) and ImageNet-normalised."""
    x = torch.from_numpy(images).float().div_(255).unsqueeze(1)
    if x.shape[-2:] != (size, size):
        x = TF.resize(x, [size, size], antialias=True)
    x = x.expand(-1, 3, -1, -1)
    x = TF.normalize(x, list(IMAGENET_STATS[0]), list(IMAGENET_STATS[1]))
    return x.contiguous(memory_format=torch.channels_last)  # oneDNN convolutions run faster on NHWC


def random_flip(x: torch.Tensor) -> torch.Tensor:
    """Horizontal flip of a random half of the batch (per image, from torch's seeded RNG)."""
    flip = torch.rand(x.shape[0], device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


@dataclass
class TaskData(Tensors):
    """A task's tensors, with its dataset classes (in label order) and training rows."""

    classes: list[int] = field(default_factory=list)
    index: np.ndarray | None = None  # the training rows' indices in the dataset


def images_and_labels(x: np.ndarray, y: np.ndarray, index: np.ndarray, classes, size: int):
    """Model inputs and labels renumbered 0..k-1 for the rows ``index`` of a dataset part."""
    return to_model_input(x[index], size), torch.from_numpy(relabel(y[index], classes))


def task_data(arrays: dict, classes, train_index: np.ndarray, valid_index: np.ndarray, size: int) -> TaskData:
    """The chosen train and valid images of ``classes``, labels renumbered 0..k-1."""
    return TaskData(*images_and_labels(arrays["x_train"], arrays["y_train"], train_index, classes, size),
                    *images_and_labels(arrays["x_valid"], arrays["y_valid"], valid_index, classes, size),
                    list(classes))


def source_task(arrays: dict, classes, size: int) -> TaskData:
    """Every training and validation image of the source classes."""
    def all_of(y):
        return np.flatnonzero(np.isin(y, classes))

    return task_data(arrays, classes, all_of(arrays["y_train"]), all_of(arrays["y_valid"]), size)


def target_tasks(arrays: dict, classes, budgets, seeds, valid_per_class: int, valid_seed: int, size: int):
    """{seed: {budget: TaskData}}: each seed's nested budgets, one fixed validation set for all."""
    valid = valid_indices(arrays["y_valid"], classes, valid_per_class, valid_seed)
    x_valid, y_valid = images_and_labels(arrays["x_valid"], arrays["y_valid"], valid, classes, size)
    return {seed: {budget: TaskData(*images_and_labels(arrays["x_train"], arrays["y_train"], index, classes, size),
                                    x_valid, y_valid, list(classes), index)
                   for budget, index in budget_indices(arrays["y_train"], classes, budgets, seed).items()}
            for seed in seeds}


def make_learner(model: nn.Module, data: TaskData, *, bs: int, wd: float, lr_div: float, seed: int,
                 device: str, augment: bool = True, valid_every: int = 1, precision: str = "fp32") -> Learner:
    """Batches of about ``bs`` that split the training images evenly (drop_last then drops fewer
    images than there are batches; a reshuffle each epoch uses them all)."""
    n = len(data.y_train)
    even_bs = max(1, n // math.ceil(n / bs))
    return Learner(model, data, loss_func=nn.CrossEntropyLoss(),
                   metrics={"error_rate": error_rate, "accuracy": accuracy}, layer_groups=layer_groups(model),
                   opt="adam", wd=wd, wd_mode="decoupled", bs=even_bs,
                   drop_last=True, seed=seed, device=device, lr_div=lr_div,
                   transform=random_flip if augment else None, valid_bs=500, valid_every=valid_every,
                   precision=precision)


# ----- source task ----------------------------------------------------------------------------------
def pretrain(data: TaskData, cfg: dict, ps: float, seed: int, device: str, checkpoint=None, precision="fp32"):
    """fit_one_cycle of a ResNet-34 from random weights on the source task; (learner, history)."""
    torch.manual_seed(seed)
    model = cnn_model(len(data.classes), "scratch", ps).to(memory_format=torch.channels_last)
    learner = make_learner(model, data, bs=cfg["bs"], wd=cfg["wd"], lr_div=1.0, seed=seed, device=device,
                           precision=precision)
    learner.log_every = 20
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
    finder: dict = field(default_factory=dict)  # lr_find's start_lr, end_lr, num_it and the pick rule
    precision: str = "fp32"  # the transfer stage's fp32 | bf16 | auto

    @classmethod
    def from_config(cls, ft: dict, finder: dict, precision: str = "fp32") -> "Finetune":
        keys = cls.__dataclass_fields__
        return cls(**{k: v for k, v in ft.items() if k in keys}, finder=dict(finder), precision=precision)


@dataclass
class BudgetResult:
    """What a fine-tuning job records: one row per (seed, strategy) in ``runs``, plus the lr finder
    sweeps, per-batch training losses and valid confusion counts."""

    runs: list[dict] = field(default_factory=list)
    sweeps: list[pd.DataFrame] = field(default_factory=list)
    iterations: list[pd.DataFrame] = field(default_factory=list)
    confusions: list[pd.DataFrame] = field(default_factory=list)

    def extend(self, other: "BudgetResult"):
        for name in ("runs", "sweeps", "iterations", "confusions"):
            getattr(self, name).extend(getattr(other, name))


def new_learner(data: TaskData, weights: str, ft: Finetune, seed: int, device: str) -> Learner:
    torch.manual_seed(seed)
    model = cnn_model(len(data.classes), weights, ft.ps).to(memory_format=torch.channels_last)
    return make_learner(model, data, bs=ft.bs, wd=ft.wd, lr_div=ft.lr_div, seed=seed, device=device, valid_every=0,
                        precision=ft.precision)


def find_lr(learner: Learner, ft: Finetune, name: str, budget: int, result: BudgetResult) -> float:
    """Run the lr finder, keep its sweep, and return the lr its pick rule suggests."""
    finder = {k: v for k, v in ft.finder.items() if k not in ("pick", "rise")}
    sweep = learner.lr_find(**finder)
    lr = suggest_lr(sweep, ft.finder.get("pick", {}).get(name, "minimum/10"), rise=ft.finder.get("rise", 0.2))
    log.info("budget %d: lr finder on the %s model suggests %.3g", budget, name, lr)
    result.sweeps.append(sweep.assign(budget=budget, finder=name, suggested=lr))
    return lr


class Snapshot:
    """A learner's model and random streams at one point, to branch several continuations from."""

    def __init__(self, learner: Learner):
        self.state, self.rng = copy.deepcopy(learner.model.state_dict()), rng_state(learner.generators)
        self.iterations = list(learner.iterations)

    def restore(self, learner: Learner):
        learner.model.load_state_dict(self.state)
        set_rng_state(self.rng, learner.generators)
        learner.iterations = list(self.iterations)


def record(result: BudgetResult, learner: Learner, n_classes: int, *, budget, seed, strategy, stages, lrs, start,
           frozen=None):
    """Append one run's final metrics, its per-batch losses and its valid confusion counts."""
    final, epochs = stages[-1][1].iloc[-1], sum(len(h) for _, h in stages)
    result.runs.append({"budget": budget, "seed": seed, "strategy": strategy, **lrs,
                        "frozen_error_rate": frozen, "error_rate": final.error_rate, "valid_loss": final.valid_loss,
                        "epochs": epochs, "steps": epochs * learner.n_batches(),
                        "seconds": time.perf_counter() - start})
    stage_of = np.repeat([name for name, h in stages], [len(h) * learner.n_batches() for _, h in stages])
    result.iterations.append(pd.DataFrame(learner.iterations).assign(
        budget=budget, seed=seed, strategy=strategy, stage=stage_of[:len(learner.iterations)]))
    counts = confusion_matrix(learner.valid_pred, learner.data.y_valid, n_classes)  # the fit's last validation
    result.confusions.append(pd.DataFrame([{"budget": budget, "seed": seed, "strategy": strategy, "true": t,
                                            "predicted": p, "count": int(counts[t, p])}
                                           for t in range(n_classes) for p in range(n_classes)]))


def finetune_pretrained(data: TaskData, body: str, ft: Finetune, budget: int, seed: int, device: str,
                        strategies, lrs: dict | None) -> tuple[BudgetResult, dict]:
    """The pretrained strategies for one seed, sharing one frozen stage. ``lrs`` None: choose them with
    the lr finder (the budget's first seed) where the config says "auto"; returns (result, lrs)."""
    result = BudgetResult()
    learner = new_learner(data, body, ft, seed, device)
    e1 = stage_epochs(ft.frozen_epochs, learner.n_batches(), ft.min_steps)
    e2 = stage_epochs(ft.unfrozen_epochs, learner.n_batches(), ft.min_steps)
    learner.freeze()
    if lrs is None:
        lrs = {"head_lr": find_lr(learner, ft, "frozen", budget, result) if ft.lr == "auto" else float(ft.lr)}
    start = time.perf_counter()  # a run's seconds are its training, not the lr finder's
    frozen = learner.fit_one_cycle(e1, lrs["head_lr"])
    snapshot, frozen_seconds = Snapshot(learner), time.perf_counter() - start
    if "slice_hi" not in lrs:
        learner.unfreeze()
        if ft.lr_slice == "auto":
            hi = find_lr(learner, ft, "unfrozen", budget, result)
            lrs |= {"slice_lo": hi / ft.slice_ratio, "slice_hi": hi}
        else:
            lo, hi = (ft.lr_slice if len(ft.lr_slice) == 2 else [ft.lr_slice[0] / ft.slice_ratio, ft.lr_slice[0]])
            lrs |= {"slice_lo": float(lo), "slice_hi": float(hi)}
    for strategy in (s for s in PRETRAINED if s in strategies):
        snapshot.restore(learner)
        branch_start = time.perf_counter() - frozen_seconds
        if strategy == "head_only":
            learner.freeze()
            stage = ("frozen", learner.fit_one_cycle(e2, lrs["head_lr"]))
        else:
            learner.unfreeze()
            spec = [lrs["slice_lo"], lrs["slice_hi"]] if strategy == "discriminative" else lrs["head_lr"]
            stage = ("unfrozen", learner.fit_one_cycle(e2, spec))
        record(result, learner, len(data.classes), budget=budget, seed=seed, strategy=strategy,
               stages=[("frozen", frozen), stage],
               lrs=lrs, start=branch_start, frozen=frozen.error_rate.iloc[-1])
    return result, lrs


def finetune_scratch(data: TaskData, ft: Finetune, budget: int, seed: int, device: str,
                     lrs: dict | None) -> tuple[BudgetResult, dict]:
    """The same network from random weights, unfrozen for both stages' epochs."""
    result = BudgetResult()
    learner = new_learner(data, "scratch", ft, seed, device)
    learner.unfreeze()
    epochs = stage_epochs(ft.frozen_epochs, learner.n_batches(), ft.min_steps) + \
        stage_epochs(ft.unfrozen_epochs, learner.n_batches(), ft.min_steps)
    if lrs is None:
        lrs = {"scratch_lr": find_lr(learner, ft, "scratch", budget, result) if ft.scratch_lr == "auto"
               else float(ft.scratch_lr)}
    start = time.perf_counter()
    history = learner.fit_one_cycle(epochs, lrs["scratch_lr"])
    record(result, learner, len(data.classes), budget=budget, seed=seed, strategy="scratch",
           stages=[("unfrozen", history)], lrs=lrs, start=start)
    return result, lrs


def finetune_budget(family: str, tasks: dict[int, TaskData], body: str | None, ft: Finetune, budget: int,
                    device: str, strategies, done: dict | None = None, on_seed=None) -> BudgetResult:
    """Every seed of one label budget for the pretrained strategies (family "pretrained") or scratch.
    ``done`` holds seeds finished by an earlier, interrupted job ({seed: (BudgetResult, lrs)});
    ``on_seed(seed, result, lrs)`` is called after each seed (to save progress)."""
    if family not in ("pretrained", "scratch"):
        raise PipelineError(f"unknown strategy family {family!r}")
    done, total, lrs = done or {}, BudgetResult(), None
    for seed, data in tasks.items():
        if seed in done:
            result, lrs = done[seed]
        elif family == "pretrained":
            result, lrs = finetune_pretrained(data, body, ft, budget, seed, device, strategies, lrs)
        else:
            result, lrs = finetune_scratch(data, ft, budget, seed, device, lrs)
        if seed not in done and on_seed is not None:
            on_seed(seed, result, lrs)
        total.extend(result)
        log.info("budget %d, seed %d: %s", budget, seed,
                 ", ".join(f"{r['strategy']} {r['error_rate']:.3f}" for r in result.runs))
    return total


# ----- lesson scale -----------------------------------------------------------------------------------
def stage_history(stages: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """The fit histories of consecutive stages as one, with a 'stage' column and epochs counted on."""
    history = pd.concat([h.assign(stage=name) for name, h in stages], ignore_index=True)
    history["epoch"] = range(1, len(history) + 1)
    return history


def lesson_scale(arrays: dict, cfg: dict, seed: int, device: str, cache_dir: str | None = None, checkpoints=None):
    """Lesson 1's pets run: ImageNet body, fit_one_cycle(frozen_epochs, lr) frozen, then unfreeze and
    fit_one_cycle(unfrozen_epochs, slice(lo, hi)). Returns (learner, history with a 'stage' column).
    ``checkpoints``: a folder for per-epoch checkpoints of both stages (a killed job resumes)."""
    from lesson5.data.pets import CenterCropNormalize, PetsAugment

    valid = arrays["is_valid"]
    x, y = torch.from_numpy(arrays["images"]), torch.from_numpy(arrays["labels"].astype(np.int64))
    torch.manual_seed(seed)
    model = cnn_model(len(arrays["classes"]), cfg["weights"], cfg["ps"], cache_dir)
    model = model.to(memory_format=torch.channels_last)
    stats = IMAGENET_STATS
    learner = Learner(model, Tensors(x[~valid], y[~valid], x[valid], y[valid]), loss_func=nn.CrossEntropyLoss(),
                      metrics={"error_rate": error_rate}, layer_groups=layer_groups(model), opt="adam",
                      wd=cfg["wd"], wd_mode="decoupled", bs=cfg["bs"], drop_last=True, seed=seed, device=device,
                      lr_div=cfg["lr_div"], transform=PetsAugment(cfg["size"], *stats),
                      valid_transform=CenterCropNormalize(cfg["size"], *stats), valid_bs=cfg["bs"], log_every=20,
                      precision=cfg.get("precision", "auto"))
    saved = (lambda name: f"{checkpoints}/{name}.pt") if checkpoints else (lambda name: None)
    learner.freeze()
    frozen = learner.fit_one_cycle(cfg["frozen_epochs"], list(cfg["lr"]), checkpoint=saved("frozen"))
    learner.unfreeze()
    unfrozen = learner.fit_one_cycle(cfg["unfrozen_epochs"], list(cfg["lr_slice"]), checkpoint=saved("unfrozen"))
    return learner, stage_history([("frozen", frozen), ("unfrozen", unfrozen)])


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, n: int) -> np.ndarray:
    idx = target.cpu() * n + pred.argmax(1).cpu()
    return torch.bincount(idx, minlength=n * n).reshape(n, n).numpy()
