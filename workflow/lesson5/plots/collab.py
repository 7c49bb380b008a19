"""Figures of the collaborative-filtering experiments."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lesson5.plots.style import plt, save


def plot_sweep(table: pd.DataFrame, x: str, series: str | None, title: str, xlabel: str, path,
               metric: str = "valid_rmse", log_x: bool = False):
    """Mean valid metric against a swept setting, error bars = std over seeds, one line per series."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    groups = table.groupby(series, sort=False) if series else [(None, table)]
    for name, part in groups:
        part = part.sort_values(x)
        xs = part[x].to_numpy(dtype=float)
        ax.errorbar(xs, part[f"{metric}_mean"], yerr=part[f"{metric}_std"], marker="o", capsize=4,
                    label=f"{series} = {name}" if series else None)
    if log_x:
        positive = table[x][table[x] > 0]
        ax.set_xscale("symlog", linthresh=float(positive.min()) if len(positive) else 1.0)
    n = int(table["n_seeds"].min())
    ax.set(title=title, xlabel=xlabel, ylabel=f"valid RMSE (stars), mean ± std of {n} seed(s)")
    if series:
        ax.legend()
    save(fig, path)


def plot_embedding_scatter(projected: pd.DataFrame, n: int, path, x="pc0", y="pc2"):
    """The n most-rated movies placed by two principal components of their item factors."""
    part = projected.head(n)
    fig, ax = plt.subplots(figsize=(13, 11))
    ax.scatter(part[x], part[y], s=12, color="tab:blue")
    for title, px, py in zip(part.title, part[x], part[y]):
        ax.annotate(title, (px, py), fontsize=8, xytext=(3, 3), textcoords="offset points")
    pad_x, pad_y = np.ptp(part[x]) * 0.15 + 1e-9, np.ptp(part[y]) * 0.05 + 1e-9
    ax.set_xlim(part[x].min() - pad_x * 0.2, part[x].max() + pad_x)
    ax.set_ylim(part[y].min() - pad_y, part[y].max() + pad_y)
    ax.set(title=f"Item factors of the {len(part)} most-rated movies: principal component "
                 f"{x[2:]} vs {y[2:]} (signs are arbitrary)",
           xlabel=f"principal component {x[2:]}", ylabel=f"principal component {y[2:]}")
    save(fig, path)
