"""The benchmark scripts run end to end on small generated data, so a broken benchmark is caught; the
figures they print are for docs/benchmarks.md, never asserted here."""

import importlib.util
import subprocess
import sys

import pandas as pd
import pytest
import torch

from conftest import ROOT

BENCH = ROOT / "benchmarks"
SCRIPTS = sorted(BENCH.glob("*.py"))


def run(script: str, *args, timeout: int = 300, status: int = 0) -> str:
    proc = subprocess.run([sys.executable, str(BENCH / script), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    assert proc.returncode == status, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_benchmark_script_imports(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCH))  # bad_line_scale reuses movielens_scale's releases
    spec.loader.exec_module(module)  # each runs its measurements only under __main__
    assert callable(getattr(module, "main", None))


@pytest.mark.e2e
def test_bad_line_scale_quick(tmp_path):
    out = run("bad_line_scale.py", "--quick", "--work", tmp_path)
    assert "valid:" in out and "fields expected" in out


@pytest.mark.e2e
def test_movielens_scale_then_read_split_memory(tmp_path):
    out = run("movielens_scale.py", "--sizes", "10k", "--work", tmp_path, "--threads", "1",
              "--figure", tmp_path / "scale.png")
    assert "10k train" in out and (tmp_path / "scale.png").stat().st_size > 10_000
    out = run("read_split_memory.py", tmp_path / "10k" / "out" / "split.parquet", "--rounds", "1")
    assert "read_split" in out and "peak" in out


@pytest.mark.e2e
def test_collab_speed_on_a_generated_release(tiny_ml):
    out = run("collab_speed.py", "--source", tiny_ml, "--threads", "1", "--seeds", "0", "--repeats", "1")
    assert "analytic" in out


@pytest.mark.e2e
def test_collab_revisions_on_a_generated_release(tiny_ml, tmp_path):
    from lesson5.data.movielens import get_release
    from lesson5.data.schemas import parse_release
    from lesson5.data.splits import random_split

    ratings, items = parse_release(get_release("ml-100k"), tiny_ml / "u.data", tiny_ml / "u.item", tiny_ml / "u.user")
    random_split(ratings.reset_index(drop=True), 0.2, 42).to_parquet(tmp_path / "split.parquet")
    items.to_parquet(tmp_path / "items.parquet")
    out = run("collab_revisions.py", "--trees", ROOT, ROOT, "--split", tmp_path / "split.parquet", "--items",
              tmp_path / "items.parquet", "--rounds", 1)
    dot = [line for line in out.splitlines() if " dot: " in line]
    assert len(dot) == 2 and dot[0].split("valid RMSE")[1] == dot[1].split("valid RMSE")[1]  # same tree, same RMSEs


@pytest.mark.e2e
def test_fractal_source_on_generated_images(tmp_path):
    from lesson5.data.idx import write_fake_idx_dataset

    data = write_fake_idx_dataset(tmp_path / "fmnist", n_train=600, gz=False)
    out = run("fractal_source.py", "--data", data, "--classes", 3, "--per-class", 8, "--epochs", 1, "--budgets", 2,
              "--seeds", 0, "--n-valid", 100, "--valid-per-class", 4, "--body", tmp_path / "body.pt", "--finetune",
              "--config", ROOT / "config" / "tiny.yaml")
    assert "probe@2 layer2" in out and "finetune@2 disc" in out


@pytest.mark.e2e
def test_finetune_parts_on_generated_images(tmp_path):
    from lesson5.data.idx import write_fake_idx_dataset

    data = write_fake_idx_dataset(tmp_path / "fmnist", n_train=600, gz=False)
    out = run("finetune_parts.py", "--data", data, "--budgets", 2, "--n-valid", 100, "--config",
              ROOT / "config" / "tiny.yaml")
    row = out.splitlines()[-1].split(" | ")
    assert row[0] == "2" and len(row) == 5 and "epochs" in row[2]


def stage_images_and_body(tmp_path) -> list:
    """A stage's images.npz from generated IDX files and a fractal body of random weights; the options
    a stage benchmark (body_cut, slice_scales) reads them by, with tiny's config."""
    import numpy as np

    from lesson5.data.idx import load_idx_dataset, split_train_valid, write_fake_idx_dataset
    from lesson5.models.vision import cnn_model, save_body

    data = write_fake_idx_dataset(tmp_path / "fmnist", n_train=600, gz=False)
    np.savez(tmp_path / "images.npz", **split_train_valid(load_idx_dataset(data), 100, 0))
    (tmp_path / "bodies" / "fractal").mkdir(parents=True)
    save_body(cnn_model(5), tmp_path / "bodies" / "fractal" / "body.pt")
    return ["--images", tmp_path / "images.npz", "--bodies", tmp_path / "bodies", "--config",
            ROOT / "config" / "tiny.yaml"]


@pytest.mark.e2e
def test_body_cut_on_generated_images(tmp_path):
    out = run("body_cut.py", *stage_images_and_body(tmp_path), "--cuts", "layer2", "--budgets", 2)
    rows = [line.split(" | ") for line in out.splitlines()[1:]]
    assert [row[:2] for row in rows] == [["layer2", "2"]] and all(len(row) == 6 for row in rows)
    assert all(row[4].endswith("/2)") for row in rows)  # tiny's two seeds, paired


@pytest.mark.e2e
def test_slice_scales_on_generated_images(tmp_path):
    options = stage_images_and_body(tmp_path)
    stage = tmp_path / "finetune" / "fractal" / "budget~2"
    stage.mkdir(parents=True)
    pd.DataFrame({"seed": [0, 1, 7], "strategy": "discriminative", "lr_scale": 3, "error_rate": [0.2, 0.4, 0.9],
                  "frozen_error_rate": 0.8}).to_csv(stage / "runs.tsv", sep="\t", index=False)
    out = run("slice_scales.py", *options, "--families", "fractal", "--budgets", 2, "--scales", 1, 3,
              "--stage", tmp_path / "finetune")
    rows = [line.split(" | ") for line in out.splitlines()[1:]]
    assert [row[:2] for row in rows] == [["fractal", "2"]] and len(rows[0]) == 8
    assert rows[0][6] == "0.300 (x3, frozen 0.800)"  # the stage's seeds 0 and 1 (tiny's), not seed 7


@pytest.mark.e2e
def test_bn_stats_on_generated_images(tmp_path):
    options = stage_images_and_body(tmp_path)
    lrs = {"fractal": {"strategy": "discriminative", "head_lr": 1e-3, "slice_lo": 1e-5, "slice_hi": 1e-3},
           "scratch": {"strategy": "scratch", "scratch_lr": 1e-3}}
    for family, row in lrs.items():
        (tmp_path / "finetune" / family / "budget~2").mkdir(parents=True)
        pd.DataFrame([{"seed": 0, **row}]).to_csv(tmp_path / "finetune" / family / "budget~2" / "runs.tsv",
                                                 sep="\t", index=False)
    out = run("bn_stats.py", *options, "--families", "fractal", "scratch", "--budgets", 2,
              "--stage", tmp_path / "finetune")
    rows = [line.split(" | ") for line in out.splitlines()[1:]]
    assert [row[:3] for row in rows] == [["fractal", "2", "discriminative"], ["scratch", "2", "scratch"]]
    assert all(len(row[5].split()) == 2 for row in rows)  # tiny's two seeds, each scored both ways


@pytest.mark.e2e
def test_pretrain_draws_on_generated_images(tmp_path):
    import numpy as np

    from lesson5.data.fractals import FractalSpec, fractal_dataset

    options = stage_images_and_body(tmp_path)
    spec = FractalSpec(classes=3, per_class=8, valid_per_class=2, walkers=50, steps=10)
    np.savez(tmp_path / "fractals.npz", **fractal_dataset(spec))
    # the stage ran seed 7 too and another strategy: only tiny's seeds 0 and 1 of the lead one are compared;
    # no draw beats 0.0 and every draw beats 1.01, so a pairing by row instead of seed shows in the counts
    for family, strategy, errors in (("mixed", "discriminative", [0.0, 0.5, 1.01]),
                                     ("scratch", "scratch", [1.01, 0.5, 0.0])):
        (tmp_path / "finetune" / family / "budget~2").mkdir(parents=True)
        pd.DataFrame({"seed": [1, 7, 0, 0], "strategy": [strategy] * 3 + ["head_only"],
                      "error_rate": errors + [0.3]}).to_csv(
            tmp_path / "finetune" / family / "budget~2" / "runs.tsv", sep="\t", index=False)
    out = run("pretrain_draws.py", *options[:2], *options[4:], "--fractals", tmp_path / "fractals.npz",
              "--family", "mixed", "--pretrain-seeds", 3, 4, "--stage", tmp_path / "finetune", "--bodies",
              tmp_path / "draws", "--budgets", 2)
    assert out.count("source valid error by epoch") == 2
    assert {p.name for p in (tmp_path / "draws").iterdir()} == {"mixed-seed3.pt", "mixed-seed4.pt"}
    *draws, pooled = [line.split(" | ") for line in out.splitlines()[-3:]]
    for row, seed in zip(draws, (3, 4)):
        assert row[:2] == ["2", f"pretraining seed {seed}"] and len(row[2].split()) == 3
        assert row[3] == row[4] == "0.505"  # the stage's and scratch's seeds 0 and 1 alone
        assert row[5] == "1 / 1 of 2"  # seed 0 beats the stage's 1.01 and not scratch's 0.0, seed 1 the other way round
    # the stage's draw (0.0, 1.01) and two more, each seed against scratch's run of that seed (1.01, 0.0)
    drawn = [float(e) for row in draws for e in row[2].split(" ", 1)[1].strip("()").split()]
    assert pooled[:2] == ["2", "the stage's and 2 more"]
    assert float(pooled[2]) == pytest.approx((1.01 + sum(drawn)) / 6, abs=5e-4)
    assert pooled[5] == "3 of 6 pairs better than scratch"  # every draw's seed 1, no draw's seed 0


@pytest.mark.e2e
def test_resnet_throughput_small():
    out = run("resnet_throughput.py", "--threads", 1, "--sizes", 28, "--batches", 4, "--precisions", "fp32",
              "--convs", "plain", "centre_tap", "--steps", 2)
    assert out.count("images/s") == 2 * 2 * 2  # train and eval, of frozen and unfrozen, with each conv
    assert "fp32, centre_tap: train" in out


def test_compare_results_names_what_differs(tmp_path):
    for name, value in (("old", 1.0), ("new", 2.0)):
        (tmp_path / name / "exp").mkdir(parents=True)
        pd.DataFrame({"a": [value], "seconds": [value]}).to_csv(tmp_path / name / "exp" / "t.tsv", sep="\t", index=False)
        pd.DataFrame({"a": [1.0]}).to_csv(tmp_path / name / "exp" / "same.tsv", sep="\t", index=False)
    out = run("compare_results.py", tmp_path / "old", tmp_path / "new", status=1)  # 1: something differs
    assert "different: exp/t.tsv" in out and "1 identical" in out


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_check():
    assert "gpu_check ok" in run("gpu_check.py", timeout=600)
