"""`make release-notes` and `make release`: a tag's notes come from its CHANGELOG section, and the release
reaches GitLab's Releases API (a stand-in on loopback) with the job's token."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from config import PROJECT_ROOT
from scripts.release import ReleaseError, publish, release_notes
from servicekit.testing.loopback import LoopbackHandler, LoopbackServer

CHANGELOG = """# Changelog

## [Unreleased]

### Added
- Something not yet released.

## [1.2.0] - 2026-12-01

### Added
- Read replicas.

### Fixed
- A fix.

## [1.1.0] - 2026-11-01

## [1.0.0] - 2026-10-01

### Added
- The first release.
"""


def test_a_versions_notes_are_its_section_only() -> None:
    assert release_notes(CHANGELOG, "v1.2.0") == "### Added\n- Read replicas.\n\n### Fixed\n- A fix.\n"
    assert release_notes(CHANGELOG, "1.0.0") == "### Added\n- The first release.\n"


@pytest.mark.parametrize(
    ("version", "why"),
    [("1.3.0", r"CHANGELOG\.md has no section for 1\.3\.0"), ("1.1.0", r"the section for 1\.1\.0 is empty")],
)
def test_a_tag_without_notes_is_not_released(version: str, why: str) -> None:
    with pytest.raises(ReleaseError, match=why):
        release_notes(CHANGELOG, version)


class FakeReleases(LoopbackHandler):
    """GitLab's Releases API for one project: POST creates (409 when the tag has one), PUT updates."""

    releases: ClassVar[dict[str, dict[str, Any]]] = {}
    tokens: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.tokens.append(self.headers["JOB-TOKEN"])
        release = json.loads(self.request_body())
        if self.path != "/api/v4/projects/42/releases":
            self.reply(404, b'{"message": "404 Project Not Found"}')
        elif release["tag_name"] in self.releases:
            self.reply(409, b'{"message": "Release already exists"}')
        else:
            self._keep(release["tag_name"], release)

    def do_PUT(self) -> None:
        self.tokens.append(self.headers["JOB-TOKEN"])
        tag = self.path.rsplit("/", 1)[-1]
        self._keep(tag, self.releases[tag] | json.loads(self.request_body()))

    def _keep(self, tag: str, release: dict[str, Any]) -> None:
        self.releases[tag] = release
        body = release | {"_links": {"self": f"https://gitlab.example/p/-/releases/{tag}"}}
        self.reply(201, json.dumps(body).encode())


@pytest.fixture
def gitlab() -> Iterator[str]:
    FakeReleases.releases.clear()
    FakeReleases.tokens.clear()
    server = LoopbackServer(FakeReleases).start()
    yield f"{server.url}/api/v4"
    server.stop()


def test_a_release_is_published_with_the_job_token_and_a_rerun_updates_it(gitlab: str) -> None:
    url = publish(gitlab, "42", "job-token-1", "v1.2.0", "first notes\n")
    assert url == "https://gitlab.example/p/-/releases/v1.2.0"
    publish(gitlab, "42", "job-token-2", "v1.2.0", "corrected notes\n")
    assert FakeReleases.releases == {
        "v1.2.0": {"tag_name": "v1.2.0", "name": "v1.2.0", "description": "corrected notes\n"}
    }
    assert FakeReleases.tokens == ["job-token-1", "job-token-2", "job-token-2"]


def test_a_refused_release_fails_with_gitlabs_answer(gitlab: str) -> None:
    with pytest.raises(ReleaseError, match=r"GitLab answered 404 for the release of v1\.2\.0"):
        publish(gitlab, "7", "job-token", "v1.2.0", "notes\n")


def test_make_release_outside_gitlab_ci_says_what_it_needs() -> None:
    # The project's own changelog has no released section yet: publishing stops at the notes, naming them.
    environment = {"PATH": "/usr/bin:/bin", "VERSION": "9.9.9"}
    done = subprocess.run(
        ["make", "--no-print-directory", "release"], cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "CHANGELOG.md has no section for 9.9.9" in done.stderr


def test_publish_needs_the_ci_variables(tmp_path) -> None:
    script = "import sys; from scripts import release; release.CHANGELOG = __import__('pathlib').Path(sys.argv[1]);"
    script += " sys.exit(release.main(['publish', '1.2.0']))"
    (tmp_path / "CHANGELOG.md").write_text(CHANGELOG)
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "CHANGELOG.md")],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "CI_API_V4_URL is not set: `make release` runs in a GitLab CI job on a tag" in done.stderr
