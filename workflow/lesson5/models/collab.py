"""Collaborative-filtering models of the lesson (fastai v1 ``collab.py``), as plain PyTorch modules.

Every model takes ``x`` of shape [batch, 2] holding (user index, item index); index 0 is fastai's
``#na#`` slot for users or items never seen in training.
"""

from __future__ import annotations

import torch
from torch import nn


def trunc_normal_embedding(n: int, dim: int) -> nn.Embedding:
    """fastai's embedding init: N(0, 1) wrapped into (-2, 2) with fmod, times 0.01 (arXiv 1711.09160)."""
    emb = nn.Embedding(n, dim)
    with torch.no_grad():
        emb.weight.normal_().fmod_(2).mul_(0.01)
    return emb


def scaled_sigmoid(x: torch.Tensor, y_range: tuple[float, float] | None) -> torch.Tensor:
    if y_range is None:
        return x
    lo, hi = y_range
    return torch.sigmoid(x) * (hi - lo) + lo


class DotProductBias(nn.Module):
    """sigmoid(u·i + b_u + b_i)·(hi − lo) + lo. With n_factors=0 it is the bias-only model.

    fastai's EmbeddingDotBias: four embeddings, user and item factors and user and item biases,
    drawn in that order. All four live in one buffer (``packed()``), the factors first, then the
    biases, so that the fast training step (train/fast_collab.py) gathers a batch's rows with one
    op, scatters their gradient with one op, and updates the decayed factors and the exempt biases
    with one Adam kernel call each.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int, y_range=(0.0, 5.5)):
        super().__init__()
        self.n_factors = n_factors
        self.y_range = tuple(y_range) if y_range is not None else None
        self.u_weight = trunc_normal_embedding(n_users, n_factors)
        self.i_weight = trunc_normal_embedding(n_items, n_factors)
        self.u_bias = trunc_normal_embedding(n_users, 1)
        self.i_bias = trunc_normal_embedding(n_items, 1)
        self._pack()

    def tables(self) -> list[nn.Parameter]:
        """User factors, item factors, user biases, item biases: the packed order."""
        return [self.u_weight.weight, self.i_weight.weight, self.u_bias.weight, self.i_bias.weight]

    def packed_size(self) -> int:
        return sum(t.numel() for t in self.tables())

    def table_views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """The four tables as views of ``flat``, a buffer of ``packed()``'s size and layout."""
        views, start = [], 0
        for t in self.tables():
            views.append(flat[start: start + t.numel()].view(t.shape))
            start += t.numel()
        return views

    def _pack(self):
        """Copy the tables into one buffer and re-seat the parameters on it (same Parameter objects)."""
        flat = self.u_weight.weight.new_empty(self.packed_size())
        for p, view in zip(self.tables(), self.table_views(flat)):
            view.copy_(p.detach())
            p.data = view

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)  # .to()/.float()/... convert each table on its own
        self._pack()
        return self

    def __setstate__(self, state):
        super().__setstate__(state)  # copy.deepcopy and pickle copy each table on its own
        self._pack()

    def packed(self) -> torch.Tensor:
        """The one flat buffer the four tables live in (detached); ValueError if one was re-seated."""
        flat = self.find_packed([t.detach() for t in self.tables()])
        if flat is None:
            raise ValueError("the collab model's tables no longer share one packed buffer")
        return flat

    def find_packed(self, tensors: list[torch.Tensor]) -> torch.Tensor | None:
        """The flat buffer holding ``tensors`` (shaped like the four tables, e.g. an optimizer's state
        for them) in the packed layout, or None where they are not laid out so."""
        first, size = tensors[0], self.packed_size()
        if first.untyped_storage().nbytes() < (first.storage_offset() + size) * first.element_size():
            return None
        flat = first.new_empty(0).set_(first.untyped_storage(), first.storage_offset(), (size,))
        same = all(a.is_set_to(b) for a, b in zip(tensors, self.table_views(flat)))
        return flat if same else None

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        users, items = x[:, 0], x[:, 1]
        dot = (self.u_weight(users) * self.i_weight(items)).sum(1)
        raw = dot + self.u_bias(users)[:, 0] + self.i_bias(items)[:, 0]
        return scaled_sigmoid(raw, self.y_range)


def fastai_embedding_width(n_categories: int) -> int:
    """fastai ≥1.0.40's rule of thumb for an embedding's width."""
    return min(600, round(1.6 * n_categories**0.56))


class EmbeddingMLP(nn.Module):
    """fastai's ``use_nn=True`` collab model: concatenated embeddings -> MLP -> scaled sigmoid.

    The first Linear sees the embeddings directly; each later block is BN -> Dropout -> Linear, and
    every hidden Linear is followed by ReLU (fastai's TabularModel with no continuous inputs).
    """

    def __init__(self, n_users: int, n_items: int, layers=(100,), ps=(0.0,), emb_drop=0.0,
                 y_range=(0.0, 5.5)):
        super().__init__()
        self.y_range = tuple(y_range) if y_range is not None else None
        self.user_emb = trunc_normal_embedding(n_users, fastai_embedding_width(n_users))
        self.item_emb = trunc_normal_embedding(n_items, fastai_embedding_width(n_items))
        self.emb_drop = nn.Dropout(emb_drop)
        sizes = [self.user_emb.embedding_dim + self.item_emb.embedding_dim, *layers]
        ps = list(ps) + [0.0] * (len(layers) - len(ps))
        blocks: list[nn.Module] = []
        for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            if k > 0:
                blocks += [nn.BatchNorm1d(n_in), nn.Dropout(ps[k])]
            blocks += [nn.Linear(n_in, n_out), nn.ReLU(inplace=True)]
        blocks.append(nn.Linear(sizes[-1], 1))
        self.mlp = nn.Sequential(*blocks)

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
