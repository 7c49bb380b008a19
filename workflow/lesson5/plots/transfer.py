"""Figures of the transfer-learning experiments."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lesson5.plots.style import plt, save
from lesson5.train.lr import trim_sweep
from lesson5.train.smoothing import smooth

STRATEGY_COLORS = {"head_only": "tab:orange", "discriminative": "tab:green", "unfrozen_high_lr": "tab:red",
                   "scratch": "tab:blue"}
BODY_STYLES = {"pretrained": "--", "random": ":"}


def budget_axis(ax, budgets):
    """Labels per class on a log x axis, ticked at the budgets that ran."""
    budgets = sorted(budgets.unique())
    ax.set_xscale("log")
    ax.set_xticks(budgets, [str(b) for b in budgets])
    ax.minorticks_off()


def plot_budget_curve(table: pd.DataFrame, strategies, title: str, path):
    """Valid error against labels per class (log x): one line and a ± std band per strategy, the
    linear probes of the pretrained and random bodies as grey dashed and dotted lines."""
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for method, part in table.groupby("method", sort=False):
        part = part.sort_values("budget")
        if method in strategies:
            color = STRATEGY_COLORS.get(method)
            line, = ax.plot(part.budget, part.error_rate_mean, marker="o", color=color, label=method)
            ax.fill_between(part.budget, part.error_rate_mean - part.error_rate_std,
                            part.error_rate_mean + part.error_rate_std, color=line.get_color(), alpha=0.15)
        else:
            style = next((s for body, s in BODY_STYLES.items() if f"{body} body" in method), "-.")
            ax.plot(part.budget, part.error_rate_mean, ls=style, color="grey", marker=".", label=method)
    budget_axis(ax, table.budget)
    n = int(table.n_seeds.max())
    ax.set(title=title, xlabel="labelled training images per class (log scale)",
           ylabel=f"valid error rate (mean ± std over {n} seeds)", ylim=(0, None))
    ax.legend(fontsize=8)
    save(fig, path)


def plot_lr_finder(sweeps: pd.DataFrame, finder: str, title: str, path, skip_start: int = 10, skip_end: int = 5):
    """The lr finder's smoothed loss against lr (log x), one curve per label budget, each with the lr
    its pick rule chose marked."""
    part = sweeps[sweeps.finder == finder]
    fig, ax = plt.subplots(figsize=(8, 5))
    if part.empty:
        ax.text(0.5, 0.5, f"no {finder} lr finder ran: the config fixes this lr", ha="center", va="center",
                transform=ax.transAxes)
    cmap = plt.get_cmap("viridis")
    budgets = sorted(part.budget.unique())
    for k, (budget, curve) in enumerate(part.groupby("budget")):
        curve = trim_sweep(curve, skip_start, skip_end)
        color = cmap(k / max(len(budgets) - 1, 1))
        ax.plot(curve.lr, curve.smoothed_loss, color=color, label=f"{budget} labels/class")
        chosen = float(curve.suggested.iloc[0])
        ax.plot(chosen, np.interp(np.log(chosen), np.log(curve.lr), curve.smoothed_loss), "o", color=color)
    ax.set(xscale="log", title=title, xlabel="learning rate (log scale); dot: the lr chosen",
           ylabel="smoothed training loss (cross-entropy)")
    if budgets:
        ax.legend(fontsize=8)
    save(fig, path)


def plot_probes(probes: pd.DataFrame, title: str, path):
    """Linear-probe error against labels per class for each layer group's features: pretrained body
    solid, random body dotted. Where the pretrained line is above the random one, that layer's
    features are worse for the target classes than no training at all."""
    fig, ax = plt.subplots(figsize=(8.5, 5))
    stats = probes.groupby(["body", "layer", "budget"]).error_rate.agg(["mean", "std"]).reset_index()
    colors = dict(zip(sorted(stats.layer.unique()), ("tab:purple", "tab:cyan", "tab:olive", "tab:brown")))
    for (body, layer), part in stats.groupby(["body", "layer"]):
        ax.errorbar(part.budget, part["mean"], yerr=part["std"].fillna(0), capsize=3, marker="o",
                    ls="-" if body == "pretrained" else ":", color=colors[layer], label=f"{body} body, {layer}")
    budget_axis(ax, stats.budget)
    ax.set(title=title, xlabel="labelled training images per class (log scale)",
           ylabel="valid error of a logistic regression (mean ± std over seeds)", ylim=(0, None))
    ax.legend(fontsize=8, ncol=2)
    save(fig, path)


def plot_training_curves(iterations: pd.DataFrame, title: str, path):
    """Smoothed training loss per batch (mean over seeds) of each strategy at one budget; where the
    body is unfrozen, a dotted line."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for strategy, part in iterations.groupby("strategy", sort=False):
        mean = part.groupby("iteration").loss.mean()
        color = STRATEGY_COLORS.get(strategy)
        line, = ax.plot(mean.index, smooth(mean.to_numpy()), color=color, label=strategy)
        unfrozen = part[part.stage == "unfrozen"].iteration
        if len(unfrozen) and strategy != "scratch":
            ax.axvline(unfrozen.min() - 0.5, color=line.get_color(), ls=":", lw=1)
    ax.set(title=title, xlabel="training batch (dotted: body unfrozen)",
           ylabel="training loss, smoothed (mean over seeds)")
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
