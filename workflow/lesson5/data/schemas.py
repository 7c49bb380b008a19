"""pandera schemas for the MovieLens tables, cross-table checks, and validation that reports the
offending lines.

Every problem goes to a ``Problems`` collector (file, line, column, check, failure case; the first few
per check and every check's total); ``parse_release`` raises one DataValidationError for all of them,
whose ``report`` is written next to the job log.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pandera.pandas as pa

from lesson5.data.movielens import Release, read_items, read_ratings, read_users
from lesson5.data.tables import Problems


def pair_key(frame: pd.DataFrame) -> pd.Series:
    """user and item as one int64 (user * (max item + 1) + item): a pair check on one column, which
    stays fast at 25 million rows."""
    return frame["user"] * (int(frame["item"].max()) + 1) + frame["item"]


def ratings_schema(release: Release) -> pa.DataFrameSchema:
    integer = release.integer_ratings
    values = [int(v) if integer else float(v) for v in release.ratings_values]
    lo, hi = release.timestamps
    return pa.DataFrameSchema(
        {
            "user": pa.Column("int64", pa.Check.ge(1), nullable=False),
            "item": pa.Column("int64", pa.Check.ge(1), nullable=False),
            "rating": pa.Column("int64" if integer else "float64", pa.Check.isin(values), nullable=False),
            "timestamp": pa.Column("int64", pa.Check.in_range(lo, hi or int(time.time()) + 86_400),
                                   nullable=False),
        },
        checks=[pa.Check(lambda df: ~pair_key(df).duplicated(keep=False), name="one rating per user and item",
                         error="the same user rates the same item twice")],
        strict=True,
        name="ratings",
    )


def items_schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "item": pa.Column("int64", pa.Check.ge(1), nullable=False, unique=True, coerce=True),
            "title": pa.Column(str, pa.Check.str_length(min_value=1), nullable=False),
            "release_date": pa.Column(str, nullable=True),
            "genres": pa.Column(str, nullable=True),
        },
        strict=True,
        name="items",
    )


def users_schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema({"user": pa.Column("int64", pa.Check.ge(1), unique=True, coerce=True)},
                              strict=False, name="users")


def schema_problems(frame: pd.DataFrame, schema: pa.DataFrameSchema, file, problems: Problems) -> pd.DataFrame | None:
    """``frame`` validated by ``schema`` (index = file line); failures go to ``problems``."""
    try:
        return schema.validate(frame, lazy=True, inplace=True)  # no copy of a 25-million-row table
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        whole_rows = cases.schema_context == "DataFrameSchema"  # a check of whole rows, reported per column
        for (column, check), part in cases[~whole_rows].groupby(["column", "check"], dropna=False, sort=False):
            problems.add_many(file, part["index"].to_numpy(), None if pd.isna(column) else column,
                              f"{schema.name}: {check}", part["failure_case"].to_numpy())
        for check, part in cases[whole_rows].groupby("check", sort=False):
            lines = part["index"].drop_duplicates().to_numpy()
            rows = frame.loc[lines]
            problems.add_many(file, lines, None, f"{schema.name}: {check}",
                              [", ".join(f"{k} {v}" for k, v in row.items()) for _, row in rows.iterrows()])
        return None


def unknown(problems: Problems, file, frame: pd.DataFrame, column: str, known, what: str):
    """Rows of ``frame`` whose ``column`` is not in ``known`` (e.g. a rated item the items table lacks)."""
    missing = ~frame[column].isin(known)
    if missing.any():
        problems.add_many(file, frame.index[missing], column, f"{column} is listed in the {what}",
                          frame.loc[missing, column].to_numpy())


def clean(problems: Problems, read, path, release):
    """``read(path, release, problems)``, or None where its line scan found problems: its schema would
    only report the same values again (and cannot coerce them)."""
    before = problems.count()
    table = read(path, release, problems)
    return table if problems.count() == before else None


def parse_release(release: Release, ratings_path, items_path, users_path=None, limit: int = 10):
    """(ratings, items): the release's validated tables; one DataValidationError for every problem."""
    problems = Problems(limit)
    ratings = read_ratings(ratings_path, release.ratings, problems)
    items = clean(problems, read_items, items_path, release)
    users = clean(problems, read_users, users_path, release) if users_path else None
    if ratings is not None:
        ratings = schema_problems(ratings, ratings_schema(release), ratings_path, problems)
    if items is not None:
        items = schema_problems(items, items_schema(), items_path, problems)
    if users is not None:
        users = schema_problems(users, users_schema(), users_path, problems)
    # cross-table checks only between clean tables: a damaged items row would make every rating of
    # its item "unknown", consequences that bury the one line to fix
    if not problems and ratings is not None and items is not None:
        unknown(problems, ratings_path, ratings, "item", items["item"], f"items table ({items_path})")
    if not problems and ratings is not None and users is not None:
        unknown(problems, ratings_path, ratings, "user", users["user"], f"users table ({users_path})")
    problems.raise_if_any(f"{release.name} release")
    return ratings, items


def parse_fold(release: Release, path, ratings: pd.DataFrame, items: pd.DataFrame, limit: int = 10):
    """An official fold file, validated like the ratings and checked against them: its users and
    items are known, and each of its rows is a rating of the release with the same value and time."""
    problems = Problems(limit)
    fold = read_ratings(path, release.fold_format(str(path)), problems)
    if fold is not None:
        fold = schema_problems(fold, ratings_schema(release), path, problems)
    if fold is not None:
        unknown(problems, path, fold, "item", items["item"], "items table")
        unknown(problems, path, fold, "user", ratings["user"].unique(), "ratings file")
        width = int(max(ratings["item"].max(), fold["item"].max())) + 1
        index = pd.Series(np.arange(len(ratings)), index=shared_key(ratings, width))
        at = index.reindex(shared_key(fold, width)).to_numpy()
        missing = np.isnan(at)
        if missing.any():
            problems.add_many(path, fold.index[missing], "item", "the pair is rated in the ratings file",
                              fold.loc[missing, "item"].to_numpy())
        found = ~missing
        if found.any():
            rows = ratings.iloc[at[found].astype(np.int64)]
            same = (rows["rating"].to_numpy() == fold.loc[found, "rating"].to_numpy()) & \
                   (rows["timestamp"].to_numpy() == fold.loc[found, "timestamp"].to_numpy())
            lines = fold.index[found][~same]
            problems.add_many(path, lines, "rating", "the row equals its rating in the ratings file",
                              fold.loc[lines, "rating"].to_numpy())
    problems.raise_if_any(f"{release.name} fold {path}")
    return fold


def shared_key(frame: pd.DataFrame, width: int) -> pd.Index:
    """user-item keys on a scale shared by two tables (``width`` above every item id of both)."""
    return pd.Index(frame["user"].to_numpy() * width + frame["item"].to_numpy())
