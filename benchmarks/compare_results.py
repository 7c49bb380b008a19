"""Two results trees, file by file: byte-identical, equal but for timing columns, or different.

    python benchmarks/compare_results.py OLD NEW [--map data/ml-100k/splits/=ml-100k/splits/ml-100k/ ...]

Paths of OLD are looked up in NEW after the first matching --map prefix rewrite (OLD_PREFIX=NEW_PREFIX;
a lone =PREFIX prepends PREFIX to every path no other rule matched). Figures and benchmark files are
skipped; TSV and Parquet tables are compared as frames without their ``seconds`` columns."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def mapped(rel: str, rules: list[tuple[str, str]]) -> str:
    for old, new in rules:
        if old and rel.startswith(old):
            return new + rel[len(old):]
    default = [new for old, new in rules if not old]
    return default[0] + rel if default else rel


def frames_equal(a: Path, b: Path) -> bool:
    read = pd.read_parquet if a.suffix == ".parquet" else (lambda p: pd.read_csv(p, sep="\t", comment="#"))
    x, y = read(a), read(b)
    drop = [c for c in x.columns if "second" in c]
    try:
        pd.testing.assert_frame_equal(x.drop(columns=drop), y.drop(columns=drop, errors="ignore"))
        return True
    except AssertionError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--map", nargs="*", default=[], help="OLD_PREFIX=NEW_PREFIX, first match wins")
    args = parser.parse_args()
    rules = [tuple(rule.split("=", 1)) for rule in args.map]
    counts = {"identical": 0, "equal but for timing": 0, "different": 0, "missing": 0}
    for path in sorted(p for p in args.old.rglob("*") if p.is_file()):
        rel = str(path.relative_to(args.old))
        if path.suffix == ".png" or "benchmarks/" in rel:
            continue
        other = args.new / mapped(rel, rules)
        if not other.exists():
            kind = "missing"
        elif path.read_bytes() == other.read_bytes():
            kind = "identical"
        elif path.suffix in (".tsv", ".parquet") and frames_equal(path, other):
            kind = "equal but for timing"
        else:
            kind = "different"
        counts[kind] += 1
        if kind in ("missing", "different"):
            print(f"{kind}: {rel}")
    print(", ".join(f"{n} {kind}" for kind, n in counts.items()))
    return 0 if not counts["missing"] + counts["different"] else 1


if __name__ == "__main__":
    sys.exit(main())
