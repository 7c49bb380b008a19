"""Rule experiment_config: the experiment's config as run (without its untracked keys), for compare."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import yaml

from lesson5.runner import run_script


def main(smk):
    with open(smk.output[0], "w") as handle:
        yaml.safe_dump(dict(smk.params.config), handle, sort_keys=True)


run_script(snakemake, main)  # noqa: F821
