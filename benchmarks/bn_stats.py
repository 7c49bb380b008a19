"""What BatchNorm's statistics do to a fine-tuned network's error: each seed of a finished stage trained
again at that stage's own lrs (its runs.tsv) and scored twice, with the running statistics the fit kept
(fastai's, transfer.finetune.bn_stats: running) and with them recomputed on the training images
(bn_stats: precise), each by the stage's own functions. Recomputing moves no weight
(tests/test_transfer.py), so the two fits are the same network scored two ways. Prints one row per family and budget: the lead strategy's error each way, mean ± sd over the
seeds and each seed's. runs.tsv keeps 6 significant digits of each lr, and a short fit at a high lr
is chaotic in it: a scratch seed's error can move by a few hundredths from that rounding alone, so
the running column is a fit like the stage's, not its own numbers.

    python benchmarks/bn_stats.py --images results/data/fashion_mnist/images.npz \
        --bodies results/ml-100k/transfer/bodies --stage results/ml-100k/transfer/finetune --budgets 25 50
"""

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

import numpy as np

from body_cut import lead_errors
from fractal_source import add_stage_arguments, stage_body, stage_inputs, stage_runs
from lesson5.experiments.transfer import Finetune, LearningRates, budget_tasks
from lesson5.experiments.transfer_plan import SCRATCH, finetune_params, lead_strategy


def stage_lrs(stage: Path, family: str, budget: int, strategy: str) -> LearningRates:
    """The lrs a stage's (family, budget) job trained its lead strategy with (every seed shares them)."""
    row = stage_runs(stage, family, budget, strategy).iloc[0]
    if family == SCRATCH:
        return LearningRates(scratch=row.scratch_lr)
    return LearningRates(head=row.head_lr, slice=(row.slice_lo, row.slice_hi))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_stage_arguments(ap)
    ap.add_argument("--stage", type=Path, required=True, help="a finished stage's transfer/finetune folder")
    ap.add_argument("--families", nargs="+", default=["fractal", "classes", "scratch"])
    ap.add_argument("--budgets", type=int, nargs="+", default=[25, 50])
    args = ap.parse_args()
    transfer, valid_seed, images, device = stage_inputs(args)
    print("family | labels/class | strategy | running: mean ± sd | precise: mean ± sd | "
          "per seed running / precise | seconds")
    for family in args.families:
        for budget in args.budgets:
            started = time.perf_counter()
            job = finetune_params(transfer, family, budget)
            ft = Finetune.from_config(job)
            strategy = lead_strategy(family, job["strategies"])
            lrs = stage_lrs(args.stage, family, budget, strategy)
            tasks = budget_tasks(images, job, budget, valid_seed)
            running, precise = (np.array(lead_errors(family, job, tasks, stage_body(args.bodies, family), budget,
                                                     device, replace(ft, bn_stats=stats), lrs))
                                for stats in ("running", "precise"))
            per_seed = " ".join(f"{a:.3f}/{b:.3f}" for a, b in zip(running, precise))
            print(f"{family} | {budget} | {strategy} | {running.mean():.3f} ± {running.std(ddof=1):.3f} | "
                  f"{precise.mean():.3f} ± {precise.std(ddof=1):.3f} | {per_seed} | "
                  f"{time.perf_counter() - started:.0f}", flush=True)


if __name__ == "__main__":
    main()
