"""A workflow definition made ready for its page: its stages with their time limits, its moves with who may make
them, what they need and the conditions that guard them, and its escalation ladders; and its diagram, drawn as
SVG by Graphviz when `dot` is installed, else given as Mermaid text."""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections import OrderedDict
from dataclasses import dataclass

from reviewflow.engine.core.definition import EscalationLevel, WorkflowDefinition
from reviewflow.engine.core.errors import ReviewflowError
from reviewflow.engine.render.diagram import condition_text, to_dot, to_mermaid
from reviewflow.engine.render.graphviz import svg

SVG_CACHE_SIZE = 64
"""Diagrams kept drawn: a definition version never changes, so neither does its drawing."""
_SVG_CACHE: OrderedDict[str, bytes] = OrderedDict()
_SVG_LOCK = threading.Lock()


@dataclass(frozen=True)
class StageView:
    name: str
    label: str
    description: str
    time_limit: str
    remind: str
    owner: str
    requires: tuple[str, ...]
    initial: bool
    terminal: bool


@dataclass(frozen=True)
class MoveView:
    trigger: str
    label: str
    sources: tuple[str, ...]
    dest: str
    roles: tuple[str, ...]
    fields: tuple[str, ...]
    guards: tuple[str, ...]


@dataclass(frozen=True)
class RungView:
    step: int
    after: str
    notify: tuple[str, ...]
    label: str


@dataclass(frozen=True)
class WorkflowView:
    name: str
    title: str
    version: int
    description: str
    calendar: str
    opened_by: tuple[str, ...]
    open_fields: tuple[str, ...]
    pause_roles: tuple[str, ...]
    roles: tuple[tuple[str, str], ...]
    stages: tuple[StageView, ...]
    moves: tuple[MoveView, ...]
    ladder: tuple[RungView, ...]
    learning_ladder: tuple[RungView, ...]
    schedule: str


def _ladder(levels: tuple[EscalationLevel, ...] | None) -> tuple[RungView, ...]:
    return tuple(RungView(i, str(level.after), level.notify, level.label)
                 for i, level in enumerate(levels or (), start=1))


def workflow_view(d: WorkflowDefinition) -> WorkflowView:
    """Everything a person needs to know about how a review type runs, in the order they read it."""
    stages = tuple(StageView(s.name, s.label, s.description, str(s.time_limit) if s.time_limit else "",
                             str(s.remind or (d.remind if s.time_limit else None) or ""), s.owner or "", s.requires,
                             s.name == d.initial, s.terminal) for s in d.states.values())
    moves = tuple(MoveView(t.trigger, t.label, t.sources, t.dest, t.roles, tuple(f.describe() for f in t.requires),
                           tuple(condition_text(c) for c in t.when)) for t in d.transitions)
    return WorkflowView(d.name, d.title, d.version, d.description, d.calendar, d.open.roles,
                        tuple(f.describe() for f in d.open.requires), d.pause_roles, tuple(d.roles.items()), stages,
                        moves, _ladder(d.escalation), _ladder(d.learning_escalation),
                        d.schedule.describe() if d.schedule else "")


def can_draw() -> bool:
    """Whether Graphviz's `dot` is installed to draw diagrams as SVG."""
    return shutil.which("dot") is not None


def mermaid(d: WorkflowDefinition) -> str:
    """The diagram as Mermaid text, for when Graphviz is not installed (shown as text, never run)."""
    return to_mermaid(d)


def diagram_svg(d: WorkflowDefinition) -> bytes:
    """The diagram drawn by Graphviz (refused with advice when `dot` is missing or fails), checked to be an SVG
    document before it is served."""
    dot = to_dot(d)
    key = hashlib.sha256(dot.encode("utf-8")).hexdigest()
    with _SVG_LOCK:
        found = _SVG_CACHE.get(key)
    if found is not None:
        return found
    text = svg(dot)
    start = text.lstrip()
    if not start.startswith(("<?xml", "<svg", "<!DOCTYPE svg")) or "<svg" not in text or "<script" in text:
        raise ReviewflowError(f"Graphviz's dot did not draw workflow {d.name} as an SVG document: "
                              "see its Mermaid text with 'reviewflow workflow diagram'")
    found = text.encode("utf-8")
    with _SVG_LOCK:
        _SVG_CACHE[key] = found
        while len(_SVG_CACHE) > SVG_CACHE_SIZE:
            _SVG_CACHE.popitem(last=False)
    return found
