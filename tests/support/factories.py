"""People and records, made through the services as the application makes them."""

from __future__ import annotations

from datetime import date, timedelta

from caseflow.extensions import db
from caseflow.services.context import Actor

PASSWORD = "correct-horse-battery"

# A new client as the registration form sends it (the API takes consent_confirmed as true).
CLIENT_FORM = {
    "full_name": "Siti Kogoya", "nik": "9101015508850001", "birth_date": "1985-08-15", "sex": "F",
    "province_code": "91", "address": "Wamena", "consent_given_by": "klien", "consent_confirmed": "1",
}

COMPLETE_ASSESSMENT = {
    "problem": "Anak tidak bersekolah", "needs": "Pendidikan", "strengths": "Keluarga peduli",
    "resources": "Sekolah", "risk_level": "medium",
}


def complete_plan() -> dict:
    from caseflow.database import utcnow

    # Far beyond every window a list looks ahead (the calendar feed's 60 days, the agenda's
    # week), whatever day the suite runs on: a fixed date drifts into them.
    target = utcnow().date() + timedelta(days=400)
    return {"summary": "Rencana", "goals": [
        {"description": "Kembali sekolah", "target_date": target.isoformat(), "responsible_party": "Pendamping"},
    ]}


def a_step(**overrides) -> dict:
    from caseflow.database import utcnow

    # A naive time is read in the facilitator's zone (UTC+7…+9): two hours ago UTC is
    # always in the past there, also under a simulated clock.
    earlier = (utcnow() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")
    data = {"step_type": "home_visit", "occurred_at": earlier, "notes": "Kunjungan rumah"}
    data.update(overrides)
    return data


def today_for(user) -> date:
    """Today on `user`'s own calendar: dates about a person (a facilitator's evidence
    period, a delegation) are read in their zone, which is ahead of UTC from 15:00 UTC
    (WIT) and the UTC date is then their yesterday."""
    from zoneinfo import ZoneInfo

    from caseflow.database import utcnow

    return utcnow().astimezone(ZoneInfo(user.timezone)).date()


def rate_all(case, rating: str) -> dict:
    db.session.refresh(case)
    return {"ratings": [{"goal_id": g.id, "rating": rating} for g in case.plan.goals if not g.archived]}


def terminate(me: Actor, case, outcome: str = "resolved") -> None:
    """Rate every goal achieved, ask to end the case with `outcome`, and send it for sign-off."""
    from caseflow.services import cases

    cases.save_evaluation(me, case.id, rate_all(case, "achieved"))
    cases.save_termination_request(me, case.id, {
        "outcome": outcome, "aftercare_plan": "Kunjungan bulanan",
        "closure_reason": "moved" if outcome == "closed_unresolved" else None,
    })
    cases.fire_trigger(me, case.id, "request_termination")


def approve(supervisor, case) -> None:
    from caseflow.services import cases

    db.session.refresh(case)
    cases.decide_sign_off(Actor(user=supervisor), case.pending_sign_off.id, {"decision": "approve"})


class Factory:
    def __init__(self, app, remember=None):
        self.app = app
        self._counter = 0
        # remember(name, build) → build()'s result, or the rows it wrote copied back
        # (tests/conftest.py's `make`); None builds every time.
        self._remember = remember

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def user(self, role: str, *, province: str = "91", supervisor=None, scope: str | None = None,
             username: str | None = None, **extra):
        from caseflow.services.users import create_user

        number = self._next()
        return create_user(Actor.cli(), {
            "username": username or f"{role.replace('_', '')}{number}",
            "full_name": f"{role.title()} {number}",
            "role": role,
            "password": PASSWORD,
            "province_code": province,
            "supervisor_id": supervisor.id if supervisor else None,
            "auditor_scope_province_code": scope,
            **extra,
        })

    def client(self, actor_user, *, province: str = "91", **overrides):
        from caseflow.services.clients import register_client

        number = self._next()
        data = {
            "full_name": f"Klien {number}",
            "nik": f"{province}0101{15 + number % 10:02d}0885{number:04d}",
            "birth_date": f"1985-08-{15 + number % 10:02d}",
            "sex": "M",
            "address": "Jl. Contoh",
            "province_code": province,
            "consent_given_by": "klien",
            "consent_confirmed": True,
        }
        data.update(overrides)
        return register_client(Actor(user=actor_user), data)

    def case(self, facilitator, *, to: str = "recorded", supervisor=None, category: str = "P02"):
        """A case walked through the services up to state `to`."""
        def build():
            return self._walk_case(facilitator, to=to, supervisor=supervisor, category=category)

        if self._remember is None:
            return build()
        supervisor_id = supervisor.id if supervisor is not None else None
        return self._remember(("case", facilitator.id, to, supervisor_id, category), build)

    def _walk_case(self, facilitator, *, to: str, supervisor, category: str):
        from caseflow.services import cases

        me = Actor(user=facilitator)
        client = self.client(facilitator, province=facilitator.province_code)
        case = cases.open_case(me, {"client_id": client.id, "ppks_category_code": category})
        path = ["recorded", "assessment", "planning", "intervention", "evaluation",
                "termination_review", "resolved"]
        target = path.index(to if to in path else "termination_review")
        if target >= 1:
            cases.fire_trigger(me, case.id, "start_assessment")
        if target >= 2:
            cases.save_assessment(me, case.id, COMPLETE_ASSESSMENT)
            cases.fire_trigger(me, case.id, "complete_assessment")
        if target >= 3:
            cases.save_plan(me, case.id, complete_plan())
            cases.fire_trigger(me, case.id, "start_intervention")
        if target >= 4:
            cases.log_step(me, case.id, a_step())
            cases.fire_trigger(me, case.id, "start_evaluation")
        if target >= 5:
            terminate(me, case, "closed_unresolved" if to == "closed_unresolved" else "resolved")
        if to in ("resolved", "closed_unresolved"):
            approve(supervisor, case)
        db.session.refresh(case)
        return case


class Team:
    """Two teams in two provinces in different zones, and the other roles."""

    def __init__(self, make: Factory) -> None:
        self.supervisor = make.user("supervisor", province="91", username="sup")
        self.facilitator = make.user("facilitator", province="91", supervisor=self.supervisor,
                                     username="fac")
        self.facilitator2 = make.user("facilitator", province="91", supervisor=self.supervisor,
                                      username="fac2")
        self.other_supervisor = make.user("supervisor", province="53", username="sup.ntt")
        self.other_facilitator = make.user("facilitator", province="53", supervisor=self.other_supervisor,
                                           username="fac.ntt")
        self.auditor = make.user("auditor", province="31", username="aud")
        self.province_auditor = make.user("auditor", province="53", scope="53", username="aud.ntt")
        self.manager = make.user("programme_manager", province="31", username="manager")
        self.admin = make.user("admin", province="31", username="adm")
