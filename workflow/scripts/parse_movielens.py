"""Rule parse_movielens: raw MovieLens files -> validated ratings.parquet and items.parquet."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import logging

from lesson5.data.movielens import get_release, parse_items, parse_ratings
from lesson5.data.schemas import check_items_known, validate_items, validate_ratings
from lesson5.runner import run_script

log = logging.getLogger("lesson5.parse_movielens")


def main(smk):
    release = get_release(smk.params.release)
    ratings = validate_ratings(parse_ratings(smk.input.ratings, release), release, smk.input.ratings)
    items = validate_items(parse_items(smk.input.movies, release), smk.input.movies)
    check_items_known(ratings, items, smk.input.ratings)
    log.info("%d ratings by %d users of %d items; %d items described", len(ratings),
             ratings.user.nunique(), ratings.item.nunique(), len(items))
    ratings.reset_index(drop=True).to_parquet(smk.output.ratings, index=False)
    items.reset_index(drop=True).to_parquet(smk.output.movies, index=False)


run_script(snakemake, main)  # noqa: F821
