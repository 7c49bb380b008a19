"""The workflow as a whole: dry runs of the default config, lint, formatting, end-to-end runs of single
stages (the whole tiny run and what reuses it: test_tiny_pipeline.py)."""

import shutil
import subprocess

import pandas as pd
import pytest

from conftest import BIN, ROOT, checksums_of, snakemake, tiny_run, tiny_sources


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


@pytest.mark.e2e
def test_data_stage_end_to_end(workdir):
    proc = tiny_run(workdir, "data")
    assert proc.returncode == 0, proc.stdout[-4000:]
    data = workdir / "results" / "data" / "ml-100k"
    ratings = pd.read_parquet(data / "ratings.parquet")
    assert len(ratings) == 600
    assert (data / "ratings_overview.png").stat().st_size > 10_000
    for split in ("random", "u1", "u2", "u3", "u4", "u5"):
        assert pd.read_parquet(workdir / "results/tiny/splits/ml-100k" / f"{split}.parquet").is_valid.any()
    summary = pd.read_csv(data / "summary.tsv", sep="\t").set_index("statistic").value
    assert int(summary["ratings"]) == 600


@pytest.mark.e2e
def test_corrupt_source_fails_cleanly(workdir):
    source = tiny_sources(workdir)
    sums = checksums_of(source, ["u.data", "u.item", "u.user"])
    with open(source / "u.data", "a") as handle:
        handle.write("1\t2\t3\t4\n")
    proc = snakemake("data", "--configfile", ROOT / "config" / "tiny.yaml", "--cores", "1",
                     "--config", f"movielens={{'checksums': {sums!r}, 'verify': True}}", cwd=workdir)
    assert proc.returncode != 0
    assert "sha256 mismatch" in proc.stdout and sums["u.data"] in proc.stdout
    assert not (workdir / "resources" / "movielens").exists() or not any(
        (workdir / "resources" / "movielens").rglob("u.*"))
    assert not (workdir / "results" / "data" / "ml-100k").exists()


@pytest.mark.e2e
def test_invalid_ratings_fail_with_a_report(workdir):
    source = tiny_sources(workdir)
    lines = (source / "u.data").read_text().splitlines()
    lines[9] = "1\t2\t7\t881250949"
    (source / "u.data").write_text("\n".join(lines) + "\n")
    proc = snakemake("data", "--configfile", ROOT / "config" / "tiny.yaml", "--cores", "1", cwd=workdir)
    assert proc.returncode != 0
    assert "1 problem(s) in the ml-100k release" in proc.stdout and "Traceback" not in proc.stdout
    report = pd.read_csv(workdir / "logs" / "data" / "parse_movielens" / "ml-100k.log.errors.tsv", sep="\t")
    assert report.line.tolist() == [10] and report.column.tolist() == ["rating"]
    assert not (workdir / "results" / "data" / "ml-100k" / "ratings.parquet").exists()


@pytest.mark.e2e
def test_offline_without_local_source_says_how_to_fix(workdir):
    proc = snakemake("fetch_movielens", "--configfile", ROOT / "config" / "tiny.yaml", "--cores", "1",
                     "--config", "movielens={'source': 'http://127.0.0.1:9/ml-100k.zip'}",
                     "download={'retries': 1, 'timeout_s': 2}", cwd=workdir)
    assert proc.returncode != 0
    assert "could not download" in proc.stdout and "To use a local copy" in proc.stdout
    assert "Traceback" not in proc.stdout


def test_dry_run_through_the_slurm_profile(monkeypatch):
    monkeypatch.setenv("SLURM_PARTITION", "debug")
    monkeypatch.setenv("SLURM_ACCOUNT", "lesson5")
    proc = snakemake("-n", "--profile", ROOT / "profiles" / "slurm", "all", check=True)
    assert "train_collab" in proc.stdout and "finetune" in proc.stdout


def job_pids(script: str) -> list[int]:
    """Processes running a rule's script (Snakemake copies it to .snakemake/scripts/tmp*.<script>)."""
    out = subprocess.run(["pgrep", "-f", f"scripts/tmp.*{script}"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.e2e
def test_pretraining_killed_mid_epoch_resumes_to_the_same_numbers(tmp_path):
    """kill -9 of pretrain_body after its first checkpoint; the rerun continues from it and ends with
    the history of an uninterrupted run, and the checkpoint is gone once the outputs are written."""
    import os
    import signal
    import time

    # two epochs: the kill lands in the second, after the first epoch's checkpoint
    more_epochs = ["--config", "transfer={'pretrain': {'epochs': 2, 'bs': 16}}"]
    histories = {}
    for name in ("killed", "uninterrupted"):
        work = tmp_path / name
        shutil.copytree(ROOT / "profiles", work / "profiles")
        tiny_sources(work)
        body = "results/tiny/transfer/bodies/classes/body.pt"
        cmd = [str(BIN / "snakemake"), "--snakefile", str(ROOT / "Snakefile"), body, "--configfile",
               str(ROOT / "config" / "tiny.yaml"), "--cores", "1", *more_epochs]
        if name == "killed":
            proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            checkpoint = work / "checkpoints" / "tiny" / "pretrain_body" / "classes" / "fit.pt"
            deadline = time.time() + 300
            while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
                time.sleep(0.05)
            assert checkpoint.exists(), proc.communicate()[0][-3000:]
            for pid in job_pids("pretrain_body.py"):
                os.kill(pid, signal.SIGKILL)
            output = proc.communicate(timeout=120)[0]
            assert proc.returncode != 0, output[-3000:]  # the job died mid-run
            assert not (work / body).exists()
        rerun = subprocess.run(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
        assert rerun.returncode == 0, rerun.stdout[-3000:]
        if name == "killed":
            log = (work / "logs/tiny/pretrain_body/classes.log").read_text()
            assert "resumed from checkpoints/tiny/pretrain_body/classes/fit.pt" in log
        assert not (work / "checkpoints").exists()
        histories[name] = pd.read_csv(work / "results/tiny/transfer/bodies/classes/history.tsv", sep="\t")
    a, b = (h.drop(columns="seconds") for h in histories.values())
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 2


@pytest.mark.e2e
def test_a_large_release_runs_data_and_collab_with_the_25m_config(workdir):
    """250,000 synthetic ratings in ml-25m's format, through config/movielens-25m.yaml: parse and
    validate (fast path), split, the sparse-gradient main run and the baselines, interpretation."""
    import json

    from lesson5.data.synthetic import write_release

    source = write_release(workdir / "resources" / "synthetic" / "ml-25m", "ml-25m", 1_600, 1_200, 250_000)
    proc = snakemake("collab", "results/data/ml-25m/summary.tsv", "--configfile", ROOT / "config" / "movielens-25m.yaml",
                     "--cores", "2", "--config", f"movielens={{'source': '{source}'}}",
                     "collab={'model': {'epochs': 2}}", cwd=workdir)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "not verified" in (workdir / "logs/data/fetch_movielens/ml-25m.log").read_text()
    ratings = pd.read_parquet(workdir / "results/data/ml-25m/ratings.parquet")
    assert len(ratings) == 250_000 and ratings.rating.dtype == "float64"
    baselines = pd.read_csv(workdir / "results/ml-25m/collab/baselines.tsv", sep="\t").set_index("model")
    assert list(baselines.index) == ["mean", "bias", "dot"] and (baselines.n_seeds == 1).all()
    truth = json.loads((source / "synthetic_truth.json").read_text())
    assert baselines.valid_rmse_mean["dot"] < baselines.valid_rmse_mean["bias"] < baselines.valid_rmse_mean["mean"]
    assert baselines.valid_rmse_mean["dot"] < 1.3 * truth["oracle_rmse"]  # it learns the planted factors
    assert not (workdir / "results/ml-25m/collab/sweep_n_factors.tsv").exists()  # no sweeps in this config
