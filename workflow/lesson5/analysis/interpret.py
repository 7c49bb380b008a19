"""Reading a trained DotProductBias: item biases and principal components of the item factors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch


def top_items(ratings: pd.DataFrame, items: pd.DataFrame, key: str, n: int) -> pd.DataFrame:
    """The ``n`` most-rated items (by ``key``: item id or title) with their count and mean rating.
    Counted per item first, titles joined to the counts (not to 25 million ratings)."""
    stats = ratings.groupby("item")["rating"].agg(count="size", total="sum")
    titles = items.set_index("item")["title"]
    if key == "title":
        stats = stats.assign(title=titles.reindex(stats.index).to_numpy()).groupby("title")[["count", "total"]].sum()
    stats["mean_rating"] = stats.pop("total") / stats["count"]
    if key == "item":
        stats = stats.join(titles)
    return stats.sort_values("count", ascending=False, kind="stable").head(n).reset_index()


def pca(x: torch.Tensor | np.ndarray, k: int) -> np.ndarray:
    """fastai's Tensor.pca: centre the columns, SVD, project onto the first k directions."""
    x = np.asarray(x, dtype=np.float64)
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:k].T


def bias_table(model, data, top: pd.DataFrame, key: str, n_show: int) -> pd.DataFrame:
    """The ``n_show`` lowest and highest item biases among ``top``, each with its mean rating."""
    idx = data.item_index(top[key].to_numpy())
    known = idx > 0
    biased = top.loc[known].assign(bias=model.item_bias.detach().cpu().numpy()[idx[known]])
    biased = biased.sort_values("bias", kind="stable")
    return pd.concat([biased.head(n_show).assign(end="lowest"),
                      biased.tail(n_show).iloc[::-1].assign(end="highest")])[
        ["end", "title", "bias", "mean_rating", "count"]]


def pca_table(model, data, top: pd.DataFrame, key: str, n_components: int, n_show: int):
    """Item factors of ``top`` projected to ``n_components``; returns (all projections, ends table)."""
    idx = data.item_index(top[key].to_numpy())
    known = top.loc[idx > 0].reset_index(drop=True)
    comps = pca(model.item_factors.detach().cpu().numpy()[idx[idx > 0]], n_components)
    projected = known.assign(**{f"pc{c}": comps[:, c] for c in range(n_components)})
    rows = []
    for c in range(min(2, n_components)):
        ordered = projected.sort_values(f"pc{c}", ascending=False, kind="stable")
        for end, part in (("+", ordered.head(n_show)), ("-", ordered.tail(n_show).iloc[::-1])):
            rows += [{"component": c, "end": end, "rank": r + 1, "title": t, "value": v}
                     for r, (t, v) in enumerate(zip(part.title, part[f"pc{c}"]))]
    return projected, pd.DataFrame(rows)
