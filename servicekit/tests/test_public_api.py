"""What a service may import from the kit is what README.md's reference lists: each public module's
`__all__`, every name in it documented; the services beside the kit import nothing else of it; and the kit
names no service."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

KIT_ROOT = Path(__file__).parents[1]
SOURCE = KIT_ROOT / "src" / "servicekit"
# The kit lives beside the first service built on it, and beside an example of a service.
REPOSITORY = KIT_ROOT.parent
SERVICE_CODE = [
    "app",
    "alembic",
    "config.py",
    "run.py",
    "tests",
    "scripts",
    "benchmarks",
    "examples",  # the outage notices the kit's docs include
]
# Where the kit's own code is another library's, not the services': private, though its modules say `__all__`.
PRIVATE_PACKAGES = ("servicekit.internals",)
SERVICE_WORDS = re.compile(r"directmail|premises|communit(y|ies)|salesforce|mailing.?list|uprn", re.IGNORECASE)


def reference() -> dict[str, list[str]]:
    """README.md's `## Reference`: each `### \\`module\\`` heading with its `- \\`name\\`: ...` lines."""
    section = (KIT_ROOT / "README.md").read_text().split("\n## Reference\n", 1)[1].split("\n## ", 1)[0]
    modules: dict[str, list[str]] = {}
    for line in section.splitlines():
        if heading := re.fullmatch(r"### `(servicekit[\w.]*)`", line):
            names = modules.setdefault(heading[1], [])
        elif entry := re.match(r"- `(\w+)`: \S", line):
            names.append(entry[1])
    return modules


REFERENCE = reference()


def exported(module: str) -> list[str]:
    return list(importlib.import_module(module).__all__)


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def declares_all(path: Path) -> bool:
    return any(
        isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        for node in ast.parse(path.read_text()).body
    )


def has_docstring(module: str, name: str) -> bool:
    """`name`'s definition in `module`, or in the kit's module it is imported from, carries a docstring: a
    class's or function's own, or for a value the string right after its assignment (as mkdocstrings reads)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None
    assert spec.origin is not None
    body: list[ast.stmt | None] = [*ast.parse(Path(spec.origin).read_text()).body, None]
    for node, after in pairwise(body):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return bool(ast.get_docstring(node))
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and any((alias.asname or alias.name) == name for alias in node.names)
        ):
            return node.module.startswith("servicekit") and has_docstring(node.module, name)
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            return (
                isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            )
    return False


def service_files() -> Iterator[Path]:
    """The services' own Python files: not the tools installed beside them (`scripts/client-gen/.venv`)."""
    for name in SERVICE_CODE:
        path = REPOSITORY / name
        found = [path] if path.is_file() else sorted(path.rglob("*.py"))
        yield from (
            file for file in found if not any(part.startswith(".") for part in file.relative_to(REPOSITORY).parts)
        )


def kit_imports(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """(line, module, name) for each import of the kit in `path`; name None for `import servicekit.x`."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "servicekit":
            yield from ((node.lineno, node.module or "", alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            names = (alias.name for alias in node.names)
            yield from ((node.lineno, name, None) for name in names if name.split(".")[0] == "servicekit")


def refused(module: str, name: str | None) -> str | None:
    """Why a service may not import `name` from `module` (the module itself when None), or None."""
    if name is not None and f"{module}.{name}" in REFERENCE:
        return None  # a public module, imported from its package
    if name is None:
        public = module in REFERENCE or any(listed.startswith(f"{module}.") for listed in REFERENCE)
        return None if public else f"{module} is not a public module"
    if module not in REFERENCE:
        return f"{module} is not a public module"
    return None if name in exported(module) else f"{name} is not in {module}.__all__"


@pytest.mark.parametrize("module", sorted(REFERENCE))
def test_every_public_name_exists_and_is_documented(module: str) -> None:
    names = exported(module)
    assert names, f"{module} exports nothing"
    assert [name for name in names if not hasattr(importlib.import_module(module), name)] == []
    assert [name for name in names if not has_docstring(module, name)] == []


@pytest.mark.parametrize("module", sorted(REFERENCE))
def test_the_readme_lists_exactly_each_modules_public_names(module: str) -> None:
    assert sorted(REFERENCE[module]) == sorted(exported(module))


def test_every_module_declaring_its_public_names_is_in_the_readme() -> None:
    declaring = {module_name(path) for path in SOURCE.rglob("*.py") if declares_all(path)}
    private = {module for module in declaring if module.startswith(PRIVATE_PACKAGES)}
    assert sorted(declaring - private) == sorted(REFERENCE)


def test_the_services_import_only_public_names() -> None:
    files = list(service_files())
    assert len(files) > 50, "the services beside the kit are missing"
    refusals = [
        f"{path.relative_to(REPOSITORY)}:{line}: {why}"
        for path in files
        for line, module, name in kit_imports(path)
        if (why := refused(module, name))
    ]
    assert refusals == []


def test_a_private_import_would_be_refused() -> None:
    assert refused("servicekit.middleware.probes", "ProbesMiddleware") == (
        "ProbesMiddleware is not in servicekit.middleware.probes.__all__"
    )
    assert refused("servicekit.internals.uvicorn", "Server") == "servicekit.internals.uvicorn is not a public module"
    assert refused("servicekit.testing", "loopback") is None


def test_the_kit_names_no_service() -> None:
    named = [
        f"{path.relative_to(KIT_ROOT)}:{number}: {line.strip()}"
        for path in sorted(SOURCE.rglob("*"))
        if path.is_file() and path.suffix != ".pyc"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SERVICE_WORDS.search(line)
    ]
    assert named == []


def test_the_docs_site_has_a_reference_page_for_each_public_module() -> None:
    pages = {
        line.removeprefix(":::").split()[0]
        for page in (KIT_ROOT / "docs" / "reference").glob("*.md")
        for line in page.read_text().splitlines()
        if line.startswith(":::")
    }
    assert sorted(set(REFERENCE) - pages) == []
