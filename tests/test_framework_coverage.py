"""The shipped workflows' coverage of the Learning and Improvement Framework, as docs/workflow-format.md states it:
its table under "Shipped workflows" names every source of learning (rows 1 to 14), and every workflow that says
it serves a row (`sources:`) is named there, under that row, linked to its own section."""

from __future__ import annotations

import re
from pathlib import Path

from reviewflow.engine.core.framework import SOURCES
from reviewflow.engine.core.parse import parse_definition

ROOT = Path(__file__).resolve().parent.parent
FORMAT_DOC = ROOT / "docs" / "workflow-format.md"
SHIPPED = sorted((ROOT / "workflows").glob("*.yaml"))


def _shipped_section() -> str:
    text = FORMAT_DOC.read_text("utf-8")
    return text.split("\n## Shipped workflows\n", 1)[1].split("\n## ", 1)[0]


def _table() -> dict[int, str]:
    """The coverage table's rows: row number -> the rest of the line."""
    intro = _shipped_section().split("\n### ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+)$", intro, re.MULTILINE)
    return {int(number): rest for number, rest in rows}


def _anchor(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading (GitHub's rule)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_table_names_every_source_of_learning_once() -> None:
    table = _table()
    assert sorted(table) == list(range(1, 15))
    for source in SOURCES:
        assert table[source.number].startswith(f"{source.name} |"), source


def test_every_workflow_with_sources_is_named_under_each_of_its_rows() -> None:
    table = _table()
    headings = {_anchor(h) for h in re.findall(r"^### (.+)$", _shipped_section(), re.MULTILINE)}
    missing = []
    for path in SHIPPED:
        d = parse_definition(path.read_text("utf-8"), path.name)
        for number in d.sources:
            links = re.findall(rf"\[`{re.escape(d.name)}`\]\(#([^)]+)\)", table.get(number, ""))
            if not links:
                missing.append(f"{d.name} under row {number}")
            missing += [f"{d.name}: link #{link} has no heading" for link in links if link not in headings]
    assert not missing, f"{FORMAT_DOC.name}'s table of sources of learning lacks: {missing}"


def test_rows_served_by_a_report_name_its_command() -> None:
    table = _table()
    for source in SOURCES:
        if source.report:
            assert f"`{source.report}`" in table[source.number]


def test_the_learning_loop_is_described() -> None:
    intro = " ".join(_shipped_section().split("\n### ", 1)[0].split())
    for stage in ("identification of learning", "actions for improvement", "dissemination of learning",
                  "evaluation of practice and learning"):
        assert f"**{stage}**" in intro
