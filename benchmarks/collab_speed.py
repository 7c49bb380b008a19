"""Time the main collaborative-filtering config on ml-100k's random split.

    python benchmarks/collab_speed.py --source DIR   (DIR holds u.data and u.item)

Prints where the time goes, then one line: rmse=<valid RMSE> train_seconds=<5 epochs, wall>.
Start-up (imports) and data loading are timed separately and not counted in train_seconds. The
training is repeated (--repeats, fresh model, same seed: same RMSE) and train_seconds is the
median, because this shared VM's speed drifts by ±20% from one run to the next.
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
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from lesson5.collab import CollabSettings, make_learner  # noqa: E402
from lesson5.data.movielens import get_release, parse_items, parse_ratings  # noqa: E402
from lesson5.data.schemas import validate_items, validate_ratings  # noqa: E402
from lesson5.data.splits import random_split  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def load_random_split(source: Path):
    """The ml-100k files in ``source``, validated, and the default config's random split; (split, items)."""
    ml = get_release("ml-100k")
    ratings = validate_ratings(parse_ratings(source / "u.data", ml), ml, "u.data")
    items = validate_items(parse_items(source / "u.item", ml), "u.item")
    return random_split(ratings, CONFIG["movielens"]["valid_pct"], CONFIG["movielens"]["split_seed"]), items


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, help="folder with the ml-100k files")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--autograd", action="store_true",
                        help="train through autograd + AdamW.step() instead of the fast collab step")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)

    t0 = time.perf_counter()
    split, items = load_random_split(Path(args.source))
    load_seconds = time.perf_counter() - t0
    settings = CollabSettings.from_config(CONFIG["collab"]["model"], seed=args.seed)
    times, rmses = [], set()
    for _ in range(args.repeats):
        t1 = time.perf_counter()
        learner, data = make_learner(split, items, settings)
        learner.fast_step = not args.autograd
        t2 = time.perf_counter()
        history = learner.fit_one_cycle(settings.epochs, settings.lr)
        times.append(time.perf_counter() - t2)
        rmses.add(history.valid_rmse.iloc[-1])
    train_seconds = statistics.median(times)
    steps = settings.epochs * learner.n_batches()

    path = "autograd + AdamW.step()" if args.autograd else "fast collab step"
    print(f"torch {torch.__version__}, {args.threads} thread(s), {path}, {settings}")
    print(f"load + validate + split: {load_seconds:.2f} s; tensors + model: {t2 - t1:.2f} s")
    print(history.to_string(index=False))
    print(f"{args.repeats} trainings: " + ", ".join(f"{t:.2f}" for t in times) + " s; median "
          f"{train_seconds:.2f} s = {1e6 * train_seconds / steps:.0f} us/step over {steps} steps "
          f"(validation included); distinct final RMSEs across repeats: {len(rmses)}")

    # What dominates a step: profile one more epoch of the same learner.
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        learner.fit_one_cycle(1, settings.lr)
    print("\nTop operators of one profiled epoch (profiler overhead included):")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
    print(f"rmse={history.valid_rmse.iloc[-1]:.4f} train_seconds={train_seconds:.2f}")


if __name__ == "__main__":
    main()
