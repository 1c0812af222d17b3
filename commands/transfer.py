"""`reviewflow export`, `reviewflow import dump` and `reviewflow import tracker`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reviewflow.cli import acting, as_option, echo_json, echo_lines, json_option, service

if TYPE_CHECKING:
    from reviewflow.engine.render.progress import TextProgress

PASSPHRASE_ENV = "REVIEWFLOW_EXPORT_PASSPHRASE"
"""Gives scripts the passphrase of an encrypted export or import (named in engine/services/transfer.py too)."""


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["json"]), default="json", show_default=True,
              help="File format: JSON, every table and column.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE, readable by you only (default: standard output).")
@click.option("--encrypt", is_flag=True,
              help=f"Encrypt the file with a passphrase (asked twice, or ${PASSPHRASE_ENV}); needs --out.")
@click.pass_context
def export_command(ctx: click.Context, fmt: str, out: Path | None, encrypt: bool) -> None:
    """Write everything in the database (cases, history, learning records, ledgers, users...) as one dump."""
    if out is None:
        if encrypt:
            from reviewflow.engine.core.errors import UsageError

            raise UsageError("--encrypt writes an encrypted file: add --out FILE", field="out")
        text, _counts = service(ctx).export_dump(by=acting())
        click.echo(text.encode("utf-8"), nl=False)
        return
    passphrase = _passphrase(confirm=True) if encrypt else None
    counts = service(ctx).export_dump_to(out, by=acting(), passphrase=passphrase)
    sealed = " (encrypted)" if encrypt else ""
    click.echo(f"exported {sum(counts.values())} rows of {len(counts)} tables to {out}{sealed}", err=True)


def _passphrase(confirm: bool) -> str:
    """The passphrase from $REVIEWFLOW_EXPORT_PASSPHRASE, else typed (twice when `confirm`), never shown."""
    import os

    given = os.environ.get(PASSPHRASE_ENV)
    if given:
        return given
    typed: str = click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm, err=True)
    return typed


@click.group("import")
def import_group() -> None:
    """Bring data in: a dump made by 'reviewflow export', or a board's tracker spreadsheet."""


@import_group.command("dump")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the dump against this database; write nothing.")
@json_option
@click.pass_context
def import_dump_command(ctx: click.Context, file: Path, dry_run: bool, as_json: bool) -> None:
    """Load a dump into a new, initialised database in one transaction, keeping every id."""
    from reviewflow.engine.render.lines import dump_import_lines

    result = service(ctx).import_dump_file(file, dry_run, by=acting(), passphrase=lambda: _passphrase(confirm=False))
    if as_json:
        echo_json({"file": str(file), "dry_run": dry_run, "result": result})
        return
    echo_lines(dump_import_lines(result, file, dry_run))


def _mapping_beside(file: Path) -> Path:
    """The mapping that sits beside a tracker file: FILE-mapping.yaml, or tracker-mapping.yaml."""
    for candidate in (file.with_name(f"{file.stem}-mapping.yaml"), file.with_name("tracker-mapping.yaml")):
        if candidate.is_file():
            return candidate
    raise click.UsageError(f"no mapping given and none beside {file} (looked for {file.stem}-mapping.yaml): "
                           "give --mapping MAPPING.yaml (see docs/import-export.md)")


@import_group.command("tracker")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML file saying which column holds what (see docs/import-export.md); default: FILE's "
                   "name with -mapping.yaml (tracker.csv: tracker-mapping.yaml) in the same folder.")
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--all-or-nothing/--per-row", "all_or_nothing", default=True,
              help="Import nothing if any row is bad (default), or import each case whose rows are all good.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar on standard error (default: for large files, on a terminal).")
@click.option("--update", is_flag=True,
              help="Bring cases already in the database up to date from the sheet (with --dry-run: list every "
                   "change and write nothing).")
@click.option("--create-owners", is_flag=True,
              help="Register each action owner the sheet names who is not a registered user, as an action owner "
                   "of the agency on their row (administrators).")
@as_option
@json_option
@click.pass_context
def import_tracker_command(ctx: click.Context, file: Path, mapping: Path | None, dry_run: bool, all_or_nothing: bool,
                           progress: bool | None, update: bool, create_owners: bool, actor: str | None,
                           as_json: bool) -> None:
    """Bring in a board's spreadsheet of reviews and action plans (FILE.csv or FILE.xlsx)."""
    from reviewflow.engine.render.lines import tracker_lines
    from reviewflow.engine.render.progress import TextProgress
    from reviewflow.engine.services.tracker import PROGRESS_FROM_ROWS

    err = sys.stderr
    mapping = mapping or _mapping_beside(file)

    def bar(label: str, total: int) -> TextProgress | None:
        show = progress if progress is not None else err.isatty() and total >= PROGRESS_FROM_ROWS
        return TextProgress(err, f"{label:<15}", total) if show else None

    report = service(ctx).import_tracker(file, mapping, acting(actor), all_or_nothing, dry_run, bar, update,
                                         create_owners)
    if as_json:
        echo_json({"file": str(file), "dry_run": dry_run, "report": report})
    else:
        echo_lines(tracker_lines(report, file.name, dry_run, all_or_nothing))
    if report.problems:
        sys.exit(1)


COMMANDS = [export_command, import_group]
