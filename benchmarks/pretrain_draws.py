"""How much one pretraining draw moves a body's verdicts: pretrain one of the stage's own bodies again
from the stage's source images with other seeds, as rule pretrain_body does, then fine-tune each as
the body's finetune jobs do (its lead strategy, the config's recipe and lr selection) on the stage's
images. The stage's seeds vary the labelled images and the fine-tuning, never the pretraining, so
two bodies in one stage are two draws. Prints, per budget, one row per draw (its error beside the
stage's body and scratch, from their runs.tsv, and the seeds on which it beats each), then a row of
every draw with the stage's own: the recipe's mean error and its pairs better than scratch.

    python benchmarks/pretrain_draws.py --images results/data/fashion_mnist/images.npz \
        --fractals results/ml-100k/transfer/fractal/images.npz --family fractal --pretrain-seeds 0 1 2 \
        --stage results/ml-100k/transfer/finetune --bodies /tmp/draws
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

import numpy as np

from body_cut import lead_errors
from fractal_source import stage_inputs, stage_runs
from lesson5.experiments.transfer import budget_tasks, pretrain_own_body
from lesson5.experiments.transfer_plan import (BODY_SOURCES, CLASS_SOURCE, FRACTAL_SOURCE, SCRATCH, finetune_params,
                                              lead_strategy, pretrain_params)
from lesson5.models.vision import save_body


def pretrain_again(transfer: dict, family: str, images: dict, fractals: str, seed: int, device: str, path: Path):
    """The family's body pretrained as its pretrain_body job would be with ``seed``, saved to ``path``."""
    cfg = pretrain_params(transfer, family)
    arrays = {CLASS_SOURCE: images}
    if fractals:
        with np.load(fractals, allow_pickle=False) as npz:
            arrays[FRACTAL_SOURCE] = dict(npz)
    learner, history = pretrain_own_body(family, cfg, arrays, seed, device)
    print("source valid error by epoch", " / ".join(f"{e:.3f}" for e in history.error_rate), flush=True)
    save_body(learner.model.cpu(), path, source=f"{history.source.iloc[0]}, pretraining seed {seed}", size=cfg["size"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True, help="the stage's images.npz (rule prepare_images)")
    ap.add_argument("--seeds", type=int, nargs="+", help="fine-tuning seeds; default: the config's")
    ap.add_argument("--config", help="the stage's variant config, whose transfer keys replace the default's")
    ap.add_argument("--fractals", help="the stage's fractal images.npz (a body that learns the fractals)")
    ap.add_argument("--family", default="mixed", choices=sorted(BODY_SOURCES), help="one of the stage's own bodies")
    ap.add_argument("--pretrain-seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--stage", type=Path, required=True, help="the finished stage's transfer/finetune folder")
    ap.add_argument("--bodies", type=Path, required=True,
                    help="where each draw's body is saved as <family>-seed<seed>.pt (or read, with --reuse)")
    ap.add_argument("--reuse", action="store_true", help="fine-tune a draw's body found in --bodies, pretraining none")
    ap.add_argument("--budgets", type=int, nargs="+", default=[5, 10, 25, 50, 100])
    args = ap.parse_args()
    if FRACTAL_SOURCE in BODY_SOURCES[args.family] and not args.fractals:
        ap.error(f"--fractals: the {args.family} body learns the fractal source")
    transfer, valid_seed, images, device = stage_inputs(args)
    bodies = {seed: args.bodies / f"{args.family}-seed{seed}.pt" for seed in args.pretrain_seeds}
    args.bodies.mkdir(parents=True, exist_ok=True)
    for seed, path in bodies.items():
        if not (args.reuse and path.exists()):
            started = time.perf_counter()
            pretrain_again(transfer, args.family, images, args.fractals, seed, device, path)
            print(f"pretraining seed {seed}: pretrained in {time.perf_counter() - started:.0f} s", flush=True)
    print(f"labels/class | {args.family} body | error | the stage's {args.family} | scratch | "
          "better than the stage's / than scratch (seeds) | seconds")
    for budget in args.budgets:
        job = finetune_params(transfer, args.family, budget)
        lead = lead_strategy(args.family, job["strategies"])
        seeds = transfer["seeds"]  # the stage's runs of the seeds fine-tuned here, paired with them
        stage = stage_runs(args.stage, args.family, budget, lead, seeds).error_rate.to_numpy()
        scratch = stage_runs(args.stage, SCRATCH, budget, SCRATCH, seeds).error_rate.to_numpy()
        tasks, draws = budget_tasks(images, job, budget, valid_seed), [stage]
        for seed, path in bodies.items():
            started = time.perf_counter()
            drawn = np.array(lead_errors(args.family, job, tasks, str(path), budget, device))
            draws.append(drawn)
            print(f"{budget} | pretraining seed {seed} | {drawn.mean():.3f} ({' '.join(f'{e:.3f}' for e in drawn)}) | "
                  f"{stage.mean():.3f} | {scratch.mean():.3f} | {(drawn < stage).sum()} / {(drawn < scratch).sum()} "
                  f"of {len(drawn)} | {time.perf_counter() - started:.0f}", flush=True)
        pairs = np.stack(draws)  # draws x seeds, each seed paired with scratch's run of the same seed
        print(f"{budget} | the stage's and {len(bodies)} more | {pairs.mean():.3f} | {stage.mean():.3f} | "
              f"{scratch.mean():.3f} | {(pairs < scratch).sum()} of {pairs.size} pairs better than scratch | ",
              flush=True)


if __name__ == "__main__":
    main()
