"""Learning-rate specs as fastai's ``Learner.lr_range`` reads them, expanded per layer group.

  * a number          -> every group gets it
  * [hi]  (slice(hi)) -> the last group hi, every earlier group hi / div (fastai >= 1.0.30: div 10;
                         the lecture's fastai <= 1.0.29 used 3)
  * [lo, hi] (slice(lo, hi)) -> geometric spacing lo .. hi over the groups (fastai's even_mults)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lesson5.errors import PipelineError


def expand_lr_spec(spec, n_groups: int, div: float = 10.0) -> list[float]:
    if n_groups < 1:
        raise PipelineError("a model needs at least one layer group")
    if isinstance(spec, slice):
        spec = [spec.stop] if spec.start is None else [spec.start, spec.stop]
    if not isinstance(spec, Sequence) or isinstance(spec, str):
        return [float(spec)] * n_groups
    if len(spec) == 1:
        hi = float(spec[0])
        return [hi / div] * (n_groups - 1) + [hi]
    if len(spec) == 2:
        lo, hi = map(float, spec)
        if n_groups == 1:
            raise PipelineError(f"lr spec [{lo}, {hi}] (slice(lo, hi)) needs at least two layer groups")
        step = (hi / lo) ** (1 / (n_groups - 1))
        return [lo * step**i for i in range(n_groups)]
    raise PipelineError(f"lr spec {spec!r}: give a number, [hi] or [lo, hi]")


LR_PICKS = ("minimum/10", "rise/10", "steepest")


def trim_sweep(sweep, skip_start: int = 10, skip_end: int = 5):
    """An lr finder's sweep without its first skip_start and last skip_end points, as fastai's
    recorder.plot reads it; a sweep too short for that (it diverged early) is kept whole."""
    return sweep.iloc[skip_start: len(sweep) - skip_end] if len(sweep) > skip_start + skip_end + 2 else sweep


def suggest_lr(sweep, pick: str = "minimum/10", skip_start: int = 10, skip_end: int = 5, rise: float = 0.2) -> float:
    """An lr from an lr finder's sweep (columns lr, smoothed_loss), by one of the lesson's rules of thumb:

    * "minimum/10": the lr at the lowest smoothed loss divided by 10 ("bottom divided by 10");
    * "rise/10": the lr from which the smoothed loss stays more than ``rise`` above its lowest value so
      far, divided by 10 ("well before it gets worse"). On a U-shaped curve it lands near
      minimum/10; on a curve that is flat until it rises (a body unfrozen after its head has
      trained) it finds the rise, where the flat part's minimum is noise. ``rise`` must clear the
      flat part's noise (docs/benchmarks.md, transfer section, measures how far it goes);
    * "steepest": the lr where the smoothed loss falls fastest per decade of lr.

    The first skip_start and last skip_end points are ignored, as fastai's recorder.plot does."""
    if pick not in LR_PICKS:
        raise PipelineError(f"unknown lr pick {pick!r}; choose one of {LR_PICKS}")
    part = trim_sweep(sweep, skip_start, skip_end)
    lrs, losses = part.lr.to_numpy(dtype=float), part.smoothed_loss.to_numpy(dtype=float)
    if pick == "minimum/10":
        return float(lrs[losses.argmin()] / 10)
    if pick == "rise/10":
        above = losses > (1 + rise) * np.minimum.accumulate(losses)
        within = np.flatnonzero(~above)  # the last point still near the lowest loss so far
        start = within[-1] + 1 if len(within) else 0
        return float(lrs[min(start, len(lrs) - 1)] / 10)
    slope = np.gradient(losses, np.log10(lrs))
    return float(lrs[slope.argmin()])
