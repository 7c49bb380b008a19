"""Turn a ratings split into index tensors, the way fastai's CollabDataBunch encodes categories."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch


@dataclass
class CollabData:
    x_train: torch.Tensor  # [n, 2] int32 (user index, item index)
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


SPLIT_COLUMNS = ["user", "item", "rating", "is_valid"]


def read_split(path) -> pd.DataFrame:
    """The columns of a split that training uses, read lean: numeric columns converted without a copy
    and Arrow's pool emptied after, so a large split keeps less than half of pd.read_parquet's memory
    resident at the same peak (benchmarks/read_split_memory.py)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pq.read_table(path, columns=SPLIT_COLUMNS).to_pandas(split_blocks=True, self_destruct=True)
    pa.default_memory_pool().release_unused()
    return frame


def collab_tensors(split: pd.DataFrame, item_key: str = "item", items: pd.DataFrame | None = None) -> CollabData:
    """Categories learned on the training rows only, sorted, shifted by one; 0 stands for unseen.

    ``item_key="title"`` reproduces the lesson, where movies sharing a title are one item. Works on
    the columns' arrays (no copy of the frame: it may hold 25 million ratings).
    """
    user, item = split["user"].to_numpy(), split["item"].to_numpy()
    if item_key == "title":
        item = items.set_index("item")["title"].reindex(item).to_numpy()
    valid = split["is_valid"].to_numpy()
    users, items_vocab = np.unique(user[~valid]), np.unique(item[~valid])
    rating = split["rating"].to_numpy()

    def tensors(rows):  # int32 ids: half the memory of int64 in every batch gather
        x = np.empty((int(rows.sum()), 2), dtype=np.int32)
        x[:, 0], x[:, 1] = _encode(user[rows], users), _encode(item[rows], items_vocab)
        return torch.from_numpy(x), torch.from_numpy(rating[rows].astype(np.float32))

    (xt, yt), (xv, yv) = tensors(~valid), tensors(valid)
    return CollabData(xt, yt, xv, yv, users, items_vocab)
