"""Rule aggregate_transfer: the label-budget table and curve, paired differences with a verdict per
budget and comparison (fine-tuning runs; each body's probes against the random body's), the lr finder
plots, the lr scales tried on the dev set, the probes, training curves and a confusion matrix."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

from pathlib import Path

import pandas as pd

from lesson5.analysis.transfer import all_paired, budget_table, probe_paired, selection_edges
from lesson5.experiments.transfer_plan import method
from lesson5.plots.transfer import (plot_budget_curve, plot_confusion, plot_lr_finder, plot_lr_select,
                                    plot_probes, plot_training_curves)
from lesson5.runner import run_script

FINDERS = {"frozen": "each body frozen (picks the head's lr)",
           "unfrozen": "after the frozen stage, body unfrozen (picks the top of the slice)",
           "scratch": "random weights (picks scratch's lr)"}


def read_all(paths, reader=pd.read_csv, **kw):
    frames = [reader(p, **kw) for p in paths]
    return pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else frames[0]


def source_rows(histories) -> pd.DataFrame:
    """Each pretrained body's error on its own source task's validation images, after its last epoch."""
    rows = []
    for path in histories:
        body, last = Path(path).parent.name, pd.read_csv(path, sep="\t").iloc[-1]
        rows.append({"budget": round(last.train_images / last.classes), "family": body, "strategy": None,
                     "method": f"source task: the {body} body on its own {last.source} (every image)",
                     "error_rate_mean": last.error_rate, "error_rate_std": 0.0, "n_seeds": 1,
                     "error": f"{last.error_rate:.3f}"})
    return pd.DataFrame(rows)


def main(smk):
    p, i, o = smk.params, smk.input, smk.output
    runs = read_all(i.runs, sep="\t")
    probes = pd.read_csv(i.probe, sep="\t")
    table = budget_table(runs, probes)
    paired = all_paired(runs, p.comparisons)
    selection = read_all(i.lr_select, sep="\t")
    with open(o.table, "w") as out:
        out.write(pd.concat([table, source_rows(i.histories)]).to_csv(sep="\t", index=False,
                                                                                  float_format="%.4f"))
        for line in selection_edges(selection):
            out.write(f"# lr scale on the grid's edge: {line}\n")
        for line in paired.verdict:
            out.write(f"# verdict: {line}\n")
    paired.to_csv(o.paired, sep="\t", index=False, float_format="%.4f")
    probe_paired(probes).to_csv(o.probe_paired, sep="\t", index=False, float_format="%.4f")
    plot_budget_curve(table, f"{p.title}: valid error by label budget", o.curve)

    sweeps = read_all(i.lr_find, sep="\t")
    for finder, path in (("frozen", o.lr_find_frozen), ("unfrozen", o.lr_find_unfrozen),
                         ("scratch", o.lr_find_scratch)):
        plot_lr_finder(sweeps, finder, f"lr finder, {FINDERS[finder]}", path)
    selection.to_csv(o.lr_select, sep="\t", index=False, float_format="%.4f")
    plot_lr_select(selection, f"{p.title}: each lr scale the first seed tried, scored on the dev set", o.lr_select_plot)
    plot_probes(probes, f"{p.title}: linear probes of each layer group's pooled features", o.probe_plot)

    budget = p.confusion_budget
    iterations = read_all(i.iterations, pd.read_parquet)
    plot_training_curves(iterations[iterations.budget == budget],
                         f"{p.title}, {budget} labels/class: training loss", o.curves)
    at = runs[runs.budget == budget].groupby(["family", "strategy"]).error_rate.mean()
    best = at.idxmin()
    counts = read_all(i.confusions, sep="\t")
    counts = counts[(counts.budget == budget) & (counts.family == best[0]) & (counts.strategy == best[1])]
    matrix = counts.pivot_table(index="true", columns="predicted", values="count", aggfunc="sum", fill_value=0)
    plot_confusion(matrix, p.class_names, f"{method(*best)}, {budget} labels/class: valid predictions summed "
                   f"over {counts.seed.nunique()} seeds", o.confusion)


run_script(snakemake, main)  # noqa: F821
