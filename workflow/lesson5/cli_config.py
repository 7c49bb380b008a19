"""Typed values for nested --config overrides.

Snakemake parses a nested value such as ``--config 'download={"retries": 1}'`` with YAML's BaseLoader,
which keeps every scalar a string ("1"), so the schema would reject it. This re-reads such strings
with YAML's safe loader: numbers and booleans get their types, YAML's null words become None (the
schema's "null: no such sweep" must be sayable on the command line), everything else stays as it was.
"""

from __future__ import annotations

import yaml

NULLS = ("null", "Null", "NULL", "~")  # YAML's words for None; an empty string stays a string


def typed(value):
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, str):
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        if isinstance(parsed, (bool, int, float)) or (parsed is None and value.strip() in NULLS):
            return parsed
    return value


def type_config_in_place(config: dict):
    for key, value in list(config.items()):
        config[key] = typed(value)
