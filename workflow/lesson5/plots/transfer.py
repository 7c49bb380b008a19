"""Figures of the transfer-learning experiments."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lesson5.experiments.transfer_plan import (DISCRIMINATIVE, HEAD_ONLY, HIGH_LR, RANDOM, SCRATCH, lead_strategy,
                                              method)
from lesson5.plots.style import plt, save
from lesson5.train.lr import trim_sweep
from lesson5.train.smoothing import smooth

FAMILY_COLORS = {"fractal": "tab:green", "classes": "tab:orange", "mixed": "tab:red", "imagenet": "tab:purple",
                 SCRATCH: "tab:blue", RANDOM: "tab:grey"}
STRATEGY_LINES = {DISCRIMINATIVE: ("-", "o"), HEAD_ONLY: ("--", "s"), HIGH_LR: ("none", "X"), SCRATCH: ("-", "o")}  # high lr: a few budgets only, not joined


def budget_axis(ax, budgets):
    """Labels per class on a log x axis, ticked at the budgets that ran."""
    budgets = sorted(budgets.unique())
    ax.set_xscale("log")
    ax.set_xticks(budgets, [str(b) for b in budgets])
    ax.minorticks_off()


def plot_budget_curve(table: pd.DataFrame, title: str, path):
    """Valid error against labels per class (log x): one line and a ± std band per (family, strategy),
    coloured by what the network starts from, styled by strategy."""
    fig, ax = plt.subplots(figsize=(9.5, 5.5))
    runs = table[table.strategy.notna()]
    for (family, strategy), part in runs.groupby(["family", "strategy"], sort=False):
        part = part.sort_values("budget")
        ls, marker = STRATEGY_LINES[strategy]
        color = FAMILY_COLORS.get(family)
        line, = ax.plot(part.budget, part.error_rate_mean, ls=ls, marker=marker, color=color,
                        label=method(family, strategy))
        if strategy != HIGH_LR:
            ax.fill_between(part.budget, part.error_rate_mean - part.error_rate_std,
                            part.error_rate_mean + part.error_rate_std, color=line.get_color(), alpha=0.12)
    budget_axis(ax, runs.budget)
    n = int(runs.n_seeds.max())
    ax.set(title=title, xlabel="labelled training images per class (log scale)",
           ylabel=f"valid error rate (mean ± std over {n} seeds)", ylim=(0, None))
    ax.legend(fontsize=8)
    save(fig, path)


def plot_fractal_samples(x: np.ndarray, y: np.ndarray, title: str, path, classes: int = 8, per_class: int = 10):
    """A grid of generated images: one row per class (the first ``classes``), instances across."""
    fig, axes = plt.subplots(classes, per_class, figsize=(per_class * 0.9, classes * 0.95 + 0.6))
    for row, c in enumerate(sorted(set(y.tolist()))[:classes]):
        for col, image in enumerate(x[y == c][:per_class]):
            ax = axes[row, col]
            ax.imshow(image, cmap="gray", vmin=0, vmax=255)
            ax.set(xticks=[], yticks=[])
            ax.grid(False)
        axes[row, 0].set_ylabel(f"class {c}", fontsize=8)
    fig.suptitle(title, fontsize=10)
    save(fig, path)


def plot_lr_finder(sweeps: pd.DataFrame, finder: str, title: str, path, skip_start: int = 10, skip_end: int = 5):
    """The lr finder's smoothed loss against lr (log x), one panel per family, one curve per label
    budget, each with the lr its pick rule chose marked."""
    part = sweeps[sweeps.finder == finder] if len(sweeps) else sweeps
    panels = list(dict.fromkeys(part.family)) if len(part) else [None]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.8), squeeze=False)
    cmap = plt.get_cmap("viridis")
    for ax, family in zip(axes[0], panels):
        if family is None:
            ax.text(0.5, 0.5, f"no {finder} lr finder ran: the config fixes this lr", ha="center", va="center",
                    transform=ax.transAxes)
            continue
        curves = part[part.family == family]
        budgets = sorted(curves.budget.unique())
        for k, (budget, curve) in enumerate(curves.groupby("budget")):
            curve = trim_sweep(curve, skip_start, skip_end)
            color = cmap(k / max(len(budgets) - 1, 1))
            ax.plot(curve.lr, curve.smoothed_loss, color=color, label=f"{budget} labels/class")
            chosen = float(curve.suggested.iloc[0])
            ax.plot(chosen, np.interp(np.log(chosen), np.log(curve.lr), curve.smoothed_loss), "o", color=color)
        ax.set(xscale="log", title=family if family == SCRATCH else f"{family} body",
               xlabel="learning rate (log scale); dot: the lr chosen", ylabel="smoothed training loss (cross-entropy)")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    save(fig, path)


def plot_lr_select(selection: pd.DataFrame, title: str, path):
    """Dev error of each lr scale the first seed tried, one panel per family (its lead strategy, the one
    that chose), one line per label budget, the kept scale ringed; valid error dotted beside it."""
    panels = list(dict.fromkeys(selection.family)) or [None]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.6), squeeze=False, sharey=True)
    cmap = plt.get_cmap("viridis")
    for ax, family in zip(axes[0], panels):
        if family is None:
            ax.text(0.5, 0.5, "lr_select.by is finder: no scales were tried", ha="center", va="center",
                    transform=ax.transAxes)
            continue
        part = selection[selection.family == family]
        lead = lead_strategy(family, set(part.strategy))
        budgets = sorted(part.budget.unique())
        for k, budget in enumerate(budgets):
            runs = part[(part.budget == budget) & (part.strategy == lead)].sort_values("lr_scale")
            color = cmap(k / max(len(budgets) - 1, 1))
            ax.plot(runs.lr_scale, runs.dev_error_rate, "-o", color=color, label=f"{budget} labels/class")
            ax.plot(runs.lr_scale, runs.error_rate, ":", color=color, alpha=0.7)
            kept = runs[runs.chosen.astype(bool)]
            ax.scatter(kept.lr_scale, kept.dev_error_rate, s=160, facecolors="none", edgecolors="black", zorder=3)
        ax.set_xscale("log")
        scales = sorted(part.lr_scale.unique())
        ax.set_xticks(scales, [f"{m:.3g}" for m in scales])
        ax.minorticks_off()
        ax.set(title=method(family, lead), xlabel="lr scale (multiple of the lr finder's pick, log)",
               ylabel="error rate (solid: dev set, dotted: valid set)")
        ax.legend(fontsize=7, title="ringed: the scale kept", title_fontsize=7)
    fig.suptitle(title, fontsize=10)
    save(fig, path)


def plot_probes(probes: pd.DataFrame, title: str, path):
    """Linear-probe error against labels per class, one panel per layer group, one line per body (the
    random body dotted grey). Where a body's line is above the random one, that layer's features are
    worse for the target classes than no training at all."""
    stats = probes.groupby(["body", "layer", "budget"]).error_rate.agg(["mean", "std"]).reset_index()
    layers = sorted(stats.layer.unique())
    fig, axes = plt.subplots(1, len(layers), figsize=(4.6 * len(layers), 4.6), sharey=True, squeeze=False)
    for ax, layer in zip(axes[0], layers):
        for body, part in stats[stats.layer == layer].groupby("body", sort=False):
            ax.errorbar(part.budget, part["mean"], yerr=part["std"].fillna(0), capsize=3, marker="o",
                        ls=":" if body == RANDOM else "-", color=FAMILY_COLORS.get(body), label=f"{body} body")
        budget_axis(ax, stats.budget)
        ax.set(title=layer, xlabel="labelled images per class (log scale)")
        ax.legend(fontsize=8)
    axes[0, 0].set_ylim(bottom=0)  # once every panel is drawn: the shared top fits all of them
    axes[0, 0].set_ylabel("valid error of a logistic regression\n(mean ± std over seeds)")
    fig.suptitle(title)
    save(fig, path)


def plot_training_curves(iterations: pd.DataFrame, title: str, path):
    """Smoothed training loss per batch (mean over seeds) of each run at one budget; where the body is
    unfrozen, a dotted vertical line."""
    fig, ax = plt.subplots(figsize=(9, 5))
    for (family, strategy), part in iterations.groupby(["family", "strategy"], sort=False):
        mean = part.groupby("iteration").loss.mean()
        ls, _ = STRATEGY_LINES[strategy]
        line, = ax.plot(mean.index, smooth(mean.to_numpy()), ls=ls, color=FAMILY_COLORS.get(family),
                        label=method(family, strategy))
        unfrozen = part[part.stage == "unfrozen"].iteration
        if len(unfrozen) and strategy != SCRATCH:
            ax.axvline(unfrozen.min() - 0.5, color=line.get_color(), ls=":", lw=1)
    ax.set(title=title, xlabel="training batch (dotted vertical: body unfrozen)",
           ylabel="training loss, smoothed (mean over seeds)")
    ax.legend(fontsize=8)
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
