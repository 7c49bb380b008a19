"""The report's summary: each experiment's key figure beside the lesson's number and the anchors."""

from __future__ import annotations

import pandas as pd

from lesson5.experiments.transfer_plan import SCRATCH


COLLAB_MAIN = "collab valid RMSE (random 90/10 split)"
COLLAB_LESSON_DECAY = "collab valid RMSE (random 90/10 split), biases decayed as in the lesson"
TRANSFER_CLAIM = "the lesson: a pretrained body beats training from scratch when labels are few"
BREADTH_CLAIM = "Yosinski et al. 2014: a body from a broader source transfers better"


def key_figures(collab_baselines, collab_bias_wd, collab_folds, one_cycle=None, transfer_table=None,
                transfer_paired=None) -> dict[str, tuple]:
    """Measured key figure per experiment name (as in reference_numbers.tsv): (value, std, what).
    A stage the experiment does not run (``stages``) gives None and no figures."""
    dot = collab_baselines.set_index("model").loc["dot"]
    by_decay = collab_bias_wd.set_index(["model", "bias_wd"]) if collab_bias_wd is not None else pd.DataFrame()
    figures = {COLLAB_MAIN: (dot.valid_rmse_mean, dot.valid_rmse_std, "dot product, main settings")}
    if ("dot", True) in by_decay.index:  # the lesson's decay of every parameter, where the sweep ran it
        lesson = by_decay.loc[("dot", True)]
        figures[COLLAB_LESSON_DECAY] = (lesson.valid_rmse_mean, lesson.valid_rmse_std,
                                        "dot product, main settings but bias_wd true")
    if collab_folds is not None:
        folds = collab_folds.set_index("split")
        figures["collab valid RMSE (official folds u1-u5, mean)"] = (folds.loc["mean", "valid_rmse"],
                                                                     folds.loc["std", "valid_rmse"], "main settings")
    if one_cycle is not None:
        figures["fit_one_cycle(1, 1e-2) valid accuracy"] = (one_cycle.accuracy.iloc[-1], float("nan"), "one seed")
    if transfer_table is not None:
        runs = transfer_table[transfer_table.strategy.notna()]  # not the probes' or the source tasks' rows
        best = runs[runs.budget == runs.budget.max()].sort_values("error_rate_mean").iloc[0]
        figures["transfer best valid error rate"] = (best.error_rate_mean, best.error_rate_std,
                                                     f"{best.method}, {best.budget} labels/class")
    return figures | transfer_gaps(transfer_paired)


def transfer_gaps(paired) -> dict[str, tuple]:
    """Per paired comparison (a body against scratch, the broad body against the narrow one): the
    difference at the fewest and the most labels (negative: a helps), and the share of budgets at which
    a wins by the sign test, with the budgets named."""
    if paired is None or paired.empty:
        return {}
    figures = {}
    for (a, b), part in paired.groupby(["a", "b"], sort=False):
        part = part.sort_values("budget")
        for _, row in part.iloc[[0, -1]].drop_duplicates("budget").iterrows():
            figures[f"transfer error, {a} minus {b}, {row.budget} labels/class"] = (
                row["mean"], row["std"], f"paired by seed, better on {row.wins} of {row.n_seeds}")
        beats = part[part.outcome == "beats"].budget.tolist()
        loses = part[part.outcome == "loses to"].budget.tolist()
        claim = TRANSFER_CLAIM if b == SCRATCH else BREADTH_CLAIM
        figures[f"transfer: share of label budgets where {a} beats {b}"] = (
            len(beats) / len(part), float("nan"),
            f"beats it at {beats or 'no'} labels/class, loses at {loses or 'none'} (sign test p <= 0.05); {claim}")
    return figures


EDGE = "sweep whose best value is on the grid's edge"


def summary_table(figures: dict, reference: pd.DataFrame, edges: list[str] = ()) -> pd.DataFrame:
    """Each key figure beside its references; then one row per sweep whose optimum lies on the grid's
    edge (where the comparison it feeds may be unfair), or one row saying there is none."""
    rows = []
    for experiment, (value, std, what) in figures.items():
        row = {"experiment": experiment, "measured": f"{value:.4f}" + ("" if pd.isna(std) else f" ± {std:.4f}"),
               "what": what}
        refs = reference[reference.experiment == experiment]
        if refs.empty:
            rows.append({**row, "reference": "", "reference_value": float("nan"), "gap": float("nan"), "comparable": ""})
        for ref in refs.itertuples():
            rows.append({**row, "reference": ref.reference, "reference_value": ref.value, "gap": value - ref.value,
                         "comparable": ref.comparable})
    blank = {"reference": "", "reference_value": float("nan"), "gap": float("nan"), "comparable": ""}
    for line in edges or ["none: every sweep's best value lies inside its grid"]:
        rows.append({"experiment": EDGE, "measured": "", "what": line, **blank})
    return pd.DataFrame(rows)


# reference_numbers.tsv rows holding the lesson's pets errors (final epoch of each stage)
PETS_STAGES = {"frozen": "pets error rate, frozen stage", "unfrozen": "pets error rate, unfrozen stage"}


def pets_comparison(history: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """The lesson-scale run's error after each stage beside the lesson's."""
    last = history.groupby("stage").tail(1).set_index("stage").error_rate
    lesson = reference.set_index("experiment").value
    return pd.DataFrame([{"stage": stage, "error_rate": last[stage], "lesson": lesson[name],
                          "gap": last[stage] - lesson[name]} for stage, name in PETS_STAGES.items()])
