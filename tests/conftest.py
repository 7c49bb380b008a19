import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lesson5.data.sources import sha256_of
from lesson5.data.synthetic import write_ml100k_like, zip_folder

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def pytest_configure(config):
    """An xdist worker (workers share two cores) trains with one torch thread, not two each. A hook, not
    module code: scripts that import a test module as a plain module must not pull torch in."""
    if hasattr(config, "workerinput"):
        import torch

        torch.set_num_threads(1)


@pytest.fixture
def tiny_ml(tmp_path) -> Path:
    """A generated ml-100k-shaped folder (a few hundred ratings, latin-1 titles)."""
    return write_ml100k_like(tmp_path / "ml-100k-src")


@pytest.fixture
def tiny_zip(tiny_ml, tmp_path) -> Path:
    return zip_folder(tiny_ml, tmp_path / "ml-100k.zip")


def checksums_of(folder: Path, names) -> dict:
    return {n: sha256_of(folder / n) for n in names}


def snakemake(*args, cwd=ROOT, timeout=600, check=False):
    """Run the venv's snakemake; returns the CompletedProcess (stdout and stderr merged)."""
    cmd = [str(BIN / "snakemake"), "--snakefile", str(ROOT / "Snakefile"), *map(str, args)]
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT / "workflow")})
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(map(str, args))} failed:\n{proc.stdout[-5000:]}")
    return proc


@pytest.fixture
def workdir(tmp_path) -> Path:
    """An empty working directory with the default profile, for end-to-end runs."""
    work = tmp_path / "work"
    (work / "profiles").mkdir(parents=True)
    shutil.copytree(ROOT / "profiles" / "default", work / "profiles" / "default")
    return work


def tiny_sources(workdir):
    """The tiny config's generated data: an ml-100k-shaped folder and small Fashion-MNIST IDX files."""
    from lesson5.data.idx import write_fake_idx_dataset

    write_fake_idx_dataset(workdir / "resources" / "synthetic" / "fashion-mnist")
    return write_ml100k_like(workdir / "resources" / "synthetic" / "ml-100k")


def tiny_run(workdir, *targets, extra=()):
    """The tiny config as its comment says to run it (generated data, fetched unverified)."""
    tiny_sources(workdir)
    return snakemake(*targets, "--configfile", ROOT / "config" / "tiny.yaml", "--cores", "2", *extra, cwd=workdir)
