# Helpers shared by the rules (dataset specs, download params, run tables); no rules here.

import pandas as pd
from snakemake.utils import Paramspace

from lesson5.data.movielens import get_release
from lesson5.experiments.plan import RUN_KEYS, collab_run_table, main_run
from lesson5.experiments.transfer_plan import (
    BODY_SOURCES,
    CLASS_SOURCE,
    FRACTAL_SOURCE,
    OWN_BODIES,
    probe_params,
    pretrain_params,
)
from lesson5.experiments.transfer_plan import comparisons as transfer_comparisons
from lesson5.experiments.transfer_plan import families as transfer_families
from lesson5.experiments.transfer_plan import finetune_params as transfer_finetune_params
from lesson5.experiments.transfer_plan import job_columns as transfer_job_columns
from lesson5.params import collab_model_params

# An experiment's results, logs, benchmarks and checkpoints live under its name; what every
# experiment shares (a fetched and validated release, the prepared images) under results/data.
EXP = config["experiment"]
OUT = f"results/{EXP}"
LOGS = f"logs/{EXP}"
BENCH = f"{OUT}/benchmarks"
CKPT = f"checkpoints/{EXP}"
SHARED_LOGS = "logs/data"
SHARED_BENCH = "results/data/benchmarks"

ML = get_release(config["movielens"]["release"])
ML_DIR = f"resources/movielens/{ML.name}"
DATA_DIR = f"results/data/{ML.name}"
SPLIT_DIR = f"{OUT}/splits/{ML.name}"
ML_SPLITS = ["random", *ML.folds]
# Resources that follow the release's size, so a cluster is asked for what a job needs; the figures
# per million ratings were measured with benchmarks/movielens_scale.py (docs/benchmarks.md).
ML_MILLIONS = ML.n_ratings / 1e6


def ml_scaled(base, per_million):
    """A job's memory (MB) or runtime (min): a base plus a share per million ratings of the release."""
    return int(base + per_million * ML_MILLIONS)


def how_to_fix(key, example):
    return (
        f"To use a local copy, set {key}.source to a folder, zip or file:// URL, e.g.\n"
        f'  snakemake --config \'{key}={{"source": "{example}"}}\''
    )


def fetch_params(key, files):
    """Params of a fetch rule: the source, one checksum (or None: unverified) per file. The download
    limits (download.*) change no fetched file: the script reads them untracked."""
    given = config[key].get("checksums") or {}
    verify = config[key]["verify"]
    return dict(
        source=config[key]["source"],
        checksums={name: given.get(name) if verify else None for name in files},
        unverified_why="verify is false" if not verify else "no checksum configured",
        cache=f"resources/downloads/{key}",
        how_to_fix=how_to_fix(key, f"path/to/{ML.name if key == 'movielens' else key}"),
    )


def split_inputs(wildcards):
    """The random split derives from the parsed ratings; an official fold from its two files, checked
    against the parsed ratings and items."""
    parsed = {"ratings": f"{DATA_DIR}/ratings.parquet", "movies": f"{DATA_DIR}/items.parquet"}
    if wildcards.split == "random":
        return {"ratings": parsed["ratings"]}
    return parsed | {part: f"{ML_DIR}/{wildcards.split}.{part}" for part in ("base", "test")}


def split_params(wildcards):
    """The random split reads its fraction and seed; an official fold reads neither."""
    if wildcards.split != "random":
        return {}
    return {
        "valid_pct": config["movielens"]["valid_pct"],
        "seed": config["movielens"]["split_seed"],
    }


# ----- collaborative filtering runs -------------------------------------------------------------
COLLAB = config["collab"]
COLLAB_TABLE = collab_run_table(COLLAB, ML.folds)
# what the config sweeps (an empty list or map: not run) and the tables that exist for it
COLLAB_SWEEPS = [name for name in ("n_factors", "wd") if COLLAB["sweeps"][name]]
COLLAB_TABLES = ["bias_wd"] * bool(COLLAB["sweeps"]["bias_wd"]) + ["folds"] * bool(
    COLLAB["folds"] and ML.folds
)
COLLAB_RUNS = Paramspace(COLLAB_TABLE[RUN_KEYS], param_sep="~")
COLLAB_MAIN = main_run(COLLAB_TABLE)


def run_dir(run, seed):
    """results/<experiment>/collab/runs/split~random/model~dot/.../seed~0 for a run dict."""
    inst = Paramspace(pd.DataFrame([{k: run[k] for k in RUN_KEYS}]), param_sep="~")
    return f"{OUT}/collab/runs/{next(iter(inst.instance_patterns))}/seed~{seed}"


def per_seed(name):
    """One output per seed of a collab run: a job trains all seeds of its setting together."""
    pattern = f"{OUT}/collab/runs/{COLLAB_RUNS.wildcard_pattern}/seed~{{seed}}/{name}"
    return expand(pattern, seed=COLLAB["seeds"], allow_missing=True)


def collab_run_records():
    """(run dict with roles and seed, history path) for every run and seed, in a stable order."""
    for row, pattern in zip(COLLAB_TABLE.to_dict("records"), COLLAB_RUNS.instance_patterns):
        for seed in COLLAB["seeds"]:
            yield {**row, "seed": seed}, f"{OUT}/collab/runs/{pattern}/seed~{seed}/history.tsv"


# ----- image datasets ---------------------------------------------------------------------------
IMAGE_DATASETS = ["fashion_mnist", "mnist"]
IDX_NAMES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def image_npz(dataset):
    return f"results/data/{dataset}/images.npz"


# ----- transfer learning ------------------------------------------------------------------------
CLASS_NAMES = {
    "fashion_mnist": "T-shirt/top Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag Ankle-boot".split(),
    "mnist": [str(d) for d in range(10)],
}


BODY_DIR = f"{OUT}/transfer/bodies/{{source}}"  # a pretrained body and its source task's history


def body_file(family):
    """A family's pretrained body, where this pipeline makes it (not scratch, not imagenet)."""
    body = expand(f"{BODY_DIR}/body.pt", source=family)[0]
    return body if family in OWN_BODIES else []
