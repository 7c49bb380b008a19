"""Where a fine-tuning job's time goes: the lr finders against the stages they pick lrs for, per label
budget, on one thread with the config's recipe (finder settings, stage epochs, min_steps, precision,
convolutions).
The body's weights do not change the cost, so a random ResNet-34 stands in for a pretrained one.

    python benchmarks/finetune_parts.py --data DIR_OF_UNPACKED_IDX_FILES --budgets 5 25 100
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

import torch

from fractal_source import transfer_recipe
from lesson5.data.idx import load_idx_dataset, split_train_valid
from lesson5.data.image_tasks import target_tasks
from lesson5.experiments.transfer import BudgetResult, Finetune, chosen_lr, slice_lrs, timed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a folder of Fashion-MNIST's IDX files")
    ap.add_argument("--budgets", type=int, nargs="+", default=[5, 25, 100])
    ap.add_argument("--n-valid", type=int, default=10000, help="training images held out as the valid split")
    ap.add_argument("--precision", choices=["fp32", "bf16"], help="default: the config's, as a job resolves it")
    ap.add_argument("--config", help="a variant config whose transfer keys replace the default's")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = transfer_recipe(args.config)
    ft = Finetune.from_config({**cfg, "precision": args.precision or cfg["precision"]})  # auto: as a job resolves it
    arrays = split_train_valid(load_idx_dataset(args.data), args.n_valid, 0)
    tasks = target_tasks(arrays, cfg["target_classes"], args.budgets, [0], cfg["valid_per_class"], 0, cfg["size"])
    print("labels/class | frozen finder | frozen stage | unfrozen finder | unfrozen stage (seconds, iterations)")
    for budget in args.budgets:
        learner, sweeps = ft.learner(tasks[0][budget], "scratch", 0, "cpu"), BudgetResult()
        frozen_epochs, unfrozen_epochs = ft.epochs(learner.n_batches())
        learner.freeze()
        # the job's own steps (finetune_from_body), each timed: the finders run where the config says auto
        head, t_find = timed(chosen_lr, learner, ft, "frozen", ft.lr, budget, sweeps)
        _, t_frozen = timed(learner.fit_one_cycle, frozen_epochs, head)
        learner.unfreeze()
        lrs, t_find2 = timed(slice_lrs, learner, ft, budget, sweeps)
        _, t_unfrozen = timed(learner.fit_one_cycle, unfrozen_epochs, list(lrs))
        its = {s.finder.iloc[0]: len(s) for s in sweeps.sweeps}  # a fixed lr runs no finder
        print(f"{budget} | {t_find:.1f} s ({its.get('frozen', 0)}) | {t_frozen:.1f} s ({frozen_epochs} epochs) | "
              f"{t_find2:.1f} s ({its.get('unfrozen', 0)}) | {t_unfrozen:.1f} s ({unfrozen_epochs} epochs)",
              flush=True)


if __name__ == "__main__":
    main()
