"""The `reviewflow` command line: parse, call one service method, render.

Heavy imports live inside the commands so `reviewflow --help` stays instant.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from reviewflow.engine.services.facade import Reviewflow

DEFAULT_DB = "sqlite:///reviewflow.db"


@dataclass
class Settings:
    db: str
    now: str | None
    log_json: bool
    verbose: bool
    config: Path | None = None
    _service: Reviewflow | None = field(default=None, repr=False, compare=False)

    def service(self) -> Reviewflow:
        """The command's service (one per command: one connection pool, one readiness check)."""
        if self._service is None:
            self._service = self._new_service()
        return self._service

    def _new_service(self) -> Reviewflow:
        import os

        from reviewflow.engine.core.clock import fixed_clock, parse_instant
        from reviewflow.engine.services.context import system_clock
        from reviewflow.engine.services.facade import Reviewflow
        from reviewflow.engine.services.settings import load_settings
        from reviewflow.store.db import Database

        clock = fixed_clock(parse_instant(self.now)) if self.now else system_clock
        return Reviewflow(Database(self.db), clock, load_settings(self.config, os.environ))


def _is_text(arg: str) -> bool:
    """False for a command-line argument holding bytes that are not UTF-8 (Python keeps them as surrogates)."""
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Group(click.Group):
    """Turns every ReviewflowError into one line on stderr and exit status 1."""

    def main(self, args: Sequence[str] | None = None, *a: Any, **kw: Any) -> Any:
        for arg in (sys.argv[1:] if args is None else args):
            if not _is_text(arg):
                click.echo(f"Error: {arg!r} is not UTF-8 text: set the terminal to UTF-8 and type it again", err=True)
                sys.exit(1)
        return super().main(args, *a, **kw)

    def invoke(self, ctx: click.Context) -> Any:
        from reviewflow.engine.core.errors import ReviewflowError

        try:
            return super().invoke(ctx)
        except ReviewflowError as exc:
            raise click.ClickException(str(exc)) from None


def _settings(ctx: click.Context) -> Settings:
    return ctx.find_object(Settings)  # type: ignore[return-value]


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """The shared --json flag of every listing/showing command."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(func)


def as_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--as", "actor", envvar="REVIEWFLOW_USER", metavar="USER",
                        help="Registered user acting (default: $REVIEWFLOW_USER).")(func)


def field_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--field", "fields", multiple=True, metavar="NAME=VALUE",
                        help="A field value; repeat for several.")(func)


def _need_actor(actor: str | None) -> str:
    if not actor:
        raise click.ClickException("say who is acting: pass --as USER or set REVIEWFLOW_USER")
    return actor


def _fields(pairs: Sequence[str]) -> dict[str, str]:
    from reviewflow.engine.core.fields import split_assignments

    return split_assignments(pairs)


def _echo_json(value: Any) -> None:
    from reviewflow.engine.render.text import to_json

    click.echo(to_json(value))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="REVIEWFLOW_DB", default=DEFAULT_DB, show_default=True,
              help="Database URL (env REVIEWFLOW_DB): sqlite:///FILE or postgresql+psycopg://...")
@click.option("--now", envvar="REVIEWFLOW_NOW", metavar="ISO-DATETIME",
              help="Act as if it were this time (env REVIEWFLOW_NOW): back-date or preview.")
@click.option("--config", envvar="REVIEWFLOW_CONFIG", type=click.Path(dir_okay=False, path_type=Path),
              help="Settings file for e-mail, webhooks and the worker (default: ./reviewflow.toml if present).")
@click.option("--log-json", is_flag=True, help="Write logs as JSON lines on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="Log every change (key=value on stderr).")
@click.version_option(package_name="reviewflow")
@click.pass_context
def cli(ctx: click.Context, db: str, now: str | None, config: Path | None, log_json: bool, verbose: bool) -> None:
    """reviewflow: safeguarding review lifecycles, from referral to evidence of embedding."""
    from reviewflow.engine.services.logs import configure_logging

    configure_logging(json=log_json, level="info" if verbose else "warning")
    ctx.obj = Settings(db, now, log_json, verbose, config)


@cli.command()
@click.option("--workflows", "extra", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Also load this definition file or folder of *.yaml files.")
@click.pass_context
def init(ctx: click.Context, extra: tuple[Path, ...]) -> None:
    """Create the database (if needed) and load the shipped workflows."""
    files = [f for p in extra for f in (sorted(p.glob("*.yaml")) if p.is_dir() else [p])]
    results = _settings(ctx).service().init(files)
    for r in results:
        click.echo(f"{r.status:<9} {r.name} v{r.version}" + (f" ({r.note})" if r.note else ""))
    click.echo(f"database ready: {_settings(ctx).db}")


# --- workflow ----------------------------------------------------------------------------------

@cli.group()
def workflow() -> None:
    """List, show, validate and load workflow definitions."""


@workflow.command("list")
@json_option
@click.pass_context
def workflow_list(ctx: click.Context, as_json: bool) -> None:
    """List the loaded workflows (newest version of each)."""
    rows = _settings(ctx).service().workflows()
    if as_json:
        _echo_json([{"name": r.name, "version": r.version, "title": r.title, "source": r.source_name}
                    for r in rows])
        return
    for r in rows:
        click.echo(f"{r.name:<30} v{r.version:<3} {r.title}")


@workflow.command("show")
@click.argument("name")
@click.option("--version", "version", type=click.IntRange(1, 2**31 - 1), help="A specific version (default: newest).")
@json_option
@click.pass_context
def workflow_show(ctx: click.Context, name: str, version: int | None, as_json: bool) -> None:
    """Show a workflow's states, transitions and escalation ladder."""
    from reviewflow.engine.render.text import definition_text

    definition = _settings(ctx).service().definition(name, version)
    if as_json:
        _echo_json(definition)
    else:
        click.echo(definition_text(definition))


@workflow.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
def workflow_validate(files: tuple[Path, ...], as_json: bool) -> None:
    """Check definition files; print every problem with file, line and fix. Exit 1 if any."""
    from reviewflow.engine.core.errors import InvalidDefinition, Problem
    from reviewflow.engine.core.parse import parse_definition
    from reviewflow.engine.render.text import problems_json

    report: list[dict[str, Any]] = []
    for path in files:
        try:
            definition = parse_definition(path.read_text("utf-8"), str(path))
            summary = f"{definition.name} v{definition.version}: {len(definition.states)} states, " \
                      f"{len(definition.transitions)} transitions"
            report.append({"file": str(path), "valid": True, "summary": summary, "problems": []})
        except InvalidDefinition as exc:
            report.append({"file": str(path), "valid": False, "problems": problems_json(exc.problems)})
        except (OSError, UnicodeDecodeError) as exc:
            problem = Problem(str(path), "", f"cannot read the file ({exc.__class__.__name__}): check the path")
            report.append({"file": str(path), "valid": False, "problems": problems_json([problem])})
    if as_json:
        _echo_json(report)
    else:
        for item in report:
            if item["valid"]:
                click.echo(f"ok: {item['file']} ({item['summary']})")
            for p in item["problems"]:
                click.echo(str(Problem(**p)), err=True)
    if not all(item["valid"] for item in report):
        bad = sum(len(i["problems"]) for i in report)
        if not as_json:
            click.echo(f"{bad} problem(s) found", err=True)
        sys.exit(1)


@workflow.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.pass_context
def workflow_load(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Validate and load definition files into the database (a new version if it changed)."""
    service = _settings(ctx).service()
    for path in files:
        r = service.load_workflow_file(path)
        click.echo(f"{r.status:<9} {r.name} v{r.version}{f' ({r.note})' if r.note else ''} from {path}")


@workflow.command("diff")
@click.argument("name")
@click.argument("old", type=int, metavar="V1")
@click.argument("new", type=int, metavar="V2")
@json_option
@click.pass_context
def workflow_diff(ctx: click.Context, name: str, old: int, new: int, as_json: bool) -> None:
    """Show what changed from version V1 of workflow NAME to V2: states, transitions, roles, rules."""
    from reviewflow.engine.core.diff import diff_text

    diff = _settings(ctx).service().diff(name, old, new)
    if as_json:
        _echo_json(diff)
    else:
        click.echo(diff_text(diff))


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

    plan = _settings(ctx).service().migrate(name, to_version, parse_map(pairs), actor, dry_run)
    if as_json:
        _echo_json({**plan.summary(), "dry_run": dry_run})
    else:
        click.echo("\n".join(plan_lines(plan, dry_run)))


@workflow.command("schema")
def workflow_schema() -> None:
    """Print the JSON Schema of the definition format (for editors)."""
    from reviewflow.engine.core.parse import workflow_schema as schema

    _echo_json(schema())


def _write_document(text: str, out: Path | None, what: str) -> None:
    """Print `text`, or write it to `out` and say so on stderr."""
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, "utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"{what} written to {out}", err=True)


def _svg(dot: str) -> str:
    """Draw DOT text as SVG with Graphviz's `dot` program."""
    import shutil
    import subprocess

    program = shutil.which("dot")
    if program is None:
        raise click.ClickException("--format svg needs Graphviz's `dot` program, which is not on PATH: install "
                                   "it (apt-get install graphviz, or brew install graphviz) or use --format mermaid")
    try:
        done = subprocess.run([program, "-Tsvg"], input=dot.encode("utf-8"), capture_output=True, timeout=60,
                              check=False)
    except subprocess.TimeoutExpired:
        raise click.ClickException("Graphviz's dot took over 60 seconds: use --format mermaid or dot") from None
    if done.returncode != 0:
        problem = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise click.ClickException(f"Graphviz's dot failed: {problem[0] if problem else 'no message'}")
    return done.stdout.decode("utf-8")


@workflow.command("diagram")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg"]), default="mermaid", show_default=True,
              help="Mermaid text (needs nothing installed), Graphviz DOT text, or SVG drawn by Graphviz.")
@click.option("--case", "ref", metavar="REF", help="Highlight this case's current state and the path it took.")
@click.option("--version", "version", type=click.IntRange(1, 2**31 - 1),
              help="A specific version (default: newest, or the case's).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of printing.")
@click.pass_context
def workflow_diagram(ctx: click.Context, name: str, fmt: str, ref: str | None, version: int | None,
                     out: Path | None) -> None:
    """Draw a workflow's states and transitions (triggers, roles, conditions, time limits)."""
    from reviewflow.engine.render.diagram import case_path, to_dot, to_mermaid

    service = _settings(ctx).service()
    path = None
    if ref:
        view = service.case(ref)
        if view.workflow != name:
            raise click.ClickException(f"case {ref} is a {view.workflow} case: run "
                                       f"'reviewflow workflow diagram {view.workflow} --case {ref}'")
        if version is not None and version != view.version:
            raise click.ClickException(f"case {ref} is on version {view.version} of {name}: "
                                       f"leave out --version or give --version {view.version}")
        version = view.version
    definition = service.definition(name, version)
    if ref:
        path = case_path(definition, view.ref, view.state, view.history, view.is_open, view.paused_at is not None)
    if fmt == "mermaid":
        text = to_mermaid(definition, path)
    else:
        text = to_dot(definition, path)
        text = _svg(text) if fmt == "svg" else text
    _write_document(text, out, "diagram")


# --- user --------------------------------------------------------------------------------------

@cli.group()
def user() -> None:
    """Register people and the roles they hold."""


@user.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, help="A role they hold; repeat for several.")
@click.option("--email", help="Where notifications go.")
@click.option("--agency", help="The agency they work for: its overdue actions reach them before other agencies'.")
@click.pass_context
def user_add(ctx: click.Context, name: str, roles: tuple[str, ...], email: str | None, agency: str | None) -> None:
    """Register a user with one or more roles."""
    u = _settings(ctx).service().add_user(name, list(roles), email, agency)
    click.echo(f"added {u.name}: {', '.join(u.roles)}" + (f" ({u.agency})" if u.agency else ""))


@user.command("grant")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, help="A role to give; repeat for several.")
@click.pass_context
def user_grant(ctx: click.Context, name: str, roles: tuple[str, ...]) -> None:
    """Give a registered user more roles."""
    u = _settings(ctx).service().grant(name, list(roles))
    click.echo(f"{u.name} now holds: {', '.join(u.roles)}")


@user.command("list")
@json_option
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List users and their roles."""
    users = _settings(ctx).service().users()
    if as_json:
        _echo_json(users)
        return
    for u in users:
        click.echo(f"{u.name:<20} {', '.join(u.roles):<50} {u.email or '':<28} {u.agency or ''}".rstrip())


# --- case --------------------------------------------------------------------------------------

@cli.group()
def case() -> None:
    """Open cases, move them on, and see where they stand."""


def _show(ctx: click.Context, view: Any, as_json: bool) -> None:
    from reviewflow.engine.render.text import case_json, case_text

    service = _settings(ctx).service()
    overdue = service.working_days_overdue(view)
    if as_json:
        _echo_json(case_json(view, overdue))
    else:
        click.echo(case_text(view, overdue))


@case.command("open")
@click.argument("workflow_name", metavar="WORKFLOW")
@click.option("--ref", required=True, help="Case reference, e.g. SCR-2026-001 (never a child's name).")
@field_option
@click.option("--note", help="A note for the history.")
@as_option
@json_option
@click.pass_context
def case_open(ctx: click.Context, workflow_name: str, ref: str, fields: tuple[str, ...],
              note: str | None, actor: str | None, as_json: bool) -> None:
    """Open a case of WORKFLOW."""
    view = _settings(ctx).service().open_case(workflow_name, ref, _need_actor(actor), _fields(fields), note)
    _show(ctx, view, as_json)


@case.command("fire")
@click.argument("ref")
@click.argument("trigger")
@field_option
@click.option("--note", help="A note for the history.")
@as_option
@json_option
@click.pass_context
def case_fire(ctx: click.Context, ref: str, trigger: str, fields: tuple[str, ...], note: str | None,
              actor: str | None, as_json: bool) -> None:
    """Move case REF on by firing TRIGGER."""
    service = _settings(ctx).service()
    who = _need_actor(actor)
    service.fire(ref, trigger, who, _fields(fields), note)
    _show(ctx, service.case(ref, who), as_json)


@case.command("show")
@click.argument("ref")
@as_option
@json_option
@click.pass_context
def case_show(ctx: click.Context, ref: str, actor: str | None, as_json: bool) -> None:
    """Show state, time in stage, due date, history and the next possible steps."""
    _show(ctx, _settings(ctx).service().case(ref, actor), as_json)


@case.command("pause")
@click.argument("ref")
@click.option("--reason", required=True, help="Why the clock stops, e.g. 'awaiting criminal proceedings'.")
@as_option
@json_option
@click.pass_context
def case_pause(ctx: click.Context, ref: str, reason: str, actor: str | None, as_json: bool) -> None:
    """Stop the stage's clock and its escalation, with a reason."""
    _show(ctx, _settings(ctx).service().pause(ref, _need_actor(actor), reason), as_json)


@case.command("resume")
@click.argument("ref")
@click.option("--note", help="A note for the history.")
@as_option
@json_option
@click.pass_context
def case_resume(ctx: click.Context, ref: str, note: str | None, actor: str | None, as_json: bool) -> None:
    """Restart a paused clock; the due date moves on by the time it was paused."""
    _show(ctx, _settings(ctx).service().resume(ref, _need_actor(actor), note), as_json)


@case.command("list")
@click.option("--workflow", "workflow_name", help="Only this workflow.")
@click.option("--state", help="Only cases in this state.")
@click.option("--overdue", is_flag=True, help="Only open cases past their stage's time limit.")
@click.option("--open", "only_open", is_flag=True, help="Only open cases.")
@json_option
@click.pass_context
def case_list(ctx: click.Context, workflow_name: str | None, state: str | None, overdue: bool,
              only_open: bool, as_json: bool) -> None:
    """List cases."""
    from reviewflow.engine.render.text import case_json, case_row

    service = _settings(ctx).service()
    views = service.cases(workflow_name, state, overdue, include_closed=not only_open)
    if as_json:
        _echo_json([case_json(v, service.working_days_overdue(v)) for v in views])
        return
    for v in views:
        click.echo(case_row(v, service.working_days_overdue(v)))
    if not views:
        click.echo("no cases match", err=True)


# --- escalation, the worker and the outbox ------------------------------------------------------

@cli.command()
@click.option("--dry-run", is_flag=True, help="Show what would fire; change nothing.")
@json_option
@click.pass_context
def escalate(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Run one escalation sweep now (or at --now): reminders and ladder levels that are due."""
    from reviewflow.engine.render.text import local, to_json

    report = _settings(ctx).service().sweep(dry_run=dry_run)
    if as_json:
        click.echo(to_json(report))
        return
    verb = "would fire" if dry_run else "fired"
    for f in report.fired:
        people = ", ".join(f.recipients) or "nobody registered"
        click.echo(f"{f.ref:<16} {f.label:<24} {f.reason}; tells {', '.join(f.roles)} ({people})")
    click.echo(f"{len(report.fired)} escalation(s) {verb} at {local(report.now)} "
               f"({report.cases} case(s) checked)", err=True)


@cli.command()
@click.option("--interval", type=click.FloatRange(min=1), help="Seconds between sweeps (default 60).")
@click.option("--once", is_flag=True, help="One sweep and one delivery round, then exit (for cron).")
@click.pass_context
def run(ctx: click.Context, interval: float | None, once: bool) -> None:
    """Run the worker: sweep escalations and deliver notifications until stopped (SIGTERM/Ctrl-C)."""
    service = _settings(ctx).service()
    code = service.run_worker(interval, once=once)
    if code:
        sys.exit(code)


@cli.group("outbox")
def outbox_group() -> None:
    """See and retry notifications waiting to be delivered."""


@outbox_group.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "failed"]), help="Only rows in this status.")
@click.option("--ref", help="Only notifications about this case.")
@json_option
@click.pass_context
def outbox_list(ctx: click.Context, status: str | None, ref: str | None, as_json: bool) -> None:
    """List notifications and their delivery status."""
    from reviewflow.engine.render.text import local, printable

    rows = _settings(ctx).service().outbox(status, ref)
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        error = f"  last error: {printable(r.last_error)}" if r.last_error else ""
        click.echo(f"{r.id:>6} {r.status:<8} {r.channel:<8} {r.recipient:<14} {r.ref or '-':<16} {r.event:<16} "
                   f"attempts {r.attempts}, created {local(r.created_at)}{error}")
    if not rows:
        click.echo("no notifications match", err=True)


@outbox_group.command("retry")
@click.argument("ids", nargs=-1, type=click.IntRange(1, 2**63 - 1))
@click.pass_context
def outbox_retry(ctx: click.Context, ids: tuple[int, ...]) -> None:
    """Put failed notifications (all, or those with these IDs) back in the queue."""
    count = _settings(ctx).service().retry_outbox(list(ids))
    click.echo(f"{count} notification(s) queued again")
    if ids and count < len(ids):
        click.echo(f"{len(ids) - count} of the IDs given are not failed notifications: "
                   "see 'reviewflow outbox list --status failed'", err=True)


# --- the learning loop ---------------------------------------------------------------------------

@case.command("recommend")
@click.argument("ref")
@click.option("--text", "text", required=True, help="The recommendation, as agreed.")
@click.option("--theme", "themes", multiple=True, help="A learning theme, e.g. neglect; repeat for several.")
@click.option("--agency", "agencies", multiple=True, help="An agency it applies to; repeat for several.")
@as_option
@json_option
@click.pass_context
def case_recommend(ctx: click.Context, ref: str, text: str, themes: tuple[str, ...], agencies: tuple[str, ...],
                   actor: str | None, as_json: bool) -> None:
    """Record a recommendation of case REF (numbered R1, R2, ...)."""
    number = _settings(ctx).service().recommend(ref, _need_actor(actor), text, themes, agencies)
    if as_json:
        _echo_json({"ref": ref, "recommendation": number})
    else:
        click.echo(f"{ref}: recommendation {number} recorded; add its actions with "
                   f"'reviewflow action add {ref} --rec {number} ...'")


@case.command("disseminate")
@click.argument("ref")
@click.option("--kind", required=True, metavar="KIND",
              help="briefing, training_session, newsletter, conference or learning_summary.")
@click.option("--audience", required=True, help="Who the learning reached, e.g. 'GP practice leads'.")
@click.option("--date", "held_on", required=True, metavar="DATE", help="When it happened (YYYY-MM-DD).")
@click.option("--reference", help="Where the material is kept (a reference or link).")
@as_option
@click.pass_context
def case_disseminate(ctx: click.Context, ref: str, kind: str, audience: str, held_on: str,
                     reference: str | None, actor: str | None) -> None:
    """Record that the learning of case REF was shared."""
    _settings(ctx).service().record_dissemination(ref, _need_actor(actor), kind, audience, held_on, reference)
    click.echo(f"{ref}: dissemination recorded")


@cli.group("action")
def action_group() -> None:
    """Action plans: agree actions, submit and check evidence, verify, evaluate impact."""


def _action_out(ctx: click.Context, action: Any, as_json: bool) -> None:
    from reviewflow.engine.core.durations import local_date
    from reviewflow.engine.render.text import action_row

    if as_json:
        _echo_json(action)
    else:
        click.echo(action_row(action, local_date(_settings(ctx).service().clock())))


@action_group.command("add")
@click.argument("ref")
@click.option("--rec", "recommendation", required=True, metavar="R", help="The recommendation, e.g. R1.")
@click.option("--description", required=True, help="What will be done.")
@click.option("--agency", required=True, help="The agency that owns the action.")
@click.option("--owner", metavar="USER", help="The registered person who owns it (told when it is overdue).")
@click.option("--due", required=True, metavar="DATE", help="Due date (YYYY-MM-DD).")
@click.option("--measure", default="", help="How success will be measured.")
@as_option
@json_option
@click.pass_context
def action_add(ctx: click.Context, ref: str, recommendation: str, description: str, agency: str,
               owner: str | None, due: str, measure: str, actor: str | None, as_json: bool) -> None:
    """Agree an action for a recommendation of case REF (numbered A1, A2, ...)."""
    service = _settings(ctx).service()
    number = service.add_action(ref, _need_actor(actor), recommendation, description, agency, due, owner, measure)
    _action_out(ctx, _one_action(service, ref, number), as_json)


def _one_action(service: Any, ref: str, number: str) -> Any:
    return next(a for a in service.actions(ref=ref) if a.number == number.upper())


@action_group.command("update")
@click.argument("ref")
@click.argument("number", metavar="ACTION")
@click.option("--status", metavar="STATUS",
              help="in_progress, embedded, superseded or not_implemented (the last two need --reason).")
@click.option("--reason", help="Why (required for superseded and not_implemented).")
@click.option("--due", metavar="DATE", help="A new due date (YYYY-MM-DD).")
@click.option("--owner", metavar="USER", help="A new owner (a registered user).")
@click.option("--agency", help="A new owning agency.")
@click.option("--measure", help="A new success measure.")
@as_option
@json_option
@click.pass_context
def action_update(ctx: click.Context, ref: str, number: str, status: str | None, reason: str | None,
                  due: str | None, owner: str | None, agency: str | None, measure: str | None,
                  actor: str | None, as_json: bool) -> None:
    """Change action ACTION of case REF: its status, due date, owner or success measure."""
    action = _settings(ctx).service().update_action(ref, number, _need_actor(actor), status, reason, due, owner,
                                                    agency, measure)
    _action_out(ctx, action, as_json)


@action_group.command("evidence")
@click.argument("ref")
@click.argument("number", metavar="ACTION")
@click.option("--kind", required=True, metavar="KIND",
              help="audit_result, training_record, policy_change, practitioner_feedback or data.")
@click.option("--description", required=True, help="What the evidence shows.")
@click.option("--link", "reference", required=True, help="Where it is kept: a reference or link (no uploads).")
@as_option
@json_option
@click.pass_context
def action_evidence(ctx: click.Context, ref: str, number: str, kind: str, description: str, reference: str,
                    actor: str | None, as_json: bool) -> None:
    """Submit evidence for action ACTION of case REF (numbered E1, E2, ...)."""
    service = _settings(ctx).service()
    evidence = service.submit_evidence(ref, number, _need_actor(actor), kind, description, reference)
    if as_json:
        _echo_json({"ref": ref, "action": number.upper(), "evidence": evidence})
    else:
        click.echo(f"{ref}: evidence {evidence} submitted for {number.upper()}; it awaits the sub-group's check")


@action_group.command("accept")
@click.argument("ref")
@click.argument("evidence", metavar="EVIDENCE")
@click.option("--note", help="A note for the history.")
@as_option
@click.pass_context
def action_accept(ctx: click.Context, ref: str, evidence: str, note: str | None, actor: str | None) -> None:
    """Accept evidence EVIDENCE (e.g. E1) of case REF."""
    _settings(ctx).service().decide_evidence(ref, evidence, _need_actor(actor), True, note)
    click.echo(f"{ref}: evidence {evidence.upper()} accepted")


@action_group.command("reject")
@click.argument("ref")
@click.argument("evidence", metavar="EVIDENCE")
@click.option("--reason", required=True, help="Why it does not show the action is done.")
@as_option
@click.pass_context
def action_reject(ctx: click.Context, ref: str, evidence: str, reason: str, actor: str | None) -> None:
    """Reject evidence EVIDENCE of case REF, with the reason; the owner is told."""
    status = _settings(ctx).service().decide_evidence(ref, evidence, _need_actor(actor), False, reason)
    click.echo(f"{ref}: evidence {evidence.upper()} rejected; the action is now {status}")


@action_group.command("verify")
@click.argument("ref")
@click.argument("number", metavar="ACTION")
@click.option("--note", help="A note for the history.")
@as_option
@json_option
@click.pass_context
def action_verify(ctx: click.Context, ref: str, number: str, note: str | None, actor: str | None,
                  as_json: bool) -> None:
    """Verify action ACTION of case REF on its accepted evidence."""
    _action_out(ctx, _settings(ctx).service().verify_action(ref, number, _need_actor(actor), note), as_json)


@action_group.command("evaluate")
@click.argument("ref")
@click.argument("number", metavar="ACTION")
@click.option("--method", required=True, metavar="METHOD",
              help="re_audit, survey, data, practitioner_feedback or case_file_review.")
@click.option("--date", "measured_on", required=True, metavar="DATE", help="When impact was measured.")
@click.option("--finding", required=True, help="What the measurement showed.")
@as_option
@json_option
@click.pass_context
def action_evaluate(ctx: click.Context, ref: str, number: str, method: str, measured_on: str, finding: str,
                    actor: str | None, as_json: bool) -> None:
    """Record the impact evaluation of verified action ACTION of case REF."""
    action = _settings(ctx).service().evaluate_action(ref, number, _need_actor(actor), method, measured_on, finding)
    _action_out(ctx, action, as_json)


@action_group.command("list")
@click.argument("ref", required=False)
@click.option("--agency", help="Only actions owned by this agency.")
@click.option("--overdue", is_flag=True, help="Only actions past their due date and not yet evidenced.")
@click.option("--theme", help="Only actions of recommendations with this learning theme.")
@click.option("--status", metavar="STATUS", help="Only actions in this status.")
@json_option
@click.pass_context
def action_list(ctx: click.Context, ref: str | None, agency: str | None, overdue: bool, theme: str | None,
                status: str | None, as_json: bool) -> None:
    """List actions across all cases, or of case REF, soonest due first."""
    from reviewflow.engine.core.durations import local_date
    from reviewflow.engine.render.text import action_row

    service = _settings(ctx).service()
    rows = service.actions(agency, overdue, theme, ref, status)
    if as_json:
        _echo_json(rows)
        return
    today = local_date(service.clock())
    for a in rows:
        click.echo(action_row(a, today))
    if not rows:
        click.echo("no actions match", err=True)


# --- audit ---------------------------------------------------------------------------------------

@cli.group("audit")
def audit_group() -> None:
    """Check that the recorded history has not been altered."""


@audit_group.command("verify")
@click.argument("ref", required=False)
@json_option
@click.pass_context
def audit_verify(ctx: click.Context, ref: str | None, as_json: bool) -> None:
    """Recompute the seals of every history and escalation row (or those of case REF).

    Exits 0 when every chain is intact, 1 naming the first altered, deleted or inserted row of each case.
    """
    service = _settings(ctx).service()

    def progress(done: int, total: int) -> None:
        if total >= 2000 and (done % 2000 == 0 or done == total):
            click.echo(f"checked {done} of {total} cases", err=True)

    report = service.verify_audit(ref, progress)
    if as_json:
        _echo_json({"ok": report.ok, "cases": report.cases, "rows": report.rows, "head_seq": report.head_seq,
                    "head_hash": report.head_hash, "findings": [str(f) for f in report.findings],
                    "chain_problem": report.chain_problem})
    else:
        for finding in report.findings:
            click.echo(f"ALTERED {finding}")
        if report.chain_problem:
            click.echo(f"ALTERED database chain: {report.chain_problem}")
        if report.ok:
            click.echo(f"ok: {report.rows} sealed rows in {report.cases} case(s) verified; "
                       f"chain head {report.head_seq}:{report.head_hash[:16]}")
    if not report.ok:
        raise click.exceptions.Exit(1)


@cli.group("db")
def db_group() -> None:
    """The database itself: its schema version."""


@db_group.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Migrate the database's tables to this version of reviewflow (back it up first)."""
    before, after = _settings(ctx).service().upgrade_schema()
    if before == after:
        click.echo(f"database schema already at {after}: nothing to do")
    else:
        click.echo(f"database schema upgraded from {before} to {after}")


# --- schedule ----------------------------------------------------------------------------------

@cli.group("schedule")
def schedule_group() -> None:
    """Recurring reviews: what the workflows' schedules open next, and opening what is due."""


@schedule_group.command("list")
@json_option
@click.pass_context
def schedule_list(ctx: click.Context, as_json: bool) -> None:
    """Show each scheduled workflow's next case, its last one, and any period due but not opened."""
    from reviewflow.engine.render.text import local

    rows = _settings(ctx).service().upcoming_periods()
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        last = f"{r.last_ref} opened {local(r.last_opened_at)}{' (late)' if r.last_late else ''}" \
            if r.last_ref else "none yet"
        click.echo(f"{r.workflow:<30} {r.schedule:<34} next {r.next_ref or '-'} at {local(r.next_at)}; last {last}")
        for d in r.due[:5]:
            click.echo(f"{'':<30} DUE NOW, not opened: {d.ref} (period {d.period}, due {local(d.scheduled_for)})")
        if len(r.due) > 5:
            click.echo(f"{'':<30} ... and {len(r.due) - 5} more (see --json)")
    due = sum(len(r.due) for r in rows)
    if due:
        click.echo(f"{due} period(s) due and not opened: run 'reviewflow schedule run', or start the worker "
                   "('reviewflow run')", err=True)
    if not rows:
        click.echo("no loaded workflow has a `schedule`", err=True)


@schedule_group.command("run")
@click.option("--dry-run", is_flag=True, help="Show which cases would open; change nothing.")
@json_option
@click.pass_context
def schedule_run(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Open the case of every period due now (or at --now) that is not open yet, each exactly once."""
    from reviewflow.engine.render.text import local

    report = _settings(ctx).service().open_due_periods(dry_run=dry_run)
    if as_json:
        _echo_json(report)
    else:
        verb = "would open" if dry_run else "opened"
        for o in report.opened:
            late = f" (late: due {local(o.scheduled_for)})" if o.late else ""
            click.echo(f"{verb:<10} {o.ref:<20} {o.workflow}, period {o.period}{late}")
        for t in report.taken:
            click.echo(f"already opened by another worker: {t.ref} ({t.workflow}, period {t.period})", err=True)
        for f in report.failed:
            click.echo(f"not opened: {f.ref} ({f.workflow}, period {f.period}): {f.error}", err=True)
        click.echo(f"{len(report.opened)} case(s) {verb} at {local(report.now)}", err=True)
    if report.failed:
        sys.exit(1)


# --- reports -----------------------------------------------------------------------------------

@cli.group("report")
def report_group() -> None:
    """Board report and annual report figures, as HTML, Markdown, CSV or JSON."""


def _report_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--format, --out and --table, shared by the report commands."""
    func = click.option("--table", metavar="NAME",
                        help="With --format csv: only this table (e.g. open_reviews; see docs/reports.md).")(func)
    func = click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
                        help="Write the report to this file (default: standard output).")(func)
    return click.option("--format", "fmt", type=click.Choice(["html", "md", "csv", "json"]),
                        help="Output format (default: from the --out file's name, else md).")(func)


def _emit_report(report: Any, fmt: str | None, out: Path | None, table: str | None) -> None:
    from reviewflow.engine.render.reports import choose_format, render

    chosen = choose_format(fmt, out)
    text = render(report, chosen, table)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, "utf-8", newline="")
    except OSError as exc:
        raise click.ClickException(f"cannot write the report to {out}: {exc.strerror}") from None
    click.echo(f"wrote {out} ({chosen}, {len(text.encode('utf-8'))} bytes)", err=True)


@report_group.command("board")
@click.option("--from", "start", metavar="DATE", help="First day of the period (default: 3 months before --to).")
@click.option("--to", "end", metavar="DATE", help="Last day of the period (default: today, or the --now date).")
@_report_options
@click.pass_context
def report_board(ctx: click.Context, start: str | None, end: str | None, fmt: str | None, out: Path | None,
                 table: str | None) -> None:
    """The Board report: open reviews by RAG status, exceptions, action plans, themes and dissemination."""
    from reviewflow.engine.core.clock import parse_date

    report = _settings(ctx).service().board_report(parse_date(start, "--from") if start else None,
                                                           parse_date(end, "--to") if end else None)
    _emit_report(report, fmt, out, table)


@report_group.command("annual")
@click.option("--year", required=True, metavar="YEAR",
              help="2026 for the calendar year, or 2026-27 for the financial year from 1 April 2026.")
@_report_options
@click.pass_context
def report_annual(ctx: click.Context, year: str, fmt: str | None, out: Path | None, table: str | None) -> None:
    """The annual report's figures: reviews by type, decisions, recommendations, impact, timeliness, themes."""

    _emit_report(_settings(ctx).service().annual_report(year), fmt, out, table)


# --- case timeline -------------------------------------------------------------------------------

@case.command("timeline")
@click.argument("ref")
@click.option("--format", "fmt", type=click.Choice(["text", "html"]), default="text", show_default=True,
              help="Plain text, or one self-contained HTML page (prints on A4).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of printing.")
@click.pass_context
def case_timeline(ctx: click.Context, ref: str, fmt: str, out: Path | None) -> None:
    """The whole story of case REF in order: stages against their limits, pauses, escalations, learning."""
    from reviewflow.engine.render.timeline import build_timeline, timeline_html, timeline_text

    service = _settings(ctx).service()
    view = service.case(ref)
    timeline = build_timeline(view, service.definition(view.workflow, view.version))
    _write_document(timeline_html(timeline) if fmt == "html" else timeline_text(timeline), out, "timeline")


# --- export and import -------------------------------------------------------------------------

@cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["json"]), default="json", show_default=True,
              help="File format: JSON, every table and column.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE (default: standard output).")
@click.pass_context
def export_command(ctx: click.Context, fmt: str, out: Path | None) -> None:
    """Write everything in the database (cases, history, learning records, ledgers, users...) as one dump."""
    from reviewflow.engine.services.transfer import write_file

    text, counts = _settings(ctx).service().export_dump()
    if out is None:
        click.echo(text.encode("utf-8"), nl=False)
        return
    write_file(out, text)
    click.echo(f"exported {sum(counts.values())} rows of {len(counts)} tables to {out}", err=True)


@cli.group("import")
def import_group() -> None:
    """Bring data in: a dump made by 'reviewflow export', or a board's tracker spreadsheet."""


@import_group.command("dump")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the dump against this database; write nothing.")
@click.pass_context
def import_dump_command(ctx: click.Context, file: Path, dry_run: bool) -> None:
    """Load a dump into a new, initialised database in one transaction, keeping every id."""
    from reviewflow.engine.services.transfer import read_file

    result = _settings(ctx).service().import_dump(read_file(file), str(file), dry_run)
    click.echo(f"{'would import' if dry_run else 'imported'} {sum(result.counts.values())} rows from {file} "
               f"(exported {result.exported_at} by reviewflow {result.reviewflow_version})")
    for name, count in result.counts.items():
        if count:
            click.echo(f"  {name:<22} {count:>8}")
    if dry_run:
        click.echo("dry run: nothing written", err=True)


@import_group.command("tracker")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mapping", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="YAML file saying which column holds what (see docs/import-export.md).")
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--all-or-nothing/--per-row", "all_or_nothing", default=True,
              help="Import nothing if any row is bad (default), or import each case whose rows are all good.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar on standard error (default: for large files, on a terminal).")
@as_option
@click.pass_context
def import_tracker_command(ctx: click.Context, file: Path, mapping: Path, dry_run: bool, all_or_nothing: bool,
                           progress: bool | None, actor: str | None) -> None:
    """Bring in a board's spreadsheet of reviews and action plans (FILE.csv or FILE.xlsx)."""
    from reviewflow.engine.services.tracker import PROGRESS_FROM_ROWS, TextProgress

    err = sys.stderr

    def bar(label: str, total: int) -> TextProgress | None:
        show = progress if progress is not None else err.isatty() and total >= PROGRESS_FROM_ROWS
        return TextProgress(err, f"{label:<15}", total) if show else None

    report = _settings(ctx).service().import_tracker(file, mapping, _need_actor(actor), all_or_nothing, dry_run,
                            bar)
    for problem in report.problems:
        click.echo(str(problem), err=True)
    counts = (f"{report.cases} case(s), {report.recommendations} recommendation(s) and {report.actions} action(s) "
              f"from {file.name} ({report.rows} rows)")
    if report.cases or not report.problems:
        click.echo(f"{'would import' if dry_run else 'imported'} {counts}" + ("; nothing written (dry run)"
                                                                             if dry_run else ""))
    if report.problems and all_or_nothing:
        click.echo(f"{len(report.bad_rows)} bad row(s): nothing {'would be ' if dry_run else ''}imported (all or "
                   "nothing); fix them and run again, or use --per-row to import the cases whose rows are all good",
                   err=True)
    elif report.problems:
        skipped = f"; rows {', '.join(map(str, report.skipped))} belong to a case with a bad row" \
            if report.skipped else ""
        click.echo(f"{len(report.bad_rows)} bad row(s) not imported{skipped}", err=True)
    if report.problems:
        sys.exit(1)


# --- demo --------------------------------------------------------------------------------------

@cli.command()
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the demo database (default: a new temporary folder).")
def demo(folder: Path | None) -> None:
    """Walk realistic cases through their lifecycles over simulated months, on a fresh SQLite file."""
    from reviewflow.engine.services.demo import run_demo

    run_demo(folder, click.echo)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status instead of exiting when called from tests."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="reviewflow", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        if argv is None:
            raise
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":  # pragma: no cover
    main()
