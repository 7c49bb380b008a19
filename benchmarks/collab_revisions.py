"""Two revisions of the package side by side on the same collab training: their seconds and their
valid RMSEs, alternated in one command (this VM's speed drifts, so only runs of one command compare).

    git worktree add /tmp/old <revision>
    python benchmarks/collab_revisions.py --trees /tmp/old . --split results/ml-100k/splits/ml-100k/random.parquet \\
        --items results/data/ml-100k/items.parquet [--models dot mlp] [--rounds 3]

Each training runs in a fresh process importing that tree's ``lesson5`` (one thread), with the
default config's main collab settings for each model and seeds 0-2 trained together.
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
sys.path.insert(0, {workflow!r})
import pandas as pd, torch, yaml
torch.set_num_threads(1)
from lesson5.experiments.collab import CollabSettings, train
cfg = yaml.safe_load(open({config!r}))["collab"]
split, items = pd.read_parquet({split!r}), pd.read_parquet({items!r})
settings = CollabSettings.from_config({{**cfg["model"], "model": {model!r}}})
start = time.perf_counter()
_, runs = train(split, items, settings, cfg["seeds"])
print(json.dumps({{"seconds": time.perf_counter() - start,
                  "rmse": [round(float(r.history.valid_rmse.iloc[-1]), 6) for r in runs]}}))
"""


def run(tree: Path, model: str, split: Path, items: Path) -> dict:
    code = CHILD.format(workflow=str(tree / "workflow"), config=str(ROOT / "config" / "config.yaml"),
                        split=str(split), items=str(items), model=model)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{tree}, {model}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trees", type=Path, nargs=2, required=True, metavar=("OLD", "NEW"))
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--items", type=Path, required=True)
    parser.add_argument("--models", nargs="+", default=["dot", "mlp"])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = {(k, model): [] for k in range(2) for model in args.models}
    for _ in range(args.rounds):
        for model in args.models:
            for k, tree in enumerate(args.trees):  # alternated, so a drift in speed hits both
                results[k, model].append(run(tree, model, args.split, args.items))
    for (k, model), rows in results.items():
        print(f"{('old', 'new')[k]} ({args.trees[k]}) {model}: median {statistics.median(r['seconds'] for r in rows):.2f} s over {len(rows)} runs, "
              f"valid RMSE per seed {rows[-1]['rmse']}")


if __name__ == "__main__":
    main()
