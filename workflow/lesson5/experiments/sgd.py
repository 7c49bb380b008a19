"""The lesson-5 SGD notebook as experiments: its hand-written loop, then the optimizer ablation, weight
decay and 1cycle through the trainer."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from lesson5.errors import PipelineError
from lesson5.models.mnist import MODELS
from lesson5.train.loop import Learner, Tensors
from lesson5.train.metrics import accuracy

log = logging.getLogger(__name__)


def load_image_tensors(npz_path) -> dict[str, torch.Tensor]:
    """Flattened float pixels in [0, 1] (no normalisation, as the lesson's pickle) and int64 labels."""
    with np.load(npz_path, allow_pickle=False) as npz:
        out = {}
        for part in ("train", "valid", "test"):
            out[f"x_{part}"] = torch.from_numpy(npz[f"x_{part}"].reshape(len(npz[f"x_{part}"]), -1)).float() / 255
            out[f"y_{part}"] = torch.from_numpy(npz[f"y_{part}"].astype(np.int64))
    return out


# ----- the lesson's loop, as the notebook writes it ------------------------------------------------
def update(model, x, y, lr, wd=1e-5, loss_func=nn.functional.cross_entropy):
    """One SGD step with weight decay written into the loss, as lesson5-sgd-mnist.ipynb does."""
    y_hat = model(x)
    w2 = 0.0
    for p in model.parameters():
        w2 += (p ** 2).sum()
    loss = loss_func(y_hat, y) + w2 * wd  # weight decay: the L2 term added to the regular loss
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p.sub_(lr * p.grad)
            p.grad.zero_()
    return loss.item()


def update_adam(model, x, y, lr, loss_func=nn.functional.cross_entropy):
    """The notebook's Adam version: note that it makes a new Adam each call, so every step is a first
    Adam step (its state is never kept); the lesson's curve comes from exactly this."""
    opt = torch.optim.Adam(model.parameters(), lr)
    y_hat = model(x)
    loss = loss_func(y_hat, y)
    loss.backward()
    opt.step()
    opt.zero_grad()
    return loss.item()


def train_batches(x, y, bs: int, seed: int):
    """One epoch of shuffled batches, the last partial one dropped (fastai 1.0.42's train_dl)."""
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    order = order[: len(order) - len(order) % bs]
    return zip(x[order].split(bs), y[order].split(bs))


def manual_epoch(model_name: str, data: dict, *, lr: float, bs: int, seed: int, wd: float = 1e-5,
                 adam: bool = False) -> tuple[list[float], dict]:
    """``losses = [update(x, y, lr) for x, y in data.train_dl]`` for one epoch; returns the per-batch
    losses and the valid loss and accuracy afterwards."""
    torch.manual_seed(seed)
    model = MODELS[model_name]()
    batches = train_batches(data["x_train"], data["y_train"], bs, seed)
    losses = [update_adam(model, x, y, lr) if adam else update(model, x, y, lr, wd) for x, y in batches]
    with torch.no_grad():
        pred = model(data["x_valid"])
    return losses, {"valid_loss": float(nn.functional.cross_entropy(pred, data["y_valid"])),
                    "valid_accuracy": accuracy(pred, data["y_valid"])}


# ----- the same models through the trainer ----------------------------------------------------------
@dataclass
class Run:
    model: str = "mlp"
    opt: str = "sgd"
    schedule: str = "constant"  # constant | one_cycle
    lr: float = 2e-2
    wd: float = 0.0
    wd_mode: str = "loss"
    epochs: int = 1
    bs: int = 64
    seed: int = 0


def train_run(run: Run, data: dict[str, torch.Tensor], device: str = "cpu") -> tuple[Learner, dict]:
    """Train one run; returns the learner and a flat record of its settings and final metrics."""
    torch.manual_seed(run.seed)
    model = MODELS[run.model]()
    learner = Learner(model, Tensors(data["x_train"], data["y_train"], data["x_valid"], data["y_valid"]),
                      loss_func=nn.CrossEntropyLoss(), metrics={"accuracy": accuracy}, opt=run.opt,
                      wd=run.wd, wd_mode=run.wd_mode, bs=run.bs, seed=run.seed, device=device)
    fit = learner.fit_one_cycle if run.schedule == "one_cycle" else learner.fit
    history = fit(run.epochs, run.lr)
    last = history.iloc[-1]
    test_pred = learner.predict(data["x_test"].to(learner.torch_device))
    y_test = data["y_test"].to(learner.torch_device)
    record = {**vars(run), "train_loss": last.train_loss, "valid_loss": last.valid_loss,
              "valid_accuracy": last.accuracy,
              "test_loss": float(nn.functional.cross_entropy(test_pred, y_test)),
              "test_accuracy": accuracy(test_pred, y_test), "seconds": float(history.seconds.sum())}
    log.info("%s -> valid loss %.4f, valid accuracy %.4f", run, record["valid_loss"], record["valid_accuracy"])
    return learner, record


def iterations_frame(learner: Learner, **labels) -> pd.DataFrame:
    return pd.DataFrame(learner.iterations).assign(**labels)


def choose_lr(base: Run, grid: list[float], data, device="cpu") -> tuple[float, pd.DataFrame]:
    """Pick the lr of ``grid`` with the lowest valid loss (seed ``base.seed``); diverged runs lose."""
    rows = []
    for lr in grid:
        try:
            _, record = train_run(Run(**{**vars(base), "lr": lr}), data, device)
        except PipelineError as error:  # a diverged lr is a result of the grid, not a failure of the job
            log.warning("lr %g failed: %s", lr, error)
            record = {**vars(base), "lr": lr, "valid_loss": float("inf"), "valid_accuracy": float("nan")}
        rows.append(record)
    table = pd.DataFrame(rows)
    best = float(table.loc[table.valid_loss.idxmin(), "lr"])
    return best, table
