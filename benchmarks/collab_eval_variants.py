"""Would evaluation-side changes move the main collab model's valid RMSE? Reads trained models only.

    python benchmarks/collab_eval_variants.py [--results results] [--run RUN]   (after `snakemake collab`)

For each seed of the main config on the random split, prints the valid RMSE as trained, with
predictions clipped to the rating range [1, 5], on validation rows whose user and item were seen in
training, and with unseen items (index 0, fastai's #na#) given the mean trained item row.
"""

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from lesson5.experiments.collab import CollabSettings, build_model  # noqa: E402
from lesson5.data.collab_data import collab_tensors  # noqa: E402

MAIN_RUN = "split~random/model~dot/n_factors~40/wd~0.1/wd_mode~decoupled/bias_wd~False"


def rmse(pred: torch.Tensor, y: torch.Tensor) -> float:
    return math.sqrt(float(((pred - y) ** 2).mean()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--experiment", default="ml-100k", help="the experiment under results/ (default: ml-100k)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--run", default=MAIN_RUN, help="run folder under results/collab/runs (default: the main config)")
    args = parser.parse_args()
    data_dir = args.results / "data" / "ml-100k"
    split = pd.read_parquet(args.results / args.experiment / "splits" / "ml-100k" / "random.parquet")
    items = pd.read_parquet(data_dir / "items.parquet")
    rows = []
    for seed in args.seeds:
        checkpoint = torch.load(args.results / args.experiment / "collab" / "runs" / args.run / f"seed~{seed}" / "model.pt",
                                weights_only=False)
        settings = CollabSettings.from_config(checkpoint["settings"])
        data = collab_tensors(split, settings.item_key, items)
        model = build_model(settings, data, seed)
        model.load_state_dict(checkpoint["state_dict"])
        model.eval()
        x, y = data.x_valid, data.y_valid
        unseen = (x[:, 0] == 0) | (x[:, 1] == 0)
        with torch.no_grad():
            pred = model(x)
            for table in (model.i_weight.weight, model.i_bias.weight):  # the #na# item: the mean item
                table[0] = table[1:].mean(0)
            fallback = model(x)
        rows.append({"seed": seed, "as_trained": rmse(pred, y), "clipped_1_5": rmse(pred.clamp(1, 5), y),
                     "seen_rows_only": rmse(pred[~unseen], y[~unseen]), "mean_item_for_unseen": rmse(fallback, y),
                     "unseen_rows": int(unseen.sum()), "valid_rows": len(y)})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format="%.5f"))
    means = table.drop(columns=["seed", "unseen_rows", "valid_rows"]).mean().to_frame("mean of seeds").T
    print(means.to_string(float_format="%.5f"))


if __name__ == "__main__":
    main()
