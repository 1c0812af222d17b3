"""Reading the audit chain back for verification: every case's history and ledger, the administration log and
the head; the current rows checked against what the sealed rows say they should be; resealing an old chain
with the key; signed checkpoints of the head."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlmodel import Session, col, select

from reviewflow.engine.core.errors import InvalidValue, StoreError
from reviewflow.engine.core.grading import GRADE_EVENT
from reviewflow.engine.core.milestones import CHECK_EVENT
from reviewflow.engine.core.records import AuditFinding, AuditReport
from reviewflow.engine.core.references import ref_key
from reviewflow.engine.core.returns import TRIGGERS as RETURN_TRIGGERS
from reviewflow.engine.core.risks import TRIGGERS as RISK_TRIGGERS
from reviewflow.store import grades_audit, measures_audit, returns_audit, risks_audit
from reviewflow.store import links as case_links
from reviewflow.store.chain import (
    ADMIN,
    HISTORY,
    KEYED,
    LEDGER,
    UNKEYED,
    check_case,
    check_sequence,
    digest,
    fold,
    forget_head,
    genesis,
    head_mac,
    seal,
    session_key,
)
from reviewflow.store.models import (
    ActionRow,
    AdminEventRow,
    AuditHeadRow,
    CaseRow,
    DisseminationRow,
    EscalationRow,
    EvidenceRow,
    HistoryRow,
    OutboxRow,
    RecommendationRow,
    UserRoleRow,
    UserRow,
    row_id,
)
from reviewflow.store.subgroups import check_register

Terminal = Callable[[str, int, str], bool | None]
"""Whether a workflow version's state is terminal (None when the definition or state is unknown)."""

CHECKPOINT_FORMAT = "reviewflow-audit-checkpoint"
_LEARNING = {"recommend", "action_add", "action_update", "evidence_submit", "evidence_accept", "evidence_reject",
             "action_verify", "action_evaluate", "disseminate", "action_measure"}
"""History triggers that record learning, not a move: they leave a pause as it was."""
_IMPORT_UPDATE = "import_update"
"""Fields (and perhaps the stage) changed by `import tracker --update`: within a stage, it merges its fields into
the case's and leaves a pause as it was."""
_EVENTS = {"pause", "resume", "evidence_file", "file_download", *_LEARNING, *RETURN_TRIGGERS, CHECK_EVENT,
           "link", "unlink", _IMPORT_UPDATE, *RISK_TRIGGERS, GRADE_EVENT}
"""History triggers of events within a stage (store/repo.py's `record_event`): not moves."""
_MIGRATE = "migrate"
"""A case moved to a new version of its workflow: its state may change, its fields and pause do not."""
_FINISHED = ("embedded", "superseded", "not_implemented")
"""Action statuses nothing moves an action out of: the last one the history records is the row's."""


def _key(s: Session, head: AuditHeadRow | None) -> bytes | None:
    """The key the chain is sealed with: None for the old unkeyed scheme, or when nothing is sealed yet."""
    if head is None or head.scheme != KEYED:
        return None
    return session_key(s, may_create=not (head.seq or head.queued))


def verify(s: Session, ref: str | None = None, progress: Callable[[int, int], None] | None = None,
           batch: int = 500, terminal: Terminal | None = None,
           checkpoint: Mapping[str, Any] | None = None) -> AuditReport:
    """Recompute every case's chains (or one case's), the administration log and the database-wide sequence,
    and check the cases, their learning records, the users and the outbox against what the chain records."""
    report = AuditReport()
    head = s.get(AuditHeadRow, 1)
    key = _key(s, head)
    report.head_seq, report.head_hash = (head.seq, head.hash) if head else (0, "")
    report.scheme = head.scheme if head else KEYED
    query = select(CaseRow).order_by(col(CaseRow.id))
    if ref:
        query = query.where(CaseRow.ref_key == ref_key(ref))
    cases = list(s.exec(query).all())
    for start in range(0, len(cases), batch):
        _check_cases(s, {row_id(c.id): c for c in cases[start:start + batch]}, key, terminal, report)
        if progress:
            progress(report.cases, len(cases))
    if not ref:
        admin = _check_admin_chain(s, report, key)
        if report.scheme == KEYED:
            report.findings.extend(check_users(s, admin))
            report.findings.extend(check_register(s, admin))  # the sub-groups (store/subgroups.py)
    seals = _seals(s)
    report.chain_problem = check_sequence(seals, report.head_seq, report.head_hash, key)
    if report.chain_problem is None and head is not None:
        report.chain_problem = _check_head(s, head, key)
    if checkpoint is not None:
        problem = check_checkpoint(s, checkpoint, seals, head, key)
        if problem:
            report.findings.append(AuditFinding("database", "checkpoint", f"of {checkpoint.get('at')}", problem))
    return report


def _check_cases(s: Session, chunk: dict[int, CaseRow], key: bytes | None, terminal: Terminal | None,
                 report: AuditReport) -> None:
    history: dict[int, list[HistoryRow]] = {i: [] for i in chunk}
    ledger: dict[int, list[EscalationRow]] = {i: [] for i in chunk}
    for h in s.exec(select(HistoryRow).where(col(HistoryRow.case_id).in_(chunk))
                    .order_by(col(HistoryRow.case_id), col(HistoryRow.seq))).all():
        history[h.case_id].append(h)
    for e in s.exec(select(EscalationRow).where(col(EscalationRow.case_id).in_(chunk))
                    .order_by(col(EscalationRow.case_id), col(EscalationRow.chain_seq).nulls_last(),
                              col(EscalationRow.id))).all():
        ledger[e.case_id].append(e)
    for case_id, case in chunk.items():
        report.rows += len(history[case_id]) + len(ledger[case_id])
        for kind, rows in ((HISTORY, history[case_id]), (LEDGER, ledger[case_id])):
            found = check_case(case.ref, kind, rows, case_id, key)
            if found:
                report.findings.append(found)
    report.findings.extend(_check_records(s, chunk, history, terminal))
    report.cases += len(chunk)


def _seals(s: Session) -> list[tuple[int, str]]:
    seals: list[tuple[int, str]] = []
    for model in (AdminEventRow, HistoryRow, EscalationRow):
        seals += [(p, h or "") for p, h in s.exec(select(model.chain_seq, model.hash)
                                                   .where(col(model.chain_seq).is_not(None))).all() if p is not None]
    return seals


def _check_head(s: Session, head: AuditHeadRow, key: bytes | None) -> str | None:
    """The head's own seal and the count of queued notifications."""
    if key is not None and head.mac != head_mac(key, head.seq, head.hash, head.queued):
        return "the chain head does not match its seal: it was edited outside reviewflow"
    found = s.exec(select(func.count()).select_from(OutboxRow)).one()
    if found < head.queued:
        return (f"{head.queued} notifications were queued but {found} are in the outbox: "
                f"{head.queued - found} deleted outside reviewflow")
    return None


def _check_admin_chain(s: Session, report: AuditReport, key: bytes | None) -> list[AdminEventRow]:
    """The administration log is one chain of its own."""
    admin = list(s.exec(select(AdminEventRow).order_by(col(AdminEventRow.seq))).all())
    report.rows += len(admin)
    found = check_case("administration", ADMIN, admin, 0, key)
    if found:
        report.findings.append(found)
    return admin


# --- the current rows against the sealed history ------------------------------------------------------

def _numbers(s: Session, model: Any, case_ids: Iterable[int], *columns: Any) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    for row in s.exec(select(model.case_id, *columns).where(col(model.case_id).in_(list(case_ids)))).all():
        found.setdefault(row[0], []).append(row[1:])
    return found


def _check_records(s: Session, chunk: Mapping[int, CaseRow], history: Mapping[int, Sequence[HistoryRow]],
                   terminal: Terminal | None) -> list[AuditFinding]:
    """Each case's row and learning records against what its sealed history says they are."""
    recommendations = _numbers(s, RecommendationRow, chunk, RecommendationRow.number)
    actions = _numbers(s, ActionRow, chunk, ActionRow.number, ActionRow.status, ActionRow.embedded_at)
    evidence = _numbers(s, EvidenceRow, chunk, EvidenceRow.number, EvidenceRow.status)
    spread = _numbers(s, DisseminationRow, chunk, DisseminationRow.id)
    linked = case_links.pairs(s, chunk)
    findings: list[AuditFinding] = []
    for case_id, case in chunk.items():
        rows = history[case_id]
        told = _Replay(rows)
        findings.extend(AuditFinding(case.ref, "case", what, problem)
                        for what, problem in _case_problems(case, told, terminal))
        findings.extend(AuditFinding(case.ref, "links", what, problem)
                        for what, problem in case_links.problems(rows, linked.get(case_id, set())))
        findings.extend(AuditFinding(case.ref, "case", what, problem)
                        for what, problem in case_links.pause_problems(rows, case, _EVENTS))
        findings.extend(AuditFinding(case.ref, "learning", what, problem) for what, problem in told.learning(
            recommendations.get(case_id, []), actions.get(case_id, []), evidence.get(case_id, []),
            len(spread.get(case_id, []))))
    findings.extend(returns_audit.check(s, {i: c.ref for i, c in chunk.items()}, history))
    findings.extend(grades_audit.check(s, {i: c.ref for i, c in chunk.items()}, history))
    findings.extend(risks_audit.check(s, {i: c.ref for i, c in chunk.items()}, history))
    findings.extend(measures_audit.check(s, {i: c.ref for i, c in chunk.items()}, history))
    return findings


_EDITED = "differs from its sealed history: changed outside reviewflow"


def _case_problems(case: CaseRow, told: _Replay, terminal: Terminal | None) -> list[tuple[str, str]]:
    if told.state is None:
        return []
    problems: list[tuple[str, str]] = []
    if case.state != told.state:
        problems.append(("state", f"is {case.state!r} but its history says {told.state!r}: {_EDITED}"))
    closes = terminal(case.workflow, case.version, case.state) if terminal else None
    if closes is not None and case.is_open == closes:
        now, should = ("open", "closed") if case.is_open else ("closed", "open")
        problems.append(("open/closed", f"is {now} but its state {case.state!r} is {should}: {_EDITED}"))
    elif case.is_open != (case.closed_at is None):
        problems.append(("open/closed", f"is {'open' if case.is_open else 'closed'} with a closing time "
                                        f"{'set' if case.closed_at else 'missing'}: {_EDITED}"))
    changed = sorted(k for k in set(case.fields or {}) | set(told.fields)
                     if (case.fields or {}).get(k) != told.fields.get(k))
    if changed:
        problems.append(("fields", f"{', '.join(changed)} differ from what its history recorded: {_EDITED}"))
    if case.subgroup != told.subgroup:
        problems.append(("sub-group", f"is {case.subgroup or 'none'} but its history says {told.subgroup or 'none'}: "
                                      f"{_EDITED}"))
    if (case.paused_at is not None) != told.paused:
        problems.append(("pause", f"is {'paused' if case.paused_at else 'not paused'} but its history says "
                                  f"{'paused' if told.paused else 'not paused'}: {_EDITED}"))
    return problems


class _Replay:
    """What a case's sealed history says its current state, pause and learning records are."""

    def __init__(self, rows: Sequence[HistoryRow]) -> None:
        self.state: str | None = rows[-1].to_state if rows else None
        self.paused = False
        self.recommendations: set[str] = set()
        self.actions: set[str] = set()
        self.last_status: dict[str, str] = {}
        self.embedded: set[str] = set()
        self.evidence: dict[str, str] = {}
        self.spread = 0
        self.imported = bool(rows) and rows[0].trigger == "import" and rows[0].from_state is None
        """Opened by an import from a tracker, whose learning records came in without history rows of their own."""
        self.fields: dict[str, Any] = {}
        self.subgroup: str | None = None
        """The sub-group its opening row recorded (store/subgroups.py)."""
        for row in rows:
            # A move (open, a workflow's trigger, an import) merges the fields it was given into the case's and
            # ends a pause; an event within the stage (a pause, a learning record, a file) changes neither. A
            # workflow's own trigger may share a learning trigger's name: it moves, or is not one of these.
            if row.trigger != _MIGRATE and (row.from_state != row.to_state or row.trigger not in _EVENTS):
                self.subgroup = (row.fields or {}).get("@subgroup", self.subgroup)
                self.fields.update({k: v for k, v in (row.fields or {}).items() if not k.startswith("@")})
                self.paused = False
            elif row.trigger == _IMPORT_UPDATE:
                self.fields.update({k: v for k, v in (row.fields or {}).items() if not k.startswith("@")})
            elif row.trigger in ("pause", "resume"):
                self.paused = row.trigger == "pause"
            elif row.trigger in _LEARNING:
                self._learn(row.trigger, row.fields or {})

    def _learn(self, trigger: str, fields: Mapping[str, Any]) -> None:
        if trigger == "recommend" and "recommendation" in fields:
            self.recommendations.add(str(fields["recommendation"]))
        elif trigger == "action_add" and "action" in fields:
            self.actions.add(str(fields["action"]))
        elif trigger == "action_update" and "status" in fields:
            self.last_status[str(fields.get("action"))] = str(fields["status"])
            if fields["status"] == "embedded":
                self.embedded.add(str(fields.get("action")))
        elif trigger == "evidence_submit" and "evidence" in fields:
            self.evidence[str(fields["evidence"])] = "submitted"
        elif trigger in ("evidence_accept", "evidence_reject") and "evidence" in fields:
            self.evidence[str(fields.get("evidence"))] = "accepted" if trigger == "evidence_accept" else "rejected"
        elif trigger == "disseminate" and "held_on" in fields:
            self.spread += 1

    def learning(self, recommendations: list[Any], actions: list[Any], evidence: list[Any],
                 spread: int) -> list[tuple[str, str]]:
        problems = _sets("recommendation", {r[0] for r in recommendations}, self.recommendations, self.imported)
        problems += _sets("action", {a[0] for a in actions}, self.actions, self.imported)
        problems += _sets("evidence", {e[0] for e in evidence}, set(self.evidence), self.imported)
        for number, status, embedded_at in actions:
            if self.imported and number not in self.actions:
                continue  # as the tracker had it
            marked = number in self.embedded
            if (status == "embedded" or embedded_at is not None) and not marked:
                problems.append((f"action {number}",
                                 f"is marked embedded but its history never embedded it: {_EDITED}"))
            elif marked and embedded_at is None:
                problems.append((f"action {number}", f"has lost the time it was embedded: {_EDITED}"))
            last = self.last_status.get(number)
            if last in _FINISHED and status != last:
                problems.append((f"action {number}", f"is {status!r} but its history says {last!r}: {_EDITED}"))
        for number, status in evidence:
            expected = self.evidence.get(number)
            if expected is not None and status != expected:
                problems.append((f"evidence {number}", f"is {status!r} but its history says {expected!r}: {_EDITED}"))
        if spread != self.spread:
            problems.append(("dissemination", f"{spread} recorded but its history records {self.spread}: {_EDITED}"))
        return problems


def _sets(noun: str, rows: set[str], told: set[str], imported: bool) -> list[tuple[str, str]]:
    """Records missing from the history (unless the case came from a tracker with them), and the reverse."""
    problems = [] if imported else [(f"{noun} {n}", "is not in its history: inserted outside reviewflow")
                                    for n in sorted(rows - told)]
    problems += [(f"{noun} {n}", "is in its history but missing: deleted outside reviewflow")
                 for n in sorted(told - rows)]
    return problems


# --- users and roles against the administration log ---------------------------------------------------

def _replay_users(admin: Iterable[AdminEventRow]) -> dict[str, dict[str, Any]]:
    users: dict[str, dict[str, Any]] = {}
    for event in admin:
        details, name = event.details or {}, event.target
        if event.action == "audit.rekey" and "users" in details:
            users = {n: {"roles": set(u["roles"]), "admin": u["admin"], "disabled": u["disabled"]}
                     for n, u in details["users"].items()}
        elif event.action == "user.add":
            users[name] = {"roles": set(details.get("roles", ())), "admin": False, "disabled": False}
        elif event.action == "user.first_admin":
            users.setdefault(name, {"roles": set(), "admin": False, "disabled": False}).update(
                admin=True, disabled=False)
        elif event.action == "user.grant" and name in users:
            users[name]["roles"] |= set(details.get("roles", ()))
        elif event.action == "user.change" and name in users:
            users[name]["roles"] -= set(details.get("revoked", ()))
            for detail, what in (("admin", "admin"), ("disabled", "disabled")):
                if detail in details:
                    users[name][what] = bool(details[detail])
    return users


def user_snapshot(s: Session) -> dict[str, dict[str, Any]]:
    """Every user's roles, administrator capability and whether they are disabled, as the tables hold them."""
    roles: dict[int, list[str]] = {}
    for user_id, role in s.exec(select(UserRoleRow.user_id, UserRoleRow.role)).all():
        roles.setdefault(user_id, []).append(role)
    return {u.name: {"roles": sorted(roles.get(row_id(u.id), [])), "admin": bool(u.is_admin),
                     "disabled": u.disabled_at is not None}
            for u in s.exec(select(UserRow).order_by(col(UserRow.name))).all()}


def check_users(s: Session, admin: Iterable[AdminEventRow]) -> list[AuditFinding]:
    """The users and their roles against what the administration log records."""
    told = _replay_users(admin)
    findings: list[AuditFinding] = []
    for name, now in user_snapshot(s).items():
        expected = told.pop(name, None)
        if expected is None:
            findings.append(AuditFinding(f"user {name}", "users", "registration",
                                         "is not in the administration log: inserted outside reviewflow"))
            continue
        if set(now["roles"]) != expected["roles"]:
            findings.append(AuditFinding(f"user {name}", "users", "roles",
                                         f"are {', '.join(now['roles']) or 'none'} but the administration log says "
                                         f"{', '.join(sorted(expected['roles'])) or 'none'}: {_EDITED}"))
        for what in ("admin", "disabled"):
            if now[what] != expected[what]:
                findings.append(AuditFinding(f"user {name}", "users", what,
                                             f"is {now[what]} but the administration log says {expected[what]}: "
                                             f"{_EDITED}"))
    findings.extend(AuditFinding(f"user {name}", "users", "registration",
                                 "is in the administration log but missing: deleted outside reviewflow")
                    for name in sorted(told))
    return findings


# --- resealing an old chain ---------------------------------------------------------------------------

_TABLES: tuple[tuple[str, Any], ...] = ((HISTORY, HistoryRow.__table__), (LEDGER, EscalationRow.__table__),  # type: ignore[attr-defined]
                                        (ADMIN, AdminEventRow.__table__))  # type: ignore[attr-defined]


def rekey(s: Session) -> int:
    """Reseal every row of an unkeyed chain with the audit key, in chain order, and seal the head: the number
    of rows resealed. The caller has verified the old chain in this transaction."""
    head = s.exec(select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()).first()
    if head is None or head.scheme == KEYED:
        raise InvalidValue("the audit chain is already sealed with a key: nothing to reseal")
    key = session_key(s, may_create=True)
    connection = s.connection()
    rows: list[tuple[int, str, Any]] = []
    for kind, table in _TABLES:
        rows += [(r.chain_seq, kind, r) for r in connection.execute(
            table.select().where(table.c.chain_seq.is_not(None)))]
    rows.sort(key=lambda r: r[0])
    tips: dict[tuple[str, int], str] = {}
    running = ""
    updates: dict[str, list[dict[str, Any]]] = {HISTORY: [], LEDGER: [], ADMIN: []}
    for _position, kind, row in rows:
        case_id = getattr(row, "case_id", 0) if kind != ADMIN else 0
        tip = tips.get((kind, case_id)) or genesis(kind, case_id)
        new = seal(tip, kind, row, key)
        tips[(kind, case_id)] = new
        running = fold(running, new, key)
        updates[kind].append({"row_id": row.id, "new_hash": new})
    for kind, table in _TABLES:
        if updates[kind]:
            connection.execute(update(table).where(table.c.id == bindparam("row_id"))
                               .values(hash=bindparam("new_hash")), updates[kind])
    head_table: Any = AuditHeadRow.__table__  # type: ignore[attr-defined]
    connection.execute(update(head_table).where(head_table.c.id == 1).values(
        hash=running, scheme=KEYED, mac=head_mac(key, head.seq, running, head.queued)))
    forget_head(s)  # what this transaction held of the head is the old chain's
    return len(rows)


def scheme(s: Session) -> str:
    head = s.get(AuditHeadRow, 1)
    return head.scheme if head else KEYED


# --- checkpoints ----------------------------------------------------------------------------------------

def _signed(body: Mapping[str, Any], key: bytes) -> str:
    return digest(key, "reviewflow:checkpoint:" + json.dumps(body, sort_keys=True, separators=(",", ":")))


def checkpoint(s: Session, now: datetime) -> dict[str, Any]:
    """The head as it is now, with counts and the time, signed with the audit key."""
    head = s.get(AuditHeadRow, 1)
    if head is None or head.scheme != KEYED:
        raise InvalidValue("a checkpoint needs a keyed audit chain: run 'reviewflow audit rekey' first"
                           if head is not None else "nothing is sealed yet: write something first")
    key = session_key(s)
    body = {"format": CHECKPOINT_FORMAT, "version": 1, "at": now.isoformat(), "head_seq": head.seq,
            "head_hash": head.hash, "queued": head.queued,
            "cases": s.exec(select(func.count()).select_from(CaseRow)).one(),
            "admin_events": s.exec(select(func.count()).select_from(AdminEventRow)).one()}
    return {**body, "mac": _signed(body, key)}


def check_checkpoint(s: Session, found: Mapping[str, Any], seals: list[tuple[int, str]], head: AuditHeadRow | None,
                     key: bytes | None) -> str | None:
    """Why the database is not a continuation of the checkpoint `found`, or None."""
    body = {k: v for k, v in found.items() if k != "mac"}
    if found.get("format") != CHECKPOINT_FORMAT:
        raise InvalidValue("the file is not an audit checkpoint: give a file written by 'reviewflow audit checkpoint'")
    if key is None:
        return "the database's seals are not keyed, so no checkpoint can be checked: run 'reviewflow audit rekey'"
    if found.get("mac") != _signed(body, key):
        return "the checkpoint's signature does not match with this database's key: it was edited, or is another's"
    at = int(found["head_seq"])
    if head is None or head.seq < at:
        return (f"the chain has {head.seq if head else 0} sealed rows but the checkpoint had {at}: the database is an "
                "older copy, or sealed rows were removed")
    running = ""
    for _position, row_seal in sorted(seals)[:at]:
        running = fold(running, row_seal, key)
    if running != found["head_hash"]:
        return (f"the first {at} sealed rows do not fold to the checkpoint's head: the chain was rewritten since "
                "the checkpoint")
    if head.queued < int(found["queued"]):
        return f"the checkpoint counted {found['queued']} queued notifications, the database {head.queued}"
    cases = s.exec(select(func.count()).select_from(CaseRow)).one()
    if cases < int(found["cases"]):
        return f"the checkpoint counted {found['cases']} cases, the database has {cases}: cases were deleted"
    return None


def refuse_unkeyed_rekey(report: AuditReport) -> None:
    """`rekey` reseals only an old chain that verifies."""
    if report.scheme == UNKEYED and not report.ok:
        problems = "; ".join([str(f) for f in report.findings[:3]] + [report.chain_problem or ""]).strip("; ")
        raise StoreError(f"the audit chain does not verify ({problems}): nothing was resealed; restore a good "
                         "backup or investigate before resealing")
