"""Figures describing a ratings table."""

from __future__ import annotations

import pandas as pd

from lesson5.plots.style import plt, save


def plot_ratings_overview(ratings: pd.DataFrame, release: str, path):
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    counts = ratings.rating.value_counts().sort_index()
    axes[0].bar(counts.index.astype(str), counts.to_numpy(), color="tab:blue")
    axes[0].set(title="Rating distribution", xlabel="rating (stars)", ylabel="number of ratings")
    for ax, key, who in ((axes[1], "user", "user"), (axes[2], "item", "movie")):
        per = ratings.groupby(key).size()
        ax.hist(per, bins=50, color="tab:orange")
        ax.set(title=f"Ratings per {who} (median {per.median():g})", xlabel=f"ratings per {who}",
               ylabel=f"number of {who}s", yscale="log")
    fig.suptitle(f"MovieLens {release}: {len(ratings):,} ratings, {ratings.user.nunique():,} users, "
                 f"{ratings.item.nunique():,} movies")
    save(fig, path)
