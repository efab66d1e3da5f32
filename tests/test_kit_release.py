"""The kit's release: a `servicekit-vX.Y.Z` tag publishes the kit's wheel to the package registry (a stand-in
on loopback) with the job's token, only when the tag is the version the kit declares and has notes in the
kit's changelog; and such a tag neither releases Directmail nor pushes an image."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from config import PROJECT_ROOT
from scripts.kit_release import kit_wheel
from scripts.release import ReleaseError
from servicekit.testing.loopback import LoopbackHandler, LoopbackServer
from tests.test_gitlab_ci import JOBS
from tests.test_release import CHANGELOG

KIT_VERSION: str = tomllib.loads((PROJECT_ROOT / "servicekit" / "pyproject.toml").read_text())["project"]["version"]
UPLOAD_PATH = "/api/v4/projects/42/packages/pypi"


def a_kit(folder: Path, version: str) -> Path:
    """A kit declaring `version`, with the changelog of tests/test_release.py (1.2.0 has notes, 1.1.0 none)."""
    folder.mkdir()
    (folder / "pyproject.toml").write_text(f'[project]\nname = "gigaclear-servicekit"\nversion = "{version}"\n')
    (folder / "CHANGELOG.md").write_text(CHANGELOG)
    return folder


def test_the_wheel_of_the_version_the_kit_declares_is_published(tmp_path: Path) -> None:
    wheel = tmp_path / "gigaclear_servicekit-1.2.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    assert kit_wheel("servicekit-v1.2.0", a_kit(tmp_path / "kit", "1.2.0"), tmp_path) == wheel


@pytest.mark.parametrize(
    ("tag", "declared", "why"),
    [
        ("servicekit-v1.2.1", "1.2.0", r"the tag is 1\.2\.1 but servicekit/pyproject\.toml declares 1\.2\.0"),
        ("servicekit-v1.2.0", "1.2.1", r"the tag is 1\.2\.0 but servicekit/pyproject\.toml declares 1\.2\.1"),
        ("servicekit-v1.3.0", "1.3.0", r"servicekit/CHANGELOG\.md has no section for 1\.3\.0"),
        ("servicekit-v1.1.0", "1.1.0", r"servicekit/CHANGELOG\.md: the section for 1\.1\.0 is empty"),
        ("v1.2.0", "1.2.0", r"'v1\.2\.0' is not a release tag of the kit"),
        ("servicekit-v1.2.0", "1.2.0", r"gigaclear_servicekit-1\.2\.0-py3-none-any\.whl is missing: `make kit`"),
    ],
)
def test_a_tag_that_is_not_the_kits_release_is_refused(tmp_path: Path, tag: str, declared: str, why: str) -> None:
    (tmp_path / "gigaclear_servicekit-1.2.1-py3-none-any.whl").write_bytes(b"")  # another version's wheel only
    with pytest.raises(ReleaseError, match=why):
        kit_wheel(tag, a_kit(tmp_path / "kit", declared), tmp_path)


class FakePackageRegistry(LoopbackHandler):
    """GitLab's PyPI API for one project: what twine uploads, with the credentials it sent."""

    uploads: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.request_body()
        credentials = base64.b64decode(self.headers.get("Authorization", "Basic ").split()[-1]).decode()
        filename = re.search(rb'name="content"; filename="([^"]+)"', body)
        self.uploads.append(
            {"path": self.path, "credentials": credentials, "file": filename[1].decode() if filename else None}
        )
        self.reply(201 if self.path == UPLOAD_PATH else 404, b"{}")


@pytest.fixture
def registry() -> Iterator[str]:
    FakePackageRegistry.uploads.clear()
    server = LoopbackServer(FakePackageRegistry).start()
    yield f"{server.url}/api/v4"
    server.stop()


def make(*arguments: str, registry: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "CI_API_V4_URL": registry,
        "CI_PROJECT_ID": "42",
        "CI_JOB_TOKEN": "job-token",
    }
    return subprocess.run(
        ["make", "--no-print-directory", *arguments],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_make_kit_publish_uploads_the_kits_wheel_with_the_job_token(registry: str, tmp_path: Path) -> None:
    assert make("kit", f"DIST={tmp_path}", registry=registry).returncode == 0
    refused = make("kit-publish", "KIT_TAG=servicekit-v99.0.0", f"DIST={tmp_path}", registry=registry)
    assert refused.returncode != 0
    assert f"the tag is 99.0.0 but servicekit/pyproject.toml declares {KIT_VERSION}" in refused.stderr
    assert FakePackageRegistry.uploads == []

    published = make("kit-publish", f"KIT_TAG=servicekit-v{KIT_VERSION}", f"DIST={tmp_path}", registry=registry)
    assert published.returncode == 0, published.stdout + published.stderr
    assert FakePackageRegistry.uploads == [
        {
            "path": UPLOAD_PATH,
            "credentials": "gitlab-ci-token:job-token",
            "file": f"gigaclear_servicekit-{KIT_VERSION}-py3-none-any.whl",
        }
    ]


def runs(job: dict[str, Any], variables: dict[str, str]) -> bool:
    """Whether GitLab starts `job` by itself in a pipeline with `variables`: its first rule that matches decides."""
    for rule in job.get("rules", [{}]):
        if "if" not in rule or all(holds(clause.strip(), variables) for clause in rule["if"].split("&&")):
            return rule.get("when", "on_success") not in {"never", "manual"}
    return False


def holds(clause: str, variables: dict[str, str]) -> bool:
    """One clause of a rule, in the forms .gitlab-ci.yml uses: `$A`, `$A == "x"`, `$A == $B`, `$A =~ /re/`."""
    if matches := re.fullmatch(r"\$(\w+) =~ /(.*)/", clause):
        return re.search(matches[2], variables.get(matches[1], "")) is not None
    if equals := re.fullmatch(r'\$(\w+) == (?:"(.*)"|\$(\w+))', clause):
        expected = equals[2] if equals[2] is not None else variables.get(equals[3], "")
        return variables.get(equals[1], "") == expected
    if variable := re.fullmatch(r"\$(\w+)", clause):
        return bool(variables.get(variable[1]))
    raise AssertionError(f"a rule clause this test cannot read: {clause!r}")


def started(variables: dict[str, str]) -> set[str]:
    return {name for name, job in JOBS.items() if runs(job, {"CI_DEFAULT_BRANCH": "main"} | variables)}


def test_a_kit_tag_publishes_the_kit_and_neither_releases_nor_pushes_directmail() -> None:
    jobs = started({"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": "servicekit-v1.2.0"})
    assert {"test", "packages", "kit-publish"} <= jobs
    assert not {"release", "build-image"} & jobs
    assert JOBS["kit-publish"]["script"] == ["make kit-publish"]
    assert JOBS["kit-publish"]["dependencies"] == ["packages"]  # the wheel `make kit` built there
    assert "make kit" in JOBS["packages"]["script"]


def test_a_directmail_tag_releases_and_pushes_directmail_but_not_the_kit() -> None:
    jobs = started({"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": "v1.2.0"})
    assert {"test", "build-image", "release"} <= jobs
    assert "kit-publish" not in jobs


def test_main_publishes_no_release() -> None:
    jobs = started({"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main"})
    assert {"test", "build-image", "packages"} <= jobs
    assert not {"release", "kit-publish"} & jobs
