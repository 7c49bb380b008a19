# Helpers shared by the rule files: dataset specs, download params, path lists.
import os
import sys

# The lesson5 package, importable here and in every job (conda envs and cluster nodes included)
# without an install.
PACKAGE_ROOT = os.path.abspath(os.path.join(workflow.basedir, "workflow"))
sys.path.insert(0, PACKAGE_ROOT)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))

from lesson5.data.movielens import get_release

ML = get_release(config["movielens"]["release"])
ML_DIR = f"resources/movielens/{ML.name}"
DATA_DIR = f"results/data/{ML.name}"
ML_SPLITS = ["random", *ML.folds]


def how_to_fix(key, example):
    return (
        f"To use a local copy, set {key}.source to a folder, zip or file:// URL, e.g.\n"
        f"  snakemake --config '{key}={{\"source\": \"{example}\"}}'"
    )


def fetch_params(key, files):
    """Params of a fetch rule: the source, one checksum (or None) per file, retry policy."""
    given = config[key].get("checksums", {})
    return dict(
        source=config[key]["source"],
        checksums={name: given.get(name) for name in files},
        cache=f"resources/downloads/{key}",
        how_to_fix=how_to_fix(key, "/data/ml-100k" if key == "movielens" else "/data/" + key),
        timeout=config["download"]["timeout_s"],
        retries=config["download"]["retries"],
    )
