"""Rule parse_movielens: a release's raw files -> validated ratings.parquet and items.parquet."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import logging

from lesson5.data.movielens import get_release
from lesson5.data.schemas import parse_release
from lesson5.params import untracked
from lesson5.runner import run_script

log = logging.getLogger("lesson5.parse_movielens")


def main(smk):
    release = get_release(smk.params.release)
    ratings, items = parse_release(release, smk.input.ratings, smk.input.movies, smk.input.get("users"),
                                   limit=untracked(smk, "movielens.max_problems_per_check"))
    log.info("%d ratings by %d users of %d items; %d items described", len(ratings),
             ratings.user.nunique(), ratings.item.nunique(), len(items))
    ratings.reset_index(drop=True).to_parquet(smk.output.ratings, index=False)
    items.reset_index(drop=True).to_parquet(smk.output.movies, index=False)


run_script(snakemake, main)  # noqa: F821
