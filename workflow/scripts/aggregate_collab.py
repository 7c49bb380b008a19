"""Rule aggregate_collab: every collab run's final metrics (runs.tsv) and the baselines table."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import pandas as pd

from lesson5.analysis.aggregate import final_rows
from lesson5.analysis.collab_tables import baselines_table
from lesson5.runner import run_script

KEYS = ["split", "model", "n_factors", "wd", "wd_mode", "bias_wd", "seed", "roles"]


def main(smk):
    histories = {tuple(run[k] for k in KEYS): pd.read_csv(path, sep="\t")
                 for run, path in zip(smk.params.runs, smk.input.histories)}
    runs = final_rows(histories, KEYS)
    runs.to_csv(smk.output.runs, sep="\t", index=False, float_format="%.6f")
    baselines_table(runs).to_csv(smk.output.baselines, sep="\t", index=False, float_format="%.4f")


run_script(snakemake, main)  # noqa: F821
