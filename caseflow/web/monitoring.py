"""The programme manager's landing page: the headline figures of the whole programme by
province and PPKS category, with no personal data (aggregates only)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from ..database import utcnow
from ..i18n import _l
from ..models import Role
from ..reports import headline
from . import navigation
from .formatting import locale_code
from .helpers import require_role

bp = Blueprint("monitoring", __name__, url_prefix="/monitoring")

navigation.register("monitoring.overview", _l("Overview"), (Role.PROGRAMME_MANAGER,), order=10)


@bp.before_request
@login_required
def _managers_only():
    require_role(Role.PROGRAMME_MANAGER)


@bp.route("")
def overview():
    return render_template(
        "monitoring/overview.html",
        totals=headline.totals(current_user),
        provinces=headline.by_province(current_user),
        categories=headline.by_category(current_user, locale=locale_code()),
        as_of=utcnow(),
    )
