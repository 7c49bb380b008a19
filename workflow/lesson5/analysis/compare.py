"""Experiments side by side: every finished experiment's key figures (its summary rows) and the
config keys in which the experiments differ."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from lesson5.analysis.summary import COLLAB_MAIN, EDGE


def experiment_of(path) -> str:
    """results/<experiment>/summary.tsv -> <experiment>."""
    return Path(path).parent.name


def parse_measured(text: str) -> tuple[float, float]:
    """'0.8884 ± 0.0027' -> (0.8884, 0.0027); a bare value has std NaN."""
    match = re.fullmatch(r"\s*(\S+)(?:\s*±\s*(\S+))?\s*", str(text))
    if not match:
        return float("nan"), float("nan")
    return float(match.group(1)), float(match.group(2)) if match.group(2) else float("nan")


def key_figures_table(summaries: dict[str, pd.DataFrame], reference: pd.DataFrame) -> pd.DataFrame:
    """One row per key figure, one column per experiment (its measured value), the lesson's number
    beside them; then each experiment's sweeps on a grid edge, joined."""
    rows: dict[str, dict] = {}
    for name, summary in summaries.items():
        figures = summary[summary.experiment != EDGE].drop_duplicates("experiment")
        for figure in figures.itertuples():
            rows.setdefault(figure.experiment, {"figure": figure.experiment})[name] = figure.measured
        edges = summary[summary.experiment == EDGE].what
        on_edge = 0 if edges.str.startswith("none").all() else len(edges)
        rows.setdefault(EDGE, {"figure": "sweeps whose best value is on the grid's edge (summary.tsv lists them)"})[
            name] = str(on_edge)
    lesson = reference[reference.reference.str.startswith("lesson")].drop_duplicates("experiment")
    lesson = lesson.set_index("experiment").value
    table = pd.DataFrame(list(rows.values()), columns=["figure", *summaries])
    table.insert(1, "lesson", table.figure.map(lesson))
    return table


def flatten(config: dict, prefix: str = "") -> dict[str, str]:
    """{"a.b.c": value as JSON} for every leaf of a nested config."""
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = json.dumps(value, sort_keys=True)
    return flat


def differing_keys(configs: dict[str, dict]) -> pd.DataFrame:
    """The config keys whose values are not the same in every experiment (absent: empty)."""
    flat = {name: flatten(cfg) for name, cfg in configs.items()}
    keys = sorted(set().union(*flat.values())) if flat else []
    rows = [{"key": key, **{name: values.get(key, "") for name, values in flat.items()}} for key in keys
            if len({values.get(key) for values in flat.values()}) > 1]
    return pd.DataFrame(rows, columns=["key", *configs])


def main_rmse(summaries: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Each experiment's main collab valid RMSE (mean, std over seeds)."""
    rows = []
    for name, summary in summaries.items():
        main = summary[summary.experiment == COLLAB_MAIN]
        if len(main):
            mean, std = parse_measured(main.measured.iloc[0])
            rows.append({"experiment": name, "valid_rmse": mean, "std": std})
    return pd.DataFrame(rows, columns=["experiment", "valid_rmse", "std"])
