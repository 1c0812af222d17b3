"""`reviewflow workflow ...`: list, show, validate, load, compare, migrate and draw workflow definitions."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from reviewflow.cli import (
    acting,
    as_option,
    echo_fitted,
    echo_json,
    echo_lines,
    echo_result,
    json_option,
    service,
    write_document,
)


@click.group()
def workflow() -> None:
    """List, show, validate and load workflow definitions."""


@workflow.command("list")
@json_option
@click.pass_context
def workflow_list(ctx: click.Context, as_json: bool) -> None:
    """List the loaded workflows (newest version of each)."""
    flows = service(ctx)
    rows = flows.workflows()
    legacy = {r.name: flows.definition(r.name, r.version).legacy for r in rows}
    if as_json:
        echo_json([{"name": r.name, "version": r.version, "title": r.title, "source": r.source_name,
                    "legacy": _legacy_json(legacy[r.name])} for r in rows])
        return
    for r in rows:
        found = legacy[r.name]
        click.echo(f"{r.name:<30} v{r.version:<3} {r.title}" + (f" - {found.describe()}" if found else ""))


def _legacy_json(found: Any) -> dict[str, Any] | None:
    """A workflow's `legacy:` in `workflow list --json` (null for a current review type)."""
    if found is None:
        return None
    return {"since": found.since.isoformat() if found.since else None, "replaced_by": found.replaced_by,
            "note": found.note or None, "text": found.describe()}


@workflow.command("show")
@click.argument("name")
@click.option("--version", "version", type=click.IntRange(1, 2**31 - 1), help="A specific version (default: newest).")
@json_option
@click.pass_context
def workflow_show(ctx: click.Context, name: str, version: int | None, as_json: bool) -> None:
    """Show a workflow's states, transitions and escalation ladder."""
    from reviewflow.engine.render.text import definition_text

    definition = service(ctx).definition(name, version)
    if as_json:
        echo_json(definition)
    else:
        echo_fitted(definition_text(definition))


def _check_file(path: Path, known: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One file's entry in the validation report (no database needed); `known`: the shipped workflows and the
    files checked with it, for `legacy:` and routings."""
    from reviewflow.engine.core.checking import check_bytes
    from reviewflow.engine.core.errors import InvalidDefinition, Problem
    from reviewflow.engine.render.lines import validation_item

    try:
        definition, warnings = check_bytes(path.read_bytes(), str(path), known)
        return validation_item(str(path), definition, warnings=warnings)
    except InvalidDefinition as exc:
        return validation_item(str(path), problems=exc.problems)
    except FileNotFoundError:
        problem = Problem(str(path), "", "cannot read the file: there is no such file; check the path")
        return validation_item(str(path), problems=[problem])
    except OSError as exc:
        problem = Problem(str(path), "", f"cannot read the file ({exc.strerror or exc.__class__.__name__}): "
                          "check the path and its permissions")
        return validation_item(str(path), problems=[problem])


@workflow.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
def workflow_validate(files: tuple[Path, ...], as_json: bool) -> None:
    """Check definition files; print every problem with file, line and fix. Exit 1 if any."""
    from reviewflow.engine.render.lines import validation_lines
    from reviewflow.workflows import catalogue_of, shipped_catalogue

    known = {**shipped_catalogue(), **catalogue_of(list(files))}
    report = [_check_file(path, known) for path in files]
    if as_json:
        echo_json(report)
    else:
        echo_lines(validation_lines(report))
    if not all(item["valid"] for item in report):
        sys.exit(1)


@workflow.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
@click.pass_context
def workflow_load(ctx: click.Context, files: tuple[Path, ...], as_json: bool) -> None:
    """Validate and load definition files into the database (a new version if it changed); print the
    warnings of what loads but cannot work as written."""
    from reviewflow.engine.render.lines import load_line, warning_lines

    flows = service(ctx)
    results = []
    for path in files:
        loaded = flows.load_workflow_file(path, by=acting())
        results.append(loaded)
        if not as_json:
            click.echo(load_line(loaded, path))
            echo_lines(warning_lines(loaded.warnings))
    if as_json:
        echo_json(results)


@workflow.command("diff")
@click.argument("name")
@click.argument("old", type=int, metavar="V1")
@click.argument("new", type=int, metavar="V2")
@json_option
@click.pass_context
def workflow_diff(ctx: click.Context, name: str, old: int, new: int, as_json: bool) -> None:
    """Show what changed from version V1 of workflow NAME to V2: states, transitions, roles, rules."""
    from reviewflow.engine.core.diff import diff_text

    diff = service(ctx).diff(name, old, new)
    echo_result(diff, as_json, lambda: diff_text(diff))


@workflow.command("migrate")
@click.argument("name")
@click.option("--to", "to_version", type=int, required=True, metavar="VERSION", help="The version to move to.")
@click.option("--map", "pairs", multiple=True, metavar="OLD=NEW",
              help="Move cases in state OLD to state NEW of the target; repeat for several.")
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@as_option
@json_option
@click.pass_context
def workflow_migrate(ctx: click.Context, name: str, to_version: int, pairs: tuple[str, ...], dry_run: bool,
                     actor: str | None, as_json: bool) -> None:
    """Move the open cases of NAME on other versions to VERSION, all or none, recorded in their history."""
    from reviewflow.engine.core.migration import parse_map, plan_lines

    plan = service(ctx).migrate(name, to_version, parse_map(pairs), acting(actor), dry_run)
    echo_result({**plan.summary(), "dry_run": dry_run}, as_json, lambda: "\n".join(plan_lines(plan, dry_run)))


@workflow.command("schema")
def workflow_schema() -> None:
    """Print the JSON Schema of the definition format (for editors)."""
    from reviewflow.engine.core.parse import workflow_schema as schema

    echo_json(schema())


@workflow.command("diagram")
@click.argument("name", required=False)
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg"]), default="mermaid", show_default=True,
              help="Mermaid text (needs nothing installed), Graphviz DOT text, or SVG drawn by Graphviz.")
@click.option("--case", "ref", metavar="REF", help="Highlight this case's current state and the path it took.")
@click.option("--version", "version", type=click.IntRange(1, 2**31 - 1),
              help="A specific version (default: newest, or the case's).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of printing.")
@click.pass_context
def workflow_diagram(ctx: click.Context, name: str | None, fmt: str, ref: str | None, version: int | None,
                     out: Path | None) -> None:
    """Draw a workflow's states and transitions (triggers, roles, conditions, time limits); with --case REF alone,
    the workflow that case follows."""
    from reviewflow.engine.render.diagram import case_path, to_dot, to_mermaid
    from reviewflow.engine.render.graphviz import svg

    path = None
    if ref:
        view, definition = service(ctx).case_diagram(ref, name, version, acting())
        path = case_path(definition, view.ref, view.state, view.history, view.is_open, view.paused_at is not None)
    elif name:
        definition = service(ctx).definition(name, version)
    else:
        from reviewflow.engine.core.errors import UsageError

        raise UsageError("give a workflow NAME, or --case REF to draw the workflow that case follows")
    if fmt == "mermaid":
        text = to_mermaid(definition, path)
    else:
        text = to_dot(definition, path)
        text = svg(text) if fmt == "svg" else text
    write_document(text, out, "diagram")


COMMANDS = [workflow]
