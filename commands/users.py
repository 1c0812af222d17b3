"""`reviewflow user ...` and `reviewflow token ...`: people, their roles and sign-in, and personal API tokens.

Changing anyone but yourself is for administrators; the services refuse anyone else."""

from __future__ import annotations

from pathlib import Path

import click

from reviewflow.cli import acting, echo_json, echo_lines, echo_result, echo_table, json_option, service, table_output


@click.group()
def user() -> None:
    """Register people, the roles they hold, and how they sign in."""


@user.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, help="A role they hold; repeat for several.")
@click.option("--email", help="Where notifications go (one address).")
@click.option("--agency", help="The agency they work for: its overdue actions reach them before other agencies'.")
@click.option("--os-account", help="The operating-system account they use this command line from.")
@json_option
@click.pass_context
def user_add(ctx: click.Context, name: str, roles: tuple[str, ...], email: str | None, agency: str | None,
             os_account: str | None, as_json: bool) -> None:
    """Register a user with one or more roles (administrators)."""
    u = service(ctx).add_user(name, list(roles), email, agency, by=acting(), os_account=os_account)
    echo_result(u, as_json, f"added {u.name}: {', '.join(u.roles)}" + (f" ({u.agency})" if u.agency else ""))


@user.command("grant")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, help="A role to give; repeat for several.")
@click.option("--subgroup", help="Hold the roles for this sub-group only (e.g. audit); default: partnership-wide.")
@json_option
@click.pass_context
def user_grant(ctx: click.Context, name: str, roles: tuple[str, ...], subgroup: str | None, as_json: bool) -> None:
    """Give a registered user more roles, partnership-wide or for one sub-group (administrators)."""
    u = service(ctx).grant(name, list(roles), by=acting(), subgroup=subgroup)
    echo_result(u, as_json, f"{u.name} now holds: {', '.join(u.roles)}")


@user.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and show what would change; write nothing.")
@json_option
@click.pass_context
def user_import(ctx: click.Context, file: Path, dry_run: bool, as_json: bool) -> None:
    """Register the people listed in a CSV file (columns name, email, agency, roles, os_account; roles separated
    by ';'); people already registered gain the roles listed. Every row or none (administrators)."""
    from reviewflow.engine.render.lines import user_import_lines

    report = service(ctx).import_users(file, by=acting(), dry_run=dry_run)
    if as_json:
        echo_json(report)
        return
    echo_lines(user_import_lines(report))


@user.command("change")
@click.argument("name")
@click.option("--disable", "disable", flag_value=True, default=None,
              help="A leaver: they can no longer sign in; their sessions and tokens stop working.")
@click.option("--enable", "disable", flag_value=False, help="Let a disabled user sign in again.")
@click.option("--email", help="A new e-mail address (one address).")
@click.option("--os-account", help='The operating-system account they use (give "" to unmap).')
@click.option("--admin/--no-admin", "admin", default=None, help="Give or take the administrator capability.")
@click.option("--revoke", "revoke", multiple=True, metavar="ROLE", help="A role to take away; repeat for several.")
@click.option("--subgroup", help="With --revoke: take away the roles held for this sub-group only.")
@click.option("--notify", type=click.Choice(["immediate", "daily"]),
              help="immediate: an e-mail per notification; daily: one digest a day (yourself, or administrators).")
@json_option
@click.pass_context
def user_change(ctx: click.Context, name: str, disable: bool | None, email: str | None, os_account: str | None,
                admin: bool | None, revoke: tuple[str, ...], subgroup: str | None, notify: str | None,
                as_json: bool) -> None:
    """Disable or enable a user, change their e-mail address or operating-system account, give or take the
    administrator capability, or revoke roles (administrators); choose how they are notified (they may too)."""
    rf = service(ctx)
    others = revoke or any(v is not None for v in (disable, email, os_account, admin))
    if notify is not None:
        account = rf.set_notification_preference(acting(), name, notify)
    if others or notify is None:
        account = rf.change_user(acting(), name, disable=disable, email=email, os_account=os_account, admin=admin,
                                 revoke=revoke, subgroup=subgroup)
    if as_json:
        echo_json(account)
        return
    state = "disabled" if account.disabled_at else "active"
    extras = [f"email {account.email}" if account.email else "no email",
              f"os account {account.os_account}" if account.os_account else "no os account",
              f"notified {'daily' if account.notify == 'daily' else 'at once'}"]
    click.echo(f"{account.name} ({state}{', administrator' if account.admin else ''}): "
               f"{', '.join(account.roles) or 'no roles'}; {'; '.join(extras)}")


@user.command("setup-code")
@click.argument("name")
@click.pass_context
def user_setup_code(ctx: click.Context, name: str) -> None:
    """A one-time code with which NAME sets their own password (administrators; shown once)."""
    code = service(ctx).setup_code(acting(), name)
    click.echo(f"one-time code for {name} (give it to them; it works once): {code}")
    click.echo(f"they set their password with: reviewflow user password {name} --code CODE, or on the web "
               "sign-in page", err=True)


@user.command("password")
@click.argument("name", required=False)
@click.option("--code", help="A one-time set-up code from an administrator (then no sign-in is needed).")
@click.pass_context
def user_password(ctx: click.Context, name: str | None, code: str | None) -> None:
    """Set a password: your own, anyone's (administrators), or with a one-time set-up code."""
    password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    rf = service(ctx)
    if code:
        whose = rf.use_setup_code(code, password)
    else:
        who = acting()
        whose = name or who.name
        rf.set_password(who, whose, password)
    click.echo(f"password set for {whose}")


@user.command("list")
@json_option
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List users: roles, e-mail, agency, and whether they are active or administrators."""
    accounts = service(ctx).accounts_list(by=acting())
    if as_json:
        echo_json(accounts)
        return
    from reviewflow.engine.render.list_tables import user_table

    echo_table(user_table(accounts, table_output()))


@click.group()
def token() -> None:
    """Personal API tokens for integrations: shown once, stored hashed, with an expiry."""


@token.command("create")
@click.option("--name", "label", required=True, help="What it is for, e.g. 'police case system'.")
@click.option("--scope", type=click.Choice(["read", "write"]), default="read", show_default=True,
              help="read: see only; write: also change.")
@click.option("--days", type=click.IntRange(1, 366), help="How long it lasts (default 90 days).")
@click.option("--user", "for_user", help="Whose token (administrators; default: yours).")
@json_option
@click.pass_context
def token_create(ctx: click.Context, label: str, scope: str, days: int | None, for_user: str | None,
                 as_json: bool) -> None:
    """Make a personal API token; it is printed once and never again."""
    who = acting()
    made = service(ctx).create_token(who, for_user or who.name, label, scope, days)
    if as_json:
        echo_json({"token": made.secret, **vars(made.token)})
        return
    click.echo(made.secret)
    click.echo(f"token {made.token.id} ({made.token.scope}) for {made.token.user}, expires "
               f"{made.token.expires_at:%Y-%m-%d}: keep it secret; it is not shown again", err=True)


@token.command("list")
@json_option
@click.pass_context
def token_list(ctx: click.Context, as_json: bool) -> None:
    """List your tokens (every token, for administrators); never the tokens themselves."""
    who = acting()
    tokens = service(ctx).tokens(who, None if who.admin else who.name)
    if as_json:
        echo_json(tokens)
        return
    for t in tokens:
        state = "revoked" if t.revoked_at else f"expires {t.expires_at:%Y-%m-%d}"
        click.echo(f"{t.id:>5}  {t.prefix}…  {t.user:<16} {t.scope:<5} {state:<18} {t.name}")


@token.command("revoke")
@click.argument("token_id", type=click.IntRange(1, 2**63 - 1), metavar="ID")
@json_option
@click.pass_context
def token_revoke(ctx: click.Context, token_id: int, as_json: bool) -> None:
    """Revoke token ID: it stops working at once."""
    found = service(ctx).revoke_token(acting(), token_id)
    echo_result(found, as_json, f"token {found.id} of {found.user} revoked")


COMMANDS = [user, token]
