"""Everything out and back in: the JSON dump of every table, read and written as files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import structlog

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.services.accounts import AccountService
from reviewflow.engine.services.context import ServiceContext
from reviewflow.store import dump, importing

log = structlog.get_logger("reviewflow.dump")


@dataclass(frozen=True)
class ImportResult:
    counts: dict[str, int]
    replaced_definitions: int
    exported_at: str
    reviewflow_version: str
    dry_run: bool


class _RollBack(Exception):
    """Ends a dry run's transaction after every insert was checked by the database."""


def export_dump(ctx: ServiceContext, accounts: AccountService,
                by: Identity | None = None) -> tuple[str, dict[str, int]]:
    """Every row of every table as dump text (read in one transaction), and the row count of each table.

    Everything, sensitive fields included: administrators only; the export is sealed in the audit chain first."""
    who = accounts.require_admin(by, "exporting everything")
    with ctx.transaction() as s:
        accounts.audit(s, who, "dump.export", ctx.db.shown, {})
    with ctx.read() as s:
        text, counts = dump.dump_text(s, ctx.clock())
    log.info("dump.exported", tables=len(counts), rows=sum(counts.values()))
    return text, counts


def import_dump(ctx: ServiceContext, accounts: AccountService, text: str, source: str, dry_run: bool = False,
                by: Identity | None = None) -> ImportResult:
    """Load a dump into an empty, initialised database in one transaction, keeping every id. The dump's users,
    definitions and administration log replace those `init` made; the import is sealed on top of them."""
    who = accounts.require_admin(by, "importing a dump")
    header, rows = dump.read_dump(text, source)
    ctx.ensure_ready()
    counts = {t.name: len(rows.get(t.name, [])) for t in importing.tables()}
    result = ImportResult(counts, 0, str(header.get("exported_at")), str(header.get("reviewflow_version")), dry_run)
    try:
        with ctx.transaction() as s:
            replaced = dump.load_rows(s, rows, ctx.db.shown)
            result = ImportResult(counts, replaced, result.exported_at, result.reviewflow_version, dry_run)
            accounts.audit(s, who, "dump.import", source, {"exported_at": result.exported_at,
                                                           "rows": sum(counts.values())})
            if dry_run:
                raise _RollBack
    except _RollBack:
        pass
    log.info("dump.imported", tables=len(counts), rows=sum(counts.values()), dry_run=dry_run)
    return result


def write_file(path: Path, text: str) -> None:
    """Write the dump next to its final name, then rename: a reader never sees half a dump."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, "utf-8")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InvalidValue(f"cannot write {path}: {exc.strerror or exc}", value=str(path)) from None


def read_file(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except OSError as exc:
        raise InvalidValue(f"cannot read {path}: {exc.strerror or exc}", value=str(path)) from None
    except UnicodeDecodeError:
        raise InvalidValue(f"{path} is not a reviewflow dump: it is not UTF-8 text", value=str(path)) from None
