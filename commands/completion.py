"""Shell completion: `reviewflow completion bash|zsh|fish` prints the script, and the arguments that name a case,
a workflow, a trigger or a user complete from the database, showing only what the person completing may see.

Completing must never print an error or a traceback into the shell: anything that goes wrong completes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from click.shell_completion import CompletionItem, get_completion_class

from reviewflow.cli import DEFAULT_DB, Settings

Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def _settings(ctx: click.Context) -> Settings:
    """The global options as typed so far (while completing, the root command's own code does not run)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        params = root.params
        root.obj = Settings(params.get("db") or DEFAULT_DB, params.get("now"), False, False, params.get("config"),
                            db_given=bool(params.get("db")))
    return root.obj


def _quietly(find: Callable[[click.Context, str], list[str]]) -> Completer:
    def complete(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        try:
            names = find(ctx, incomplete)
        except Exception:  # noqa: BLE001 - no database, nobody signed in, a half-typed option: offer nothing
            return []
        return [CompletionItem(n) for n in sorted(dict.fromkeys(names)) if n.startswith(incomplete)]
    return complete


def _me(ctx: click.Context) -> Any:
    """Whoever runs the completion, as every command establishes it (never a name typed on the line)."""
    return _settings(ctx).identity(None)


def _refs(ctx: click.Context, _incomplete: str) -> list[str]:
    rf = _settings(ctx).service()
    return [v.ref for v in rf.cases(actor=_me(ctx))]


def _workflows(ctx: click.Context, _incomplete: str) -> list[str]:
    return [d.name for d in _settings(ctx).service().workflows()]


def _users(ctx: click.Context, _incomplete: str) -> list[str]:
    """Registered people, as `user list` shows them: refused (so nothing offered) to anyone it refuses."""
    return [u.name for u in _settings(ctx).service().accounts_list(by=_me(ctx))]


def _triggers(ctx: click.Context, _incomplete: str) -> list[str]:
    ref = ctx.params.get("ref")
    if not ref:
        return []
    rf = _settings(ctx).service()
    view = rf.case(ref, _me(ctx))
    definition = rf.definition(view.workflow, view.version)
    return [t.trigger for t in definition.transitions_from(view.state)]


COMPLETERS: dict[str, Completer] = {
    "ref": _quietly(_refs), "other": _quietly(_refs), "workflow": _quietly(_workflows),
    "workflow_name": _quietly(_workflows), "trigger": _quietly(_triggers), "actor": _quietly(_users),
}
"""By parameter name: what its values complete from."""
_NAMES_OF_USERS = {("user",), ("token",)}
"""Groups whose NAME argument is a user's name."""


def attach(command: click.Command, path: tuple[str, ...] = ()) -> None:
    """Give every parameter named in COMPLETERS (and the NAME of `user ...` commands) its completion."""
    for param in command.params:
        found = COMPLETERS.get(param.name or "")
        if isinstance(param, click.Option) and param.name != "actor":
            found = None  # `case open --ref` names a new case: nothing to complete from
        if param.name in ("ref", "other") and path[:1] not in (("case",), ("action",), ("audit",)):
            found = None
        if found is None and param.name == "name" and path[:1] in _NAMES_OF_USERS:
            found = _quietly(_users)
        if found is None and param.name == "name" and path[:1] == ("workflow",):
            found = _quietly(_workflows)
        if found is not None:
            param._custom_shell_complete = found  # noqa: SLF001 - click's own hook for `shell_complete=`
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            attach(sub, (*path, name))


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL; load it from your shell's start-up file."""
    found: Any = get_completion_class(shell)
    root = click.get_current_context().find_root().command
    click.echo(found(root, {}, "reviewflow", "_REVIEWFLOW_COMPLETE").source())


COMMANDS = [completion]
