"""Rule fractal_images: the fractal source task (one IFS a class) as an image set, and a grid of samples."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821  the lesson5 package, installed or not

import logging

import numpy as np

from lesson5.data.fractals import FractalSpec, fractal_dataset
from lesson5.plots.transfer import plot_fractal_samples
from lesson5.runner import run_script

log = logging.getLogger("lesson5.fractal_images")


def main(smk):
    spec = FractalSpec.from_config(smk.params.fractal, smk.params.size, smk.params.seed)
    step = max(1, spec.classes // 10)

    def progress(c):  # a line every tenth of the classes
        if c % step == step - 1:
            log.info("class %d of %d", c + 1, spec.classes)

    arrays = fractal_dataset(spec, on_class=progress)
    log.info("%d classes, %d train and %d valid images; the filling-rate filter dropped %d systems",
             spec.classes, len(arrays["y_train"]), len(arrays["y_valid"]), int(arrays["rejected"]))
    np.savez_compressed(smk.output.images, **arrays)
    plot_fractal_samples(arrays["x_train"], arrays["y_train"], f"Fractal source: {spec.classes} classes (one IFS "
                         f"each), {spec.per_class} training images a class; rows: classes, columns: instances",
                         smk.output.samples)


run_script(snakemake, main)  # noqa: F821
