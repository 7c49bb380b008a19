"""Rule split_movielens: the seeded random split, or an official fold, as ratings + is_valid."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import logging

import pandas as pd

from lesson5.data.movielens import get_release, parse_ratings
from lesson5.data.schemas import validate_ratings
from lesson5.data.splits import fold_split, random_split
from lesson5.runner import run_script

log = logging.getLogger("lesson5.split_movielens")


def main(smk):
    p = smk.params
    if smk.wildcards.split == "random":
        split = random_split(pd.read_parquet(smk.input.ratings), p.valid_pct, p.seed)
    else:
        release = get_release(p.release)
        base, test = (validate_ratings(parse_ratings(f, release), release, f)
                      for f in (smk.input.base, smk.input.test))
        split = fold_split(base, test)
    log.info("split %s: %d train, %d valid rows", smk.wildcards.split,
             (~split.is_valid).sum(), split.is_valid.sum())
    split.to_parquet(smk.output[0], index=False)


run_script(snakemake, main)  # noqa: F821
