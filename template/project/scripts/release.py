"""A GitLab release for a version tag, its notes taken from CHANGELOG.md (`make release-notes`, `make release`).

    python -m scripts.release notes 1.2.0      # the version's section of the changelog, as Markdown
    python -m scripts.release publish 1.2.0    # in GitLab CI, on the tag: the release with those notes

A tag whose version has no section of its own in the changelog (`## [1.2.0] - 2026-12-01`) fails: a
release is never published with empty or unreleased notes. Publishing uses GitLab's Releases API with
the job's own token (CI_JOB_TOKEN), as GitLab's release-cli does, so the job needs no other image.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import httpx

CHANGELOG = Path(__file__).resolve().parent.parent / "CHANGELOG.md"
SECTION = re.compile(r"^## \[(?P<version>[^\]]+)\][^\n]*\n(?P<body>.*?)(?=^## \[|\Z)", re.MULTILINE | re.DOTALL)
TIMEOUT_SECONDS = 30


class ReleaseError(Exception):
    """The release cannot be made; the message says why, in one line."""


def release_notes(changelog: str, version: str) -> str:
    """The body of `version`'s section (a leading `v` on the tag is dropped)."""
    wanted = version.removeprefix("v")
    for section in SECTION.finditer(changelog):
        if section["version"] == wanted:
            body = section["body"].strip()
            if body:
                return body + "\n"
            raise ReleaseError(f"CHANGELOG.md: the section for {wanted} is empty")
    raise ReleaseError(f"CHANGELOG.md has no section for {wanted}: move the Unreleased entries under ## [{wanted}]")


def publish(api_url: str, project_id: str, job_token: str, tag: str, notes: str) -> str:
    """Creates the release for `tag`, or updates its notes when it exists (a re-run job); its web URL."""
    project = f"{api_url.rstrip('/')}/projects/{project_id}/releases"
    headers = {"JOB-TOKEN": job_token}
    with httpx.Client(headers=headers, timeout=TIMEOUT_SECONDS) as client:
        response = client.post(project, json={"tag_name": tag, "name": tag, "description": notes})
        if response.status_code == httpx.codes.CONFLICT:
            response = client.put(f"{project}/{tag}", json={"description": notes})
        if response.is_error:
            raise ReleaseError(
                f"GitLab answered {response.status_code} for the release of {tag}: {response.text[:200]}"
            )
    url: str = response.json().get("_links", {}).get("self", tag)
    return url


def _ci_variable(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ReleaseError(f"{name} is not set: `make release` runs in a GitLab CI job on a tag")
    return value


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in {"notes", "publish"} or not argv[1]:
        print("usage: python -m scripts.release notes|publish VERSION", file=sys.stderr)
        return 2
    action, version = argv
    try:
        notes = release_notes(CHANGELOG.read_text(encoding="utf-8"), version)
        if action == "notes":
            sys.stdout.write(notes)
            return 0
        api_url, project_id, job_token = map(_ci_variable, ("CI_API_V4_URL", "CI_PROJECT_ID", "CI_JOB_TOKEN"))
        print(f"released {version}: {publish(api_url, project_id, job_token, version, notes)}")
    except ReleaseError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
