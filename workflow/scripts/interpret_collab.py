"""Rule interpret_collab: item biases and PCA of item factors among the most-rated movies."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import pandas as pd
import torch

from lesson5.analysis.interpret import bias_table, pca_table, top_items
from lesson5.experiments.collab import CollabSettings, build_model
from lesson5.data.collab_data import collab_tensors, read_split
from lesson5.plots.collab import plot_embedding_scatter
from lesson5.errors import PipelineError
from lesson5.runner import run_script


def main(smk):
    p = smk.params
    saved = torch.load(smk.input.model, weights_only=True)
    settings = CollabSettings.from_config(saved["settings"])
    split, items = read_split(smk.input.split), pd.read_parquet(smk.input.movies)
    data = collab_tensors(split, settings.item_key, items)
    if data.items.tolist() != saved["items"]:
        raise PipelineError(f"{smk.input.model}: trained on another item vocabulary than {smk.input.split} gives")
    model = build_model(settings, data, saved.get("seed", 0))
    model.load_state_dict(saved["state_dict"])
    top = top_items(split, items, settings.item_key, p.top_n)
    bias_table(model, data, top, settings.item_key, p.n_show).to_csv(
        smk.output.biases, sep="\t", index=False, float_format="%.4f")
    projected, ends = pca_table(model, data, top, settings.item_key, 3, p.pca_show)
    ends.to_csv(smk.output.pca, sep="\t", index=False, float_format="%.4f")
    plot_embedding_scatter(projected, p.scatter_n, smk.output.scatter)


run_script(snakemake, main)  # noqa: F821
