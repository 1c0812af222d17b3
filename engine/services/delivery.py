"""Delivering the outbox: at least once, retried with exponential backoff, failures reported.

Nothing one row holds can stop the rest: whatever goes wrong sending it (a refused server, an address with a
line break, a bug) is that row's failure, retried and in the end reported. E-mails (and the log) are sent
in the calling thread, webhooks beside them in a small pool of threads with their own time-out and time
budget, so a receiver that hangs holds up neither the e-mails nor the next sweep for long.
"""

from __future__ import annotations

import builtins
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from reviewflow.engine.core.notices import Outgoing, expand, one_line, redact_urls
from reviewflow.engine.core.records import OutboxEntry
from reviewflow.engine.services.channels import (
    DeliveryFailed,
    Message,
    available_channels,
    deliver,
    post_webhooks,
    with_links,
)
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.digest import hold_for_digest
from reviewflow.store import outbox, repo

if TYPE_CHECKING:
    from sqlmodel import Session

log = structlog.get_logger("reviewflow.delivery")

Sender = Callable[[Message, datetime], None]
NO_TARGETS = "no webhook targets are configured for the worker ([webhooks] urls): not posted"


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    waiting_for_smtp: int = 0
    skipped: int = 0


def _why(exc: Exception) -> str:
    """What a failed row records: a channel's own reason as it says it, any other fault with its kind."""
    return str(exc) if isinstance(exc, DeliveryFailed) else f"{type(exc).__name__}: {exc}"


class Deliverer:
    """Claims due outbox rows with a lease, delivers them outside the transaction, records the outcome."""

    def __init__(self, ctx: ServiceContext, send: Sender | None = None) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.send: Sender = send or (lambda m, when: deliver(self.settings, m, when))
        self._lock = threading.Lock()

    def _channels(self) -> set[str]:
        return available_channels(self.settings)

    def run(self, limit: int | None = None) -> DeliveryReport:
        """Deliver everything due now (in batches); return what happened."""
        report = DeliveryReport()
        self.ctx.ensure_ready()
        size = limit or self.settings.batch_size
        hooks = self.settings.webhook
        deadline = time.monotonic() + hooks.budget_seconds
        pending: list[Future[None]] = []
        if self.settings.webhooks:
            with self.ctx.transaction() as s:
                outbox.add_webhook_rows(s, outbox.waiting_elsewhere(s, self._channels(), size), self.ctx.clock())
        with ThreadPoolExecutor(max_workers=hooks.concurrency, thread_name_prefix="webhook") as pool:
            while (batch := self._claim(size, deadline)) is not None:
                pending += [pool.submit(self._webhook, e, report, deadline) for e in batch if e.channel == "webhook"]
                for entry in batch:
                    if entry.channel != "webhook":
                        self._one(entry, report)
            for future in pending:
                future.result()
        if self.settings.smtp is None:
            with self.ctx.transaction() as s:
                report.waiting_for_smtp = outbox.waiting(s, "email")
            if report.waiting_for_smtp:
                log.warning("delivery.smtp_not_configured", waiting=report.waiting_for_smtp,
                            hint="set REVIEWFLOW_SMTP_HOST or [smtp] in reviewflow.toml")
        return report

    def _claim(self, size: int, deadline: float) -> builtins.list[OutboxEntry] | None:
        """The next batch to deliver (None when nothing is due): webhook rows only while the round's budget for
        them lasts; the webhook row of each notification picked up is queued when the worker has targets."""
        now = self.ctx.clock()
        channels = self._channels()
        if time.monotonic() > deadline:
            channels.discard("webhook")
        with self.ctx.transaction() as s:
            claimed = outbox.claim(s, now, size, self.settings.lease_seconds, channels)
            if self.settings.webhooks:
                outbox.add_webhook_rows(s, claimed, now)
            batch = hold_for_digest(s, claimed)
        return batch if claimed else None

    def _message(self, entry: OutboxEntry) -> Message:
        return Message(entry.key, entry.channel, entry.recipient, entry.address, entry.event,
                       with_links(self.settings, entry.payload))

    def _one(self, entry: OutboxEntry, report: DeliveryReport) -> None:
        now = self.ctx.clock()
        try:
            self.send(self._message(entry), now)
        except Exception as exc:  # noqa: BLE001 - whatever one row does, the others go out
            self._failed(entry, _why(exc), report)
            return
        with self.ctx.transaction() as s:
            outbox.mark_sent(s, entry.id, now)
        self._count(report, "sent")

    def _webhook(self, entry: OutboxEntry, report: DeliveryReport, deadline: float) -> None:
        """One notification to the worker's webhook targets not yet reached (in a thread of the pool)."""
        now = self.ctx.clock()
        if time.monotonic() > deadline:  # this round's time for webhooks is spent: the next round tries it
            with self.ctx.transaction() as s:
                outbox.release(s, [entry.id], now)
            return
        reason = NO_TARGETS if not self.settings.webhooks else _older_copy(entry)
        if reason:
            with self.ctx.transaction() as s:
                outbox.mark_skipped(s, entry.id, reason)
            self._count(report, "skipped")
            log.warning("delivery.webhook_skipped", key=entry.key, reason=reason,
                        hint="set [webhooks] urls in the worker's reviewflow.toml")
            return
        try:
            result = post_webhooks(self.settings, self._message(entry), now, entry.payload.get("webhooks_done", ()))
        except Exception as exc:  # noqa: BLE001 - a fault in one row is that row's failure
            self._failed(entry, _why(exc), report)
            return
        if result.errors:
            with self.ctx.transaction() as s:
                outbox.webhook_progress(s, entry.id, result.done)
            self._failed(entry, "; ".join(result.errors), report)
            return
        with self.ctx.transaction() as s:
            outbox.webhook_progress(s, entry.id, result.done)
            outbox.mark_sent(s, entry.id, now)
        log.info("notification.delivered", key=entry.key, channel="webhook", recipient=entry.recipient,
                 notice=entry.event, ref=entry.payload.get("ref"), state=entry.payload.get("state"),
                 level=entry.payload.get("level"), targets=len(self.settings.webhooks))
        self._count(report, "sent")

    def _count(self, report: DeliveryReport, outcome: str) -> None:
        with self._lock:
            setattr(report, outcome, getattr(report, outcome) + 1)

    def _failed(self, entry: OutboxEntry, error: str, report: DeliveryReport) -> None:
        error = redact_urls(one_line(error)) or "unknown error"
        now = self.ctx.clock()
        if entry.attempts < self.settings.max_attempts:
            wait = self.settings.backoff(entry.attempts)
            with self.ctx.transaction() as s:
                outbox.mark_retry(s, entry.id, now + timedelta(seconds=wait), error)
            self._count(report, "retrying")
            log.warning("delivery.retry", key=entry.key, channel=entry.channel, attempts=entry.attempts,
                        retry_in_seconds=wait, error=error)
            return
        with self.ctx.transaction() as s:
            outbox.mark_failed(s, entry.id, error)
            if entry.event != "delivery_failed":
                self._report_failure(s, entry, error, now)
        self._count(report, "failed")
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


def _older_copy(entry: OutboxEntry) -> str | None:
    """Why a webhook row queued by an older version (one row per URL, `...:webhook1` on) is not posted: the
    notification's first row (`...:webhook0`) goes to every target of the worker's settings already."""
    found = re.search(r":webhook([1-9][0-9]*)$", entry.key)
    if entry.address is None or found is None:
        return None
    return f"queued by an older version for one target of several: {entry.key[:found.start()]}:webhook0 " \
           "goes to each of the worker's targets"


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
