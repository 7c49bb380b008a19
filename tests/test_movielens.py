"""Parsing and pandera validation of MovieLens files, each rule shown to reject a crafted bad file."""

import pandas as pd
import pytest

from lesson5.data.movielens import RELEASES, get_release, parse_items, parse_ratings
from lesson5.data.schemas import check_items_known, validate_items, validate_ratings
from lesson5.data.splits import fold_split, random_split
from lesson5.errors import DataValidationError

ML = get_release("ml-100k")


def load(folder):
    ratings = validate_ratings(parse_ratings(folder / "u.data", ML), ML, "u.data")
    items = validate_items(parse_items(folder / "u.item", ML), "u.item")
    check_items_known(ratings, items, "u.data")
    return ratings, items


def test_generated_data_parses_and_titles_decode_as_latin1(tiny_ml):
    ratings, items = load(tiny_ml)
    assert list(ratings.columns) == ["user", "item", "rating", "timestamp"]
    assert ratings.dtypes.map(str).tolist() == ["int64"] * 4
    assert items.loc[items.item == 1, "title"].item() == "Misérables, Les (1995)"
    assert (tiny_ml / "u.item").read_bytes().count("é".encode("latin-1")) >= 2
    with pytest.raises(UnicodeDecodeError):
        (tiny_ml / "u.item").read_bytes().decode("utf-8")


def test_genres_fold_into_one_column(tiny_ml):
    items = parse_items(tiny_ml / "u.item", ML)
    assert list(items.columns) == ["item", "title", "release_date", "genres"]
    assert items.genres.str.len().gt(0).all()


def rewrite_line(path, line_no, new):
    lines = path.read_text(encoding="latin-1").splitlines()
    lines[line_no - 1] = new
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")


def expect_invalid(folder, *fragments):
    with pytest.raises(DataValidationError) as info:
        load(folder)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    return info.value


def test_rating_out_of_range_names_line(tiny_ml):
    rewrite_line(tiny_ml / "u.data", 5, "1\t2\t6\t881250949")
    error = expect_invalid(tiny_ml, "u.data", "rating", "isin")
    assert error.report.line.tolist() == [5]
    assert error.report.failure_case.tolist() == [6]


def test_missing_column_is_named(tiny_ml):
    lines = (tiny_ml / "u.data").read_text().splitlines()
    (tiny_ml / "u.data").write_text("\n".join(l.rsplit("\t", 1)[0] for l in lines) + "\n")
    expect_invalid(tiny_ml, "u.data", "expected 4", "found 3")


def test_duplicate_user_item_pair(tiny_ml):
    first = (tiny_ml / "u.data").read_text().splitlines()[0]
    rewrite_line(tiny_ml / "u.data", 7, first)
    error = expect_invalid(tiny_ml, "u.data", "user", "item")
    assert set(error.report.line) == {1, 7}


def test_unknown_item(tiny_ml):
    rewrite_line(tiny_ml / "u.data", 3, "1\t999\t4\t881250949")
    error = expect_invalid(tiny_ml, "u.data", "items table")
    assert error.report.line.tolist() == [3] and error.report.failure_case.tolist() == [999]


def test_non_numeric_id(tiny_ml):
    rewrite_line(tiny_ml / "u.data", 4, "abc\t2\t4\t881250949")
    error = expect_invalid(tiny_ml, "u.data", "user")
    assert 4 in error.report.line.tolist() and "abc" in error.report.failure_case.astype(str).tolist()


def test_truncated_file(tiny_ml):
    data = (tiny_ml / "u.data").read_bytes()
    last_tab = data.rstrip(b"\n").rfind(b"\t", 0, len(data) - 20)
    (tiny_ml / "u.data").write_bytes(data[: last_tab - 2])  # cut inside the last row
    expect_invalid(tiny_ml, "u.data")


def test_empty_title(tiny_ml):
    lines = (tiny_ml / "u.item").read_text(encoding="latin-1").splitlines()
    fields = lines[9].split("|")
    fields[1] = ""
    rewrite_line(tiny_ml / "u.item", 10, "|".join(fields))
    error = expect_invalid(tiny_ml, "u.item", "title")
    assert error.report.line.tolist() == [10]


def test_random_split_is_fastais_positional_split():
    ratings = pd.DataFrame({"user": range(1, 101), "item": 1, "rating": 3, "timestamp": 0})
    split = random_split(ratings, 0.1, 42)
    import numpy as np
    expected = np.random.default_rng(42).permutation(100)[:10]
    assert sorted(np.flatnonzero(split.is_valid)) == sorted(expected)
    assert split.equals(random_split(ratings, 0.1, 42))


def test_fold_split_marks_test_rows(tiny_ml):
    base = validate_ratings(parse_ratings(tiny_ml / "u1.base", ML), ML, "u1.base")
    test = validate_ratings(parse_ratings(tiny_ml / "u1.test", ML), ML, "u1.test")
    split = fold_split(base, test)
    assert split.is_valid.sum() == len(test) and (~split.is_valid).sum() == len(base)


def test_every_release_lists_its_files():
    assert RELEASES["ml-100k"].files()[:3] == ["u.data", "u.item", "u.user"]
    assert "u5.test" in RELEASES["ml-100k"].files()
    assert RELEASES["ml-1m"].ratings.sep == "::" and RELEASES["ml-1m"].items.encoding == "latin-1"
    assert not RELEASES["ml-latest-small"].integer_ratings


def test_half_star_release_parses(tmp_path):
    release = get_release("ml-latest-small")
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.5,964982703\n1,3,4.0,964981247\n")
    (tmp_path / "movies.csv").write_text('movieId,title,genres\n1,"Toy Story (1995)",Animation\n3,"Grumpier Old Men, The (1995)",Comedy\n')
    ratings = validate_ratings(parse_ratings(tmp_path / "ratings.csv", release), release, "ratings.csv")
    items = validate_items(parse_items(tmp_path / "movies.csv", release), "movies.csv")
    assert ratings.rating.tolist() == [4.5, 4.0]
    assert items.title.tolist()[1] == "Grumpier Old Men, The (1995)"
    assert ratings.index.tolist() == [2, 3]  # line numbers count the header


def test_unknown_release():
    with pytest.raises(DataValidationError, match="ml-1m"):
        get_release("ml-2k")
