"""A workflow's state machine as a diagram: Mermaid or Graphviz DOT text. Pure: no I/O.

States show their label and time limit; the initial state is reached from a `start` node; terminal
states have a double border. Edges carry the trigger, the roles that may fire it and its `when`
conditions. A trigger leaving three or more states meets at a small junction first, so its label
is drawn once. With a case's path, the states it passed through are drawn bold, the current one is
marked `▶ NOW`, and the moves it took are bold edges numbered in order: all readable without colour.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from reviewflow.engine.core.definition import EXPRESSION, Condition, TransitionDef, WorkflowDefinition

LEARNING_EVENTS = frozenset({
    "pause", "resume", "recommend", "action_add", "action_update", "evidence_submit", "evidence_accept",
    "evidence_reject", "action_verify", "action_evaluate", "disseminate"})
"""History triggers of events within a stage (the clock, the learning loop): never stage moves."""

JUNCTION_FROM = 3
"""A trigger leaving this many states or more is drawn through one junction."""
_EXPRESSION_WIDTH = 40
_LINE_WIDTH = 36
NOW = "▶ NOW"


class HistoryLike(Protocol):
    """A row of a case's history, as far as its path needs it (read-only, so frozen records fit)."""

    @property
    def from_state(self) -> str | None: ...
    @property
    def trigger(self) -> str: ...
    @property
    def to_state(self) -> str: ...


def is_stage_move(d: WorkflowDefinition, from_state: str | None, trigger: str, to_state: str) -> bool:
    """True for the opening row and for a transition of the definition (not a pause or a learning record)."""
    if from_state is None:
        return True
    t = d.transition(from_state, trigger)
    if t is None or t.dest != to_state:
        return False
    return not (trigger in LEARNING_EVENTS and from_state == to_state)


@dataclass(frozen=True)
class Step:
    number: int
    source: str
    trigger: str
    dest: str


@dataclass(frozen=True)
class CasePath:
    """Where one case has been: its numbered stage moves and where it is now."""

    ref: str
    current: str
    steps: tuple[Step, ...] = ()
    is_open: bool = True
    paused: bool = False

    @property
    def visited(self) -> set[str]:
        return {self.current, *(s.source for s in self.steps), *(s.dest for s in self.steps)}

    def numbers(self, source: str, trigger: str, dest: str) -> tuple[int, ...]:
        return tuple(s.number for s in self.steps if (s.source, s.trigger, s.dest) == (source, trigger, dest))


def case_path(d: WorkflowDefinition, ref: str, current: str, history: Iterable[HistoryLike],
              is_open: bool = True, paused: bool = False) -> CasePath:
    """The stage moves in a case's history, numbered from 1 (opening the case is not a step)."""
    steps: list[Step] = []
    for h in history:
        if h.from_state is not None and is_stage_move(d, h.from_state, h.trigger, h.to_state):
            steps.append(Step(len(steps) + 1, h.from_state, h.trigger, h.to_state))
    return CasePath(ref, current, tuple(steps), is_open, paused)


# --- the neutral graph both syntaxes are written from ---------------------------------------------

@dataclass(frozen=True)
class Node:
    id: str
    lines: tuple[str, ...]
    kind: str  # "start", "state", "terminal" or "junction"
    current: bool = False
    visited: bool = False


@dataclass(frozen=True)
class Edge:
    source: str
    dest: str
    lines: tuple[str, ...] = ()
    arrow: bool = True
    taken: bool = False


@dataclass
class Graph:
    title: str
    name: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    highlighted: bool = False


def flat(text: Any) -> str:
    """One line of plain text: every run of whitespace (newlines included) becomes one space."""
    return " ".join(str(text).split())


def shorten(text: str, width: int) -> str:
    text = flat(text)
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def condition_text(c: Condition) -> str:
    """A `when` condition as shown on an edge: a built-in's name (and argument) or the expression text."""
    if c.name == EXPRESSION:
        return shorten(str(c.argument), _EXPRESSION_WIDTH)
    if c.argument is None:
        return c.name
    arg = ", ".join(map(str, c.argument)) if isinstance(c.argument, list | tuple) else str(c.argument)
    return shorten(f"{c.name}({arg})", _EXPRESSION_WIDTH)


def _wrapped(prefix: str, items: Iterable[str]) -> list[str]:
    """'roles: a, b, c' broken into lines of about _LINE_WIDTH characters, at the commas."""
    lines: list[str] = []
    current = prefix
    for i, item in enumerate(items):
        piece = item if i == 0 else f", {item}"
        if i and len(current) + len(piece) > _LINE_WIDTH:
            lines.append(current + ",")
            current = "  " + item
        else:
            current += piece
    return [*lines, current]


def transition_lines(t: TransitionDef) -> list[str]:
    lines = [t.trigger, *_wrapped("roles: ", t.roles)]
    if t.when:
        lines.extend(_wrapped("when: ", [condition_text(c) for c in t.when]))
    return lines


def _steps_line(numbers: tuple[int, ...]) -> list[str]:
    if not numbers:
        return []
    return [f"step {numbers[0]}" if len(numbers) == 1 else f"steps {', '.join(map(str, numbers))}"]


def _state_id(index: int, name: str) -> str:
    return f"s_{name}" if re.fullmatch(r"[a-z0-9_]{1,63}", name) else f"s{index}"


def build_graph(d: WorkflowDefinition, path: CasePath | None = None) -> Graph:
    """The diagram's nodes and edges, in definition order."""
    graph = Graph(f"{flat(d.title)} ({d.name} v{d.version})", d.name, highlighted=path is not None)
    ids = {name: _state_id(i, name) for i, name in enumerate(d.states)}
    visited = path.visited if path else set()
    graph.nodes.append(Node("start", ("start",), "start"))
    for name, s in d.states.items():
        lines = [flat(s.label)]
        if s.time_limit:
            lines.append(f"limit {s.time_limit}")
        if s.terminal:
            lines.append("end")
        current = path is not None and path.current == name
        if current:
            lines.insert(0, NOW + (" (clock paused)" if path and path.paused else ""))
        graph.nodes.append(Node(ids[name], tuple(lines), "terminal" if s.terminal else "state", current,
                                name in visited))
    graph.edges.append(Edge("start", ids[d.initial], taken=path is not None))
    for index, t in enumerate(d.transitions, start=1):
        _add_transition(graph, ids, index, t, path)
    return graph


def _add_transition(graph: Graph, ids: dict[str, str], index: int, t: TransitionDef, path: CasePath | None) -> None:
    label = transition_lines(t)
    numbers = {s: path.numbers(s, t.trigger, t.dest) if path else () for s in t.sources}
    if len(t.sources) < JUNCTION_FROM:
        for s in t.sources:
            graph.edges.append(Edge(ids[s], ids[t.dest], (*_steps_line(numbers[s]), *label),
                                    taken=bool(numbers[s])))
        return
    junction = f"j{index}"
    graph.nodes.append(Node(junction, (), "junction"))
    for s in t.sources:
        graph.edges.append(Edge(ids[s], junction, tuple(_steps_line(numbers[s])), arrow=False, taken=bool(numbers[s])))
    graph.edges.append(Edge(junction, ids[t.dest], tuple(label), taken=any(numbers.values())))


# --- Mermaid ---------------------------------------------------------------------------------------

_MERMAID_PLAIN = re.compile(r"[A-Za-z0-9 ,.:_()/=+'-]")


def mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label: other ASCII punctuation becomes an entity code (#35;)."""
    out = []
    for ch in flat(text):
        if _MERMAID_PLAIN.fullmatch(ch) or (ord(ch) > 127 and ch.isprintable()):
            out.append(ch)
        elif ch.isprintable():
            out.append(f"#{ord(ch)};")
    return "".join(out)


def _mermaid_label(lines: Iterable[str]) -> str:
    return '"' + ("<br/>".join(mermaid_text(line) for line in lines) or " ") + '"'


_MERMAID_SHAPES = {"start": ("((", "))"), "state": ("(", ")"), "terminal": ("(((", ")))"), "junction": ("((", "))")}
_MERMAID_STYLES = {
    "terminal": "stroke-width:3px",
    "junction": "fill:#888,stroke:#888",
    "visited": "stroke-width:3px",
    "current": "fill:#fde68a,stroke:#000,stroke-width:5px,font-weight:bold",
}


def to_mermaid(d: WorkflowDefinition, path: CasePath | None = None) -> str:
    """The workflow as a Mermaid flowchart (renders on GitHub and in most Markdown viewers)."""
    graph = build_graph(d, path)
    out = ["---", f"title: {json.dumps(graph.title, ensure_ascii=False)}", "---", "flowchart TD"]
    classes: dict[str, list[str]] = {}
    for n in graph.nodes:
        opening, closing = _MERMAID_SHAPES[n.kind]
        out.append(f"    {n.id}{opening}{_mermaid_label(n.lines)}{closing}")
        for cls in ("terminal" if n.kind == "terminal" else "", "junction" if n.kind == "junction" else "",
                    "visited" if n.visited and not n.current else "", "current" if n.current else ""):
            if cls:
                classes.setdefault(cls, []).append(n.id)
    for e in graph.edges:
        link = ("==>" if e.arrow else "===") if e.taken else ("-->" if e.arrow else "---")
        label = f"|{_mermaid_label(e.lines)}|" if e.lines else ""
        out.append(f"    {e.source} {link}{label} {e.dest}")
    for cls, members in classes.items():
        out.append(f"    classDef {cls} {_MERMAID_STYLES[cls]}")
        out.append(f"    class {','.join(members)} {cls}")
    return "\n".join(out) + "\n"


# --- Graphviz DOT ----------------------------------------------------------------------------------

def dot_text(text: str) -> str:
    """Text safe inside a quoted DOT string (backslashes and quotes escaped, one line)."""
    return "".join(ch for ch in flat(text) if ch.isprintable()).replace("\\", "\\\\").replace('"', '\\"')


def _dot_label(lines: Iterable[str]) -> str:
    return '"' + "\\n".join(dot_text(line) for line in lines) + '"'


def _dot_node(n: Node) -> str:
    attrs = [f"label={_dot_label(n.lines)}"]
    if n.kind == "start":
        attrs += ["shape=circle", "width=0.6", "fixedsize=true", "fontsize=9"]
    elif n.kind == "junction":
        attrs = ["shape=point", "width=0.1", 'label=""']
    elif n.kind == "terminal":
        attrs.append("peripheries=2")
    if n.current:
        attrs += ['style="rounded,filled,bold"', 'fillcolor="#fde68a"', "penwidth=4"]
    elif n.visited:
        attrs += ['style="rounded,bold"', "penwidth=2.5"]
    return f'  "{n.id}" [{", ".join(attrs)}];'


def _dot_edge(e: Edge, highlighted: bool) -> str:
    attrs = [f"label={_dot_label(e.lines)}"] if e.lines else []
    if not e.arrow:
        attrs.append("arrowhead=none")
    if e.taken:
        attrs += ["style=bold", "penwidth=3"]
    elif highlighted:
        attrs += ['color="#777777"', 'fontcolor="#555555"']
    suffix = f" [{', '.join(attrs)}]" if attrs else ""
    return f'  "{e.source}" -> "{e.dest}"{suffix};'


def to_dot(d: WorkflowDefinition, path: CasePath | None = None) -> str:
    """The workflow as a Graphviz digraph (draw it with `dot -Tsvg`)."""
    graph = build_graph(d, path)
    out = [
        f'digraph "{dot_text(graph.name)}" {{',
        f'  graph [label={_dot_label([graph.title])}, labelloc=t, fontname="Helvetica", fontsize=14];',
        '  node [shape=box, style=rounded, fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    out.extend(_dot_node(n) for n in graph.nodes)
    out.extend(_dot_edge(e, graph.highlighted) for e in graph.edges)
    out.append("}")
    return "\n".join(out) + "\n"
