"""Realistic data at scale for benchmarks and demos, through a fast path.

The service layer writes one case per transaction with its locks and checks; a
million cases that way takes hours. Here rows are built in Python and inserted in
bulk, with every audit event sealed by `caseflow.audit.chain` exactly as the
services seal them, so `caseflow audit verify` accepts the result.

Meant for an empty or private database: it assigns ids itself and must not run
while people are working in the same database.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text

from ..audit.chain import genesis_hash, jsonable, seal_event
from ..database import utcnow
from ..extensions import db
from ..models import (
    Assessment,
    AuditChainHead,
    AuditEvent,
    Case,
    CaseNumberCounter,
    CaseStageHistory,
    Client,
    Evaluation,
    Goal,
    GoalRating,
    InterventionPlan,
    Province,
    SignOff,
    Step,
    TerminationRequest,
    User,
)
from ..models.deadlines import deadline_end
from ..reports import sealing
from ..services.reference import seed_reference_data
from ..services.runtime import engine
from ..services.users import hash_password

FIRST_F = ["Siti", "Maria", "Yosefina", "Agnes", "Dewi", "Lusia", "Martha", "Rosalina", "Fransiska", "Nur"]
FIRST_M = ["Yakobus", "Petrus", "Andreas", "Budi", "Markus", "Simon", "Daniel", "Elias", "Ahmad", "Rudi"]
LAST = ["Wenda", "Kogoya", "Tabuni", "Ndun", "Bria", "Lado", "Mau", "Tefa", "Wanggai", "Sanu", "Siregar", "Lubis"]
CATEGORIES = ["P01", "P02", "P03", "P04", "P06", "P09", "P10", "P13", "P16", "P18", "P21", "P23"]
REASONS = ["referred", "moved", "withdrew", "unreachable", "died"]
PATH = ["recorded", "assessment", "planning", "intervention", "evaluation", "termination_review"]
OUTCOMES = ("resolved", "closed_unresolved")  # the workflow's final stages
FORWARD = {"assessment": "start_assessment", "planning": "complete_assessment",
           "intervention": "start_intervention", "evaluation": "start_evaluation",
           "termination_review": "request_termination"}
DAYS = {"recorded": (1, 12), "assessment": (3, 25), "planning": (3, 20), "intervention": (20, 140),
        "evaluation": (3, 20), "termination_review": (1, 8)}
CONTEXT = {"via": "generator"}
USER_COLUMNS = ("id", "username", "full_name", "role", "active", "password_hash", "locale", "province_code",
                "supervisor_id", "employment_status", "session_generation", "created_at")


class _Ids:
    """Next free id per table, read once: the generator numbers its own rows."""

    def __init__(self) -> None:
        self.next: dict[Any, int] = {}

    def take(self, model) -> int:
        if model not in self.next:
            self.next[model] = (db.session.execute(select(func.max(model.id))).scalar() or 0) + 1
        value = self.next[model]
        self.next[model] = value + 1
        return value


class _Chains:
    """Heads of the chains the generator appends to, sealed like services.audit does."""

    def __init__(self) -> None:
        self.heads: dict[str, tuple[int, str]] = {}
        self.events: list[dict[str, Any]] = []

    def append(self, chain: str, *, at: datetime, actor: User, action: str, case_id: int | None = None,
               before: Any = None, after: Any = None, context: dict | None = None) -> dict[str, Any]:
        seq, prev = self.heads.get(chain, (0, genesis_hash(chain)))
        fields = seal_event({
            "chain": chain, "seq": seq + 1, "prev_hash": prev, "occurred_at": at,
            "actor_id": actor.id, "actor_role": actor.role, "origin_ip": None, "user_agent": None,
            "action": action, "case_id": case_id, "before": jsonable(before), "after": jsonable(after),
            "context": jsonable(dict(CONTEXT, **(context or {}))),
        })
        self.heads[chain] = (seq + 1, fields["hash"])
        self.events.append(fields)
        return fields


def _nik(rng: random.Random, province: str, birth: date, sex: str, serial: int) -> str:
    day = birth.day + (40 if sex == "F" else 0)
    return (f"{province}{rng.randint(1, 79):02d}{rng.randint(1, 40):02d}{day:02d}{birth.month:02d}"
            f"{birth.year % 100:02d}{serial % 9999 + 1:04d}")


def _people(rng: random.Random, case_count: int, ids: _Ids, chains: _Chains, now: datetime) -> list[tuple[User, User]]:
    """Supervisors and facilitators (about 90 cases each) spread over the provinces."""
    provinces = list(db.session.execute(select(Province.code).order_by(Province.code)).scalars())
    facilitator_count = max(2, case_count // 90)
    supervisor_count = max(1, facilitator_count // 8)
    password = hash_password("Generated-Caseflow-2026")
    stamp = rng.randrange(16**6)
    users: list[dict[str, Any]] = []
    supervisors: list[User] = []
    pairs: list[tuple[User, User]] = []
    for index in range(supervisor_count):
        user = User(id=ids.take(User), username=f"gen{stamp:06x}.sup{index}", full_name=f"{rng.choice(FIRST_F + FIRST_M)} {rng.choice(LAST)}",
                    role="supervisor", active=True, password_hash=password, locale="id",
                    province_code=provinces[index % len(provinces)], session_generation=0, created_at=now)
        supervisors.append(user)
    for index in range(facilitator_count):
        supervisor = supervisors[index % supervisor_count]
        user = User(id=ids.take(User), username=f"gen{stamp:06x}.fac{index}", full_name=f"{rng.choice(FIRST_F + FIRST_M)} {rng.choice(LAST)}",
                    role="facilitator", active=True, password_hash=password, locale="id",
                    province_code=supervisor.province_code, supervisor_id=supervisor.id,
                    employment_status="pppk", session_generation=0, created_at=now)
        pairs.append((user, supervisor))
    system = supervisors[0]
    for user in supervisors + [f for f, _s in pairs]:
        users.append({key: getattr(user, key) for key in USER_COLUMNS})
        chains.append(f"user:{user.id}", at=now, actor=system, action="user.created",
                      after={"id": user.id, "username": user.username, "role": user.role,
                             "province_code": user.province_code, "supervisor_id": user.supervisor_id})
    db.session.connection().execute(User.__table__.insert(), users)
    return pairs


def _walk(rng: random.Random, opened: datetime, now: datetime) -> tuple[list[tuple[str, datetime, str | None]], str | None]:
    """The stages a case passed through, with entry times, up to now; and how it ended."""
    roll = rng.random()
    outcome = "resolved" if roll < 0.62 else "closed_unresolved" if roll < 0.8 else None
    stop_at = len(PATH) - 1 if outcome else rng.randrange(len(PATH))
    stays: list[tuple[str, datetime, str | None]] = [("recorded", opened, None)]
    moment = opened
    for stage in PATH[1:stop_at + 1]:
        low, high = DAYS[stays[-1][0]]
        moment = moment + timedelta(days=rng.uniform(low, high))
        if moment > now:
            return stays, None
        stays.append((stage, moment, FORWARD[stage]))
    if outcome:
        moment = moment + timedelta(days=rng.uniform(*DAYS["termination_review"]))
        if moment > now:
            return stays, None
        stays.append((outcome, moment, "approve_termination"))
        if rng.random() < 0.03:  # a few relapse and are reopened
            moment = moment + timedelta(days=rng.uniform(10, 60))
            if moment <= now:
                stays.append(("assessment", moment, "reopen"))
                outcome = None
    return stays, outcome


def generate_cases(case_count: int, *, seed: int = 2026, batch: int = 2000,
                   progress: Callable[[int], None] = lambda _n: None, seal: bool = True) -> dict[str, int]:
    """Insert `case_count` cases with clients, stage records, steps, sign-offs, stage
    history and sealed audit chains; return how many rows of each kind. The history reaches
    into past months, so their figures are sealed again (unless the caller does it)."""
    seed_reference_data()
    db.session.commit()
    rng = random.Random(seed)
    now = utcnow()
    ids = _Ids()
    chains = _Chains()
    workflow = engine("rehabilitation").definition
    deadlines = {name: state.deadline_days for name, state in workflow.states.items()}
    pairs = _people(rng, case_count, ids, chains, now - timedelta(days=600))
    zones = dict(db.session.execute(select(Province.code, Province.timezone)).all())
    counters: dict[tuple[str, int], int] = {
        (p, y): s for p, y, s in db.session.execute(
            select(CaseNumberCounter.province_code, CaseNumberCounter.year, CaseNumberCounter.last_serial)).all()
    }
    totals = {"users": len(pairs) + len({s.id for _f, s in pairs}), "clients": 0, "cases": 0, "steps": 0,
              "stage stays": 0, "audit events": 0}
    done = 0
    while done < case_count:
        size = min(batch, case_count - done)
        rows = _batch(rng, size, pairs, ids, chains, now, deadlines, zones, counters)
        connection = db.session.connection()
        for model, values in rows.items():
            if values:
                connection.execute(model.__table__.insert(), values)
        connection.execute(AuditEvent.__table__.insert(), chains.events)
        totals["clients"] += len(rows[Client])
        totals["cases"] += len(rows[Case])
        totals["steps"] += len(rows[Step])
        totals["stage stays"] += len(rows[CaseStageHistory])
        totals["audit events"] += len(chains.events)
        chains.events = []
        db.session.commit()
        done += size
        progress(size)
    _finish_heads(chains)
    _finish_counters(counters)
    _fix_sequences()
    db.session.commit()
    # Fresh planner statistics: without them SQLite walks the whole history for one
    # facilitator's figures instead of starting from their cases.
    with db.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
    if seal:
        sealing.seal(rebuild=True)
    return totals


def _batch(rng, size, pairs, ids, chains, now, deadlines, zones, counters) -> dict[Any, list[dict[str, Any]]]:
    rows: dict[Any, list[dict[str, Any]]] = {model: [] for model in (
        Client, Case, CaseStageHistory, Assessment, InterventionPlan, Goal, Evaluation, GoalRating,
        TerminationRequest, SignOff, Step)}
    for _ in range(size):
        facilitator, supervisor = pairs[rng.randrange(len(pairs))]
        province = facilitator.province_code
        opened = now - timedelta(days=rng.uniform(0, 540))
        sex = rng.choice("FM")
        birth = date(rng.randint(1950, 2018), rng.randint(1, 12), rng.randint(1, 28))
        client_id = ids.take(Client)
        client = {
            "id": client_id, "full_name": f"{rng.choice(FIRST_F if sex == 'F' else FIRST_M)} {rng.choice(LAST)}",
            "nik": _nik(rng, province, birth, sex, client_id) if rng.random() < 0.9 else None,
            "birth_date": birth, "sex": sex, "address": f"Desa {rng.choice(LAST)}", "phone": None,
            "province_code": province, "guardian_name": None, "guardian_relationship": None,
            "consent_given_by": "klien", "consent_recorded_by_id": facilitator.id,
            "consent_recorded_at": opened, "created_by_id": facilitator.id, "created_at": opened,
            "anonymised_at": None,
        }
        rows[Client].append(client)
        chains.append(f"user:{facilitator.id}", at=opened, actor=facilitator, action="client.registered",
                      after={"id": client_id, "province_code": province})
        case_id = ids.take(Case)
        year = opened.year
        counters[(province, year)] = counters.get((province, year), 0) + 1
        number = f"{province}-{year}-{counters[(province, year)]:06d}"
        chain = f"case:{case_id}"
        stays, outcome = _walk(rng, opened, now)
        category = rng.choice(CATEGORIES)
        chains.append(chain, at=opened, actor=facilitator, action="case.opened", case_id=case_id,
                      after={"id": case_id, "number": number, "state": "recorded", "version": 1,
                             "facilitator_id": facilitator.id, "client_id": client_id,
                             "ppks_category_code": category, "workflow": "rehabilitation"})
        version = 1
        goal_id = None
        reason = rng.choice(REASONS) if outcome == "closed_unresolved" else None
        reopened_before = False
        for index, (stage, entered, trigger) in enumerate(stays):
            left = stays[index + 1][1] if index + 1 < len(stays) else None
            repeat = reopened_before and (trigger == "reopen" or stage in OUTCOMES)
            reopened_before = reopened_before or trigger == "reopen"
            due = entered + timedelta(days=deadlines[stage]) if deadlines.get(stage) else None
            rows[CaseStageHistory].append({
                "id": ids.take(CaseStageHistory), "case_id": case_id, "stage": stage, "trigger": trigger,
                "reopened": trigger == "reopen", "repeat_entry": repeat, "entered_at": entered, "due_at": due, "left_at": left,
                "duration_seconds": int((left - entered).total_seconds()) if left else None,
                "closure_reason": reason if stage == "closed_unresolved" else None,
            })
            if stage == "planning" and trigger == "complete_assessment":
                version += 1
                rows[Assessment].append({"id": ids.take(Assessment), "case_id": case_id, "problem": "Masalah sosial",
                                         "needs": "Pendampingan", "strengths": "Keluarga", "resources": "Desa",
                                         "risk_level": rng.choice(["low", "medium", "high"]),
                                         "updated_by_id": facilitator.id, "updated_at": entered})
                chains.append(chain, at=entered, actor=facilitator, action="assessment.saved", case_id=case_id,
                              after={"problem": "Masalah sosial"}, context={"version": version})
            if stage == "intervention" and trigger == "start_intervention":
                version += 1
                plan_id, goal_id = ids.take(InterventionPlan), ids.take(Goal)
                rows[InterventionPlan].append({"id": plan_id, "case_id": case_id, "summary": "Rencana",
                                               "updated_by_id": facilitator.id, "updated_at": entered})
                rows[Goal].append({"id": goal_id, "plan_id": plan_id, "position": 0, "description": "Tujuan utama",
                                   "target_date": (entered + timedelta(days=90)).date(),
                                   "responsible_party": "Pendamping", "archived": False})
                chains.append(chain, at=entered, actor=facilitator, action="plan.saved", case_id=case_id,
                              after={"summary": "Rencana", "goals": [{"id": goal_id}]}, context={"version": version})
                # Steps during the intervention: the evidence the work happened.
                end = left or now
                for _step in range(rng.randint(1, 4)):
                    occurred = entered + (end - entered) * rng.random()
                    step_id = ids.take(Step)
                    version += 1
                    step_type = rng.choice(["home_visit", "counselling", "referral", "assistance_delivered"])
                    rows[Step].append({"id": step_id, "case_id": case_id, "step_type": step_type,
                                       "occurred_at": occurred, "occurred_timezone": zones[province],
                                       "recorded_at": occurred, "location": None, "notes": "Kunjungan",
                                       "goal_id": goal_id, "recorded_by_id": facilitator.id})
                    chains.append(chain, at=occurred, actor=facilitator, action="step.logged", case_id=case_id,
                                  after={"id": step_id, "step_type": step_type, "occurred_at": occurred},
                                  context={"version": version})
            if stage == "termination_review":
                version += 1
                evaluation_id = ids.take(Evaluation)
                rows[Evaluation].append({"id": evaluation_id, "case_id": case_id, "summary": "Evaluasi",
                                         "updated_by_id": facilitator.id, "updated_at": entered})
                rows[GoalRating].append({"id": ids.take(GoalRating), "evaluation_id": evaluation_id,
                                         "goal_id": goal_id, "rating": "achieved", "notes": ""})
                rows[TerminationRequest].append({
                    "id": ids.take(TerminationRequest), "case_id": case_id,
                    "outcome": outcome or "resolved", "closure_reason": reason, "reason_details": "",
                    "aftercare_plan": "Bimbingan lanjut", "updated_by_id": facilitator.id, "updated_at": entered})
                decided = left if left is not None else None
                rows[SignOff].append({
                    "id": ids.take(SignOff), "case_id": case_id, "requested_trigger": "request_termination",
                    "requested_by_id": facilitator.id, "requested_at": entered, "case_version": version + 1,
                    "decided_by_id": supervisor.id if decided else None, "decided_at": decided,
                    "decision": "approved" if decided else None, "reason": None})
            if trigger is not None:
                version += 1
                actor = supervisor if trigger in ("approve_termination", "reopen") else facilitator
                chains.append(chain, at=entered, actor=actor, action="case.transition", case_id=case_id,
                              before={"id": case_id, "state": stays[index - 1][0]},
                              after={"id": case_id, "state": stage, "version": version},
                              context={"trigger": trigger})
        last_stage, last_entered, _trigger = stays[-1]
        final = last_stage in ("resolved", "closed_unresolved")
        head_seq, head_hash = chains.heads[chain]
        rows[Case].append({
            "id": case_id, "number": number, "workflow": "rehabilitation", "client_id": client_id,
            "ppks_category_code": category, "province_code": province, "facilitator_id": facilitator.id,
            "state": last_stage, "risk_level": None, "stage_entered_at": last_entered,
            "stage_due_at": (deadline_end(last_entered, deadlines[last_stage], zones[province])
                             if deadlines.get(last_stage) else None),
            "opened_at": opened, "closed_at": last_entered if final else None,
            "closure_reason": reason if last_stage == "closed_unresolved" else None,
            "summary": "", "anonymised_at": None, "version": version, "audit_seq": head_seq,
            "audit_hash": head_hash, "audit_checkpointed_seq": 0, "created_by_id": facilitator.id,
        })
    return rows


def _finish_heads(chains: _Chains) -> None:
    """Head rows for the user chains (case chains keep their head on the case row)."""
    table = AuditChainHead.__table__
    connection = db.session.connection()
    existing = set(connection.execute(select(table.c.chain)).scalars())
    fresh = []
    for chain, (seq, digest) in chains.heads.items():
        if chain.startswith("case:"):
            continue
        if chain in existing:
            connection.execute(table.update().where(table.c.chain == chain).values(seq=seq, hash=digest))
        else:
            fresh.append({"chain": chain, "seq": seq, "hash": digest, "checkpointed_seq": 0})
    if fresh:
        connection.execute(table.insert(), fresh)


def _finish_counters(counters: dict[tuple[str, int], int]) -> None:
    table = CaseNumberCounter.__table__
    connection = db.session.connection()
    existing = {(p, y) for p, y in connection.execute(select(table.c.province_code, table.c.year)).all()}
    for (province, year), serial in counters.items():
        if (province, year) in existing:
            connection.execute(table.update().where(table.c.province_code == province, table.c.year == year)
                               .values(last_serial=serial))
        else:
            connection.execute(table.insert().values(province_code=province, year=year, last_serial=serial))


def _fix_sequences() -> None:
    """PostgreSQL hands out ids from sequences: move them past the ids used here."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return
    for model in (User, Client, Case, CaseStageHistory, Assessment, InterventionPlan, Goal, Evaluation,
                  GoalRating, TerminationRequest, SignOff, Step, AuditEvent):
        name = model.__tablename__
        connection.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
            f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {name}), 1))"))
