"""The kit's wheel for a `servicekit-vX.Y.Z` tag, checked before `make kit-publish` uploads it.

    python -m scripts.kit_release wheel servicekit-v0.2.0 dist   # the wheel to upload, or why not (status 1)

The tag's version must be the one servicekit/pyproject.toml declares, with a section of its own in
servicekit/CHANGELOG.md (`## [0.2.0] - 2026-12-01`), and `make kit` must have built its wheel into the
folder: a registry keeps every version it is given for good, so none is published by mistake.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from scripts.release import ReleaseError, release_notes

KIT = Path(__file__).resolve().parent.parent / "servicekit"
TAG = re.compile(r"servicekit-v(?P<version>\d+\.\d+\.\d+)")


def kit_wheel(tag: str, kit: Path, dist: Path) -> Path:
    """The wheel of the kit's release that `tag` names, once the kit in `kit` is that release."""
    named = TAG.fullmatch(tag)
    if named is None:
        raise ReleaseError(f"{tag!r} is not a release tag of the kit: servicekit-vX.Y.Z")
    version = named["version"]
    project = tomllib.loads((kit / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    if project["version"] != version:
        raise ReleaseError(
            f"the tag is {version} but servicekit/pyproject.toml declares {project['version']}: "
            "tag the version it declares, or raise it and tag again"
        )
    try:
        release_notes((kit / "CHANGELOG.md").read_text(encoding="utf-8"), version)
    except ReleaseError as exc:
        raise ReleaseError(f"servicekit/{exc}") from None
    wheel = dist / f"{project['name'].replace('-', '_')}-{version}-py3-none-any.whl"
    if not wheel.is_file():
        raise ReleaseError(f"{wheel} is missing: `make kit` builds it")
    return wheel


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "wheel":
        print("usage: python -m scripts.kit_release wheel TAG DIST", file=sys.stderr)
        return 2
    try:
        print(kit_wheel(argv[1], KIT, Path(argv[2])))
    except ReleaseError as exc:
        print(f"kit-publish: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
