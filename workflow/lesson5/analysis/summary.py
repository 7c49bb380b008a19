"""The report's summary: each experiment's key figure beside the lesson's number and the anchors."""

from __future__ import annotations

import pandas as pd


def key_figures(collab_baselines, collab_folds, one_cycle, transfer_table) -> dict[str, str]:
    """Measured key figure per experiment name (as in reference_numbers.tsv), 'mean ± std' text."""
    dot = collab_baselines.set_index("model").loc["dot"]
    folds = collab_folds.set_index("split")
    strategies = transfer_table.sort_values("error_rate_mean")
    best = strategies.iloc[0]
    return {
        "collab valid RMSE (random 90/10 split)": (dot.valid_rmse_mean, dot.valid_rmse_std, "dot product, main settings"),
        "collab valid RMSE (official folds u1-u5, mean)": (folds.loc["mean", "valid_rmse"],
                                                           folds.loc["std", "valid_rmse"], "main settings"),
        "fit_one_cycle(1, 1e-2) valid accuracy": (one_cycle.accuracy.iloc[-1], float("nan"), "one seed"),
        "transfer best valid error rate": (best.error_rate_mean, best.error_rate_std, f"strategy {best.strategy}"),
    }


def summary_table(figures: dict, reference: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for experiment, (value, std, what) in figures.items():
        measured = f"{value:.4f}" + ("" if pd.isna(std) else f" ± {std:.4f}")
        refs = reference[reference.experiment == experiment]
        for ref in refs.itertuples() if len(refs) else [None]:
            rows.append({
                "experiment": experiment, "measured": measured, "what": what,
                "reference": getattr(ref, "reference", ""), "reference_value": getattr(ref, "value", float("nan")),
                "gap": value - ref.value if ref is not None else float("nan"),
                "comparable": getattr(ref, "comparable", ""),
            })
    return pd.DataFrame(rows)
