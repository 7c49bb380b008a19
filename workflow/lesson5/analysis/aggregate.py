"""Mean ± std over seeds of each run's final metrics."""

from __future__ import annotations

import pandas as pd


def final_rows(histories: dict[tuple, pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    """One row per run: its settings (``keys`` from the dict key tuple) and its last epoch's metrics,
    with ``seconds`` the run's total training time."""
    rows = []
    for key, history in histories.items():
        last = history.iloc[-1].to_dict()
        last["seconds"] = float(history["seconds"].sum())
        rows.append({**dict(zip(keys, key)), **last})
    return pd.DataFrame(rows)


def mean_std(runs: pd.DataFrame, by: list[str], metrics: list[str]) -> pd.DataFrame:
    """Mean and sample std (ddof=1; 0 for a single seed) of each metric per group, plus the seed count."""
    grouped = runs.groupby(by, sort=False, dropna=False)
    out = grouped[metrics].agg(["mean", "std"])
    out.columns = [f"{m}_{stat}" for m, stat in out.columns]
    out = out.fillna({c: 0.0 for c in out.columns if c.endswith("_std")})
    out["n_seeds"] = grouped.size()
    return out.reset_index()


def format_mean_std(table: pd.DataFrame, metric: str, digits: int = 4) -> pd.Series:
    return table[f"{metric}_mean"].map(f"{{:.{digits}f}}".format) + " ± " + \
        table[f"{metric}_std"].map(f"{{:.{digits}f}}".format)
