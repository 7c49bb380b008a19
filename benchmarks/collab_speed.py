"""Time the main collaborative-filtering config on ml-100k's random split with each training step
(autograd, and the hand-derived ``analytic`` gradient of lesson5/train/dot_step.py): one run, and one
configuration's seeds trained together as one stacked model (what a train_collab job does).

    python benchmarks/collab_speed.py --source DIR   (DIR holds u.data and u.item)

Prints the per-seed valid RMSE, the training times and the share of them spent inside the
optimizer's step() (torch's step hooks), then one line per step:
    step=<step> rmse=<seed 0's valid RMSE> train_seconds=<one run> config_seconds=<all seeds stacked>
Start-up (imports) and data loading are timed separately and not counted. The two steps alternate,
training by training, --repeats times each (fresh models, same seeds: same RMSE), and the medians are
printed, because this shared VM's speed drifts from one run to the next.
"""

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

import torch  # noqa: E402
import torch._dynamo  # noqa: E402,F401  torch.optim imports it lazily on first use (~1.6 s): start-up, not training
import yaml  # noqa: E402

from lesson5.data.movielens import get_release  # noqa: E402
from lesson5.data.schemas import parse_release  # noqa: E402
from lesson5.data.splits import random_split  # noqa: E402
from lesson5.experiments.collab import CollabSettings, train  # noqa: E402
from lesson5.train.optim import optimizer_step_seconds  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
STEPS = ("autograd", "analytic")


def load_random_split(source: Path):
    """The ml-100k files in ``source``, validated, and the default config's random split; (split, items)."""
    ratings, items = parse_release(get_release("ml-100k"), source / "u.data", source / "u.item", source / "u.user")
    return random_split(ratings.reset_index(drop=True), CONFIG["movielens"]["valid_pct"],
                        CONFIG["movielens"]["split_seed"]), items


def timed_trainings(split, items, settings, seeds, repeats):
    """{step: (median seconds, [seconds], [valid RMSE per seed], median share of the time inside
    the optimizer's step())} over ``repeats`` trainings of ``seeds`` together with each step, the
    steps alternating."""
    times = {step: [] for step in STEPS}
    shares = {step: [] for step in STEPS}
    finals = {step: set() for step in STEPS}
    for _ in range(repeats):
        for step in STEPS:
            start = time.perf_counter()
            with optimizer_step_seconds() as inside:
                _, runs = train(split, items, replace(settings, step=step), seeds)
            times[step].append(time.perf_counter() - start)
            shares[step].append(inside["seconds"] / times[step][-1])
            finals[step].add(tuple(round(float(r.history.valid_rmse.iloc[-1]), 6) for r in runs))
    if any(len(f) != 1 for f in finals.values()):
        raise SystemExit(f"repeats disagree: {finals}")
    return {step: (statistics.median(times[step]), times[step], list(finals[step].pop()),
                   statistics.median(shares[step])) for step in STEPS}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, help="folder with the ml-100k files")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seeds", type=int, nargs="+", default=CONFIG["collab"]["seeds"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)

    start = time.perf_counter()
    split, items = load_random_split(Path(args.source))
    settings = CollabSettings.from_config(CONFIG["collab"]["model"])
    print(f"torch {torch.__version__}, {args.threads} thread(s), {settings}")
    print(f"load + validate + split: {time.perf_counter() - start:.2f} s")
    one = timed_trainings(split, items, settings, args.seeds[:1], args.repeats)
    stacked = timed_trainings(split, items, settings, args.seeds, args.repeats)
    steps = settings.epochs * (int(len(split) * (1 - CONFIG["movielens"]["valid_pct"])) // settings.bs)
    for step in STEPS:
        (t_one, one_times, one_rmse, one_share), (t_all, all_times, rmses, all_share) = one[step], stacked[step]
        print(f"{step}: one run (seed {args.seeds[0]}): " + ", ".join(f"{t:.2f}" for t in one_times) +
              f" s; median {t_one:.2f} s = {1e6 * t_one / steps:.0f} us/step, {one_share:.0%} in opt.step()")
        print(f"{step}: {len(args.seeds)} seeds stacked: " + ", ".join(f"{t:.2f}" for t in all_times) +
              f" s; median {t_all:.2f} s = {t_all / len(args.seeds):.2f} s per run, {all_share:.0%} in opt.step()")
        print(f"{step}: valid RMSE per seed: " + ", ".join(f"{s}: {r:.4f}" for s, r in zip(args.seeds, rmses)) +
              f" (alone: {one_rmse[0]:.4f})")
    for step in STEPS:
        print(f"step={step} rmse={stacked[step][2][0]:.4f} train_seconds={one[step][0]:.2f} "
              f"config_seconds={stacked[step][0]:.2f}")


if __name__ == "__main__":
    main()
