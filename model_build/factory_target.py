"""A factory target (``package.module:function`` or ``path/to/file.py:function``), without running it.

:class:`model_build.sources.Factory` names a function that builds the model. Validation and the
inputs hash must not import the user's module (that would run their code and import torch at
``cdk synth``), so this module finds the module's source file the way the import system would
(``importlib.machinery.PathFinder``, which imports nothing, not even parent packages), parses it
with :mod:`ast` and checks that the function exists and takes the given keyword arguments.

The inputs hash covers the factory's file and, transitively, the ``.py`` files it imports from
its own folder or package (found with :mod:`ast` too): a model class in ``layers.py`` next to
``net.py`` changes the hash when it changes. Installed packages and data files are not followed;
list weights files in ``Factory.data_files`` so that their bytes are hashed too.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.machinery
import importlib.util
import keyword
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_build.user_errors import did_you_mean

TARGET_FORMS = "'package.module:function' or 'path/to/file.py:function'"


class FactoryImportError(Exception):
    """Importing the factory's module failed (the cause is chained)."""


@dataclass(frozen=True)
class Target:
    """A parsed factory target.

    Attributes:
        module: The dotted module name, or the ``.py`` path as written.
        function: The attribute to call.
        is_file: Whether ``module`` is a path to a ``.py`` file.
    """

    module: str
    function: str
    is_file: bool

    @property
    def display(self) -> str:
        """The target as the user wrote it."""
        return f"{self.module}:{self.function}"


def parse_target(target: str) -> Target | None:
    """Split ``target`` into module and function; None when it has neither form."""
    module, sep, function = target.rpartition(":")
    if not sep or not module or not function.isidentifier() or keyword.iskeyword(function):
        return None
    is_file = module.endswith(".py") or "/" in module or "\\" in module
    if not is_file and not all(part.isidentifier() for part in module.split(".")):
        return None
    return Target(module=module, function=function, is_file=is_file)


def module_file(target: Target) -> Path | None:
    """Return the module's source file without importing anything; None when it cannot be found."""
    if target.is_file:
        path = Path(target.module)
        return path if path.is_file() else None
    loaded = sys.modules.get(target.module)
    if loaded is not None:
        origin = getattr(loaded, "__file__", None)
        return Path(origin) if origin else None
    search: list[str] | None = None
    found = None
    parts = target.module.split(".")
    for i in range(len(parts)):
        found = importlib.machinery.PathFinder.find_spec(".".join(parts[: i + 1]), search)
        if found is None:
            return None
        search = list(found.submodule_search_locations or [])
    if found is None or not found.origin or found.origin in {"built-in", "frozen"}:
        return None
    return Path(found.origin)


def search_root(target: Target, file: Path) -> Path:
    """Return the ``sys.path`` entry the module is imported from (where level-0 imports start)."""
    if target.is_file:
        return file.parent
    depth = target.module.count(".") + (1 if file.name == "__init__.py" else 0)
    root = file.parent
    for _ in range(depth):
        root = root.parent
    return root


def target_problems(target: str, kwargs: Mapping[str, Any], *, label: str = "source.target") -> list[str]:
    """Return why ``target`` cannot be called with ``kwargs``, found without importing it.

    Args:
        target: The factory target.
        kwargs: The keyword arguments it will be called with.
        label: The key that names the target in messages; ``kwargs`` is its sibling ``.kwargs``.
    """
    kwargs_label = label.rpartition(".")[0] + ".kwargs" if "." in label else "kwargs"
    parsed = parse_target(target)
    if parsed is None:
        return [f"{label} must look like {TARGET_FORMS} (got {target!r}); name the function after a colon"]
    file = module_file(parsed)
    if file is None:
        if parsed.is_file:
            folder = Path(parsed.module).parent
            hint = ""
            if folder.is_dir():
                hint = did_you_mean(Path(parsed.module).name, [p.name for p in folder.glob("*.py")])
            return [
                f"{label} {target!r}: the file {parsed.module!r} does not exist{hint}; paths in a spec file "
                "are relative to the spec file's folder"
            ]
        return [
            f"{label} {target!r}: module {parsed.module!r} cannot be found on sys.path (nothing was "
            "imported to look); install it, or give the file instead: 'path/to/file.py:function'"
        ]
    if file.suffix != ".py":
        return []  # a compiled module: nothing to parse
    try:
        tree = ast.parse(file.read_bytes(), filename=str(file))
    except SyntaxError as exc:
        return [
            f"{label} {target!r}: {file} has a syntax error at line {exc.lineno}: {exc.msg}; fix the file"
        ]
    except (OSError, ValueError) as exc:
        return [f"{label} {target!r}: {file} cannot be read ({exc})"]
    definitions, star_import = _top_level_names(tree)
    node = definitions.get(parsed.function)
    if node is None:
        if star_import:
            return []
        callables = [n for n, d in definitions.items() if isinstance(d, ast.FunctionDef | ast.ClassDef)]
        listed = f" (it defines {', '.join(sorted(callables))})" if callables else ""
        return [
            f"{label} {target!r}: {file} has no function {parsed.function!r}"
            f"{did_you_mean(parsed.function, callables)}{listed}; name a function defined at the top "
            "level of the file"
        ]
    if isinstance(node, ast.AsyncFunctionDef):
        return [f"{label} {target!r}: {parsed.function} is async; make it a plain function that returns the model"]
    signature = node
    if isinstance(node, ast.ClassDef):
        init = next(
            (n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None
        )
        if init is None:
            return []
        signature = init
    if isinstance(signature, ast.FunctionDef):
        return _kwargs_problems(parsed, signature, kwargs, kwargs_label, skip_self=isinstance(node, ast.ClassDef))
    return []


def _top_level_names(tree: ast.Module) -> tuple[dict[str, ast.AST], bool]:
    names: dict[str, ast.AST] = {}
    star = False

    def visit(body: list[ast.stmt]) -> None:
        nonlocal star
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names[node.name] = node
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        names[t.id] = node
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names[node.target.id] = node
            elif isinstance(node, ast.Import | ast.ImportFrom):
                for alias in node.names:
                    if alias.name == "*":
                        star = True
                    else:
                        names[alias.asname or alias.name.split(".")[0]] = node
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(node.orelse)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
                visit(getattr(node, "finalbody", []))

    visit(tree.body)
    return names, star


def _kwargs_problems(
    target: Target, func: ast.FunctionDef, kwargs: Mapping[str, Any], label: str, *, skip_self: bool
) -> list[str]:
    args = func.args
    positional = [*args.posonlyargs, *args.args]
    n_posonly = len(args.posonlyargs)
    if skip_self and positional:
        positional = positional[1:]
        n_posonly = max(0, n_posonly - 1)
    first_default = len(positional) - len(args.defaults)
    required = [a.arg for i, a in enumerate(positional) if n_posonly <= i < first_default]
    required += [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None]
    accepted = [a.arg for a in positional[n_posonly:]] + [a.arg for a in args.kwonlyargs]
    shown = f"{target.function}({', '.join(a.arg for a in positional + args.kwonlyargs)})"
    problems = []
    if any(i < first_default for i in range(n_posonly)):
        problems.append(
            f"{label}: {shown} has positional-only parameters without defaults, which keyword arguments "
            "cannot fill; give them defaults"
        )
    if args.kwarg is None:
        for key in kwargs:
            if key not in accepted:
                problems.append(
                    f"{label}.{key} is not a parameter of {shown}{did_you_mean(str(key), accepted)}; "
                    "remove it or add the parameter"
                )
    for name in required:
        if name not in kwargs:
            problems.append(
                f"{label} lacks {name!r}, a required parameter of {shown}; add it to {label} "
                "or give the parameter a default"
            )
    return problems


def local_sources(target: Target, file: Path) -> list[Path]:
    """Return the module file and the ``.py`` files it imports, transitively, from its folder or package.

    Level-0 imports are looked up under :func:`search_root` (where Python would find them),
    relative imports under the importing file's package. Sorted, resolved paths.
    """
    root = search_root(target, file).resolve()
    seen: set[Path] = set()
    todo = [file.resolve()]
    while todo:
        current = todo.pop()
        if current in seen or not current.is_file():
            continue
        seen.add(current)
        try:
            tree = ast.parse(current.read_bytes())
        except (SyntaxError, ValueError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    todo.extend(_module_files(root, alias.name.split(".")))
            elif isinstance(node, ast.ImportFrom):
                base = root
                if node.level:
                    base = current.parent
                    for _ in range(node.level - 1):
                        base = base.parent
                parts = node.module.split(".") if node.module else []
                todo.extend(_module_files(base, parts))
                for alias in node.names:
                    todo.extend(_module_files(base, [*parts, alias.name]))
    return sorted(seen)


def _module_files(base: Path, parts: list[str]) -> list[Path]:
    files = []
    for i in range(1, len(parts) + 1):
        path = base.joinpath(*parts[:i])
        if (path / "__init__.py").is_file():
            files.append(path / "__init__.py")
        elif i == len(parts) and path.with_name(path.name + ".py").is_file():
            files.append(path.with_name(path.name + ".py"))
    return files


@contextlib.contextmanager
def imported(target: str) -> Iterator[Callable[..., Any]]:
    """Import the target's module and yield the function; a file target's folder is on ``sys.path`` meanwhile.

    A file target is executed afresh on every call (so an edited file is picked up), registered
    under its file stem so that its siblings can import it, unless a different module of that
    name is already imported (then under a private name).

    Raises:
        FactoryImportError: The target is malformed, the module cannot be imported, or it has
            no such attribute (the cause is chained).
    """
    parsed = parse_target(target)
    if parsed is None:
        raise FactoryImportError(f"source.target must look like {TARGET_FORMS} (got {target!r})")
    folder: Path | None = None
    try:
        if parsed.is_file:
            file = Path(parsed.module).resolve()
            folder = file.parent
            sys.path.insert(0, str(folder))
            module = _exec_file(file)
        else:
            module = importlib.import_module(parsed.module)
        function = getattr(module, parsed.function)
    except Exception as exc:
        if folder is not None:
            _remove_path(folder)
        raise FactoryImportError(f"importing {parsed.module} failed: {type(exc).__name__}: {exc}") from exc
    try:
        yield function
    finally:
        if folder is not None:
            _remove_path(folder)


def _exec_file(file: Path) -> Any:
    name = file.stem
    existing = sys.modules.get(name)
    if not name.isidentifier() or (
        existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() != file
    ):
        name = f"_model_build_factory_{abs(hash(str(file))):x}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {file} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _remove_path(folder: Path) -> None:
    with contextlib.suppress(ValueError):
        sys.path.remove(str(folder))
