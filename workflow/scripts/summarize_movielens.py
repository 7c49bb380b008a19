"""Rule summarize_movielens: summary table and overview plot of the validated ratings."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import pandas as pd

from lesson5.data.summary import ratings_summary
from lesson5.plots.data import plot_ratings_overview
from lesson5.runner import run_script


def main(smk):
    ratings, items = pd.read_parquet(smk.input.ratings), pd.read_parquet(smk.input.movies)
    ratings_summary(ratings, items).to_csv(smk.output.table, sep="\t", index=False)
    plot_ratings_overview(ratings, smk.params.release, smk.output.plot)


run_script(snakemake, main)  # noqa: F821
