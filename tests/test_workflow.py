"""The workflow as a whole: dry run of the default config, lint, formatting, tiny end-to-end runs."""

import shutil
import subprocess

import pandas as pd
import pytest

from conftest import BIN, ROOT, checksums_of, snakemake
from lesson5.data.synthetic import write_ml100k_like


def test_dry_run_of_default_config():
    proc = snakemake("-n", "--quiet", "rules", check=True)
    for rule in ("fetch_movielens", "parse_movielens", "split_movielens", "train_collab", "aggregate_collab"):
        assert rule in proc.stdout


@pytest.mark.parametrize("target", ["data", "collab"])
def test_stage_targets_exist(target):
    snakemake("-n", target, check=True)


def test_lint_is_clean():
    proc = snakemake("--lint")
    assert proc.returncode == 0, proc.stdout


def test_snakefmt_check():
    proc = subprocess.run([str(BIN / "snakefmt"), "--check", "Snakefile", "rules"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr + proc.stdout


def tiny_run(workdir, *targets, extra=()):
    source = write_ml100k_like(workdir / "resources" / "synthetic" / "ml-100k")
    sums = checksums_of(source, ["u.data", "u.item", "u.user"])
    return snakemake("--configfile", ROOT / "config" / "tiny.yaml", "--cores", "2",
                     "--config", f"movielens={{'checksums': {sums!r}}}", *extra, *targets, cwd=workdir)


@pytest.mark.e2e
def test_data_stage_end_to_end(workdir):
    proc = tiny_run(workdir, "data")
    assert proc.returncode == 0, proc.stdout[-4000:]
    data = workdir / "results" / "data" / "ml-100k"
    ratings = pd.read_parquet(data / "ratings.parquet")
    assert len(ratings) == 600
    assert (data / "ratings_overview.png").stat().st_size > 10_000
    for split in ("random", "u1", "u2", "u3", "u4", "u5"):
        assert pd.read_parquet(data / "splits" / f"{split}.parquet").is_valid.any()
    summary = pd.read_csv(data / "summary.tsv", sep="\t").set_index("statistic").value
    assert int(summary["ratings"]) == 600


@pytest.mark.e2e
def test_corrupt_source_fails_cleanly(workdir):
    source = write_ml100k_like(workdir / "resources" / "synthetic" / "ml-100k")
    sums = checksums_of(source, ["u.data", "u.item", "u.user"])
    with open(source / "u.data", "a") as handle:
        handle.write("1\t2\t3\t4\n")
    proc = snakemake("--configfile", ROOT / "config" / "tiny.yaml", "--cores", "1",
                     "--config", f"movielens={{'checksums': {sums!r}}}", "data", cwd=workdir)
    assert proc.returncode != 0
    assert "sha256 mismatch" in proc.stdout and sums["u.data"] in proc.stdout
    assert not (workdir / "resources" / "movielens").exists() or not any(
        (workdir / "resources" / "movielens").rglob("u.*"))
    assert not (workdir / "results" / "data").exists()


@pytest.mark.e2e
def test_invalid_ratings_fail_with_a_report(workdir):
    source = write_ml100k_like(workdir / "resources" / "synthetic" / "ml-100k")
    lines = (source / "u.data").read_text().splitlines()
    lines[9] = "1\t2\t7\t881250949"
    (source / "u.data").write_text("\n".join(lines) + "\n")
    proc = snakemake("--configfile", ROOT / "config" / "tiny.yaml", "--cores", "1", "data", cwd=workdir)
    assert proc.returncode != 0
    assert "problem(s) in the ratings table" in proc.stdout and "Traceback" not in proc.stdout
    report = pd.read_csv(workdir / "logs" / "parse_movielens" / "ml-100k.log.errors.tsv", sep="\t")
    assert report.line.tolist() == [10] and report.column.tolist() == ["rating"]
    assert not (workdir / "results" / "data" / "ml-100k" / "ratings.parquet").exists()


@pytest.mark.e2e
def test_offline_without_local_source_says_how_to_fix(workdir):
    proc = snakemake("--configfile", ROOT / "config" / "tiny.yaml", "--cores", "1", "data",
                     "--config", "movielens={'source': 'http://127.0.0.1:9/ml-100k.zip'}",
                     "download={'retries': 1, 'timeout_s': 2}", cwd=workdir)
    assert proc.returncode != 0
    assert "could not download" in proc.stdout and "To use a local copy" in proc.stdout
    assert "Traceback" not in proc.stdout
