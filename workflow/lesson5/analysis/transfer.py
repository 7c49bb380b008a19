"""The transfer experiment's tables: error by label budget and method, and paired seed differences."""

from __future__ import annotations

import pandas as pd
from scipy.stats import binomtest

from lesson5.analysis.aggregate import format_mean_std, mean_std

PROBE_LABEL = "linear probe, {body} body ({layer})"


def budget_table(runs: pd.DataFrame, probes: pd.DataFrame, probe_layer: str = "layer4") -> pd.DataFrame:
    """Valid error (mean ± std over seeds) per label budget for every strategy and for the linear
    probes of the pretrained and the random body's ``probe_layer`` features (what the head sees)."""
    parts = [runs.rename(columns={"strategy": "method"})[["budget", "method", "seed", "error_rate"]]]
    probe = probes[probes.layer == probe_layer]
    parts.append(probe.assign(method=[PROBE_LABEL.format(body=b, layer=probe_layer) for b in probe.body])
                 [["budget", "method", "seed", "error_rate"]])
    table = mean_std(pd.concat(parts, ignore_index=True), ["budget", "method"], ["error_rate"])
    table = table.sort_values(["budget"], kind="stable").reset_index(drop=True)
    return table.assign(error=format_mean_std(table, "error_rate", 3))


def sign_test_p(wins: int, n: int) -> float:
    """One-sided sign test: the chance of at least ``wins`` wins in ``n`` fair coin flips."""
    return float(binomtest(wins, n, 0.5, alternative="greater").pvalue)


def paired_differences(runs: pd.DataFrame, a: str = "discriminative", b: str = "scratch") -> pd.DataFrame:
    """Per budget: each seed's error of ``a`` minus ``b`` (negative: ``a`` is better), their mean and
    std, how many seeds ``a`` wins, the sign test's p, and a verdict line."""
    wide = runs.pivot_table(index=["budget", "seed"], columns="strategy", values="error_rate")
    if a not in wide or b not in wide:
        return pd.DataFrame(columns=["budget", "differences", "mean", "std", "wins", "n_seeds", "p", "verdict"])
    rows = []
    for budget, part in (wide[a] - wide[b]).dropna().groupby(level="budget"):
        diff = part.to_numpy()
        n, wins, losses = len(diff), int((diff < 0).sum()), int((diff > 0).sum())
        mean, std = float(diff.mean()), float(diff.std(ddof=1)) if n > 1 else 0.0
        p_win, p_lose = sign_test_p(wins, n), sign_test_p(losses, n)
        if p_win <= 0.05:
            word = "beats"
        elif p_lose <= 0.05:
            word = "loses to"
        else:
            word = "does not clearly beat"
        rows.append({"budget": int(budget), "differences": " ".join(f"{d:+.3f}" for d in diff), "mean": mean,
                     "std": std, "wins": wins, "n_seeds": n, "p": min(p_win, p_lose),
                     "verdict": f"{budget} labels/class: {a} {word} {b}: error difference {mean:+.3f} ± {std:.3f}, "
                                f"{a} better on {wins} of {n} seeds (sign test p = {min(p_win, p_lose):.3f})"})
    return pd.DataFrame(rows)
