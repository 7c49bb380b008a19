"""Descriptive statistics of a ratings table."""

from __future__ import annotations

import pandas as pd


def ratings_summary(ratings: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """One (statistic, value) row each: counts, sparsity, per-user/item medians, rating histogram."""
    n_users, n_items = ratings.user.nunique(), ratings.item.nunique()
    per_user, per_item = ratings.groupby("user").size(), ratings.groupby("item").size()
    rows = [
        ("ratings", len(ratings)),
        ("users", n_users),
        ("rated_items", n_items),
        ("described_items", len(items)),
        ("distinct_titles", items.title.nunique()),
        ("density_pct", round(100 * len(ratings) / (n_users * n_items), 3)),
        ("sparsity_pct", round(100 * (1 - len(ratings) / (n_users * n_items)), 3)),
        ("mean_rating", round(ratings.rating.mean(), 4)),
        ("ratings_per_user_min", per_user.min()),
        ("ratings_per_user_median", per_user.median()),
        ("ratings_per_item_min", per_item.min()),
        ("ratings_per_item_median", per_item.median()),
    ]
    rows += [(f"rating_{k:g}_count", v) for k, v in ratings.rating.value_counts().sort_index().items()]
    # object column: counts stay integers, rates keep their decimals
    return pd.DataFrame([(k, int(v) if float(v).is_integer() else float(v)) for k, v in rows],
                        columns=["statistic", "value"], dtype=object)
