"""Figures of the optimizer experiments."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lesson5.analysis.sweeps import legend_with_best, mark_edge_on_axes
from lesson5.plots.style import plt, save
from lesson5.train.smoothing import smooth

COLORS = {"sgd": "tab:blue", "momentum": "tab:orange", "rmsprop": "tab:green", "adam": "tab:red",
          "adamw": "tab:purple"}


def plot_manual_losses(curves: pd.DataFrame, dataset: str, path):
    """Raw per-batch losses of the lesson's hand-written loop, one panel per run, shared y axis."""
    runs = list(dict.fromkeys(curves.run))
    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 4), sharey=True)
    for ax, name in zip(np.atleast_1d(axes), runs):
        part = curves[curves.run == name]
        ax.plot(part.iteration, part.loss, lw=0.6)
        ax.set(title=name, xlabel="batch (one epoch)", ylabel="cross-entropy loss (raw, per batch)")
    fig.suptitle(f"The lesson's manual update loop on {dataset} (batch 64, one epoch)")
    save(fig, path)


def plot_optimizer_curves(curves: pd.DataFrame, table: pd.DataFrame, dataset: str, path):
    """Per-batch loss of each optimizer at its chosen lr: raw faint, smoothed solid; one panel per schedule."""
    schedules = list(dict.fromkeys(curves.schedule))
    fig, axes = plt.subplots(1, len(schedules), figsize=(7 * len(schedules), 5), sharey=True)
    for ax, schedule in zip(np.atleast_1d(axes), schedules):
        for opt, color in COLORS.items():
            part = curves[(curves.schedule == schedule) & (curves.opt == opt)]
            if part.empty:
                continue
            seed0 = part[part.seed == part.seed.min()]
            ax.plot(seed0.iteration, seed0.loss, color=color, alpha=0.15, lw=0.5)
            mean = part.groupby("iteration").loss.mean()
            row = table[(table.opt == opt) & (table.schedule == schedule)].iloc[0]
            ax.plot(mean.index, smooth(mean.to_numpy()), color=color,
                    label=f"{opt} (lr {row.lr:g}): valid acc {row.valid_accuracy}")
        ax.set(title=f"{schedule.replace('_', ' ')} lr", xlabel="batch", ylabel="training loss (cross-entropy)",
               ylim=(0, 2.5))
        ax.legend(fontsize=8)
    fig.suptitle(f"Optimizers on an MLP 784-50-10, {dataset}: smoothed mean over seeds (faint: seed 0 raw)")
    save(fig, path)


def plot_lr_grids(grids: pd.DataFrame, dataset: str, path):
    """Valid loss of each optimizer against the lr of its grid (seed 0), one panel per schedule; the
    lr kept is starred, or ringed in red where it is the grid's smallest or largest value."""
    schedules = list(dict.fromkeys(grids.schedule))
    fig, axes = plt.subplots(1, len(schedules), figsize=(7 * len(schedules), 4.5), sharey=True)
    for ax, schedule in zip(np.atleast_1d(axes), schedules):
        for opt, color in COLORS.items():
            part = grids[(grids.schedule == schedule) & (grids.opt == opt)].sort_values("lr")
            if part.empty:
                continue
            ax.plot(part.lr, part.valid_loss, "o-", color=color, label=opt)
            mark_edge_on_axes(ax, part, "lr", "valid_loss", color)
        ax.set(xscale="log", title=f"{schedule.replace('_', ' ')} lr: the grid each lr is chosen from",
               xlabel="learning rate (log scale)", ylabel="valid loss after one epoch (cross-entropy, seed 0)")
        legend_with_best(ax, fontsize=8)
    fig.suptitle(f"Learning-rate grids of the optimizer ablation, MLP 784-50-10 on {dataset}")
    save(fig, path)


def plot_wd_sweep(table: pd.DataFrame, dataset: str, path):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, metric, label in ((axes[0], "valid_loss", "valid loss"), (axes[1], "valid_accuracy", "valid accuracy")):
        for (opt, mode), part in table.groupby(["opt", "wd_mode"]):
            bars = ax.errorbar(part.wd, part[f"{metric}_mean"], yerr=part[f"{metric}_std"], marker="o", capsize=3,
                               label=f"{opt}, {'L2 in the loss' if mode == 'loss' else mode}")
            if metric == "valid_loss":  # the best is chosen by valid loss
                mark_edge_on_axes(ax, part, "wd", "valid_loss_mean", bars.lines[0].get_color())
        positive = table.wd[table.wd > 0]
        ax.set_xscale("symlog", linthresh=float(positive.min()) if len(positive) else 1.0)
        ax.set(title=f"{label} vs weight decay", xlabel="weight decay (symlog scale)",
               ylabel=f"{label} (mean ± std over seeds)")
        legend_with_best(ax, fontsize=8) if metric == "valid_loss" else ax.legend(fontsize=8)
    fig.suptitle(f"L2 in the loss vs decoupled weight decay, MLP on {dataset}")
    save(fig, path)


def plot_cross_entropy(path):
    """-log p(true class): the spreadsheet's cat/dog points, natural log (torch) and log10 (Excel)."""
    p = np.linspace(0.005, 1, 400)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(p, -np.log(p), label="cross-entropy, natural log (torch)")
    ax.plot(p, -np.log10(p), ls="--", label="log base 10 (the lesson's spreadsheet)")
    for prob, text in ((0.98, "confident and right"), (0.5, "unsure"), (0.1, "confident and wrong (0.9 elsewhere)")):
        ax.plot(prob, -np.log(prob), "o", color="black")
        ax.annotate(f"{text}: p={prob}, loss {-np.log(prob):.2f}", (prob, -np.log(prob)), xytext=(8, 8),
                    textcoords="offset points", fontsize=8)
    ax.set(title="Cross-entropy for one example", xlabel="predicted probability of the true class",
           ylabel="loss", ylim=(0, 5.5))
    ax.legend()
    save(fig, path)
