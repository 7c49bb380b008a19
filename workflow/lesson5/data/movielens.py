"""MovieLens releases: where they live, how their files are laid out, and how to parse them.

Adding a release is one ``Release`` entry in ``RELEASES``; parsing, validation and splitting are shared.
Parsed tables use one canonical layout whatever the release:
  ratings: user, item, rating, timestamp   (row order = the ratings file's order)
  items:   item, title, release_date, genres
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lesson5.errors import DataValidationError

ML100K_GENRES = (
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama Fantasy "
    "Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western"
).split()


@dataclass(frozen=True)
class TableFormat:
    file: str
    sep: str
    columns: tuple[str, ...]
    encoding: str = "utf-8"
    header: bool = False


@dataclass(frozen=True)
class Release:
    name: str
    url: str
    ratings: TableFormat
    items: TableFormat
    ratings_values: tuple[float, ...]  # every allowed rating
    extra_files: tuple[str, ...] = ()  # fetched and checksummed beside the two tables
    folds: tuple[str, ...] = ()  # official splits: <fold>.base / <fold>.test in the ratings format
    genre_flags: tuple[str, ...] = field(default=())  # n-hot genre columns (ml-100k); else a '|' list

    @property
    def integer_ratings(self) -> bool:
        return all(float(v).is_integer() for v in self.ratings_values)

    def files(self) -> list[str]:
        """Every file the pipeline fetches for this release, in a stable order."""
        fold_files = [f"{f}.{part}" for f in self.folds for part in ("base", "test")]
        return [self.ratings.file, self.items.file, *self.extra_files, *fold_files]


RATINGS_COLUMNS = ("user", "item", "rating", "timestamp")

RELEASES: dict[str, Release] = {
    r.name: r
    for r in (
        Release(
            name="ml-100k",
            url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
            ratings=TableFormat("u.data", "\t", RATINGS_COLUMNS),
            items=TableFormat(
                "u.item",
                "|",
                ("item", "title", "release_date", "video_release_date", "imdb_url", *ML100K_GENRES),
                encoding="latin-1",
            ),
            ratings_values=(1, 2, 3, 4, 5),
            extra_files=("u.user",),
            folds=("u1", "u2", "u3", "u4", "u5"),
            genre_flags=tuple(ML100K_GENRES),
        ),
        Release(
            name="ml-1m",
            url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
            ratings=TableFormat("ratings.dat", "::", RATINGS_COLUMNS, encoding="latin-1"),
            items=TableFormat("movies.dat", "::", ("item", "title", "genres"), encoding="latin-1"),
            ratings_values=(1, 2, 3, 4, 5),
            extra_files=("users.dat",),
        ),
        Release(
            name="ml-latest-small",
            url="https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
            ratings=TableFormat("ratings.csv", ",", RATINGS_COLUMNS, header=True),
            items=TableFormat("movies.csv", ",", ("item", "title", "genres"), header=True),
            ratings_values=tuple(x / 2 for x in range(1, 11)),
        ),
    )
}


def get_release(name: str) -> Release:
    try:
        return RELEASES[name]
    except KeyError:
        raise DataValidationError(
            f"unknown MovieLens release {name!r}; known: {', '.join(RELEASES)}"
        ) from None


def read_table(path: str | Path, fmt: TableFormat) -> pd.DataFrame:
    """Read a delimited file as strings, with the index set to the file's line numbers.

    Everything is read as text so that validation, not the parser, decides what a bad value is and
    can name its line. A wrong number of fields is reported with the file and line.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(
            path,
            sep=fmt.sep,
            header=0 if fmt.header else None,
            dtype=str,
            keep_default_na=False,
            encoding=fmt.encoding,
            engine="python" if len(fmt.sep) > 1 else "c",
            quoting=3 if fmt.sep != "," else 0,  # QUOTE_NONE: titles contain quotes
        )
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as error:
        raise DataValidationError(f"{path}: cannot be parsed as {fmt.sep!r}-separated text: {error}") from None
    except UnicodeDecodeError as error:
        raise DataValidationError(f"{path}: not valid {fmt.encoding} text ({error})") from None
    if frame.shape[1] != len(fmt.columns):
        raise DataValidationError(
            f"{path}: expected {len(fmt.columns)} {fmt.sep!r}-separated columns "
            f"({', '.join(fmt.columns)}), found {frame.shape[1]}"
        )
    frame.columns = list(fmt.columns)
    frame.index = pd.RangeIndex(1 + fmt.header, 1 + fmt.header + len(frame), name="line")
    return frame.replace("", None)


def parse_ratings(path: str | Path, release: Release) -> pd.DataFrame:
    """The raw ratings table (strings); `schemas.validate_ratings` types and checks it."""
    return read_table(path, release.ratings)


def parse_items(path: str | Path, release: Release) -> pd.DataFrame:
    """The raw items table with genres folded into one '|'-joined column."""
    raw = read_table(path, release.items)
    if release.genre_flags:
        flags = raw[list(release.genre_flags)]
        genres = flags.apply(
            lambda row: "|".join(g for g, f in zip(release.genre_flags, row) if f == "1"), axis=1
        )
        raw = raw.drop(columns=list(release.genre_flags)).assign(genres=genres)
    for column in ("release_date",):
        if column not in raw:
            raw[column] = None
    return raw[["item", "title", "release_date", "genres"]]
