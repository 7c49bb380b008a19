"""The project's own corpus of bad inputs, across releases and sources, with checksums on and off.

Each case damages a generated release (or its source) one way, then runs the data rules' own scripts
(fetch, parse, split) as Snakemake would: a job that refuses its input must exit non-zero with one
message naming the file and the line (or the source), and leave none of its outputs. With checksums
on, every damaged file is already refused by the fetch (sha256 mismatch); with them off, validation
alone must find the damage.
"""

import gzip
import os
import runpy
import socket
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from snakemake.iocontainers import Namedlist

from conftest import ROOT, checksums_of
from lesson5.data.movielens import get_release
from lesson5.data.synthetic import write_release

SCRIPTS = ROOT / "workflow" / "scripts"


# the untracked keys the scripts read from the config (lesson5.params.UNTRACKED)
CONFIG = {"download": {"timeout_s": 2, "retries": 1, "max_extract_mb": 16},
          "movielens": {"max_problems_per_check": 10}}


def smk(log, input=(), output=(), params=None, wildcards=None):
    """What a rule's script receives as ``snakemake``: named inputs, outputs, params, the config, the log."""
    def named(values):
        return Namedlist(fromdict=values) if isinstance(values, dict) else Namedlist(list(values))

    obj = type("Smk", (), {})()
    obj.input, obj.output, obj.log = named(input), named(output), Namedlist([str(log)])
    obj.params, obj.wildcards = named(params or {}), named(wildcards or {})
    obj.threads, obj.scriptdir, obj.config = 1, str(SCRIPTS), CONFIG
    return obj


def run_rule(script: str, job) -> tuple[int, str]:
    """Run a rule's script in this process; (exit status, what it logged)."""
    try:
        runpy.run_path(str(SCRIPTS / script), init_globals={"snakemake": job}, run_name="__main__")
        status = 0
    except SystemExit as done:
        status = done.code or 0
    return status, Path(job.log[0]).read_text() if Path(job.log[0]).exists() else ""


@dataclass
class Case:
    name: str
    release: str
    damage: callable  # (source folder, tmp) -> new source (or None: the folder itself)
    file: str  # the file the message must name
    line: int | None  # the line it must name (None: the source, no line)
    fold: str | None = None  # damage in an official fold: the split rule refuses it


def edit(file, line, new, encoding="latin-1"):
    def apply(folder, tmp):
        path = folder / file
        lines = path.read_text(encoding=encoding).splitlines()
        if line is None:
            lines.append(new)
        elif new is None:
            lines.insert(line - 1, "")
        else:
            lines[line - 1] = new(lines[line - 1]) if callable(new) else new
        path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return apply


def raw(file, transform):
    def apply(folder, tmp):
        path = folder / file
        path.write_bytes(transform(path.read_bytes()))
    return apply


def field(index, value, sep="\t"):
    return lambda line: sep.join(value if k == index else v for k, v in enumerate(line.split(sep)))


def fifo(folder, tmp):
    os.mkfifo(tmp / "pipe")
    return tmp / "pipe"


def unix_socket(folder, tmp):
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp / "sock"))
    return tmp / "sock"


def zip_of(folder, tmp, payload=None):
    archive = tmp / "release.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            zf.writestr(f"ml-100k/{path.name}", payload if payload is not None and path.name == "u.data"
                        else path.read_bytes())
    return archive


def replace_with_folder(file):
    def apply(folder, tmp):
        (folder / file).unlink()
        (folder / file).mkdir()
    return apply


def remove(file):
    def apply(folder, tmp):
        (folder / file).unlink()
    return apply


T = "881250949"
CASES = [
    # ml-100k: u.data (tab-separated, whole stars)
    Case("rating above range", "ml-100k", edit("u.data", 5, field(2, "6")), "u.data", 5),
    Case("half-star rating in a whole-star release", "ml-100k", edit("u.data", 6, field(2, "3.5")), "u.data", 6),
    Case("rating not a number", "ml-100k", edit("u.data", 7, field(2, "x")), "u.data", 7),
    Case("user id 0", "ml-100k", edit("u.data", 8, field(0, "0")), "u.data", 8),
    Case("negative item id", "ml-100k", edit("u.data", 9, field(1, "-3")), "u.data", 9),
    Case("three fields", "ml-100k", edit("u.data", 10, lambda l: l.rsplit("\t", 1)[0]), "u.data", 10),
    Case("five fields", "ml-100k", edit("u.data", 11, lambda l: l + "\t1"), "u.data", 11),
    Case("blank line", "ml-100k", edit("u.data", 12, None), "u.data", 12),
    Case("duplicate rating", "ml-100k", raw("u.data", lambda b: b + b.split(b"\n")[0] + b"\n"), "u.data", 1),
    Case("unknown item", "ml-100k", edit("u.data", None, f"1\t999\t3\t{T}"), "u.data", 601),
    Case("unknown user", "ml-100k", edit("u.data", None, f"777\t1\t3\t{T}"), "u.data", 601),
    Case("timestamp cut to six digits", "ml-100k", edit("u.data", 13, field(3, "881250")), "u.data", 13),
    Case("last line cut, no newline", "ml-100k", raw("u.data", lambda b: b[:-4]), "u.data", 600),
    Case("empty ratings file", "ml-100k", raw("u.data", lambda b: b""), "u.data", 1),
    Case("spaces for tabs", "ml-100k", edit("u.data", 14, lambda l: l.replace("\t", " ")), "u.data", 14),
    Case("binary garbage", "ml-100k", edit("u.data", 15, field(3, "\x00\x01\x02")), "u.data", 15),
    # ml-100k: u.item (latin-1, 19 genre flags), u.user
    Case("items re-encoded as UTF-8", "ml-100k", raw("u.item", lambda b: b.decode("latin-1").encode("utf-8")),
         "u.item", 1),
    Case("genre flag 2", "ml-100k", edit("u.item", 4, field(7, "2", "|")), "u.item", 4),
    Case("items row cut short", "ml-100k", edit("u.item", 5, lambda l: "|".join(l.split("|")[:10])), "u.item", 5),
    Case("empty title", "ml-100k", edit("u.item", 6, field(1, "", "|")), "u.item", 6),
    Case("duplicate item id", "ml-100k", edit("u.item", 7, field(0, "8", "|")), "u.item", 7),
    Case("item id not a number", "ml-100k", edit("u.item", 8, field(0, "eight", "|")), "u.item", 8),
    Case("blank line in items", "ml-100k", edit("u.item", 9, None), "u.item", 9),
    Case("duplicate user id", "ml-100k", edit("u.user", 3, field(0, "2", "|")), "u.user", 3),
    Case("user id not a number", "ml-100k", edit("u.user", 4, field(0, "abc", "|")), "u.user", 4),
    Case("users row cut short", "ml-100k", edit("u.user", 5, lambda l: "|".join(l.split("|")[:3])), "u.user", 5),
    # ml-100k: official folds
    Case("fold with an unknown item", "ml-100k", edit("u1.base", 3, field(1, "555")), "u1.base", 3, fold="u1"),
    Case("fold rating differs from u.data", "ml-100k",
         edit("u1.test", 2, lambda l: field(2, "1" if l.split("\t")[2] != "1" else "2")(l)), "u1.test", 2, fold="u1"),
    Case("fold with an unknown user", "ml-100k", edit("u2.base", 4, field(0, "999")), "u2.base", 4, fold="u2"),
    Case("fold value not a number", "ml-100k", edit("u3.test", 5, field(3, "soon")), "u3.test", 5, fold="u3"),
    # ml-1m: "::" files, latin-1, users.dat
    Case("single-colon separator", "ml-1m", edit("ratings.dat", 3, lambda l: l.replace("::", ":", 1)),
         "ratings.dat", 3),
    Case("rating 0", "ml-1m", edit("ratings.dat", 4, field(2, "0", "::")), "ratings.dat", 4),
    Case("ml-1m timestamp outside 2000-2003", "ml-1m", edit("ratings.dat", 5, field(3, T, "::")),
         "ratings.dat", 5),
    Case("movies re-encoded as UTF-8", "ml-1m",
         raw("movies.dat", lambda b: b.decode("latin-1").encode("utf-8")), "movies.dat", 1),
    Case("users.dat row cut short", "ml-1m", edit("users.dat", 6, lambda l: "::".join(l.split("::")[:3])),
         "users.dat", 6),
    # ml-latest-small: CSV, header, UTF-8, half stars
    Case("CSV without its header", "ml-latest-small", raw("ratings.csv", lambda b: b.split(b"\n", 1)[1]),
         "ratings.csv", 1),
    Case("CSV header with columns swapped", "ml-latest-small",
         edit("ratings.csv", 1, "movieId,userId,rating,timestamp", "utf-8"), "ratings.csv", 1),
    Case("rating 5.5", "ml-latest-small", edit("ratings.csv", 3, field(2, "5.5", ","), "utf-8"), "ratings.csv", 3),
    Case("rating 3.25", "ml-latest-small", edit("ratings.csv", 4, field(2, "3.25", ","), "utf-8"), "ratings.csv", 4),
    Case("invalid UTF-8 in movies.csv", "ml-latest-small",
         raw("movies.csv", lambda b: b.replace(b"Documentary", b"Document\xe9ry", 1)), "movies.csv", 2),
    Case("unbalanced quote in a title", "ml-latest-small", edit("movies.csv", 9, lambda l: l.replace(",", ',"', 1),
                                                                "utf-8"), "movies.csv", 9),
    Case("blank line in a CSV", "ml-latest-small", edit("ratings.csv", 6, None, "utf-8"), "ratings.csv", 6),
    # ml-25m: the large releases' CSV format
    Case("ml-25m user id not a number", "ml-25m", edit("ratings.csv", 5, field(0, "u5", ","), "utf-8"),
         "ratings.csv", 5),
    Case("ml-25m timestamp in the future", "ml-25m", edit("ratings.csv", 6, field(3, "4102444800", ","), "utf-8"),
         "ratings.csv", 6),
    # sources
    Case("source is a FIFO", "ml-100k", fifo, "pipe", None),
    Case("source is a character device", "ml-100k", lambda f, t: Path("/dev/zero"), "/dev/zero", None),
    Case("source is a socket", "ml-100k", unix_socket, "sock", None),
    Case("u.item missing from the folder", "ml-100k", remove("u.item"), "u.item", None),
    Case("u.data is a folder", "ml-100k", replace_with_folder("u.data"), "u.data", None),
    Case("corrupt zip archive", "ml-100k", lambda f, t: (t / "bad.zip").write_bytes(b"PK\x03\x04junk") and t / "bad.zip",
         "bad.zip", None),
    Case("zip bomb", "ml-100k", lambda f, t: zip_of(f, t, bytes(64 << 20)), "release.zip", None),
    Case("ftp source", "ml-100k", lambda f, t: "ftp://example.org/ml-100k.zip", "ftp://", None),
    Case("source that does not exist", "ml-100k", lambda f, t: t / "nowhere", "nowhere", None),
]


def fetch_job(tmp, release, source, checksums, verify):
    dest = tmp / "resources" / release.name
    files = release.files()
    return smk(tmp / "fetch.log", output=[str(dest / f) for f in files], params={"fetch": {
        "source": str(source), "checksums": {f: checksums.get(f) if verify else None for f in files},
        "unverified_why": "verify is false" if not verify else "no checksum configured", "cache": str(tmp / "cache"),
        "how_to_fix": "To use a local copy, set movielens.source"}}), dest


def assert_named(case, status, log, outputs):
    assert status != 0, f"{case.name}: the rule accepted the damaged input"
    assert "Traceback" not in log, log
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert errors, log
    assert case.file in log, f"{case.name}: the message does not name {case.file}:\n{log}"
    if case.line is not None:
        assert f" {case.line} " in log or f"line {case.line}" in log, f"{case.name}: line {case.line} not named:\n{log}"
    left = [str(p) for p in outputs if Path(p).exists()]
    assert not left, f"{case.name}: outputs left behind: {left}"


@pytest.mark.parametrize("verify", [True, False], ids=["checksums on", "checksums off"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_with_file_and_line(case, verify, tmp_path):
    release = get_release(case.release)
    folder = write_release(tmp_path / "src", release, 30, 40, 600)
    sums = checksums_of(folder, release.files())
    source = case.damage(folder, tmp_path) or folder
    fetch, dest = fetch_job(tmp_path, release, source, sums, verify)
    status, log = run_rule("fetch_dataset.py", fetch)
    if status != 0:  # refused at the source: either the source itself, or (checksums on) a changed file
        if verify and case.line is not None:
            assert "sha256 mismatch" in log and case.file in log, log
            assert not any(Path(p).exists() for p in fetch.output)
            return
        return assert_named(case, status, log, fetch.output)
    assert not verify or case.line is None or not case.file, "a damaged file passed its checksum"
    out = tmp_path / "results"
    out.mkdir()  # Snakemake makes an output's folder before the job starts
    parse = smk(tmp_path / "parse.log",
                input={"ratings": str(dest / release.ratings.file), "movies": str(dest / release.items.file),
                       "users": str(dest / release.users.file) if release.users else []},
                output={"ratings": str(out / "ratings.parquet"), "movies": str(out / "items.parquet")},
                params={"release": release.name})
    status, log = run_rule("parse_movielens.py", parse)
    if case.fold is None:
        return assert_named(case, status, log, parse.output)
    assert status == 0, log
    split = smk(tmp_path / "split.log",
                input={"ratings": str(out / "ratings.parquet"), "movies": str(out / "items.parquet"),
                       "base": str(dest / f"{case.fold}.base"), "test": str(dest / f"{case.fold}.test")},
                output=[str(out / f"{case.fold}.parquet")],
                params={"release": release.name, "split": {}},
                wildcards={"split": case.fold})
    status, log = run_rule("split_movielens.py", split)
    assert_named(case, status, log, split.output)


def test_the_corpus_is_large_and_covers_releases_and_sources():
    assert len(CASES) >= 40
    assert {c.release for c in CASES} >= {"ml-100k", "ml-1m", "ml-latest-small", "ml-25m"}
    assert sum(c.line is None for c in CASES) >= 8


@pytest.mark.parametrize("source", ["/dev/zero", "fifo"])
def test_a_refused_source_costs_little_memory(tmp_path, source):
    """The fetch job of /dev/zero or a FIFO: refused at once, in a process that stays small."""
    if source == "fifo":
        os.mkfifo(tmp_path / "pipe")
        source = tmp_path / "pipe"
    code = ("import runpy, sys; sys.path.insert(0, %r); from test_bad_inputs import *; "
            "job, _ = fetch_job(Path(%r), get_release('ml-100k'), %r, {}, False); "
            "status, log = run_rule('fetch_dataset.py', job); sys.exit(status)") % (
        str(ROOT / "tests"), str(tmp_path), str(source))
    # A fresh launcher runs the job: a child forked straight from pytest would count the pages it
    # shared with pytest (torch and all, ~900 MB) in its peak RSS, Linux keeping the high-water mark
    # across exec.
    launcher = ("import resource, subprocess, sys; p = subprocess.run([sys.executable, '-c', sys.argv[1]], "
                "stderr=subprocess.PIPE, text=True); sys.stderr.write(p.stderr); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(p.returncode)")
    proc = subprocess.run([sys.executable, "-c", launcher, code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT / "workflow")})
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "a source must be" in proc.stderr
    peak_mb = int(proc.stdout.split()[-1]) / 1024
    assert peak_mb < 200, f"peak RSS {peak_mb:.0f} MB"


def test_gzip_sources_are_capped_too(tmp_path):
    folder = tmp_path / "gz"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(bytes(64 << 20)))
    job, _ = fetch_job(tmp_path, get_release("ml-100k"), folder, {}, False)
    job.params.fetch["checksums"] = {"train-images-idx3-ubyte": None}
    job.output = Namedlist([str(tmp_path / "resources" / "fm" / "train-images-idx3-ubyte")])
    status, log = run_rule("fetch_dataset.py", job)
    assert status == 1 and "zip bomb" in log and not Path(job.output[0]).exists()


def test_a_stale_error_report_does_not_outlive_a_later_success(tmp_path):
    release = get_release("ml-100k")
    folder = write_release(tmp_path / "src", release, 30, 40, 600)
    good = (folder / "u.data").read_text()
    (folder / "u.data").write_text(good.replace("\t", "\t9\t", 1).split("\n", 1)[1])  # cut the first row
    (tmp_path / "out").mkdir()
    parse = smk(tmp_path / "parse.log", input={"ratings": str(folder / "u.data"), "movies": str(folder / "u.item"),
                                               "users": str(folder / "u.user")},
                output={"ratings": str(tmp_path / "out/r.parquet"), "movies": str(tmp_path / "out/i.parquet")},
                params={"release": "ml-100k", "max_problems": 10})
    (folder / "u.data").write_text("1\t2\t7\t881250949\n" + good)
    assert run_rule("parse_movielens.py", parse)[0] == 1
    report = Path(f"{tmp_path / 'parse.log'}.errors.tsv")
    assert report.exists()
    (folder / "u.data").write_text(good)
    assert run_rule("parse_movielens.py", parse)[0] == 0
    assert not report.exists()
