"""Referrals (rujukan): send one from a case, record its answer, list them (the overdue
ones, those waiting, a case's)."""

from __future__ import annotations

from marshmallow import RAISE, fields, validate

from ..extensions import db
from ..models import Referral
from ..models.referral import STATUSES
from ..schemas.api import PageArgsSchema
from ..schemas.referrals import (
    ReferralAnswerSchema,
    ReferralOut,
    ReferralPageOut,
    ReferralSchema,
)
from ..services import cases as case_services
from ..services import referrals as referral_services
from . import present
from .common import (
    actor,
    case_change,
    decode_cursor,
    expected_version,
    json_body,
    make_blueprint,
    page,
    scope,
    user,
    write,
)

blp = make_blueprint("api_referrals", "Referrals (rujukan) to other services and their answers.")


class ReferralListArgsSchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    overdue = fields.Boolean(load_default=False, metadata={"description": "Only those past their expected day"})


def _write(service, status: int = 200):
    return write(service, ReferralOut(), status=status, present=present.referral,
                 version_of=lambda r: db.session.get(Referral, r["id"]).case.version)


@blp.route("/referrals", methods=["GET"])
@blp.arguments(ReferralListArgsSchema, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, ReferralPageOut)
@scope("cases:read")
def list_referrals(limit: int, cursor: str | None, status: str | None, overdue: bool):
    """Referrals of the cases you may open, the newest first (cursor pagination)."""
    statement = (referral_services.overdue(user()) if overdue else referral_services.visible_referrals(user()))
    if status:
        statement = statement.where(Referral.status == status)
    after = decode_cursor(cursor, (int,))
    if after is not None:
        statement = statement.where(Referral.id < after[0])
    rows = list(db.session.execute(statement.order_by(Referral.id.desc()).limit(limit + 1)).scalars())
    rows, next_cursor = page(rows, limit, lambda r: [r.id])
    return {"items": [present.referral(r) for r in rows], "next_cursor": next_cursor}


@blp.route("/referrals/<int:referral_id>", methods=["GET"])
@blp.response(200, ReferralOut)
@scope("cases:read")
def get_referral(referral_id: int):
    """One referral of a case you may open. Reading it is recorded on the case."""
    referral = referral_services.get_referral(user(), referral_id)
    case_services.record_case_view(actor(), referral.case_id, what="api referral")
    return present.referral(referral)


@blp.route("/referrals/<int:referral_id>/answer", methods=["POST"])
@case_change(blp, ReferralAnswerSchema, ReferralOut)
def answer(_values, referral_id: int):
    """Record what came back (accepted, service given, refused, with the day; or no
    answer), or a new expected day. If-Match: the case version. The ETag of the answer
    is the case's new version."""
    version = expected_version()
    return _write(lambda: referral_services.record_answer(actor(), referral_id, json_body(), version))


@blp.route("/cases/<int:case_id>/referrals", methods=["GET"])
@blp.response(200, ReferralOut(many=True))
@scope("cases:read")
def case_referrals(case_id: int):
    """The case's referrals, the newest first."""
    case = case_services.get_case(user(), case_id)
    return [present.referral(r) for r in referral_services.referrals_of(case)]


@blp.route("/cases/<int:case_id>/referrals", methods=["POST"])
@case_change(blp, ReferralSchema, ReferralOut, status=201)
def send(_values, case_id: int):
    """Refer the client (open case, or in aftercare): the kind of service, the institution,
    why, for which goal. A step of type "referral" is logged with it."""
    version = expected_version()
    return _write(lambda: referral_services.send_referral(actor(), case_id, json_body(), version), status=201)


