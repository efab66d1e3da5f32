"""`make template-check`: a service generated from the template, as a user gets one, passes its own checks.

    python -m scripts.template_check              # make test and make qa in a new service; make test without a database
    python -m scripts.template_check --qa "format lint"   # only those of make qa's targets

The kit's wheel (`make kit`) is served from a PEP 503 index on loopback, standing in for the company's package
registry (SERVICEKIT_INDEX_URL); PyPI and npm give the rest. Copier (its command line) generates the service from this
working tree, uncommitted template changes included, at the defaults, into a temporary folder; its tasks lock the
Pipfile and make the first commit. Each check runs in a fresh clone of that repository, as a user's would.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KIT_DISTRIBUTION = "gigaclear-servicekit"
# The service each check makes: the docs' example's name, and a name for the one without a database.
WITH_DATABASE = {"service_name": "outage-notices"}
WITHOUT_DATABASE = {"service_name": "hello-world", "database": "false"}
QA_TARGETS = "qa"
# What the caller's own `make` passes down (variables given on its command line, its job count) and the GitLab
# job's variables (GITLAB_CI, CI_JOB_TOKEN, ...) stay out of the generated service's checks: a user runs its
# Makefile from a shell. TEST_DATABASE_URL, which says where PostgreSQL is, stays.
MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GITLAB_CI", "CI")
CI_VARIABLES = "CI_"


class CheckFailed(Exception):
    """A step of the check failed; the message names it."""


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="template_check", description=__doc__.splitlines()[0])
    parser.add_argument("--qa", default=QA_TARGETS, help="the make targets run for make qa (default: qa)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="template-check-") as scratch:
        work = Path(scratch)
        try:
            with package_index(kit_wheel(work / "dist")) as index_url:
                environment = service_environment(index_url)
                service = generate(work / "generated", WITH_DATABASE, environment)
                checked(fresh_clone(service, work / "clone"), ["make", "test"], environment)
                checked(fresh_clone(service, work / "clone-qa"), ["make", *args.qa.split()], environment)
                plain = generate(work / "generated", WITHOUT_DATABASE, environment)
                checked(fresh_clone(plain, work / "plain-clone"), ["make", "test"], environment)
        except CheckFailed as exc:
            print(f"template-check: {exc}", file=sys.stderr)
            return 1
    print("template-check: the generated services pass their checks")
    return 0


def kit_wheel(dist: Path) -> Path:
    """The kit's wheel, built by `make kit` from this working tree."""
    checked(ROOT, ["make", "--no-print-directory", "kit", f"DIST={dist}"], as_in_a_shell(os.environ))
    [wheel] = dist.glob("gigaclear_servicekit-*.whl")
    return wheel


@contextmanager
def package_index(wheel: Path) -> Iterator[str]:
    """A PEP 503 simple index holding `wheel` alone, served over HTTP on loopback while the block runs."""
    simple = wheel.parent / "simple"
    project = simple / KIT_DISTRIBUTION
    project.mkdir(parents=True)
    (project / wheel.name).write_bytes(wheel.read_bytes())
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    link = f'<a href="{html.escape(wheel.name)}#sha256={digest}">{html.escape(wheel.name)}</a>'
    (project / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>{link}</body></html>\n", encoding="utf-8")
    project_link = f'<a href="{KIT_DISTRIBUTION}/">{KIT_DISTRIBUTION}</a>'
    (simple / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>{project_link}</body></html>\n", encoding="utf-8")
    handler = partial(QuietHandler, directory=str(simple))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="package-index", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class QuietHandler(SimpleHTTPRequestHandler):
    """The index's requests are pip's: not worth a line each in the check's output."""

    def log_message(self, format: str, *args: object) -> None:
        pass


def service_environment(index_url: str) -> dict[str, str]:
    """A user's shell with the registry's URL set, as the generated README says."""
    environment = as_in_a_shell(os.environ)
    environment["SERVICEKIT_INDEX_URL"] = index_url
    return environment


def as_in_a_shell(environment: Mapping[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in environment.items()
        if name not in MAKE_VARIABLES and not name.startswith(CI_VARIABLES)
    }


def generate(parent: Path, answers: dict[str, str], environment: dict[str, str]) -> Path:
    """A service generated from this working tree (`--vcs-ref HEAD`: uncommitted changes too) at the
    questions' defaults but for `answers`, by copier's command line; its tasks lock and commit."""
    destination = parent / answers["service_name"]
    data = [option for name, value in answers.items() for option in ("--data", f"{name}={value}")]
    command = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--vcs-ref", "HEAD", "--quiet"]
    checked(ROOT, [*command, *data, str(ROOT), str(destination)], environment)
    return destination


def fresh_clone(repository: Path, destination: Path) -> Path:
    checked(repository.parent, ["git", "clone", "--quiet", str(repository), str(destination)], dict(os.environ))
    return destination


def checked(folder: Path, command: list[str], environment: dict[str, str]) -> None:
    print(f"template-check: {folder.name}$ {' '.join(command)}", flush=True)
    if subprocess.run(command, cwd=folder, env=environment, check=False).returncode != 0:
        raise CheckFailed(f"`{' '.join(command)}` failed in {folder}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
