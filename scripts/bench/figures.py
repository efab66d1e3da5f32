"""`make bench`'s one table: each figure beside its reference, measured in the same run, and their ratio.

The table is printed, written to `var/bench/latest.json` (with the machine and commit it was measured on)
and `var/bench/latest.md`, and copied into the README between its bench markers.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

README_MARKERS = ("<!-- bench:start -->", "<!-- bench:end -->")


@dataclass(frozen=True)
class Figure:
    name: str  # e.g. "full export, br: rows/s"
    value: float  # ours
    reference: float  # the reference's, measured in the same run
    reference_name: str  # e.g. "psql \\copy", "FastAPI"
    unit: str
    higher_is_better: bool
    target: str = ""  # e.g. "ratio >= 0.95", "< 10 ms"

    @property
    def ratio(self) -> float:
        return self.value / self.reference if self.reference else float("nan")


def printed(figures: list[Figure]) -> str:
    width = max(len(figure.name) for figure in figures)
    lines = [f"{'':<{width}}  {'ours':>12}  {'reference':>12}  {'unit':<7}{'':<16}{'ratio':>7}  target"]
    for figure in figures:
        lines.append(
            f"{figure.name:<{width}}  {figure.value:>12,.1f}  {figure.reference:>12,.1f}  {figure.unit:<7}"
            f"{figure.reference_name[:16]:<16}{figure.ratio:>7.2f}  {figure.target}"
        )
    return "\n".join(lines)


def markdown(figures: list[Figure]) -> str:
    rows = ["| figure | ours | reference | unit | ratio | target |", "|---|---|---|---|---|---|"]
    for figure in figures:
        rows.append(
            f"| {figure.name} | {figure.value:,.1f} | {figure.reference:,.1f} ({_escaped(figure.reference_name)}) "
            f"| {figure.unit} | {figure.ratio:.2f} | {figure.target} |"
        )
    return "\n".join(rows)


def write(figures: list[Figure], folder: Path, postgresql: str, details: dict[str, Any]) -> None:
    """The table as JSON and Markdown under `folder`, with what it was measured on."""
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "measured": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine() | {"postgresql": postgresql},
        "figures": [asdict(figure) | {"ratio": figure.ratio} for figure in figures],
        **details,
    }
    (folder / "latest.json").write_text(json.dumps(record, indent=2) + "\n")
    (folder / "latest.md").write_text(markdown(figures) + "\n")


def update_readme(readme: Path, table: str) -> None:
    start, end = README_MARKERS
    text = readme.read_text()
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise RuntimeError(f"{readme} has no {start} ... {end} block for the table")
    readme.write_text(pattern.sub(lambda _: f"{start}\n{table}\n{end}", text))


def _machine() -> dict[str, Any]:
    # "-dirty" when the figures were measured on changes not yet committed.
    describe = ["git", "describe", "--always", "--dirty"]
    commit = subprocess.run(describe, capture_output=True, text=True).stdout.strip()
    return {"cores": os.cpu_count(), "python": platform.python_version(), "commit": commit}


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")
