"""Marshmallow schemas: one validation layer for HTML forms, JSON and services."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    fields,
    pre_load,
    validate,
    validates_schema,
)
from marshmallow import (
    ValidationError as MarshmallowValidationError,
)

from ..errors import ValidationError
from ..i18n import _l
from ..models.user import EmploymentStatus, Role
from ..nik import NikError, nik_matches_birth_date, parse_nik

STEP_TYPES = (
    "home_visit", "counselling", "referral", "assistance_delivered", "phone_call",
    "case_conference", "accompaniment", "other",
)
RISK_LEVELS = ("low", "medium", "high")
GOAL_RATINGS = ("achieved", "partly_achieved", "not_achieved")
OUTCOMES = ("resolved", "closed_unresolved")
CLOSURE_REASONS = ("referred", "moved", "died", "withdrew", "unreachable", "other")
TEXT_MAX = 10_000


def _text(required: bool = False, maximum: int = TEXT_MAX, **kwargs) -> fields.String:
    if required:
        return fields.String(required=True, validate=[validate.Length(min=1, max=maximum)], **kwargs)
    return fields.String(load_default="", validate=[validate.Length(max=maximum)], **kwargs)


# Row ids are INTEGER on both databases. A number outside that range names no row, and
# PostgreSQL refuses to even compare it with an id (NumericValueOutOfRange), so it is
# refused here, as a fault of the field that carried it.
ID_MIN, ID_MAX = 1, 2**31 - 1


def is_row_id(value: object) -> bool:
    """Could `value` be the id of a row? For ids that arrive outside a schema."""
    return isinstance(value, int) and not isinstance(value, bool) and ID_MIN <= value <= ID_MAX


def parse_row_id(text: str) -> int | None:
    """The row id a form input carries as text (ASCII digits, in range), or None."""
    number = ascii_number(text, max_digits=len(str(ID_MAX)))
    return number if is_row_id(number) else None


def ascii_number(text: str | None, max_digits: int = 9) -> int | None:
    """A whole number written in ASCII digits, at most `max_digits` long, or None.
    str.isdigit() also says yes to '²' (which int() refuses: a 500) and to other scripts'
    digits, and int() of thousands of digits is refused too."""
    text = (text or "").strip()
    if not text or len(text) > max_digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


PAGE_MAX = 10**9


def page_number(text: str | None) -> int:
    """The page of a list a query string asks for: 1 unless it is written in ASCII digits;
    a number past any real page is PAGE_MAX, which the list shows as its last page."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()):
        return 1
    return max(1, min(int(text) if len(text) <= 10 else PAGE_MAX, PAGE_MAX))


def step_key_text(key: tuple[datetime, int]) -> str:
    """A position in a case's steps (when, id) as a query string carries it (?before=…)."""
    moment, step_id = key
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{moment.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%f')}_{step_id}"


def parse_step_key(text: str | None) -> tuple[datetime, int] | None:
    """The position step_key_text wrote, or None (the newest steps) for anything else."""
    moment, _sep, number = (text or "").strip().partition("_")
    step_id = parse_row_id(number)
    if step_id is None or not moment.isascii():
        return None
    try:
        value = datetime.strptime(moment, "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
    except ValueError:
        return None
    return (value, step_id) if is_plausible_day(value.date()) else None


class RowId(fields.Integer):
    """The id of a row, as a request names it: a whole number in the INTEGER range."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.insert(0, validate.Range(
            min=ID_MIN, max=ID_MAX, error=_l("Not a valid id (a whole number from {min} to {max}).")))


_CONTROL = {chr(c) for c in range(32)} - {"\t", "\n", "\r"}

# Dates and times a person types lie between 1900 and 2100. Year 1 or 9999 is a slip of the
# keyboard, and moving such a time between zones overflows Python's datetime (a 500).
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2100, 12, 31)


def is_plausible_day(day: date) -> bool:
    return EARLIEST_DAY <= day <= LATEST_DAY


MONTH_WORDS = {name: number for number, names in enumerate((
    ("januari", "january", "jan"), ("februari", "february", "feb", "peb"), ("maret", "march", "mar"),
    ("april", "apr"), ("mei", "may"), ("juni", "june", "jun"), ("juli", "july", "jul"),
    ("agustus", "august", "agu", "agt", "aug"), ("september", "sep", "sept"),
    ("oktober", "october", "okt", "oct"), ("november", "nopember", "nov", "nop"),
    ("desember", "december", "des", "dec")), start=1) for name in names}
_TYPED_NUMERIC = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})\s*$")
_TYPED_WORDS = re.compile(r"^\s*(\d{1,2})\s+([A-Za-z]+)\.?\s+(\d{4})\s*$")


def typed_day(text: str) -> date | None:
    """A date as a facilitator types it where the tablet shows no date picker: day first,
    as Indonesians write it ('6/1/2027', '06-01-2027', '6.1.2027', '6 Januari 2027',
    '6 Jan 2027'); None if it is none of those or no real day."""
    found = _TYPED_NUMERIC.match(text)
    if found:
        day, month, year = (int(part) for part in found.groups())
    elif (found := _TYPED_WORDS.match(text)) and found.group(2).lower() in MONTH_WORDS:
        day, month, year = int(found.group(1)), MONTH_WORDS[found.group(2).lower()], int(found.group(3))
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


class PlausibleDate(fields.Date):
    """A date between 1900 and 2100: YYYY-MM-DD, or typed day first (`typed_day`)."""

    default_error_messages = {"out_of_range": _l("Use a date between 1900 and 2100.")}

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            day = super()._deserialize(value, attr, data, **kwargs)
        except MarshmallowValidationError:
            day = typed_day(value) if isinstance(value, str) else None
            if day is None:
                raise
        if not is_plausible_day(day):
            raise self.make_error("out_of_range")
        return day


class _PlausibleMoment:
    default_error_messages = {"out_of_range": _l("Use a date and time between 1900 and 2100.")}

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        if not is_plausible_day(moment.date()):
            raise self.make_error("out_of_range")
        return moment


class PlausibleDateTime(_PlausibleMoment, fields.DateTime):
    """A date and time between 1900 and 2100, with or without its zone."""


class PlausibleAwareDateTime(_PlausibleMoment, fields.AwareDateTime):
    """A date and time between 1900 and 2100, with its zone."""


def _translate_marshmallow_messages() -> None:
    """Marshmallow's own messages, in the reader's language. Field messages stay lazy
    (rendered where they are shown); validator messages are formatted during the request,
    so they come out in the requester's language too."""
    fields.Field.default_error_messages.update({
        "required": _l("This field is required."),
        "null": _l("This field may not be empty."),
        "validator_failed": _l("Invalid value."),
    })
    fields.String.default_error_messages.update({"invalid": _l("Not a valid text."),
                                                 "invalid_utf8": _l("Not a valid text.")})
    fields.Integer.default_error_messages.update({"invalid": _l("Not a valid whole number.")})
    fields.Number.default_error_messages.update({"invalid": _l("Not a valid number."),
                                                 "too_large": _l("Number too large.")})
    fields.Date.default_error_messages.update({"invalid": _l("Not a valid date (YYYY-MM-DD)."),
                                               "format": _l("Not a valid date (YYYY-MM-DD).")})
    fields.DateTime.default_error_messages.update({
        "invalid": _l("Not a valid date and time."),
        "invalid_awareness": _l("Not a valid date and time."),
        "format": _l("Not a valid date and time."),
    })
    fields.Boolean.default_error_messages.update({"invalid": _l("Not a valid yes/no value.")})
    fields.List.default_error_messages.update({"invalid": _l("Not a valid list.")})
    fields.Nested.default_error_messages.update({"type": _l("Invalid type.")})
    validate.Length.message_min = _l("Shorter than minimum length {min}.")
    validate.Length.message_max = _l("Longer than maximum length {max}.")
    validate.Length.message_all = _l("Length must be between {min} and {max}.")
    validate.Length.message_equal = _l("Length must be {equal}.")
    validate.OneOf.default_message = _l("Must be one of: {choices}.")
    validate.Regexp.default_message = _l("Not in the expected format.")


_translate_marshmallow_messages()


class _CleanTextSchema(Schema):
    """Control characters (NUL above all: PostgreSQL refuses it) never reach the database."""

    error_messages = {"unknown": _l("Unknown field."), "type": _l("Invalid input type.")}

    @pre_load
    def _refuse_control_characters(self, data, **_kwargs):
        if isinstance(data, dict):
            bad = [key for key, value in data.items() if isinstance(value, str) and _CONTROL & set(value)]
            if bad:
                raise MarshmallowValidationError(
                    {key: [str(_l("Control characters are not allowed."))] for key in bad}
                )
        return data


class StrictSchema(_CleanTextSchema):
    class Meta:
        unknown = RAISE


class FormSchema(_CleanTextSchema):
    """HTML forms carry extra inputs (csrf_token, buttons); they are ignored, not errors."""

    class Meta:
        unknown = EXCLUDE


class Loaded(dict):
    """Values a schema has already validated and loaded (the API's strict variant of it,
    schemas.api.strict): `load` with that schema, or a schema it derives from, takes them as
    they are instead of validating them again."""

    def __init__(self, values: dict, schema_class: type[Schema]) -> None:
        super().__init__(values)
        self.schema_class = schema_class


def load(schema: Schema, data: Any) -> dict:
    """Validate with `schema`, turning marshmallow's error into the service layer's."""
    if isinstance(data, Loaded) and issubclass(data.schema_class, type(schema)):
        return data
    try:
        return schema.load(data)
    except MarshmallowValidationError as exc:
        raise ValidationError(_l("Some fields need attention."), fields=_flatten(exc.messages)) from None


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[Any]]:
    flat: dict[str, list[Any]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                name = prefix or "_schema"
            for sub_key, sub_value in _flatten(value, name).items():
                flat.setdefault(sub_key, []).extend(sub_value)
    elif isinstance(messages, list):
        if all(not isinstance(m, dict | list) for m in messages):
            # Rendered now, in the language of the request being answered.
            flat[prefix or "_schema"] = [str(m) for m in messages]
        else:
            for item in messages:
                for key, value in _flatten(item, prefix).items():
                    flat.setdefault(key, []).extend(value)
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat


class ClientSchema(FormSchema):
    full_name = _text(required=True, maximum=120)
    nik = fields.String(load_default=None, allow_none=True)
    birth_date = fields.Date(required=True)
    sex = fields.String(required=True, validate=validate.OneOf(["F", "M"]))
    address = _text(maximum=500)
    phone = fields.String(
        load_default=None, allow_none=True,
        validate=validate.Regexp(r"^\+?[0-9 ]{6,20}$", error=str(_l("Phone: digits only, 6 to 20."))),
    )
    province_code = fields.String(required=True)
    guardian_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))
    guardian_relationship = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=60))
    consent_given_by = _text(required=True, maximum=120)
    consent_confirmed = fields.Boolean(required=True)
    health_notes = _text(maximum=2000)  # encrypted at rest

    def __init__(self, province_codes: set[str], today: date | None = None, **kwargs):
        super().__init__(**kwargs)
        self.province_codes = province_codes
        self.today = today or datetime.now(UTC).date()

    # Also when a field failed on its own: an import row or a form lists all its problems
    # at once, not the province only after the date has been mended.
    @validates_schema(skip_on_field_errors=False)
    def _check(self, data: dict, **_kwargs) -> None:
        errors: dict[str, list] = {}
        for key in ("nik", "phone", "guardian_name", "guardian_relationship"):
            if isinstance(data.get(key), str) and not data[key].strip():
                data[key] = None
        if data.get("province_code") not in self.province_codes:
            errors["province_code"] = [str(_l("Unknown province."))]
        birth = data.get("birth_date")
        if birth and birth > self.today:
            errors["birth_date"] = [str(_l("Birth date is in the future."))]
        if birth and birth.year < 1900:
            errors["birth_date"] = [str(_l("Birth date is too far in the past."))]
        nik = data.get("nik")
        if nik:
            data["nik"] = nik = nik.strip()
            try:
                facts = parse_nik(nik, self.province_codes)
            except NikError as exc:
                errors["nik"] = [str(exc.message)]
            else:
                if birth and not nik_matches_birth_date(facts, birth):
                    errors["nik"] = [str(_l("NIK does not match the birth date."))]
                elif data.get("sex") and facts.sex != data["sex"]:
                    errors["nik"] = [str(_l("NIK does not match the sex (women: day + 40)."))]
        if birth and not errors.get("birth_date"):
            age = self.today.year - birth.year - ((self.today.month, self.today.day) < (birth.month, birth.day))
            if age < 18 and not data.get("guardian_name"):
                errors["guardian_name"] = [str(_l("A client under 18 needs a guardian."))]
        if data.get("consent_confirmed") is not True:
            errors["consent_confirmed"] = [str(_l("Consent must be given and recorded."))]
        if errors:
            raise MarshmallowValidationError(errors)


class OpenCaseSchema(FormSchema):
    client_id = RowId(required=True, strict=False)
    ppks_category_code = fields.String(required=True)
    summary = _text(maximum=2000)
    facilitator_id = RowId(load_default=None, allow_none=True)
    workflow = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


class AssessmentSchema(FormSchema):
    problem = _text()
    needs = _text()
    strengths = _text()
    resources = _text()
    risk_level = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(RISK_LEVELS))
    protection_notes = _text(maximum=5000)  # violence, abuse, trafficking: encrypted at rest

    @validates_schema
    def _blank_risk(self, data, **_kwargs):
        if data.get("risk_level") == "":
            data["risk_level"] = None


class GoalSchema(FormSchema):
    id = RowId(load_default=None, allow_none=True)
    description = _text(required=True, maximum=1000)
    target_date = PlausibleDate(load_default=None, allow_none=True)
    responsible_party = _text(maximum=120)


class PlanSchema(FormSchema):
    summary = _text()
    goals = fields.List(fields.Nested(GoalSchema), load_default=list, validate=validate.Length(max=30))


class RatingSchema(FormSchema):
    goal_id = RowId(required=True)
    rating = fields.String(required=True, validate=validate.OneOf(GOAL_RATINGS))
    notes = _text(maximum=2000)


class EvaluationSchema(FormSchema):
    summary = _text()
    ratings = fields.List(fields.Nested(RatingSchema), load_default=list)


class TerminationSchema(FormSchema):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    closure_reason = fields.String(load_default=None, allow_none=True)
    reason_details = _text(maximum=2000)
    aftercare_plan = _text(maximum=4000)

    @validates_schema
    def _check(self, data, **_kwargs):
        reason = data.get("closure_reason") or None
        data["closure_reason"] = reason
        if data.get("outcome") == "closed_unresolved":
            if reason not in CLOSURE_REASONS:
                raise MarshmallowValidationError(
                    {"closure_reason": [str(_l("Choose why the case closes unresolved."))]}
                )
        elif reason is not None:
            data["closure_reason"] = None


class StepSchema(FormSchema):
    step_type = fields.String(required=True, validate=validate.OneOf(STEP_TYPES))
    occurred_at = PlausibleDateTime(required=True)
    location = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    notes = _text(required=True, maximum=5000)
    goal_id = RowId(load_default=None, allow_none=True)

    @validates_schema
    def _check(self, data, **_kwargs):
        occurred = data.get("occurred_at")
        in_future = occurred is not None and occurred.tzinfo is not None and (
            occurred > datetime.now(UTC) + timedelta(minutes=10))
        if in_future:
            raise MarshmallowValidationError({"occurred_at": [str(_l("This time is in the future."))]})


class TransitionSchema(FormSchema):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class SignOffDecisionSchema(FormSchema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))

    @validates_schema
    def _check(self, data, **_kwargs):
        if data.get("decision") == "reject" and not (data.get("reason") or "").strip():
            raise MarshmallowValidationError({"reason": [str(_l("A rejection needs a reason."))]})


class ReassignSchema(FormSchema):
    facilitator_id = RowId(required=True)
    reason = _text(required=True, maximum=1000)


class UserSchema(FormSchema):
    username = fields.String(
        required=True,
        validate=validate.Regexp(r"^[a-z0-9._-]{3,64}$", error=str(_l("3–64 lower-case letters, digits, . _ -"))),
    )
    full_name = _text(required=True, maximum=120)
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=12, max=256))
    province_code = fields.String(load_default=None, allow_none=True)
    supervisor_id = RowId(load_default=None, allow_none=True)
    nip_pppk = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))
    employment_status = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf([s.value for s in EmploymentStatus])
    )
    auditor_scope_province_code = fields.String(load_default=None, allow_none=True)
    locale = fields.String(load_default="id", validate=validate.OneOf(["id", "en"]))

    @validates_schema
    def _check(self, data, **_kwargs):
        for key in ("province_code", "nip_pppk", "employment_status", "auditor_scope_province_code"):
            if data.get(key) == "":
                data[key] = None
        if data.get("role") == Role.FACILITATOR and not data.get("province_code"):
            raise MarshmallowValidationError({"province_code": [str(_l("A facilitator works in a province."))]})
