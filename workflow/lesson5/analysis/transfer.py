"""The transfer experiment's tables: error by label budget and method, and paired seed differences."""

from __future__ import annotations

import pandas as pd
from scipy.stats import binomtest

from lesson5.analysis.aggregate import format_mean_std, mean_std
from lesson5.experiments.transfer_plan import DISCRIMINATIVE, RANDOM, SCRATCH, beyond_edge, method

PROBE_LABEL = "linear probe, {body} body ({layer})"
PAIRED_COLUMNS = ["a", "b", "budget", "differences", "mean", "std", "wins", "n_seeds", "p", "outcome", "verdict"]


def budget_table(runs: pd.DataFrame, probes: pd.DataFrame, probe_layer: str = "layer4") -> pd.DataFrame:
    """Valid error (mean ± std over seeds) per label budget for every (family, strategy) and for the
    linear probes of every body's ``probe_layer`` features (what the head sees); probe rows have no
    strategy. A body strategy's rows also carry its frozen stage's mean error (the head trained on the
    frozen body, before the strategy's second stage): at chance, the lrs left no trained head to build on."""
    columns = ["budget", "family", "strategy", "method", "seed", "error_rate", "frozen_error_rate"]
    runs = runs.assign(method=[method(f, s) for f, s in zip(runs.family, runs.strategy)],
                       frozen_error_rate=runs.get("frozen_error_rate"))
    probe = probes[probes.layer == probe_layer]
    probe = probe.assign(family=probe.body, strategy=None, frozen_error_rate=None,
                         method=[PROBE_LABEL.format(body=b, layer=probe_layer) for b in probe.body])
    rows = pd.concat([runs[columns], probe[columns]], ignore_index=True).astype({"frozen_error_rate": float})
    table = mean_std(rows, ["budget", "family", "strategy", "method"], ["error_rate", "frozen_error_rate"])
    table = table.drop(columns="frozen_error_rate_std").sort_values(["budget"], kind="stable").reset_index(drop=True)
    return table.assign(error=format_mean_std(table, "error_rate", 3))


def sign_test_p(wins: int, n: int) -> float:
    """One-sided sign test: the chance of at least ``wins`` wins in ``n`` fair coin flips."""
    return float(binomtest(wins, n, 0.5, alternative="greater").pvalue)


def verdict_word(p_win: float, p_lose: float) -> str:
    return "beats" if p_win <= 0.05 else "loses to" if p_lose <= 0.05 else "does not clearly beat"


def paired_differences(runs: pd.DataFrame, a=("classes", DISCRIMINATIVE), b=(SCRATCH, SCRATCH),
                       names: tuple[str, str] | None = None) -> pd.DataFrame:
    """Per budget: each seed's error of run ``a`` minus run ``b`` (each a (family, strategy); negative:
    ``a`` is better), their mean and std, how many seeds ``a`` wins, the sign test's p, and a verdict.
    ``names``: what the verdicts call a and b (default: the runs' method names)."""
    wide = runs.pivot_table(index=["budget", "seed"], columns=["family", "strategy"], values="error_rate")
    if a not in wide or b not in wide:
        return pd.DataFrame(columns=PAIRED_COLUMNS)
    name_a, name_b = names or (method(*a), method(*b))
    rows = []
    for budget, part in (wide[a] - wide[b]).dropna().groupby(level="budget"):
        diff = part.to_numpy()
        n, wins, losses = len(diff), int((diff < 0).sum()), int((diff > 0).sum())
        mean, std = float(diff.mean()), float(diff.std(ddof=1)) if n > 1 else 0.0
        p_win, p_lose = sign_test_p(wins, n), sign_test_p(losses, n)
        outcome = verdict_word(p_win, p_lose)
        rows.append({"a": name_a, "b": name_b, "budget": int(budget), "differences": " ".join(f"{d:+.3f}" for d in diff),
                     "mean": mean, "std": std, "wins": wins, "n_seeds": n, "p": min(p_win, p_lose), "outcome": outcome,
                     "verdict": f"{budget} labels/class: {name_a} {outcome} {name_b}: error "
                                f"difference {mean:+.3f} ± {std:.3f}, better on {wins} of {n} seeds "
                                f"(sign test p = {min(p_win, p_lose):.3f})"})
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)


def all_paired(runs: pd.DataFrame, comparisons) -> pd.DataFrame:
    """``paired_differences`` for every (a, b) of ``comparisons``, one table."""
    return _concat([paired_differences(runs, tuple(a), tuple(b)) for a, b in comparisons])


def probe_paired(probes: pd.DataFrame) -> pd.DataFrame:
    """Each pretrained body's linear probe against the random body's, per layer and budget, paired by seed
    (a seed's probes fit the same labelled images): is a layer's gap to random more than seed noise?"""
    runs = probes.rename(columns={"body": "family", "layer": "strategy"})
    bodies = [b for b in dict.fromkeys(probes.body) if b != RANDOM]
    return _concat([paired_differences(runs, (body, layer), (RANDOM, layer),
                                       names=(PROBE_LABEL.format(body=body, layer=layer),
                                              PROBE_LABEL.format(body=RANDOM, layer=layer)))
                    for body in bodies for layer in dict.fromkeys(probes.layer)])


def selection_edges(selection: pd.DataFrame) -> list[str]:
    """A line for each (family, budget) whose kept lr scale is still the smallest or largest it tried."""
    lines = []
    for (family, budget), part in selection.groupby(["family", "budget"]):
        kept, tried = part[part.chosen.astype(bool)].lr_scale.iloc[0], sorted(set(part.lr_scale))
        if beyond_edge(tried, kept) is not None:  # the test select_by_dev steps by
            end = "smallest" if kept == tried[0] else "largest"
            lines.append(f"{family} at {budget} labels/class kept lr scale {kept:.3g}, the {end} it tried "
                         f"({', '.join(f'{m:.3g}' for m in tried)})")
    return lines


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=PAIRED_COLUMNS)
