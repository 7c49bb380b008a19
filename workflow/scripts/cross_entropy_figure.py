"""Rule cross_entropy_figure: cross-entropy against the probability given to the true class."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

from lesson5.plots.optimizers import plot_cross_entropy
from lesson5.runner import run_script


def main(smk):
    plot_cross_entropy(smk.output[0])


run_script(snakemake, main)  # noqa: F821
