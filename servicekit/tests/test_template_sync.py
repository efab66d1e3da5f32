"""A template change reaches a service made from the template by one command, `make template-update`, and never
overwrites what the service changed itself: a conflict is left inline and the command fails naming the file.

On a small template of the same shape as the kit's (copier.yml, a `_subdirectory`, `.jinja` files, releases
tagged servicekit-vX.Y.Z) in a real git repository, with copier and make as a service's developer runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# The kit's repository: copier.yml at its root, the template's files under template/project/.
REPOSITORY = Path(__file__).resolve().parents[2]
TEMPLATE_MAKEFILE = REPOSITORY / "template" / "project" / "Makefile.jinja"
VENV = Path(sys.prefix)
KIT_RELEASE = f"servicekit-v{version('gigaclear-servicekit')}"
EARLIER_RELEASE = "servicekit-v0.0.1"


def update_target(makefile: str) -> str:
    """The template Makefile's `template-update`, its comment and recipe: the toy template runs the real one."""
    start = makefile.index("# The template's changes since the service was made")
    end = makefile.index("\n\n", makefile.index("template-update:", start))
    return makefile[start : end + 1]


UPDATE_TARGET = update_target(TEMPLATE_MAKEFILE.read_text())
DOCKERFILE = """FROM python:3.11-slim
LABEL service="{{ service_name }}"
WORKDIR /app
COPY Pipfile Pipfile.lock ./
RUN pip install pipenv && pipenv sync
COPY . .
USER 10001
CMD ["python", "run.py", "serve"]
"""


def git(repo: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *arguments],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def commit(repo: Path, files: dict[str, str], tag: str | None = None) -> None:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message=change")
    if tag is not None:
        git(repo, "tag", tag)


@dataclass
class Service:
    """A service made from the template's earlier release and committed, as a team has it."""

    path: Path
    template: Path

    def file(self, name: str) -> str:
        return (self.path / name).read_text()

    def update(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """`make template-update` as a developer runs it from a shell (none of this run's make variables), with
        this virtualenv's copier and kit."""
        environment = {
            name: value
            for name, value in os.environ.items()
            if name not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "TEMPLATE_REF"}
        }
        return subprocess.run(
            ["make", "--no-print-directory", "template-update", f"VENV={VENV}", *arguments],
            cwd=self.path,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )


def made(template: Path, service: Path) -> Service:
    """The service copier makes from the template's earlier release, committed (its tasks left out: they
    lock the Pipfile against the package registry)."""
    copier = str(VENV / "bin" / "copier")
    copy = [copier, "copy", "--quiet", "--defaults", "--skip-tasks", "--data=service_name=orders"]
    subprocess.run([*copy, f"--vcs-ref={EARLIER_RELEASE}", str(template), str(service)], check=True)
    git(service, "init", "--quiet", "--initial-branch=main")
    commit(service, {})
    return Service(service, template)


@pytest.fixture
def service(tmp_path: Path) -> Service:
    template = tmp_path / "template"
    template.mkdir()
    git(template, "init", "--quiet", "--initial-branch=main")
    commit(
        template,
        {
            "copier.yml": "_subdirectory: project\n_templates_suffix: .jinja\nservice_name:\n  type: str\n",
            "project/{{ _copier_conf.answers_file }}.jinja": "{{ _copier_answers|to_nice_yaml }}",
            "project/Makefile.jinja": f"SHELL := /bin/bash\nVENV := $(CURDIR)/.venv\nINSTALLED :=\n\n{UPDATE_TARGET}",
            "project/Dockerfile.jinja": DOCKERFILE,
            "project/app/__init__.py.jinja": '"""{{ service_name }}"""\n',
        },
        tag=EARLIER_RELEASE,
    )
    return made(template, tmp_path / "orders")


def test_a_template_change_reaches_the_service_with_its_own_changes_kept(service: Service) -> None:
    commit(service.path, {"app/__init__.py": '"""Orders: what customers ordered."""\n'})
    commit(
        service.template,
        {
            "project/Dockerfile.jinja": DOCKERFILE.replace("FROM python:3.11-slim", "FROM python:3.11.9-slim"),
            "project/.hadolint.yaml": "failure-threshold: warning\n",
        },
        tag=KIT_RELEASE,
    )

    updated = service.update()  # to the template released with the installed kit

    assert updated.returncode == 0, updated.stderr
    assert service.file("Dockerfile").startswith('FROM python:3.11.9-slim\nLABEL service="orders"\n')
    assert service.file(".hadolint.yaml") == "failure-threshold: warning\n"
    assert service.file("app/__init__.py") == '"""Orders: what customers ordered."""\n'
    assert f"_commit: {KIT_RELEASE}\n" in service.file(".copier-answers.yml")


def test_a_template_change_to_lines_the_service_changed_is_shown_inline_and_fails_the_command(
    service: Service,
) -> None:
    commit(service.path, {"Dockerfile": service.file("Dockerfile").replace("USER 10001", "USER 10042")})
    commit(service.template, {"project/Dockerfile.jinja": DOCKERFILE.replace("USER 10001", "USER 65532")}, "v2")

    updated = service.update("TEMPLATE_REF=v2")

    assert updated.returncode != 0
    assert "make template-update: the template changed lines the service changed too" in updated.stderr
    assert "in these files: keep what is right, then git add them\nDockerfile\n" in updated.stderr
    dockerfile = service.file("Dockerfile")
    assert "<<<<<<< before updating\nUSER 10042\n" in dockerfile
    assert "=======\nUSER 65532\n" in dockerfile
    assert ">>>>>>> after updating\n" in dockerfile
    assert git(service.path, "diff", "--name-only", "--diff-filter=U") == "Dockerfile\n"


def test_uncommitted_changes_stop_the_update_before_it_touches_anything(service: Service) -> None:
    (service.path / "Dockerfile").write_text(service.file("Dockerfile").replace("USER 10001", "USER 10042"))
    commit(service.template, {"project/Dockerfile.jinja": DOCKERFILE.replace("USER 10001", "USER 65532")}, "v2")

    updated = service.update("TEMPLATE_REF=v2")

    assert updated.returncode != 0
    assert "Destination repository is dirty; cannot continue" in updated.stderr
    assert "USER 10042\n" in service.file("Dockerfile")
    assert "USER 65532" not in service.file("Dockerfile")


def test_the_kits_template_brings_its_change_into_a_service_it_made(tmp_path: Path) -> None:
    template = tmp_path / "template"
    listed = git(REPOSITORY, "ls-files", "--cached", "--others", "--exclude-standard", "copier.yml", "template")
    for path in listed.splitlines():
        (template / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPOSITORY / path, template / path)
    git(template, "init", "--quiet", "--initial-branch=main")
    commit(template, {}, tag=EARLIER_RELEASE)
    service = made(template, tmp_path / "orders")
    dockerfile = template / "template/project/Dockerfile.jinja"
    commit(template, {dockerfile.relative_to(template).as_posix(): dockerfile.read_text() + "# a fix\n"}, "v2")

    updated = service.update("TEMPLATE_REF=v2", "INSTALLED=")  # this virtualenv stands in for the service's

    assert updated.returncode == 0, updated.stderr
    assert service.file("Dockerfile").endswith("\n# a fix\n")
    assert git(service.path, "status", "--porcelain") == " M .copier-answers.yml\n M Dockerfile\n"
