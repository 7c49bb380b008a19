"""Figures of a training run: per-batch loss curves, lr finder, 1cycle schedule."""

from __future__ import annotations

import pandas as pd

from lesson5.plots.style import plt, save
from lesson5.train.lr import trim_sweep
from lesson5.train.smoothing import smooth


def plot_loss_curve(iterations: pd.DataFrame, history: pd.DataFrame, title: str, ylabel: str, path):
    """Raw per-batch training loss (faint), its smoothed curve, and the valid loss at each epoch end."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(iterations.iteration, iterations.loss, color="tab:blue", alpha=0.2, lw=0.5, label="train (per batch)")
    ax.plot(iterations.iteration, smooth(iterations.loss.to_numpy()), color="tab:blue", label="train (smoothed)")
    ends = iterations.groupby("epoch").iteration.max()
    ax.plot(ends.loc[history.epoch].to_numpy(), history.valid_loss, "o-", color="tab:red", label="valid (epoch end)")
    ax.set(title=title, xlabel="training batch", ylabel=ylabel)
    ax.legend()
    save(fig, path)


def plot_lr_find(sweep: pd.DataFrame, title: str, path, skip_start: int = 10, skip_end: int = 5):
    """Smoothed loss against lr (log axis), as fastai's recorder.plot(skip_start, skip_end)."""
    part = trim_sweep(sweep, skip_start, skip_end)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(part.lr, part.smoothed_loss, color="tab:blue")
    best = part.loc[part.smoothed_loss.idxmin()]
    ax.axvline(best.lr, color="grey", ls="--", label=f"minimum at lr={best.lr:.2g}")
    ax.axvline(best.lr / 10, color="tab:green", ls=":", label=f"minimum / 10 = {best.lr / 10:.2g}")
    ax.set(xscale="log", title=title, xlabel="learning rate (log scale)", ylabel="smoothed training loss")
    ax.legend()
    save(fig, path)


def plot_schedule(iterations: pd.DataFrame, title: str, path):
    """fastai's plot_lr(show_moms=True): lr and momentum (Adam's beta1) per iteration."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.plot(iterations.iteration, iterations.lr, color="tab:blue")
    a.set(title="learning rate", xlabel="iteration", ylabel="lr")
    b.plot(iterations.iteration, iterations.momentum, color="tab:orange")
    b.set(title="momentum (beta1)", xlabel="iteration", ylabel="momentum")
    fig.suptitle(title)
    save(fig, path)
