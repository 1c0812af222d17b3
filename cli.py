"""The `reviewflow` command line: the root group, its global options, the error handling and `main()`.

The commands live in `commands/`, one module per family: each parses its arguments, calls one
`Reviewflow` method and renders the result. Heavy imports live inside the commands so
`reviewflow --help` stays instant.

Every refusal is a `ReviewflowError`: the root group prints it as one line on standard error and
exits with the status of its kind (docs/cli.md#exit-status). Click's own usage errors exit 2.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from reviewflow.engine.core.access import Identity
    from reviewflow.engine.render.lines import Line
    from reviewflow.engine.render.table import Output
    from reviewflow.engine.services.facade import Reviewflow

DEFAULT_DB = "sqlite:///reviewflow.db"


@dataclass
class Settings:
    db: str
    now: str | None
    log_json: bool
    verbose: bool
    config: Path | None = None
    db_given: bool = True
    """False when neither --db nor $REVIEWFLOW_DB gave the database: it is looked for (`database_url`)."""
    _service: Reviewflow | None = field(default=None, repr=False, compare=False)
    _identities: dict[str | None, Identity | None] = field(default_factory=dict, repr=False, compare=False)

    def identity(self, actor: str | None, required: bool = True) -> Identity | None:
        """Who is acting: the holder of REVIEWFLOW_TOKEN, else the user mapped to the operating-system account
        running the command; with `actor` (--as), that person, if the one acting is an administrator."""
        if actor not in self._identities:
            self._identities[actor] = self._identify(actor)
        found = self._identities[actor]
        if found is None and required:
            from reviewflow.engine.core.errors import NotSignedIn

            account = os_account()
            raise NotSignedIn(f"nobody is signed in: the operating-system account {account} is not mapped to a "
                              "reviewflow user; ask an administrator to run 'reviewflow user change YOUR-NAME "
                              f"--os-account {account}', or set REVIEWFLOW_TOKEN to a personal API token "
                              "(see docs/security.md)", user=account)
        return found

    def _identify(self, actor: str | None) -> Identity | None:
        import os

        rf = self.service()
        token = os.environ.get("REVIEWFLOW_TOKEN", "").strip()
        base = rf.identify_token(token) if token else rf.identify_os(os_account())
        if actor and base is not None and actor != base.name:
            return rf.act_as(base, actor)
        if actor and base is None:
            return None
        return base

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

        clock = fixed_clock(parse_instant(self.now)) if self.now else system_clock
        return Reviewflow.connect(self.database_url(), clock, load_settings(self.config, os.environ))

    def database_url(self) -> str:
        """The database: --db or $REVIEWFLOW_DB, else the first place `engine/services/locations.py` finds one."""
        if not self.db_given:
            import os

            from reviewflow.engine.services.locations import find_config, find_database

            cwd = Path.cwd()
            self.db = find_database(None, find_config(self.config, cwd, os.environ), cwd, os.environ).value or self.db
            self.db_given = True
        return self.db


def _is_text(arg: str) -> bool:
    """False for a command-line argument holding bytes that are not UTF-8 (Python keeps them as surrogates)."""
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Group(click.Group):
    """Turns every ReviewflowError into one line on stderr and the exit status of its kind."""

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
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_status)


# --- what every command shares ----------------------------------------------------------------------

def settings(ctx: click.Context) -> Settings:
    return ctx.find_object(Settings)  # type: ignore[return-value]


def service(ctx: click.Context) -> Reviewflow:
    """The façade of this command, built from the global options on first use."""
    return settings(ctx).service()


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """The shared --json flag of every listing/showing command."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(func)


def as_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--as", "actor", envvar="REVIEWFLOW_USER", metavar="USER",
                        help="Registered user acting (default: $REVIEWFLOW_USER).")(func)


def field_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--field", "fields", multiple=True, metavar="NAME=VALUE",
                        help="A field value; repeat for several.")(func)


def os_account() -> str:
    """The name of the operating-system account running this command."""
    from reviewflow.engine.services.accounts import os_account as running

    return running()


def acting(actor: str | None = None) -> Identity:
    """The person acting in this command (see `Settings.identity`): refused when nobody is signed in."""
    found = settings(click.get_current_context()).identity(actor)
    assert found is not None
    return found


def field_values(pairs: Sequence[str]) -> dict[str, str]:
    from reviewflow.engine.core.fields import split_assignments

    return split_assignments(pairs)


def echo_json(value: Any) -> None:
    from reviewflow.engine.render.text import to_json

    click.echo(to_json(value))


def echo_result(value: Any, as_json: bool, text: str | Callable[[], str]) -> None:
    """Print `value` as JSON with --json, else `text` (a callable is called only when the text is printed)."""
    if as_json:
        echo_json(value)
    else:
        click.echo(text if isinstance(text, str) else text())


def echo_lines(lines: Iterable[Line]) -> None:
    """Print rendered lines in order, each on standard output or standard error as marked."""
    for line in lines:
        click.echo(line.text, err=line.err)


def table_output() -> Output:
    """How wide a table may be and whether it may be coloured: the terminal's width and colour (unless NO_COLOR is
    set) on a terminal; 100 columns and plain text when piped or redirected."""
    import os
    import shutil

    from reviewflow.engine.render.table import WIDTH, Output

    if not sys.stdout.isatty():
        return Output(WIDTH, False)
    return Output(shutil.get_terminal_size((WIDTH, 24)).columns, not os.environ.get("NO_COLOR"))


def echo_table(text: str) -> None:
    """Print a rendered table; on a terminal, through the pager ($PAGER, else less) when it is longer than the
    screen."""
    import shutil

    if sys.stdout.isatty() and text.count("\n") > shutil.get_terminal_size((100, 24)).lines - 2:
        click.echo_via_pager(text, color=True)
        return
    click.echo(text, nl=False)


def echo_fitted(text: str) -> None:
    """Print text; on a terminal, its long lines folded to the terminal's width (`engine/render/fit.py`). Piped
    or redirected, each line is kept whole, for grep and scripts."""
    if sys.stdout.isatty():
        from reviewflow.engine.render.fit import fit

        text = fit(text, table_output().width)
    click.echo(text)


def echo_document(text: str) -> None:
    """Print a document (a report, a page, a diagram); on a terminal its control characters are shown as escapes
    (\\x1b), so a value in it cannot drive the terminal. Piped or redirected, it is printed as rendered."""
    if sys.stdout.isatty():
        from reviewflow.engine.render.escape import printable_lines

        text = printable_lines(text)
    click.echo(text, nl=False)


def write_document(text: str, out: Path | None, what: str) -> None:
    """Print `text` (see `echo_document`), or write it to `out` (mode 0600, atomically) and say so on stderr."""
    if out is None:
        echo_document(text)
        return
    from reviewflow.engine.services.private_files import write_private

    write_private(out, text)  # readable by its owner only, whole or not at all
    click.echo(f"{what} written to {out}", err=True)


# --- the root group -----------------------------------------------------------------------------------

@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="REVIEWFLOW_DB",
              help="Database URL (env REVIEWFLOW_DB): sqlite:///FILE or postgresql+psycopg://... Default: [database] "
                   "url in the settings file, else reviewflow.db here (see 'reviewflow settings paths').")
@click.option("--now", envvar="REVIEWFLOW_NOW", metavar="ISO-DATETIME",
              help="Act as if it were this time (env REVIEWFLOW_NOW): back-date or preview.")
@click.option("--config", envvar="REVIEWFLOW_CONFIG", type=click.Path(dir_okay=False, path_type=Path),
              help="Settings file for e-mail, webhooks and the worker (default: ./reviewflow.toml, else your or the "
                   "machine's configuration folder: see 'reviewflow settings paths').")
@click.option("--log-json", is_flag=True, help="Write logs as JSON lines on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="Log every change (key=value on stderr).")
@click.version_option(package_name="reviewflow")
@click.pass_context
def cli(ctx: click.Context, db: str | None, now: str | None, config: Path | None, log_json: bool,
        verbose: bool) -> None:
    """reviewflow: safeguarding review lifecycles, from referral to evidence of embedding."""
    from reviewflow.engine.services.logs import configure_logging

    configure_logging(json=log_json, level="info" if verbose else "warning")
    ctx.obj = Settings(db or DEFAULT_DB, now, log_json, verbose, config, db_given=db is not None)


def _add_commands(group: click.Group) -> None:
    """Register the command families (each module imports only click when loaded)."""
    from reviewflow.commands import (
        agencies,
        calendar,
        cases,
        clocks,
        completion,
        demo,
        grading,
        learning,
        operations,
        reports,
        returns,
        risks,
        serve,
        subgroups,
        themes,
        transfer,
        users,
        work,
        workflows,
    )
    from reviewflow.commands import settings as database_settings

    for family in (operations, workflows, users, agencies, subgroups, themes, cases, clocks, learning, returns,
                   risks, grading, reports, transfer, serve, demo, calendar, database_settings, work, completion):
        for command in family.COMMANDS:
            group.add_command(command)
    _whole_short_help(group)
    completion.attach(group)


_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)\.(?=\s|$)")


def _whole_short_help(command: click.Command) -> None:
    """Give every command, in every group, the whole first sentence of its help as the line listed under
    'Commands:' (click's default cuts it at the first full stop, 'e.g.' included, and at the terminal's width)."""
    if command.help and not command.short_help:
        text = " ".join(command.help.split("\n\n")[0].split())
        end = _SENTENCE_END.search(text)
        command.short_help = text[: end.start()] if end else text
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _whole_short_help(sub)


_add_commands(cli)


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
    # `python -m reviewflow.cli` runs this file as `__main__`, a second copy of the module: run the
    # installed module's group, whose Settings the commands look up.
    from reviewflow.cli import main as installed_main

    installed_main()
