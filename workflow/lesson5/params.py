"""What each rule's script reads from the config, so a rule's params hold exactly that and Snakemake's
params trigger reruns what a change touches and nothing more.

Keys that change no valid output (the limits of an error report, download patience) are *untracked*:
a script reads them from the config at run time (``untracked``) instead of from its params, so
changing one reruns nothing. A fetched file is the same whatever the timeout that fetched it."""

from __future__ import annotations

from pathlib import Path

from lesson5.errors import PipelineError

UNTRACKED = (
    "movielens.max_problems_per_check",
    "download.timeout_s",
    "download.retries",
    "download.max_extract_mb",
    "transfer.threads",  # a job's threads: Snakemake's threads directive, never a rerun trigger
)
RESERVED_EXPERIMENTS = ("data",)  # results/data holds what every experiment shares


def lookup(config: dict, dotted: str):
    node = config
    for part in dotted.split("."):
        node = node[part]
    return node


def untracked(smk, dotted: str):
    """An untracked key's value, read from the job's config rather than its params."""
    if dotted not in UNTRACKED:
        raise PipelineError(f"{dotted} is not an untracked key: give it to the rule as a param")
    return lookup(smk.config, dotted)


def tracked_config(config: dict, prefix: str = "") -> dict:
    """The config without its untracked keys: what an experiment's results depend on. Keys sorted at
    every level: an override that reorders the merged maps is not a change."""
    out = {}
    for key in sorted(config):
        name, value = f"{prefix}{key}", config[key]
        if name not in UNTRACKED:
            out[key] = tracked_config(value, f"{name}.") if isinstance(value, dict) else value
    return out


def experiment_name(config: dict, command_line: dict | None, configfiles) -> str:
    """The experiment's name: ``experiment`` where the command line sets it (``command_line`` is
    Snakemake's merge of every --configfile and --config); else the stem of the last --configfile (so
    a user's own file never writes into the default experiment's folder); else the default config's."""
    if "experiment" in (command_line or {}) or not configfiles:
        name = str(config["experiment"])
    else:
        name = Path(configfiles[-1]).stem
    if name in RESERVED_EXPERIMENTS:
        raise PipelineError(f"experiment: {name!r} is reserved (results/{name} is shared by every experiment)")
    return name


# ----- collaborative filtering ------------------------------------------------------------------------
# collab.model keys a run reads besides its run keys (split, model, n_factors, wd, wd_mode, bias_wd)
COLLAB_EVAL = ["item_key", "device", "valid_bs"]
COLLAB_FIT = COLLAB_EVAL + ["epochs", "lr", "bs", "y_range"]
COLLAB_MODEL_KEYS = {
    "mean": COLLAB_EVAL,  # only evaluated
    "bias": COLLAB_FIT + ["sparse", "sparse_opt", "step"],
    "dot": COLLAB_FIT + ["sparse", "sparse_opt", "step"],
    "mlp": COLLAB_FIT + ["mlp_layers", "mlp_ps"],  # the MLP trains dense, with autograd
}


def collab_model_params(model_cfg: dict, model: str) -> dict:
    """The collab.model keys a run of ``model`` reads (sparse_opt only where sparse is on)."""
    keys = [k for k in COLLAB_MODEL_KEYS[model] if k != "sparse_opt" or model_cfg.get("sparse")]
    return {k: model_cfg[k] for k in keys if k in model_cfg}
