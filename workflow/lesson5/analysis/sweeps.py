"""Did a sweep find its optimum? The best value of a grid is only trustworthy inside the grid: at the
grid's edge the true optimum may lie beyond it, and the comparison it feeds is not a fair one."""

from __future__ import annotations

import pandas as pd


def mark_best(table: pd.DataFrame, x: str, metric: str, by: list[str] | None = None,
              lower_is_better: bool = True) -> pd.DataFrame:
    """``table`` with two columns added: ``best`` (the row of the best mean ``metric`` in each ``by``
    group) and ``best_on_edge`` (that best sits at the smallest or largest ``x`` of its grid)."""
    out = table.reset_index(drop=True)  # positions: a table concatenated from files repeats index labels
    out["best"], out["best_on_edge"] = False, False
    groups = out.groupby(by, sort=False) if by else [(None, out)]
    for _, part in groups:
        values = part[metric].dropna()
        if values.empty:
            continue
        best = values.idxmin() if lower_is_better else values.idxmax()
        grid = part[x]
        out.loc[best, "best"] = True
        out.loc[best, "best_on_edge"] = len(grid) > 1 and part.loc[best, x] in (grid.min(), grid.max())
    return out


def edge_optima(table: pd.DataFrame, sweep: str, x: str, by: list[str] | None = None) -> list[str]:
    """One line per group of a ``mark_best`` table whose best value is on the grid's edge."""
    rows = table[table.best_on_edge]
    lines = []
    for _, row in rows.iterrows():
        group = ", ".join(f"{k} {row[k]}" for k in (by or []))
        grid = table[(table[by] == row[by]).all(axis=1)][x] if by else table[x]
        side = "largest" if row[x] == grid.max() else "smallest"
        beyond = ("0 is as low as it goes: this training gains nothing from it" if row[x] == 0 and side == "smallest"
                  else "the optimum may lie beyond it")
        lines.append(f"{sweep}{f' ({group})' if group else ''}: best {x} {row[x]:g} is the grid's {side} value "
                     f"(grid {', '.join(f'{v:g}' for v in sorted(grid))}); {beyond}")
    return lines


def mark_edge_on_axes(ax, table: pd.DataFrame, x: str, y: str, color=None):
    """Draw the best point of a ``mark_best`` table: a star inside the grid, a red ring with a
    note where it sits on the grid's edge."""
    for _, row in table[table.best].iterrows():
        if row.best_on_edge:
            ax.plot(row[x], row[y], "o", ms=14, mfc="none", mec="red", mew=2, zorder=5)
            ax.annotate("best at grid edge", (row[x], row[y]), xytext=(8, -14), textcoords="offset points",
                        color="red", fontsize=8)
        else:
            ax.plot(row[x], row[y], "*", ms=13, color=color or "black", zorder=5)


def legend_with_best(ax, **kw):
    """The axes' legend plus what the star and the red ring mean."""
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], marker="*", ls="none", ms=11, color="black"),
                Line2D([], [], marker="o", ls="none", ms=11, mfc="none", mec="red", mew=2)]
    labels += ["best value, inside the grid", "best value, at the grid's edge"]
    ax.legend(handles, labels, **kw)
