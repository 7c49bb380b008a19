"""What BatchNorm's statistics do to a fine-tuned network's error: each seed of a finished stage trained
again at that stage's own lrs (its runs.tsv) and scored twice, with the running statistics the fit kept
(fastai's, transfer.finetune.bn_stats: running) and with them recomputed on the training images
(bn_stats: precise). Recomputing moves no weight (tests/test_transfer.py), so one fit gives both
scores. Prints one row per family and budget: the lead strategy's error each way, mean ± sd over the
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
import pandas as pd

from fractal_source import add_stage_arguments, stage_inputs
from lesson5.experiments.transfer import Finetune, LearningRates, budget_tasks, continue_from_frozen
from lesson5.experiments.transfer_plan import SCRATCH, finetune_params, lead_strategy


def stage_lrs(stage: Path, family: str, budget: int, strategy: str) -> LearningRates:
    """The lrs a stage's (family, budget) job trained its lead strategy with (every seed shares them)."""
    runs = pd.read_csv(stage / family / f"budget~{budget}" / "runs.tsv", sep="\t")
    row = runs[runs.strategy == strategy].iloc[0]
    if family == SCRATCH:
        return LearningRates(scratch=row.scratch_lr)
    return LearningRates(head=row.head_lr, slice=(row.slice_lo, row.slice_hi))


def both_errors(learner, family: str, ft: Finetune, lrs: LearningRates, strategy: str) -> tuple[float, float]:
    """(error with the running statistics, error with precise ones) of one seed's lead strategy, trained
    as its job trains it (scratch unfrozen for both stages' epochs; a body's frozen stage, then
    ``continue_from_frozen``), with ``ft``'s bn_stats: running."""
    frozen_epochs, unfrozen_epochs = ft.epochs(learner.n_batches())
    if family == SCRATCH:
        learner.unfreeze()
        history = learner.fit_one_cycle(frozen_epochs + unfrozen_epochs, lrs.scratch)
    else:
        learner.freeze()
        learner.fit_one_cycle(frozen_epochs, lrs.head)
        _, history = continue_from_frozen(learner, strategy, unfrozen_epochs, lrs)
    learner.recalibrate_bn()
    return history.error_rate.iloc[-1], learner.validate()[0]["error_rate"]


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
            ft = replace(Finetune.from_config(job), bn_stats="running")  # each seed is recalibrated here
            strategy = lead_strategy(family, job["strategies"])
            lrs = stage_lrs(args.stage, family, budget, strategy)
            body = "scratch" if family == SCRATCH else str(Path(args.bodies) / family / "body.pt")
            errors = np.array([both_errors(ft.learner(data, body, seed, device), family, ft, lrs, strategy)
                               for seed, data in budget_tasks(images, job, budget, valid_seed).items()])
            running, precise = errors.T
            print(f"{family} | {budget} | {strategy} | {running.mean():.3f} ± {running.std(ddof=1):.3f} | "
                  f"{precise.mean():.3f} ± {precise.std(ddof=1):.3f} | "
                  f"{' '.join(f'{a:.3f}/{b:.3f}' for a, b in errors)} | {time.perf_counter() - started:.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
