"""The demo's story: the cases it opens and the moves, refusals and learning-loop steps it plays, each a number of
working days after the one before. Cases are named by keys (`RR1`); the demo gives each a reference from the year
(and quarter) it opens in, so the story can end on any date."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Step:
    """Fire `trigger` on case `ref` after `days` working days; `fields` override the generated values."""

    days: int
    ref: str
    trigger: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Opening:
    """Open case `ref` of `workflow` after `days` working days."""

    days: int
    workflow: str
    ref: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Attempt:
    """A move that should be refused: shows the engine saying why."""

    days: int
    ref: str
    trigger: str
    actor: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Learn:
    """A learning-loop step: the service method `method` on `ref` as `actor`; a `due` of N sets a due date
    N working days on."""

    days: int
    ref: str
    method: str
    actor: str
    args: dict[str, object] = field(default_factory=dict)


Item = Opening | Step | Attempt | Learn

RR1, RR2, RR3, RR4, MAR1 = "RR1", "RR2", "RR3", "RR4", "MAR1"
MACA1, MACA2, S11, DHR1, TR1 = "MACA1", "MACA2", "S11", "DHR1", "TR1"
REFERENCES = {RR1: "RR-{year}-{n:03d}", RR2: "RR-{year}-{n:03d}", RR3: "RR-{year}-{n:03d}", RR4: "RR-{year}-{n:03d}",
              MAR1: "MAR-{year}-{n:03d}", MACA1: "MACA-{year}-Q{quarter}", MACA2: "MACA-{year}-Q{quarter}",
              S11: "S11-{year}", DHR1: "DHR-{year}-{n:03d}", TR1: "TR-{year}-{n:03d}"}
"""How each case's reference is made when it opens: `n` counts the cases of that pattern opened in the year."""


def _recommend(days: int, ref: str, text: str, themes: list[str], agencies: list[str]) -> Learn:
    return Learn(days, ref, "recommend", "a.khan", {"text": text, "themes": themes, "agencies": agencies})


def _action(days: int, ref: str, rec: str, agency: str, owner: str, due: int, description: str) -> Learn:
    return Learn(days, ref, "add_action", "a.khan", {"recommendation": rec, "description": description,
                                                      "agency": agency, "owner": owner, "due": due,
                                                      "measure": "A re-audit shows the change in practice"})


def _evidence(days: int, ref: str, number: str, owner: str, kind: str, description: str, link: str) -> Learn:
    return Learn(days, ref, "submit_evidence", owner, {"number": number, "kind": kind, "description": description,
                                                        "reference": link})


def _decide(days: int, ref: str, evidence: str, reason: str | None = None) -> Learn:
    return Learn(days, ref, "decide_evidence", "d.osei", {"evidence": evidence, "accept": reason is None,
                                                           "reason": reason})


def _verify(days: int, ref: str, number: str) -> Learn:
    return Learn(days, ref, "verify_action", "d.osei", {"number": number})


def _evaluate(days: int, ref: str, number: str, method: str) -> Learn:
    return Learn(days, ref, "evaluate_action", "d.osei", {"number": number, "method": method, "measured_on": "today",
                                                          "finding": "Practice changed in most audited cases"})


def _embed(days: int, ref: str, number: str) -> Learn:
    return Learn(days, ref, "update_action", "d.osei", {"number": number, "status": "embedded"})


def _check(days: int, ref: str) -> Learn:
    return Learn(days, ref, "record_check", "d.osei", {"outcome": "on_track",
                                                        "note": "Agency chronologies in; family meeting arranged"})


OPENING: list[Item] = [
    Opening(0, "rapid_review_lcspr", RR1, {"incident_type": "child_seriously_harmed",
                                           "incident_date": "3 working days ago",
                                           "awareness_date": "1 working days ago"}),
    Opening(0, "multi_agency_case_audit", MACA1, {"audit_period": "The quarter before the audit",
                                                  "audit_theme": "Neglect"}),
    Step(2, RR1, "notify"),
    Step(1, MACA1, "select_cases", {"selection_criteria": "Six neglect cases open to early help"}),
    Step(7, RR1, "submit_rapid_review", {"recommended_outcome": "lcspr"}),
    Attempt(1, RR1, "commission_lcspr", "d.osei"),
    Opening(2, "rapid_review_lcspr", RR2, {"incident_type": "child_seriously_harmed"}),
    Step(2, RR1, "commission_lcspr", {"decision_rationale": "Agencies did not share concerns about neglect"}),
    Step(2, RR2, "notify"),
    Step(4, MACA1, "audits_returned"),
    Step(5, RR2, "submit_rapid_review", {"recommended_outcome": "other_learning"}),
    Step(3, MACA1, "hold_meeting"),
    Step(4, RR1, "commission"),
    Opening(4, "multi_agency_review", MAR1),
    Step(0, RR2, "route", {"routed_to": "multi_agency_review", "routed_case": MAR1,
                           "decision_rationale": "Criteria for a local review not met; learning on school nursing"}),
    Step(2, MAR1, "refer_to_subgroup"),
    Step(6, MACA1, "present_report"),
    Step(2, MAR1, "commission_review", {"decision_rationale": "Below the threshold for a local review; agencies "
                                                              "want to learn from how the referral was handled"}),
    Opening(2, "section_11_audit", S11),
    Learn(0, S11, "request_returns", "s.lewis",
          {"agencies": ["Children's social care", "Police", "Health"], "due": 45}),
    _recommend(1, MACA1, "Early help plans name the lead professional and review date", ["neglect"],
               ["Children's social care", "Education"]),
    _action(1, MACA1, "R1", "Children's social care", "m.patel", 40, "Refresh the early help plan template"),
    _action(0, MACA1, "R1", "Education", "t.ng", 45, "Brief designated safeguarding leads on the template"),
    Step(4, MACA1, "agree_actions"),
]
"""The first weeks: the rapid reviews, the first case audit, the multi-agency review and the Section 11 audit."""

MIDDLE: list[Item] = [
    _check(12, RR1),
    Learn(8, S11, "mark_return_in", "m.patel", {"agency": "Children's social care"}),
    Step(3, MAR1, "information_gathered"),
    Opening(3, "rapid_review_lcspr", RR3),
    Step(2, RR3, "notify"),
    Step(4, MAR1, "learning_event_held"),
    Step(5, RR3, "submit_rapid_review", {"recommended_outcome": "lcspr"}),
    Learn(2, S11, "mark_return_in", "s.lewis", {"agency": "Police"}),
    Learn(0, S11, "excuse_return", "s.lewis",
          {"agency": "Health", "reason": "Health's return is folded into the ICB's assurance report"}),
    Step(0, S11, "returns_received"),
    _check(0, RR1),
    Step(5, RR3, "commission_lcspr", {"decision_rationale": "Serious harm, and agencies' information sharing "
                                                            "needs review"}),
    Step(1, RR1, "submit_final_report"),
    Opening(2, "rapid_review_lcspr", RR4),
    Step(3, MAR1, "submit_report"),
    Step(2, RR4, "notify"),
    Step(4, RR3, "commission"),
    Step(4, S11, "hold_challenge_panel"),
    Step(5, RR4, "submit_rapid_review", {"recommended_outcome": "no_further_action"}),
    Step(6, RR1, "accept_report"),
    _recommend(1, MAR1, "Information is shared with school nurses when a child is missing education",
               ["information sharing", "voice of the child"], ["Health", "Education"]),
    _action(0, MAR1, "R1", "Health", "h.nurse", 50, "School nurse alert added to the missing education protocol"),
    Step(2, MAR1, "sign_off_report"),
    Step(4, RR4, "close_no_further_action",
         {"decision_rationale": "Agencies worked together well; learning shared through the newsletter"}),
    _recommend(1, S11, "Agencies evidence safer recruitment checks in their returns", ["safer recruitment"], []),
    _action(0, S11, "R1", "Health", "h.nurse", 60, "Add safer recruitment sampling to the audit cycle"),
    Step(3, S11, "agree_actions"),
    Opening(10, "multi_agency_case_audit", MACA2, {"audit_period": "The quarter before the audit",
                                                   "audit_theme": "Adolescents missing from home"}),
    Step(3, MACA2, "select_cases", {"selection_criteria": "Six cases of adolescents missing from home"}),
]
"""The middle months: more rapid reviews, the Section 11 returns, the LCSPR's report."""

CLOSING: list[Item] = [
    _recommend(2, RR1, "Agencies share concerns about neglect at the first sign", ["neglect", "information sharing"],
               ["Police", "Children's social care"]),
    _recommend(0, RR1, "Practitioners record the child's own words at every visit", ["voice of the child"],
               ["Health"]),
    _action(1, RR1, "R1", "Police", "p.officer", 30, "Police referral policy requires a same-day referral for neglect"),
    _action(0, RR1, "R1", "Children's social care", "m.patel", 60, "Neglect toolkit training for all social workers"),
    _action(0, RR1, "R2", "Health", "h.nurse", 70, "Health visiting template asks for the child's own words"),
    Step(5, RR1, "publish", {"regulators_copied_date": "10 working days ago"}),
    Attempt(5, RR1, "actions_complete", "d.osei"),
    _evidence(10, MACA1, "A1", "m.patel", "policy_change", "New template in use since go-live", "POL-EH-04"),
    _decide(2, MACA1, "E1"),
    _verify(0, MACA1, "A1"),
    _evidence(1, MACA1, "A2", "t.ng", "training_record", "DSL briefing attendance", "TRN-031"),
    _decide(2, MACA1, "E2", reason="Attendance alone does not show practice changed: add a sample of plans"),
    _evidence(5, MACA1, "A2", "t.ng", "audit_result", "Sample of 10 plans: 9 name the lead professional", "AUD-044"),
    _decide(1, MACA1, "E3"),
    _verify(0, MACA1, "A2"),
    _evidence(1, MAR1, "A1", "h.nurse", "policy_change", "Protocol v2 published", "POL-ME-02"),
    _decide(1, MAR1, "E1"),
    _verify(0, MAR1, "A1"),
    Step(40, MACA1, "actions_complete"),
    Step(30, MAR1, "actions_complete"),
    _evidence(0, RR1, "A1", "p.officer", "policy_change", "Referral policy v3 in force", "POL-77"),
    _decide(1, RR1, "E1"),
    _verify(0, RR1, "A1"),
    _evidence(0, RR1, "A2", "m.patel", "training_record", "Toolkit training: 94% of social workers", "TRN-090"),
    _decide(1, RR1, "E2"),
    _verify(0, RR1, "A2"),
    _evidence(0, RR1, "A3", "h.nurse", "audit_result", "Child's words recorded in 18 of 20 files", "AUD-101"),
    _decide(1, RR1, "E3"),
    _verify(0, RR1, "A3"),
    Opening(5, "thematic_review", TR1, {"theme": "Children missing education", "theme_source": "case_reviews"}),
    Opening(0, "domestic_homicide_review", DHR1, {"community_safety_partnership": "Riverside CSP"}),
    Step(2, TR1, "refer_to_chair"),
    Step(1, DHR1, "refer_to_subgroup"),
    Step(5, RR1, "actions_complete"),
    Step(2, TR1, "commission_review", {"decision_rationale": "Three reviews this year found the same gap"}),
    Step(1, DHR1, "agree_child_related_learning",
         {"decision_rationale": "The children in the household were known to early help"}),
    _evaluate(0, MACA1, "A1", "re_audit"),
    _embed(0, MACA1, "A1"),
    _evaluate(0, MACA1, "A2", "survey"),
    _embed(0, MACA1, "A2"),
    Learn(1, MACA1, "record_dissemination", "a.khan",
          {"kind": "newsletter", "audience": "All partner agencies", "held_on": "today"}),
    _recommend(1, DHR1, "Early help workers ask about domestic abuse at every assessment", ["domestic abuse"],
               ["Children's social care"]),
    _action(0, DHR1, "R1", "Children's social care", "m.patel", 60, "Domestic abuse questions in every assessment"),
    Step(1, DHR1, "agree_actions"),
    Step(2, TR1, "commission"),
    Step(6, MACA1, "confirm_embedded", {"impact_evidence": "Re-audit of six early help plans: all name the lead "
                                                           "professional and a review date"}),
]
"""The last months: the LCSPR's action plan through evidence to embedding, the first audit closed, a thematic
review begun and a domestic homicide review's child-related learning taken on."""

SCRIPT: list[Item] = [*OPENING, *MIDDLE, *CLOSING]
TAIL = 5
"""Working days between the story's last step and the day it ends (today, or the date given)."""
