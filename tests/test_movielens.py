"""Reading and validating MovieLens releases: each check shown to reject a crafted bad file, once, at
its real line, with or without checksums."""

import numpy as np
import pandas as pd
import pytest

from lesson5.data.movielens import RELEASES, get_release
from lesson5.data.schemas import parse_fold, parse_release
from lesson5.data.splits import fold_split, random_split
from lesson5.data.synthetic import write_release
from lesson5.errors import DataValidationError

ML = get_release("ml-100k")


def load(folder, release=ML):
    users = folder / release.users.file if release.users else None
    return parse_release(release, folder / release.ratings.file, folder / release.items.file, users)


def rewrite_line(path, line_no, new, encoding="latin-1"):
    lines = path.read_text(encoding=encoding).splitlines()
    lines[line_no - 1] = new
    path.write_text("\n".join(lines) + "\n", encoding=encoding)


def expect_invalid(folder, *fragments, release=ML):
    with pytest.raises(DataValidationError) as info:
        load(folder, release)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    return info.value


def test_generated_data_parses_and_titles_decode_as_latin1(tiny_ml):
    ratings, items = load(tiny_ml)
    assert list(ratings.columns) == ["user", "item", "rating", "timestamp"]
    assert ratings.dtypes.map(str).tolist() == ["int64"] * 4
    assert ratings.index[0] == 1 and ratings.index[-1] == len(ratings)  # the index is the file line
    assert items.loc[items.item == 1, "title"].item() == "Misérables, Les (1995)"
    assert (tiny_ml / "u.item").read_bytes().count("é".encode("latin-1")) >= 2
    with pytest.raises(UnicodeDecodeError):
        (tiny_ml / "u.item").read_bytes().decode("utf-8")
    assert list(items.columns) == ["item", "title", "release_date", "genres"] and items.genres.str.len().gt(0).all()


def test_rating_out_of_range_names_line(tiny_ml):
    rewrite_line(tiny_ml / "u.data", 5, "1\t2\t6\t881250949")
    error = expect_invalid(tiny_ml, "u.data", "rating", "isin")
    assert error.report.line.tolist() == [5] and error.report.failure_case.tolist() == [6]


def test_one_bad_value_is_one_problem_at_its_line(tiny_ml):
    """A single half-star in a whole-star release: one problem, not one per line."""
    rewrite_line(tiny_ml / "u.data", 9, "1\t2\t3.5\t881250949")
    error = expect_invalid(tiny_ml, "1 problem(s)", "integer expected")
    assert error.report[["line", "column", "failure_case"]].values.tolist() == [[9, "rating", "3.5"]]


def test_line_numbers_stay_true_after_a_blank_line(tiny_ml):
    lines = (tiny_ml / "u.data").read_text().splitlines()
    lines[10] = "1\t2\t9\t881250949"  # file line 11, which becomes 12 below the blank line
    (tiny_ml / "u.data").write_text("\n".join(lines[:3] + [""] + lines[3:]) + "\n")
    error = expect_invalid(tiny_ml, "blank")
    assert sorted(zip(error.report.line, error.report.check)) == [(4, "line: blank")]
    (tiny_ml / "u.data").write_text("\n".join(lines) + "\n")  # without the blank line the value is at 11
    assert expect_invalid(tiny_ml, "isin").report.line.tolist() == [11]


def test_utf8_copy_of_a_latin1_items_file_is_refused(tiny_ml):
    text = (tiny_ml / "u.item").read_text(encoding="latin-1")
    (tiny_ml / "u.item").write_bytes(text.encode("utf-8"))  # a re-encoded copy: "MisÃ©rables" if read as latin-1
    error = expect_invalid(tiny_ml, "u.item", "latin-1 file is UTF-8")
    assert error.report.line.tolist() == [1]


def test_utf8_release_that_does_not_decode_names_the_line(tmp_path):
    release = get_release("ml-latest-small")
    folder = write_release(tmp_path / "small", release, 30, 40, 600)
    raw = (folder / "movies.csv").read_bytes().split(b"\n")
    raw[7] = raw[7] + b"\xe9"  # a latin-1 byte in a UTF-8 file, on file line 8
    (folder / "movies.csv").write_bytes(b"\n".join(raw))
    error = expect_invalid(folder, "not utf-8", release=release)
    assert error.report.line.tolist() == [8]


@pytest.mark.parametrize("field, value, check", [(5, "2", "flag 0 or 1"), (None, None, "24 fields expected")])
def test_items_rows_are_checked_field_by_field(tiny_ml, field, value, check):
    lines = (tiny_ml / "u.item").read_text(encoding="latin-1").splitlines()
    fields = lines[4].split("|")
    if field is None:
        fields = fields[:20]  # a row cut short
    else:
        fields[field] = value
    rewrite_line(tiny_ml / "u.item", 5, "|".join(fields))
    assert expect_invalid(tiny_ml, check).report.line.tolist() == [5]


def test_csv_release_without_its_header_or_with_columns_swapped(tmp_path):
    release = get_release("ml-latest-small")
    folder = write_release(tmp_path / "small", release, 30, 40, 600)
    lines = (folder / "ratings.csv").read_text().splitlines()
    (folder / "ratings.csv").write_text("\n".join(lines[1:]) + "\n")
    assert "header: missing" in str(expect_invalid(folder, "first line is data", release=release))
    (folder / "ratings.csv").write_text("\n".join(["movieId,userId,rating,timestamp"] + lines[1:]) + "\n")
    expect_invalid(folder, "columns in another order", release=release)


def test_a_last_line_cut_inside_its_timestamp(tiny_ml):
    text = (tiny_ml / "u.data").read_text()
    (tiny_ml / "u.data").write_text(text[:-5])  # "...\t88125" and no newline
    error = expect_invalid(tiny_ml, "no newline at the end")
    n = len(text.splitlines())
    assert error.report.line.tolist() == [n]
    (tiny_ml / "u.data").write_text(text[:-5] + "\n")  # cut, then a newline: a 1970 timestamp
    error = expect_invalid(tiny_ml, "timestamp", "in_range")
    assert error.report.line.tolist() == [n]


def test_each_check_lists_at_most_n_problems_with_its_total(tiny_ml):
    lines = (tiny_ml / "u.data").read_text().splitlines()
    for k in range(30):
        u, i, _, t = lines[k].split("\t")
        lines[k] = f"{u}\t{i}\t7\t{t}"
    (tiny_ml / "u.data").write_text("\n".join(lines) + "\n")
    error = expect_invalid(tiny_ml, "30 problem(s)", "at most 10 per check")
    assert len(error.report) == 10 and error.report.line.tolist() == list(range(1, 11))


@pytest.mark.parametrize("edit, fragment, line", [
    ("1\t2\t3", "4 fields expected", 3),
    ("x\t2\t3\t881250949", "integer expected", 3),
    ("0\t2\t3\t881250949", "greater_than_or_equal_to(1)", 3),
])
def test_malformed_rows(tiny_ml, edit, fragment, line):
    rewrite_line(tiny_ml / "u.data", line, edit)
    assert expect_invalid(tiny_ml, fragment).report.line.tolist() == [line]


def test_duplicate_pair_unknown_item_and_unknown_user(tiny_ml):
    lines = (tiny_ml / "u.data").read_text().splitlines()
    (tiny_ml / "u.data").write_text("\n".join(lines + [lines[0]]) + "\n")
    error = expect_invalid(tiny_ml, "rates the same item twice")
    assert sorted(error.report.line) == [1, len(lines) + 1]  # both rows, once each
    (tiny_ml / "u.data").write_text("\n".join(lines + ["1\t999\t3\t881250949"]) + "\n")
    expect_invalid(tiny_ml, "item is listed in the items table")
    (tiny_ml / "u.data").write_text("\n".join(lines + ["777\t1\t3\t881250949"]) + "\n")
    expect_invalid(tiny_ml, "user is listed in the users table")


def test_empty_title(tiny_ml):
    lines = (tiny_ml / "u.item").read_text(encoding="latin-1").splitlines()
    rewrite_line(tiny_ml / "u.item", 3, "|".join(["3", "", *lines[2].split("|")[2:]]))
    expect_invalid(tiny_ml, "title")


def test_fold_files_are_checked_against_the_release(tiny_ml):
    ratings, items = load(tiny_ml)
    lines = (tiny_ml / "u1.base").read_text().splitlines()
    u, i, r, t = lines[2].split("\t")
    lines[2] = f"{u}\t{i}\t{6 - int(r) if int(r) != 3 else 4}\t{t}"  # a rating that differs from u.data's
    lines[4] = "1\t555\t3\t881250949"  # an item nobody knows
    (tiny_ml / "u1.base").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataValidationError) as info:
        parse_fold(ML, tiny_ml / "u1.base", ratings, items)
    checks = info.value.report.groupby("line").check.agg(set)
    assert checks[3] == {"the row equals its rating in the ratings file"}
    assert "item is listed in the items table" in checks[5]


def test_random_split_is_fastais_positional_split():
    ratings = pd.DataFrame({"user": range(100), "item": range(100), "rating": [3] * 100, "timestamp": range(100)})
    split = random_split(ratings, 0.1, 42)
    order = np.random.default_rng(42).permutation(100)
    assert sorted(np.flatnonzero(split.is_valid)) == sorted(order[:10])
    assert split.is_valid.sum() == 10


def test_fold_split_marks_test_rows(tiny_ml):
    ratings, items = load(tiny_ml)
    base, test = (parse_fold(ML, tiny_ml / f"u1.{p}", ratings, items) for p in ("base", "test"))
    split = fold_split(base, test)
    assert split.is_valid.sum() == len(test) and len(split) == len(ratings)


def test_every_release_lists_its_files():
    for release in RELEASES.values():
        files = release.files()
        assert files[0] == release.ratings.file and release.items.file in files
        assert len(files) == len(set(files))
    assert len(get_release("ml-100k").files()) == 3 + 10


@pytest.mark.parametrize("name", ["ml-1m", "ml-10m", "ml-latest-small", "ml-25m"])
def test_every_format_parses(tmp_path, name):
    release = get_release(name)
    folder = write_release(tmp_path / name, release, 40, 50, 1000)
    ratings, items = load(folder, release)
    assert len(ratings) > 900 and ratings.rating.isin(release.ratings_values).all()
    assert items.title.str.contains("Misérables").any()


def test_unknown_release():
    with pytest.raises(DataValidationError, match="unknown MovieLens release"):
        get_release("ml-5m")


BAD_LINES = {  # line number (1-based, after the header if any) -> what replaces the good line there
    5: "", 40: "1{s}2{s}3", 77: "1{s}x{s}3{s}4", 78: "1{s}2{s}3{s}4{s}5", 150: "1{s}2{s}3.5e{s}4", 151: " 1{s}2{s}3{s}4",
}


@pytest.mark.parametrize("release", ["ml-100k", "ml-1m", "ml-25m"])
@pytest.mark.parametrize("chunk", [64, 700, 1 << 20])
def test_streamed_scan_reports_what_the_whole_file_scan_reports(tmp_path, release, chunk):
    """scan_large (chunks, pyarrow deciding which ones are clean) and scan_lines (every line in Python)
    find the same problems at the same lines, whatever the chunk size: tab, '::' and CSV with a header."""
    from lesson5.data.tables import Problems, scan_large, scan_lines

    fmt = get_release(release).ratings
    rows = [fmt.sep.join(str(v) for v in (1 + k % 7, 2 + k % 5, 1 + k % 5, 880000000 + k)) for k in range(200)]
    for line, bad in BAD_LINES.items():
        rows[line - 1] = bad.format(s=fmt.sep)
    body = "\n".join(([",".join(fmt.header)] if fmt.header else []) + rows) + "\n" + "3" + fmt.sep + "4"  # cut last
    path = tmp_path / fmt.file
    path.write_text(body)
    whole, streamed = Problems(limit=50), Problems(limit=50)
    scan_lines(path, fmt, whole)
    scan_large(path, fmt, streamed, chunk=chunk)
    assert streamed.totals == whole.totals and len(whole.rows) == 8  # one per bad line, two for the cut one
    assert sorted(map(str, streamed.rows)) == sorted(map(str, whole.rows))
