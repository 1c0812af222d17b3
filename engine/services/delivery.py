"""Delivering the outbox: at least once, retried with exponential backoff, failures reported."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from reviewflow.engine.core.notices import Outgoing, expand
from reviewflow.engine.core.records import OutboxEntry
from reviewflow.engine.services.channels import DeliveryFailed, Message, available_channels, deliver
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.digest import hold_for_digest
from reviewflow.store import outbox, repo

if TYPE_CHECKING:
    from sqlmodel import Session

log = structlog.get_logger("reviewflow.delivery")

Sender = Callable[[Message, datetime], None]


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    waiting_for_smtp: int = 0


class Deliverer:
    """Claims due outbox rows with a lease, delivers them outside the transaction, records the outcome."""

    def __init__(self, ctx: ServiceContext, send: Sender | None = None) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.send: Sender = send or (lambda m, when: deliver(self.settings, m, when))

    def _channels(self) -> set[str]:
        return available_channels(self.settings)

    def run(self, limit: int | None = None) -> DeliveryReport:
        """Deliver everything due now (in batches); return what happened."""
        report = DeliveryReport()
        self.ctx.ensure_ready()
        size = limit or self.settings.batch_size
        while True:
            now = self.ctx.clock()
            with self.ctx.transaction() as s:
                claimed = outbox.claim(s, now, size, self.settings.lease_seconds, self._channels())
                batch = hold_for_digest(s, claimed)
            if not claimed:
                break
            for entry in batch:
                self._one(entry, report)
        if self.settings.smtp is None:
            with self.ctx.transaction() as s:
                report.waiting_for_smtp = outbox.waiting(s, "email")
            if report.waiting_for_smtp:
                log.warning("delivery.smtp_not_configured", waiting=report.waiting_for_smtp,
                            hint="set REVIEWFLOW_SMTP_HOST or [smtp] in reviewflow.toml")
        return report

    def _one(self, entry: OutboxEntry, report: DeliveryReport) -> None:
        now = self.ctx.clock()
        message = Message(entry.key, entry.channel, entry.recipient, entry.address, entry.event, entry.payload)
        try:
            self.send(message, now)
        except DeliveryFailed as exc:
            self._failed(entry, str(exc), report)
            return
        with self.ctx.transaction() as s:
            outbox.mark_sent(s, entry.id, now)
        report.sent += 1

    def _failed(self, entry: OutboxEntry, error: str, report: DeliveryReport) -> None:
        now = self.ctx.clock()
        if entry.attempts < self.settings.max_attempts:
            wait = self.settings.backoff(entry.attempts)
            with self.ctx.transaction() as s:
                outbox.mark_retry(s, entry.id, now + timedelta(seconds=wait), error)
            report.retrying += 1
            log.warning("delivery.retry", key=entry.key, channel=entry.channel, attempts=entry.attempts,
                        retry_in_seconds=wait, error=error)
            return
        with self.ctx.transaction() as s:
            outbox.mark_failed(s, entry.id, error)
            if entry.event != "delivery_failed":
                self._report_failure(s, entry, error, now)
        report.failed += 1
        log.error("delivery.failed", key=entry.key, channel=entry.channel, attempts=entry.attempts, error=error)

    def _report_failure(self, s: Session, entry: OutboxEntry, error: str, now: datetime) -> None:
        """Tell the business managers that a notification could not be delivered."""
        payload = {**{k: entry.payload.get(k) for k in ("ref", "workflow", "workflow_title", "state",
                                                        "state_label", "link")},
                   "headline": f"a notification to {entry.recipient} by {entry.channel} could not be delivered",
                   "needed": f"check the address or the server, then run 'reviewflow outbox retry {entry.id}'",
                   "failed_key": entry.key, "error": error[:200]}
        directory = outbox.directory(s, {"business_manager"})
        key = f"{entry.key}:failed-{now:%Y%m%dT%H%M%S%f}"  # one notice per final failure, even after a retry
        items = [o for o in expand(key, "delivery_failed", ["business_manager"], payload, directory)
                 if o.address != entry.address or o.channel != entry.channel]
        if not items:  # the failed message was the business manager's own: the log still gets it
            items = [Outgoing(f"{key}:log", "delivery_failed", "business_manager", "log", "-", None, payload)]
        outbox.add(s, items, None, now)


class OutboxService:
    """What is waiting to be delivered, what failed, and putting failures back in the queue."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def list(self, status: str | None = None, ref: str | None = None) -> builtins.list[OutboxEntry]:
        with self.ctx.read() as s:
            case_id = repo.get_case_record(s, ref).case_id if ref else None
            return outbox.listing(s, status, case_id)

    def retry(self, ids: builtins.list[int]) -> int:
        with self.ctx.transaction() as s:
            count = outbox.retry(s, ids or None, self.ctx.clock())
        log.info("outbox.retry", count=count)
        return count
