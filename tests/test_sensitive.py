"""Fields marked `sensitive: true` stay in the case record and never reach notifications, logs or reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from reviewflow.cli import cli
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.errors import InvalidDefinition
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.services.delivery import Deliverer
from reviewflow.engine.services.escalation import Sweeper
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.engine.services.settings import Settings, SmtpSettings
from reviewflow.store.db import Database

from tests.conftest import FIXTURES, administer
from tests.servers import HOST, SmtpServer, WebhookServer, all_logs

SECRET = "Mother-disclosed-DV-7Q"
SECRET_TOO = "Sibling-known-to-CAMHS-3Z"
MINIMAL = (FIXTURES / "minimal.yaml").read_text("utf-8")


def sensitive_definition() -> str:
    """minimal.yaml with a sensitive field given on opening and another given when accepting."""
    text = MINIMAL.replace(
        "    notifying_agency: {type: text, label: Which agency referred the case}\n",
        "    notifying_agency: {type: text, label: Which agency referred the case}\n"
        "    family_context: {type: text, label: What the family has disclosed, sensitive: true}\n")
    text = text.replace("      decision: {type: choice, options: [yes, no]}\n",
                        "      decision: {type: choice, options: [yes, no]}\n"
                        "      health_history: {type: text, sensitive: true}\n")
    return text.replace("name: minimal\n", "name: sensitive_review\n")


def test_the_definition_knows_its_sensitive_fields() -> None:
    d = parse_definition(sensitive_definition(), "s.yaml")
    assert d.sensitive_fields == {"family_context", "health_history"}
    assert d.shareable({"family_context": "x", "notifying_agency": "Police"}) == {"notifying_agency": "Police"}
    with pytest.raises(InvalidDefinition, match="expected true or false"):
        parse_definition(sensitive_definition().replace("sensitive: true}", "sensitive: yes}", 1), "s.yaml")


@pytest.fixture
def servers() -> Iterator[tuple[SmtpServer, WebhookServer]]:
    smtp = SmtpServer().start()
    hook = WebhookServer()
    yield smtp, hook
    smtp.stop()
    hook.stop()


def test_sensitive_values_never_leave_the_record(db_url: str, tmp_path: Path, clock: SteppingClock,
                                                 servers: tuple[SmtpServer, WebhookServer]) -> None:
    smtp, hook = servers
    path = tmp_path / "sensitive.yaml"
    path.write_text(sensitive_definition(), "utf-8")
    settings = Settings(smtp=SmtpSettings(HOST, smtp.port, sender="rf@example.org", timeout=5.0),
                        webhooks=(hook.url(),))
    service = Reviewflow(Database(db_url), clock, settings)
    with all_logs() as logs:
        service.init([path])
        administer(db_url)
        service.add_user("a.khan", ["business_manager"], "a.khan@example.org")
        service.add_user("d.osei", ["subgroup_chair"], "d.osei@example.org")
        service.open_case("sensitive_review", "SR-1", "a.khan",
                          {"notifying_agency": "Police", "family_context": SECRET})
        clock.advance(days=20)
        Sweeper(service.ctx).sweep()
        service.fire("SR-1", "accept", "d.osei", {"decision": "yes", "health_history": SECRET_TOO})
        clock.advance(days=60)
        Sweeper(service.ctx).sweep()
        Deliverer(service.ctx).run()
    runner = CliRunner()
    cli_run = runner.invoke(cli, ["--db", db_url, "--log-json", "-v", "--now", "2026-06-01", "escalate"])
    assert cli_run.exit_code == 0, cli_run.output
    # The record keeps them...
    shown = json.loads(runner.invoke(cli, ["--db", db_url, "case", "show", "SR-1", "--json"]).output)
    assert shown["fields"]["family_context"] == SECRET
    assert shown["fields"]["health_history"] == SECRET_TOO
    # ...but nothing that left it carries them: e-mails, webhooks, the outbox, the logs.
    assert smtp.received, "expected e-mails to be sent"
    assert hook.requests, "expected webhooks to be posted"
    outbox_rows = runner.invoke(cli, ["--db", db_url, "outbox", "list", "--json"]).output
    reports = []
    for args in [*(["report", "board", "--from", "2026-01-01", "--to", "2026-06-01", "--format", f]
                   for f in ("html", "md", "csv", "json")), ["report", "annual", "--year", "2026", "--format", "json"]]:
        made = runner.invoke(cli, ["--db", db_url, "--now", "2026-06-01", *args])
        assert made.exit_code == 0, made.output
        reports.append(made.output)
    assert "SR-1" in reports[0]
    leaving = [m.message.as_string() for m in smtp.received] + [r.raw.decode() for r in hook.requests]
    leaving += [outbox_rows, json.dumps(logs, default=str), cli_run.output, cli_run.stderr, *reports]
    for text in leaving:
        assert SECRET not in text
        assert SECRET_TOO not in text


def test_agency_fields_by_default_are_the_text_fields_naming_an_agency_never_a_date() -> None:
    """The serious case review has `notifying_agency` (text) and `agency_reports_date` (a date): only the first
    names agencies taking part, so a date never shows as an agency nor widens who sees the case."""
    root = Path(__file__).parent.parent / "workflows"
    scr = parse_definition((root / "serious_case_review.yaml").read_text(encoding="utf-8"))
    assert scr.agency_fields == ("notifying_agency",)
    for path in sorted(root.glob("*.yaml")):
        d = parse_definition(path.read_text(encoding="utf-8"), path.name)
        assert all(d.field_specs[name].type not in ("date", "yesno") for name in d.agency_fields), path.name
