"""The layers, from the code's own imports: every import statement at any depth of a module (inside
functions and TYPE_CHECKING blocks too, relative ones resolved), and what they import in turn.

docs/architecture.md says why each boundary is where it is.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mssante_hub", "relays", "crypto", "storage")
FRONT_DOORS = ("mssante_hub.smtp", "mssante_hub.imap", "mssante_hub.web")
MAX_MODULE_LINES = 600
MAX_ROOT_MODULES = 12
FRONT_DOOR_WORDS = ("smtp", "imap", "web", "webmail", "http", "mx", "submission")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def _resolve(module: str, path: Path, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([name] if name else []))


@functools.cache
def direct_imports(module: str) -> frozenset[str]:
    """Project modules this module imports, at any depth of its syntax tree."""
    path = MODULES[module]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path, node.level, node.module)
            # `from package import module` names a module too
            names = [target] + [f"{target}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return frozenset(found)


@functools.cache
def reachable(module: str) -> frozenset[str]:
    seen, todo = set(), [module]
    while todo:
        for target in direct_imports(todo.pop()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    seen.discard(module)
    return frozenset(seen)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _violations(sources: str, forbidden: tuple[str, ...], transitive: bool) -> list[str]:
    out = []
    for module in MODULES:
        if not _within(module, sources):
            continue
        targets = reachable(module) if transitive else direct_imports(module)
        out += [f"{module} -> {t}" for t in sorted(targets) if any(_within(t, f) for f in forbidden)]
    return out


def test_the_import_reader_sees_the_imports():
    # The checker itself: a rule that sees nothing cannot fail.
    assert "mssante_hub.delivery.accept" in direct_imports("mssante_hub.smtp.door") | reachable("mssante_hub.smtp.door")
    assert "storage.models" in direct_imports("storage.folders")
    assert "crypto.aead" in direct_imports("crypto.keyring")


@pytest.mark.parametrize("door", FRONT_DOORS)
def test_no_front_door_imports_another(door):
    others = tuple(d for d in FRONT_DOORS if d != door)
    assert _violations(door, others, transitive=True) == []


def test_relays_never_import_the_hub():
    assert _violations("relays", ("mssante_hub",), transitive=True) == []


def test_crypto_imports_nothing_of_the_project():
    assert _violations("crypto", ("mssante_hub", "relays", "storage"), transitive=True) == []


def test_storage_imports_neither_the_hub_nor_relays():
    assert _violations("storage", ("mssante_hub", "relays"), transitive=True) == []


def test_no_module_is_over_the_size_limit():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_no_storage_module_is_named_after_a_front_door():
    # Migrations are named by the change they made, once, and are history: not modules of the store.
    named = [m for m in MODULES if _within(m, "storage") and not _within(m, "storage.migrations") and any(w in m.split(".")[-1].split("_")
                                                                     for w in FRONT_DOOR_WORDS)]
    assert named == []


def test_the_package_root_holds_a_few_modules():
    root_modules = sorted(p.name for p in (ROOT / "mssante_hub").glob("*.py"))
    assert len(root_modules) <= MAX_ROOT_MODULES, root_modules
