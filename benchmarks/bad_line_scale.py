"""What a bad line costs at scale: a synthetic ml-25m release (ml-25m's CSV format, planted ratings)
with one line in the middle cut to three fields, parsed as rule parse_movielens parses it, in a child
process under /usr/bin/time -v. Prints the wall time, the peak memory, the parse rule's own mem_mb at
that size, and the start of the error the rule would report; the same for the valid file.

    python benchmarks/bad_line_scale.py [--ratings 25000095] [--work /tmp/ml-scale/bad-line]
    python benchmarks/bad_line_scale.py --quick      # 200,000 ratings: runs in seconds
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "workflow")]

from movielens_scale import write  # noqa: E402  the same synthetic releases as the scale benchmark

PARSE = """
import sys, json
sys.path.insert(0, {workflow!r})
from lesson5.data.movielens import get_release
from lesson5.data.schemas import parse_release
from lesson5.errors import DataValidationError
try:
    ratings, _ = parse_release(get_release("ml-25m"), {ratings!r}, {movies!r})
    print(json.dumps({{"rows": len(ratings)}}))
except DataValidationError as error:
    print(json.dumps({{"error": str(error)}}))
"""


def cut_copy(folder: Path, out: Path) -> int:
    """A copy of the release whose middle rating line keeps three of its four fields; its line number."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(folder / "movies.csv", out / "movies.csv")
    size = (folder / "ratings.csv").stat().st_size
    with open(folder / "ratings.csv", "rb") as src, open(out / "ratings.csv", "wb") as dst:
        head = src.read(size // 2)
        head += src.readline()  # up to the end of the line that straddles the middle
        dst.write(head)
        line = src.readline()
        dst.write(line.rsplit(b",", 1)[0] + b"\n")
        shutil.copyfileobj(src, dst, 1 << 24)
    return head.count(b"\n") + 1


def measure(folder: Path) -> dict:
    code = PARSE.format(workflow=str(HERE.parent / "workflow"), ratings=str(folder / "ratings.csv"),
                        movies=str(folder / "movies.csv"))
    proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", code], capture_output=True, text=True)
    stats = dict(re.findall(r"^\s*(.+?): (.+)$", proc.stderr, re.M))
    wall = stats["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
    return {"seconds": float(wall[-1]) + 60 * int(wall[-2]), "peak_mb": int(stats["Maximum resident set size (kbytes)"]) / 1024,
            **json.loads(proc.stdout.strip().splitlines()[-1])}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=int, default=25_000_095)
    parser.add_argument("--work", type=Path, default=Path("/tmp/ml-scale/bad-line"))
    parser.add_argument("--quick", action="store_true", help="200,000 ratings (a check that the script runs)")
    args = parser.parse_args()
    n = 200_000 if args.quick else args.ratings
    valid = write(args.work / f"{n}" / "valid", n)
    line = cut_copy(valid, args.work / f"{n}" / "cut")
    mem_mb = 1000 + 60 * n / 1e6  # rules/movielens.smk: parse_movielens's mem_mb=ml_scaled(1000, 60)
    for name, folder in (("valid", valid), (f"line {line:,} cut", args.work / f"{n}" / "cut")):
        result = measure(folder)
        what = f"{result['rows']:,} rows" if "rows" in result else result["error"].splitlines()[0][:160]
        print(f"{n:,} ratings, {name}: {result['seconds']:.1f} s, peak {result['peak_mb']:,.0f} MB "
              f"(the rule's mem_mb: {mem_mb:,.0f}); {what}", flush=True)
        if "error" in result:
            assert f"{line}" in result["error"] and "fields expected" in result["error"], result["error"][:400]


if __name__ == "__main__":
    main()
