"""Collaborative filtering end to end: a split + settings in, a trained learner and its records out."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import pandas as pd
import torch

from lesson5.data.collab_data import CollabData, collab_tensors
from lesson5.errors import PipelineError
from lesson5.models.collab import DotProductBias, EmbeddingMLP, GlobalMean
from lesson5.train.loop import Learner, Tensors, rmse

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
    seed: int = 0
    device: str = "cpu"

    @classmethod
    def from_config(cls, config: dict, **overrides) -> "CollabSettings":
        keys = cls.__dataclass_fields__
        values = {k: v for k, v in {**config, **overrides}.items() if k in keys}
        for k in ("y_range", "mlp_layers", "mlp_ps"):
            if k in values:
                values[k] = tuple(values[k])
        return cls(**values)


def build_model(s: CollabSettings, data: CollabData) -> torch.nn.Module:
    if s.model == "mean":
        return GlobalMean(float(data.y_train.mean()))
    if s.model in ("bias", "dot"):
        return DotProductBias(data.n_users, data.n_items, 0 if s.model == "bias" else s.n_factors, s.y_range)
    if s.model == "mlp":
        return EmbeddingMLP(data.n_users, data.n_items, s.mlp_layers, s.mlp_ps, y_range=s.y_range)
    raise PipelineError(f"unknown collab model {s.model!r}; choose one of {MODELS}")


def make_learner(split: pd.DataFrame, items: pd.DataFrame, s: CollabSettings) -> tuple[Learner, CollabData]:
    data = collab_tensors(split, s.item_key, items)
    torch.manual_seed(s.seed)
    model = build_model(s, data)
    learner = Learner(model, Tensors(data.x_train, data.y_train, data.x_valid, data.y_valid),
                      metrics={"valid_rmse": rmse}, opt="adam", wd=s.wd, wd_mode=s.wd_mode, bias_wd=s.bias_wd,
                      bs=s.bs, seed=s.seed, device=s.device)
    return learner, data


def train(split: pd.DataFrame, items: pd.DataFrame, s: CollabSettings):
    """Train with fit_one_cycle (or just evaluate the global mean); returns (learner, data, history)."""
    learner, data = make_learner(split, items, s)
    log.info("collab %s: %d users, %d items (index 0 = unseen), %d train / %d valid ratings", s,
             data.n_users, data.n_items, len(data.y_train), len(data.y_valid))
    if s.model == "mean":
        start = time.perf_counter()
        history = pd.DataFrame([{"epoch": 0, "train_loss": float(((data.y_train - data.y_train.mean()) ** 2).mean()),
                                 **learner.validate(), "seconds": time.perf_counter() - start}])
    else:
        history = learner.fit_one_cycle(s.epochs, s.lr)
    return learner, data, history
