"""Figures of the transfer-learning experiments."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lesson5.plots.style import plt, save


def plot_transfer_curves(histories: pd.DataFrame, title: str, path):
    """Valid error rate per epoch for each strategy: mean over seeds, band = ± std."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for strategy, part in histories.groupby("strategy", sort=False):
        stats = part.groupby("epoch").error_rate.agg(["mean", "std"]).fillna(0)
        line, = ax.plot(stats.index, stats["mean"], marker="o", label=strategy)
        ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"],
                        color=line.get_color(), alpha=0.15)
        unfrozen = part[part.stage == "unfrozen"].epoch
        if len(unfrozen) and strategy != "scratch":
            ax.axvline(unfrozen.min() - 0.5, color=line.get_color(), ls=":", lw=1)
    ax.set(title=title, xlabel="epoch (dotted: body unfrozen)", ylabel="valid error rate (mean ± std over seeds)")
    ax.legend()
    save(fig, path)


def plot_confusion(matrix: pd.DataFrame, names: list[str], title: str, path):
    values = matrix.to_numpy()
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(values, cmap="Blues")
    ticks = np.arange(len(names))
    ax.set_xticks(ticks, names, rotation=30, ha="right")
    ax.set_yticks(ticks, names)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, int(values[i, j]), ha="center", va="center",
                    color="white" if values[i, j] > values.max() / 2 else "black")
    ax.set(title=title, xlabel="predicted class", ylabel="true class")
    ax.grid(False)
    fig.colorbar(im, ax=ax, label="images")
    save(fig, path)
