"""pandera schemas for the MovieLens tables, and validation that reports the offending lines.

A failure raises DataValidationError whose ``report`` is a table with one row per problem
(file, line, column, check, failure_case), ready to be written next to the job log.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from lesson5.data.movielens import Release
from lesson5.errors import DataValidationError

REPORT_COLUMNS = ["file", "line", "column", "check", "failure_case"]


def _id_column() -> pa.Column:
    return pa.Column("int64", pa.Check.ge(1), nullable=False, coerce=True)


def ratings_schema(release: Release) -> pa.DataFrameSchema:
    rating_dtype = "int64" if release.integer_ratings else "float64"
    values = [int(v) if release.integer_ratings else float(v) for v in release.ratings_values]
    return pa.DataFrameSchema(
        {
            "user": _id_column(),
            "item": _id_column(),
            "rating": pa.Column(rating_dtype, pa.Check.isin(values), nullable=False, coerce=True),
            "timestamp": pa.Column("int64", pa.Check.ge(0), nullable=False, coerce=True),
        },
        unique=["user", "item"],
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


def _report(errors: pa.errors.SchemaErrors, file: str) -> pd.DataFrame:
    cases = errors.failure_cases.rename(columns={"index": "line"})
    cases = cases.assign(file=file)
    return cases.reindex(columns=REPORT_COLUMNS).sort_values("line", na_position="first", kind="stable")


def _fail(what: str, file: str, report: pd.DataFrame):
    head = report.head(10).to_string(index=False)
    raise DataValidationError(
        f"{file}: {len(report)} problem(s) in the {what} table; first ones:\n{head}", report=report
    )


def validate_table(raw: pd.DataFrame, schema: pa.DataFrameSchema, file: str) -> pd.DataFrame:
    try:
        return schema.validate(raw, lazy=True)
    except pa.errors.SchemaErrors as errors:
        _fail(schema.name, file, _report(errors, file))


def validate_ratings(raw: pd.DataFrame, release: Release, file: str) -> pd.DataFrame:
    return validate_table(raw, ratings_schema(release), file)


def validate_items(raw: pd.DataFrame, file: str) -> pd.DataFrame:
    return validate_table(raw, items_schema(), file)


def check_items_known(ratings: pd.DataFrame, items: pd.DataFrame, file: str):
    """Every rated item must be described in the items table."""
    unknown = ratings.loc[~ratings["item"].isin(items["item"])]
    if len(unknown):
        report = pd.DataFrame(
            {
                "file": file,
                "line": unknown.index,
                "column": "item",
                "check": "item is listed in the items table",
                "failure_case": unknown["item"].to_numpy(),
            }
        )
        _fail("ratings", file, report)
