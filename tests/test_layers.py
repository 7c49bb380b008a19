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


def test_no_function_in_the_package_is_longer_than_a_screen():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 40:
                long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1})")
    assert not long


def test_the_fit_loop_reads_in_one_screen():
    from lesson5.train.loop import Learner
    import inspect

    assert len(inspect.getsource(Learner._fit).splitlines()) <= 30
