"""Where the body should end (transfer.cut): fine-tune a pretrained body and scratch with the networks
cut after layer2, layer3 or layer4, as the stage's finetune jobs do (the config's recipe, lr finder and
lr selection on the dev set), on the stage's own images and bodies. Prints one table row per cut and
budget: each family's mean error and the first's paired wins over the second.

    python benchmarks/body_cut.py --images results/data/fashion_mnist/images.npz \
        --bodies results/ml-100k/transfer/bodies --cuts layer2 layer3 layer4 --budgets 10 25 50
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

import numpy as np

from fractal_source import add_stage_arguments, stage_body, stage_inputs
from lesson5.experiments.transfer import Finetune, LearningRates, budget_tasks, finetune_budget
from lesson5.experiments.transfer_plan import SCRATCH, finetune_params, lead_strategy
from lesson5.models.vision import CUTS


def lead_errors(family: str, job: dict, tasks: dict, body: str | None, budget: int, device: str,
                ft: Finetune | None = None, lrs: LearningRates | None = None) -> list[float]:
    """Every seed's error of the family's lead strategy at one budget, as its finetune job would train it
    (``body``: the family's body.pt, None for scratch; ``ft``: the job's recipe, changed; ``lrs``: known
    lrs, no finder)."""
    lead = lead_strategy(family, job["strategies"])
    result = finetune_budget(family, tasks, body, ft or Finetune.from_config(job), budget, device, [lead], lrs=lrs)
    return [r["error_rate"] for r in result.runs if r["strategy"] == lead]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_stage_arguments(ap)
    ap.add_argument("--families", nargs=2, default=["fractal", SCRATCH], help="the two families compared")
    ap.add_argument("--cuts", nargs="+", choices=CUTS, default=list(CUTS))
    ap.add_argument("--budgets", type=int, nargs="+", default=[10, 25, 50])
    args = ap.parse_args()
    transfer, valid_seed, images, device = stage_inputs(args)
    a, b = args.families
    tasks = {budget: budget_tasks(images, finetune_params(transfer, a, budget), budget, valid_seed)
             for budget in args.budgets}
    print(f"cut | labels/class | {a} | {b} | {a} - {b} (seeds better) | seconds")
    for cut in args.cuts:
        for budget in args.budgets:
            started = time.perf_counter()
            errors = {f: lead_errors(f, finetune_params({**transfer, "cut": cut}, f, budget), tasks[budget],
                                     stage_body(args.bodies, f), budget, device) for f in (a, b)}
            diff = np.subtract(errors[a], errors[b])
            print(f"{cut} | {budget} | {np.mean(errors[a]):.3f} | {np.mean(errors[b]):.3f} | "
                  f"{diff.mean():+.3f} ({(diff < 0).sum()}/{len(diff)}) | {time.perf_counter() - started:.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
