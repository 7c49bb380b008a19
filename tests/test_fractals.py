"""The fractal source task: deterministic by seed, distinct classes, the filling-rate filter, image format."""

import numpy as np
import pytest

from lesson5.data.fractals import (FractalSpec, accept, chaos_game, filling_rate, fractal_dataset, render,
                                   sample_system)
from lesson5.errors import PipelineError

SMALL = FractalSpec(classes=4, per_class=6, valid_per_class=2, walkers=64, steps=16, burn_in=8)


def test_same_seed_gives_the_same_bytes_and_another_seed_other_images():
    a, b = fractal_dataset(SMALL), fractal_dataset(SMALL)
    for key in a:
        assert a[key].tobytes() == b[key].tobytes(), key
    other = fractal_dataset(FractalSpec(**{**SMALL.__dict__, "seed": 1}))
    assert not np.array_equal(a["x_train"], other["x_train"])


def test_shapes_labels_and_pixel_range():
    data = fractal_dataset(SMALL)
    assert data["x_train"].shape == (4 * 6, 28, 28) and data["x_valid"].shape == (4 * 2, 28, 28)
    assert data["x_train"].dtype == np.uint8 and data["x_train"].max() == 255 and data["x_train"].min() == 0
    assert np.bincount(data["y_train"]).tolist() == [6] * 4 and np.bincount(data["y_valid"]).tolist() == [2] * 4
    for image in data["x_train"]:
        assert filling_rate(image) > 0.05  # every image shows its attractor, none is blank


def test_classes_differ_more_than_instances_of_one_class():
    """A class's instances resemble each other more than they resemble other classes (mean image distance)."""
    data = fractal_dataset(FractalSpec(**{**SMALL.__dict__, "per_class": 12, "walkers": 200}))
    x, y = data["x_train"].reshape(len(data["y_train"]), -1).astype(float) / 255, data["y_train"]
    means = np.stack([x[y == c].mean(0) for c in range(4)])
    within = np.mean([np.abs(x[y == c] - means[c]).mean() for c in range(4)])
    between = np.mean([np.abs(means[i] - means[j]).mean() for i in range(4) for j in range(4) if i != j])
    assert between > 0.3 * within
    assert len({data["systems"][c].tobytes() for c in range(4)}) == 4


def test_sampled_maps_are_contractive():
    rng = np.random.default_rng(0)
    for _ in range(50):
        system = sample_system(rng, SMALL)
        assert SMALL.maps[0] <= len(system) <= SMALL.maps[1]
        singular = np.linalg.svd(system[:, :, :2], compute_uv=False)
        assert (singular <= SMALL.sigma[1] + 1e-9).all() and (singular >= SMALL.sigma[0] - 1e-9).all()


def test_filter_rejects_a_degenerate_system_and_keeps_a_filled_one():
    rng = np.random.default_rng(0)
    dot = np.zeros((2, 2, 3))  # both maps send every point to the origin
    line = np.array([[[0.5, 0, 0.5], [0, 0, 0]], [[0.5, 0, -0.5], [0, 0, 0]]])  # y collapses: a segment
    square = np.array([[[0.5, 0, bx], [0, 0.5, by]] for bx in (-0.5, 0.5) for by in (-0.5, 0.5)])  # fills it
    assert not accept(dot, rng, SMALL) and not accept(line, rng, SMALL)
    assert accept(square, rng, SMALL)
    assert filling_rate(render(chaos_game(square[None], rng, SMALL), 28)[0]) > 0.5  # its frame, less the margin


def test_a_filter_nothing_passes_names_the_key():
    with pytest.raises(PipelineError, match="min_fill"):
        fractal_dataset(FractalSpec(**{**SMALL.__dict__, "min_fill": 1.0, "classes": 1}))


def test_spec_from_config_refuses_unknown_keys():
    spec = FractalSpec.from_config({"classes": 7, "maps": [2, 3]}, size=32, seed=5)
    assert (spec.classes, spec.maps, spec.size, spec.seed) == (7, (2, 3), 32, 5)
    with pytest.raises(PipelineError, match="unknown keys"):
        FractalSpec.from_config({"classses": 7}, size=28, seed=0)
