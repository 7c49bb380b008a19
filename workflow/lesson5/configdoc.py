"""Render config/README.md from the config schema's descriptions, so the two never drift apart.

    python -m lesson5.configdoc > config/README.md
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def _rows(node: dict, definitions: dict, prefix: str = ""):
    for key, prop in node.get("properties", {}).items():
        if "$ref" in prop:
            prop = {**definitions[prop["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in prop.items() if k != "$ref"}}
        name = f"{prefix}{key}"
        kind = prop.get("type", "")
        if "enum" in prop:
            kind += " (" + " \\| ".join(map(str, prop["enum"])) + ")"
        if kind == "array" and "items" in prop and "enum" in prop["items"]:
            kind += " of " + " \\| ".join(prop["items"]["enum"])
        # no default, or an empty map: an empty cell
        default = "" if prop.get("default", {}) == {} else f"`{prop['default']}`"
        yield f"| `{name}` | {kind} | {default} | {prop.get('description', '').strip()} |"
        if prop.get("type") == "object":
            yield from _rows(prop, definitions, f"{name}.")


def render() -> str:
    schema = yaml.safe_load(SCHEMA.read_text())
    lines = [
        "# Configuration",
        "",
        "`config/config.yaml` is the default experiment (real data, the lesson's settings); `config/tiny.yaml`",
        "is the seconds-long variant the tests and CI run on generated data. Every key is checked against",
        "`workflow/schemas/config.schema.yaml` before any job runs: unknown keys, wrong types and out-of-range",
        "values stop the run with a message naming the key. Missing keys take the defaults below.",
        "",
        "Override any key on the command line, e.g.",
        "`snakemake --cores 8 --config 'movielens={\"source\": \"/data/ml-100k\"}'`, or use another file with",
        "`--configfile`. This page is generated from the schema (`python -m lesson5.configdoc`).",
        "",
        "| key | type | default | meaning |",
        "| --- | --- | --- | --- |",
        *_rows(schema, schema.get("definitions", {})),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
