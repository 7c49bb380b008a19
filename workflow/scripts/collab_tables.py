"""Rules collab_sweep and collab_table: one sweep's table and plot (the best value marked), or the
bias-decay or official-folds table, from runs.tsv."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import pandas as pd

from lesson5.analysis.collab_tables import bias_wd_table, folds_table, sweep_table
from lesson5.plots.collab import plot_sweep
from lesson5.runner import run_script


def main(smk):
    runs = pd.read_csv(smk.input.runs, sep="\t")
    if "table" in smk.wildcards.keys():
        table = {"bias_wd": bias_wd_table, "folds": folds_table}[smk.wildcards.table](runs)
        table.to_csv(smk.output[0], sep="\t", index=False, float_format="%.5f")
        return
    sweep, base = smk.wildcards.sweep, smk.params.base
    table, edges = sweep_table(runs, sweep)
    table.to_csv(smk.output.table, sep="\t", index=False, float_format="%.5f")
    pd.DataFrame({"sweep_edge": edges}).to_csv(smk.output.edges, sep="\t", index=False)
    biases = "biases decayed too" if base["bias_wd"] else "biases not decayed"
    if sweep == "n_factors":
        plot_sweep(table, "n_factors", None, f"Number of factors\n(wd {base['wd']}, {base['wd_mode']} decay, {biases})",
                   "n_factors", smk.output.plot)
    else:
        plot_sweep(table, "wd", "wd_mode", f"Weight decay with Adam: decoupled vs L2, each on its own grid\n"
                   f"({base['n_factors']} factors, {biases})", "weight decay (symlog scale)", smk.output.plot,
                   log_x=True)


run_script(snakemake, main)  # noqa: F821
