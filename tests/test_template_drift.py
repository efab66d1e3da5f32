"""The drift check `make qa` runs: Directmail's template-owned files must be the template's, rendered from the
working tree with Directmail's answers, but for the deviations it records with their reasons. Here on a small
repository laid out as Directmail is (copier.yml, template/, docs/template-deviations*), in real git."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config import PROJECT_ROOT
from scripts.template_drift import main

TEMPLATE = "template/project"
DOCKERFILE = """FROM python:3.11-slim
LABEL service="{name}"
WORKDIR /app
RUN pip install pipenv
COPY Pipfile Pipfile.lock ./
RUN pipenv sync
COPY . .
USER 10001
CMD ["python", "run.py", "serve"]
"""
KUSTOMIZATION = "resources:\n  - deployment.yaml\nlabels:\n  - pairs:\n      app: {name}\n"
AUDIT = "#!/bin/sh\n# known vulnerabilities in the locked packages\npip-audit --strict\n"
REASONS = "# Directmail's deviations from the template\n\n| file | why |\n|---|---|\n\nMore about them.\n"


def git(repo: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *arguments],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def write(repo: Path, path: str, text: str, executable: bool = False) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    (repo / path).chmod(0o755 if executable else 0o644)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A service that is its template rendered with its answers: the Dockerfile, deploy/ and a script are the
    template's; app/ is its own."""
    repo = tmp_path / "directmail"
    files = {
        "copier.yml": f"_subdirectory: {TEMPLATE}\n_templates_suffix: .jinja\nservice_name:\n  type: str\n",
        f"{TEMPLATE}/{{{{ _copier_conf.answers_file }}}}.jinja": "{{ _copier_answers|to_nice_yaml }}",
        f"{TEMPLATE}/Dockerfile.jinja": DOCKERFILE.format(name="{{ service_name }}"),
        f"{TEMPLATE}/deploy/base/kustomization.yaml.jinja": KUSTOMIZATION.format(name="{{ service_name }}"),
        f"{TEMPLATE}/app/__init__.py.jinja": '"""{{ service_name }}"""\n',
        "template/owned.txt": "# template-owned\nDockerfile\ndeploy/**\nscripts/audit.sh\n",
        ".copier-answers.yml": "_src_path: https://gitlab.example.com/gigaclear/directmail\nservice_name: directmail\n",
        "Dockerfile": DOCKERFILE.format(name="directmail"),
        "deploy/base/kustomization.yaml": KUSTOMIZATION.format(name="directmail"),
        "app/__init__.py": '"""Directmail: mailing lists of premises."""\n',
        "docs/template-deviations.md": REASONS,
    }
    for path, text in files.items():
        write(repo, path, text)
    for audit in (f"{TEMPLATE}/scripts/audit.sh", "scripts/audit.sh"):
        write(repo, audit, AUDIT, executable=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message=directmail")
    return repo


def drift(repo: Path, capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str]:
    """The check (no arguments) or another command of the script's, its status and its output."""
    status = main(["--root", str(repo), *(arguments or ["check"])])
    out, err = capsys.readouterr()
    return status, out + err


def test_directmail_as_the_template_renders_it_passes_its_own_files_drifting_freely(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert drift(repo, capsys) == (
        0,
        "template-drift: Directmail's template-owned files are the template's, but for 0 recorded deviations\n",
    )


def test_an_unrecorded_difference_fails_with_its_diff_and_the_command_that_records_it(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, "Dockerfile", DOCKERFILE.format(name="directmail").replace("USER 10001", "USER root"))
    status, output = drift(repo, capsys)
    assert status == 1
    assert "template-drift: Directmail's Dockerfile differs from the template's:\n" in output
    assert "--- a/Dockerfile\n+++ b/Dockerfile\n" in output
    assert "-USER 10001\n+USER root\n" in output
    assert "make template-drift-record FILES='Dockerfile' WHY='why Directmail differs'" in output


def test_a_template_change_fails_until_directmail_has_it_uncommitted_as_it_is(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, f"{TEMPLATE}/scripts/audit.sh", AUDIT + "pip-audit --strict --local\n", executable=True)
    status, output = drift(repo, capsys)
    assert status == 1
    assert "Directmail's scripts/audit.sh differs from the template's" in output
    assert "-pip-audit --strict --local\n" in output

    write(repo, "scripts/audit.sh", AUDIT + "pip-audit --strict --local\n", executable=True)
    assert drift(repo, capsys)[0] == 0


def test_a_recorded_deviation_passes_until_the_template_changes_where_it_differs(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, "Dockerfile", DOCKERFILE.format(name="directmail").replace("USER 10001", "USER root"))
    status, output = drift(repo, capsys, "record", "./Dockerfile", "--why", "the | replica needs root")
    assert (status, output) == (0, "Dockerfile: recorded in docs/template-deviations/Dockerfile.diff\n")
    assert (repo / "docs/template-deviations.md").read_text() == REASONS.replace(
        "|---|---|\n", "|---|---|\n| `Dockerfile` | the \\| replica needs root |\n"
    )
    assert drift(repo, capsys) == (
        0,
        "template-drift: Directmail's template-owned files are the template's, but for 1 recorded deviations\n",
    )

    # A template change elsewhere in the file: the recorded hunk still applies where it has moved to.
    moved = DOCKERFILE.replace("FROM python:3.11-slim\n", "FROM python:3.11-slim\n# the runtime\n")
    write(repo, f"{TEMPLATE}/Dockerfile.jinja", moved.format(name="{{ service_name }}"))
    write(repo, "Dockerfile", moved.format(name="directmail").replace("USER 10001", "USER root"))
    assert drift(repo, capsys)[0] == 0

    write(
        repo,
        f"{TEMPLATE}/Dockerfile.jinja",
        moved.replace("USER 10001", "USER 10002").format(name="{{ service_name }}"),
    )
    status, output = drift(repo, capsys)
    assert status == 1
    assert "Dockerfile's recorded deviation no longer applies to the template's (error: patch failed" in output
    assert "-USER 10002\n+USER root\n" in output


def test_a_difference_beyond_the_recorded_deviation_fails_with_that_difference_alone(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deviating = DOCKERFILE.format(name="directmail").replace("USER 10001", "USER root")
    write(repo, "Dockerfile", deviating)
    drift(repo, capsys, "record", "Dockerfile", "--why", "the replica needs root")
    write(repo, "Dockerfile", deviating.replace("RUN pip install pipenv", "RUN pip install pipenv==2026.10.3"))
    status, output = drift(repo, capsys)
    assert status == 1
    assert "Directmail's Dockerfile differs from the template's beyond its recorded deviation" in output
    assert "-RUN pip install pipenv\n+RUN pip install pipenv==2026.10.3\n" in output
    assert "USER root" not in output


def test_a_record_without_its_reason_and_a_reason_without_its_record_fail(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, "Dockerfile", DOCKERFILE.format(name="directmail").replace("USER 10001", "USER root"))
    drift(repo, capsys, "record", "Dockerfile", "--why", "the replica needs root")
    write(repo, "docs/template-deviations.md", REASONS)
    status, output = drift(repo, capsys)
    assert status == 1
    assert (
        "docs/template-deviations/Dockerfile.diff records a deviation that docs/template-deviations.md gives no "
        "reason for" in output
    )

    (repo / "docs/template-deviations/Dockerfile.diff").unlink()
    write(repo, "Dockerfile", DOCKERFILE.format(name="directmail"))
    write(repo, "docs/template-deviations.md", REASONS.replace("|---|---|\n", "|---|---|\n| `Dockerfile` | root |\n"))
    status, output = drift(repo, capsys)
    assert status == 1
    assert "docs/template-deviations.md gives a reason for Dockerfile, whose deviation is not recorded" in output


def test_a_new_deviation_is_not_recorded_without_its_reason(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, "Dockerfile", DOCKERFILE.format(name="directmail").replace("USER 10001", "USER root"))
    status, output = drift(repo, capsys, "record", "Dockerfile")
    assert status == 1
    assert "a new deviation needs its reason: `make template-drift-record FILES='Dockerfile'" in output
    assert not (repo / "docs/template-deviations").exists()
    assert (repo / "docs/template-deviations.md").read_text() == REASONS


def test_a_file_missing_added_or_no_longer_executable_is_a_deviation_too(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "deploy/base/kustomization.yaml").unlink()
    write(repo, "deploy/overlays/replica/kustomization.yaml", "resources:\n  - ../../base\n")
    (repo / "scripts/audit.sh").chmod(0o644)
    status, output = drift(repo, capsys)
    assert status == 1
    assert "deleted file mode 100644\n--- a/deploy/base/kustomization.yaml\n+++ /dev/null\n" in output
    assert "new file mode 100644\n--- /dev/null\n+++ b/deploy/overlays/replica/kustomization.yaml\n" in output
    assert "diff --git a/scripts/audit.sh b/scripts/audit.sh\nold mode 100755\nnew mode 100644\n" in output

    owned = ["deploy/base/kustomization.yaml", "deploy/overlays/replica/kustomization.yaml", "scripts/audit.sh"]
    assert drift(repo, capsys, "record", *owned, "--why", "Directmail's own")[0] == 0
    assert drift(repo, capsys)[0] == 0

    # Back as the template has it: the record says what is no longer so, and recording again removes it.
    (repo / "scripts/audit.sh").chmod(0o755)
    status, output = drift(repo, capsys)
    assert status == 1
    assert "scripts/audit.sh is the template's again, yet docs/template-deviations/scripts/audit.sh.diff" in output
    assert (
        drift(repo, capsys, "record", "scripts/audit.sh")[1]
        == "scripts/audit.sh is the template's: no deviation recorded\n"
    )
    assert drift(repo, capsys)[0] == 0
    assert "scripts/audit.sh" not in (repo / "docs/template-deviations.md").read_text()


def test_an_owned_path_that_matches_nothing_and_a_record_of_a_path_not_owned_fail(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, "template/owned.txt", "Dockerfile\ndeploy/**\nscripts/audit.sh\n.gitlab-ci.yml\n")
    write(repo, "docs/template-deviations/app/__init__.py.diff", "diff --git a/app/__init__.py b/app/__init__.py\n")
    status, output = drift(repo, capsys)
    assert status == 1
    assert "template/owned.txt: `.gitlab-ci.yml` matches no file of the template's nor of Directmail's" in output
    assert "app/__init__.py is not template-owned (template/owned.txt), so nothing checks its record" in output
    status, output = drift(repo, capsys, "record", "app/__init__.py", "--why", "its own")
    assert (status, output) == (
        1,
        "template-drift: app/__init__.py is not template-owned (template/owned.txt): " "there is nothing to record\n",
    )


@pytest.mark.slow
def test_make_qa_runs_it_as_a_command_that_fails_on_drift(repo: Path) -> None:
    write(repo, "Dockerfile", "FROM scratch\n")
    checked = subprocess.run(
        [sys.executable, "-m", "scripts.template_drift", "--root", str(repo), "check"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 1
    assert "Directmail's Dockerfile differs from the template's" in checked.stderr
