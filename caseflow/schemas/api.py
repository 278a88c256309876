"""Schemas of the JSON API: strict (RAISE) variants of the form schemas for request bodies
(`strict`), and the shapes of responses. Requests are validated with the very schemas the
services use; the strict variants only add that unknown fields are refused instead of
ignored."""

from __future__ import annotations

import copy

from marshmallow import RAISE, Schema, fields, validate, validates_schema
from marshmallow import ValidationError as MarshmallowValidationError
from sqlalchemy import select

from ..database import utcnow
from ..extensions import db
from ..i18n import _l
from ..models import Province
from . import (
    ID_MAX,
    ClientSchema,
    Loaded,
    PlausibleAwareDateTime,
    RowId,
    StrictSchema,
)

# --- requests ------------------------------------------------------------------------


_STRICT: dict[type[Schema], type[Schema]] = {}


def strict(schema_class: type[Schema]) -> type[Schema]:
    """`schema_class` refusing unknown fields (RAISE) instead of ignoring them, in its nested
    schemas too: what the API validates request bodies with (the one mechanism; the form
    schemas stay as the services use them). What it loads is marked `Loaded`, so the service
    it is passed to takes it as validated instead of validating it a second time."""
    made = _STRICT.get(schema_class)
    if made is not None:
        return made
    overrides: dict[str, object] = {}
    for name, field in schema_class._declared_fields.items():
        inner = field.inner if isinstance(field, fields.List) else field
        if isinstance(inner, fields.Nested) and isinstance(inner.nested, type):
            copied = copy.deepcopy(field)
            (copied.inner if isinstance(copied, fields.List) else copied).nested = strict(inner.nested)
            overrides[name] = copied

    def load(self, data, *, many=None, partial=None, unknown=None):
        values = schema_class.load(self, data, many=many, partial=partial, unknown=unknown)
        return Loaded(values, schema_class) if isinstance(values, dict) else values

    meta = type("Meta", (schema_class.Meta,), {"unknown": RAISE})
    made = _STRICT[schema_class] = type(f"Strict{schema_class.__name__}", (schema_class,),
                                        {"Meta": meta, "load": load, "__module__": __name__, **overrides})
    return made


class ApiClientSchema(ClientSchema):
    """ClientSchema needs the province codes; here they are read when a request is loaded."""

    class Meta(ClientSchema.Meta):
        unknown = RAISE

    def __init__(self, **kwargs):
        super(ClientSchema, self).__init__(**kwargs)

    @property
    def province_codes(self) -> set[str]:
        return set(db.session.execute(select(Province.code)).scalars())

    @property
    def today(self):
        return utcnow().date()


TOKEN_DAYS_MAX = 366


class TokenCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    scopes = fields.List(fields.String(), required=True, validate=validate.Length(min=1, max=10))
    expires_in_days = fields.Integer(load_default=90, strict=True,
                                     validate=validate.Range(min=1, max=TOKEN_DAYS_MAX))

    def __init__(self, allowed_scopes: tuple[str, ...] = ("cases:read", "cases:write", "audit:read"),
                 **kwargs):
        super().__init__(**kwargs)
        self.allowed_scopes = allowed_scopes

    @validates_schema
    def _check_scopes(self, data, **_kwargs):
        unknown = [s for s in data.get("scopes", []) if s not in self.allowed_scopes]
        if unknown:
            raise MarshmallowValidationError({"scopes": [str(_l(
                "Not available to your role: %(scopes)s. Choose from: %(allowed)s.",
                scopes=", ".join(unknown), allowed=", ".join(self.allowed_scopes)))]})


OUTBOX_KINDS = ("step", "assessment", "plan", "evaluation", "termination", "transition",
                "client", "case", "attachment")
# Kinds that create what later entries may name by the creating entry's key (a provisional id).
OUTBOX_CREATING_KINDS = ("client", "case")
OUTBOX_BATCH_MAX = 100


class OutboxEntrySchema(StrictSchema):
    """One write queued on a tablet, as it would have been sent alone."""

    key = fields.String(required=True, validate=validate.Length(min=1, max=255),
                        metadata={"description": "Its Idempotency-Key"})
    kind = fields.String(required=True, validate=validate.OneOf(OUTBOX_KINDS))
    case_id = RowId(load_default=None, allow_none=True,
                    metadata={"description": "The case; or case_ref for a case opened on the tablet"})
    case_ref = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=255),
                             metadata={"description": "The key of the entry (kind 'case') that opened "
                                                      "the case on the tablet: its provisional id"})
    client_ref = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=255),
                               metadata={"description": "For kind 'case': the key of the entry (kind "
                                                        "'client') that registered the client on the tablet"})
    step_ref = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=255),
                             metadata={"description": "For kind 'attachment': the key of the entry (kind "
                                                      "'step') that logged the step it documents"})
    trigger = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64),
                            metadata={"description": "For kind 'transition'"})
    if_match = fields.Integer(load_default=None, allow_none=True,
                              validate=validate.Range(min=0, max=ID_MAX),
                              metadata={"description": "The case version it was based on"})
    device_time = PlausibleAwareDateTime(load_default=None, allow_none=True,
                                       metadata={"description": "When it was done on the tablet"})
    body = fields.Dict(keys=fields.String(), load_default=dict)

    @validates_schema
    def _trigger_for_transitions(self, data, **_kwargs):
        if data.get("kind") == "transition" and not data.get("trigger"):
            raise MarshmallowValidationError({"trigger": [str(_l("A transition names its trigger."))]})
        kind = data.get("kind")
        if kind in OUTBOX_CREATING_KINDS:
            if data.get("case_id") is not None or data.get("case_ref") is not None:
                raise MarshmallowValidationError({"case_id": [str(_l("Not for a new client or case."))]})
        elif (data.get("case_id") is None) == (data.get("case_ref") is None):
            raise MarshmallowValidationError({"case_id": [str(_l("Name the case by case_id or case_ref."))]})
        if data.get("client_ref") is not None and kind != "case":
            raise MarshmallowValidationError({"client_ref": [str(_l("Only for a new case."))]})
        if data.get("step_ref") is not None and kind != "attachment":
            raise MarshmallowValidationError({"step_ref": [str(_l("Only for an attachment."))]})


class AttachmentUploadSchema(StrictSchema):
    """A photo, document or signature, its content in base64 (its type is found from it)."""

    purpose = fields.String(required=True, validate=validate.OneOf(
        ("photo", "document", "consent_registration", "consent_termination")))
    data = fields.String(required=True, metadata={"description": "The file, base64"})
    step_id = RowId(load_default=None, allow_none=True)


class AttachmentOut(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    client_id = fields.Integer()
    step_id = fields.Integer(allow_none=True)
    purpose = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    created_by_id = fields.Integer()
    created_at = fields.DateTime()


class OutboxBatchSchema(StrictSchema):
    entries = fields.List(fields.Nested(OutboxEntrySchema), required=True,
                          validate=validate.Length(min=1, max=OUTBOX_BATCH_MAX))
    # What the tablet keeps in its outbox besides this batch (sync health; absent: unknown).
    waiting = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=1_000_000),
                             metadata={"description": "How many entries stay in the tablet's outbox "
                                                      "outside this batch"})
    oldest_waiting_at = PlausibleAwareDateTime(load_default=None, allow_none=True,
                                               metadata={"description": "When the oldest of them was queued"})


class OutboxResultOut(Schema):
    key = fields.String()
    kind = fields.String()
    case_id = fields.Integer(allow_none=True)
    status = fields.Integer(metadata={"description": "As if sent alone; 424: held back behind an "
                                                     "earlier refused entry of the same case"})
    replayed = fields.Boolean()
    etag = fields.String(allow_none=True)
    body = fields.Raw(allow_none=True, metadata={"description": "The answer, or a problem document"})


class OutboxResultsOut(Schema):
    results = fields.List(fields.Nested(OutboxResultOut))


class CaseDetailArgsSchema(Schema):
    class Meta:
        unknown = RAISE

    steps_before = fields.String(load_default=None, validate=validate.Length(max=60),
                                 metadata={"description": "older_steps of an earlier answer"})


class PageArgsSchema(Schema):
    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))


class CaseListArgsSchema(PageArgsSchema):
    state = fields.String(load_default=None, validate=validate.Length(max=40))


# --- responses -----------------------------------------------------------------------


class ProblemSchema(Schema):
    """RFC 9457 problem details, with `errors` naming the fields at fault."""

    type = fields.String(metadata={"description": "A URI naming the kind of problem"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    missing = fields.List(fields.Dict())
    current = fields.Dict(metadata={"description": "The case as it is now (conflicts)"})


class ProvinceOut(Schema):
    code = fields.String()
    name = fields.String()
    timezone = fields.String()
    timezone_abbreviation = fields.String()


class PpksCategoryOut(Schema):
    code = fields.String()
    name_id = fields.String()
    name_en = fields.String()


class ClientBriefOut(Schema):
    id = fields.Integer()
    full_name = fields.String()
    masked_nik = fields.String()
    sex = fields.String()
    birth_date = fields.Date()
    province_code = fields.String()


class ClientOut(ClientBriefOut):
    nik = fields.String(allow_none=True)
    address = fields.String()
    phone = fields.String(allow_none=True)
    guardian_name = fields.String(allow_none=True)
    guardian_relationship = fields.String(allow_none=True)
    consent_given_by = fields.String()
    consent_recorded_at = fields.DateTime()
    created_at = fields.DateTime()


class NextActionOut(Schema):
    """Who must act next on a case (the facilitator, or the supervisor deciding a request),
    what, and by when: `last_day` ends at 23:59 in the case's province zone."""

    holder = fields.String()
    holder_name = fields.String()
    what = fields.String()
    due_at = fields.DateTime(allow_none=True)
    last_day = fields.Date(allow_none=True)
    status = fields.String(allow_none=True)  # overdue / due_today / upcoming
    mine = fields.Boolean()


class CaseSummaryOut(Schema):
    id = fields.Integer()
    number = fields.String()
    workflow = fields.String()
    state = fields.String()
    state_title = fields.String()
    version = fields.Integer()
    client_id = fields.Integer()
    ppks_category_code = fields.String()
    province_code = fields.String()
    facilitator_id = fields.Integer()
    risk_level = fields.String(allow_none=True)
    stage_entered_at = fields.DateTime()
    stage_due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    opened_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    closure_reason = fields.String(allow_none=True)
    next_action = fields.Nested(NextActionOut, allow_none=True)


class CasePageOut(Schema):
    items = fields.List(fields.Nested(CaseSummaryOut))
    next_cursor = fields.String(allow_none=True)


class AssessmentOut(Schema):
    problem = fields.String()
    needs = fields.String()
    strengths = fields.String()
    resources = fields.String()
    risk_level = fields.String(allow_none=True)
    updated_at = fields.DateTime()


class GoalOut(Schema):
    id = fields.Integer()
    description = fields.String()
    target_date = fields.Date(allow_none=True)
    responsible_party = fields.String()


class PlanOut(Schema):
    summary = fields.String()
    goals = fields.List(fields.Nested(GoalOut))
    updated_at = fields.DateTime()


class RatingOut(Schema):
    goal_id = fields.Integer()
    rating = fields.String()
    notes = fields.String()


class EvaluationOut(Schema):
    summary = fields.String()
    ratings = fields.List(fields.Nested(RatingOut))
    updated_at = fields.DateTime()


class TerminationOut(Schema):
    outcome = fields.String()
    closure_reason = fields.String(allow_none=True)
    reason_details = fields.String()
    aftercare_plan = fields.String()
    updated_at = fields.DateTime()


class StepOut(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    step_type = fields.String()
    occurred_at = fields.DateTime()
    occurred_timezone = fields.String()
    recorded_at = fields.DateTime()
    location = fields.String(allow_none=True)
    notes = fields.String()
    goal_id = fields.Integer(allow_none=True)
    recorded_by_id = fields.Integer()


class StepAnswer:
    """`StepOut().dump(step)` of one step, written out: the answer of every step logged
    (the API's most frequent write, ten to an outbox), where marshmallow's walk over the
    fields cost more than building the dict. The same keys in the same order and the same
    values (marshmallow's: int() of a number, str() of a text, a time's isoformat(), None
    kept); tests/api compares the two."""

    @staticmethod
    def dump(step) -> dict:
        return {
            "id": _int(step.id), "case_id": _int(step.case_id), "step_type": _str(step.step_type),
            "occurred_at": _iso(step.occurred_at), "occurred_timezone": _str(step.occurred_timezone),
            "recorded_at": _iso(step.recorded_at), "location": _str(step.location), "notes": _str(step.notes),
            "goal_id": _int(step.goal_id), "recorded_by_id": _int(step.recorded_by_id),
        }


def _int(value):
    return None if value is None else int(value)


def _str(value):
    return None if value is None else str(value)


def _iso(value):
    return None if value is None else value.isoformat()


class StepPageOut(Schema):
    items = fields.List(fields.Nested(StepOut))
    next_cursor = fields.String(allow_none=True)


class MissingOut(Schema):
    record = fields.String()
    field = fields.String(allow_none=True)
    message = fields.String()


class ActionOut(Schema):
    trigger = fields.String()
    title = fields.String()
    enabled = fields.Boolean()
    requires_reason = fields.Boolean()
    missing = fields.List(fields.Nested(MissingOut))


class SignOffOut(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    case_number = fields.String()
    requested_trigger = fields.String()
    requested_by_id = fields.Integer()
    requested_at = fields.DateTime()
    case_version = fields.Integer()
    decision = fields.String(allow_none=True)
    decided_by_id = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True)


class SignOffPageOut(Schema):
    items = fields.List(fields.Nested(SignOffOut))
    next_cursor = fields.String(allow_none=True)


class CaseDetailOut(CaseSummaryOut):
    summary = fields.String()
    client = fields.Nested(ClientBriefOut)
    assessment = fields.Nested(AssessmentOut, allow_none=True)
    plan = fields.Nested(PlanOut, allow_none=True)
    evaluation = fields.Nested(EvaluationOut, allow_none=True)
    termination = fields.Nested(TerminationOut, allow_none=True)
    steps = fields.List(fields.Nested(StepOut), metadata={
        "description": "The latest steps (at most 20), in the order they happened"})
    step_count = fields.Integer(metadata={"description": "All the case's steps"})
    older_steps = fields.String(allow_none=True, metadata={
        "description": "Pass as steps_before for the steps before these; null when there are none"})
    pending_sign_off = fields.Nested(SignOffOut, allow_none=True)
    actions = fields.List(fields.Nested(ActionOut))


class AuditEventOut(Schema):
    id = fields.Integer()
    chain = fields.String()
    seq = fields.Integer()
    occurred_at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    actor_role = fields.String(allow_none=True)
    action = fields.String()
    case_id = fields.Integer(allow_none=True)
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    context = fields.Raw(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()


class AuditEventPageOut(Schema):
    items = fields.List(fields.Nested(AuditEventOut))
    next_cursor = fields.String(allow_none=True)


class TokenOut(Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String()
    scopes = fields.List(fields.String(), attribute="scope_list")
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class TokenCreatedOut(TokenOut):
    secret = fields.String(metadata={"description": "Shown once; only its hash is kept"})


class TokenListOut(Schema):
    items = fields.List(fields.Nested(TokenOut))


class SessionOut(Schema):
    user_id = fields.Integer()
    session = fields.String(metadata={"description": "A random name of this sign-in; a new sign-in gets a new one"})
    expires_at = fields.DateTime(metadata={"description": "When the session ends whatever happens (absolute timeout)"})
    idle_expires_at = fields.DateTime(
        allow_none=True, metadata={"description": "When it ends without activity; asking here is not activity"})
    outbox_key = fields.String(metadata={
        "description": "urlsafe base64 AES-256 key sealing this person's unsent work on the tablet; "
                       "the tablet drops it when the session ends"})
