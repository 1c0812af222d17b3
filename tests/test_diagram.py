"""`reviewflow workflow diagram` through the real CLI: Mermaid, DOT drawn by real Graphviz, SVG, a case's path."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reviewflow.cli import cli
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.render.diagram import NOW, condition_text, is_stage_move, mermaid_text, to_dot, to_mermaid

from tests.databases import Templates
from tests.test_cli import Cli, _fire

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "workflows").glob("*.yaml"))
DIAGRAMS_DOC = ROOT / "docs" / "diagrams.md"
REF = "SCR-2026-040"
PEOPLE = {"la.duty": "la_notifier", "a.khan": "business_manager", "d.osei": "subgroup_chair", "p.hughes": "board_chair"}
REQUIRE_GRAPHVIZ = os.environ.get("REVIEWFLOW_REQUIRE_GRAPHVIZ") == "1"


def _dot_program() -> str:
    """Graphviz's `dot`; skips when it is missing (fails instead under REVIEWFLOW_REQUIRE_GRAPHVIZ=1)."""
    found = shutil.which("dot")
    if found is None:
        message = "Graphviz's dot is not on PATH (apt-get install graphviz)"
        if REQUIRE_GRAPHVIZ:
            pytest.fail(f"{message}; REVIEWFLOW_REQUIRE_GRAPHVIZ=1")
        pytest.skip(message)
    return found


def _graphviz_reads(dot: str) -> str:
    """Draw `dot` text with real Graphviz; return the SVG, failing on any error or warning."""
    done = subprocess.run([_dot_program(), "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A SQLite file with the shipped workflows loaded and nothing else (shared by the read-only tests)."""
    run = Cli(f"sqlite:///{tmp_path_factory.mktemp('diagram') / 'reviewflow.db'}")
    run("init", now="2026-01-05")
    return run


def _init_with_people(url: str) -> None:
    c = Cli(url)
    c("init", now="2026-01-05")
    for name, role in PEOPLE.items():
        c("user", "add", name, "--role", role)


@pytest.fixture
def run(tmp_path: Path, templates: Templates) -> Cli:
    """`init` on 5 January 2026 and PEOPLE added (a copy of a database built so once per process)."""
    url = f"sqlite:///{tmp_path / 'reviewflow.db'}"
    templates.copy(url, "test_diagram: init on 2026-01-05, PEOPLE added", _init_with_people)
    return Cli(url)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_state_and_trigger_appears_in_mermaid_and_dot(shipped: Cli, path: Path) -> None:
    d = parse_definition(path.read_text("utf-8"), str(path))
    mermaid = shipped("workflow", "diagram", d.name).output
    dot = shipped("workflow", "diagram", d.name, "--format", "dot").output
    assert mermaid.startswith(f'---\ntitle: "{d.title} ({d.name} v{d.version})"\n---\nflowchart TD\n')
    assert f"start --> s_{d.initial}\n" in mermaid
    assert f'"start" -> "s_{d.initial}";' in dot
    for name, s in d.states.items():
        limit = f"<br/>limit {s.time_limit}" if s.time_limit else ""
        if s.terminal:
            assert f'    s_{name}((("{mermaid_text(s.label)}<br/>end")))' in mermaid  # double circle
            assert f'"s_{name}" [label="{s.label}\\nend", peripheries=2];' in dot  # double border
        else:
            assert f'    s_{name}("{mermaid_text(s.label)}{limit}")' in mermaid
            assert f'"s_{name}" [label="{s.label}{limit.replace("<br/>", chr(92) + "n")}"];' in dot
    for t in d.transitions:
        assert f'|"{t.trigger}<br/>roles: ' in mermaid
        assert f'label="{t.trigger}\\nroles: ' in dot
        for c in t.when:
            shown = c.name if c.name != "expression" else condition_text(c)  # long expressions are shortened
            assert mermaid_text(shown) in mermaid.replace("<br/>", " ")
            assert shown.replace('"', '\\"') in dot.replace("\\n", " ")
    assert "==>" not in mermaid  # no case, no path


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_graphviz_draws_the_dot_of_every_shipped_workflow(path: Path) -> None:
    d = parse_definition(path.read_text("utf-8"), str(path))
    svg = _graphviz_reads(to_dot(d))
    for s in d.states.values():
        assert html.unescape(svg).count(f">{s.label}<") == 1


def test_svg_is_drawn_by_graphviz(shipped: Cli, tmp_path: Path) -> None:
    _dot_program()
    out = tmp_path / "scr.svg"
    result = shipped("workflow", "diagram", "serious_case_review", "--format", "svg", "--out", str(out))
    assert result.stdout == ""
    assert result.stderr == f"diagram written to {out}\n"
    svg = out.read_text("utf-8")
    assert svg.startswith("<?xml")
    assert "<svg" in svg
    assert ">Evidence of embedding<" in svg
    assert ">withdraw<" in svg


def test_svg_without_graphviz_says_how_to_install_it(shipped: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result = shipped.runner.invoke(
        cli, ["--db", shipped.url, "workflow", "diagram", "serious_case_review", "--format", "svg"],
        env={"PATH": str(empty), "REVIEWFLOW_NOW": None})
    assert result.exit_code == 1
    assert result.stderr == ("Error: --format svg needs Graphviz's `dot` program, which is not on PATH: install it "
                             "(apt-get install graphviz, or brew install graphviz) or use --format mermaid\n")
    # The same diagram as Mermaid needs nothing installed.
    mermaid = shipped.runner.invoke(cli, ["--db", shipped.url, "workflow", "diagram", "serious_case_review"],
                                    env={"PATH": str(empty)})
    assert mermaid.exit_code == 0
    assert mermaid.output.startswith("---\ntitle: ")


def _walk(run: Cli) -> None:
    """An SCR that went to the National Panel and back: steps 1-5, a pause and a recommendation between."""
    run("case", "open", "serious_case_review", "--legacy", "--ref", REF, "--as", "la.duty",
        "--field", "notifying_agency=Police",
        "--field", "incident_date=2026-01-02", "--field", "incident_type=child_died", now="2026-01-05T10:00")
    _fire(run, REF, "notify", "la.duty", "2026-01-07", notification_date="2026-01-07")
    run("case", "pause", REF, "--reason", "inquest", "--as", "a.khan", now="2026-01-08")
    run("case", "resume", REF, "--as", "a.khan", now="2026-01-09")
    _fire(run, REF, "recommend", "d.osei", "2026-01-16", subgroup_recommendation="hold_scr", subgroup_rationale="r")
    _fire(run, REF, "decide_not_to_hold", "p.hughes", "2026-01-20", criteria_met="no", decision_rationale="r",
          decision_date="2026-01-20")
    # The learning loop's `recommend` (a record within a stage) is not the workflow's `recommend` trigger.
    run("case", "recommend", REF, "--text", "Share concerns early", "--as", "a.khan", now="2026-01-21")
    _fire(run, REF, "reconsider", "p.hughes", "2026-01-22", reconsideration_reason="the Panel challenged it")
    _fire(run, REF, "hold_scr", "p.hughes", "2026-01-26", criteria_met="yes", decision_rationale="r",
          decision_date="2026-01-26")


def test_case_marks_its_current_state_and_numbers_its_path(run: Cli) -> None:
    _walk(run)
    mermaid = run("workflow", "diagram", "serious_case_review", "--case", REF).output
    assert f'    s_commissioning("{NOW}<br/>Commissioning<br/>limit 20 working days")' in mermaid
    assert "    class s_commissioning current\n" in mermaid
    taken = re.findall(r"^    (\S+) ==>\|\"(step[^<]*)<br/>(\w+)<br/>", mermaid, re.MULTILINE)
    assert taken == [
        ("s_notification", "step 1", "notify"),
        ("s_subgroup_consideration", "step 2", "recommend"),
        ("s_threshold_decision", "step 5", "hold_scr"),
        ("s_threshold_decision", "step 3", "decide_not_to_hold"),
        ("s_panel_informed", "step 4", "reconsider"),
    ]
    assert "    start ==> s_notification\n" in mermaid
    assert '    s_panel_informed -->|"route<br/>' in mermaid  # not taken: a plain edge
    assert mermaid.count(NOW) == 1
    visited = re.search(r"^    class (\S+) visited$", mermaid, re.MULTILINE)
    assert visited is not None
    assert set(visited.group(1).split(",")) == {"s_notification", "s_subgroup_consideration",
                                                 "s_threshold_decision", "s_panel_informed"}

    dot = run("workflow", "diagram", "serious_case_review", "--case", REF, "--format", "dot").output
    assert (f'"s_commissioning" [label="{NOW}\\nCommissioning\\nlimit 20 working days", style="rounded,filled,bold", '
            'fillcolor="#fde68a", penwidth=4];') in dot
    assert ('"s_panel_informed" -> "s_threshold_decision" [label="step 4\\nreconsider\\nroles: board_chair", '
            'style=bold, penwidth=3];') in dot
    assert '"s_panel_informed" -> "s_routed" [label="route' in dot
    assert dot.count("style=bold, penwidth=3") == 6  # five steps and the start
    _graphviz_reads(dot)


def test_a_paused_case_and_a_closed_case_say_so(run: Cli) -> None:
    _walk(run)
    run("case", "pause", REF, "--reason", "criminal proceedings", "--as", "a.khan", now="2026-01-27")
    assert f"{NOW} (clock paused)<br/>Commissioning" in run("workflow", "diagram", "serious_case_review",
                                                            "--case", REF).output
    _fire(run, REF, "withdraw", "a.khan", "2026-01-28", withdrawal_reason="folded into another review")
    mermaid = run("workflow", "diagram", "serious_case_review", "--case", REF).output
    assert f'    s_withdrawn((("{NOW}<br/>Withdrawn<br/>end")))' in mermaid
    assert "    s_commissioning ===|\"step 6\"| j19\n" in mermaid
    assert '    j19 ==>|"withdraw<br/>' in mermaid


def test_a_case_of_another_workflow_or_version_is_refused(run: Cli) -> None:
    _walk(run)
    assert run.refused("workflow", "diagram", "multi_agency_review", "--case", REF) == (
        f"Error: case {REF} is a serious_case_review case: run "
        f"'reviewflow workflow diagram serious_case_review --case {REF}'")
    assert run.refused("workflow", "diagram", "serious_case_review", "--case", REF, "--version", "1") == (
        f"Error: case {REF} is on version 4 of serious_case_review: leave out --version or give --version 4")
    assert "SCR-9" in run.refused("workflow", "diagram", "serious_case_review", "--case", "SCR-9", status=3)
    assert "no_such" in run.refused("workflow", "diagram", "no_such", status=3)



def test_a_case_alone_draws_the_workflow_it_follows(run: Cli) -> None:
    _walk(run)
    assert run("workflow", "diagram", "--case", REF).output == run("workflow", "diagram", "serious_case_review",
                                                                   "--case", REF).output
    assert run.refused("workflow", "diagram", status=2).endswith(
        "Error: give a workflow NAME, or --case REF to draw the workflow that case follows")


HOSTILE = """\
name: hostile
title: 'Tricky "quoted" title | [x] & {y}'
version: 1
roles:
  business_manager: Safeguarding business manager
  subgroup_chair: Sub-group chair
open:
  roles: [business_manager]
initial: end
states:
  end:
    label: 'End? "No" <script>alert(1)</script> | [x] {y} (z) #35; `tick` \\ back'
    time_limit: 5 working days
  on:
    label: "Two\\nlines; semi -->|pipe| --> B"
    time_limit: 1 month
  closed:
    label: 'Closed ]]] ))) \"\"\"'
    terminal: true
transitions:
  - trigger: accept
    from: end
    to: on
    roles: [subgroup_chair]
    when: "fields.decision == \\"yes\\" && days_in_stage > 2 && state != 'x|y<z>'"
    requires:
      decision: {type: choice, options: ["yes", "no"]}
  - trigger: close
    from: on
    to: closed
    roles: [subgroup_chair, business_manager]
"""


def test_labels_are_escaped_for_both_syntaxes(shipped: Cli, tmp_path: Path) -> None:
    source = tmp_path / "hostile.yaml"
    source.write_text(HOSTILE, "utf-8")
    shipped("workflow", "load", str(source))
    mermaid = shipped("workflow", "diagram", "hostile").output
    body = mermaid.split("flowchart TD\n", 1)[1]
    # Inside Mermaid labels only the delimiting quotes remain; everything risky is an entity code.
    for line in body.splitlines():
        inner = re.findall(r'"(.*?)"', line)
        assert all(not re.search(r"[<>\"`|\[\]{}#;\\]", re.sub(r"#\d+;|<br/>", "", text)) for text in inner), line
    assert ('    s_end("End#63; #34;No#34; #60;script#62;alert(1)#60;/script#62; #124; #91;x#93; #123;y#125; (z) '
            "#35;35#59; #96;tick#96; #92; back<br/>limit 5 working days\")") in mermaid
    assert '    s_on("Two lines#59; semi --#62;#124;pipe#124; --#62; B<br/>limit 1 month")' in mermaid
    assert "when: fields.decision == #34;yes#34; #38;#38; days_in_sta…" in mermaid  # long expressions shortened
    dot = shipped("workflow", "diagram", "hostile", "--format", "dot").output
    assert '"s_end" [label="End? \\"No\\" <script>alert(1)</script> | [x] {y} (z) #35; `tick` \\\\ back' in dot
    svg = _graphviz_reads(dot)
    assert "<script" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "Two lines; semi &#45;&#45;&gt;|pipe| &#45;&#45;&gt; B" in svg


def test_the_learning_loops_recommend_is_not_a_stage_move() -> None:
    d = parse_definition((ROOT / "workflows" / "serious_case_review.yaml").read_text("utf-8"), "scr")
    assert is_stage_move(d, "subgroup_consideration", "recommend", "threshold_decision")
    assert not is_stage_move(d, "commissioning", "recommend", "commissioning")
    assert not is_stage_move(d, "commissioning", "pause", "commissioning")
    assert is_stage_move(d, None, "open", "notification")


def _doc_blocks() -> dict[str, str]:
    text = DIAGRAMS_DOC.read_text("utf-8")
    return dict(re.findall(r"^### `(\w+)` — [^\n]*\n\n```mermaid\n(.*?)^```$", text, re.MULTILINE | re.DOTALL))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_the_docs_show_each_shipped_workflow_as_the_code_draws_it(path: Path) -> None:
    d = parse_definition(path.read_text("utf-8"), str(path))
    blocks = _doc_blocks()
    assert d.name in blocks, f"docs/diagrams.md has no section ### `{d.name}` with a ```mermaid block"
    assert blocks[d.name] == to_mermaid(d), (
        f"docs/diagrams.md is out of date for {d.name}: replace its block with the output of "
        f"'reviewflow workflow diagram {d.name}'")


def test_the_diagrams_page_is_linked() -> None:
    assert "](docs/diagrams.md)" in (ROOT / "README.md").read_text("utf-8")
    section = (ROOT / "docs" / "workflow-format.md").read_text("utf-8").split("## Shipped workflows", 1)[1]
    assert "](diagrams.md#the-shipped-workflows)" in section.split("\n### ", 1)[0]
