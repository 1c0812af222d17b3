"""The shipped default workflow definitions (YAML files beside this module)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from reviewflow.engine.core.errors import ReviewflowError
from reviewflow.engine.core.legacy import Legacy, catalogue_entry
from reviewflow.engine.core.yamlsource import load_yaml

HERE = Path(__file__).resolve().parent


def shipped_files() -> list[Path]:
    """Every shipped definition file, sorted by name."""
    return sorted(HERE.glob("*.yaml"))


def shipped_themes_file() -> Path:
    """The learning themes a partnership starts with (not a workflow: kept in a folder of its own)."""
    return HERE / "themes" / "learning_themes.yaml"


def catalogue_of(paths: list[Path]) -> dict[str, Legacy | None]:
    """Each readable definition file's workflow name and its `legacy:` (None for a current review type)."""
    found: dict[str, Legacy | None] = {}
    for path in paths:
        try:
            data, _ = load_yaml(path.read_text("utf-8"), str(path), stored=True)
        except (OSError, UnicodeDecodeError, ReviewflowError):
            continue
        entry = catalogue_entry(data)
        if entry is not None:
            found[entry[0]] = entry[1]
    return found


@lru_cache(maxsize=1)
def shipped_catalogue() -> dict[str, Legacy | None]:
    """The shipped workflows by name, each with its `legacy:` (engine/core/legacy.py)."""
    return catalogue_of(shipped_files())
