"""The package's layers point one way: the generic trainer imports no model and no experiment."""

import ast

from conftest import ROOT

PACKAGE = ROOT / "workflow" / "lesson5"


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_train_imports_no_model_and_no_experiment():
    offending = {f"{path.name}: {name}" for path in (PACKAGE / "train").glob("*.py")
                 for name in imported_modules(path)
                 if name.startswith(("lesson5.models", "lesson5.experiments", "lesson5.analysis", "lesson5.plots"))}
    assert not offending


def test_data_and_models_import_no_experiment():
    offending = {f"{path.parent.name}/{path.name}: {name}" for folder in ("data", "models")
                 for path in (PACKAGE / folder).glob("*.py") for name in imported_modules(path)
                 if name.startswith(("lesson5.experiments", "lesson5.analysis", "lesson5.plots"))}
    assert not offending
