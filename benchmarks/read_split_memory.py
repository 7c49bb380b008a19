"""Memory of reading a split for training: the package's ``read_split`` against ``pd.read_parquet``,
each in a fresh process (its peak RSS is its own), alternated.

    python benchmarks/read_split_memory.py SPLIT.parquet [--rounds 2]

SPLIT.parquet: e.g. the 25M split benchmarks/movielens_scale.py writes (/tmp/ml-scale/25M/out/split.parquet).
Prints, per reader and round, the peak RSS and what stays resident once the frame is read.
"""

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import resource, sys
sys.path.insert(0, {workflow!r})
import pandas as pd
import pyarrow  # noqa: F401  (imported before the baseline, as both readers use it)
from lesson5.data.collab_data import SPLIT_COLUMNS, read_split
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
frame = read_split({path!r}) if {reader!r} == "read_split" else pd.read_parquet({path!r}, columns=SPLIT_COLUMNS)
resident = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS")) // 1024
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(f"{{len(frame):,}} rows: after imports {{before}} MB, peak {{peak}} MB, resident after reading {{resident}} MB")
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("split", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for _ in range(args.rounds):
        for reader in ("read_split", "pd.read_parquet"):
            code = CHILD.format(workflow=str(ROOT / "workflow"), path=str(args.split), reader=reader)
            out = subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.PIPE, text=True)
            print(f"{reader}: {out.stdout.strip()}", flush=True)


if __name__ == "__main__":
    main()
