"""How the MovieLens stages' cost grows with the data: parse, validate, split and one training epoch on
synthetic releases of 100k, 1M, 10M and 25M ratings (ml-25m's CSV format, planted ratings), each stage
in its own process so that its peak memory is its own.

    python benchmarks/movielens_scale.py [--sizes 100k 1M 10M 25M] [--work /tmp/ml-scale] [--figure F]

Prints one row per size and stage (seconds, peak RSS in MB) and draws both against the number of
ratings on log-log axes. Releases already written under
--work are reused. Training uses config/movielens-25m.yaml's collab settings over the default config's
(``--collab step=autograd`` times the autograd step instead of the analytic one); the train row also
gives opt_step_share (the part of the epochs spent inside the optimizer's step()) and the distinct
users and items a batch touches; --epochs > 1 also prints
the valid RMSE against the generator's noise floor (synthetic_truth.json).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

FULL = {"n_ratings": 25_000_095, "n_users": 162_541, "n_items": 59_047}  # ml-25m as published
SIZES = {"10k": 10_000, "100k": 100_000, "250k": 250_000, "1M": 1_000_000, "10M": 10_000_000, "25M": 25_000_095}


def shape(n_ratings: int) -> tuple[int, int]:
    """Users in proportion to ratings (ml-25m's 154 per user), items sublinearly (a catalogue grows
    slower than its audience)."""
    scale = n_ratings / FULL["n_ratings"]
    return max(50, round(FULL["n_users"] * scale)), max(100, round(FULL["n_items"] * scale ** 0.6))


def write(folder: Path, n_ratings: int, seed: int = 0) -> Path:
    from lesson5.data.synthetic import TRUTH, write_release

    if not (folder / TRUTH).exists():
        users, items = shape(n_ratings)
        write_release(folder, "ml-25m", users, items, n_ratings, seed=seed, sigma=0.6, rank=8)
    return folder


# ----- the stages, each run in a child process ------------------------------------------------------
def stage_parse(folder: Path, out: Path) -> dict:
    """What parse_movielens does: read (fast path), validate (schema, cross-table), write parquet."""
    from lesson5.data.movielens import get_release, read_items, read_ratings
    from lesson5.data.schemas import ratings_schema, schema_problems, unknown
    from lesson5.data.tables import Problems

    release, problems, folder, out = get_release("ml-25m"), Problems(), Path(folder), Path(out)
    start = time.perf_counter()
    ratings = read_ratings(folder / "ratings.csv", release.ratings, problems)
    items = read_items(folder / "movies.csv", release, problems)
    parsed = time.perf_counter()
    ratings = schema_problems(ratings, ratings_schema(release), "ratings.csv", problems)
    unknown(problems, "ratings.csv", ratings, "item", items["item"].astype("int64"), "items table")
    assert not problems, problems.report()
    validated = time.perf_counter()
    ratings.reset_index(drop=True).to_parquet(out / "ratings.parquet", index=False)
    return {"parse": parsed - start, "validate": validated - parsed, "write": time.perf_counter() - validated}


def stage_split(out: Path) -> dict:
    import pandas as pd

    from lesson5.data.splits import random_split

    out, start = Path(out), time.perf_counter()
    random_split(pd.read_parquet(out / "ratings.parquet"), 0.1, 42).to_parquet(out / "split.parquet", index=False)
    return {"split": time.perf_counter() - start}


def stage_train(out: Path, epochs: int, threads: int, truth: dict, overrides: dict | None = None) -> dict:
    import torch
    import yaml

    from lesson5.data.collab_data import collab_tensors, read_split
    from lesson5.experiments.collab import CollabSettings, train_on
    from lesson5.train.optim import optimizer_step_seconds

    out = Path(out)
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    def model_config(name):
        return yaml.safe_load((ROOT / "config" / name).read_text())["collab"]["model"]

    # what the pipeline runs: the default config, config/movielens-25m.yaml merged over it
    config = {**model_config("config.yaml"), **model_config("movielens-25m.yaml")}
    settings = CollabSettings.from_config(config, **{"epochs": epochs, **(overrides or {})})
    start = time.perf_counter()
    split = read_split(out / "split.parquet")
    data = collab_tensors(split, settings.item_key)
    del split  # as the train_collab job does
    read_and_tensors = time.perf_counter() - start
    touched = distinct_rows_per_batch(data.x_train, settings.bs)
    with optimizer_step_seconds() as inside:
        _, runs = train_on(data, settings, [0])
    history = runs[0].history
    return {"epoch": float(history.seconds.iloc[0]), "read_and_tensors": read_and_tensors,
            "valid_rmse": float(history.valid_rmse.iloc[-1]), "oracle_rmse": truth["oracle_rmse"],
            "valid_rmse_by_epoch": [round(float(v), 4) for v in history.valid_rmse],
            "sigma": truth["sigma"], "opt_step_share": round(inside["seconds"] / history.seconds.sum(), 3), **touched}


def distinct_rows_per_batch(x, bs: int, n_batches: int = 200) -> dict:
    """Mean distinct users and items in a shuffled batch: the rows a lazy optimizer step updates."""
    import torch

    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:bs * n_batches]
    batches = x[order].split(bs)
    return {f"distinct_{name}_per_batch": round(sum(len(b[:, k].unique()) for b in batches) / len(batches))
            for k, name in enumerate(("users", "items"))}


# A small launcher process starts each stage and reports its peak RSS: a stage forked straight from
# this process would count the pages it shared with it (a just-written release: GBs), since Linux
# keeps a process's high-water mark across exec.
LAUNCHER = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, text=True); "
            "print(p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ''); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(p.returncode)")


def child(stage: str, *args) -> tuple[dict, float]:
    """Run ``stage`` in a fresh process; (its result, its own peak RSS in MB)."""
    code = f"import json, sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import movielens_scale as m; " \
           f"print(json.dumps(m.stage_{stage}(*json.loads(sys.argv[1]))))"
    argv = [sys.executable, "-c", code, json.dumps([str(a) if isinstance(a, Path) else a for a in args])]
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, *argv], stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "workflow")})
    if proc.returncode:
        raise SystemExit(f"stage {stage} failed")
    result, peak_kb = proc.stdout.strip().splitlines()[-2:]
    return json.loads(result), int(peak_kb) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["100k", "1M", "10M", "25M"], choices=list(SIZES))
    parser.add_argument("--work", type=Path, default=Path("/tmp/ml-scale"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--figure", type=Path, default=Path("movielens_scale.png"))
    parser.add_argument("--collab", nargs="*", default=[], metavar="KEY=VALUE",
                        help="override config/movielens-25m.yaml's collab settings, e.g. wd=0.1")
    args = parser.parse_args()
    overrides = {k: yaml_value(v) for k, v in (item.split("=", 1) for item in args.collab)}
    rows = []
    for size in args.sizes:
        folder = args.work / size
        start = time.perf_counter()
        write(folder / "release", SIZES[size])
        print(f"{size}: release written in {time.perf_counter() - start:.1f} s ({folder / 'release'})", flush=True)
        out = folder / "out"
        out.mkdir(exist_ok=True)
        truth = json.loads((folder / "release" / "synthetic_truth.json").read_text())
        for stage, extra in (("parse", (folder / "release", out)), ("split", (out,)),
                             ("train", (out, args.epochs, args.threads, truth, overrides))):
            result, peak = child(stage, *extra)
            print(f"{size} {stage}: {result} peak RSS {peak:.0f} MB", flush=True)
            rows.append({"size": size, "n_ratings": SIZES[size], "stage": stage, "peak_mb": peak, **result})
    import pandas as pd

    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format="%.3f"))
    plot(table, args.figure)


def yaml_value(text: str):
    import yaml

    return yaml.safe_load(text)


def plot(table, path):
    from lesson5.plots.style import plt, save

    seconds = {"parse": "parse", "validate": "parse", "split": "split", "epoch": "train"}
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.8))
    for column, stage in seconds.items():
        part = table[table.stage == stage]
        a.plot(part.n_ratings, part[column], "o-", label=column)
    for stage in ("parse", "split", "train"):
        part = table[table.stage == stage]
        b.plot(part.n_ratings, part.peak_mb, "o-", label=f"{stage} job" + (" (parse + validate)" if stage == "parse" else ""))
    for ax in (a, b):
        ax.set(xscale="log", yscale="log", xlabel="ratings in the release (log scale)")
        ax.legend()
    a.set(title="Seconds per stage (2 cores)", ylabel="seconds (log scale)")
    b.set(title="Peak memory per job", ylabel="peak RSS, MB (log scale)")
    fig.suptitle("MovieLens stages against data size (synthetic ml-25m-format releases)")
    save(fig, path)


if __name__ == "__main__":
    main()
