"""Rule summary_table: key figures of every stage beside the lesson's and the anchors' numbers."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

from pathlib import Path

import pandas as pd

from lesson5.analysis.summary import key_figures, summary_table
from lesson5.runner import run_script


def main(smk):
    i = smk.input
    tables = {Path(path).stem: pd.read_csv(path, sep="\t") for path in i.collab_tables}  # bias_wd, folds: if run
    def table(name, **kw):  # a stage the experiment does not run has no input
        return pd.read_csv(i[name], sep="\t", **kw) if i.get(name) else None

    figures = key_figures(table("collab_baselines"), tables.get("bias_wd"), tables.get("folds"), table("one_cycle"),
                          table("transfer", comment="#"), table("transfer_paired"))
    def files(entry):  # a named input is one path or a list of them
        return [entry] if isinstance(entry, str) else list(entry)

    edges = [line for path in files(i.collab_edges) + files(i.optimizer_edges)
             for line in pd.read_csv(path, sep="\t").sweep_edge]
    table = summary_table(figures, pd.read_csv(i.reference, sep="\t"), edges)
    table.to_csv(smk.output[0], sep="\t", index=False, float_format="%.4f")


run_script(snakemake, main)  # noqa: F821
