"""Rule split_movielens: the seeded random split, or an official fold, as ratings + is_valid."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import logging

import pandas as pd

from lesson5.data.movielens import get_release
from lesson5.data.schemas import parse_fold
from lesson5.data.splits import fold_split, random_split
from lesson5.params import untracked
from lesson5.runner import run_script

log = logging.getLogger("lesson5.split_movielens")


def main(smk):
    p = smk.params
    ratings = pd.read_parquet(smk.input.ratings)
    if smk.wildcards.split == "random":
        split = random_split(ratings, p.split["valid_pct"], p.split["seed"])
    else:
        release, items = get_release(p.release), pd.read_parquet(smk.input.movies)
        base, test = (parse_fold(release, f, ratings, items, limit=untracked(smk, "movielens.max_problems_per_check"))
                      for f in (smk.input.base, smk.input.test))
        split = fold_split(base.reset_index(drop=True), test.reset_index(drop=True))
    log.info("split %s: %d train, %d valid rows", smk.wildcards.split, (~split.is_valid).sum(), split.is_valid.sum())
    split.to_parquet(smk.output[0], index=False)


run_script(snakemake, main)  # noqa: F821
