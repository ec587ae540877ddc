"""The package's import graph: data flows one way and no module imports one that imports it
back (``TYPE_CHECKING`` imports included)."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import prolific_async

ROOT = Path(prolific_async.__file__).parent


def modules() -> dict[str, Path]:
    found = {}
    for info in pkgutil.walk_packages([str(ROOT)], "prolific_async."):
        spec = info.module_finder.find_spec(info.name, None)  # type: ignore[call-arg]
        assert spec is not None and spec.origin is not None
        found[info.name] = Path(spec.origin)
    found["prolific_async"] = ROOT / "__init__.py"
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    result = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            submodules = [f"{target}.{alias.name}" for alias in node.names]
            # `from . import _module` imports the module, not the package's __init__.
            candidates = submodules if node.module is None and all(
                m in known for m in submodules) else [target, *submodules]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        result |= {c for c in candidates if c in known and c != name}
    return result


GRAPH = {name: imports_of(name, path, set(modules())) for name, path in modules().items()}


def reachable(start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(GRAPH[start])
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(GRAPH[current])
    return seen


def test_the_graph_is_read() -> None:
    for name in GRAPH:
        __import__(name)
    assert "prolific_async._transport" in GRAPH["prolific_async._client"]
    assert "prolific_async._resources._base" in GRAPH["prolific_async._resources.batches"]


def test_no_import_circles() -> None:
    # A package's __init__ re-exports its modules, so the package itself is left out.
    circles = [name for name in GRAPH if not name.endswith(("prolific_async", "_resources",
                                                              "_models", "testing"))
               and name in reachable(name)]
    assert circles == []


def test_resources_never_import_the_client() -> None:
    for name in GRAPH:
        if name.startswith("prolific_async._resources"):
            assert "prolific_async._client" not in reachable(name), name


def test_models_and_the_transport_import_no_resource() -> None:
    for name in GRAPH:
        if name.startswith(("prolific_async._models", "prolific_async._transport")):
            assert not any(m.startswith("prolific_async._resources") for m in reachable(name))


def test_orchestration_never_imports_the_package_face() -> None:
    # The package re-exports orchestration: importing the face back would be a circle
    # that only import order keeps working.
    for name in GRAPH:
        if name.startswith("prolific_async.orchestration"):
            assert "prolific_async" not in GRAPH[name], name
    assert "prolific_async" not in reachable("prolific_async.orchestration._run")


def test_every_sdk_name_orchestration_uses_is_public() -> None:
    # Orchestration is written against the public API, as a user's program would be.
    from prolific_async.orchestration import _sdk

    for name in _sdk.__all__:
        assert name in prolific_async.__all__, name
        assert getattr(prolific_async, name) is getattr(_sdk, name), name
    # Besides _sdk, orchestration uses only plumbing that has no public face: the run's
    # scratch folder (held and cleaned up like a download's .part file) and the loop's clock.
    plumbing = {"prolific_async._scratch", "prolific_async._backend"}
    sdk_modules = {m for name in GRAPH if name.startswith("prolific_async.orchestration.")
                   for m in GRAPH[name]
                   if not m.startswith("prolific_async.orchestration") and m not in plumbing}
    assert sdk_modules == GRAPH["prolific_async.orchestration._sdk"], sdk_modules
