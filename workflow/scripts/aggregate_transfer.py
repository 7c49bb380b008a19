"""Rule aggregate_transfer: error-rate table with a verdict, per-epoch curves, best confusion matrix."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import pandas as pd

from lesson5.analysis.aggregate import format_mean_std, mean_std
from lesson5.plots.transfer import plot_confusion, plot_transfer_curves
from lesson5.runner import run_script


def verdict(table: pd.DataFrame) -> str:
    t = table.set_index("strategy")
    if not {"discriminative", "scratch"} <= set(t.index):
        return "verdict: needs both the discriminative and the scratch strategies"
    d, s = t.loc["discriminative"], t.loc["scratch"]
    gap = s.error_rate_mean - d.error_rate_mean
    spread = max(d.error_rate_std, s.error_rate_std)
    beats = gap > spread
    return (f"verdict: pretrained + discriminative lrs {'beats' if beats else 'does NOT beat'} training from "
            f"scratch by more than the seed std: error {d.error_rate_mean:.4f} vs {s.error_rate_mean:.4f} "
            f"(gap {gap:.4f}, largest std {spread:.4f})")


def main(smk):
    histories = pd.concat([pd.read_csv(f, sep="\t") for f in smk.input.histories], ignore_index=True)
    histories.to_csv(smk.output.curves_table, sep="\t", index=False, float_format="%.5f")
    final = histories.groupby(["strategy", "seed"], sort=False).agg(
        error_rate=("error_rate", "last"), valid_loss=("valid_loss", "last"), seconds=("seconds", "sum")
    ).reset_index()  # each run's last epoch, and its total training time
    table = mean_std(final, ["strategy"], ["error_rate", "valid_loss", "seconds"])
    table = table.assign(error=format_mean_std(table, "error_rate"))
    lines = table.to_csv(sep="\t", index=False, float_format="%.4f")
    with open(smk.output.table, "w") as out:
        out.write(lines)
        out.write(f"# {verdict(table)}\n")
    plot_transfer_curves(histories, smk.params.title, smk.output.curves)
    best = table.sort_values("error_rate_mean").strategy.iloc[0]
    matrices = [pd.read_csv(f, sep="\t", index_col=0) for f, run in zip(smk.input.confusions, smk.params.runs)
                if run["strategy"] == best]
    plot_confusion(sum(matrices), smk.params.class_names, f"{best}: valid predictions summed over "
                   f"{len(matrices)} seed(s)", smk.output.confusion)


run_script(snakemake, main)  # noqa: F821
