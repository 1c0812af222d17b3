"""The shipped default workflow definitions (YAML files beside this module)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def shipped_files() -> list[Path]:
    """Every shipped definition file, sorted by name."""
    return sorted(HERE.glob("*.yaml"))
