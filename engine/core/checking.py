"""A definition file checked as an administrator sees it: its definition and its warnings, or its errors."""

from __future__ import annotations

from reviewflow.engine.core.cautions import decode_definition
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.errors import Problem
from reviewflow.engine.core.legacy import Catalogue
from reviewflow.engine.core.parse import parse_definition


def check_text(text: str, file: str, known: Catalogue | None = None) -> tuple[WorkflowDefinition, list[Problem]]:
    """The definition in `text` and its warnings; raise InvalidDefinition listing every error. `known`: the other
    workflows its `legacy.replaced_by` and routings are checked against (engine/core/legacy.py)."""
    warnings: list[Problem] = []
    return parse_definition(text, file, warnings=warnings, known=known), warnings


def check_bytes(data: bytes, file: str, known: Catalogue | None = None) -> tuple[WorkflowDefinition, list[Problem]]:
    """`check_text` for a file's bytes: a file that is not UTF-8 is refused naming its first bad line."""
    return check_text(decode_definition(data, file), file, known)
