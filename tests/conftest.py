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
