"""Time the main collaborative-filtering config on ml-100k's random split: one run, and one
configuration's seeds trained together as one stacked model (what a train_collab job does).

    python benchmarks/collab_speed.py --source DIR   (DIR holds u.data and u.item)

Prints the per-seed valid RMSE and the training times, then one line:
    rmse=<seed 0's valid RMSE> train_seconds=<one run> config_seconds=<all seeds stacked>
Start-up (imports) and data loading are timed separately and not counted. Each training is repeated
(--repeats, fresh models, same seeds: same RMSE) and the medians are printed, because this shared
VM's speed drifts from one run to the next. To compare with another revision of the project, check it
out in a worktree and alternate the two scripts in one loop (see docs/benchmarks.md).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

import torch  # noqa: E402
import torch._dynamo  # noqa: E402,F401  torch.optim imports it lazily on first use (~1.6 s): start-up, not training
import yaml  # noqa: E402

from lesson5.data.movielens import get_release  # noqa: E402
from lesson5.data.schemas import parse_release  # noqa: E402
from lesson5.data.splits import random_split  # noqa: E402
from lesson5.experiments.collab import CollabSettings, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def load_random_split(source: Path):
    """The ml-100k files in ``source``, validated, and the default config's random split; (split, items)."""
    ratings, items = parse_release(get_release("ml-100k"), source / "u.data", source / "u.item", source / "u.user")
    return random_split(ratings.reset_index(drop=True), CONFIG["movielens"]["valid_pct"],
                        CONFIG["movielens"]["split_seed"]), items


def timed_training(split, items, settings, seeds, repeats):
    """(median seconds, [valid RMSE per seed]) over ``repeats`` trainings of ``seeds`` together."""
    times, finals = [], set()
    for _ in range(repeats):
        start = time.perf_counter()
        _, runs = train(split, items, settings, seeds)
        times.append(time.perf_counter() - start)
        finals.add(tuple(round(float(r.history.valid_rmse.iloc[-1]), 6) for r in runs))
    if len(finals) != 1:
        raise SystemExit(f"repeats disagree: {finals}")
    return statistics.median(times), times, list(finals.pop())


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
    one, one_times, one_rmse = timed_training(split, items, settings, args.seeds[:1], args.repeats)
    stacked, stacked_times, rmses = timed_training(split, items, settings, args.seeds, args.repeats)
    steps = settings.epochs * (int(len(split) * (1 - CONFIG["movielens"]["valid_pct"])) // settings.bs)
    print(f"one run (seed {args.seeds[0]}): " + ", ".join(f"{t:.2f}" for t in one_times) +
          f" s; median {one:.2f} s = {1e6 * one / steps:.0f} us/step")
    print(f"{len(args.seeds)} seeds stacked: " + ", ".join(f"{t:.2f}" for t in stacked_times) +
          f" s; median {stacked:.2f} s = {stacked / len(args.seeds):.2f} s per run")
    print("valid RMSE per seed: " + ", ".join(f"{s}: {r:.4f}" for s, r in zip(args.seeds, rmses)) +
          f" (alone: {one_rmse[0]:.4f})")
    print(f"rmse={rmses[0]:.4f} train_seconds={one:.2f} config_seconds={stacked:.2f}")


if __name__ == "__main__":
    main()
