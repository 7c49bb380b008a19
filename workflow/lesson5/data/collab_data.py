"""Turn a ratings split into index tensors, the way fastai's CollabDataBunch encodes categories."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch


@dataclass
class CollabData:
    x_train: torch.Tensor  # [n, 2] int64 (user index, item index)
    y_train: torch.Tensor  # [n] float32 ratings
    x_valid: torch.Tensor
    y_valid: torch.Tensor
    users: np.ndarray  # vocabulary: users[k - 1] is the user of index k (0 is #na#)
    items: np.ndarray

    @property
    def n_users(self) -> int:
        return len(self.users) + 1

    @property
    def n_items(self) -> int:
        return len(self.items) + 1

    def item_index(self, keys) -> np.ndarray:
        """Model indices of the given item keys (0 for keys unseen in training)."""
        return _encode(np.asarray(keys), self.items)


def _encode(values: np.ndarray, vocab: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(vocab, values)
    pos = np.clip(pos, 0, max(len(vocab) - 1, 0))
    found = len(vocab) > 0 and (vocab[pos] == values)
    return np.where(found, pos + 1, 0)


def collab_tensors(split: pd.DataFrame, item_key: str = "item", items: pd.DataFrame | None = None) -> CollabData:
    """Categories learned on the training rows only, sorted, shifted by one; 0 stands for unseen.

    ``item_key="title"`` reproduces the lesson, where movies sharing a title are one item.
    """
    frame = split
    if item_key == "title":
        frame = split.merge(items[["item", "title"]], on="item", how="left", validate="many_to_one")
        frame = frame.assign(item=frame["title"])
    train, valid = frame[~frame.is_valid], frame[frame.is_valid]
    users, items_vocab = np.unique(train.user.to_numpy()), np.unique(train.item.to_numpy())

    def tensors(part):
        x = np.stack([_encode(part.user.to_numpy(), users), _encode(part.item.to_numpy(), items_vocab)], 1)
        return torch.from_numpy(x.astype(np.int64)), torch.tensor(part.rating.to_numpy(), dtype=torch.float32)

    (xt, yt), (xv, yv) = tensors(train), tensors(valid)
    return CollabData(xt, yt, xv, yv, users, items_vocab)
