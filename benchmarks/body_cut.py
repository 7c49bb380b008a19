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
import torch

from fractal_source import merged_config
from lesson5.experiments.transfer import Finetune, budget_tasks, finetune_budget
from lesson5.experiments.transfer_plan import SCRATCH, finetune_params, lead_strategy
from lesson5.models.vision import CUTS
from lesson5.train.device import resolve_device


def lead_errors(family: str, job: dict, tasks: dict, bodies: Path, budget: int, device: str) -> list[float]:
    """Every seed's error of the family's lead strategy at one budget, as its finetune job would train it."""
    body = None if family == SCRATCH else str(bodies / family / "body.pt")
    lead = lead_strategy(family, job["strategies"])
    result = finetune_budget(family, tasks, body, Finetune.from_config(job), budget, device, [lead])
    return [r["error_rate"] for r in result.runs if r["strategy"] == lead]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True, help="the stage's images.npz (rule prepare_images)")
    ap.add_argument("--bodies", required=True, help="a folder of <family>/body.pt (the stage's transfer/bodies)")
    ap.add_argument("--families", nargs=2, default=["fractal", SCRATCH], help="the two families compared")
    ap.add_argument("--cuts", nargs="+", choices=CUTS, default=list(CUTS))
    ap.add_argument("--budgets", type=int, nargs="+", default=[10, 25, 50])
    ap.add_argument("--seeds", type=int, nargs="+", help="default: the config's")
    ap.add_argument("--config", help="a variant config whose transfer keys replace the default's")
    args = ap.parse_args()
    torch.set_num_threads(1)
    config = merged_config(args.config)
    transfer, valid_seed = config["transfer"], config["seed"]  # the seed the finetune jobs draw validation with
    if args.seeds:
        transfer["seeds"] = args.seeds
    with np.load(args.images, allow_pickle=False) as npz:
        images = dict(npz)
    a, b = args.families
    device = str(resolve_device(transfer["device"]))
    tasks = {budget: budget_tasks(images, finetune_params(transfer, a, budget), budget, valid_seed)
             for budget in args.budgets}
    print(f"cut | labels/class | {a} | {b} | {a} - {b} (seeds better) | seconds")
    for cut in args.cuts:
        for budget in args.budgets:
            started = time.perf_counter()
            errors = {f: lead_errors(f, finetune_params({**transfer, "cut": cut}, f, budget), tasks[budget],
                                     Path(args.bodies), budget, device) for f in (a, b)}
            diff = np.subtract(errors[a], errors[b])
            print(f"{cut} | {budget} | {np.mean(errors[a]):.3f} | {np.mean(errors[b]):.3f} | "
                  f"{diff.mean():+.3f} ({(diff < 0).sum()}/{len(diff)}) | {time.perf_counter() - started:.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
