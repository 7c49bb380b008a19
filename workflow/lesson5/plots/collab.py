"""Figures of the collaborative-filtering experiments."""

from __future__ import annotations

import pandas as pd

from lesson5.analysis.sweeps import legend_with_best, mark_edge_on_axes
from lesson5.plots.style import plt, save


def plot_sweep(table: pd.DataFrame, x: str, series: str | None, title: str, xlabel: str, path,
               metric: str = "valid_rmse", log_x: bool = False):
    """Mean valid metric against a swept setting, error bars = std over seeds, one line per series.
    The best point of each series is starred, or ringed in red where it sits on the grid's edge
    (``table`` from analysis.sweeps.mark_best)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    groups = table.groupby(series, sort=False) if series else [(None, table)]
    for name, part in groups:
        part = part.sort_values(x)
        xs = part[x].to_numpy(dtype=float)
        bars = ax.errorbar(xs, part[f"{metric}_mean"], yerr=part[f"{metric}_std"], marker="o", capsize=4,
                           label=f"{series} = {name}" if series else None)
        if "best" in part:
            mark_edge_on_axes(ax, part, x, f"{metric}_mean", bars.lines[0].get_color())
    if log_x:
        positive = table[x][table[x] > 0]
        ax.set_xscale("symlog", linthresh=float(positive.min()) if len(positive) else 1.0)
    n = int(table["n_seeds"].min())
    ax.set(title=title, xlabel=xlabel, ylabel=f"valid RMSE (rating points), mean ± std of {n} seed(s)")
    legend_with_best(ax, fontsize=8)
    save(fig, path)


def plot_embedding_scatter(projected: pd.DataFrame, n: int, path, x="pc0", y="pc2"):
    """The n most-rated movies placed by two principal components of their item factors; the titles
    are moved apart by adjustText until none overlaps, each tied to its point by a thin line."""
    from adjustText import adjust_text

    part = projected.head(n)
    fig, ax = plt.subplots(figsize=(13, 11))
    ax.scatter(part[x], part[y], s=14, color="tab:blue", zorder=3)
    texts = [ax.text(px, py, title, fontsize=8) for title, px, py in zip(part.title, part[x], part[y])]
    adjust_text(texts, x=part[x].to_numpy(), y=part[y].to_numpy(), ax=ax,
                arrowprops=dict(arrowstyle="-", color="grey", lw=0.5))
    ax.set(title=f"Item factors of the {len(part)} most-rated movies: principal component "
                 f"{x[2:]} vs {y[2:]} (signs are arbitrary)",
           xlabel=f"principal component {x[2:]}", ylabel=f"principal component {y[2:]}")
    save(fig, path)


def plot_experiments_rmse(rmse: pd.DataFrame, lesson: float, path):
    """The main collab valid RMSE of each experiment, with the lesson notebook's as a line."""
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(rmse) + 2), 4.5))
    ax.bar(rmse.experiment, rmse.valid_rmse, yerr=rmse["std"].fillna(0), capsize=5, color="tab:blue", alpha=0.8,
           label="this pipeline: dot product + biases, main settings")
    for x, value in enumerate(rmse.valid_rmse):
        ax.annotate(f"{value:.4f}", (x, value), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=9)
    ax.axhline(lesson, color="tab:red", linestyle="--", label=f"lesson notebook, ml-100k: {lesson:.4f}")
    ax.set(title="Main collaborative-filtering model, by experiment", xlabel="experiment",
           ylabel="valid RMSE (rating points), mean ± std over seeds")
    ax.set_ylim(0, max([lesson, *rmse.valid_rmse]) * 1.2)
    ax.legend(loc="lower right")
    save(fig, path)
