"""What leaving the biases out of weight decay costs the fast collab step, A/B in one process.

    python benchmarks/collab_step_cost.py --source DIR   (DIR holds u.data and u.item)

Two fast steps drive one model and optimizer on the main config: one with the biases exempt (the
default, bias_wd false: one Adam kernel call over the factors with decay, one over the 2,627
biases without) and one decaying every parameter in one call (the lesson's bias_wd true). They
alternate in chunks of --chunk batches, so this VM's drift from minute to minute hits both alike;
prints the median microseconds a step of each and their difference.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

import torch  # noqa: E402
from collab_speed import CONFIG, load_random_split  # noqa: E402  (this folder is on sys.path)

from lesson5.collab import CollabSettings, make_learner  # noqa: E402
from lesson5.train.fast_collab import DotBiasAdamStep  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, help="folder with the ml-100k files")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--chunk", type=int, default=100, help="batches per chunk")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    split, items = load_random_split(Path(args.source))
    settings = CollabSettings.from_config(CONFIG["collab"]["model"], bias_wd=False)
    learner, _ = make_learner(split, items, settings)
    opt = learner._optimizer(learner._lrs(settings.lr))
    opt.param_groups[0]["weight_decay"] = settings.wd  # read by the step without a decay: the lesson's path
    steps = {"biases exempt": DotBiasAdamStep(learner.model, opt, learner._manual_decay(opt)),
             "every parameter decayed": DotBiasAdamStep(learner.model, opt, None)}
    per_step = {name: [] for name in steps}
    for _ in range(args.epochs):
        batches = list(steps["biases exempt"].batches(learner.data.x_train, learner.data.y_train,
                                                      learner._order(), learner.bs))
        width = args.chunk * len(steps)
        for start in range(0, len(batches) - width + 1, width):
            for k, (name, step) in enumerate(steps.items()):
                chunk = batches[start + k * args.chunk: start + (k + 1) * args.chunk]
                t = time.perf_counter()
                for xb, yb in chunk:
                    step(xb, yb)
                per_step[name].append(1e6 * (time.perf_counter() - t) / len(chunk))
    medians = {name: statistics.median(v) for name, v in per_step.items()}
    for name, us in medians.items():
        print(f"{name}: median {us:.1f} us/step over {len(per_step[name])} chunks of {args.chunk}")
    diff = medians["biases exempt"] - medians["every parameter decayed"]
    steps_per_training = settings.epochs * learner.n_batches()
    print(f"exemption costs {diff:.1f} us/step = {diff * steps_per_training / 1e6:.2f} s over the "
          f"{steps_per_training} steps of a training")


if __name__ == "__main__":
    main()
