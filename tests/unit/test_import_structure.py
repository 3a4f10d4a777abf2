"""The package's shape, checked from the source: data flows one way, with no import cycles to
dodge. Read with `ast`, so function-level imports count too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(package: str) -> dict[str, list[tuple[str, bool]]]:
    """module -> [(imported module, inside a function)] for every .py file of ``package``."""
    found: dict[str, list[tuple[str, bool]]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        in_function = {
            id(node)
            for fn in ast.walk(tree)
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
            for node in ast.walk(fn)
        }
        names = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [(alias.name, id(node) in in_function) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.append((node.module, id(node) in in_function))
                names += [(f"{node.module}.{a.name}", id(node) in in_function) for a in node.names]
        found[_module_name(path)] = names
    return found


def test_no_addon_module_reaches_back_into_the_app_that_builds_it():
    offenders = {
        module: name
        for module, names in _imports("addon").items()
        if module not in ("addon.app", "addon.__main__")
        for name, _ in names
        if name == "addon.app" or name.startswith("addon.app.")
    }
    assert not offenders, f"import the keys from addon.keys: {offenders}"


def test_the_addon_never_imports_itself_late_to_dodge_a_cycle():
    late = {
        module: name
        for module, names in _imports("addon").items()
        for name, in_function in names
        if in_function and name.startswith("addon")
    }
    assert not late, late


def test_the_library_never_imports_its_commands_or_the_addon():
    offenders = {
        module: name
        for module, names in _imports("mww_trainer").items()
        if not module.startswith("mww_trainer.cli")
        for name, _ in names
        if name.startswith(("mww_trainer.cli", "addon"))
    }
    assert not offenders, offenders


def test_every_stage_package_is_there_and_nothing_is_left_flat():
    package = ROOT / "mww_trainer"
    for stage in ("data", "model", "training", "device", "evaluation"):
        assert (package / stage / "__init__.py").is_file(), stage
    flat = sorted(p.stem for p in package.glob("*.py"))
    orchestrators = {"__init__", "constants", "errors", "fileio", "naming", "progress"}
    orchestrators |= {"jobfiles", "job_specs"}
    orchestrators |= {"pipeline", "evaluation_run", "worker", "live_worker", "demo"}
    assert set(flat) <= orchestrators, sorted(set(flat) - orchestrators)
