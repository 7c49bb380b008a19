"""Collaborative-filtering models of the lesson (fastai v1 ``collab.py``), as plain PyTorch modules.

Every model takes ``x`` of shape [batch, 2] holding (user index, item index); index 0 is fastai's
``#na#`` slot for users or items never seen in training.
"""

from __future__ import annotations

import torch
from torch import nn


def trunc_normal_embedding(n: int, dim: int, sparse: bool = False) -> nn.Embedding:
    """fastai's embedding init: N(0, 1) wrapped into (-2, 2) with fmod, times 0.01 (arXiv 1711.09160).
    ``sparse``: the gradient holds only the rows a batch looks up (for SparseAdam on large data)."""
    emb = nn.Embedding(n, dim, sparse=sparse)
    with torch.no_grad():
        emb.weight.normal_().fmod_(2).mul_(0.01)
    return emb


def scaled_sigmoid(x: torch.Tensor, y_range: tuple[float, float] | None) -> torch.Tensor:
    if y_range is None:
        return x
    lo, hi = y_range
    return torch.sigmoid(x) * (hi - lo) + lo


class DotProductBias(nn.Module):
    """fastai's EmbeddingDotBias: sigmoid(u·i + b_u + b_i)·(hi − lo) + lo, with user and item factors
    and biases as four embeddings drawn in that order. With n_factors=0 it is the bias-only model."""

    def __init__(self, n_users: int, n_items: int, n_factors: int, y_range=(0.0, 5.5), sparse: bool = False):
        super().__init__()
        self.n_factors = n_factors
        self.y_range = tuple(y_range) if y_range is not None else None
        self.u_weight = trunc_normal_embedding(n_users, n_factors, sparse)
        self.i_weight = trunc_normal_embedding(n_items, n_factors, sparse)
        self.u_bias = trunc_normal_embedding(n_users, 1, sparse)
        self.i_bias = trunc_normal_embedding(n_items, 1, sparse)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        users, items = x[:, 0], x[:, 1]
        dot = (self.u_weight(users) * self.i_weight(items)).sum(1)
        return scaled_sigmoid(dot + self.u_bias(users)[:, 0] + self.i_bias(items)[:, 0], self.y_range)

    def no_weight_decay(self) -> set[str]:
        """The bias embeddings: what ``Learner(bias_wd=False)`` leaves out of weight decay."""
        return {"u_bias.weight", "i_bias.weight"}

    @property
    def user_factors(self) -> torch.Tensor:
        return self.u_weight.weight

    @property
    def item_factors(self) -> torch.Tensor:
        return self.i_weight.weight

    @property
    def user_bias(self) -> torch.Tensor:
        return self.u_bias.weight[:, 0]

    @property
    def item_bias(self) -> torch.Tensor:
        return self.i_bias.weight[:, 0]


TABLES = ("u_weight", "i_weight", "u_bias", "i_bias")  # user and item factors, user and item biases


def flat_rows(table: torch.Tensor) -> torch.Tensor:
    """A stacked [K, n, d] table as [K * n, d] (a view): model k's rows start at k * n."""
    return table.view(table.shape[0] * table.shape[1], table.shape[2])


class StackedDotProductBias(nn.Module):
    """K DotProductBias models (e.g. one per seed) as one: each table is [K, n, k], the input x is
    [K, batch, 2] (row k for model k) and the output [K, batch]. Each model's prediction depends only
    on its own slice of the tables, so with a loss summed over models and an elementwise optimizer
    (Adam) the K train exactly as K separate runs would, for the per-step cost of about one: at batch
    size 64 a CPU step is mostly per-op overhead (benchmarks/collab_speed.py times both)."""

    def __init__(self, models: list[DotProductBias]):
        super().__init__()
        first = models[0]
        self.n_factors, self.y_range = first.n_factors, first.y_range
        self.shapes = [(len(m.u_weight.weight), len(m.i_weight.weight)) for m in models]
        if len(set(self.shapes)) != 1 or len({m.n_factors for m in models}) != 1:
            raise ValueError("stacked models must have the same numbers of users, items and factors")
        for name in TABLES:
            table = torch.stack([getattr(m, name).weight.detach() for m in models])
            self.register_parameter(name, nn.Parameter(table))

    def no_weight_decay(self) -> set[str]:
        return {"u_bias", "i_bias"}

    def row_offsets(self, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Where model k's rows start in the ``flat_rows`` tables: [K, 1] for users, [K, 1] for items
        (added to x [K, batch, 2]'s user and item ids)."""
        k = torch.arange(len(self.u_weight), device=device)[:, None]
        return k * self.u_weight.shape[1], k * self.i_weight.shape[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        user_offset, item_offset = self.row_offsets(x.device)
        users, items = x[..., 0] + user_offset, x[..., 1] + item_offset

        def lookup(table, index):
            return nn.functional.embedding(index, flat_rows(table))

        dot = (lookup(self.u_weight, users) * lookup(self.i_weight, items)).sum(-1)
        raw = dot + lookup(self.u_bias, users)[..., 0] + lookup(self.i_bias, items)[..., 0]
        return scaled_sigmoid(raw, self.y_range)

    def unstack(self) -> list[DotProductBias]:
        """The K models as separate DotProductBias modules (copies of the trained tables)."""
        out = []
        for k, (n_users, n_items) in enumerate(self.shapes):
            model = DotProductBias(n_users, n_items, self.n_factors, self.y_range)
            model.load_state_dict({f"{name}.weight": getattr(self, name)[k].detach().clone() for name in TABLES})
            out.append(model)
        return out


def fastai_embedding_width(n_categories: int) -> int:
    """fastai ≥1.0.40's rule of thumb for an embedding's width."""
    return min(600, round(1.6 * n_categories**0.56))


def tabular_layers(sizes: list[int], ps: list[float]) -> list[nn.Module]:
    """fastai v1 TabularModel's layers for ``sizes`` = [inputs, *hidden, outputs]: block i maps
    sizes[i] -> sizes[i+1] as bn_drop_lin does, with BatchNorm on every block but the first, Dropout
    [0] + ps (none where 0), and ReLU after every Linear but the last. With one hidden layer of 100,
    the output Linear is preceded by BN(100) and Dropout(ps[0])."""
    acts = [True] * (len(sizes) - 2) + [False]
    layers: list[nn.Module] = []
    for i, (n_in, n_out, p, act) in enumerate(zip(sizes[:-1], sizes[1:], [0.0, *ps], acts)):
        layers += [nn.BatchNorm1d(n_in)] if i != 0 else []
        layers += [nn.Dropout(p)] if p != 0 else []
        layers += [nn.Linear(n_in, n_out)] + ([nn.ReLU(inplace=True)] if act else [])
    return layers


class EmbeddingMLP(nn.Module):
    """fastai's ``use_nn=True`` collab model: concatenated embeddings -> TabularModel's MLP (no
    continuous inputs) -> scaled sigmoid."""

    def __init__(self, n_users: int, n_items: int, layers=(100,), ps=(0.0,), emb_drop=0.0,
                 y_range=(0.0, 5.5)):
        super().__init__()
        self.y_range = tuple(y_range) if y_range is not None else None
        self.user_emb = trunc_normal_embedding(n_users, fastai_embedding_width(n_users))
        self.item_emb = trunc_normal_embedding(n_items, fastai_embedding_width(n_items))
        self.emb_drop = nn.Dropout(emb_drop)
        sizes = [self.user_emb.embedding_dim + self.item_emb.embedding_dim, *layers, 1]
        ps = list(ps) + [0.0] * (len(layers) - len(ps))  # fastai's listify(ps, layers)
        self.mlp = nn.Sequential(*tabular_layers(sizes, ps[:len(layers)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        emb = torch.cat([self.user_emb(x[:, 0]), self.item_emb(x[:, 1])], dim=1)
        return scaled_sigmoid(self.mlp(self.emb_drop(emb)).squeeze(1), self.y_range)


class GlobalMean(nn.Module):
    """The baseline every model must beat: predict the training mean for every pair."""

    def __init__(self, mean: float):
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mean.expand(x.shape[0])
