"""`make deps-latest`: the kit's tests on the newest release of every library it declares, in a scratch
virtualenv (DEPS_LATEST_VENV, default .deps-latest).

Its upper bounds are ignored: within them the newest releases are the locked ones give or take a patch,
and the point is to hear, before a bound is raised, of a release that would break the kit (an internal
of servicekit/internals/ renamed, a behaviour its tests rely on changed). The libraries' own constraints
on each other still hold. Arguments are pytest's (`make deps-latest ARGS="-k internals"`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

KIT = Path(__file__).resolve().parents[1] / "servicekit"
# A requirement's name and extras, without its version bounds (or marker: the kit has none).
NAME_AND_EXTRAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?")
# Not the kit's: the template's tests (tests/test_template.py) render the service template with it.
TEMPLATE_TOOLS = ["copier"]


def unbounded(requirements: list[str]) -> list[str]:
    names = []
    for requirement in requirements:
        match = NAME_AND_EXTRAS.match(requirement)
        if match is None:
            raise ValueError(f"not a requirement: {requirement!r}")
        names.append(match.group(0))
    return names


def run(*command: str | Path) -> None:
    subprocess.run([str(part) for part in command], check=True)


def main(pytest_arguments: list[str]) -> int:
    project = tomllib.loads((KIT / "pyproject.toml").read_text())["project"]
    wanted = unbounded([*project["dependencies"], *project["optional-dependencies"]["testing"], *TEMPLATE_TOOLS])
    scratch = Path(os.environ.get("DEPS_LATEST_VENV", ".deps-latest")).resolve()
    venv.create(scratch, clear=True, with_pip=True)
    python = scratch / "bin" / "python"
    pip = (python, "-m", "pip", "--quiet", "--disable-pip-version-check")
    run(*pip, "install", "--upgrade", "--upgrade-strategy", "eager", *wanted)
    run(*pip, "install", "--no-deps", "--editable", KIT)  # its bounds would hold the libraries back
    run(python, "-m", "pip", "list", "--disable-pip-version-check", "--exclude-editable")  # what was tested
    return subprocess.run([str(python), "-m", "pytest", *pytest_arguments], cwd=KIT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
