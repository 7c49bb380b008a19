"""Rule prepare_pets: Oxford-IIIT Pets images -> uint8 arrays, breed labels, the seeded valid split."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import numpy as np

from lesson5.data.pets import fetch_pets, list_images, load_resized, random_valid_mask
from lesson5.runner import run_script


def main(smk):
    p = smk.params.pets
    paths, breeds = list_images(fetch_pets(p["source"], "resources/pets"))
    classes = sorted(set(breeds))
    labels = np.array([classes.index(b) for b in breeds], dtype=np.int16)
    np.savez(smk.output[0], images=load_resized(paths, p["size"]), labels=labels, classes=np.array(classes),
             is_valid=random_valid_mask(len(paths), p["valid_pct"], p["split_seed"]))


run_script(snakemake, main)  # noqa: F821
