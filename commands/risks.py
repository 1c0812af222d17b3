"""`reviewflow risk ...`: the risks on a risk register case (add, review, close, list)."""

from __future__ import annotations

import click

from reviewflow.cli import acting, as_option, echo_json, echo_lines, json_option, service


@click.group()
def risk() -> None:
    """Risks on a risk register: each with its owner, controls and score (likelihood × impact, 1 to 5 each)."""


# Scores are taken as typed and checked by the service (1 to 5), so every front end refuses them alike.

@risk.command("add")
@click.argument("ref")
@click.option("--title", required=True, help="What the risk is, in a line.")
@click.option("--owner", required=True, metavar="USER", help="The registered person who owns the risk.")
@click.option("--agency", help="The owner's agency (default: the agency the owner is registered with).")
@click.option("--likelihood", required=True, help="How likely: 1 (rare) to 5 (almost certain).")
@click.option("--impact", required=True, help="How serious: 1 (negligible) to 5 (severe).")
@click.option("--controls", required=True, help="The controls in place to reduce the risk.")
@as_option
@json_option
@click.pass_context
def risk_add(ctx: click.Context, ref: str, title: str, owner: str, agency: str | None, likelihood: str, impact: str,
             controls: str, actor: str | None, as_json: bool) -> None:
    """Add a risk to the register on case REF, numbered R1, R2... in order, with its first score."""
    found = service(ctx).add_risk(ref, acting(actor), title, owner, likelihood, impact, controls, agency)
    if as_json:
        echo_json(found.view())
        return
    from reviewflow.engine.render.risks import risk_text

    click.echo(f"{ref}: added {risk_text(found)}")


@risk.command("review")
@click.argument("ref")
@click.argument("number", metavar="RISK")
@click.option("--likelihood", required=True, help="How likely now: 1 (rare) to 5 (almost certain).")
@click.option("--impact", required=True, help="How serious now: 1 (negligible) to 5 (severe).")
@click.option("--note", help="What changed since the last review (kept in the case's history).")
@as_option
@json_option
@click.pass_context
def risk_review(ctx: click.Context, ref: str, number: str, likelihood: str, impact: str, note: str | None,
                actor: str | None, as_json: bool) -> None:
    """Score risk RISK (e.g. R1) on case REF again at a review; its trend compares the new score with the last."""
    found = service(ctx).review_risk(ref, acting(actor), number, likelihood, impact, note)
    if as_json:
        echo_json(found.view())
        return
    from reviewflow.engine.render.risks import risk_text

    click.echo(f"{ref}: reviewed {risk_text(found)}")


@risk.command("close")
@click.argument("ref")
@click.argument("number", metavar="RISK")
@click.option("--reason", required=True, help="Why the risk is closed (kept in the case's history).")
@as_option
@json_option
@click.pass_context
def risk_close(ctx: click.Context, ref: str, number: str, reason: str, actor: str | None, as_json: bool) -> None:
    """Close risk RISK (e.g. R1) on case REF with a reason; its scores stay on the register."""
    found = service(ctx).close_risk(ref, acting(actor), number, reason)
    if as_json:
        echo_json(found.view())
        return
    from reviewflow.engine.render.risks import risk_text

    click.echo(f"{ref}: closed {risk_text(found)}")


@risk.command("list")
@click.argument("ref", required=False)
@click.option("--detail", is_flag=True, help="Show each risk's controls and every scoring.")
@as_option
@json_option
@click.pass_context
def risk_list(ctx: click.Context, ref: str | None, detail: bool, actor: str | None, as_json: bool) -> None:
    """The risks of case REF (open and closed), or without REF the open risks of every register you may see."""
    found = service(ctx).risks(ref, acting(actor))
    if as_json:
        echo_json([r.view() for r in found])
        return
    from reviewflow.engine.render.risks import risk_detail, risks_lines

    if detail:
        for r in found:
            for line in risk_detail(r) if ref is not None else [f"{r.ref}:", *risk_detail(r)]:
                click.echo(line)
        return
    echo_lines(risks_lines(ref, found))


COMMANDS: list[click.Command] = [risk]
