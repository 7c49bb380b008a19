"""The lesson-scale pets path on a few generated JPEGs: labels from names, split, augmentation, training."""

import numpy as np
import pandas as pd
import pytest
import torch
from torchvision.io import encode_jpeg, write_file

from conftest import ROOT, snakemake
from lesson5.analysis.summary import pets_comparison
from lesson5.data.pets import (CenterCropNormalize, PetsAugment, fetch_pets, list_images, load_resized,
                               random_valid_mask)
from lesson5.errors import DataValidationError, SourceUnavailable
from lesson5.experiments.lesson_scale import lesson_scale

BREEDS = ["Abyssinian", "american_bulldog", "Bengal"]


@pytest.fixture
def pet_folder(tmp_path):
    images = tmp_path / "oxford-iiit-pet" / "images"
    images.mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    for b, breed in enumerate(BREEDS):
        for k in range(1, 7):
            pixels = torch.randint(0, 80, (3, 50 + 7 * k, 60), generator=g, dtype=torch.uint8)
            pixels[b] += 150  # a learnable colour per breed
            write_file(str(images / f"{breed}_{k}.jpg"), encode_jpeg(pixels))
    return tmp_path / "oxford-iiit-pet"


def test_labels_come_from_file_names(pet_folder):
    paths, labels = list_images(fetch_pets(str(pet_folder), "unused"))
    assert len(paths) == 18 and sorted(set(labels)) == sorted(BREEDS)
    assert labels[paths.index(next(p for p in paths if p.name == "american_bulldog_3.jpg"))] == "american_bulldog"


def test_bad_names_and_empty_folders_are_named(tmp_path, pet_folder):
    (pet_folder / "images" / "notes.jpg").write_bytes(b"x")
    with pytest.raises(DataValidationError, match="notes.jpg"):
        list_images(pet_folder / "images")
    with pytest.raises(SourceUnavailable, match="no .jpg"):
        fetch_pets(str(tmp_path / "empty"), "unused")


def test_images_are_resized_and_split_by_seed(pet_folder):
    paths, _ = list_images(pet_folder / "images")
    arr = load_resized(paths, 40)
    assert arr.shape == (18, 3, 40, 40) and arr.dtype == np.uint8
    mask = random_valid_mask(18, 0.2, 2)
    assert mask.sum() == 3 and np.array_equal(mask, random_valid_mask(18, 0.2, 2))


def test_augment_and_valid_transforms_give_normalised_crops():
    batch = torch.randint(0, 256, (4, 3, 40, 40), dtype=torch.uint8)
    torch.manual_seed(0)
    train = PetsAugment(32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))(batch)
    valid = CenterCropNormalize(32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))(batch)
    assert train.shape == valid.shape == (4, 3, 32, 32)
    assert torch.allclose(valid, ((batch[:, :, 4:36, 4:36].float() / 255) - 0.5) / 0.25)


def test_lesson_scale_runs_frozen_then_unfrozen(pet_folder):
    paths, breeds = list_images(pet_folder / "images")
    arrays = {"images": load_resized(paths, 40), "labels": np.array([BREEDS.index(b) for b in breeds]),
              "classes": np.array(BREEDS), "is_valid": random_valid_mask(18, 0.3, 2)}
    cfg = dict(weights="scratch", ps=0.5, size=32, bs=4, frozen_epochs=1, unfrozen_epochs=1, lr=[3e-3],
               lr_slice=[1e-6, 1e-4], lr_div=10, wd=0.01)
    learner, history = lesson_scale(arrays, cfg, seed=0, device="cpu")
    assert history.stage.tolist() == ["frozen", "unfrozen"] and history.epoch.tolist() == [1, 2]
    assert all(p.requires_grad for p in learner.model.parameters())


def test_pets_comparison_reads_the_lessons_errors_from_the_reference_table():
    reference = pd.read_csv(ROOT / "workflow" / "resources" / "reference_numbers.tsv", sep="\t")
    history = pd.DataFrame({"stage": ["frozen", "frozen", "unfrozen"], "error_rate": [0.2, 0.08, 0.05]})
    table = pets_comparison(history, reference).set_index("stage")
    assert table.lesson.to_dict() == {"frozen": 0.071042, "unfrozen": 0.062246}
    assert table.error_rate.to_dict() == {"frozen": 0.08, "unfrozen": 0.05}
    assert table.gap.round(6).to_dict() == {"frozen": 0.008958, "unfrozen": -0.012246}


def test_lesson_gpu_config_adds_the_pets_run_to_the_dag():
    proc = snakemake("transfer", "-n", "--configfile", ROOT / "config" / "config.yaml",
                     ROOT / "config" / "lesson-gpu.yaml", check=True)
    assert "transfer_lesson" in proc.stdout and "prepare_pets" in proc.stdout
