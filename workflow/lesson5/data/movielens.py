"""MovieLens releases: where they live, how their files are laid out, and how to read them.

Adding a release is one ``Release`` entry in ``RELEASES``; reading, validation and splitting are shared.
Parsed tables use one canonical layout whatever the release:
  ratings: user, item, rating, timestamp   (row order = the ratings file's order)
  items:   item, title, release_date, genres
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd

from lesson5.data.tables import Problems, TableFormat, read_numeric, scan_large, scan_lines
from lesson5.errors import DataValidationError

ML100K_GENRES = (
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama Fantasy "
    "Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western"
).split()

RATINGS_COLUMNS = ("user", "item", "rating", "timestamp")
CSV_RATINGS_HEADER = ("userId", "movieId", "rating", "timestamp")
HALF_STARS = tuple(x / 2 for x in range(1, 11))
WHOLE_STARS = (1, 2, 3, 4, 5)


def utc(day: str) -> int:
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp())


def ratings_format(file: str, sep: str, integer: bool, header=(), encoding="utf-8") -> TableFormat:
    return TableFormat(file, sep, RATINGS_COLUMNS, ("int", "int", "int" if integer else "float", "int"),
                       header=header, encoding=encoding, quoted=sep == ",")


def csv_release(name: str, url: str, first: str, last: str | None, **kw) -> "Release":
    """The CSV releases since ml-20m: UTF-8, one header row, quoted titles, half-star ratings
    (``last`` None: no end date)."""
    return Release(
        name=name,
        url=url,
        ratings=ratings_format("ratings.csv", ",", integer=False, header=CSV_RATINGS_HEADER),
        items=TableFormat("movies.csv", ",", ("item", "title", "genres"), ("int", "text", "text"),
                          header=("movieId", "title", "genres"), quoted=True),
        ratings_values=HALF_STARS,
        timestamps=(utc(first), utc(last) if last else None),
        **kw,
    )


@dataclass(frozen=True)
class Release:
    name: str
    url: str
    ratings: TableFormat
    items: TableFormat
    ratings_values: tuple[float, ...]  # every allowed rating
    timestamps: tuple[int, int | None]  # the release's collection period (unix seconds; None: up to now)
    users: TableFormat | None = None  # a table of users, where the release has one
    extra_files: tuple[str, ...] = ()  # fetched and checksummed beside the tables
    folds: tuple[str, ...] = ()  # official splits: <fold>.base / <fold>.test in the ratings format
    genre_flags: tuple[str, ...] = ()  # n-hot genre columns (ml-100k); else a '|' list
    n_ratings: int = 0  # as published, for sizing the jobs' resources
    n_users: int = 0
    n_items: int = 0

    @property
    def integer_ratings(self) -> bool:
        return all(float(v).is_integer() for v in self.ratings_values)

    def files(self) -> list[str]:
        """Every file the pipeline fetches for this release, in a stable order."""
        users = [self.users.file] if self.users else []
        fold_files = [f"{f}.{part}" for f in self.folds for part in ("base", "test")]
        return [self.ratings.file, self.items.file, *users, *self.extra_files, *fold_files]

    def fold_format(self, file: str) -> TableFormat:
        return TableFormat(file, self.ratings.sep, self.ratings.columns, self.ratings.types, encoding=self.ratings.encoding)


RELEASES: dict[str, Release] = {
    r.name: r
    for r in (
        Release(
            name="ml-100k",
            url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
            ratings=ratings_format("u.data", "\t", integer=True),
            items=TableFormat("u.item", "|",
                              ("item", "title", "release_date", "video_release_date", "imdb_url", *ML100K_GENRES),
                              ("int", "text", "text", "text", "text", *["flag"] * len(ML100K_GENRES)),
                              encoding="latin-1"),
            users=TableFormat("u.user", "|", ("user", "age", "gender", "occupation", "zip"),
                              ("int", "int", "text", "text", "text"), encoding="latin-1"),
            ratings_values=WHOLE_STARS,
            timestamps=(utc("1997-09-01"), utc("1998-05-01")),  # collected 1997-09-19 .. 1998-04-22
            folds=("u1", "u2", "u3", "u4", "u5"),
            genre_flags=tuple(ML100K_GENRES),
            n_ratings=100_000, n_users=943, n_items=1_682,
        ),
        Release(
            name="ml-1m",
            url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
            ratings=ratings_format("ratings.dat", "::", integer=True, encoding="latin-1"),
            items=TableFormat("movies.dat", "::", ("item", "title", "genres"), ("int", "text", "text"),
                              encoding="latin-1"),
            users=TableFormat("users.dat", "::", ("user", "gender", "age", "occupation", "zip"),
                              ("int", "text", "int", "int", "text"), encoding="latin-1"),
            ratings_values=WHOLE_STARS,
            timestamps=(utc("2000-04-01"), utc("2003-03-31")),  # 2000-04-25 .. 2003-02-28
            n_ratings=1_000_209, n_users=6_040, n_items=3_706,
        ),
        Release(
            name="ml-10m",  # the archive's folder is ml-10M100K; no users table
            url="https://files.grouplens.org/datasets/movielens/ml-10m.zip",
            ratings=ratings_format("ratings.dat", "::", integer=False),
            # its README names no encoding; latin-1 as the other ".dat" releases (not checked here:
            # if a copy is UTF-8 the encoding check says so)
            items=TableFormat("movies.dat", "::", ("item", "title", "genres"), ("int", "text", "text"),
                              encoding="latin-1"),
            ratings_values=HALF_STARS,
            timestamps=(utc("1995-01-01"), utc("2009-02-01")),  # 1995-01-09 .. 2009-01-05
            n_ratings=10_000_054, n_users=69_878, n_items=10_677,
        ),
        csv_release("ml-20m", "https://files.grouplens.org/datasets/movielens/ml-20m.zip", "1995-01-01",
                    "2015-04-01", n_ratings=20_000_263, n_users=138_493, n_items=26_744),
        csv_release("ml-25m", "https://files.grouplens.org/datasets/movielens/ml-25m.zip", "1995-01-01",
                    "2019-11-22", n_ratings=25_000_095, n_users=162_541, n_items=59_047),
        csv_release("ml-32m", "https://files.grouplens.org/datasets/movielens/ml-32m.zip", "1995-01-01",
                    "2023-10-13", n_ratings=32_000_204, n_users=200_948, n_items=84_432),
        # a development release, regenerated now and then: no end date
        csv_release("ml-latest-small", "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
                    "1995-01-01", None, n_ratings=100_836, n_users=610, n_items=9_724),
    )
}


def get_release(name: str) -> Release:
    try:
        return RELEASES[name]
    except KeyError:
        raise DataValidationError(f"unknown MovieLens release {name!r}; known: {', '.join(RELEASES)}") from None


def read_ratings(path, fmt: TableFormat, problems: Problems) -> pd.DataFrame | None:
    """Typed ratings (index = file line): the fast path, or, where it cannot read the file, the
    exact scan that records what is wrong and where (then None)."""
    frame = read_numeric(path, fmt)
    if frame is None:
        scan_large(path, fmt, problems)
        if not problems:
            problems.add(path, None, None, "file: unreadable", "the file could not be parsed as "
                         f"{fmt.sep!r}-separated {', '.join(fmt.columns)}")
        return None
    frame.columns = list(fmt.columns)
    return frame


def read_items(path, release: Release, problems: Problems) -> pd.DataFrame | None:
    """The items table in the canonical layout (item, title, release_date, genres), genre flags
    folded into one '|'-joined column; text values as read, checked line by line."""
    raw = scan_lines(path, release.items, problems)
    if raw is None:
        return None
    if release.genre_flags:
        flags = raw[list(release.genre_flags)].to_numpy() == "1"
        names = list(release.genre_flags)
        genres = ["|".join(g for g, on in zip(names, row) if on) for row in flags]
        raw = raw.drop(columns=names).assign(genres=genres)
    if "release_date" not in raw:
        raw["release_date"] = None
    return raw[["item", "title", "release_date", "genres"]].replace("", None)


def read_users(path, release: Release, problems: Problems) -> pd.DataFrame | None:
    return scan_lines(path, release.users, problems) if release.users else None
