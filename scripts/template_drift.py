"""Directmail's template-owned files against the service template, but for the deviations it records.

    python -m scripts.template_drift check                                   # make template-drift (in make qa)
    python -m scripts.template_drift record Makefile --why "the kit's targets"  # make template-drift-record

Directmail is the template (`copier.yml`, template/project/) rendered with the answers in
.copier-answers.yml, plus documented deviations. The check renders the template from the working tree,
uncommitted changes included, and compares each file template/owned.txt names with Directmail's.
A deviation is allowed exactly as docs/template-deviations/<file>.diff records it (the template's file with
that diff applied must be Directmail's) and only with its reason in docs/template-deviations.md: so a fix to
the Dockerfile, the pipeline or the manifests is made once, in the template, and reaches every service.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml
from copier import Settings, run_copy

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = ".copier-answers.yml"
# What copier reads of the template: its settings and questions, and the folder they name (_subdirectory).
TEMPLATE_SOURCES = ("copier.yml", "template")
OWNED = "template/owned.txt"
REASONS = "docs/template-deviations.md"
RECORDS = "docs/template-deviations"
REASON_ROW = re.compile(r"^\|\s*`(?P<path>[^`]+)`\s*\|\s*(?P<why>.*?)\s*\|\s*$")
NEW_TABLE = "| file | why Directmail differs from the template |\n|---|---|\n"


class DriftError(Exception):
    """The check cannot run, or a record cannot be made: the message says why."""


@dataclass(frozen=True)
class Version:
    """One side's file: its text and its git mode (100755 for an executable)."""

    text: str
    mode: str

    @classmethod
    def read(cls, path: Path) -> Version | None:
        if not path.is_file():
            return None
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise DriftError(f"{path}: template-owned files are text, this one is not") from None
        return cls(text, "100755" if path.stat().st_mode & 0o111 else "100644")


def git_diff(path: str, before: Version | None, after: Version | None) -> str:
    """`before` to `after` as a git patch `git apply` takes, with a file's creation, removal or mode change."""
    header = [f"diff --git a/{path} b/{path}\n"]
    if before is None and after is not None:
        header.append(f"new file mode {after.mode}\n")
    elif after is None and before is not None:
        header.append(f"deleted file mode {before.mode}\n")
    elif before is not None and after is not None and before.mode != after.mode:
        header += [f"old mode {before.mode}\n", f"new mode {after.mode}\n"]
    hunks = difflib.unified_diff(
        _lines(before),
        _lines(after),
        "/dev/null" if before is None else f"a/{path}",
        "/dev/null" if after is None else f"b/{path}",
    )
    # A last line without its newline would otherwise run into the next line of the patch.
    return "".join(
        header + [line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in hunks]
    )


def _lines(version: Version | None) -> list[str]:
    return [] if version is None else version.text.splitlines(keepends=True)


def apply(patch: str, path: str, to: Version | None, scratch: Path) -> Version | None:
    """`to`, the file at `path`, with `patch` applied by `git apply` (which finds a hunk that has moved)."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    if to is not None:
        target = scratch / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(to.text, encoding="utf-8")
        target.chmod(0o755 if to.mode == "100755" else 0o644)
    # Outside any repository, so that git applies the patch to these files and no others.
    environment = {**os.environ, "GIT_CEILING_DIRECTORIES": str(scratch.parent)}
    applied = subprocess.run(
        ["git", "apply", "--whitespace=nowarn", "-"],
        cwd=scratch,
        input=patch,
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    if applied.returncode != 0:
        raise DriftError("; ".join(applied.stderr.split("\n")).strip("; "))
    return Version.read(scratch / path)


class Owned:
    """The template-owned paths: template/owned.txt's globs (`**` crosses folders, a trailing `/`
    is everything under the folder)."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = list(patterns)
        self._regexes = [_glob_regex(pattern) for pattern in patterns]

    @classmethod
    def read(cls, root: Path) -> Owned:
        listed = root / OWNED
        if not listed.is_file():
            raise DriftError(f"{OWNED} is missing: the template-owned paths, one glob a line")
        lines = (line.strip() for line in listed.read_text(encoding="utf-8").splitlines())
        return cls([line for line in lines if line and not line.startswith("#")])

    def __contains__(self, path: str) -> bool:
        return any(regex.fullmatch(path) for regex in self._regexes)

    def select(self, paths: Iterable[str]) -> set[str]:
        return {path for path in paths if path in self}

    def unmatched(self, paths: set[str]) -> list[str]:
        """The patterns that match none of `paths`: a stale line hides nothing, but says what is no longer so."""
        return [
            pattern
            for pattern, regex in zip(self.patterns, self._regexes, strict=True)
            if not any(map(regex.fullmatch, paths))
        ]


def _glob_regex(pattern: str) -> re.Pattern[str]:
    if pattern.endswith("/"):
        pattern += "**"
    wildcards = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern)
    return re.compile("".join(wildcards.get(part, re.escape(part)) for part in parts))


@dataclass
class Deviations:
    """The record: each deviating file's reason (a row of docs/template-deviations.md) and its exact difference
    from the template (docs/template-deviations/<file>.diff)."""

    root: Path
    reasons: dict[str, str]
    patches: dict[str, str]

    @classmethod
    def read(cls, root: Path) -> Deviations:
        reasons_file, records = root / REASONS, root / RECORDS
        reasons: dict[str, str] = {}
        if reasons_file.is_file():
            for line in reasons_file.read_text(encoding="utf-8").splitlines():
                if row := REASON_ROW.match(line):
                    reasons[row["path"]] = row["why"]
        patches = {
            record.relative_to(records).as_posix().removesuffix(".diff"): record.read_text(encoding="utf-8")
            for record in (sorted(records.rglob("*.diff")) if records.is_dir() else [])
        }
        return cls(root, reasons, patches)

    def paths(self) -> set[str]:
        return set(self.reasons) | set(self.patches)

    def problems(self, owned: Owned) -> list[str]:
        """What makes the record itself wrong, whatever the files say."""
        problems = []
        for path in sorted(self.paths()):
            if path not in owned:
                problems.append(f"{path} is not template-owned ({OWNED}), so nothing checks its record: remove it")
            elif path not in self.reasons:
                problems.append(
                    f"{RECORDS}/{path}.diff records a deviation that {REASONS} gives no reason for: "
                    f"{record_command([path])}"
                )
            elif path not in self.patches:
                problems.append(
                    f"{REASONS} gives a reason for {path}, whose deviation is not recorded ({RECORDS}/{path}.diff): "
                    f"`make template-drift-record FILES={path}` records it, or remove the row"
                )
            elif not self.patches[path].startswith(f"diff --git a/{path} b/{path}\n"):
                problems.append(f"{RECORDS}/{path}.diff is not a difference of {path}: record it again")
        return problems

    def write(self, path: str, patch: str | None, why: str | None) -> None:
        """Record `patch` for `path` (None: it deviates no more), with `why` as its reason when given."""
        record = self.root / RECORDS / f"{path}.diff"
        if patch is None:
            record.unlink(missing_ok=True)
            self.patches.pop(path, None)
            self.reasons.pop(path, None)
        else:
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(patch, encoding="utf-8")
            self.patches[path] = patch
            if why is not None:
                self.reasons[path] = " ".join(why.replace("|", r"\|").split())
        self._write_reasons()

    def _write_reasons(self) -> None:
        """docs/template-deviations.md's table, one row a file in path order; the rest of the page as it was."""
        reasons_file = self.root / REASONS
        page = reasons_file.read_text(encoding="utf-8") if reasons_file.is_file() else ""
        lines = [line for line in page.splitlines(keepends=True) if not REASON_ROW.match(line)]
        header = next((index for index, line in enumerate(lines) if line.startswith("|---")), None)
        if header is None:
            lines += ["\n" if lines else "", *NEW_TABLE.splitlines(keepends=True)]
            header = len(lines) - 1
        rows = [f"| `{path}` | {why} |\n" for path, why in sorted(self.reasons.items())]
        reasons_file.parent.mkdir(parents=True, exist_ok=True)
        reasons_file.write_text("".join(lines[: header + 1] + rows + lines[header + 1 :]), encoding="utf-8")


def advice(recordable: list[str]) -> str:
    """What to do about the differences found, once, after them all."""
    fix = "A fix belongs in the template (template/project/) or in Directmail's file"
    if not recordable:
        return f"{fix}."
    return (
        f"{fix}; a deliberate difference is recorded, with its reason, by {record_command(recordable)}"
        " (WHY left out keeps a recorded file's reason)."
    )


def record_command(paths: Iterable[str]) -> str:
    return f"`make template-drift-record FILES='{' '.join(paths)}' WHY='why Directmail differs'`"


def listed(root: Path, *pathspecs: str) -> set[str]:
    """The files git tracks or would track under `root`, uncommitted ones included, ignored ones not."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *pathspecs],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {path for path in listing.split("\0") if path and (root / path).is_file()}


def render(root: Path, scratch: Path) -> Path:
    """The template as the working tree holds it, rendered with Directmail's answers, without its tasks."""
    template, rendered = scratch / "template", scratch / "rendered"
    sources = listed(root, *TEMPLATE_SOURCES)
    if "copier.yml" not in sources:
        raise DriftError(f"{root}/copier.yml is missing: there is no template to compare with")
    # A copy, not the repository: copier would clone a git template, and only its committed files.
    for path in sources:
        (template / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / path, template / path)
    run_copy(
        str(template),
        rendered,
        data=answers(root),
        defaults=True,
        quiet=True,
        skip_tasks=True,
        unsafe=True,  # the template is this working tree's own
        overwrite=True,
        settings=Settings(),  # not the user's copier settings, whose default answers would change the rendering
    )
    return rendered


def answers(root: Path) -> dict[str, object]:
    try:
        recorded = yaml.safe_load((root / ANSWERS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DriftError(f"{ANSWERS} is missing: the answers Directmail is the template rendered with") from None
    return {question: answer for question, answer in recorded.items() if not question.startswith("_")}


@dataclass
class Drift:
    """Directmail beside the template rendered from the same working tree."""

    root: Path
    rendered: Path
    owned: Owned
    deviations: Deviations
    scratch: Path

    def paths(self) -> set[str]:
        in_template = self.owned.select(path.relative_to(self.rendered).as_posix() for path in _files(self.rendered))
        return in_template | self.owned.select(listed(self.root))

    def template(self, path: str) -> Version | None:
        return Version.read(self.rendered / path)

    def directmail(self, path: str) -> Version | None:
        return Version.read(self.root / path)

    def patch(self, path: str) -> str | None:
        """How Directmail's `path` differs from the template's, None when it does not."""
        template, directmail = self.template(path), self.directmail(path)
        return None if template == directmail else git_diff(path, template, directmail)

    def problems(self) -> list[Problem]:
        paths = self.paths()
        problems = [
            Problem(f"{OWNED}: `{pattern}` matches no file of the template's nor of Directmail's: remove it")
            for pattern in self.owned.unmatched(paths)
        ]
        problems += [Problem(text) for text in self.deviations.problems(self.owned)]
        for path in sorted(paths | self.owned.select(self.deviations.paths())):
            problem = self.compare(path)
            if problem is not None:
                problems.append(problem)
        return problems

    def compare(self, path: str) -> Problem | None:
        template, directmail = self.template(path), self.directmail(path)
        patch = self.deviations.patches.get(path)
        if patch is None:
            if template == directmail:
                return None
            return Problem(
                f"Directmail's {path} differs from the template's:\n{git_diff(path, template, directmail)}", path
            )
        if template == directmail:
            return Problem(
                f"{path} is the template's again, yet {RECORDS}/{path}.diff records a deviation: "
                f"`make template-drift-record FILES={path}` removes it"
            )
        try:
            expected = apply(patch, path, template, self.scratch / "apply")
        except DriftError as exc:
            return Problem(
                f"{path}'s recorded deviation no longer applies to the template's ({exc}): the template changed "
                f"where Directmail differs. Directmail's differs from the template's thus:\n"
                f"{git_diff(path, template, directmail)}",
                path,
            )
        if expected == directmail:
            return None
        return Problem(
            f"Directmail's {path} differs from the template's beyond its recorded deviation "
            f"(the template's with {RECORDS}/{path}.diff applied):\n{git_diff(path, expected, directmail)}",
            path,
        )


@dataclass(frozen=True)
class Problem:
    """What the check found wrong; `recordable` names the file when recording it would make it right."""

    text: str
    recordable: str | None = None


def _files(folder: Path) -> Iterable[Path]:
    return (path for path in folder.rglob("*") if path.is_file())


def check(root: Path) -> list[Problem]:
    """Every way Directmail's template-owned files differ from the template other than as recorded."""
    owned, deviations = Owned.read(root), Deviations.read(root)
    with tempfile.TemporaryDirectory(prefix="template-drift-") as scratch:
        drift = Drift(root, render(root, Path(scratch)), owned, deviations, Path(scratch))
        return drift.problems()


def record(root: Path, paths: Sequence[str], why: str | None) -> list[str]:
    """Record each of `paths`' differences from the template as a deliberate deviation; what was done."""
    owned, deviations = Owned.read(root), Deviations.read(root)
    for path in paths:
        if path not in owned:
            raise DriftError(f"{path} is not template-owned ({OWNED}): there is nothing to record")
    with tempfile.TemporaryDirectory(prefix="template-drift-") as scratch:
        drift = Drift(root, render(root, Path(scratch)), owned, deviations, Path(scratch))
        patches = {path: drift.patch(path) for path in paths}
    unexplained = [path for path, patch in patches.items() if patch and why is None and path not in deviations.reasons]
    if unexplained:
        raise DriftError(f"a new deviation needs its reason: {record_command(unexplained)}")
    for path, patch in patches.items():
        deviations.write(path, patch, why)
    return [
        f"{path}: recorded in {RECORDS}/{path}.diff" if patch else f"{path} is the template's: no deviation recorded"
        for path, patch in patches.items()
    ]


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.template_drift", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this one)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="fail where a template-owned file differs other than as recorded")
    recording = commands.add_parser("record", help="record the files' differences from the template as deliberate")
    recording.add_argument("paths", nargs="+", metavar="FILE")
    recording.add_argument("--why", help="the reason, a row of " + REASONS + " (needed for a new deviation)")
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "record":
            paths = [PurePosixPath(path).as_posix() for path in arguments.paths]  # ./Makefile is Makefile
            print("\n".join(record(arguments.root, paths, arguments.why)))
            return 0
        problems = check(arguments.root)
    except DriftError as exc:
        print(f"template-drift: {exc}", file=sys.stderr)
        return 1
    if problems:
        print("\n".join(f"template-drift: {problem.text}" for problem in problems), file=sys.stderr)
        print(advice([problem.recordable for problem in problems if problem.recordable]), file=sys.stderr)
        return 1
    recorded = len(Deviations.read(arguments.root).patches)
    print(
        f"template-drift: Directmail's template-owned files are the template's, but for {recorded} recorded deviations"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
