"""Rule compare: every finished experiment's key figures side by side, the config keys in which they
differ, and the main collab RMSE per experiment as a figure."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import pandas as pd
import yaml

from lesson5.analysis.compare import differing_keys, experiment_of, key_figures_table, main_rmse
from lesson5.analysis.summary import COLLAB_MAIN
from lesson5.plots.collab import plot_experiments_rmse
from lesson5.runner import run_script


def main(smk):
    summaries = {experiment_of(p): pd.read_csv(p, sep="\t") for p in smk.input.summaries}
    configs = {}
    for path in smk.input.configs:
        with open(path) as handle:
            configs[experiment_of(path)] = yaml.safe_load(handle)
    configs = {name: configs.get(name, {}) for name in summaries}  # finished experiments only
    reference = pd.read_csv(smk.input.reference, sep="\t")
    table = key_figures_table(summaries, reference)
    table.to_csv(smk.output.table, sep="\t", index=False)
    differing_keys(configs).to_csv(smk.output.differing, sep="\t", index=False)
    lesson = table.set_index("figure").lesson[COLLAB_MAIN]
    plot_experiments_rmse(main_rmse(summaries), float(lesson), smk.output.plot)


run_script(snakemake, main)  # noqa: F821
