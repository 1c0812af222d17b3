"""The rules of `reviewflow import tracker`: a board's spreadsheet of reviews and action plans as cases.

Pure code: the service (`engine/services/tracker.py`) reads the mapping file and the spreadsheet
(`engine/services/sheets.py`) and commits the plan; these modules take text and cells.

- `cells`: a sheet's header and rows, and how cells read as text and compare;
- `mapping`: the mapping file parsed from its text and checked against the workflows and the sheet;
- `planning`: rows planned into cases, recommendations and actions, each bad row with its reasons;
- `report`: what an import found and did.
"""

from reviewflow.engine.core.tracker.cells import Sheet, cell_text, norm, sheet_from_rows
from reviewflow.engine.core.tracker.mapping import (
    InvalidMapping,
    Source,
    TrackerMapping,
    Workflows,
    check_columns,
    check_mapping,
    load_mapping,
)
from reviewflow.engine.core.tracker.planning import (
    BadCell,
    PlannedAction,
    PlannedCase,
    PlannedRecommendation,
    Planner,
    Row,
    field_values,
)
from reviewflow.engine.core.tracker.report import RowProblem, TrackerReport

__all__ = [
    "BadCell",
    "InvalidMapping",
    "PlannedAction",
    "PlannedCase",
    "PlannedRecommendation",
    "Planner",
    "Row",
    "RowProblem",
    "Sheet",
    "Source",
    "TrackerMapping",
    "TrackerReport",
    "Workflows",
    "cell_text",
    "check_columns",
    "check_mapping",
    "field_values",
    "load_mapping",
    "norm",
    "sheet_from_rows",
]
