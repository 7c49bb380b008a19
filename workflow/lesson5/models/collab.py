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

    Each side's factors and bias share one table, so a batch costs one lookup per side: users are
    [factors, bias], items [bias, factors]. The mirrored layout lets the fast training step pad
    u to [1, u, b_u] and i to [b_i, i, 1], whose plain dot product is u·i + b_u + b_i.
    ``user_factors``, ``item_bias`` etc. are views of those tables.

    Both tables live in one buffer (``packed()``): the users', then a gap of n_factors zeros, then
    the items'. Seen as a grid of (n_factors + 1)-wide rows, every bias is then in the last column
    and every factor in the others, so the fast step updates both tables with one Adam kernel call
    and exempts all biases from decay with one strided op. The gap is never looked up: its
    gradient, and so its Adam update and decay, are zero.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int, y_range=(0.0, 5.5)):
        super().__init__()
        self.n_factors = n_factors
        self.y_range = tuple(y_range) if y_range is not None else None
        self.users = trunc_normal_embedding(n_users, n_factors + 1)
        self.items = trunc_normal_embedding(n_items, n_factors + 1)
        with torch.no_grad():  # same draws as a bias-last table, moved to the front
            self.items.weight.copy_(self.items.weight.roll(1, dims=1))
        self._pack()

    def table_views(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(users, items) tables as views of ``flat``, a buffer of ``packed()``'s size and layout."""
        (n_u, w), n_i = self.users.weight.shape, len(self.items.weight)
        start = n_u * w + self.n_factors
        return flat[: n_u * w].view(n_u, w), flat[start: start + n_i * w].view(n_i, w)

    def _pack(self):
        """Copy both tables into one buffer and re-seat the parameters on it (same Parameter objects)."""
        users, items = self.users.weight, self.items.weight
        rows = len(users) + len(items) + 1  # grid rows: each table's, and the gap's
        flat = users.new_zeros(rows * users.shape[1])
        views = self.table_views(flat)
        for p, view in zip((users, items), views):
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
        """Both tables as the one flat buffer they live in (detached); ValueError if they were re-seated."""
        flat = self.find_packed(self.users.weight.detach(), self.items.weight.detach())
        if flat is None:
            raise ValueError("the user and item tables no longer share one packed buffer")
        return flat

    def find_packed(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor | None:
        """The flat buffer holding ``users`` and ``items`` (tensors shaped like the two tables, e.g. an
        optimizer's state for them) in the packed layout, or None where they are not laid out so."""
        size = (len(users) + len(items) + 1) * users.shape[1]
        storage = users.untyped_storage()
        if storage.nbytes() < (users.storage_offset() + size) * users.element_size():
            return None
        flat = users.new_empty(0).set_(storage, users.storage_offset(), (size,))
        same = all(a.is_set_to(b) for a, b in zip((users, items), self.table_views(flat)))
        return flat if same else None

    @property
    def user_factors(self) -> torch.Tensor:
        return self.users.weight[:, : self.n_factors]

    @property
    def item_factors(self) -> torch.Tensor:
        return self.items.weight[:, 1:]

    @property
    def user_bias(self) -> torch.Tensor:
        return self.users.weight[:, self.n_factors]

    @property
    def item_bias(self) -> torch.Tensor:
        return self.items.weight[:, 0]

    def decayed_slices(self) -> dict[int, tuple[slice, slice]]:
        """The factor columns of each table, by id(parameter): what weight decay reaches when the
        biases are exempt from it (``Learner(bias_wd=False)``)."""
        k = self.n_factors
        return {id(self.users.weight): (slice(None), slice(0, k)),
                id(self.items.weight): (slice(None), slice(1, None))}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, i, k = self.users(x[:, 0]), self.items(x[:, 1]), self.n_factors
        raw = (u[:, :k] * i[:, 1:]).sum(1) + u[:, k] + i[:, 0]
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
