"""`.gitlab-ci.yml` runs nothing a developer cannot: every script line is a target of the Makefile, and the
jobs that publish run only where they should."""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
import yaml

from config import PROJECT_ROOT

PIPELINE: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / ".gitlab-ci.yml").read_text())


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        both_hashes = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if both_hashes else value
    return merged


def _resolved(name: str) -> dict[str, Any]:
    """The job with what it `extends` merged in, as GitLab merges it: hashes deeply, the job's own last."""
    job: dict[str, Any] = PIPELINE[name]
    bases = job.get("extends", [])
    resolved: dict[str, Any] = {}
    for base in [bases] if isinstance(bases, str) else bases:
        resolved = _merged(resolved, _resolved(base))
    return _merged(resolved, {key: value for key, value in job.items() if key != "extends"})


JOBS = {name: _resolved(name) for name, job in PIPELINE.items() if isinstance(job, dict) and "stage" in job}
SCHEDULED = {"if": '$CI_PIPELINE_SOURCE == "schedule"'}
TARGETS = set(re.findall(r"^([a-z][a-z-]*):", (PROJECT_ROOT / "Makefile").read_text(), flags=re.MULTILINE))


def _scripts() -> list[tuple[str, str]]:
    return [(name, line) for name, job in JOBS.items() for line in job["script"]]


@pytest.mark.parametrize(("job", "line"), _scripts())
def test_every_script_line_is_a_make_target(job: str, line: str) -> None:
    command = shlex.split(line)
    targets = [word for word in command[1:] if "=" not in word]
    assert command[0] == "make", f"{job}: {line!r} is not a make target"
    assert targets, f"{job}: {line!r} names no target"
    assert set(targets) <= TARGETS, f"{job}: {line!r} names a target the Makefile lacks"


def test_the_stages_run_in_order_and_each_has_a_job() -> None:
    assert PIPELINE["stages"] == ["lint", "test", "audit", "build", "release"]
    assert {job["stage"] for job in JOBS.values()} == set(PIPELINE["stages"])


def test_lint_runs_every_check_make_qa_runs() -> None:
    qa = re.search(r"^qa: (.*?) ##", (PROJECT_ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    assert qa is not None
    in_ci = {line.split()[1] for _, line in _scripts()}
    assert set(qa[1].split()) <= in_ci


def test_the_image_is_pushed_from_main_and_tags_only_and_released_from_version_tags() -> None:
    publishing = {name: job for name, job in JOBS.items() if job["stage"] in {"build", "release"}}
    for name, job in publishing.items():
        conditions = [rule["if"] for rule in job["rules"] if rule.get("when") != "never"]
        assert all("CI_COMMIT_TAG" in condition or "CI_DEFAULT_BRANCH" in condition for condition in conditions), name
        if job["stage"] == "build":  # a schedule's pipeline on main checks; it publishes nothing
            assert job["rules"][0] == SCHEDULED | {"when": "never"}, name
    assert [rule["if"] for rule in JOBS["release"]["rules"]] == [r"$CI_COMMIT_TAG =~ /^v?\d+\.\d+\.\d+$/"]


def test_merge_requests_get_the_tests_junit_and_coverage_reports() -> None:
    test = JOBS["test"]
    assert test["script"] == ["make test REPORTS=reports"]
    reports = test["artifacts"]["reports"]
    # Every suite `make test` reports on (`$(call reports,<suite>,...)`), none forgotten.
    suites = re.findall(r"\$\(call reports,([\w-]+),", (PROJECT_ROOT / "Makefile").read_text())
    assert suites == ["servicekit", "directmail", "outage-notices"]
    assert reports["junit"] == [f"reports/{suite}.xml" for suite in suites]
    assert reports["coverage_report"] == {"coverage_format": "cobertura", "path": "reports/*-coverage.xml"}
    assert test["artifacts"]["when"] == "always"  # a failed run's reports are the ones most wanted


@pytest.mark.parametrize("name", ["test", "deps-latest"])
def test_the_tests_get_a_primary_and_a_streaming_replica_of_it(name: str) -> None:
    test = JOBS[name]
    aliases = {service["alias"]: service for service in test["services"]}
    assert set(aliases) == {"postgis", "postgis-replica"}
    assert aliases["postgis"]["name"] == aliases["postgis-replica"]["name"]  # one PostGIS build on both
    assert "pg_basebackup -h postgis" in aliases["postgis-replica"]["entrypoint"][-1]
    assert test["variables"]["TEST_DATABASE_URL"].endswith("@postgis:5432/postgres")
    assert test["variables"]["TEST_DATABASE_READ_URL"].endswith("@postgis-replica:5432/postgres")
    assert test["variables"]["FF_NETWORK_PER_BUILD"] == "true"  # else the replica cannot reach the primary


def test_the_kit_is_tested_on_the_newest_releases_on_the_schedule_or_by_hand() -> None:
    job = JOBS["deps-latest"]
    assert job["script"] == ["make deps-latest"]
    assert job["rules"] == [SCHEDULED, {"when": "manual", "allow_failure": True}]
    assert SCHEDULED in PIPELINE["workflow"]["rules"]
