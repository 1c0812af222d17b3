"""The administration pages (`/admin/...`), for administrators only: the services refuse anyone else (403), as
they refuse `reviewflow user ...`, `workflow load`, `outbox retry` and `audit log` on the command line.

This module holds the overview, deliveries (failed notifications and retrying them) and the administration log;
people are in `admin_users`, loading workflows in `admin_workflows`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from reviewflow.engine.core.access import Identity
from reviewflow.web.pages import admin_password, admin_users, admin_workflows
from reviewflow.web.pages.admin_view import details_text
from reviewflow.web.pages.common import check_csrf, page, redirect, reviewflow, signed_in

router = APIRouter(include_in_schema=False)
router.include_router(admin_users.router)
router.include_router(admin_workflows.router)
router.include_router(admin_password.router)

Who = Annotated[Identity, Depends(signed_in)]
Text = Annotated[str, Form()]

STATUSES = ("failed", "pending", "sent")
LOG_ENTRIES = 200
"""How many of the newest administration log entries the page shows (`reviewflow audit log` gives them all)."""


@router.get("/admin")
def admin_page(request: Request, who: Who) -> Response:
    """The overview: people, workflows, deliveries that failed, the newest changes."""
    rf = reviewflow(request)
    accounts = rf.accounts_list(who)
    failed = rf.outbox("failed", by=who)
    return page(request, "admin/index.html", accounts=accounts, active=sum(1 for a in accounts if a.active),
                workflows=rf.workflows(), failed=len(failed), section="overview")


@router.get("/admin/deliveries")
def deliveries_page(request: Request, who: Who, status: str = "failed", retried: int | None = None) -> Response:
    """Notifications and how their delivery stands (failed first); failed ones can be sent again."""
    rf = reviewflow(request)
    chosen = status if status in (*STATUSES, "all") else "failed"
    entries = rf.outbox(None if chosen == "all" else chosen, by=who)
    failed = entries if chosen == "failed" else rf.outbox("failed", by=who)
    return page(request, "admin/deliveries.html", entries=entries, status_shown=chosen, statuses=(*STATUSES, "all"),
                failed=len(failed), retried=retried, section="deliveries")


@router.post("/admin/deliveries/retry")
def retry_deliveries(request: Request, who: Who, csrf_token: Text = "", scope: Text = "",
                     ids: Annotated[list[str] | None, Form()] = None) -> Response:
    """Put the chosen failed notifications (or every failed one) back in the queue for the worker."""
    check_csrf(request, {"csrf_token": csrf_token})
    rf = reviewflow(request)
    chosen = sorted({int(i) for i in ids or [] if i.strip().isdigit()})
    if scope != "all" and not chosen:
        entries = rf.outbox("failed", by=who)
        return page(request, "admin/deliveries.html", status=422, entries=entries, status_shown="failed",
                    statuses=(*STATUSES, "all"),
                    failed=len(entries), retried=None, section="deliveries",
                    errors=[{"field": "ids", "text": "Choose at least one failed delivery to retry, or retry them "
                             "all"}])
    count = rf.retry_outbox([] if scope == "all" else chosen, by=who)
    return redirect(f"/admin/deliveries?status=pending&retried={count}")


@router.get("/admin/log")
def log_page(request: Request, who: Who) -> Response:
    """The administration log: who changed what and when, newest first (sealed in the audit chain)."""
    events = reviewflow(request).admin_events(who, LOG_ENTRIES)
    return page(request, "admin/log.html", events=[(e, details_text(e.details)) for e in events],
                limit=LOG_ENTRIES, section="log")
