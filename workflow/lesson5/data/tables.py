"""Reading delimited tables so that every problem is reported once, at its real file line and column.

Two paths, one set of messages:
  * fast: pyarrow's multi-threaded CSV reader into typed columns (25 million ratings in seconds, a
    few hundred MB), used for the numeric tables (ratings, folds) once the file's lines are known to
    be one row each (no blank line that a parser would silently skip);
  * exact: a line-by-line scan of the raw bytes, which names the line and column of each problem:
    a blank or cut line, a wrong field count, an undecodable byte, a value that is not a number. It
    runs when the fast path cannot read a file, and for the small text tables (items, users).
Problems are collected per check, at most ``limit`` listed per check with the total count.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lesson5.errors import DataValidationError

REPORT_COLUMNS = ["file", "line", "column", "check", "failure_case"]
CHUNK = 1 << 22
INTEGER = re.compile(r"[+-]?\d+")
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
# the same checks for pyarrow's RE2 (whose \d is ASCII only: stricter, so a chunk it fails is scanned)
WHOLE_VALUE = {"int": f"^{INTEGER.pattern}$", "float": f"^{NUMBER.pattern}$", "flag": "^[01]$"}


@dataclass
class Problems:
    """Problems found in one or more files: the first ``limit`` of each check, and every check's total."""

    limit: int = 10
    rows: list[dict] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)

    def add(self, file, line, column, check: str, value):
        self.totals[check] = self.totals.get(check, 0) + 1
        if self.totals[check] <= self.limit:
            self.rows.append({"file": str(file), "line": line, "column": column, "check": check,
                              "failure_case": value})

    def add_many(self, file, lines, column, check: str, values):
        """Vectorised add: ``lines`` and ``values`` are arrays of the failing rows."""
        lines, values = np.asarray(lines), np.asarray(values, dtype=object)
        if not len(lines):
            return
        self.totals[check] = self.totals.get(check, 0) + len(lines)
        keep = max(0, min(len(lines), self.limit - (self.totals[check] - len(lines))))
        self.rows += [{"file": str(file), "line": int(line), "column": column, "check": check, "failure_case": v}
                      for line, v in zip(lines[:keep], values[:keep])]

    def __bool__(self):
        return bool(self.totals)

    def count(self) -> int:
        return sum(self.totals.values())

    def report(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=REPORT_COLUMNS)

    def raise_if_any(self, what: str):
        """One DataValidationError for everything found: per check, its count and first lines."""
        if not self:
            return
        total = sum(self.totals.values())
        head = self.report().head(12).to_string(index=False)
        counts = "; ".join(f"{check}: {n}" for check, n in self.totals.items())
        files = ", ".join(dict.fromkeys(r["file"] for r in self.rows))
        raise DataValidationError(
            f"{files}: {total} problem(s) in the {what} ({counts}). First ones (at most {self.limit} per check):\n"
            f"{head}", report=self.report())


@dataclass(frozen=True)
class TableFormat:
    """A delimited file's layout: separator, the columns it holds (canonical names), their types
    ("int", "float", "text", "flag"), the header row it starts with (() if none) and its encoding."""

    file: str
    sep: str
    columns: tuple[str, ...]
    types: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    encoding: str = "utf-8"
    quoted: bool = False  # CSV quoting: fields holding the separator are in double quotes


def check_encoding(raw: bytes, path, fmt: TableFormat, problems: Problems) -> str:
    """Decode a whole (small) file, reporting the line of the first byte that does not belong:
    a UTF-8 release that does not decode, or a latin-1 release that is valid non-ASCII UTF-8 (a
    re-encoded copy: read as latin-1 it would store "MisÃ©rables")."""
    if fmt.encoding.replace("_", "-").lower() in ("latin-1", "latin1", "iso-8859-1"):
        if not raw.isascii():
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return raw.decode("latin-1")
            first = next(i for i, b in enumerate(raw) if b > 127)
            problems.add(path, raw.count(b"\n", 0, first) + 1, None, "encoding: latin-1 file is UTF-8",
                         f"the file decodes as UTF-8 with non-ASCII characters; this release's {fmt.file} "
                         "is latin-1 (re-encode the copy to latin-1, or give the original file)")
        return raw.decode("latin-1")
    try:
        return raw.decode(fmt.encoding)
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        problems.add(path, line, None, f"encoding: not {fmt.encoding}", raw[error.start:error.start + 8])
        return raw.decode(fmt.encoding, errors="replace")


def split_fields(text: str, fmt: TableFormat) -> list[str]:
    if fmt.quoted:
        return next(csv.reader([text], delimiter=fmt.sep))
    return text.split(fmt.sep)


def check_header(first: str, path, fmt: TableFormat, problems: Problems):
    names = tuple(split_fields(first, fmt))
    if names == fmt.header:
        return
    if len(names) == len(fmt.header) and all(NUMBER.fullmatch(v) for v in names if v):
        problems.add(path, 1, None, "header: missing", f"the first line is data ({first!r}); expected the "
                     f"header {fmt.sep.join(fmt.header)!r} (a copy written without it loses its first row)")
    elif sorted(names) == sorted(fmt.header):
        problems.add(path, 1, None, "header: columns in another order",
                     f"{fmt.sep.join(names)!r}, expected {fmt.sep.join(fmt.header)!r}")
    else:
        problems.add(path, 1, None, "header: unexpected names", f"{first!r}, expected {fmt.sep.join(fmt.header)!r}")


def check_line(path, number: int, line: str, fmt: TableFormat, problems: Problems) -> list[str] | None:
    """One line's checks: blank, its field count, each value's type. Its values, or None if it is no row."""
    line = line.rstrip("\r")
    if not line.strip():
        problems.add(path, number, None, "line: blank", "")
        return None
    values = split_fields(line, fmt)
    if len(values) != len(fmt.columns):
        problems.add(path, number, None, f"line: {len(fmt.columns)} fields expected", f"{len(values)}: {line[:60]!r}")
        return None
    for column, kind, value in zip(fmt.columns, fmt.types or ("text",) * len(fmt.columns), values):
        if kind == "int" and not INTEGER.fullmatch(value):
            problems.add(path, number, column, "value: integer expected", value)
        elif kind == "float" and not NUMBER.fullmatch(value):
            problems.add(path, number, column, "value: number expected", value)
        elif kind == "flag" and value not in ("0", "1"):
            problems.add(path, number, column, "value: flag 0 or 1 expected", value)
    return values


def scan_lines(path, fmt: TableFormat, problems: Problems) -> pd.DataFrame | None:
    """The exact path for a small table: every line of ``path`` checked (``check_line``), the whole file's
    encoding too; returns the table (text values, index = file line)."""
    path = Path(path)
    raw = path.read_bytes()
    text = check_encoding(raw, path, fmt, problems)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    elif lines:
        problems.add(path, len(lines), None, "line: no newline at the end (cut?)", lines[-1][-40:])
    start = 0
    if fmt.header:
        if not lines:
            problems.add(path, 1, None, "header: missing", "the file is empty")
            return None
        check_header(lines[0].rstrip("\r"), path, fmt, problems)
        start = 1
    rows, numbers = [], []
    for number, line in enumerate(lines[start:], start=start + 1):
        values = check_line(path, number, line, fmt, problems)
        if values is not None:
            rows.append(values)
            numbers.append(number)
    if not lines[start:]:
        problems.add(path, start + 1, None, "line: the table has no rows", "")
    return pd.DataFrame(rows, columns=list(fmt.columns), index=pd.Index(numbers, name="line"))


def line_chunks(path, size: int = CHUNK):
    """(first line number, bytes of whole lines) of ``path``, about ``size`` bytes each; the last chunk
    holds whatever follows the last newline."""
    number, rest = 1, b""
    with open(path, "rb") as handle:
        while block := handle.read(size):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            if cut:
                yield number, block[:cut]
                number += block.count(b"\n", 0, cut)
            rest = block[cut:]
    if rest:
        yield number, rest


def chunk_is_clean(data: bytes, fmt: TableFormat) -> bool:
    """Whether every line of ``data`` (whole lines, each ending in a newline) passes ``check_line``,
    asked of pyarrow in C++: the lines read as text columns of the right count, one row a line (pyarrow
    skips blank ones), every value matching its type's pattern. False sends the chunk through the
    per-line scan, which says what is wrong."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as pacsv

    if (fmt.quoted and b'"' in data) or len(fmt.sep) > 2 or (len(fmt.sep) == 2 and fmt.sep[0] != fmt.sep[1]):
        return False  # quotes (where a format has them) and odd separators: the per-line scan
    sep = fmt.sep.encode()
    if len(sep) == 2:  # "::" as one character no value contains (a stray ':' then fails a pattern)
        data = data.replace(sep, b"\x1f")
        sep = b"\x1f"
    try:
        table = pacsv.read_csv(pa.py_buffer(data),
                               read_options=pacsv.ReadOptions(column_names=list(fmt.columns)),
                               parse_options=pacsv.ParseOptions(delimiter=sep.decode(), quote_char=False),
                               convert_options=pacsv.ConvertOptions(
                                   column_types={c: pa.string() for c in fmt.columns}, strings_can_be_null=False))
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return False
    if table.num_rows != data.count(b"\n") or b"\r" in data:
        return False
    return all(pc.all(pc.match_substring_regex(table.column(c), WHOLE_VALUE[k])).as_py() is not False
               for c, k in zip(fmt.columns, fmt.types) if k in WHOLE_VALUE)


def scan_large(path, fmt: TableFormat, problems: Problems, chunk: int = CHUNK):
    """The exact report for a large numeric table the fast path could not read, in bounded memory:
    the file streams in chunks of whole lines; a chunk pyarrow finds clean is passed, any other is
    scanned line by line with the same checks and messages as ``scan_lines``."""
    path, seen = Path(path), False
    for first, data in line_chunks(path, chunk):
        try:
            text = data.decode(fmt.encoding)
        except UnicodeDecodeError as error:
            problems.add(path, first + data.count(b"\n", 0, error.start), None, f"encoding: not {fmt.encoding}",
                         data[error.start:error.start + 8])
            text = data.decode(fmt.encoding, errors="replace")
        lines = text.split("\n")
        last = lines.pop()  # "" after a final newline, else the file's cut last line
        if last:
            problems.add(path, first + len(lines), None, "line: no newline at the end (cut?)", last[-40:])
            lines.append(last)
        start = int(first == 1 and bool(fmt.header) and bool(lines))
        if start:
            check_header(lines[0].rstrip("\r"), path, fmt, problems)
        seen = seen or len(lines) > start
        rows = data[data.index(b"\n") + 1:] if start else data
        if last or not chunk_is_clean(rows, fmt):
            for number, line in enumerate(lines[start:], start=first + start):
                check_line(path, number, line, fmt, problems)
    if not seen:
        problems.add(path, 1 + bool(fmt.header), None, "line: the table has no rows", "")


def count_lines(path) -> tuple[int, bool]:
    """(number of lines, whether the last one ends with a newline), read in chunks: bounded memory."""
    n, last = 0, b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n"), last == b"\n"


def arrow_table(path, fmt: TableFormat, skip: int):
    """(pyarrow table of typed columns, the names of its gap columns), or (None, []) where pyarrow
    cannot parse the file as ``fmt`` says."""
    import pyarrow as pa
    from pyarrow import csv as pacsv

    # "::" (ml-1m, ml-10m) as ':' with an empty field between the values; pyarrow takes one character
    double = len(fmt.sep) == 2 and fmt.sep[0] == fmt.sep[1]
    names = [f"{c}{suffix}" for c in fmt.columns for suffix in (("", "_gap") if double else ("",))]
    names = names[:-1] if double else names
    gaps = [n for n in names if n.endswith("_gap")]
    kinds = {"int": pa.int64(), "float": pa.float64()}
    types = {c: kinds[k] for c, k in zip(fmt.columns, fmt.types)} | {n: pa.string() for n in gaps}
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=skip, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=fmt.sep[0], quote_char='"' if fmt.quoted else False),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False, null_values=[])), gaps
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        return None, []


def read_numeric(path, fmt: TableFormat) -> pd.DataFrame | None:
    """The fast path for an all-numeric table: typed columns from pyarrow, the index set to the file
    line of each row. None when the file is not a clean table of one row per line (a parse error, a
    blank line, no newline at the end, a header that is not the expected one): ``scan_large`` then
    says exactly what is wrong."""
    import pyarrow as pa
    import pyarrow.compute as pc

    path = Path(path)
    n_lines, ends_with_newline = count_lines(path)
    if not ends_with_newline:
        return None
    skip = 0
    if fmt.header:
        with open(path, encoding=fmt.encoding, errors="replace") as handle:
            if tuple(split_fields(handle.readline().rstrip("\r\n"), fmt)) != fmt.header:
                return None
        skip = 1
    table, gaps = arrow_table(path, fmt, skip)
    if table is None:
        return None
    if table.num_rows != n_lines - skip:
        return None  # a blank line the reader skipped: the rows no longer match the lines
    if any(table.column(g).null_count or pc.any(pc.not_equal(table.column(g), "")).as_py()
           for g in gaps):
        return None
    # numeric columns without nulls convert without a copy, and arrow's buffers go as they are taken;
    # then the pool returns what it freed (it would keep it otherwise)
    frame = table.drop_columns(gaps).to_pandas(split_blocks=True, self_destruct=True)
    del table
    pa.default_memory_pool().release_unused()
    frame.index = pd.RangeIndex(skip + 1, skip + 1 + len(frame), name="line")
    return frame
