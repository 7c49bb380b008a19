"""Rule fetch_*: put a dataset's verified files under resources/."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

from pathlib import Path

from lesson5.data.sources import fetch_files
from lesson5.runner import run_script


def main(smk):
    p = smk.params.fetch
    dest = Path(smk.output[0]).parent
    fetch_files(p["source"], dict(p["checksums"]), dest, cache=p["cache"], how_to_fix=p["how_to_fix"],
                timeout=p["timeout"], retries=p["retries"], max_bytes=p["max_bytes"],
                unverified_why=p["unverified_why"])


run_script(snakemake, main)  # noqa: F821 (injected by Snakemake)
