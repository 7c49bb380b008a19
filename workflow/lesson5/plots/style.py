"""One look for every figure: headless backend, readable sizes, saved at a fixed dpi."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams.update(
    {
        "figure.dpi": 100,
        "savefig.dpi": 120,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.titlesize": 12,
        "axes.labelsize": 11,
        "legend.fontsize": 9,
        "figure.constrained_layout.use": True,
    }
)


def save(fig, path):
    fig.savefig(path)
    plt.close(fig)
