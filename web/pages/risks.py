"""The case page's risk register (engine/services/risks.py): the forms that add a risk, score one again at a
review and close one with a reason, without JavaScript.

The services decide who may do each (the workflow's learning `manage` roles; a risk's owner may review it) and
refuse in their own words, shown by the field they name, with what was typed kept. The case page only works out
which links to show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from reviewflow.engine.core import limits
from reviewflow.engine.core import risks as rules
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.errors import ReviewflowError
from reviewflow.engine.core.records import CaseView
from reviewflow.engine.core.risks import Risk
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.pages.case import Who, case_link, refused, revision_of
from reviewflow.web.pages.common import check_csrf, form_values, page, redirect, reviewflow

router = APIRouter(include_in_schema=False)
REGISTER_SOURCE = 13
"""The row of the framework's table of sources of learning (engine/core/framework.py) that a risk register
serves: a workflow naming it in `sources:` keeps a register, shown on its case page even while empty."""
ADD_FIELDS = {"title": "title", "owner": "owner", "agency": "agency", "likelihood": "likelihood",
              "impact": "impact", "controls": "controls"}
REVIEW_FIELDS = {"likelihood": "likelihood", "impact": "impact", "note": "note", "risk": "likelihood"}
CLOSE_FIELDS = {"reason": "reason", "risk": "reason"}
_ENDS = {"likelihood": ("rare", "almost certain"), "impact": ("negligible", "severe")}


def _scale(what: str) -> list[tuple[str, str]]:
    """The radios of a likelihood or an impact: 1 to 5, the ends named."""
    low, high = _ENDS[what]
    named = {rules.LOWEST: f"{rules.LOWEST}: {low}", rules.HIGHEST: f"{rules.HIGHEST}: {high}"}
    return [(str(n), named.get(n, str(n))) for n in range(rules.LOWEST, rules.HIGHEST + 1)]


def risk_context(who: Identity, view: CaseView, d: WorkflowDefinition, risks: list[Risk]) -> dict[str, Any]:
    """What the case page shows of the risk register: whether it has one (a workflow serving the framework's
    risk register row, or a case already holding risks), and which links to offer. The links follow the
    services' rules only to decide what to show; the services refuse anyone else."""
    manages = view.is_open and bool(who.roles & set(d.learning.manage))
    links = {r.number: {"review": view.is_open and r.is_open and (manages or r.owner == who.name),
                        "close": manages and r.is_open} for r in risks}
    has_register = bool(risks) or REGISTER_SOURCE in d.sources
    return {"risks": risks, "has_register": has_register, "may_add_risk": has_register and manages,
            "risk_links": links, "risk_actions": any(v for link in links.values() for v in link.values())}


def _risk(rf: Reviewflow, who: Identity, ref: str, number: str) -> Risk:
    """The risk `number` of case REF (not found, in the engine's words, when the case has none by that number)."""
    return rules.find(rf.risks(ref, who), rules.check_number(number, ref), ref)


def _show(request: Request, template: str, who: Identity, ref: str, *, errors: list[dict[str, str]] | None = None,
          values: dict[str, str] | None = None, status: int = 200, stale: bool = False,
          **context: Any) -> Response:
    view = reviewflow(request).case(ref, who)
    kept = values or {}
    return page(request, template, status=status, view=view, errors=errors or [], values=kept,
                revision=kept.get("revision") or view.revision, stale=stale, likelihoods=_scale("likelihood"),
                impacts=_scale("impact"), **context)


# --- adding a risk ------------------------------------------------------------------------------------

def _new_page(request: Request, who: Identity, ref: str, **kw: Any) -> Response:
    rf = reviewflow(request)
    owners = [(u.name, f"{u.name} ({u.agency})" if u.agency else u.name)
              for u in sorted(rf.users(active=True), key=lambda u: u.name)]
    return _show(request, "risk_new.html", who, ref, owners=owners, agencies=rf.agencies(who),
                 title_max=rules.TITLE_LIMIT, controls_max=rules.CONTROLS_LIMIT, **kw)


@router.get("/cases/{ref}/risks/new")
def new_risk_form(request: Request, ref: str, who: Who) -> Response:
    return _new_page(request, who, ref)


async def _send(request: Request, ref: str, who: Identity, change: Callable[[Reviewflow, dict[str, str], Any], Risk],
                show: Callable[..., Response], fields: dict[str, str], fallback: str, done: str) -> Response:
    """Send a risk form to the services: back to the case page with the `done` banner, or the form again with the
    refusal beside its field and what was typed kept."""
    form = await request.form()
    check_csrf(request, form)
    values = form_values(form)
    try:
        changed = change(reviewflow(request), values, form)
    except ReviewflowError as exc:
        return refused(request, exc, show, fields, fallback, values, ref, who)
    return redirect(case_link(ref, done, changed.number))


@router.post("/cases/{ref}/risks/new")
async def add_risk(request: Request, ref: str, who: Who) -> Response:
    """Add a risk to the case's register, with its owner, controls and first score."""
    return await _send(request, ref, who, lambda rf, v, form: rf.add_risk(
        ref, who, v.get("title", ""), v.get("owner", ""), v.get("likelihood", ""), v.get("impact", ""),
        v.get("controls", ""), v.get("agency") or None, revision=revision_of(form)),
        lambda **kw: _new_page(request, who, ref, **kw), ADD_FIELDS, "title", "risk_added")


# --- reviewing a risk -----------------------------------------------------------------------------------

def _review_page(request: Request, who: Identity, ref: str, number: str, **kw: Any) -> Response:
    risk = _risk(reviewflow(request), who, ref, number)
    return _show(request, "risk_review.html", who, ref, risk=risk, note_max=limits.NOTE, **kw)


@router.get("/cases/{ref}/risks/{number}/review")
def review_risk_form(request: Request, ref: str, number: str, who: Who) -> Response:
    return _review_page(request, who, ref, number)


@router.post("/cases/{ref}/risks/{number}/review")
async def review_risk(request: Request, ref: str, number: str, who: Who) -> Response:
    """Score a risk again: its trend compares the new score with the last."""
    return await _send(request, ref, who, lambda rf, v, form: rf.review_risk(
        ref, who, number, v.get("likelihood", ""), v.get("impact", ""), v.get("note", "").strip() or None,
        revision=revision_of(form)),
        lambda **kw: _review_page(request, who, ref, number, **kw), REVIEW_FIELDS, "likelihood", "risk_reviewed")


# --- closing a risk ---------------------------------------------------------------------------------------

def _close_page(request: Request, who: Identity, ref: str, number: str, **kw: Any) -> Response:
    risk = _risk(reviewflow(request), who, ref, number)
    return _show(request, "risk_close.html", who, ref, risk=risk, reason_max=rules.REASON_LIMIT, **kw)


@router.get("/cases/{ref}/risks/{number}/close")
def close_risk_form(request: Request, ref: str, number: str, who: Who) -> Response:
    return _close_page(request, who, ref, number)


@router.post("/cases/{ref}/risks/{number}/close")
async def close_risk(request: Request, ref: str, number: str, who: Who) -> Response:
    """Close a risk with a reason; its scores stay on the register."""
    return await _send(request, ref, who, lambda rf, v, form: rf.close_risk(
        ref, who, number, v.get("reason", ""), revision=revision_of(form)),
        lambda **kw: _close_page(request, who, ref, number, **kw), CLOSE_FIELDS, "reason", "risk_closed")
