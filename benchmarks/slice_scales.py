"""What a body fine-tunes to with its head trained at the finder's lr: the frozen stage at the frozen
finder's pick, then discriminative fine-tuning with the slice's top at the unfrozen finder's pick times
each scale, every seed, on the stage's own images and bodies (the config's recipe; the first seed runs
the finders, as a finetune job does): the default's lr_select.head: finder over a wide grid of slice
scales, every scale on every seed. Prints one row per family and budget: the frozen stage's error, each
scale's valid and dev error, and, with --stage, a stage's own discriminative error (its runs.tsv) on the
same seeds, its kept scale and its frozen stage's error; a stage with lr_select.head: scaled shows where
one scale for both lrs left the head at chance.

    python benchmarks/slice_scales.py --images results/data/fashion_mnist/images.npz \
        --bodies results/ml-100k/transfer/bodies --stage results/transfer-head-scaled/transfer/finetune --budgets 5 10
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

import numpy as np

from fractal_source import add_stage_arguments, stage_body, stage_inputs, stage_runs
from lesson5.experiments.transfer import BudgetResult, Finetune, Snapshot, budget_tasks, find_lr
from lesson5.experiments.transfer_plan import DISCRIMINATIVE, finetune_params


def slice_errors(tasks: dict, body: str, ft: Finetune, budget: int, scales: list[float], device: str):
    """(frozen stage's error per seed, {scale: (valid error per seed, dev error per seed)}, the head's lr)."""
    frozen, by_scale, head, top = [], {m: ([], []) for m in scales}, None, None
    for seed, data in tasks.items():
        learner, found = ft.learner(data, body, seed, device), BudgetResult()
        frozen_epochs, unfrozen_epochs = ft.epochs(learner.n_batches())
        learner.freeze()
        head = head or find_lr(learner, ft, "frozen", budget, found)  # the first seed's finders, as a job's
        frozen.append(learner.fit_one_cycle(frozen_epochs, head).error_rate.iloc[-1])
        snapshot = Snapshot(learner)
        if top is None:
            learner.unfreeze()
            top = find_lr(learner, ft, "unfrozen", budget, found)
        for m, (valid, dev) in by_scale.items():
            snapshot.restore(learner)
            learner.unfreeze()
            valid.append(learner.fit_one_cycle(unfrozen_epochs, [top * m / ft.slice_ratio, top * m])
                         .error_rate.iloc[-1])
            dev.append(learner.evaluate(data.x_dev, data.y_dev)[0]["error_rate"])
    return frozen, by_scale, head


def stage_error(stage: Path | None, family: str, budget: int, seeds) -> str:
    if stage is None:
        return ""
    runs = stage_runs(stage, family, budget, DISCRIMINATIVE, seeds)
    return f"{runs.error_rate.mean():.3f} (x{runs.lr_scale.iloc[0]:g}, frozen {runs.frozen_error_rate.mean():.3f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_stage_arguments(ap)
    ap.add_argument("--families", nargs="+", default=["fractal", "classes"])
    ap.add_argument("--budgets", type=int, nargs="+", default=[5, 10])
    ap.add_argument("--scales", type=float, nargs="+", default=[1, 9, 27, 81, 243],
                    help="multiples of the unfrozen finder's pick for the slice's top")
    ap.add_argument("--stage", type=Path, help="the stage's transfer/finetune folder, to print its result beside")
    args = ap.parse_args()
    transfer, valid_seed, images, device = stage_inputs(args)
    print("family | labels/class | head lr | frozen stage | " +
          " | ".join(f"slice x{m:g} valid / dev" for m in args.scales) + " | the stage | seconds")
    for family in args.families:
        for budget in args.budgets:
            started = time.perf_counter()
            job = finetune_params(transfer, family, budget)
            tasks = budget_tasks(images, job, budget, valid_seed)
            frozen, by_scale, head = slice_errors(tasks, stage_body(args.bodies, family),
                                                  Finetune.from_config(job), budget, args.scales, device)
            cells = [f"{np.mean(valid):.3f} / {np.mean(dev):.3f}" for valid, dev in by_scale.values()]
            print(f"{family} | {budget} | {head:.3g} | {np.mean(frozen):.3f} | "
                  f"{' | '.join(cells)} | {stage_error(args.stage, family, budget, list(tasks))} | "
                  f"{time.perf_counter() - started:.0f}", flush=True)


if __name__ == "__main__":
    main()
