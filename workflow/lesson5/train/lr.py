"""Learning-rate specs as fastai's ``Learner.lr_range`` reads them, expanded per layer group.

  * a number          -> every group gets it
  * [hi]  (slice(hi)) -> the last group hi, every earlier group hi / div (fastai >= 1.0.30: div 10;
                         the lecture's fastai <= 1.0.29 used 3)
  * [lo, hi] (slice(lo, hi)) -> geometric spacing lo .. hi over the groups (fastai's even_mults)
"""

from __future__ import annotations

from collections.abc import Sequence

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
