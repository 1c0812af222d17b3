"""Running reviewflow: `init`, `escalate`, `run`, `outbox`, `audit`, `db` and `schedule`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reviewflow.cli import acting, echo_json, echo_lines, echo_result, json_option, os_account, service


@click.command()
@click.option("--workflows", "extra", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Also load this definition file or folder of *.yaml files.")
@click.option("--admin", "admin_name", metavar="NAME",
              help="On a new database, the first administrator's user name (default: your operating-system account).")
@click.option("--admin-email", metavar="EMAIL", help="The first administrator's e-mail address.")
@click.pass_context
def init(ctx: click.Context, extra: tuple[Path, ...], admin_name: str | None, admin_email: str | None) -> None:
    """Create the database (if needed), load the shipped workflows, and register the first administrator.

    Once the database has an administrator, only an administrator may run it again."""
    from reviewflow.engine.render.lines import load_line

    rf = service(ctx)
    files = [f for p in extra for f in (sorted(p.glob("*.yaml")) if p.is_dir() else [p])]
    by = acting() if rf.has_admin() else None
    for result in rf.init(files, by=by):
        click.echo(load_line(result))
    if by is None:
        account = os_account()
        code = rf.first_admin(admin_name or account, account, admin_email)
        if code:
            click.echo(f"administrator {admin_name or account} registered, acting from the operating-system "
                       f"account {account}")
            click.echo(f"one-time code to set their password for the web pages (works once): {code}")
            click.echo(f"  reviewflow user password --code {code}", err=True)
    click.echo(f"database ready: {service(ctx).db.shown}")


# --- escalation and the worker ------------------------------------------------------------------------

@click.command()
@click.option("--dry-run", is_flag=True, help="Show what would fire; change nothing.")
@json_option
@click.pass_context
def escalate(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Run one escalation sweep now (or at --now): reminders and ladder levels that are due."""
    from reviewflow.engine.render.lines import sweep_lines

    report = service(ctx).sweep(dry_run=dry_run, by=acting())
    if as_json:
        echo_json(report)
    else:
        echo_lines(sweep_lines(report, dry_run))


@click.command()
@click.option("--interval", type=click.FloatRange(min=1), help="Seconds between sweeps (default 60).")
@click.option("--once", is_flag=True, help="One sweep and one delivery round, then exit (for cron).")
@click.pass_context
def run(ctx: click.Context, interval: float | None, once: bool) -> None:
    """Run the worker: sweep escalations and deliver notifications until stopped (SIGTERM/Ctrl-C)."""
    code = service(ctx).run_worker(interval, once=once)
    if code:
        sys.exit(code)


# --- the outbox ---------------------------------------------------------------------------------------

@click.group("outbox")
def outbox_group() -> None:
    """See and retry notifications waiting to be delivered."""


@outbox_group.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "failed", "skipped"]), help="Only rows in this status.")
@click.option("--ref", help="Only notifications about this case.")
@json_option
@click.pass_context
def outbox_list(ctx: click.Context, status: str | None, ref: str | None, as_json: bool) -> None:
    """List notifications and their delivery status."""
    from reviewflow.engine.render.lines import outbox_lines

    rows = service(ctx).outbox(status, ref, by=acting())
    if as_json:
        echo_json(rows)
    else:
        echo_lines(outbox_lines(rows))


@outbox_group.command("retry")
@click.argument("ids", nargs=-1, type=click.IntRange(1, 2**63 - 1))
@json_option
@click.pass_context
def outbox_retry(ctx: click.Context, ids: tuple[int, ...], as_json: bool) -> None:
    """Put failed notifications (all, or those with these IDs) back in the queue."""
    from reviewflow.engine.render.lines import retry_lines

    count = service(ctx).retry_outbox(list(ids), by=acting())
    if as_json:
        echo_json({"requeued": count, "asked": list(ids) or "all failed"})
        return
    echo_lines(retry_lines(count, len(ids)))


# --- audit and the database ---------------------------------------------------------------------------

@click.group("audit")
def audit_group() -> None:
    """Check that the recorded history has not been altered."""


@audit_group.command("verify")
@click.argument("ref", required=False)
@click.option("--against", "checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also check the database still holds the head of this checkpoint (from 'audit checkpoint').")
@json_option
@click.pass_context
def audit_verify(ctx: click.Context, ref: str | None, checkpoint: Path | None, as_json: bool) -> None:
    """Recompute the seals of every history, escalation and administration row (or those of case REF), and check
    the cases, their learning records, the users and the outbox against what the sealed rows record.

    Exits 0 when everything is intact, 1 naming each altered, deleted or inserted row, case, record or user.
    """
    from reviewflow.engine.render.lines import audit_json, audit_lines

    def progress(done: int, total: int) -> None:
        if total >= 2000 and (done % 2000 == 0 or done == total):
            click.echo(f"checked {done} of {total} cases", err=True)

    against = _read_checkpoint(checkpoint) if checkpoint else None
    report = service(ctx).verify_audit(ref, progress, by=acting(), checkpoint=against)
    unkeyed = report.scheme != "hmac-sha256"
    if as_json:
        echo_json({**audit_json(report), "scheme": report.scheme})
    else:
        echo_lines(audit_lines(report))
        if unkeyed:
            click.echo("unkeyed seals: run 'reviewflow audit rekey'", err=True)
    if not report.ok:
        raise click.exceptions.Exit(1)


def _read_checkpoint(path: Path) -> dict[str, object]:
    import json

    from reviewflow.engine.core.errors import InvalidValue

    try:
        found = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidValue(f"cannot read the checkpoint {path} ({exc}): give a file written by "
                           "'reviewflow audit checkpoint'") from None
    if not isinstance(found, dict):
        raise InvalidValue(f"{path} is not an audit checkpoint: give a file written by 'reviewflow audit checkpoint'")
    return found


@audit_group.command("rekey")
@json_option
@click.pass_context
def audit_rekey(ctx: click.Context, as_json: bool) -> None:
    """Reseal an old database's unkeyed audit chain with the audit key (administrators; back up first).

    The old chain is verified first; nothing changes unless it is intact."""
    resealed = service(ctx).rekey_audit(by=acting())
    echo_result({"resealed": resealed}, as_json, f"resealed {resealed} rows with the audit key")


@audit_group.command("checkpoint")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the signed checkpoint to this file (made readable by you only).")
@click.pass_context
def audit_checkpoint(ctx: click.Context, out: Path) -> None:
    """Write the audit chain's head, counts and time, signed with the audit key: keep it off the server, and
    check the database against it later with 'audit verify --against FILE'."""
    import json

    from reviewflow.engine.services.private_files import write_private

    found = service(ctx).audit_checkpoint(by=acting())
    text = json.dumps(found, indent=2, sort_keys=True) + "\n"
    write_private(out, text, what=f"the checkpoint {out}")  # mode 0600, whole or not at all
    click.echo(f"checkpoint of {found['head_seq']} sealed rows written to {out}")


@audit_group.command("log")
@click.option("--limit", type=click.IntRange(1, 100000), default=100, show_default=True, help="How many, newest first.")
@json_option
@click.pass_context
def audit_log(ctx: click.Context, limit: int, as_json: bool) -> None:
    """The administration log: who changed users, roles, workflows and data, when, and what (administrators)."""
    from reviewflow.engine.render.text import local, printable

    events = service(ctx).admin_events(acting(), limit)
    if as_json:
        echo_json(events)
        return
    for e in events:
        details = ", ".join(f"{k}={v}" for k, v in e.details.items())
        click.echo(printable(f"{e.seq:>5}  {local(e.at)}  {e.actor:<24} {e.action:<20} {e.target}  {details}"))


@click.group("db")
def db_group() -> None:
    """The database itself: its schema version."""


@db_group.command("upgrade")
@json_option
@click.pass_context
def db_upgrade(ctx: click.Context, as_json: bool) -> None:
    """Migrate the database's tables to this version of reviewflow (back it up first)."""
    rf = service(ctx)
    before, after = rf.upgrade_schema(by=acting() if rf.has_admin() else None)
    if as_json:
        echo_json({"from": before, "to": after, "upgraded": before != after})
    elif before == after:
        click.echo(f"database schema already at {after}: nothing to do")
    else:
        click.echo(f"database schema upgraded from {before} to {after}")


# --- schedule -----------------------------------------------------------------------------------------

@click.group("schedule")
def schedule_group() -> None:
    """Recurring reviews: what the workflows' schedules open next, and opening what is due."""


@schedule_group.command("list")
@json_option
@click.pass_context
def schedule_list(ctx: click.Context, as_json: bool) -> None:
    """Show each scheduled workflow's next case, its last one, and any period due but not opened."""
    from reviewflow.engine.render.lines import schedule_lines

    rows = service(ctx).upcoming_periods()
    if as_json:
        echo_json(rows)
    else:
        echo_lines(schedule_lines(rows))


@schedule_group.command("run")
@click.option("--dry-run", is_flag=True, help="Show which cases would open; change nothing.")
@json_option
@click.pass_context
def schedule_run(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Open the case of every period due now (or at --now) that is not open yet, each exactly once."""
    from reviewflow.engine.render.lines import schedule_run_lines

    report = service(ctx).open_due_periods(dry_run=dry_run, by=acting())
    if as_json:
        echo_json(report)
    else:
        echo_lines(schedule_run_lines(report, dry_run))
    if report.failed:
        sys.exit(1)


@schedule_group.command("cover")
@click.argument("schedule")
@click.argument("period")
@click.argument("ref")
@json_option
@click.pass_context
def schedule_cover(ctx: click.Context, schedule: str, period: str, ref: str, as_json: bool) -> None:
    """Record that case REF, opened by hand, is the case of SCHEDULE's PERIOD: no worker opens it again."""
    run_ = service(ctx).cover_period(schedule, period, ref, by=acting())
    echo_result(run_, as_json, f"{schedule} period {run_.period} is covered by case {run_.case_ref}")


COMMANDS = [init, escalate, run, outbox_group, audit_group, db_group, schedule_group]
