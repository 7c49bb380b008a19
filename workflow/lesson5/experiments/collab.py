"""Collaborative filtering end to end: a split + settings in, trained models and their records out.

The seeds of one setting train together: the dot-product and bias-only models as one
``StackedDotProductBias`` (the K seeds' numbers are those of K separate runs), the embedding-MLP and
the global mean one seed after another in the same process.

Large releases (millions of ratings) take ``sparse``: embeddings with sparse gradients, Adam with
decoupled decay on the rows a batch touches (``LazyAdamW``, or torch's SparseAdam plus the trainer's
lazy decay: the same update, slower), large batches; there the seeds train one after another (a
sparse gradient does not pass through the stacked tables' reshape).

``step: analytic`` trains the dot-product and bias-only models (stacked, or one seed at a time with
sparse embeddings) with their hand-derived gradient (``lesson5.models.collab_step``) instead of
autograd: the same numbers, about twice as fast (benchmarks/collab_speed.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import pandas as pd
import torch

from lesson5.data.collab_data import CollabData, collab_tensors
from lesson5.errors import PipelineError
from lesson5.models.collab import DotProductBias, EmbeddingMLP, GlobalMean, StackedDotProductBias
from lesson5.models.collab_step import dot_step
from lesson5.train.loop import Learner, Tensors
from lesson5.train.metrics import rmse

log = logging.getLogger(__name__)

MODELS = ("mean", "bias", "dot", "mlp")


@dataclass
class CollabSettings:
    model: str = "dot"  # mean | bias (n_factors 0) | dot | mlp
    n_factors: int = 40
    wd: float = 0.1
    wd_mode: str = "decoupled"
    bias_wd: bool = False  # the lesson decays the biases too (True); leaving them out measured better
    epochs: int = 5
    lr: float = 5e-3
    bs: int = 64
    y_range: tuple[float, float] = (0.0, 5.5)
    item_key: str = "title"
    mlp_layers: tuple[int, ...] = (100,)
    mlp_ps: tuple[float, ...] = (0.0,)
    device: str = "cpu"
    sparse: bool = False  # large data: sparse embedding gradients, Adam + decoupled decay of the touched rows
    sparse_opt: str = "lazy_adamw"  # lazy_adamw (index ops) | sparse_adam (torch's SparseAdam: the reference)
    valid_bs: int = 65536  # validation in chunks of this many ratings
    step: str = "autograd"  # autograd | analytic (dot and bias models: the hand-derived gradient, lesson5/train/dot_step.py)

    @classmethod
    def from_config(cls, config: dict, **overrides) -> "CollabSettings":
        keys = cls.__dataclass_fields__
        values = {k: v for k, v in {**config, **overrides}.items() if k in keys}
        for k in ("y_range", "mlp_layers", "mlp_ps"):
            if k in values:
                values[k] = tuple(values[k])
        return cls(**values)


def build_model(s: CollabSettings, data: CollabData, seed: int) -> torch.nn.Module:
    """The model of ``s`` with the initial draws a run seeded with ``seed`` makes."""
    torch.manual_seed(seed)
    if s.model == "mean":
        return GlobalMean(float(data.y_train.mean()))
    if s.model in ("bias", "dot"):
        return DotProductBias(data.n_users, data.n_items, 0 if s.model == "bias" else s.n_factors, s.y_range,
                              sparse=s.sparse)
    if s.model == "mlp":
        return EmbeddingMLP(data.n_users, data.n_items, s.mlp_layers, s.mlp_ps, y_range=s.y_range)
    raise PipelineError(f"unknown collab model {s.model!r}; choose one of {MODELS}")


def make_learner(data: CollabData, s: CollabSettings, model: torch.nn.Module, seed) -> Learner:
    sparse = s.sparse and s.model in ("bias", "dot")
    step = {"make_step": dot_step} if s.step == "analytic" and s.model in ("bias", "dot") else {}
    return Learner(model, Tensors(data.x_train, data.y_train, data.x_valid, data.y_valid),
                   metrics={"valid_rmse": rmse}, opt=s.sparse_opt if sparse else "adam", wd=s.wd,
                   wd_mode=s.wd_mode, bias_wd=s.bias_wd, bs=s.bs, seed=seed, device=s.device, valid_bs=s.valid_bs,
                   **step)


@dataclass
class CollabRun:
    """One seed's outcome: per-epoch history, per-batch records, the trained model."""

    seed: int
    history: pd.DataFrame
    iterations: pd.DataFrame
    model: torch.nn.Module


def train(split: pd.DataFrame, items: pd.DataFrame, s: CollabSettings, seeds: list[int]):
    """Train ``s`` once per seed (fit_one_cycle; the global mean is only evaluated).
    Returns (data, [CollabRun per seed])."""
    return train_on(collab_tensors(split, s.item_key, items), s, seeds)


def train_on(data: CollabData, s: CollabSettings, seeds: list[int]):
    """``train`` on tensors already made (a job frees its ratings frame before training)."""
    log.info("collab %s, seeds %s: %d users, %d items (index 0 = unseen), %d train / %d valid ratings", s, seeds,
             data.n_users, data.n_items, len(data.y_train), len(data.y_valid))
    if s.model in ("bias", "dot") and not s.sparse:
        stacked = StackedDotProductBias([build_model(s, data, seed) for seed in seeds])
        learner = make_learner(data, s, stacked, list(seeds))
        history = learner.fit_one_cycle(s.epochs, s.lr)
        iterations = pd.DataFrame(learner.iterations)
        return data, [CollabRun(seed, history[history.seed == seed].drop(columns="seed"),
                                iterations[iterations.seed == seed].drop(columns="seed"), model.cpu())
                      for seed, model in zip(seeds, stacked.unstack())]
    runs = []
    for seed in seeds:
        learner = make_learner(data, s, build_model(s, data, seed), seed)
        if s.model == "mean":
            start = time.perf_counter()
            mse = float(((data.y_train - data.y_train.mean()) ** 2).mean())
            history = pd.DataFrame([{"epoch": 0, "train_loss": mse, **learner.validate()[0],
                                     "seconds": time.perf_counter() - start}])
        else:
            history = learner.fit_one_cycle(s.epochs, s.lr)
        runs.append(CollabRun(seed, history, pd.DataFrame(learner.iterations), learner.model.cpu()))
    return data, runs
