"""The service template (copier.yml and template/project), rendered by copier without its tasks: each
variant has its files and no others', its Python compiles and imports only the kit's public names, and it depends
on this kit's version. `make template-check` runs what it renders; this only reads it, in seconds."""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path

import copier
import pytest
import yaml

from tests.test_public_api import kit_imports, refused

KIT_ROOT = Path(__file__).parents[1]
COPIER_YML = KIT_ROOT.parent / "copier.yml"
# Made by the tasks copier runs after rendering (the lock and the first commit), which these tests skip.
MADE_BY_TASKS = {"Pipfile.lock"}
EVERY_VARIANT = {
    ".copier-answers.yml",
    ".ci/run",
    ".env.example",
    ".gitignore",
    "CHANGELOG.md",
    "Makefile",
    "Pipfile",
    "README.md",
    "api-spec.yml",
    "app/__init__.py",
    "app/api.py",
    "app/clients/__init__.py",
    "app/data_types.py",
    "app/errors.py",
    "client-gen-config.json",
    "config.py",
    "pyproject.toml",
    "run.py",
    "scripts/audit.sh",
    "scripts/client-gen/requirements.txt",
    "scripts/generate_client.sh",
    "scripts/install_packages.sh",
    "scripts/lint-spec/package.json",
    "scripts/lint-spec/package-lock.json",
    "scripts/lint-spec/redocly.yaml",
    "scripts/release.py",
    "scripts/test_tools.sh",
    "tests/conftest.py",
    "tests/test_access.py",
    "tests/test_config.py",
}
DATABASE = {
    "app/data_queries.py",
    "app/models.py",
    "migrations/0001_items.py",
    "scripts/test_database.sh",
    "tests/test_items.py",
    "tests/test_migrations.py",
}
DOWNLOADS = {"tests/test_download.py"}
NO_DATABASE = {"tests/test_hello.py"}

Render = Callable[..., Path]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template's own files in a folder that is no git repository: copier renders it as it is, without
    cloning the repository around it."""
    folder = tmp_path_factory.mktemp("template")
    shutil.copy(COPIER_YML, folder / "copier.yml")
    shutil.copytree(KIT_ROOT.parent / "template", folder / "template")
    return folder


@pytest.fixture(scope="module")
def render(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Render:
    """`render(**answers)`: the service rendered with those answers (and the name outage-notices unless
    given), once a module: the tests only read it."""
    services: dict[str, Path] = {}

    def rendered(**answers: object) -> Path:
        data = {"service_name": "outage-notices", **answers}
        key = repr(sorted(data.items()))
        if key not in services:
            destination = tmp_path_factory.mktemp("service")
            copier.run_copy(str(template), destination, data=data, defaults=True, skip_tasks=True, quiet=True)
            services[key] = destination
        return services[key]

    return rendered


def files(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


@pytest.mark.parametrize(
    ("answers", "theirs", "not_theirs"),
    [
        ({}, EVERY_VARIANT | DATABASE | DOWNLOADS, NO_DATABASE),
        ({"downloads": False}, EVERY_VARIANT | DATABASE, DOWNLOADS | NO_DATABASE),
        ({"database": False}, EVERY_VARIANT | NO_DATABASE, DATABASE | DOWNLOADS),
    ],
    ids=["database-and-downloads", "database", "no-database"],
)
def test_each_variant_has_its_files_and_not_the_others(
    render: Render, answers: dict[str, object], theirs: set[str], not_theirs: set[str]
) -> None:
    rendered = files(render(**answers))
    assert sorted(theirs - rendered) == []
    assert sorted(not_theirs & rendered) == []


@pytest.mark.parametrize("answers", [{}, {"downloads": False}, {"database": False}])
def test_the_rendered_python_compiles_and_imports_only_the_kits_public_names(
    render: Render, answers: dict[str, object]
) -> None:
    service = render(**answers)
    for path in sorted(service.rglob("*.py")):
        compile(path.read_text(), str(path), "exec")
        assert [
            (path.name, line, why) for line, module, name in kit_imports(path) if (why := refused(module, name))
        ] == []


def test_no_template_syntax_is_left_in_what_is_rendered(render: Render) -> None:
    service = render()
    # Swagger UI's page is a Jinja template of the service's own, rendered as it serves.
    leftovers = [
        path.relative_to(service).as_posix()
        for path in service.rglob("*")
        if path.is_file() and path.suffix != ".j2" and ("{{" in path.read_text() or "{%" in path.read_text())
    ]
    assert leftovers == []


def test_the_names_follow_from_the_service_name(render: Render) -> None:
    service = render(service_name="outage-notices")
    spec = yaml.safe_load((service / "api-spec.yml").read_text())
    assert spec["info"]["title"] == "Outage notices"
    assert list(spec["components"]["securitySchemes"]["entra"]["flows"]["authorizationCode"]["scopes"]) == [
        "OutageNotices.Read"
    ]
    assert 'service_name: ClassVar[str] = "outage-notices"' in (service / "config.py").read_text()
    answers = yaml.safe_load((service / ".copier-answers.yml").read_text())
    assert answers | {"_src_path": None} == {
        "_src_path": None,
        "service_name": "outage-notices",
        "service_title": "Outage notices",
        "description": "Outage notices, a service on servicekit.",
        "database": True,
        "downloads": True,
        "gitlab_group": "gigaclear",
    }


@pytest.mark.parametrize("name", ["Orders", "orders_api", "o", "orders-", "two--hyphens", "9lives"])
def test_a_service_name_that_is_no_slug_is_refused(render: Render, name: str) -> None:
    with pytest.raises(ValueError, match="Validation error for question 'service_name'"):
        render(service_name=name)


def test_a_new_service_depends_on_this_kits_version(render: Render) -> None:
    version = tomllib.loads((KIT_ROOT / "pyproject.toml").read_text())["project"]["version"]
    questions = yaml.safe_load(COPIER_YML.read_text())
    assert questions["kit_version"]["default"] == version
    pipfile = tomllib.loads((render() / "Pipfile").read_text())
    assert pipfile["packages"]["gigaclear-servicekit"] == {"version": f"=={version}", "index": "servicekit"}
    assert {source["name"]: source["url"] for source in pipfile["source"]}["servicekit"] == "${SERVICEKIT_INDEX_URL}"


@pytest.mark.parametrize("page", ["README.md", "servicekit/docs/how-to/new-service.md"])
def test_the_command_the_docs_print_makes_a_service_from_this_kits_release(page: str) -> None:
    version = tomllib.loads((KIT_ROOT / "pyproject.toml").read_text())["project"]["version"]
    text = (KIT_ROOT.parent / page).read_text()
    assert f"--vcs-ref servicekit-v{version} " in text
