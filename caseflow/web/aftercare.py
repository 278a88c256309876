"""Aftercare (bimbingan lanjut) on the pages: the cases being followed after their
resolution with their planned contacts, and the aftercare panel of a case page.

A follow-up contact is logged as a step ("Log a step" on the case page, or the tablet's
outbox): a step within a planned contact's window makes it (services.aftercare).
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from ..database import utcnow
from ..i18n import _l
from ..models import Role
from ..services import aftercare
from . import navigation

bp = Blueprint("aftercare", __name__)

navigation.register("aftercare.index", _l("Aftercare"), (Role.FACILITATOR, Role.SUPERVISOR), order=27)


@bp.route("/aftercare")
@login_required
def index():
    """Cases in aftercare now, the next contact due first."""
    if current_user.role not in (Role.FACILITATOR, Role.SUPERVISOR):
        abort(403)
    now = utcnow()
    periods = aftercare.running_periods(current_user, now)
    return render_template("aftercare/index.html", periods=periods, now=now,
                           contact_status=lambda period, contact: aftercare.contact_status(period, contact, now))


@bp.app_template_global()
def aftercare_contacts_due() -> list:
    """The planned contacts due now on the viewer's cases (for the notices on their lists)."""
    if not current_user.is_authenticated or current_user.role not in (Role.FACILITATOR, Role.SUPERVISOR):
        return []
    return aftercare.contacts_due(current_user)
