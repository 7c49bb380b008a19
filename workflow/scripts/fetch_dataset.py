"""Rule fetch_*: put a dataset's verified files under resources/."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

from pathlib import Path

from lesson5.data.sources import fetch_files
from lesson5.params import untracked
from lesson5.runner import run_script


def main(smk):
    p = smk.params.fetch
    dest = Path(smk.output[0]).parent
    fetch_files(p["source"], dict(p["checksums"]), dest, cache=p["cache"], how_to_fix=p["how_to_fix"],
                timeout=untracked(smk, "download.timeout_s"), retries=untracked(smk, "download.retries"),
                max_bytes=untracked(smk, "download.max_extract_mb") * 2**20, unverified_why=p["unverified_why"])


run_script(snakemake, main)  # noqa: F821 (injected by Snakemake)
