"""Train/valid splits of a ratings table, each saved as the ratings plus an ``is_valid`` column."""

from __future__ import annotations

import numpy as np
import pandas as pd


def random_split(ratings: pd.DataFrame, valid_pct: float, seed: int) -> pd.DataFrame:
    """fastai's positional split: a seeded permutation of the rows, the first ``int(valid_pct*n)`` valid."""
    n = len(ratings)
    order = np.random.default_rng(seed).permutation(n)
    is_valid = np.zeros(n, dtype=bool)
    is_valid[order[: int(valid_pct * n)]] = True
    return ratings.reset_index(drop=True).assign(is_valid=is_valid)


def fold_split(base: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """An official fold (e.g. ml-100k's u1.base / u1.test) as one table."""
    return pd.concat(
        [base.assign(is_valid=False), test.assign(is_valid=True)], ignore_index=True
    )
