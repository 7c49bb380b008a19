"""The tiny config through the Slurm profile on a real single-node Slurm (tests/slurm/local-slurm.sh).

Runs where `sinfo` answers. .ci/run starts the cluster and sets LESSON5_REQUIRE_SLURM=1, so in CI a
missing cluster is a failure, not a skip. Every snakemake call has a timeout (the plugin can wait for
ever when sacct does not answer).
"""

import os
import shutil
import subprocess

import pandas as pd
import pytest

from conftest import BIN, ROOT, checksums_of
from lesson5.data.idx import write_fake_idx_dataset
from lesson5.data.synthetic import write_ml100k_like

pytestmark = pytest.mark.slurm


def cluster_up() -> bool:
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="module", autouse=True)
def cluster():
    if not cluster_up():
        if os.environ.get("LESSON5_REQUIRE_SLURM"):
            pytest.fail("LESSON5_REQUIRE_SLURM is set but no Slurm cluster answers sinfo")
        pytest.skip("no Slurm cluster here (start one with tests/slurm/local-slurm.sh start)")


def prepared(tmp_path, name):
    work = tmp_path / name
    shutil.copytree(ROOT / "profiles", work / "profiles")
    source = write_ml100k_like(work / "resources" / "synthetic" / "ml-100k")
    write_fake_idx_dataset(work / "resources" / "synthetic" / "fashion-mnist")
    return work, checksums_of(source, ["u.data", "u.item", "u.user"])


def run(work, sums, *extra, timeout=420):
    cmd = ["timeout", "-s", "INT", str(timeout), str(BIN / "snakemake"), "data", "--snakefile", str(ROOT / "Snakefile"),
           "--configfile", str(ROOT / "config" / "tiny.yaml"),
           "--config", f"movielens={{'checksums': {sums!r}, 'verify': True}}", *extra]
    env = {**os.environ, "SLURM_PARTITION": "debug", "SLURM_ACCOUNT": ""}
    return subprocess.run(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                          timeout=timeout + 30)


SLURM = ["--profile", str(ROOT / "profiles" / "slurm"), "--jobs", "2", "--latency-wait", "5",
         "--slurm-init-seconds-before-status-checks", "2", "--slurm-keep-successful-logs",
         # replaces the profile's whole default-resources block: no account on the test cluster
         "--default-resources", "slurm_partition=debug", "mem_mb=500", "runtime=10"]


def test_tiny_data_stage_runs_through_slurm_and_matches_a_local_run(tmp_path):
    work, sums = prepared(tmp_path, "slurm")
    proc = run(work, sums, *SLURM)
    assert proc.returncode == 0, proc.stdout[-6000:]
    jobs = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "JobID,State,WorkDir", "-S", "now-2hours"],
                          capture_output=True, text=True, timeout=30).stdout.splitlines()
    ours = [line.split("|") for line in jobs if line.endswith("|" + str(work))]
    assert len(ours) >= 10 and all(state == "COMPLETED" for _, state, _ in ours), jobs
    slurm_logs = work / ".snakemake" / "slurm_logs"
    for rule in ("fetch_movielens", "parse_movielens", "split_movielens", "prepare_images", "summarize_movielens"):
        assert any((slurm_logs / f"rule_{rule}").rglob("*.log")), f"no Slurm job log for {rule}"

    local, _ = prepared(tmp_path, "local")
    proc = run(local, sums, "--cores", "2")
    assert proc.returncode == 0, proc.stdout[-4000:]
    for table in ("data/ml-100k/ratings.parquet", "data/ml-100k/items.parquet", "tiny/splits/ml-100k/random.parquet",
                  "tiny/splits/ml-100k/u3.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(work / "results" / table), pd.read_parquet(local / "results" / table))


def test_a_failing_slurm_job_is_reported_as_failed(tmp_path):
    work, sums = prepared(tmp_path, "failing")
    with open(work / "resources" / "synthetic" / "ml-100k" / "u.data", "a") as handle:
        handle.write("1\t2\t3\t4\n")  # checksum mismatch: fetch_movielens must fail
    proc = run(work, sums, *SLURM, timeout=300)
    assert proc.returncode not in (0, 124), proc.stdout[-4000:]
    assert "fetch_movielens" in proc.stdout and "failed" in proc.stdout.lower()
