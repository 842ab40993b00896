"""The layers of ARCHITECTURE.md, enforced: which project package may import which.

Every ``import``/``from … import`` in a package's modules (at module level or inside functions)
is read with ``ast`` and checked against the allowed edges. ``bench/`` and ``tests/`` may import
anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# package -> (folder, the project packages it may import besides itself)
LAYERS: dict[str, tuple[str, frozenset[str]]] = {
    "model_build": ("model_build", frozenset()),
    "triton_runtime": ("triton_runtime", frozenset({"model_build"})),
    "serving_constructs": ("constructs/serving_constructs", frozenset({"model_build"})),
    "stacks": ("stacks", frozenset({"serving_constructs", "model_build"})),
    # the demo ends each mode with the post-deploy check (operations.check), run in-process
    "rehearsal": ("rehearsal", frozenset({"model_build", "triton_runtime", "operations"})),
    "tuning": ("tuning", frozenset({"model_build", "triton_runtime"})),
    "operations": ("operations", frozenset({"model_build"})),
}
APP_MAY_IMPORT = frozenset({"stacks", "serving_constructs", "model_build"})
PROJECT_PACKAGES = frozenset(LAYERS)


def _project_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(top for top in (name.split(".")[0] for name in names) if top in PROJECT_PACKAGES)
    return found


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_package_imports_only_the_layers_below_it(package):
    # GIVEN every module of the package
    folder, allowed = LAYERS[package]
    modules = sorted((REPO_ROOT / folder).rglob("*.py"))
    assert modules, f"{folder} has no modules"

    # WHEN their imports are read
    violations = {
        str(path.relative_to(REPO_ROOT)): sorted(_project_imports(path) - allowed - {package})
        for path in modules
    }

    # THEN none reaches a package outside its layer
    assert {path: bad for path, bad in violations.items() if bad} == {}


def test_app_composes_stacks_and_imports_no_tooling():
    assert _project_imports(REPO_ROOT / "app.py") <= APP_MAY_IMPORT


def test_rehearsal_and_tuning_do_not_import_each_other():
    # The local Triton server and the KServe codec live in triton_runtime, which both use.
    for package, other in (("rehearsal", "tuning"), ("tuning", "rehearsal")):
        for path in (REPO_ROOT / LAYERS[package][0]).rglob("*.py"):
            assert other not in _project_imports(path), path

